// conv.cl - direct 2-D convolution, any channel count, image size and group
// count, with the bias and an optional ReLU fused into the store. OpenCL C 1.2.
//
// Compile-time: K (kernel size), S (stride), P (padding), TX (output pixels
// per work-item along a row), VW (output channels per vector: 4, 8 or 16, the
// device's float vector width on CPUs), OCB (blocks of VW output channels per
// work-item), RELU (0 or 1). Each work-item computes OCB*VW output channels x
// TX neighbouring output pixels of one row: per (input channel, kernel row)
// it loads the input span those pixels need, S*(TX-1)+K values, once into
// private memory (padding as zeros), then runs K taps x OCB vector weight
// loads x TX fused multiply-adds from registers. Every weight vector is used
// TX times, every input value up to OCB*VW*K times.
//
// Groups G: input channels are split into G groups of C each, output channels
// into G groups of OC/G. Weights are pre-arranged at load time (model.c,
// an__conv_weights_arrange) as (G, BPG, C, K, K, VW) with BPG =
// ceil((OC/G)/VW): the VW output channels of a block at one tap are one
// contiguous vector, and each group's last block is zero-padded. The bias is
// arranged as (G, BPG, VW).
//
// in (N, G*C, H, W), out (N, OC, OH, OW).
// Global size: (ceil(OW / TX), OH, N * G * ceil(BPG / OCB)) = NZ, guarded.

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

__kernel void conv2d(__global const float *restrict in, __global const float *restrict wt,
                     __global const float *restrict bias, __global float *restrict out,
                     const int C, const int H, const int W, const int OC, const int OH,
                     const int OW, const int NZ, const int G)
{
    const int tx = get_global_id(0), oy = get_global_id(1), z = get_global_id(2);
    const int ox0 = tx * TX;
    if (ox0 >= OW || oy >= OH || z >= NZ)
        return;
    const int ocg = OC / G;             // output channels per group
    const int bpg = (ocg + VW - 1) / VW;      // blocks of VW per group
    const int zpg = (bpg + OCB - 1) / OCB;
    const int n = z / (G * zpg), r = z % (G * zpg);
    const int g = r / zpg, b0 = (r % zpg) * OCB;
    const size_t wstride = (size_t)C * K * K * VW;

    floatv acc[OCB][TX];
    size_t woff[OCB];
#pragma unroll
    for (int i = 0; i < OCB; i++) {
        // a block past the group's end reads a valid block and is not stored
        woff[i] = (size_t)(g * bpg + min(b0 + i, bpg - 1)) * wstride;
#pragma unroll
        for (int t = 0; t < TX; t++)
            acc[i][t] = (floatv)(0.0f);
    }

    const int iy0 = oy * S - P, ix0 = ox0 * S - P;
    const bool inside = ix0 >= 0 && ix0 + SPAN <= W;
    __global const float *img = in + ((size_t)n * G * C + (size_t)g * C) * H * W;
    float span[SPAN];
    for (int c = 0; c < C; c++) {
        __global const float *plane = img + (size_t)c * H * W;
        // the kernel rows unrolled for small kernels only: conv1's 11 rows
        // x 11 taps x TX x OCB FMAs unrolled are tens of KiB of code per
        // channel; as a loop, on PoCL pthread-skylake-avx512 at batch 64
        // conv1 took 38.7 ms against 44.9 (torchvision-224, 4 x 4 tile)
#if K > 7
#pragma unroll 1
#else
#pragma unroll
#endif
        for (int ky = 0; ky < K; ky++) {
            const int iy = iy0 + ky;
            if (iy < 0 || iy >= H)
                continue;
            __global const float *row = plane + (size_t)iy * W;
            const size_t tap = ((size_t)c * K + ky) * K * VW;
            if (inside) {
                // straight from the row: each input value is broadcast from
                // memory (a load), not from a register (a shuffle, which on
                // x86 shares a port with the FMAs)
                __global const float *src = row + ix0;
#pragma unroll
                for (int kx = 0; kx < K; kx++) {
#pragma unroll
                    for (int i = 0; i < OCB; i++) {
                        const floatv w = VLOAD(0, wt + woff[i] + tap + kx * VW);
#pragma unroll
                        for (int t = 0; t < TX; t++)
                            acc[i][t] = fma((floatv)(src[t * S + kx]), w, acc[i][t]);
                    }
                }
                continue;
            }
#pragma unroll
            for (int i = 0; i < SPAN; i++)
                span[i] = (ix0 + i >= 0 && ix0 + i < W) ? row[ix0 + i] : 0.0f;
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
        if (bl >= bpg)
            break;
        const floatv b = VLOAD(g * bpg + bl, bias);
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
                if (oc < ocg)
                    out[(((size_t)n * OC + (size_t)g * ocg + oc) * OH + oy) * OW + ox] = res[j];
            }
        }
    }
}
