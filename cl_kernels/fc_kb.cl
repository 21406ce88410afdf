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
// best). With a panel covering the batch, the weights come from memory once.
// The panel's accumulators live in a private array between K blocks; a row
// tile's TM*TNB vector accumulators are in registers while it runs.
// PREFETCH=1 (CPUs; clang's __builtin_prefetch, which PoCL lowers to
// prefetcht0): each row tile also asks for its share of the next K block's
// weights, so they arrive while the FMAs run; without it the first row tile
// of every K block waits on memory (on PoCL, AVX-512 Xeon, FC6 at batch 64
// 20.5 -> 17.5 ms).
// Needs TM <= N and TNB <= ceil(O/VW) (plan.c clamps both): the last tile
// of a panel and the last work-item's blocks are shifted back inside the
// batch and the outputs instead of clamping each row and block, so that
// every operand's address is a base plus a constant displacement.
// Global (ceil(N/(TM*RT)), ceil(ceil(O/VW)/TNB)), guarded; any local size.
// Tuning parameters (tuning.c): fc_tm (TM), fc_tnb (TNB), fc_rt (RT), fc_kb
// (KB; 0 selects fc_gemm instead) and fc_pf (PREFETCH). OpenCL C 1.2; RELU a
// compile-time 0/1; KDIM, the inputs I as a compile-time constant, optional;
// WHALF=1 for binary16 weights.

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
// KDIM: the inputs I as a compile-time constant (plan.c passes it), so that
// a row's or a block's offset is an address displacement, not arithmetic on
// the FMA ports; without it, the argument
#ifndef KDIM
#define KDIM I
#endif
#ifndef PREFETCH
#define PREFETCH 0
#endif
#include "vector.cl"

// WHALF=1: the weights are IEEE binary16, read as fc.cl reads them
// (wload.cl); the arithmetic stays float
#include "wload.cl"

__kernel void fc_kb(__global const float *restrict x, __global const wtype *restrict wp,
                    __global const float *restrict bias, __global float *restrict y, const int N,
                    const int O, const int I)
{
    const int p0 = get_global_id(0) * (TM * RT), b0 = get_global_id(1) * TNB;
    const int blocks = (O + VW - 1) / VW;
    if (p0 >= N || b0 >= blocks)
        return;
    const int tiles = min(RT, (N - p0 + TM - 1) / TM); // row tiles with rows in the batch
    // the last work-item's blocks and a panel's last tile are shifted back to
    // end at the last block and row (TNB <= blocks and TM <= N, plan.c): their
    // leading blocks and rows repeat ones that others store, and are not stored
    const int bs = min(b0, blocks - TNB);
    const __global wtype *w0 = wp + (size_t)bs * KDIM * VW;
    floatv acc[RT][TM][TNB];
    for (int r = 0; r < tiles; r++)
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int j = 0; j < TNB; j++)
                acc[r][i][j] = (floatv)(0.0f);
    for (int k0 = 0; k0 < KDIM; k0 += KB) {
        const int k1 = min(k0 + KB, KDIM);
        for (int r = 0; r < tiles; r++) {
            const __global float *xr = x + (size_t)min(p0 + r * TM, N - TM) * KDIM;
            floatv a[TM][TNB];
#pragma unroll
            for (int i = 0; i < TM; i++)
#pragma unroll
                for (int j = 0; j < TNB; j++)
                    a[i][j] = acc[r][i][j];
#if PREFETCH
            // this tile's share of the next K block's weights, towards L1
            // while the FMAs run (the first tile of a K block waits for them)
            {
                const int c0 = k1 + (r * KB) / tiles, c1 = min(k1 + ((r + 1) * KB) / tiles, KDIM);
                for (int k = c0; k < c1; k++)
#pragma unroll
                    for (int j = 0; j < TNB; j++)
                        __builtin_prefetch(w0 + ((size_t)j * KDIM + k) * VW, 0, 3);
            }
#endif
            for (int k = k0; k < k1; k++) {
                floatv w[TNB];
#pragma unroll
                for (int j = 0; j < TNB; j++)
                    w[j] = WLOADV(0, w0 + ((size_t)j * KDIM + k) * VW);
#pragma unroll
                for (int i = 0; i < TM; i++) {
                    const floatv xv = (floatv)(xr[i * KDIM + k]);
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
        const int b = bs + j;
        if (b < b0)
            continue;
        const floatv bv = VLOAD(b, bias);
        for (int r = 0; r < tiles; r++) {
            const int rs = min(p0 + r * TM, N - TM);
#pragma unroll
            for (int i = 0; i < TM; i++) {
                const int m = rs + i;
                if (m < p0 + r * TM)
                    continue;
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
}
