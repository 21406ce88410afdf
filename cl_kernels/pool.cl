// pool.cl - max pooling (no padding, floor mode, as AlexNet uses it) and
// adaptive average pooling with PyTorch's bin edges. OpenCL C 1.2.
// Global sizes rounded up and guarded.

// Max pooling, in (NC, H, W) -> out (NC, OH, OW). Compile-time: K (window),
// S (stride), PX (outputs per work-item along a row). A work-item computes PX
// neighbouring outputs of one row, reading the S*(PX-1)+K inputs of each
// window row once: contiguous streams on a CPU (PX 8 or more), one output per
// work-item on a GPU (PX 1). Work-items: NC * OH * ceil(OW / PX).
#ifndef K
#define K 3 /* defaults for builds of this file for adaptive_avgpool2d alone */
#endif
#ifndef S
#define S 2
#endif
#ifndef PX
#define PX 1
#endif
#define PSPAN (S * (PX - 1) + K)
__kernel void maxpool2d(__global const float *restrict in, __global float *restrict out,
                        const int NC, const int H, const int W, const int OH, const int OW)
{
    const int i = get_global_id(0), tiles = (OW + PX - 1) / PX;
    if (i >= NC * OH * tiles)
        return;
    const int ox0 = (i % tiles) * PX, oy = (i / tiles) % OH, nc = i / (tiles * OH);
    __global const float *plane = in + (size_t)nc * H * W;
    const int y0 = oy * S, x0 = ox0 * S;
    __global float *o = out + ((size_t)nc * OH + oy) * OW + ox0;
#if K == 3 && S == 2 && PX >= 8
    /* AlexNet's 3x3 stride-2 windows, all inside the plane, on tiles of 8 or
     * more (CPUs; shorter ones keep the unrolled path below): 8 outputs at a
     * time as vectors. Their 17 input columns are first reduced down the 3
     * rows (two float8 and one scalar), then across: output t is the max of
     * columns 2t, 2t+1 and 2t+2, i.e. of the even, odd and next even lanes.
     * fmax with -INFINITY as the scalar path (NaN inputs are skipped). */
    if (x0 + PSPAN <= W && y0 + K <= H) {
        int t = 0;
        for (; t + 8 <= PX && ox0 + t + 8 <= OW; t += 8) {
            float8 va = (float8)(-INFINITY), vb = va;
            float c = -INFINITY;
            for (int ky = 0; ky < 3; ky++) {
                __global const float *row = plane + (size_t)(y0 + ky) * W + x0 + 2 * t;
                va = fmax(va, vload8(0, row));
                vb = fmax(vb, vload8(1, row));
                c = fmax(c, row[16]);
            }
            float8 ev = (float8)(va.s0, va.s2, va.s4, va.s6, vb.s0, vb.s2, vb.s4, vb.s6);
            float8 od = (float8)(va.s1, va.s3, va.s5, va.s7, vb.s1, vb.s3, vb.s5, vb.s7);
            float8 nx = (float8)(va.s2, va.s4, va.s6, vb.s0, vb.s2, vb.s4, vb.s6, c);
            /* stored lane by lane: Oclgrind (-cl-opt-disable) crashed on
             * vstore8 of this fmax; PoCL merges the stores */
            float8 r = fmax(fmax(ev, od), nx);
            o[t] = r.s0, o[t + 1] = r.s1, o[t + 2] = r.s2, o[t + 3] = r.s3;
            o[t + 4] = r.s4, o[t + 5] = r.s5, o[t + 6] = r.s6, o[t + 7] = r.s7;
        }
        for (; t < PX && ox0 + t < OW; t++) {
            float m = -INFINITY;
            for (int ky = 0; ky < 3; ky++) {
                __global const float *row = plane + (size_t)(y0 + ky) * W + x0 + 2 * t;
                m = fmax(m, fmax(fmax(row[0], row[1]), row[2]));
            }
            o[t] = m;
        }
        return;
    }
#endif
    float m[PX];
#pragma unroll
    for (int t = 0; t < PX; t++)
        m[t] = -INFINITY;
    if (x0 + PSPAN <= W && y0 + K <= H) {
#pragma unroll
        for (int ky = 0; ky < K; ky++) {
            __global const float *row = plane + (size_t)(y0 + ky) * W + x0;
            float span[PSPAN];
#pragma unroll
            for (int j = 0; j < PSPAN; j++)
                span[j] = row[j];
#pragma unroll
            for (int t = 0; t < PX; t++)
#pragma unroll
                for (int kx = 0; kx < K; kx++)
                    m[t] = fmax(m[t], span[t * S + kx]);
        }
    } else { /* the row's ragged end: windows clipped to the plane */
        for (int y = y0; y < min(y0 + K, H); y++)
#pragma unroll
            for (int t = 0; t < PX; t++)
                for (int x = x0 + t * S; x < min(x0 + t * S + K, W); x++)
                    m[t] = fmax(m[t], plane[(size_t)y * W + x]);
    }
#pragma unroll
    for (int t = 0; t < PX; t++)
        if (ox0 + t < OW)
            o[t] = m[t];
}

// PyTorch: bin i of n over length L spans [floor(i*L/n), ceil((i+1)*L/n)).
__kernel void adaptive_avgpool2d(__global const float *restrict in, __global float *restrict out,
                                 const int NC, const int H, const int W, const int OH,
                                 const int OW)
{
    const int i = get_global_id(0);
    if (i >= NC * OH * OW)
        return;
    const int ox = i % OW, oy = (i / OW) % OH, nc = i / (OW * OH);
    const int y0 = (oy * H) / OH, y1 = ((oy + 1) * H + OH - 1) / OH;
    const int x0 = (ox * W) / OW, x1 = ((ox + 1) * W + OW - 1) / OW;
    __global const float *plane = in + (size_t)nc * H * W;
    float sum = 0.0f;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            sum += plane[y * W + x];
    out[i] = sum / (float)((y1 - y0) * (x1 - x0));
}
