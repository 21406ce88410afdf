// s2d.cl - space-to-depth: the input of a stride-S convolution rearranged in
// S x S blocks, so that conv.cl can run it as a stride-1 convolution with
// ceil(K/S) taps over C*S*S channels (plan.c, conv_s2d). OpenCL C 1.2.
//
// in (N, C, H, W) with padding P (as zeros) around it; out (N, C*S*S, HB, WB):
// out[n][(c*S + dy)*S + dx][by][bx] = in[n][c][by*S + dy - P][bx*S + dx - P],
// zero where that is outside the input. C counts every input channel (all
// groups): each group's channels stay contiguous.
// One work-item per output row: global size ROWS = N*C*S*S*HB, guarded.

__kernel void space_to_depth(__global const float *restrict in, __global float *restrict out,
                             const int C, const int H, const int W, const int S, const int P,
                             const int HB, const int WB, const int ROWS)
{
    const int r = get_global_id(0);
    if (r >= ROWS)
        return;
    const int by = r % HB;
    int q = r / HB;
    const int dx = q % S;
    q /= S;
    const int dy = q % S;
    q /= S; // n * C + c
    const int y = by * S + dy - P;
    __global float *o = out + (size_t)r * WB;
    if (y < 0 || y >= H) {
        for (int bx = 0; bx < WB; bx++)
            o[bx] = 0.0f;
        return;
    }
    __global const float *row = in + ((size_t)q * H + y) * W;
    for (int bx = 0; bx < WB; bx++) {
        const int x = bx * S + dx - P;
        o[bx] = x >= 0 && x < W ? row[x] : 0.0f;
    }
}
