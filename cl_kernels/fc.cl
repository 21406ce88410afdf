// fc.cl - the fully connected layers. Two weight layouts, chosen per device
// by the tuning parameter fc_blocked (model.c), and a third made per plan:
//  - (O, I) row-major: CLBlast's SGEMM for batches above 1, followed by the
//    bias + ReLU epilogue bias_act; gemv_rows for batch 1 (GPUs' default);
//  - blocked (ceil(O/VW), I, VW), zero-padded, bias padded to a multiple of
//    VW (the tuning parameter fc_vec: 8, or 16 on AVX-512 CPUs): fc_gemm, a
//    register-blocked GEMM with the bias and ReLU fused, for batches above
//    1, and gemv_blocked for batch 1 where fc_panel is 0 (every work-item
//    streams one contiguous slab of weights);
//  - panels (ceil(O/PANEL), I, PANEL), copied from the blocked layout by
//    fc_panel_arrange when a plan is made: gemv_panel for batch 1 where the
//    tuning parameter fc_panel is set (CPUs' default), which skips the
//    inputs that are zero.
// Also the softmax. OpenCL C 1.2. RELU is a compile-time 0/1.
// WHALF=1: the weights are stored as IEEE binary16 (wload.cl: wtype, WLOAD,
// WLOADV); all arithmetic stays float.

#ifndef RELU
#define RELU 1
#endif
#include "vector.cl"
#include "wload.cl"

// y (N, O) += bias (O), then ReLU. Global N*O, guarded.
__kernel void bias_act(__global float *restrict y, __global const float *restrict bias,
                       const int N, const int O)
{
    const int i = get_global_id(0);
    if (i >= N * O)
        return;
    float v = y[i] + bias[i % O];
#if RELU
    v = fmax(v, 0.0f);
#endif
    y[i] = v;
}

// y (O) = act(Wt (O, I) . x (I) + bias). One work-group of LWS items per output
// row. INTERLEAVED=1: item j reads elements j, j+LWS, ... (neighbouring items,
// neighbouring addresses: right for GPUs). INTERLEAVED=0: item j reads one
// contiguous chunk (right for CPUs, whose work-items run in sequence).
// LWS is a compile-time power of two; the local array stays far below 32 KiB.
#ifndef LWS
#define LWS 64
#endif
#ifndef INTERLEAVED
#define INTERLEAVED 1
#endif

__kernel __attribute__((reqd_work_group_size(LWS, 1, 1))) void
gemv_rows(__global const wtype *restrict wt, __global const float *restrict x,
          __global const float *restrict bias, __global float *restrict y, const int O,
          const int I)
{
    __local float part[LWS];
    const int row = get_group_id(0), j = get_local_id(0);
    float sum = 0.0f;
    if (row < O) {
        __global const wtype *w = wt + (size_t)row * I;
#if INTERLEAVED
        for (int i = j; i < I; i += LWS)
            sum = fma(WLOAD(i, w), x[i], sum);
#else
        const int chunk = (I + LWS - 1) / LWS;
        const int i0 = j * chunk, i1 = min(i0 + chunk, I);
        for (int i = i0; i < i1; i++)
            sum = fma(WLOAD(i, w), x[i], sum);
#endif
    }
    part[j] = sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int width = LWS / 2; width > 0; width /= 2) {
        if (j < width)
            part[j] += part[j + width];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (j == 0 && row < O) {
        float v = part[0] + bias[row];
#if RELU
        v = fmax(v, 0.0f);
#endif
        y[row] = v;
    }
}

// y (N, O) = act(x (N, I) . W^T + bias), W blocked as (ceil(O/VW), I, VW).
// Each work-item computes TM rows of the batch x TNB blocks of VW outputs, in
// TM*TNB vector accumulators: per input index k it loads TNB weight vectors
// and TM scalars of x (broadcast), for TM*TNB fused multiply-adds.
// Dimension 0 runs over row tiles so that neighbouring work-items (and
// work-groups) share the same weight slab while it is in cache.
// Global (ceil(N/TM), ceil(ceil(O/VW)/TNB)), guarded; any local size.
#ifndef TM
#define TM 4
#endif
#ifndef TNB
#define TNB 2
#endif

__kernel void fc_gemm(__global const float *restrict x, __global const wtype *restrict wp,
                      __global const float *restrict bias, __global float *restrict y,
                      const int N, const int O, const int I)
{
    const int m0 = get_global_id(0) * TM, b0 = get_global_id(1) * TNB;
    const int blocks = (O + VW - 1) / VW;
    if (m0 >= N || b0 >= blocks)
        return;
    size_t xoff[TM], woff[TNB];
#pragma unroll
    for (int i = 0; i < TM; i++)
        xoff[i] = (size_t)min(m0 + i, N - 1) * I; // rows past N repeat the last, unstored
#pragma unroll
    for (int j = 0; j < TNB; j++)
        woff[j] = (size_t)min(b0 + j, blocks - 1) * I * VW;
    floatv acc[TM][TNB];
#pragma unroll
    for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TNB; j++)
            acc[i][j] = (floatv)(0.0f);
    for (int k = 0; k < I; k++) {
        floatv w[TNB];
#pragma unroll
        for (int j = 0; j < TNB; j++)
            w[j] = WLOADV(0, wp + woff[j] + (size_t)k * VW);
#pragma unroll
        for (int i = 0; i < TM; i++) {
            const floatv xv = (floatv)(x[xoff[i] + k]);
#pragma unroll
            for (int j = 0; j < TNB; j++)
                acc[i][j] = fma(xv, w[j], acc[i][j]);
        }
    }
#pragma unroll
    for (int j = 0; j < TNB; j++) {
        const int b = b0 + j;
        if (b >= blocks)
            break;
        const floatv bv = VLOAD(b, bias);
#pragma unroll
        for (int i = 0; i < TM; i++) {
            const int m = m0 + i;
            if (m >= N)
                break;
            float res[VW];
            floatv v = acc[i][j] + bv;
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

// y (O) = act(W . x + bias) for one image, W blocked as (ceil(O/VW), I, VW):
// work-item b streams block b's I*VW weights contiguously into four vector
// partial sums (independent FMA chains). Global ceil(O/VW), guarded.
__kernel void gemv_blocked(__global const wtype *restrict wp, __global const float *restrict x,
                           __global const float *restrict bias, __global float *restrict y,
                           const int O, const int I)
{
    const int b = get_global_id(0);
    if (b >= (O + VW - 1) / VW)
        return;
    __global const wtype *w = wp + (size_t)b * I * VW;
    floatv a0 = (floatv)(0.0f), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k + 4 <= I; k += 4) {
        const float4 xv = vload4(0, x + k);
        a0 = fma((floatv)(xv.s0), WLOADV(k, w), a0);
        a1 = fma((floatv)(xv.s1), WLOADV(k + 1, w), a1);
        a2 = fma((floatv)(xv.s2), WLOADV(k + 2, w), a2);
        a3 = fma((floatv)(xv.s3), WLOADV(k + 3, w), a3);
    }
    for (; k < I; k++)
        a0 = fma((floatv)(x[k]), WLOADV(k, w), a0);
    floatv v = (a0 + a1) + (a2 + a3) + VLOAD(b, bias);
#if RELU
    v = fmax(v, (floatv)(0.0f));
#endif
    float res[VW];
    VSTORE(v, 0, res);
#pragma unroll
    for (int e = 0; e < VW; e++)
        if (b * VW + e < O)
            y[b * VW + e] = res[e];
}

#ifdef PANEL
// The panel layout: (ceil(O/PANEL), I, PANEL), PANEL outputs per row of a
// panel (a multiple of VW), from the blocked (ceil(O/VW), I, VW); zero past
// the blocks. KDIM = I at compile time. One work-item per (panel, input) row,
// global ceil(O/PANEL) * KDIM. Copies bits: wbits is the weights' storage.
#if WHALF
#define wbits ushort
#else
#define wbits uint
#endif
__kernel void fc_panel_arrange(__global const wbits *restrict src, __global wbits *restrict dst,
                               const int O)
{
    const int panels = (O + PANEL - 1) / PANEL, blocks = (O + VW - 1) / VW;
    const size_t g = get_global_id(0);
    if (g >= (size_t)panels * KDIM)
        return;
    const int p = (int)(g / KDIM), k = (int)(g % KDIM);
    __global wbits *d = dst + g * PANEL;
    for (int v = 0; v < PANEL / VW; v++) {
        const int b = p * (PANEL / VW) + v;
        if (b < blocks) {
            __global const wbits *s = src + ((size_t)b * KDIM + k) * VW;
#pragma unroll
            for (int e = 0; e < VW; e++)
                d[v * VW + e] = s[e];
        } else {
#pragma unroll
            for (int e = 0; e < VW; e++)
                d[v * VW + e] = 0;
        }
    }
}

// Small batches on panel weights: y (ROWS, O) = act(x (ROWS, KDIM) . W^T +
// bias (ceil(O/VW)*VW)), ROWS from 1 to fc_panel_batch (plan.c). One
// work-item per panel, global ceil(O/PANEL). The input columns that are zero
// in every row are skipped: their products are zero, exactly, because the
// weights are finite (the loader refuses NaN and infinity; a model loaded
// with AN_LOAD_ALLOW_NONFINITE runs without panels, plan.c). After ReLU about
// half of the inputs are zero, and each column skipped is PANEL contiguous
// weights never read: whole 4 KiB pages at PANEL = 1024 floats, which the
// hardware prefetchers then do not fetch either (they do fetch the single
// skipped lines of the blocked layout, where skipping saved nothing). NaN
// inputs are not zero, so they reach the outputs. Each output is one chain of
// fma over the inputs in order; the accumulators (ROWS x PANEL floats) stay
// in the L1 cache. A row whose input is zero in a column that is not skipped
// adds a zero product, which changes no bit of its accumulator (never -0: it
// starts at +0, and a sum is -0 only when both terms are), so each row gets
// its batch-1 result bit for bit.
#ifndef ROWS
#define ROWS 1
#endif
__kernel void gemv_panel(__global const wtype *restrict wp, __global const float *restrict x,
                         __global const float *restrict bias, __global float *restrict y,
                         const int O)
{
    const int p = get_global_id(0);
    if (p >= (O + PANEL - 1) / PANEL)
        return;
    int nz[KDIM]; /* the inputs that are not zero in some row, in order */
    int n = 0;
    for (int k = 0; k < KDIM; k++) {
        nz[n] = k;
        bool any = false;
#pragma unroll
        for (int r = 0; r < ROWS; r++)
            any |= x[r * KDIM + k] != 0.0f;
        n += any;
    }
    __global const wtype *w = wp + (size_t)p * KDIM * PANEL;
    floatv acc[ROWS][PANEL / VW];
#pragma unroll
    for (int r = 0; r < ROWS; r++)
#pragma unroll
        for (int v = 0; v < PANEL / VW; v++)
            acc[r][v] = (floatv)(0.0f);
    for (int j = 0; j < n; j++) {
        const int k = nz[j];
        floatv xk[ROWS];
#pragma unroll
        for (int r = 0; r < ROWS; r++)
            xk[r] = (floatv)(x[r * KDIM + k]);
        __global const wtype *rw = w + (size_t)k * PANEL;
#pragma unroll
        for (int v = 0; v < PANEL / VW; v++) {
            const floatv wv = WLOADV(v, rw);
#pragma unroll
            for (int r = 0; r < ROWS; r++)
                acc[r][v] = fma(xk[r], wv, acc[r][v]);
        }
    }
    const int blocks = (O + VW - 1) / VW;
    for (int r = 0; r < ROWS; r++)
        for (int v = 0; v < PANEL / VW; v++) {
            const int b = p * (PANEL / VW) + v;
            if (b >= blocks)
                break;
            floatv t = acc[r][v] + VLOAD(b, bias);
#if RELU
            t = fmax(t, (floatv)(0.0f));
#endif
            __global float *yr = y + (size_t)r * O;
            if ((b + 1) * VW <= O) {
                VSTORE(t, b, yr);
            } else {
                float res[VW];
                VSTORE(t, 0, res);
                for (int e = 0; e < VW; e++)
                    if (b * VW + e < O)
                        yr[b * VW + e] = res[e];
            }
        }
}
#endif

// probs (N, O) = softmax(logits) per row, max-subtracted. One item per row.
__kernel void softmax_rows(__global const float *restrict logits, __global float *restrict probs,
                           const int N, const int O)
{
    const int n = get_global_id(0);
    if (n >= N)
        return;
    __global const float *x = logits + (size_t)n * O;
    __global float *p = probs + (size_t)n * O;
    float m = -INFINITY;
    for (int i = 0; i < O; i++)
        m = fmax(m, x[i]);
    float sum = 0.0f;
    for (int i = 0; i < O; i++) {
        const float e = exp(x[i] - m);
        p[i] = e;
        sum += e;
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < O; i++)
        p[i] *= inv;
}
