// igemm.cl - implicit-GEMM convolution (no im2col buffer): any kernel size,
// stride, padding and group count, bias and an optional ReLU in the epilogue.
// OpenCL C 1.2.
//
// Per group g the convolution is the GEMM out[oc][p] = sum_k A[oc][k] B[k][p]
// with k = (c, ky, kx) over C*K*K and p = (n, oy, ox) over N*OH*OW: A is the
// weights as conv.cl has them arranged, (G, BPG, C*K*K, VW) (model.c,
// an__conv_weights_arrange: VW output channels of a block at one k are one
// vector, each group's last block zero-padded), and B is gathered from the
// input on the fly (padding as zeros). A work-group computes an M tile of
// LY*MB blocks of VW output channels x an N tile of LX*NB pixels. It walks k
// in steps of KS: the work-items copy the A panel (LY*MB blocks x KS) and
// gather the B panel (KS x LX*NB) into local memory, then each work-item
// multiplies its MB vectors x NB pixels register block (MB*NB vector
// accumulators) over the KS values of the step. The last step's k past C*K*K
// are zeros in both panels. On PoCL a work-group runs on one core and its
// local memory is a buffer of that core that stays in L1/L2: the packed
// panels of a CPU GEMM, reused by every work-item of the group.
//
// Work-item (lx, ly) owns the output channels of blocks b0 + ly*MB + i (i <
// MB) and the pixels p0 + lx + LX*j (j < NB): neighbouring work-items read
// neighbouring pixels (coalesced on GPUs; on CPUs each value is broadcast).
//
// Compile-time: K, S, P, VW (4, 8 or 16), MB, NB, KS, LX, LY, RELU.
// in (N, G*C, H, W), out (N, OC, OH, OW), bias (G, BPG, VW).
// Local size exactly (LX, LY); global (ceil(N*OH*OW / (LX*NB)) * LX,
// G * MT * LY) with MT = ceil(BPG / (LY*MB)).

#ifndef MB
#define MB 3
#endif
#ifndef NB
#define NB 4
#endif
#ifndef KS
#define KS 32
#endif
#ifndef LX
#define LX 8
#endif
#ifndef LY
#define LY 1
#endif
#ifndef RELU
#define RELU 1
#endif
#define KK (K * K)
#define TN (LX * NB)  /* pixels per work-group */
#define TMB (LY * MB) /* blocks of VW output channels per work-group */
#include "vector.cl"

__kernel __attribute__((reqd_work_group_size(LX, LY, 1))) void
igemm_conv(__global const float *restrict in, __global const float *restrict wt,
           __global const float *restrict bias, __global float *restrict out, const int C,
           const int H, const int W, const int OC, const int OH, const int OW, const int G,
           const int NP, const int MT)
{
    __local float al[TMB * KS * VW]; // A panel: (TMB, KS, VW)
    __local float bl[KS * TN];       // B panel: (KS, TN)
    const int lx = get_local_id(0), ly = get_local_id(1);
    const int lid = ly * LX + lx;
    const int p0 = get_group_id(0) * TN, z = get_group_id(1);
    const int g = z / MT, b0 = (z % MT) * TMB;
    const int ocg = OC / G, bpg = (ocg + VW - 1) / VW;
    const int CKK = C * KK, ohw = OH * OW;

    // this work-item's pixels: where their receptive fields start
    size_t base[NB];
    int iy0[NB], ix0[NB];
#pragma unroll
    for (int j = 0; j < NB; j++) {
        const int p = p0 + lx + LX * j;
        const int n = p / ohw, q = p - n * ohw, oy = q / OW, ox = q - oy * OW;
        base[j] = ((size_t)n * G * C + (size_t)g * C) * H * W;
        iy0[j] = p < NP ? oy * S - P : -(1 << 28); // a pixel past the end reads zeros
        ix0[j] = ox * S - P;
    }

    floatv acc[MB][NB];
#pragma unroll
    for (int i = 0; i < MB; i++)
#pragma unroll
        for (int j = 0; j < NB; j++)
            acc[i][j] = (floatv)(0.0f);

    for (int k0 = 0; k0 < CKK; k0 += KS) {
        // A panel: TMB*KS vectors, consecutive work-items on consecutive k
        for (int e = lid; e < TMB * KS; e += LX * LY) {
            const int i = e / KS, kk = e - i * KS;
            // a block past the group's end copies a valid one, never stored
            const int blk = g * bpg + min(b0 + i, bpg - 1);
            floatv v = (floatv)(0.0f);
            if (k0 + kk < CKK)
                v = VLOAD(0, wt + ((size_t)blk * CKK + k0 + kk) * VW);
            VSTORE(v, 0, al + e * VW);
        }
        // B panel: rows ly, ly + LY, ... of the step, this work-item's pixels
        for (int kk = ly; kk < KS; kk += LY) {
            const int k = k0 + kk;
            const int c = k / KK, r = k - c * KK, ky = r / K, kx = r - ky * K;
#pragma unroll
            for (int j = 0; j < NB; j++) {
                const int iy = iy0[j] + ky, ix = ix0[j] + kx;
                float v = 0.0f;
                if (k < CKK && iy >= 0 && iy < H && ix >= 0 && ix < W)
                    v = in[base[j] + ((size_t)c * H + iy) * W + ix];
                bl[kk * TN + lx + LX * j] = v;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        __local const float *a = al + ly * MB * KS * VW;
#pragma unroll 4
        for (int kk = 0; kk < KS; kk++) {
            floatv w[MB];
#pragma unroll
            for (int i = 0; i < MB; i++)
                w[i] = VLOAD(0, a + (i * KS + kk) * VW);
#pragma unroll
            for (int j = 0; j < NB; j++) {
                const floatv x = (floatv)(bl[kk * TN + lx + LX * j]);
#pragma unroll
                for (int i = 0; i < MB; i++)
                    acc[i][j] = fma(x, w[i], acc[i][j]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

#pragma unroll
    for (int i = 0; i < MB; i++) {
        const int blk = b0 + ly * MB + i;
        if (blk >= bpg)
            break;
        const floatv b = VLOAD(g * bpg + blk, bias);
#pragma unroll
        for (int j = 0; j < NB; j++) {
            const int p = p0 + lx + LX * j;
            if (p >= NP)
                break;
            const int n = p / ohw, q = p - n * ohw;
            float res[VW];
            floatv v = acc[i][j] + b;
#if RELU
            v = fmax(v, (floatv)(0.0f));
#endif
            VSTORE(v, 0, res);
#pragma unroll
            for (int l = 0; l < VW; l++) {
                const int oc = blk * VW + l;
                if (oc < ocg)
                    out[((size_t)n * OC + (size_t)g * ocg + oc) * ohw + q] = res[l];
            }
        }
    }
}
