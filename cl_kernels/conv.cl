// conv.cl - direct 2-D convolution, any channel count and image size, with the
// bias and an optional ReLU fused into the store. OpenCL C 1.2.
//
// Compile-time: K (kernel size), S (stride), P (padding), TX (output pixels
// per work-item along a row), RELU (0 or 1). Each work-item computes 8 output
// channels x TX neighbouring output pixels of one row, so every weight vector
// it loads is used TX times and every input value 8 times.
//
// Weights are pre-arranged at load time as (OC/8, C, K, K, 8): the 8 output
// channels a work-item needs at one tap are one contiguous float8. OC is
// padded to a multiple of 8 with zero filters; padded channels are not stored.
//
// in (N, C, H, W), out (N, OC, OH, OW), bias (OC padded to 8).
// Global size: (ceil(OW / TX), OH, N * OC/8), guarded below.

#ifndef TX
#define TX 4
#endif
#ifndef RELU
#define RELU 1
#endif

__kernel void conv2d(__global const float *restrict in, __global const float *restrict wt,
                     __global const float *restrict bias, __global float *restrict out,
                     const int C, const int H, const int W, const int OC, const int OH,
                     const int OW, const int NOCB)
{
    const int tx = get_global_id(0), oy = get_global_id(1), z = get_global_id(2);
    const int ox0 = tx * TX;
    if (ox0 >= OW || oy >= OH || z >= NOCB)
        return;
    const int ocb_count = (OC + 7) / 8;
    const int n = z / ocb_count, ocb = z % ocb_count;

    float8 acc[TX];
    for (int t = 0; t < TX; t++)
        acc[t] = (float8)(0.0f);

    const int iy0 = oy * S - P, ix0 = ox0 * S - P;
    __global const float *wb = wt + (size_t)ocb * C * K * K * 8;
    for (int c = 0; c < C; c++) {
        __global const float *plane = in + ((size_t)n * C + c) * H * W;
        __global const float *wc = wb + (size_t)c * K * K * 8;
        for (int ky = 0; ky < K; ky++) {
            const int iy = iy0 + ky;
            if (iy < 0 || iy >= H)
                continue;
            __global const float *row = plane + (size_t)iy * W;
            for (int kx = 0; kx < K; kx++) {
                const float8 w = vload8(ky * K + kx, wc);
                for (int t = 0; t < TX; t++) {
                    const int ix = ix0 + t * S + kx;
                    const float v = (ix >= 0 && ix < W) ? row[ix] : 0.0f;
                    acc[t] = fma((float8)(v), w, acc[t]);
                }
            }
        }
    }

    const float8 b = vload8(ocb, bias);
    for (int t = 0; t < TX; t++) {
        const int ox = ox0 + t;
        if (ox >= OW)
            break;
        float r[8];
        float8 v = acc[t] + b;
#if RELU
        v = fmax(v, (float8)(0.0f));
#endif
        vstore8(v, 0, r);
        for (int j = 0; j < 8; j++) {
            const int oc = ocb * 8 + j;
            if (oc < OC)
                out[(((size_t)n * OC + oc) * OH + oy) * OW + ox] = r[j];
        }
    }
}
