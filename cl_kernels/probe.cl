// probe.cl - kernels that measure the device, not the network: FMA-chain
// kernels for the arithmetic ceiling (float8 and float16: a CPU with AVX-512
// reaches its peak only with the wider one) and a float4 copy for the memory
// ceiling.
// Also the smallest program the tests build to exercise the program cache.
// OpenCL C 1.2.

// FMA16_HALVES=1 (ceilings.c, on CPUs whose preferred float vector is
// narrower than 16): a float16 fma as fma() on its two float8 halves, the
// instructions such a CPU runs for it anyway, without passing a float16 to a
// builtin, which clang warns "changes the ABI" there (PoCL prints the count
// of warnings on the user's terminal at the first `alexnet bench`)
#if FMA16_HALVES
#define FMA16(x, b, a) ((float16)(fma((x).lo, (b).lo, (float8)(a)), fma((x).hi, (b).hi, (float8)(a))))
#else
#define FMA16(x, b, a) fma(x, b, a)
#endif
#define FMA8(x, b, a) fma(x, b, a)

// Eight independent FMA chains of TYPE (float8 or float16) per work-item:
// 2 * lanes * 8 * iters FLOP; SUM8 folds the last vector to a float8.
#define FMA_CHAIN(NAME, TYPE, FMA, SUM8)                                                 \
    __kernel void NAME(__global float *restrict out, const int iters, const float a)     \
    {                                                                                    \
        const int i = get_global_id(0);                                                  \
        TYPE x0 = (TYPE)(i), x1 = x0 + 1.0f, x2 = x0 + 2.0f, x3 = x0 + 3.0f;             \
        TYPE x4 = x0 + 4.0f, x5 = x0 + 5.0f, x6 = x0 + 6.0f, x7 = x0 + 7.0f;             \
        const TYPE b = (TYPE)(0.999f);                                                   \
        for (int k = 0; k < iters; k++) {                                                \
            x0 = FMA(x0, b, a); x1 = FMA(x1, b, a); x2 = FMA(x2, b, a);                  \
            x3 = FMA(x3, b, a); x4 = FMA(x4, b, a); x5 = FMA(x5, b, a);                  \
            x6 = FMA(x6, b, a); x7 = FMA(x7, b, a);                                      \
        }                                                                                \
        const TYPE v = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;                            \
        const float8 s = SUM8(v);                                                        \
        out[i] = s.s0 + s.s1 + s.s2 + s.s3 + s.s4 + s.s5 + s.s6 + s.s7;                  \
    }
#define SUM8_OF_8(v) (v)
#define SUM8_OF_16(v) ((v).lo + (v).hi)
FMA_CHAIN(fma_chain, float8, FMA8, SUM8_OF_8)
FMA_CHAIN(fma_chain16, float16, FMA16, SUM8_OF_16)

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
