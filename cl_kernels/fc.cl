// fc.cl - the pieces of the fully connected layers that CLBlast does not do:
// the bias + ReLU epilogue after its GEMM, a matrix-vector kernel for batch 1
// (no padding of one image into a matrix product), and the softmax.
// OpenCL C 1.2. RELU is a compile-time 0/1.

#ifndef RELU
#define RELU 1
#endif

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
gemv_rows(__global const float *restrict wt, __global const float *restrict x,
          __global const float *restrict bias, __global float *restrict y, const int O,
          const int I)
{
    __local float part[LWS];
    const int row = get_group_id(0), j = get_local_id(0);
    float sum = 0.0f;
    if (row < O) {
        __global const float *w = wt + (size_t)row * I;
#if INTERLEAVED
        for (int i = j; i < I; i += LWS)
            sum = fma(w[i], x[i], sum);
#else
        const int chunk = (I + LWS - 1) / LWS;
        const int i0 = j * chunk, i1 = min(i0 + chunk, I);
        for (int i = i0; i < i1; i++)
            sum = fma(w[i], x[i], sum);
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
