// pool.cl - max pooling (no padding, floor mode, as AlexNet uses it) and
// adaptive average pooling with PyTorch's bin edges. OpenCL C 1.2.
// One work-item per output element; global sizes rounded up and guarded.

// in (NC, H, W) -> out (NC, OH, OW); window k, stride s.
__kernel void maxpool2d(__global const float *restrict in, __global float *restrict out,
                        const int NC, const int H, const int W, const int OH, const int OW,
                        const int k, const int s)
{
    const int i = get_global_id(0);
    if (i >= NC * OH * OW)
        return;
    const int ox = i % OW, oy = (i / OW) % OH, nc = i / (OW * OH);
    __global const float *plane = in + (size_t)nc * H * W;
    const int y0 = oy * s, x0 = ox * s;
    float m = -INFINITY;
    for (int y = y0; y < min(y0 + k, H); y++)
        for (int x = x0; x < min(x0 + k, W); x++)
            m = fmax(m, plane[y * W + x]);
    out[i] = m;
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
