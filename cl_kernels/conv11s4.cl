// conv11s4.cl - the first AlexNet convolution: 11x11 kernel, stride 4, over a
// 3-channel image, with bias and ReLU fused. OpenCL C 1.2.
//
// Written for this layer: with stride 4 and an 11-wide kernel, TX neighbouring
// outputs of one row read an input span of 4*(TX-1)+11 pixels. A work-item
// loads that span once per (channel, kernel row) into private memory, with the
// padding as zeros, and then runs the 11 taps for its 8 output channels x TX
// pixels from registers. P (0 for caffe-227, 2 for torchvision-224) and TX are
// compile-time; C is 3 for AlexNet but any C works.
//
// Weights pre-arranged as (OC/8, C, 11, 11, 8), as in conv.cl.
// in (N, C, H, W), out (N, OC, OH, OW); global (ceil(OW/TX), OH, N*OC/8), guarded.

#define K 11
#define S 4
#ifndef TX
#define TX 4
#endif
#define SPAN (S * (TX - 1) + K)

__kernel void conv11s4(__global const float *restrict in, __global const float *restrict wt,
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
    float span[SPAN];
    for (int c = 0; c < C; c++) {
        __global const float *plane = in + ((size_t)n * C + c) * H * W;
        for (int ky = 0; ky < K; ky++) {
            const int iy = iy0 + ky;
            if (iy < 0 || iy >= H)
                continue;
            __global const float *row = plane + (size_t)iy * W;
            for (int i = 0; i < SPAN; i++) {
                const int ix = ix0 + i;
                span[i] = (ix >= 0 && ix < W) ? row[ix] : 0.0f;
            }
            __global const float *wr = wb + ((size_t)c * K + ky) * K * 8;
            for (int kx = 0; kx < K; kx++) {
                const float8 w = vload8(kx, wr);
                for (int t = 0; t < TX; t++)
                    acc[t] = fma((float8)(span[t * S + kx]), w, acc[t]);
            }
        }
    }

    const float8 b = vload8(ocb, bias);
    for (int t = 0; t < TX; t++) {
        const int ox = ox0 + t;
        if (ox >= OW)
            break;
        float r[8];
        vstore8(fmax(acc[t] + b, (float8)(0.0f)), 0, r);
        for (int j = 0; j < 8; j++) {
            const int oc = ocb * 8 + j;
            if (oc < OC)
                out[(((size_t)n * OC + oc) * OH + oy) * OW + ox] = r[j];
        }
    }
}
