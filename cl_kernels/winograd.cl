// winograd.cl - R x R stride-1 convolution (R = 3 or 5, any padding
// 0 <= P < R) by Winograd's minimal filtering F(WMxWM, RxR) (Lavin & Gray
// 2015, "Fast Algorithms for Convolutional Neural Networks",
// arXiv:1509.09308): each WM x WM output tile is A^T [ (G g G^T) * (B^T d B) ]
// A over an ALPHA x ALPHA input tile d (ALPHA = WM + R - 1), so NP =
// ALPHA^2 products per channel pair replace WM^2 R^2 multiply-adds: 16 for
// 36 with F(2x2,3x3), 36 for 144 with F(4x4,3x3), 36 for 100 with
// F(2x2,5x5), 49 for 225 with F(3x3,5x5). F(4x4,3x3) and F(2x2,5x5) share
// B^T (the points 0, 1, -1, 2, -2 and infinity, as in Lavin's wincnn);
// F(3x3,5x5) adds the point 1/2 (7 x 7 tiles; its B^T, G and A^T derived
// in exact rationals the same way). Three kernels, run in order:
//   wino_input:  V = B^T d B for every (tile, input channel), ALPHA x ALPHA
//                tiles at stride WM, padding, ragged last tiles and the slots
//                past the last tile as zeros;
//   wino_gemm:   the NP GEMMs M[xi] = U[xi] . V[xi] over the input channels,
//                register blocks of TT tiles x OCB*VW output channels;
//   wino_output: Y = A^T M A, bias and optional ReLU fused, written NCHW with
//                ragged tiles guarded.
// Or (the plan's wino_fused; on CPUs by default for the layers of at most
// 128 input channels and at batch 1) wino_input then
// wino_gemm_out, the GEMMs and the output transform in one kernel: each
// work-item runs all NP points for TB blocks of TT tiles (a point's U block
// read from L1 for the TB blocks in turn) and folds each point into its
// WM x WM output tiles at once (Y is linear in M), so M never reaches memory
// (docs/PERFORMANCE.md has the figures).
// U = G g G^T is computed once at load on the host, in double (model.c,
// an__winograd_weights_arrange). The input transform is its own pass, not
// fused into the GEMM, because every one of OC/(OCB*VW) GEMM work-items would
// redo it. OpenCL C 1.2.
//
// Compile-time: R (3 or 5), WM (output tile: 2, 4 with R = 3 or 3 with R = 5), VW (output
// channels per vector), TT (tiles per GEMM work-item), OCB (blocks of VW
// output channels per GEMM work-item), RELU. Groups G: C input channels and
// BPG blocks of VW output channels per group. The output is OH x OW (stride
// 1: OH = H + 2P - R + 1); tiles are counted on it: TW = ceil(OW/WM) a row,
// TPI = TW * ceil(OH/WM) an image, NT = N * TPI in all (the batch is part of
// the GEMM's tile dimension), NTB = ceil(NT/TT) blocks of TT tiles. Output
// tile (ty, tx) reads the input tile at (WM ty - P, WM tx - P), zeros outside
// the input.
//
// in (N, G*C, H, W); out (N, OC, OH, OW);
// U (NP, G, BPG, C, VW); bias (G, BPG, VW);
// V (NP, G, NTB, C, TT): the TT tiles of a block are contiguous per channel,
//   so the GEMM's inner loop streams V and U front to back;
// M (NP, NT, OCP) with OCP = G*BPG*VW: a tile's VW channels are one vector
//   (none when fused).

#ifndef R
#define R 3
#endif
#if R != 3 && R != 5
#error "winograd.cl: R must be 3 or 5"
#endif
#ifndef WM
#define WM 2
#endif
#if WM != 2 && !(WM == 4 && R == 3) && !(WM == 3 && R == 5)
#error "winograd.cl: WM must be 2, 4 with R = 3, or 3 with R = 5"
#endif
#define ALPHA (WM + R - 1)
#define NP (ALPHA * ALPHA)
#ifndef TT
#define TT 4
#endif
#ifndef OCB
#define OCB 1
#endif
#ifndef RELU
#define RELU 1
#endif
#ifndef TB
#define TB 4 // wino_gemm_out: blocks of TT tiles per work-item
#endif
#include "vector.cl"

#if ALPHA == 7
// y = B^T x for F(3x3,5x5)'s B^T (the points 0, 1, -1, 2, -2, 1/2 and
// infinity, each row scaled to integers; G carries the inverse scale,
// model.c): exact small-integer coefficients, the zeros left out.
inline void bt7(const float x[7], float y[7])
{
    y[0] = -4.0f * x[0] + 8.0f * x[1] + 5.0f * x[2] - 10.0f * x[3] - x[4] + 2.0f * x[5];
    y[1] = 4.0f * x[1] - 4.0f * x[2] - 9.0f * x[3] + x[4] + 2.0f * x[5];
    y[2] = -4.0f * x[1] + 12.0f * x[2] - 7.0f * x[3] - 3.0f * x[4] + 2.0f * x[5];
    y[3] = 2.0f * x[1] - 3.0f * x[2] - 4.0f * x[3] + 3.0f * x[4] + 2.0f * x[5];
    y[4] = -2.0f * x[1] + 5.0f * x[2] - 5.0f * x[4] + 2.0f * x[5];
    y[5] = 4.0f * x[1] - 5.0f * x[3] + x[5];
    y[6] = -4.0f * x[1] + 8.0f * x[2] + 5.0f * x[3] - 10.0f * x[4] - x[5] + 2.0f * x[6];
}
#endif

// V = B^T d B of one ALPHA x ALPHA input tile d, point xi stored at
// v[xi * xstride].
inline void input_tile(const float d[ALPHA][ALPHA], __global float *restrict v,
                       const size_t xstride)
{
    float b[ALPHA][ALPHA];
#if ALPHA == 4
    // B^T d: B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
#pragma unroll
    for (int j = 0; j < 4; j++) {
        b[0][j] = d[0][j] - d[2][j];
        b[1][j] = d[1][j] + d[2][j];
        b[2][j] = d[2][j] - d[1][j];
        b[3][j] = d[1][j] - d[3][j];
    }
    // (B^T d) B, stored at xi = 4 * i + j
#pragma unroll
    for (int i = 0; i < 4; i++) {
        v[(size_t)(4 * i + 0) * xstride] = b[i][0] - b[i][2];
        v[(size_t)(4 * i + 1) * xstride] = b[i][1] + b[i][2];
        v[(size_t)(4 * i + 2) * xstride] = b[i][2] - b[i][1];
        v[(size_t)(4 * i + 3) * xstride] = b[i][1] - b[i][3];
    }
#elif ALPHA == 7
    // F(3x3,5x5): B^T d column by column, then (B^T d) B row by row
#pragma unroll
    for (int j = 0; j < 7; j++) {
        float x[7], y[7];
#pragma unroll
        for (int t = 0; t < 7; t++)
            x[t] = d[t][j];
        bt7(x, y);
#pragma unroll
        for (int i = 0; i < 7; i++)
            b[i][j] = y[i];
    }
    // stored at xi = 7 * i + j
#pragma unroll
    for (int i = 0; i < 7; i++) {
        float y[7];
        bt7(b[i], y);
#pragma unroll
        for (int j = 0; j < 7; j++)
            v[(size_t)(7 * i + j) * xstride] = y[j];
    }
#else
    // F(2x2,5x5) and F(4x4,3x3) alike.
    // B^T d: B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
    //               0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
#pragma unroll
    for (int j = 0; j < 6; j++) {
        const float p = d[4][j] - 4.0f * d[2][j], q = d[3][j] - 4.0f * d[1][j];
        const float r = d[4][j] - d[2][j], s = 2.0f * (d[3][j] - d[1][j]);
        b[0][j] = 4.0f * d[0][j] - 5.0f * d[2][j] + d[4][j];
        b[1][j] = p + q;
        b[2][j] = p - q;
        b[3][j] = r + s;
        b[4][j] = r - s;
        b[5][j] = 4.0f * d[1][j] - 5.0f * d[3][j] + d[5][j];
    }
    // (B^T d) B, stored at xi = 6 * i + j
#pragma unroll
    for (int i = 0; i < 6; i++) {
        const float p = b[i][4] - 4.0f * b[i][2], q = b[i][3] - 4.0f * b[i][1];
        const float r = b[i][4] - b[i][2], s = 2.0f * (b[i][3] - b[i][1]);
        v[(size_t)(6 * i + 0) * xstride] = 4.0f * b[i][0] - 5.0f * b[i][2] + b[i][4];
        v[(size_t)(6 * i + 1) * xstride] = p + q;
        v[(size_t)(6 * i + 2) * xstride] = p - q;
        v[(size_t)(6 * i + 3) * xstride] = r + s;
        v[(size_t)(6 * i + 4) * xstride] = r - s;
        v[(size_t)(6 * i + 5) * xstride] = 4.0f * b[i][1] - 5.0f * b[i][3] + b[i][5];
    }
#endif
}

// Global size: (C, NTB, G), guarded in dimension 0: one work-item a block
// of TT tiles and an input channel, the tiles in turn. Neighbouring
// work-items (channels) write neighbouring TT-float runs of V, so a
// work-group fills whole cache lines of every point's block at once; one
// work-item a tile and channel (the layout's tiles along dimension 0, the
// channels in other work-groups) scattered each point's 4 bytes over lines
// that other work-groups filled later: on PoCL pthread-skylake-avx512 that
// input transform took about half of conv2-5's time (docs/PERFORMANCE.md).
// The slots past NT in the last block get zeros, so the GEMM reads only
// finite values.
__kernel void wino_input(__global const float *restrict in, __global float *restrict V, const int C,
                         const int H, const int W, const int G, const int TW, const int TPI,
                         const int NT, const int NTB, const int P)
{
    const int c = get_global_id(0), tb = get_global_id(1), g = get_global_id(2);
    if (c >= C || tb >= NTB || g >= G)
        return;
    const size_t xstride = (size_t)G * NTB * C * TT;
    __global float *v = V + (((size_t)g * NTB + tb) * C + c) * TT;
    for (int s = 0; s < TT; s++) {
        const int t = tb * TT + s;
        if (t >= NT) {
            for (int xi = 0; xi < NP; xi++)
                v[(size_t)xi * xstride + s] = 0.0f;
            continue;
        }
        const int n = t / TPI, r = t - n * TPI, ty = r / TW, tx = r - ty * TW;
        const int y0 = ty * WM - P, x0 = tx * WM - P;
        __global const float *plane = in + ((size_t)(n * G + g) * C + c) * H * W;
        float d[ALPHA][ALPHA];
#pragma unroll
        for (int i = 0; i < ALPHA; i++)
#pragma unroll
            for (int j = 0; j < ALPHA; j++) {
                const int y = y0 + i, x = x0 + j;
                d[i][j] = y >= 0 && y < H && x >= 0 && x < W ? plane[(size_t)y * W + x] : 0.0f;
            }
        input_tile(d, v + s, xstride);
    }
}

// The GEMM register block of point xi that wino_gemm and wino_gemm_out both
// run: acc[i][t] = sum over the C input channels of group g of V's tile t of
// block tb times U's output block b0 + i. A block past the group's end
// (b0 + i >= BPG) reads the group's last block, so only finite values; the
// callers do not store it.
inline void point_block(__global const float *restrict V, __global const float *restrict U,
                        const int C, const int G, const int BPG, const int NTB, const int xi,
                        const int g, const int tb, const int b0, floatv acc[OCB][TT])
{
    __global const float *v = V + (((size_t)xi * G + g) * NTB + tb) * C * TT;
    __global const float *u[OCB];
#pragma unroll
    for (int i = 0; i < OCB; i++) {
        u[i] = U + (((size_t)xi * G + g) * BPG + min(b0 + i, BPG - 1)) * C * VW;
#pragma unroll
        for (int t = 0; t < TT; t++)
            acc[i][t] = (floatv)(0.0f);
    }
    for (int c = 0; c < C; c++) {
        float x[TT];
#pragma unroll
        for (int t = 0; t < TT; t++)
            x[t] = v[c * TT + t];
#pragma unroll
        for (int i = 0; i < OCB; i++) {
            const floatv w = VLOAD(c, u[i]);
#pragma unroll
            for (int t = 0; t < TT; t++)
                acc[i][t] = fma((floatv)(x[t]), w, acc[i][t]);
        }
    }
}

// Global size: (NTB, G * ceil(BPG / OCB), NP) = (NTB, NZ, NP), guarded.
__kernel void wino_gemm(__global const float *restrict V, __global const float *restrict U,
                        __global float *restrict M, const int C, const int G, const int BPG,
                        const int NT, const int NTB, const int NZ)
{
    const int tb = get_global_id(0), z = get_global_id(1), xi = get_global_id(2);
    if (tb >= NTB || z >= NZ || xi >= NP)
        return;
    const int zpg = (BPG + OCB - 1) / OCB;
    const int g = z / zpg, b0 = (z % zpg) * OCB;
    floatv acc[OCB][TT];
    point_block(V, U, C, G, BPG, NTB, xi, g, tb, b0, acc);
    const int ocp = G * BPG * VW;
#pragma unroll
    for (int i = 0; i < OCB; i++)
#pragma unroll
        for (int t = 0; t < TT; t++) {
            const int tile = tb * TT + t;
            if (b0 + i < BPG && tile < NT) // guards, not breaks: the loops stay unrolled
                VSTORE(acc[i][t], 0,
                       M + ((size_t)xi * NT + tile) * ocp + (size_t)(g * BPG + b0 + i) * VW);
        }
}

// s = A^T m for one column m of ALPHA points: WM sums.
inline void wino_at(const floatv m[ALPHA], floatv s[WM])
{
#if ALPHA == 4
    // F(2x2,3x3): A^T = [1 1 1 0; 0 1 -1 -1]
    s[0] = m[0] + m[1] + m[2];
    s[1] = m[1] - m[2] - m[3];
#elif ALPHA == 6 && R == 5
    // F(2x2,5x5): A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1]
    s[0] = m[0] + m[1] + m[2] + m[3] + m[4];
    s[1] = m[1] - m[2] + 2.0f * (m[3] - m[4]) + m[5];
#elif ALPHA == 7
    // F(3x3,5x5): A^T = [1 1 1 1 1 1 0; 0 1 -1 2 -2 1/2 0; 0 1 1 4 4 1/4 1]
    const floatv p = m[1] + m[2], q = m[1] - m[2], r = m[3] + m[4], d = m[3] - m[4];
    s[0] = m[0] + p + r + m[5];
    s[1] = q + 2.0f * d + 0.5f * m[5];
    s[2] = p + 4.0f * r + 0.25f * m[5] + m[6];
#else
    // F(4x4,3x3): A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0;
    //                    0 1 -1 8 -8 1]
    const floatv p = m[1] + m[2], q = m[1] - m[2], r = m[3] + m[4], d = m[3] - m[4];
    s[0] = m[0] + p + r;
    s[1] = q + 2.0f * d;
    s[2] = p + 4.0f * r;
    s[3] = q + 8.0f * d + m[5];
#endif
}

// Global size: (NT, G * BPG), guarded.
__kernel void wino_output(__global const float *restrict M, __global const float *restrict bias,
                          __global float *restrict out, const int OC, const int OH, const int OW,
                          const int G, const int BPG, const int TW, const int TPI, const int NT)
{
    const int t = get_global_id(0), gb = get_global_id(1);
    if (t >= NT || gb >= G * BPG)
        return;
    const int ocp = G * BPG * VW, ocg = OC / G, g = gb / BPG, bl = gb % BPG;
    __global const float *mt = M + (size_t)t * ocp + (size_t)gb * VW;
    const size_t xstride = (size_t)NT * ocp;
    // A^T m, a column of m at a time, then (A^T m) A a row at a time
    floatv s[ALPHA][WM];
#pragma unroll
    for (int j = 0; j < ALPHA; j++) {
        floatv m[ALPHA];
#pragma unroll
        for (int i = 0; i < ALPHA; i++)
            m[i] = VLOAD(0, mt + (size_t)(ALPHA * i + j) * xstride);
        wino_at(m, s[j]);
    }
    const floatv b = VLOAD(gb, bias);
    floatv y[WM][WM];
#pragma unroll
    for (int i = 0; i < WM; i++) {
        floatv col[ALPHA];
#pragma unroll
        for (int j = 0; j < ALPHA; j++)
            col[j] = s[j][i];
        wino_at(col, y[i]);
#pragma unroll
        for (int k = 0; k < WM; k++) {
            y[i][k] += b;
#if RELU
            y[i][k] = fmax(y[i][k], (floatv)(0.0f));
#endif
        }
    }
    const int n = t / TPI, r = t % TPI;
    const int oy0 = (r / TW) * WM, ox0 = (r % TW) * WM;
#pragma unroll
    for (int i = 0; i < WM; i++) {
#pragma unroll
        for (int k = 0; k < WM; k++) {
            if (oy0 + i >= OH || ox0 + k >= OW)
                continue;
            float res[VW];
            VSTORE(y[i][k], 0, res);
#pragma unroll
            for (int j = 0; j < VW; j++) {
                const int oc = bl * VW + j;
                if (oc < ocg)
                    out[(((size_t)n * OC + (size_t)g * ocg + oc) * OH + oy0 + i) * OW + ox0 + k] =
                        res[j];
            }
        }
    }
}

// wino_gemm and wino_output fused (the plan's wino_fused=1): one work-item
// per (TB blocks of TT tiles, OCB blocks of VW output channels) runs the NP
// GEMMs a point xi at a time, each point for its TB tile blocks in turn (the
// point's U block stays in L1), and folds each point's accumulators into a
// row's sums (TB*WM*OCB*TT private vectors), each row's sums into the WM x WM
// output tiles (TB*WM*WM*OCB*TT), so M never reaches memory. Y = A^T M A is
// linear in M: y[i][k] = sum over a of A^T[i][a] (sum over b of A^T[k][b]
// M[a*ALPHA+b]), the coefficients 0 and powers of two from 1/4 to 8 in
// magnitude (exact in float; a 0 adds nothing).
// Global size: (ceil(NTB / TB), G * ceil(BPG / OCB)) = (.., NZ), guarded;
// the last work-item's blocks may be fewer.
__kernel void wino_gemm_out(__global const float *restrict V, __global const float *restrict U,
                            __global const float *restrict bias, __global float *restrict out,
                            const int C, const int G, const int BPG, const int NT, const int NTB,
                            const int NZ, const int OC, const int OH, const int OW, const int TW,
                            const int TPI)
{
    const int tb0 = get_global_id(0) * TB, z = get_global_id(1);
    if (tb0 >= NTB || z >= NZ)
        return;
#if ALPHA == 4
    const float at[WM][ALPHA] = {{1.0f, 1.0f, 1.0f, 0.0f}, {0.0f, 1.0f, -1.0f, -1.0f}};
#elif ALPHA == 7
    const float at[WM][ALPHA] = {{1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f},
                                 {0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 0.5f, 0.0f},
                                 {0.0f, 1.0f, 1.0f, 4.0f, 4.0f, 0.25f, 1.0f}};
#elif R == 5
    const float at[WM][ALPHA] = {{1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f},
                                 {0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 1.0f}};
#else
    const float at[WM][ALPHA] = {{1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f},
                                 {0.0f, 1.0f, -1.0f, 2.0f, -2.0f, 0.0f},
                                 {0.0f, 1.0f, 1.0f, 4.0f, 4.0f, 0.0f},
                                 {0.0f, 1.0f, -1.0f, 8.0f, -8.0f, 1.0f}};
#endif
    const int zpg = (BPG + OCB - 1) / OCB;
    const int g = z / zpg, b0 = (z % zpg) * OCB;
    floatv y[TB][WM * WM][OCB][TT];
    for (int tj = 0; tj < TB; tj++)
#pragma unroll
        for (int q = 0; q < WM * WM; q++)
#pragma unroll
            for (int i = 0; i < OCB; i++)
#pragma unroll
                for (int t = 0; t < TT; t++)
                    y[tj][q][i][t] = (floatv)(0.0f);
    const int ntj = min(TB, NTB - tb0);
    // the points in rows a of ALPHA (xi = a*ALPHA + b, the order the GEMMs
    // have always run in): a row's products are first summed over b into
    // sr[k] = sum_b A^T[k][b] M[a][b], then folded in as y[i][k] +=
    // A^T[i][a] sr[k], the two-stage order of wino_output. Summing all
    // ALPHA^2 products A^T[i][a] A^T[k][b] M[a][b] into y in one chain
    // (before) rounded 3-4x worse: caffe-bvlc-227's probabilities were 1.9e-5
    // from float64 against 5.6e-6 unfused (conv1 through space-to-depth as
    // F(4x4,3x3) on AVX2), and it was (WM*WM)/(WM + WM*WM/ALPHA) times the
    // FMAs
    floatv sr[TB][WM][OCB][TT];
    for (int a = 0; a < ALPHA; a++) {
        for (int tj = 0; tj < TB; tj++)
#pragma unroll
            for (int k = 0; k < WM; k++)
#pragma unroll
                for (int i = 0; i < OCB; i++)
#pragma unroll
                    for (int t = 0; t < TT; t++)
                        sr[tj][k][i][t] = (floatv)(0.0f);
        for (int b = 0; b < ALPHA; b++)
            for (int tj = 0; tj < ntj; tj++) {
                floatv acc[OCB][TT];
                point_block(V, U, C, G, BPG, NTB, a * ALPHA + b, g, tb0 + tj, b0, acc);
#pragma unroll
                for (int k = 0; k < WM; k++) {
                    const floatv cb = (floatv)(at[k][b]);
#pragma unroll
                    for (int i = 0; i < OCB; i++)
#pragma unroll
                        for (int t = 0; t < TT; t++)
                            sr[tj][k][i][t] = fma(cb, acc[i][t], sr[tj][k][i][t]);
                }
            }
        for (int tj = 0; tj < ntj; tj++)
#pragma unroll
            for (int q = 0; q < WM * WM; q++) {
                const floatv ca = (floatv)(at[q / WM][a]);
#pragma unroll
                for (int i = 0; i < OCB; i++)
#pragma unroll
                    for (int t = 0; t < TT; t++)
                        y[tj][q][i][t] = fma(ca, sr[tj][q % WM][i][t], y[tj][q][i][t]);
            }
    }
    const int ocg = OC / G;
    for (int tj = 0; tj < ntj; tj++)
#pragma unroll
        for (int i = 0; i < OCB; i++) {
            const int bl = b0 + i;
            if (bl >= BPG) // guards, not breaks: the loops stay unrolled
                continue;
            const floatv bv = VLOAD(g * BPG + bl, bias);
#pragma unroll
            for (int t = 0; t < TT; t++) {
                const int tile = (tb0 + tj) * TT + t;
                if (tile >= NT)
                    continue;
                const int n = tile / TPI, r = tile % TPI;
                const int oy0 = (r / TW) * WM, ox0 = (r % TW) * WM;
                // not unrolled: OCB*TT*WM*WM*VW guarded stores are past what
                // clang will unroll at the larger blocks, and a failed
                // unroll pragma is a warning on the user's terminal (PoCL);
                // this runs once per work-item, after the GEMMs
                for (int q = 0; q < WM * WM; q++) {
                    const int oy = oy0 + q / WM, ox = ox0 + q % WM;
                    if (oy >= OH || ox >= OW)
                        continue;
                    floatv yv = y[tj][q][i][t] + bv;
#if RELU
                    yv = fmax(yv, (floatv)(0.0f));
#endif
                    float res[VW];
                    VSTORE(yv, 0, res);
#pragma unroll
                    for (int j = 0; j < VW; j++) {
                        const int oc = bl * VW + j;
                        if (oc < ocg)
                            out[(((size_t)n * OC + (size_t)g * ocg + oc) * OH + oy) * OW + ox] =
                                res[j];
                    }
                }
            }
        }
}
