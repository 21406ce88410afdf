// probe.cl - kernels that measure the device, not the network: FMA-chain
// kernels for the arithmetic ceiling (float8 and float16: a CPU with AVX-512
// reaches its peak only with the wider one) and a float4 copy for the memory
// ceiling.
// Also the smallest program the tests build to exercise the program cache.
// OpenCL C 1.2.

// Eight independent FMA chains of TYPE (float8 or float16) per work-item:
// 2 * lanes * 8 * iters FLOP; SUM8 folds the last vector to a float8.
#define FMA_CHAIN(NAME, TYPE, SUM8)                                                      \
    __kernel void NAME(__global float *restrict out, const int iters, const float a)     \
    {                                                                                    \
        const int i = get_global_id(0);                                                  \
        TYPE x0 = (TYPE)(i), x1 = x0 + 1.0f, x2 = x0 + 2.0f, x3 = x0 + 3.0f;             \
        TYPE x4 = x0 + 4.0f, x5 = x0 + 5.0f, x6 = x0 + 6.0f, x7 = x0 + 7.0f;             \
        const TYPE b = (TYPE)(0.999f);                                                   \
        for (int k = 0; k < iters; k++) {                                                \
            x0 = fma(x0, b, a); x1 = fma(x1, b, a); x2 = fma(x2, b, a);                  \
            x3 = fma(x3, b, a); x4 = fma(x4, b, a); x5 = fma(x5, b, a);                  \
            x6 = fma(x6, b, a); x7 = fma(x7, b, a);                                      \
        }                                                                                \
        const TYPE v = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;                            \
        const float8 s = SUM8(v);                                                        \
        out[i] = s.s0 + s.s1 + s.s2 + s.s3 + s.s4 + s.s5 + s.s6 + s.s7;                  \
    }
#define SUM8_OF_8(v) (v)
#define SUM8_OF_16(v) ((v).lo + (v).hi)
FMA_CHAIN(fma_chain, float8, SUM8_OF_8)
FMA_CHAIN(fma_chain16, float16, SUM8_OF_16)

// dst = src, n float4 elements, guarded.
__kernel void copy4(__global const float4 *restrict src, __global float4 *restrict dst,
                    const int n)
{
    const int i = get_global_id(0);
    if (i < n)
        dst[i] = src[i];
}

// y = a * x + y over n elements, guarded: the cache tests' small program.
__kernel void saxpy(__global const float *restrict x, __global float *restrict y, const float a,
                    const int n)
{
    const int i = get_global_id(0);
    if (i < n)
        y[i] = fma(a, x[i], y[i]);
}
