// conv11s4.cl - the first AlexNet convolution: 11x11 kernel, stride 4, over a
// 3-channel image, with bias and an optional ReLU fused. OpenCL C 1.2.
//
// Written for this layer: with stride 4 and an 11-wide kernel, TX neighbouring
// outputs of one row read an input span of 4*(TX-1)+11 pixels. A work-item
// loads that span once per (channel, kernel row) into private memory, with the
// padding as zeros, and then runs the 11 taps for its OCB*VW output channels x
// TX pixels from registers. The 11-tap row loop is fully unrolled (K and S are
// constants here), and the weights of one kernel row for all OCB blocks are
// read as 11 consecutive vectors per block. P (0 for caffe-227, 2 for
// torchvision-224), TX, VW, OCB and RELU are compile-time; any C works. No groups.
//
// Weights pre-arranged as (ceil(OC/VW), C, 11, 11, VW), as in conv.cl with G = 1.
// in (N, C, H, W), out (N, OC, OH, OW);
// global (ceil(OW/TX), OH, N * ceil(ceil(OC/VW) / OCB)) = NZ, guarded.

#ifndef K
#define K 11
#endif
#ifndef S
#define S 4
#endif
#if K != 11 || S != 4
#error "conv11s4.cl is for 11x11 kernels of stride 4 only"
#endif
#ifndef TX
#define TX 4
#endif
#ifndef OCB
#define OCB 1
#endif
#ifndef RELU
#define RELU 1
#endif
#define SPAN (S * (TX - 1) + K)
#include "vector.cl"

__kernel void conv11s4(__global const float *restrict in, __global const float *restrict wt,
                       __global const float *restrict bias, __global float *restrict out,
                       const int C, const int H, const int W, const int OC, const int OH,
                       const int OW, const int NZ)
{
    const int tx = get_global_id(0), oy = get_global_id(1), z = get_global_id(2);
    const int ox0 = tx * TX;
    if (ox0 >= OW || oy >= OH || z >= NZ)
        return;
    const int blocks = (OC + VW - 1) / VW, zpi = (blocks + OCB - 1) / OCB;
    const int n = z / zpi, b0 = (z % zpi) * OCB;
    const size_t wstride = (size_t)C * K * K * VW;

    floatv acc[OCB][TX];
    size_t woff[OCB];
#pragma unroll
    for (int i = 0; i < OCB; i++) {
        woff[i] = (size_t)min(b0 + i, blocks - 1) * wstride;
#pragma unroll
        for (int t = 0; t < TX; t++)
            acc[i][t] = (floatv)(0.0f);
    }

    const int iy0 = oy * S - P, ix0 = ox0 * S - P;
    const bool inside = ix0 >= 0 && ix0 + SPAN <= W;
    float span[SPAN];
    for (int c = 0; c < C; c++) {
        __global const float *plane = in + ((size_t)n * C + c) * H * W;
#pragma unroll
        for (int ky = 0; ky < K; ky++) {
            const int iy = iy0 + ky;
            if (iy < 0 || iy >= H)
                continue;
            __global const float *row = plane + (size_t)iy * W;
            if (inside) {
#pragma unroll
                for (int i = 0; i < SPAN; i++)
                    span[i] = row[ix0 + i];
            } else {
#pragma unroll
                for (int i = 0; i < SPAN; i++)
                    span[i] = (ix0 + i >= 0 && ix0 + i < W) ? row[ix0 + i] : 0.0f;
            }
            const size_t tap = ((size_t)c * K + ky) * K * VW;
#pragma unroll
            for (int kx = 0; kx < K; kx++) {
#pragma unroll
                for (int i = 0; i < OCB; i++) {
                    const floatv w = VLOAD(0, wt + woff[i] + tap + kx * VW);
#pragma unroll
                    for (int t = 0; t < TX; t++)
                        acc[i][t] = fma((floatv)(span[t * S + kx]), w, acc[i][t]);
                }
            }
        }
    }

#pragma unroll
    for (int i = 0; i < OCB; i++) {
        const int bl = b0 + i;
        if (bl >= blocks)
            break;
        const floatv b = VLOAD(bl, bias);
#pragma unroll
        for (int t = 0; t < TX; t++) {
            const int ox = ox0 + t;
            if (ox >= OW)
                break;
            float res[VW];
            floatv v = acc[i][t] + b;
#if RELU
            v = fmax(v, (floatv)(0.0f));
#endif
            VSTORE(v, 0, res);
#pragma unroll
            for (int j = 0; j < VW; j++) {
                const int oc = bl * VW + j;
                if (oc < OC)
                    out[(((size_t)n * OC + oc) * OH + oy) * OW + ox] = res[j];
            }
        }
    }
}
