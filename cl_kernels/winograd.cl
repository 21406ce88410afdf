// winograd.cl - 3x3 stride-1 pad-1 convolution by Winograd's minimal
// filtering F(2x2, 3x3) (Lavin & Gray 2015, "Fast Algorithms for
// Convolutional Neural Networks", arXiv:1509.09308): each 2x2 output tile is
// A^T [ (G g G^T) * (B^T d B) ] A over a 4x4 input tile d, so 16 products per
// channel pair replace 36 multiply-adds. Three kernels, run in order:
//   wino_input:  V = B^T d B for every (tile, input channel), 4x4 tiles at
//                stride 2, padding, ragged last tiles and the slots past the
//                last tile as zeros;
//   wino_gemm:   the 16 GEMMs M[xi] = U[xi] . V[xi] over the input channels,
//                register blocks of TT tiles x OCB*VW output channels;
//   wino_output: Y = A^T M A, bias and optional ReLU fused, written NCHW with
//                ragged tiles guarded.
// U = G g G^T is computed once at load on the host (model.c,
// an__winograd_weights_arrange). The input transform is its own pass, not
// fused into the GEMM, because every one of OC/(OCB*VW) GEMM work-items would
// redo it. OpenCL C 1.2.
//
// Compile-time: VW (output channels per vector), TT (tiles per GEMM
// work-item), OCB (blocks of VW output channels per GEMM work-item), RELU.
// Groups G: C input channels and BPG blocks of VW output channels per group.
// Tiles: TW = ceil(W/2) a row, TPI = TW * ceil(H/2) an image, NT = N * TPI in
// all (the batch is part of the GEMM's tile dimension), NTB = ceil(NT/TT)
// blocks of TT tiles.
//
// in (N, G*C, H, W); out (N, OC, H, W) (stride 1, pad 1: same size);
// U (16, G, BPG, C, VW); bias (G, BPG, VW);
// V (16, G, NTB, C, TT): the TT tiles of a block are contiguous per channel,
//   so the GEMM's inner loop streams V and U front to back;
// M (16, NT, OCP) with OCP = G*BPG*VW: a tile's VW channels are one vector.

#ifndef TT
#define TT 4
#endif
#ifndef OCB
#define OCB 1
#endif
#ifndef RELU
#define RELU 1
#endif
#include "vector.cl"

// Global size: (TW, TH, N * G * C) with TH = ceil(H/2), guarded in dimension
// 0: one work-item a tile and input channel. The three dimensions keep every
// division uniform across dimension 0 (PoCL vectorises across it, where a
// per-work-item integer division is slow): measured 1.2-1.6x less CPU time
// than a 2-D (tile, channel) range with divisions, on PoCL pthread-haswell.
// The slots past NT in the last block of TT get zeros (from the work-item of
// the last tile), so the GEMM reads only finite values.
__kernel void wino_input(__global const float *restrict in, __global float *restrict V,
                         const int C, const int H, const int W, const int G, const int TW,
                         const int TPI, const int NT, const int NTB)
{
    const int tx = get_global_id(0), ty = get_global_id(1), z = get_global_id(2);
    const int GC = G * C, n = z / GC, gc = z - n * GC;
    if (tx >= TW || ty * TW >= TPI || n * TPI >= NT)
        return;
    const int g = gc / C, c = gc - g * C, t = n * TPI + ty * TW + tx;
    const int y0 = ty * 2 - 1, x0 = tx * 2 - 1;
    __global const float *plane = in + (size_t)z * H * W;
    float d[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int y = y0 + i, x = x0 + j;
            d[i][j] = y >= 0 && y < H && x >= 0 && x < W ? plane[(size_t)y * W + x] : 0.0f;
        }
    // B^T d: B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
    float b[4][4];
#pragma unroll
    for (int j = 0; j < 4; j++) {
        b[0][j] = d[0][j] - d[2][j];
        b[1][j] = d[1][j] + d[2][j];
        b[2][j] = d[2][j] - d[1][j];
        b[3][j] = d[1][j] - d[3][j];
    }
    // (B^T d) B, stored at xi = 4 * i + j
    const size_t xstride = (size_t)G * NTB * C * TT;
    __global float *v = V + (((size_t)g * NTB + t / TT) * C + c) * TT + t % TT;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        v[(size_t)(4 * i + 0) * xstride] = b[i][0] - b[i][2];
        v[(size_t)(4 * i + 1) * xstride] = b[i][1] + b[i][2];
        v[(size_t)(4 * i + 2) * xstride] = b[i][2] - b[i][1];
        v[(size_t)(4 * i + 3) * xstride] = b[i][1] - b[i][3];
    }
    if (t == NT - 1)
        for (int s = 1; s < NTB * TT - t; s++)
            for (int xi = 0; xi < 16; xi++)
                v[(size_t)xi * xstride + s] = 0.0f;
}

// Global size: (NTB, G * ceil(BPG / OCB), 16) = (NTB, NZ, 16), guarded.
__kernel void wino_gemm(__global const float *restrict V, __global const float *restrict U,
                        __global float *restrict M, const int C, const int G, const int BPG,
                        const int NT, const int NTB, const int NZ)
{
    const int tb = get_global_id(0), z = get_global_id(1), xi = get_global_id(2);
    if (tb >= NTB || z >= NZ || xi >= 16)
        return;
    const int zpg = (BPG + OCB - 1) / OCB;
    const int g = z / zpg, b0 = (z % zpg) * OCB;
    __global const float *v = V + (((size_t)xi * G + g) * NTB + tb) * C * TT;
    __global const float *u[OCB];
    floatv acc[OCB][TT];
#pragma unroll
    for (int i = 0; i < OCB; i++) {
        // a block past the group's end reads a valid block and is not stored
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

// Global size: (NT, G * BPG), guarded.
__kernel void wino_output(__global const float *restrict M, __global const float *restrict bias,
                          __global float *restrict out, const int OC, const int H, const int W,
                          const int G, const int BPG, const int TW, const int TPI, const int NT)
{
    const int t = get_global_id(0), gb = get_global_id(1);
    if (t >= NT || gb >= G * BPG)
        return;
    const int ocp = G * BPG * VW, ocg = OC / G, g = gb / BPG, bl = gb % BPG;
    floatv m[16];
#pragma unroll
    for (int xi = 0; xi < 16; xi++)
        m[xi] = VLOAD(0, M + ((size_t)xi * NT + t) * ocp + (size_t)gb * VW);
    // A^T m: A^T = [1 1 1 0; 0 1 -1 -1]
    floatv s[2][4];
#pragma unroll
    for (int j = 0; j < 4; j++) {
        s[0][j] = m[j] + m[4 + j] + m[8 + j];
        s[1][j] = m[4 + j] - m[8 + j] - m[12 + j];
    }
    const floatv b = VLOAD(gb, bias);
    floatv y[2][2];
#pragma unroll
    for (int i = 0; i < 2; i++) {
        y[i][0] = s[i][0] + s[i][1] + s[i][2] + b;
        y[i][1] = s[i][1] - s[i][2] - s[i][3] + b;
#if RELU
        y[i][0] = fmax(y[i][0], (floatv)(0.0f));
        y[i][1] = fmax(y[i][1], (floatv)(0.0f));
#endif
    }
    const int n = t / TPI, r = t % TPI;
    const int oy0 = (r / TW) * 2, ox0 = (r % TW) * 2;
#pragma unroll
    for (int i = 0; i < 2; i++) {
#pragma unroll
        for (int k = 0; k < 2; k++) {
            if (oy0 + i >= H || ox0 + k >= W)
                continue;
            float res[VW];
            VSTORE(y[i][k], 0, res);
#pragma unroll
            for (int j = 0; j < VW; j++) {
                const int oc = bl * VW + j;
                if (oc < ocg)
                    out[(((size_t)n * OC + (size_t)g * ocg + oc) * H + oy0 + i) * W + ox0 + k] =
                        res[j];
            }
        }
    }
}
