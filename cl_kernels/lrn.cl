// lrn.cl - local response normalisation across channels, Caffe's formula
// (BVLC AlexNet's "norm1"/"norm2"), which torch.nn.LocalResponseNorm matches
// for odd sizes:
//   out = in / (k + alpha/size * sum_{c' in window(c)} in[c']^2)^beta
// window(c) = [c - (size-1)/2, c - (size-1)/2 + size - 1], clipped to [0, C).
// OpenCL C 1.2. One work-item per element; global size rounded up and guarded.

// in, out (N, C, HW); alpha_over_size = alpha / size.
__kernel void lrn_across(__global const float *restrict in, __global float *restrict out,
                         const int N, const int C, const int HW, const int size,
                         const float alpha_over_size, const float beta, const float k)
{
    const int i = get_global_id(0);
    if (i >= N * C * HW)
        return;
    const int p = i % HW, c = (i / HW) % C, n = i / (HW * C);
    __global const float *col = in + (size_t)n * C * HW + p;
    const int c0 = max(c - (size - 1) / 2, 0), c1 = min(c - (size - 1) / 2 + size, C);
    float sum = 0.0f;
    for (int j = c0; j < c1; j++) {
        const float a = col[(size_t)j * HW];
        sum = fma(a, a, sum);
    }
    out[i] = in[i] * pow(k + alpha_over_size * sum, -beta);
}
