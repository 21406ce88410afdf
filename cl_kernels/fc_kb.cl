// fc_kb.cl - a K-blocked GEMM for the fully connected layers at batch > 1,
// on the blocked weight layout of fc.cl's fc_gemm: (ceil(O/VW), I, VW),
// zero-padded, bias padded to a multiple of VW.
//
// y (N, O) = act(x (N, I) . W^T + bias). Each work-item owns a panel of
// RT row tiles of TM batch rows (TM*RT rows) x TNB blocks of VW outputs and
// walks the inputs in blocks of KB: for each K block it runs every row tile
// of its panel over the same KB x TNB*VW weight slab, which therefore stays
// in the first-level cache across the row tiles, where fc_gemm streams the
// whole I x TNB*VW slab once per row tile (from the last-level cache at
// best). The panel's accumulators live in a private array between K blocks;
// a row tile's TM*TNB vector accumulators are in registers while it runs.
// Global (ceil(N/(TM*RT)), ceil(ceil(O/VW)/TNB)), guarded; any local size.
// Tuning parameters (tuning.c): fc_tm (TM), fc_tnb (TNB), fc_rt (RT) and
// fc_kb (KB; 0 selects fc_gemm instead). OpenCL C 1.2; RELU a compile-time
// 0/1.

#ifndef RELU
#define RELU 1
#endif
#ifndef TM
#define TM 2
#endif
#ifndef TNB
#define TNB 4
#endif
#ifndef RT
#define RT 8
#endif
#ifndef KB
#define KB 256
#endif
#include "vector.cl"

__kernel void fc_kb(__global const float *restrict x, __global const float *restrict wp,
                    __global const float *restrict bias, __global float *restrict y, const int N,
                    const int O, const int I)
{
    const int p0 = get_global_id(0) * (TM * RT), b0 = get_global_id(1) * TNB;
    const int blocks = (O + VW - 1) / VW;
    if (p0 >= N || b0 >= blocks)
        return;
    const int tiles = min(RT, (N - p0 + TM - 1) / TM); // row tiles with rows in the batch
    size_t woff[TNB];
#pragma unroll
    for (int j = 0; j < TNB; j++)
        woff[j] = (size_t)min(b0 + j, blocks - 1) * I * VW; // blocks past the last repeat it
    floatv acc[RT][TM][TNB];
    for (int r = 0; r < tiles; r++)
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int j = 0; j < TNB; j++)
                acc[r][i][j] = (floatv)(0.0f);
    for (int k0 = 0; k0 < I; k0 += KB) {
        const int k1 = min(k0 + KB, I);
        for (int r = 0; r < tiles; r++) {
            size_t xoff[TM];
            floatv a[TM][TNB];
#pragma unroll
            for (int i = 0; i < TM; i++) {
                // rows past N repeat the last, unstored
                xoff[i] = (size_t)min(p0 + r * TM + i, N - 1) * I;
#pragma unroll
                for (int j = 0; j < TNB; j++)
                    a[i][j] = acc[r][i][j];
            }
            for (int k = k0; k < k1; k++) {
                floatv w[TNB];
#pragma unroll
                for (int j = 0; j < TNB; j++)
                    w[j] = VLOAD(0, wp + woff[j] + (size_t)k * VW);
#pragma unroll
                for (int i = 0; i < TM; i++) {
                    const floatv xv = (floatv)(x[xoff[i] + k]);
#pragma unroll
                    for (int j = 0; j < TNB; j++)
                        a[i][j] = fma(xv, w[j], a[i][j]);
                }
            }
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int j = 0; j < TNB; j++)
                    acc[r][i][j] = a[i][j];
        }
    }
#pragma unroll
    for (int j = 0; j < TNB; j++) {
        const int b = b0 + j;
        if (b >= blocks)
            break;
        const floatv bv = VLOAD(b, bias);
        for (int r = 0; r < tiles; r++)
#pragma unroll
            for (int i = 0; i < TM; i++) {
                const int m = p0 + r * TM + i;
                if (m >= N)
                    break;
                float res[VW];
                floatv v = acc[r][i][j] + bv;
#if RELU
                v = fmax(v, (floatv)(0.0f));
#endif
                VSTORE(v, 0, res);
#pragma unroll
                for (int e = 0; e < VW; e++)
                    if (b * VW + e < O)
                        y[(size_t)m * O + b * VW + e] = res[e];
            }
    }
}
