// lrn.cl - local response normalisation across channels, Caffe's formula
// (BVLC AlexNet's "norm1"/"norm2"), which torch.nn.LocalResponseNorm matches
// for odd sizes:
//   out = in / (k + alpha/size * sum_{c' in window(c)} in[c']^2)^beta
// window(c) = [c - (size-1)/2, c - (size-1)/2 + size - 1], clipped to [0, C).
// OpenCL C 1.2. One work-item per (image, pixel) walks the channels, so
// neighbouring work-items touch neighbouring addresses and no element needs a
// division to find its coordinates; global size N*HW rounded up and guarded.
// BETA_075 (compile-time 0/1): beta is 0.75 (AlexNet's), computed as
// rsqrt(x) * sqrt(rsqrt(x)) instead of a general power.

#ifndef BETA_075
#define BETA_075 0
#endif

// in, out (N, C, HW); alpha_over_size = alpha / size.
__kernel void lrn_across(__global const float *restrict in, __global float *restrict out,
                         const int N, const int C, const int HW, const int size,
                         const float alpha_over_size, const float beta, const float k)
{
    const int i = get_global_id(0);
    if (i >= N * HW)
        return;
    const int p = i % HW, n = i / HW;
    const size_t base = (size_t)n * C * HW + p;
    const int before = (size - 1) / 2;
    for (int c = 0; c < C; c++) {
        const int c0 = max(c - before, 0), c1 = min(c - before + size, C);
        float sum = 0.0f;
        for (int j = c0; j < c1; j++) {
            const float a = in[base + (size_t)j * HW];
            sum = fma(a, a, sum);
        }
        const float x = k + alpha_over_size * sum; // >= k > 0
#if BETA_075
        const float r = rsqrt(x);
        const float scale = r * sqrt(r);
#else
        // x^-beta = 2^(-beta log2 x): pow's special cases for negative or zero
        // bases cost a slow scalar call per element on some drivers
        const float scale = exp2(-beta * log2(x));
#endif
        out[base + (size_t)c * HW] = in[base + (size_t)c * HW] * scale;
    }
}
