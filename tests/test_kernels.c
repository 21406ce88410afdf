/* test_kernels.c - every kernel in cl_kernels/ alone against a plain C
 * reference (double accumulation) on random data at odd sizes, with the
 * output poisoned with NaN first so that an element never written fails. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static an_device *dev;

static uint64_t rng_state;
static float frand(void) /* uniform in [-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) * (2.0 / 16777216.0) - 1.0);
}

static float *random_floats(size_t n)
{
    float *p = malloc(n * sizeof *p);
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++)
        p[i] = frand();
    return p;
}

static cl_mem buffer(const float *data, size_t n)
{
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(dev->context, CL_MEM_READ_WRITE | (data ? CL_MEM_COPY_HOST_PTR : 0),
                              n * sizeof(float), (void *)data, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    return m;
}

/* An output buffer filled with NaN. */
static cl_mem poisoned(size_t n)
{
    float *nan = malloc(n * sizeof *nan);
    for (size_t i = 0; i < n; i++)
        nan[i] = NAN;
    cl_mem m = buffer(nan, n);
    free(nan);
    return m;
}

static float *read_back(cl_mem m, size_t n)
{
    float *out = malloc(n * sizeof *out);
    ck_assert_int_eq(
        clEnqueueReadBuffer(dev->queue, m, CL_TRUE, 0, n * sizeof *out, out, 0, NULL, NULL),
        CL_SUCCESS);
    return out;
}

static cl_kernel kernel(const char *file, const char *opts, const char *name)
{
    cl_program prog = NULL;
    int status = an__program_get(dev, file, opts, &prog);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    cl_int err = CL_SUCCESS;
    cl_kernel k = clCreateKernel(prog, name, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    clReleaseProgram(prog); /* the kernel keeps it alive */
    return k;
}

static void arg_mem(cl_kernel k, cl_uint i, cl_mem m)
{
    ck_assert_int_eq(clSetKernelArg(k, i, sizeof m, &m), CL_SUCCESS);
}

static void arg_int(cl_kernel k, cl_uint i, int v)
{
    ck_assert_int_eq(clSetKernelArg(k, i, sizeof v, &v), CL_SUCCESS);
}

static void run(cl_kernel k, cl_uint dims, const size_t *global, const size_t *local)
{
    cl_int err = clEnqueueNDRangeKernel(dev->queue, k, dims, NULL, global, local, 0, NULL, NULL);
    ck_assert_int_eq(err, CL_SUCCESS);
    ck_assert_int_eq(clFinish(dev->queue), CL_SUCCESS);
}

/* |got - want| <= tol * scale + 1e-7, element by element; scale is the sum
 * of the magnitudes that went into the element (a float32 error bound). */
static void compare(const char *what, const float *got, const double *want, const double *scale,
                    size_t n, double tol)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        ck_assert_msg(!isnan(got[i]), "%s: element %zu is NaN (never written?)", what, i);
        ck_assert_msg(d <= tol * scale[i] + 1e-7, "%s: element %zu is %.9g, want %.9g (scale %g)",
                      what, i, got[i], want[i], scale[i]);
        if (d > worst)
            worst = d;
    }
    fprintf(stderr, "# %s: %zu elements, max abs error %.3g\n", what, n, worst);
}

/* Half-precision weights (fc.cl built with -DWHALF=1): the FC checks round
 * their random weights to binary16 first, so that the double reference sees
 * the very weights the kernel reads, and upload them as binary16 bits. */
static int fc_half;

static void round_to_half(float *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w[i] = an__half_to_float(an__half_from_float(w[i]));
}

/* A weight buffer of n values: float32, or binary16 bits when fc_half. */
static cl_mem weight_buffer(const float *w, size_t n)
{
    if (!fc_half)
        return buffer(w, n);
    uint16_t *h = malloc(n * sizeof *h);
    ck_assert_ptr_nonnull(h);
    for (size_t i = 0; i < n; i++)
        h[i] = an__half_from_float(w[i]);
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(dev->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, n * sizeof *h,
                              h, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    free(h);
    return m;
}

static void setup(void)
{
    fc_half = 0;
    if (!dev) {
        int status = an_device_open(NULL, &dev);
        ck_assert_msg(status == AN_OK, "%s", an_last_error());
    }
    rng_state = 42;
}

/* ------------------------------------------------------------------------ */
/* Convolutions                                                             */

typedef struct {
    int n, c, h, w, oc, k, s, p, tx, relu;
    const char *file, *name;
    int groups, ocb; /* 0 means 1 */
    int vw;          /* output channels per vector (VW): 4, 8 or 16; 0 means 8 */
} conv_case;

/* The vector widths the cases of one test take in turn, so that every width
 * meets odd channel counts, padding, groups and tails. */
static const int conv_widths[] = {8, 16, 4};

/* The convolution of case t in double: want (N, OC, OH, OW) with the bias
 * and the ReLU when t->relu, scale the sum of the magnitudes that went into
 * each element. */
static void conv_reference(const conv_case *t, const float *x, const float *w, const float *b,
                           double *want, double *scale)
{
    int oh = (t->h + 2 * t->p - t->k) / t->s + 1, ow = (t->w + 2 * t->p - t->k) / t->s + 1;
    int g = t->groups > 0 ? t->groups : 1, cg = t->c / g, ocg = t->oc / g;
    for (int n = 0; n < t->n; n++)
        for (int o = 0; o < t->oc; o++)
            for (int y = 0; y < oh; y++)
                for (int xx = 0; xx < ow; xx++) {
                    double acc = b[o], mag = fabs(b[o]);
                    int gi = o / ocg;
                    for (int c = 0; c < cg; c++)
                        for (int ky = 0; ky < t->k; ky++)
                            for (int kx = 0; kx < t->k; kx++) {
                                int iy = y * t->s - t->p + ky, ix = xx * t->s - t->p + kx;
                                if (iy < 0 || iy >= t->h || ix < 0 || ix >= t->w)
                                    continue;
                                double v =
                                    (double)
                                        x[((size_t)(n * t->c + gi * cg + c) * t->h + iy) * t->w +
                                          ix] *
                                    w[((size_t)(o * cg + c) * t->k + ky) * t->k + kx];
                                acc += v;
                                mag += fabs(v);
                            }
                    size_t i = ((size_t)(n * t->oc + o) * oh + y) * ow + xx;
                    want[i] = t->relu && acc < 0 ? 0 : acc;
                    scale[i] = mag;
                }
}

static void check_conv(const conv_case *t)
{
    int oh = (t->h + 2 * t->p - t->k) / t->s + 1, ow = (t->w + 2 * t->p - t->k) / t->s + 1;
    int g = t->groups > 0 ? t->groups : 1, ocb = t->ocb > 0 ? t->ocb : 1;
    int vw = t->vw > 0 ? t->vw : 8;
    int cg = t->c / g, ocg = t->oc / g, bpg = (ocg + vw - 1) / vw;
    ck_assert_int_eq(cg * g, t->c);
    ck_assert_int_eq(ocg * g, t->oc);
    int padded = an__conv_arranged_oc(t->oc, g, vw);
    ck_assert_int_eq(padded, g * bpg * vw);
    size_t nin = (size_t)t->n * t->c * t->h * t->w, nw = (size_t)t->oc * cg * t->k * t->k;
    size_t nout = (size_t)t->n * t->oc * oh * ow, narr = (size_t)padded * cg * t->k * t->k;
    float *x = random_floats(nin), *w = random_floats(nw), *b = random_floats((size_t)t->oc);
    float *arranged = malloc(narr * sizeof(float)), *barr = malloc((size_t)padded * sizeof(float));
    an__conv_weights_arrange(w, arranged, t->oc, cg, t->k, g, vw);
    an__conv_bias_arrange(b, barr, t->oc, g, vw);
    /* the arrangement itself: every weight once in place, zeros elsewhere */
    for (int gi = 0; gi < g; gi++)
        for (int bl = 0; bl < bpg; bl++)
            for (int tap = 0; tap < cg * t->k * t->k; tap++)
                for (int j = 0; j < vw; j++) {
                    int o = bl * vw + j;
                    float got =
                        arranged[(((size_t)gi * bpg + bl) * cg * t->k * t->k + tap) * vw + j];
                    float want =
                        o < ocg ? w[((size_t)gi * ocg + o) * cg * t->k * t->k + tap] : 0.0f;
                    ck_assert_msg(got == want, "arranged weight g%d b%d tap%d j%d", gi, bl, tap, j);
                    if (tap == 0)
                        ck_assert(barr[((size_t)gi * bpg + bl) * vw + j] ==
                                  (o < ocg ? b[gi * ocg + o] : 0.0f));
                }

    double *want = malloc(nout * sizeof *want), *scale = malloc(nout * sizeof *scale);
    conv_reference(t, x, w, b, want, scale);

    char opts[200];
    snprintf(opts, sizeof opts,
             "-cl-std=CL1.2 -DK=%d -DS=%d -DP=%d -DTX=%d -DOCB=%d -DVW=%d -DRELU=%d", t->k, t->s,
             t->p, t->tx, ocb, vw, t->relu);
    cl_kernel k = kernel(t->file, opts, t->name);
    cl_mem bx = buffer(x, nin), bw = buffer(arranged, narr);
    cl_mem bb = buffer(barr, (size_t)padded), by = poisoned(nout);
    arg_mem(k, 0, bx);
    arg_mem(k, 1, bw);
    arg_mem(k, 2, bb);
    arg_mem(k, 3, by);
    int nz = t->n * g * ((bpg + ocb - 1) / ocb);
    int ints[] = {cg, t->h, t->w, t->oc, oh, ow, nz, g};
    for (int i = 0; i < 8; i++)
        arg_int(k, (cl_uint)(4 + i), ints[i]);
    size_t local[3] = {2, 1, 1}; /* a work-group larger than 1 with a guarded tail */
    size_t global[3] = {((size_t)(ow + t->tx - 1) / t->tx + 1) / 2 * 2, (size_t)oh, (size_t)nz};
    run(k, 3, global, local);
    float *got = read_back(by, nout);
    char what[160];
    snprintf(what, sizeof what, "%s N%d C%d %dx%d OC%d k%d s%d p%d g%d tx%d ocb%d vw%d relu%d",
             t->name, t->n, t->c, t->h, t->w, t->oc, t->k, t->s, t->p, g, t->tx, ocb, vw, t->relu);
    compare(what, got, want, scale, nout, 1e-5);

    clReleaseKernel(k);
    clReleaseMemObject(bx);
    clReleaseMemObject(bw);
    clReleaseMemObject(bb);
    clReleaseMemObject(by);
    free(x), free(w), free(b), free(arranged), free(barr), free(want), free(scale), free(got);
}

/* Runs each case with the vector widths of conv_widths in turn. */
static void check_conv_cases(const conv_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        conv_case c = cases[i];
        c.vw = conv_widths[i % 3];
        check_conv(&c);
    }
}

START_TEST(test_conv2d)
{
    const conv_case cases[] = {
        {3, 7, 13, 17, 13, 3, 1, 1, 4, 1, "conv.cl", "conv2d", 1, 1, 0},
        {3, 7, 13, 17, 13, 5, 1, 2, 4, 1, "conv.cl", "conv2d", 1, 2, 0},
        {1, 5, 9, 11, 8, 3, 1, 1, 3, 0, "conv.cl", "conv2d", 1, 1, 0},
        {2, 3, 15, 14, 19, 3, 2, 0, 2, 0, "conv.cl", "conv2d", 1, 3, 0},
        {3, 7, 13, 17, 9, 1, 1, 0, 1, 1, "conv.cl", "conv2d", 1, 2, 0},
        {1, 2, 23, 19, 6, 7, 3, 3, 4, 1, "conv.cl", "conv2d", 1, 1, 0},
        {2, 9, 11, 13, 40, 3, 1, 1, 6, 1, "conv.cl", "conv2d", 1, 4, 0},
        {1, 5, 7, 9, 17, 3, 1, 1, 8, 0, "conv.cl", "conv2d", 1, 2, 0},    /* TX > OW */
        {2, 11, 13, 13, 52, 3, 1, 1, 4, 1, "conv.cl", "conv2d", 1, 3, 0}, /* the CPU default */
        {2, 13, 11, 13, 70, 3, 1, 1, 4, 1, "conv.cl", "conv2d", 1, 2, 0},
        {1, 6, 10, 12, 36, 5, 1, 2, 3, 0, "conv.cl", "conv2d", 2, 2, 0},
    };
    check_conv_cases(cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* Grouped convolution: each output channel sees only its group's inputs; odd
 * sizes, groups whose channel count is and is not a multiple of 8, and OCB
 * blocks that straddle a group's end. */
START_TEST(test_conv2d_groups)
{
    const conv_case cases[] = {
        {2, 6, 13, 11, 16, 3, 1, 1, 4, 1, "conv.cl", "conv2d", 2, 1, 0},
        {2, 6, 13, 11, 16, 3, 1, 1, 3, 0, "conv.cl", "conv2d", 2, 2, 0},
        {1, 6, 9, 15, 12, 5, 1, 2, 2, 1, "conv.cl", "conv2d", 2, 1, 0},  /* 6 per group: padded */
        {2, 10, 9, 11, 80, 5, 1, 2, 4, 1, "conv.cl", "conv2d", 2, 3, 0}, /* 5 blocks per group */
        {3, 9, 11, 7, 30, 3, 2, 1, 4, 1, "conv.cl", "conv2d", 3, 2, 0},  /* 10 per group */
        {1, 8, 7, 7, 48, 3, 1, 1, 5, 0, "conv.cl", "conv2d", 2, 2, 0},   /* 3 blocks per group */
        {1, 4, 10, 9, 4, 1, 1, 0, 4, 1, "conv.cl", "conv2d", 4, 1, 0},   /* depthwise-like */
    };
    check_conv_cases(cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* conv1's shape: 11x11 stride 4, through the same kernel */
START_TEST(test_conv11s4)
{
    const conv_case cases[] = {
        {3, 3, 45, 51, 13, 11, 4, 2, 4, 1, "conv.cl", "conv2d", 1, 1, 0},
        {3, 3, 47, 43, 13, 11, 4, 0, 4, 1, "conv.cl", "conv2d", 1, 2, 0},
        {1, 3, 27, 31, 16, 11, 4, 2, 3, 1, "conv.cl", "conv2d", 1, 2, 0},
        {2, 7, 19, 23, 5, 11, 4, 0, 1, 1, "conv.cl", "conv2d", 1, 1, 0},
        {2, 3, 51, 49, 35, 11, 4, 2, 6, 0, "conv.cl", "conv2d", 1, 3, 0},
        /* the AVX-512 default tile, 4 x 4 blocks of 16 (one past the end),
         * and caffe-227's 6 blocks as 3 + 3, with tiles inside the row */
        {2, 3, 67, 61, 40, 11, 4, 2, 4, 1, "conv.cl", "conv2d", 1, 4, 16},
        {1, 3, 59, 63, 96, 11, 4, 2, 4, 1, "conv.cl", "conv2d", 1, 3, 16},
    };
    check_conv_cases(cases, sizeof cases / sizeof cases[0]);
}
END_TEST

/* Space-to-depth (s2d.cl, then conv.cl; plan.c's conv_s2d): a stride-S
 * convolution as a stride-1 ceil(K/S)-tap one over C*S*S channels of the
 * input rearranged in S x S blocks, on weights rewritten by
 * an__conv_s2d_weights, with the grid and work sizes plan.c gives them (plus
 * a work-group of 2 and a guarded tail). Both the rearranged input (checked
 * exactly against the host's) and the output are NaN-poisoned first. */
static void check_s2d(const conv_case *t)
{
    int oh = (t->h + 2 * t->p - t->k) / t->s + 1, ow = (t->w + 2 * t->p - t->k) / t->s + 1;
    int g = t->groups > 0 ? t->groups : 1, ocb = t->ocb > 0 ? t->ocb : 1, vw = t->vw;
    int S = t->s, kq = (t->k + S - 1) / S, hb = oh + kq - 1, wb = ow + kq - 1;
    int cg = t->c / g, c2 = cg * S * S, ocg = t->oc / g, bpg = (ocg + vw - 1) / vw;
    ck_assert_int_eq(cg * g, t->c);
    ck_assert_int_eq(ocg * g, t->oc);
    int padded = an__conv_arranged_oc(t->oc, g, vw), rows = t->n * t->c * S * S * hb;
    size_t nin = (size_t)t->n * t->c * t->h * t->w, nw = (size_t)t->oc * cg * t->k * t->k;
    size_t nout = (size_t)t->n * t->oc * oh * ow, nsd = (size_t)rows * wb;
    size_t nw2 = (size_t)t->oc * c2 * kq * kq, narr = (size_t)padded * c2 * kq * kq;
    float *x = random_floats(nin), *w = random_floats(nw), *b = random_floats((size_t)t->oc);
    float *w2 = malloc(nw2 * sizeof(float)), *arranged = malloc(narr * sizeof(float));
    float *barr = malloc((size_t)padded * sizeof(float));
    an__conv_s2d_weights(w, w2, t->oc, cg, t->k, S);
    an__conv_weights_arrange(w2, arranged, t->oc, c2, kq, g, vw);
    an__conv_bias_arrange(b, barr, t->oc, g, vw);
    double *want = malloc(nout * sizeof *want), *scale = malloc(nout * sizeof *scale);
    conv_reference(t, x, w, b, want, scale);

    cl_kernel ks = kernel("s2d.cl", "-cl-std=CL1.2", "space_to_depth");
    char opts[200];
    snprintf(opts, sizeof opts,
             "-cl-std=CL1.2 -DK=%d -DS=1 -DP=0 -DTX=%d -DOCB=%d -DVW=%d -DRELU=%d", kq, t->tx, ocb,
             vw, t->relu);
    cl_kernel kc = kernel("conv.cl", opts, "conv2d");
    cl_mem bx = buffer(x, nin), bsd = poisoned(nsd), bw = buffer(arranged, narr);
    cl_mem bb = buffer(barr, (size_t)padded), by = poisoned(nout);
    arg_mem(ks, 0, bx);
    arg_mem(ks, 1, bsd);
    int sints[] = {t->c, t->h, t->w, S, t->p, hb, wb, rows};
    for (int i = 0; i < 8; i++)
        arg_int(ks, (cl_uint)(2 + i), sints[i]);
    size_t slocal = 2, sglobal = ((size_t)rows + 1) / 2 * 2;
    run(ks, 1, &sglobal, &slocal);
    float *sd = read_back(bsd, nsd);
    for (int n = 0; n < t->n; n++)
        for (int c = 0; c < t->c; c++)
            for (int dy = 0; dy < S; dy++)
                for (int dx = 0; dx < S; dx++)
                    for (int y = 0; y < hb; y++)
                        for (int xb = 0; xb < wb; xb++) {
                            int iy = y * S + dy - t->p, ix = xb * S + dx - t->p;
                            float v = iy >= 0 && iy < t->h && ix >= 0 && ix < t->w
                                          ? x[((size_t)(n * t->c + c) * t->h + iy) * t->w + ix]
                                          : 0.0f;
                            size_t i =
                                ((((size_t)(n * t->c + c) * S + dy) * S + dx) * hb + y) * wb + xb;
                            ck_assert_msg(sd[i] == v, "s2d n%d c%d dy%d dx%d y%d x%d: %g, want %g",
                                          n, c, dy, dx, y, xb, sd[i], v);
                        }

    arg_mem(kc, 0, bsd);
    arg_mem(kc, 1, bw);
    arg_mem(kc, 2, bb);
    arg_mem(kc, 3, by);
    int nz = t->n * g * ((bpg + ocb - 1) / ocb);
    int ints[] = {c2, hb, wb, t->oc, oh, ow, nz, g};
    for (int i = 0; i < 8; i++)
        arg_int(kc, (cl_uint)(4 + i), ints[i]);
    size_t local[3] = {2, 1, 1};
    size_t global[3] = {((size_t)(ow + t->tx - 1) / t->tx + 1) / 2 * 2, (size_t)oh, (size_t)nz};
    run(kc, 3, global, local);
    float *got = read_back(by, nout);
    char what[200];
    snprintf(what, sizeof what, "s2d N%d C%d %dx%d OC%d k%d s%d p%d g%d tx%d ocb%d vw%d relu%d",
             t->n, t->c, t->h, t->w, t->oc, t->k, S, t->p, g, t->tx, ocb, vw, t->relu);
    compare(what, got, want, scale, nout, 1e-5);

    clReleaseKernel(ks);
    clReleaseKernel(kc);
    clReleaseMemObject(bx);
    clReleaseMemObject(bsd);
    clReleaseMemObject(bw);
    clReleaseMemObject(bb);
    clReleaseMemObject(by);
    free(x), free(w), free(b), free(w2), free(arranged), free(barr), free(want), free(scale);
    free(sd), free(got);
}

/* Strides 2, 3 and 4, K not a multiple of S (and K < S), padding 0 and > 0,
 * odd sizes, groups 1, 2 and 3, conv1's 11x11 stride 4; each case meets a
 * vector width of conv_widths. */
START_TEST(test_s2d)
{
    const conv_case cases[] = {
        {3, 3, 45, 51, 13, 11, 4, 2, 4, 1, "", "", 1, 2, 0}, /* conv1, padded */
        {2, 3, 47, 43, 13, 11, 4, 0, 3, 1, "", "", 1, 1, 0}, /* conv1, unpadded */
        {2, 5, 13, 15, 9, 3, 2, 1, 4, 1, "", "", 1, 2, 0},   /* 3x3 s2: kq 2 */
        {1, 4, 17, 11, 10, 5, 3, 2, 2, 0, "", "", 2, 1, 0},  /* groups of 2 */
        {2, 3, 14, 19, 7, 7, 2, 3, 5, 1, "", "", 1, 3, 0},   /* 7x7 s2 p3 */
        {1, 6, 11, 9, 12, 2, 3, 0, 3, 1, "", "", 3, 2, 0},   /* K < S, 3 groups */
        {2, 3, 21, 23, 20, 4, 4, 1, 4, 0, "", "", 1, 2, 0},  /* K = S */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conv_case c = cases[i];
        c.vw = conv_widths[i % 3];
        check_s2d(&c);
    }
}
END_TEST

/* Implicit GEMM (igemm.cl): any conv shape through one kernel, with a
 * parameter set (register block mb x nb, K-step ks, work-group lx x ly)
 * clamped and sized as plan.c (add_igemm) does, the output NaN-poisoned. */
typedef struct {
    int mb, nb, ks, lx, ly;
} igemm_params;

/* The parameter sets of tune.c's candidates and tuning.c's defaults, and others */
static const igemm_params igemm_sets[] = {
    {3, 2, 32, 16, 4}, {2, 4, 16, 16, 4}, /* CPU and GPU defaults, the tuner's two */
    {2, 6, 128, 8, 1}, {4, 2, 64, 4, 2},  /* a K-step past C*K*K; 4 blocks */
    {1, 8, 32, 16, 1}, {3, 4, 8, 8, 2},   /* one block; a short K-step */
};

static void check_igemm(const conv_case *t, const igemm_params *ip)
{
    int oh = (t->h + 2 * t->p - t->k) / t->s + 1, ow = (t->w + 2 * t->p - t->k) / t->s + 1;
    int g = t->groups > 0 ? t->groups : 1, vw = t->vw;
    int cg = t->c / g, ocg = t->oc / g, bpg = (ocg + vw - 1) / vw;
    ck_assert_int_eq(cg * g, t->c);
    ck_assert_int_eq(ocg * g, t->oc);
    int mb = ip->mb < bpg ? ip->mb : bpg, ly = ip->ly;
    if (mb * ly > bpg)
        ly = (bpg + mb - 1) / mb;
    int mt = (bpg + mb * ly - 1) / (mb * ly), np = t->n * oh * ow, tn = ip->lx * ip->nb;
    int padded = an__conv_arranged_oc(t->oc, g, vw);
    size_t nin = (size_t)t->n * t->c * t->h * t->w, nw = (size_t)t->oc * cg * t->k * t->k;
    size_t nout = (size_t)t->n * t->oc * oh * ow, narr = (size_t)padded * cg * t->k * t->k;
    float *x = random_floats(nin), *w = random_floats(nw), *b = random_floats((size_t)t->oc);
    float *arranged = malloc(narr * sizeof(float)), *barr = malloc((size_t)padded * sizeof(float));
    an__conv_weights_arrange(w, arranged, t->oc, cg, t->k, g, vw);
    an__conv_bias_arrange(b, barr, t->oc, g, vw);
    double *want = malloc(nout * sizeof *want), *scale = malloc(nout * sizeof *scale);
    conv_reference(t, x, w, b, want, scale);

    char opts[256];
    snprintf(opts, sizeof opts,
             "-cl-std=CL1.2 -DK=%d -DS=%d -DP=%d -DVW=%d -DMB=%d -DNB=%d -DKS=%d -DLX=%d -DLY=%d "
             "-DRELU=%d",
             t->k, t->s, t->p, vw, mb, ip->nb, ip->ks, ip->lx, ly, t->relu);
    cl_kernel k = kernel("igemm.cl", opts, "igemm_conv");
    cl_mem bx = buffer(x, nin), bw = buffer(arranged, narr);
    cl_mem bb = buffer(barr, (size_t)padded), by = poisoned(nout);
    arg_mem(k, 0, bx);
    arg_mem(k, 1, bw);
    arg_mem(k, 2, bb);
    arg_mem(k, 3, by);
    int ints[] = {cg, t->h, t->w, t->oc, oh, ow, g, np, mt};
    for (int i = 0; i < 9; i++)
        arg_int(k, (cl_uint)(4 + i), ints[i]);
    size_t local[2] = {(size_t)ip->lx, (size_t)ly};
    size_t global[2] = {(size_t)(np + tn - 1) / tn * ip->lx, (size_t)g * mt * ly};
    run(k, 2, global, local);
    float *got = read_back(by, nout);
    char what[200];
    snprintf(what, sizeof what,
             "igemm N%d C%d %dx%d OC%d k%d s%d p%d g%d vw%d relu%d mb%d nb%d ks%d lx%d ly%d", t->n,
             t->c, t->h, t->w, t->oc, t->k, t->s, t->p, g, vw, t->relu, mb, ip->nb, ip->ks, ip->lx,
             ly);
    compare(what, got, want, scale, nout, 1e-5);

    clReleaseKernel(k);
    clReleaseMemObject(bx);
    clReleaseMemObject(bw);
    clReleaseMemObject(bb);
    clReleaseMemObject(by);
    free(x), free(w), free(b), free(arranged), free(barr), free(want), free(scale), free(got);
}

/* Every parameter set at odd sizes: ragged pixel and channel tiles, C*K*K not
 * a multiple of the K-step (and smaller than it), groups, conv1's 11x11
 * stride 4, 5x5 and 1x1; each set meets each vector width. */
START_TEST(test_igemm)
{
    const conv_case shapes[] = {
        {2, 7, 13, 17, 13, 3, 1, 1, 0, 1, "", "", 1, 0, 0},  /* C*K*K 63 */
        {1, 6, 9, 11, 20, 5, 1, 2, 0, 1, "", "", 2, 0, 0},   /* groups of 3 -> 10, 75 */
        {2, 3, 27, 31, 13, 11, 4, 2, 0, 1, "", "", 1, 0, 0}, /* conv1: 11x11 s4, 363 */
        {1, 9, 11, 7, 30, 3, 2, 1, 0, 0, "", "", 3, 0, 0},   /* 3 groups, stride 2 */
        {3, 5, 7, 9, 40, 1, 1, 0, 0, 1, "", "", 1, 0, 0},    /* 1x1: 5 values of k */
        {1, 20, 6, 5, 36, 3, 1, 1, 0, 1, "", "", 2, 0, 0},   /* 90 per group, 18 outputs */
        {1, 4, 5, 7, 100, 3, 1, 1, 0, 1, "", "", 1, 0, 0},   /* 13 blocks of 8: ragged M tiles */
        {2, 6, 4, 3, 90, 3, 1, 1, 0, 0, "", "", 2, 0, 0},    /* 45 per group, 3 rows of 4 */
    };
    const size_t ns = sizeof shapes / sizeof shapes[0];
    /* two shapes per set, so that every shape meets one or two sets: each
     * check builds a program (seconds on PoCL), and on the Oclgrind
     * simulator (tests/oclgrind.sh) a work-group of 64 work-items is slow */
    for (size_t si = 0; si < sizeof igemm_sets / sizeof igemm_sets[0]; si++)
        for (size_t i = 0; i < ns; i += 4) {
            conv_case c = shapes[(i + si) % ns];
            c.vw = conv_widths[si % 3];
            check_igemm(&c, &igemm_sets[si]);
        }
}
END_TEST

/* Winograd F(mxm,kxk) (winograd.cl, k = 3 with m = 2 or 4, k = 5 with m =
 * 2 or 3; m 0 in a case means 2): a k x k stride-1 pad-p convolution through its
 * three kernels, then again through wino_input and
 * the fused wino_gemm_out, with the work sizes plan.c gives them (plus a
 * work-group of 2 and a guarded tail), V, M and the outputs poisoned with
 * NaN. tt is clamped to the tile count as plan.c does. */
typedef struct {
    int n, c, h, w, oc, groups, tt, ocb, vw, relu, k, p, m;
} wino_case;

/* The worst |got - want| / scale over the Winograd checks of each form
 * (F(2x2,3x3), F(2x2,5x5), F(4x4,3x3), F(3x3,5x5)), printed at the end of
 * test_winograd. */
static double wino_worst[4], wino_fused_worst[4];

static void check_winograd(const wino_case *t, double tol)
{
    int g = t->groups, vw = t->vw, cg = t->c / g, ocg = t->oc / g, bpg = (ocg + vw - 1) / vw;
    ck_assert_int_eq(cg * g, t->c);
    ck_assert_int_eq(ocg * g, t->oc);
    int k = t->k, m = t->m ? t->m : 2, a = m + k - 1, np = an__winograd_points(k, m);
    int form = k == 5 ? (m == 3 ? 3 : 1) : m == 4 ? 2 : 0;
    ck_assert_int_eq(np, a * a);
    int oh = t->h + 2 * t->p - k + 1, ow = t->w + 2 * t->p - k + 1;
    ck_assert(oh > 0 && ow > 0);
    int padded = an__conv_arranged_oc(t->oc, g, vw);
    int tw = (ow + m - 1) / m, tpi = tw * ((oh + m - 1) / m), nt = t->n * tpi;
    int tt = t->tt < nt ? t->tt : nt, ntb = (nt + tt - 1) / tt;
    int ocb = t->ocb < bpg ? t->ocb : bpg, nz = g * ((bpg + ocb - 1) / ocb);
    size_t nin = (size_t)t->n * t->c * t->h * t->w, nw = (size_t)t->oc * cg * k * k;
    size_t nout = (size_t)t->n * t->oc * oh * ow, nu = (size_t)np * padded * cg;
    size_t nv = (size_t)np * t->c * ntb * tt, nm = (size_t)np * nt * padded;
    float *x = random_floats(nin), *w = random_floats(nw), *b = random_floats((size_t)t->oc);
    float *u = malloc(nu * sizeof *u), *barr = malloc((size_t)padded * sizeof *barr);
    an__winograd_weights_arrange(w, u, t->oc, cg, k, m, g, vw);
    an__conv_bias_arrange(b, barr, t->oc, g, vw);
    /* U at xi = 0 is g[0][0] (F(2x2,3x3)) or g[0][0]/16 (the others, exact)
     * and at the last point g[k-1][k-1] (F(3x3,5x5): g[k-1][k-1]/4; the
     * first and last rows of G pick one tap);
     * padded lanes are zero */
    for (int gi = 0; gi < g; gi++)
        for (int bl = 0; bl < bpg; bl++)
            for (int j = 0; j < vw; j++) {
                int o = bl * vw + j;
                size_t at = (((size_t)gi * bpg + bl) * cg) * vw + j;
                const float *wo = w + ((size_t)gi * ocg + o) * cg * k * k;
                float w00 = o < ocg ? wo[0] : 0.0f, wkk = o < ocg ? wo[k * k - 1] : 0.0f;
                ck_assert(u[at] == (form ? w00 / 16 : w00));
                ck_assert(u[(size_t)(np - 1) * (nu / np) + at] == (form == 3 ? wkk / 4 : wkk));
            }

    double *want = malloc(nout * sizeof *want), *scale = malloc(nout * sizeof *scale);
    const conv_case ref = {t->n, t->c, t->h, t->w, t->oc, k, 1, t->p, 0, t->relu, "", "", g, 0, vw};
    conv_reference(&ref, x, w, b, want, scale);

    char opts[160];
    /* TB: wino_gemm_out's tile blocks per work-item, 1, 2 or 4 by case */
    int tb = t->oc % 3 == 0 ? 1 : t->oc % 3 == 1 ? 2 : 4;
    snprintf(opts, sizeof opts,
             "-cl-std=CL1.2 -DR=%d -DWM=%d -DTT=%d -DOCB=%d -DVW=%d -DRELU=%d -DTB=%d", k, m, tt,
             ocb, vw, t->relu, tb);
    cl_kernel ki = kernel("winograd.cl", opts, "wino_input");
    cl_kernel kg = kernel("winograd.cl", opts, "wino_gemm");
    cl_kernel ko = kernel("winograd.cl", opts, "wino_output");
    cl_mem bx = buffer(x, nin), bu = buffer(u, nu), bb = buffer(barr, (size_t)padded);
    cl_mem bv = poisoned(nv), bm = poisoned(nm), by = poisoned(nout);
    arg_mem(ki, 0, bx);
    arg_mem(ki, 1, bv);
    int in_ints[] = {cg, t->h, t->w, g, tw, tpi, nt, ntb, t->p};
    for (int i = 0; i < 9; i++)
        arg_int(ki, (cl_uint)(2 + i), in_ints[i]);
    size_t local[3] = {2, 1, 1};
    size_t gi[3] = {((size_t)cg + 1) / 2 * 2, (size_t)ntb, (size_t)g};
    run(ki, 3, gi, local);
    /* every slot of V written, those past the last tile with zeros */
    float *vb = read_back(bv, nv);
    for (size_t i = 0; i < nv; i++)
        ck_assert_msg(isfinite(vb[i]), "winograd V[%zu] not written (tt%d, %d tiles)", i, tt, nt);
    for (int xi = 0; xi < np; xi++)
        for (int gi_ = 0; gi_ < g; gi_++)
            for (int c = 0; c < cg; c++)
                for (int s = nt; s < ntb * tt; s++)
                    ck_assert(
                        vb[(((size_t)(xi * g + gi_) * ntb + s / tt) * cg + c) * tt + s % tt] ==
                        0.0f);
    free(vb);
    arg_mem(kg, 0, bv);
    arg_mem(kg, 1, bu);
    arg_mem(kg, 2, bm);
    int gemm_ints[] = {cg, g, bpg, nt, ntb, nz};
    for (int i = 0; i < 6; i++)
        arg_int(kg, (cl_uint)(3 + i), gemm_ints[i]);
    size_t gg[3] = {((size_t)ntb + 2) / 2 * 2, (size_t)nz, (size_t)np};
    run(kg, 3, gg, local);
    arg_mem(ko, 0, bm);
    arg_mem(ko, 1, bb);
    arg_mem(ko, 2, by);
    int out_ints[] = {t->oc, oh, ow, g, bpg, tw, tpi, nt};
    for (int i = 0; i < 8; i++)
        arg_int(ko, (cl_uint)(3 + i), out_ints[i]);
    size_t go[2] = {((size_t)nt + 2) / 2 * 2, (size_t)g * bpg};
    run(ko, 2, go, local);
    float *got = read_back(by, nout);
    char what[200];
    snprintf(what, sizeof what,
             "winograd F(%dx%d,%dx%d) p%d N%d C%d %dx%d OC%d g%d tt%d ocb%d vw%d relu%d", m, m, k,
             k, t->p, t->n, t->c, t->h, t->w, t->oc, g, tt, ocb, vw, t->relu);
    compare(what, got, want, scale, nout, tol);
    for (size_t i = 0; i < nout; i++) {
        double rel = fabs((double)got[i] - want[i]) / (scale[i] > 0 ? scale[i] : 1);
        if (rel > wino_worst[form])
            wino_worst[form] = rel;
    }
    free(got);

    /* the GEMM and output transform fused (wino_gemm_out), from the same V,
     * into a freshly poisoned output */
    cl_kernel kf = kernel("winograd.cl", opts, "wino_gemm_out");
    cl_mem bf = poisoned(nout);
    arg_mem(kf, 0, bv);
    arg_mem(kf, 1, bu);
    arg_mem(kf, 2, bb);
    arg_mem(kf, 3, bf);
    int fused_ints[] = {cg, g, bpg, nt, ntb, nz, t->oc, oh, ow, tw, tpi};
    for (int i = 0; i < 11; i++)
        arg_int(kf, (cl_uint)(4 + i), fused_ints[i]);
    size_t gf[2] = {((size_t)(ntb + tb - 1) / tb + 2) / 2 * 2, (size_t)nz};
    run(kf, 2, gf, local);
    got = read_back(bf, nout);
    snprintf(what, sizeof what,
             "winograd fused F(%dx%d,%dx%d) p%d N%d C%d %dx%d OC%d g%d tt%d ocb%d vw%d", m, m, k, k,
             t->p, t->n, t->c, t->h, t->w, t->oc, g, tt, ocb, vw);
    compare(what, got, want, scale, nout, tol);
    for (size_t i = 0; i < nout; i++) {
        double rel = fabs((double)got[i] - want[i]) / (scale[i] > 0 ? scale[i] : 1);
        if (rel > wino_fused_worst[form])
            wino_fused_worst[form] = rel;
    }

    clReleaseKernel(ki), clReleaseKernel(kg), clReleaseKernel(ko), clReleaseKernel(kf);
    clReleaseMemObject(bx), clReleaseMemObject(bu), clReleaseMemObject(bb);
    clReleaseMemObject(bv), clReleaseMemObject(bm), clReleaseMemObject(by);
    clReleaseMemObject(bf);
    free(x), free(w), free(b), free(u), free(barr), free(want), free(scale), free(got);
}

START_TEST(test_winograd)
{
    const wino_case cases[] = {
        /* F(2x2,3x3), pad 1 */
        {2, 7, 9, 11, 13, 1, 4, 1, 8, 1, 3, 1, 2},     /* odd H and W: ragged tiles, 13 = 8 + 5 */
        {3, 5, 7, 5, 19, 1, 3, 2, 4, 0, 3, 1, 2},      /* NT = 36 not a multiple of TT */
        {1, 6, 13, 11, 20, 2, 2, 3, 8, 1, 3, 1, 2},    /* groups: 10 per group, OCB clamped to 2 */
        {1, 8, 7, 9, 40, 2, 3, 2, 4, 1, 3, 1, 2},      /* groups: 5 blocks each, OCB past the end */
        {2, 10, 5, 7, 36, 2, 8, 2, 16, 1, 3, 1, 2},    /* 18 per group in float16 */
        {1, 3, 1, 1, 5, 1, 4, 4, 8, 0, 3, 1, 2},       /* one pixel: one tile, TT clamped to 1 */
        {2, 11, 13, 13, 52, 1, 4, 3, 8, 1, 3, 1, 2},   /* conv3-like odd sizes */
        {1, 4, 6, 8, 12, 2, 5, 1, 4, 1, 3, 1, 2},      /* even sizes: no ragged tile */
        {2, 11, 13, 13, 52, 1, 5, 2, 8, 1, 3, 1, 2},   /* the CPU default 5 x 2: 98 tiles, 2 past */
        {1, 10, 9, 7, 44, 2, 5, 2, 8, 0, 3, 1, 2},     /* 5 x 2, groups: 22 = 3 blocks, one past */
        {3, 7, 5, 9, 17, 1, 4, 2, 8, 1, 3, 1, 2},      /* 4 x 2 (a tuner candidate): 45 tiles */
        {2, 11, 13, 13, 100, 1, 6, 4, 16, 1, 3, 1, 2}, /* AVX-512's 6 x 4: 7 blocks, one past */
        /* F(2x2,3x3), pad 0 (output 2 smaller) */
        {2, 7, 9, 11, 13, 1, 5, 2, 8, 1, 3, 0, 2},  /* 7x9 output: ragged tiles */
        {1, 12, 8, 6, 20, 2, 3, 1, 4, 0, 3, 0, 2},  /* 6x4 output, groups */
        {3, 5, 3, 4, 9, 1, 4, 2, 16, 1, 3, 0, 2},   /* 1x2 output: one tile a plane */
        {1, 6, 27, 27, 24, 1, 5, 2, 8, 1, 3, 0, 2}, /* 25x25 */
        /* F(2x2,5x5), pad 2 (same size) */
        {2, 7, 9, 11, 13, 1, 5, 2, 8, 1, 5, 2, 2},  /* odd H and W: ragged tiles */
        {3, 5, 7, 5, 19, 1, 3, 2, 4, 0, 5, 2, 2},   /* input smaller than a tile */
        {1, 6, 27, 27, 20, 2, 5, 2, 8, 1, 5, 2, 2}, /* conv2-like 27x27, groups of 10 */
        {1, 8, 13, 11, 40, 2, 4, 3, 4, 1, 5, 2, 2}, /* groups: 5 blocks each, OCB past the end */
        {2, 10, 5, 7, 36, 2, 8, 2, 16, 1, 5, 2, 2}, /* float16 */
        {1, 5, 11, 9, 70, 1, 6, 4, 16, 0, 5, 2, 2}, /* AVX-512's 6 x 4: 5 blocks, 30 tiles */
        {1, 3, 1, 1, 5, 1, 4, 4, 8, 0, 5, 2, 2},    /* one pixel: taps mostly outside */
        /* F(2x2,5x5), pads 0, 1, 3, 4 */
        {2, 7, 9, 11, 13, 1, 5, 2, 8, 1, 5, 0, 2}, /* 5x7 output */
        {1, 4, 5, 5, 9, 1, 4, 1, 4, 0, 5, 0, 2},   /* 1x1 output: one tile, 3 of 4 outputs cut */
        {1, 6, 8, 7, 12, 2, 3, 2, 8, 1, 5, 1, 2},  /* 6x5 output, groups */
        {2, 3, 4, 6, 10, 1, 5, 2, 8, 1, 5, 3, 2},  /* 6x8 output: larger than the input */
        {1, 5, 3, 2, 7, 1, 2, 1, 16, 0, 5, 4, 2},  /* 7x6 output from a 3x2 input */
        /* F(4x4,3x3) (wino_m 4), pads 1 and 0 */
        {2, 7, 9, 11, 13, 1, 4, 1, 8, 1, 3, 1, 4},     /* 9x11: ragged 4x4 tiles both ways */
        {2, 11, 13, 13, 52, 1, 5, 2, 8, 1, 3, 1, 4},   /* conv3-like: 13 = 4+4+4+1, 5 x 2 */
        {2, 11, 13, 13, 100, 1, 6, 4, 16, 1, 3, 1, 4}, /* AVX-512's 6 x 4, 32 tiles */
        {1, 6, 13, 11, 20, 2, 3, 3, 8, 0, 3, 1, 4},    /* groups: 10 per group, OCB clamped */
        {1, 8, 7, 9, 40, 2, 3, 2, 4, 1, 3, 1, 4},      /* groups: 5 blocks each, OCB past the end */
        {3, 5, 3, 2, 9, 1, 4, 2, 16, 0, 3, 1, 4},      /* 3x2: one partial tile a plane */
        {1, 3, 1, 1, 5, 1, 4, 4, 8, 0, 3, 1, 4},       /* one pixel: 1 of 16 outputs kept */
        {2, 7, 10, 6, 13, 1, 5, 2, 8, 1, 3, 0, 4},     /* 8x4 output: whole tiles, pad 0 */
        {1, 12, 15, 8, 20, 2, 3, 1, 4, 1, 3, 0, 4},    /* 13x6 output, groups, pad 0 */
        {1, 6, 27, 27, 24, 1, 5, 2, 8, 1, 3, 2, 4},    /* 29x29 output (pad 2) */
        /* F(3x3,5x5) (wino_m 4 on a 5x5 layer), pads 2, 0, 1, 3, 4 */
        {2, 7, 9, 11, 13, 1, 4, 1, 8, 1, 5, 2, 3},   /* 9x11: ragged 3x3 tiles both ways */
        {1, 6, 27, 27, 20, 2, 5, 2, 8, 1, 5, 2, 3},  /* conv2-like 27 = 9 x 3, groups of 10 */
        {2, 5, 27, 27, 70, 1, 6, 4, 16, 0, 5, 2, 3}, /* AVX-512's 6 x 4, 162 tiles */
        {1, 8, 13, 11, 40, 2, 4, 3, 4, 1, 5, 2, 3},  /* groups: 5 blocks each, OCB past the end */
        {3, 5, 7, 5, 19, 1, 3, 2, 4, 0, 5, 2, 3},    /* input smaller than a tile */
        {1, 3, 1, 1, 5, 1, 4, 4, 8, 0, 5, 2, 3},     /* one pixel: 1 of 9 outputs kept */
        {2, 7, 9, 11, 13, 1, 5, 2, 8, 1, 5, 0, 3},   /* 5x7 output, pad 0 */
        {1, 6, 8, 7, 12, 2, 3, 2, 8, 1, 5, 1, 3},    /* 6x5 output, groups */
        {2, 3, 4, 6, 10, 1, 5, 2, 8, 1, 5, 3, 3},    /* 6x8 output: larger than the input */
        {1, 5, 3, 2, 7, 1, 2, 1, 16, 0, 5, 4, 3},    /* 7x6 output from a 3x2 input */
    };
    /* F(2x2,3x3): the direct kernels' bound (its transforms add little);
     * F(2x2,5x5), F(4x4,3x3) and F(3x3,5x5): B^T's and A^T's larger
     * coefficients and G's fractions grow the float rounding by about an
     * order of magnitude, hence a tenfold bound, still a few float epsilons
     * per summed magnitude */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_winograd(&cases[i], cases[i].k == 5 || cases[i].m == 4 ? 1e-4 : 1e-5);
    fprintf(stderr,
            "# winograd: worst |error| / summed magnitude %.3g F(2x2,3x3), %.3g F(2x2,5x5), %.3g "
            "F(4x4,3x3), %.3g F(3x3,5x5)\n",
            wino_worst[0], wino_worst[1], wino_worst[2], wino_worst[3]);
    fprintf(stderr,
            "# winograd fused: worst |error| / summed magnitude %.3g F(2x2,3x3), %.3g F(2x2,5x5), "
            "%.3g F(4x4,3x3), %.3g F(3x3,5x5)\n",
            wino_fused_worst[0], wino_fused_worst[1], wino_fused_worst[2], wino_fused_worst[3]);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Pooling                                                                  */

/* max: maxpool2d with a k x k window, stride s and px outputs per work-item
 * (windows past the plane's edge are clipped, as in the reference);
 * else adaptive_avgpool2d (k, s, px unused). */
static void check_pool(bool max, int nc, int h, int w, int oh, int ow, int k, int s, int px)
{
    size_t nin = (size_t)nc * h * w, nout = (size_t)nc * oh * ow;
    float *x = random_floats(nin);
    double *want = malloc(nout * sizeof *want), *scale = malloc(nout * sizeof *scale);
    for (int c = 0; c < nc; c++)
        for (int y = 0; y < oh; y++)
            for (int xx = 0; xx < ow; xx++) {
                int y0 = max ? y * s : y * h / oh,
                    y1 = max ? y * s + k : ((y + 1) * h + oh - 1) / oh;
                int x0 = max ? xx * s : xx * w / ow,
                    x1 = max ? xx * s + k : ((xx + 1) * w + ow - 1) / ow;
                double acc = max ? -INFINITY : 0, mag = 0;
                for (int iy = y0; iy < y1 && iy < h; iy++)
                    for (int ix = x0; ix < x1 && ix < w; ix++) {
                        double v = x[((size_t)c * h + iy) * w + ix];
                        acc = max ? fmax(acc, v) : acc + v;
                        mag += fabs(v);
                    }
                size_t i = ((size_t)c * oh + y) * ow + xx;
                want[i] = max ? acc : acc / ((y1 - y0) * (x1 - x0));
                scale[i] = max ? 0 : mag;
            }
    char opts[96] = "-cl-std=CL1.2";
    if (max)
        snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DK=%d -DS=%d -DPX=%d", k, s, px);
    cl_kernel kn = kernel("pool.cl", opts, max ? "maxpool2d" : "adaptive_avgpool2d");
    cl_mem bx = buffer(x, nin), by = poisoned(nout);
    arg_mem(kn, 0, bx);
    arg_mem(kn, 1, by);
    int ints[] = {nc, h, w, oh, ow};
    for (int i = 0; i < 5; i++)
        arg_int(kn, (cl_uint)(2 + i), ints[i]);
    size_t items = max ? (size_t)nc * oh * ((ow + px - 1) / px) : nout;
    size_t local = 16, global = (items + 15) / 16 * 16;
    run(kn, 1, &global, &local);
    float *got = read_back(by, nout);
    char what[96];
    snprintf(what, sizeof what, "%s NC%d %dx%d -> %dx%d px%d",
             max ? "maxpool2d" : "adaptive_avgpool2d", nc, h, w, oh, ow, px);
    compare(what, got, want, scale, nout, 1e-6);
    clReleaseKernel(kn);
    clReleaseMemObject(bx);
    clReleaseMemObject(by);
    free(x), free(want), free(scale), free(got);
}

START_TEST(test_maxpool)
{
    check_pool(true, 21, 13, 17, 6, 8, 3, 2, 1);
    check_pool(true, 21, 13, 17, 6, 8, 3, 2, 3); /* a ragged last tile */
    check_pool(true, 7, 14, 14, 6, 6, 3, 2, 8);  /* one tile wider than the row */
    check_pool(true, 5, 14, 14, 7, 7, 3, 2, 4);  /* the last windows clipped */
    check_pool(true, 3, 55, 55, 27, 27, 3, 2, 8);
    check_pool(true, 4, 27, 27, 13, 13, 3, 2, 5);
    check_pool(true, 3, 12, 19, 4, 5, 4, 3, 2);   /* another window and stride */
    check_pool(true, 3, 54, 54, 27, 27, 3, 2, 8); /* caffe-bvlc-224's pool1, ceil mode */
    check_pool(true, 3, 54, 54, 27, 27, 3, 2, 1);
    check_pool(true, 2, 13, 13, 6, 6, 3, 2, 4);
    /* the plan's tiles on CPUs (a whole row): 3x3 stride 2 takes the vector
     * path, 8 outputs at a time, then the row's rest one by one */
    check_pool(true, 3, 55, 55, 27, 27, 3, 2, 27);
    check_pool(true, 5, 27, 27, 13, 13, 3, 2, 13);
    check_pool(true, 2, 37, 35, 18, 17, 3, 2, 17); /* 2 vectors and one more */
    check_pool(true, 3, 54, 54, 27, 27, 3, 2, 27); /* ceil mode: the last clipped */
    check_pool(true, 4, 21, 33, 10, 16, 3, 2, 9);  /* 2 tiles a row, one vector each */
}
END_TEST

START_TEST(test_adaptive_avgpool)
{
    check_pool(false, 21, 13, 17, 6, 6, 0, 0, 1);
    check_pool(false, 7, 5, 5, 6, 6, 0, 0, 1); /* smaller than the output: bins overlap */
    check_pool(false, 7, 6, 6, 6, 6, 0, 0, 1);
    check_pool(false, 3, 7, 9, 6, 6, 0, 0, 1);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Fully connected pieces                                                   */

static void check_gemv(int o, int in, int lws, int interleaved, int relu)
{
    float *w = random_floats((size_t)o * in), *x = random_floats((size_t)in);
    float *b = random_floats((size_t)o);
    if (fc_half)
        round_to_half(w, (size_t)o * in);
    double *want = malloc((size_t)o * sizeof *want), *scale = malloc((size_t)o * sizeof *scale);
    for (int r = 0; r < o; r++) {
        double acc = b[r], mag = fabs(b[r]);
        for (int i = 0; i < in; i++) {
            acc += (double)w[(size_t)r * in + i] * x[i];
            mag += fabs((double)w[(size_t)r * in + i] * x[i]);
        }
        want[r] = relu && acc < 0 ? 0 : acc;
        scale[r] = mag;
    }
    char opts[128];
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DRELU=%d -DLWS=%d -DINTERLEAVED=%d -DWHALF=%d",
             relu, lws, interleaved, fc_half);
    cl_kernel k = kernel("fc.cl", opts, "gemv_rows");
    cl_mem bw = weight_buffer(w, (size_t)o * in), bx = buffer(x, (size_t)in),
           bb = buffer(b, (size_t)o);
    cl_mem by = poisoned((size_t)o);
    arg_mem(k, 0, bw);
    arg_mem(k, 1, bx);
    arg_mem(k, 2, bb);
    arg_mem(k, 3, by);
    arg_int(k, 4, o);
    arg_int(k, 5, in);
    size_t local = (size_t)lws, global = (size_t)o * lws;
    run(k, 1, &global, &local);
    float *got = read_back(by, (size_t)o);
    char what[96];
    snprintf(what, sizeof what, "gemv_rows %dx%d lws%d interleaved%d relu%d%s", o, in, lws,
             interleaved, relu, fc_half ? " half" : "");
    compare(what, got, want, scale, (size_t)o, 1e-5);
    clReleaseKernel(k);
    clReleaseMemObject(bw), clReleaseMemObject(bx), clReleaseMemObject(bb), clReleaseMemObject(by);
    free(w), free(x), free(b), free(want), free(scale), free(got);
}

START_TEST(test_gemv)
{
    check_gemv(37, 123, 64, 1, 1);
    check_gemv(37, 123, 64, 0, 0);
    check_gemv(5, 1001, 16, 0, 1);
    check_gemv(13, 7, 32, 1, 0); /* fewer inputs than work-items */
}
END_TEST

/* The double-precision reference of a linear layer: want (n, o) = act(x (n,
 * in) . w (o, in)^T + b (o)), and scale (n, o) the sum of the magnitudes of
 * each output's terms (compare's error scale). */
static void fc_reference(const float *w, const float *x, const float *b, int n, int o, int in,
                         int relu, double *want, double *scale)
{
    for (int r = 0; r < n; r++)
        for (int c = 0; c < o; c++) {
            double acc = b[c], mag = fabs(b[c]);
            for (int i = 0; i < in; i++) {
                double v = (double)w[(size_t)c * in + i] * x[(size_t)r * in + i];
                acc += v;
                mag += fabs(v);
            }
            want[(size_t)r * o + c] = relu && acc < 0 ? 0 : acc;
            scale[(size_t)r * o + c] = mag;
        }
}

/* fc_gemm (batch > 1) and gemv_blocked (batch 1) on weights blocked in vw. */
static void check_fc_blocked(int n, int o, int in, int tm, int tnb, int relu, int vw)
{
    float *w = random_floats((size_t)o * in), *x = random_floats((size_t)n * in);
    float *b = random_floats((size_t)o);
    if (fc_half)
        round_to_half(w, (size_t)o * in);
    int padded = an__conv_arranged_oc(o, 1, vw);
    float *wp = malloc((size_t)padded * in * sizeof *wp), *bp = malloc((size_t)padded * sizeof *bp);
    an__conv_weights_arrange(w, wp, o, in, 1, 1, vw);
    an__conv_bias_arrange(b, bp, o, 1, vw);
    size_t nout = (size_t)n * o;
    double *want = malloc(nout * sizeof *want), *scale = malloc(nout * sizeof *scale);
    fc_reference(w, x, b, n, o, in, relu, want, scale);
    char opts[128];
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DRELU=%d -DTM=%d -DTNB=%d -DVW=%d -DWHALF=%d", relu,
             tm, tnb, vw, fc_half);
    bool gemv = n == 1 && tm == 0;
    cl_kernel k = kernel("fc.cl", opts, gemv ? "gemv_blocked" : "fc_gemm");
    cl_mem bw = weight_buffer(wp, (size_t)padded * in), bx = buffer(x, (size_t)n * in);
    cl_mem bb = buffer(bp, (size_t)padded), by = poisoned(nout);
    char what[128];
    if (gemv) {
        arg_mem(k, 0, bw);
        arg_mem(k, 1, bx);
        arg_mem(k, 2, bb);
        arg_mem(k, 3, by);
        arg_int(k, 4, o);
        arg_int(k, 5, in);
        size_t local = 4, global = ((size_t)(o + vw - 1) / vw + 3) / 4 * 4;
        run(k, 1, &global, &local);
        snprintf(what, sizeof what, "gemv_blocked %dx%d vw%d relu%d%s", o, in, vw, relu,
                 fc_half ? " half" : "");
    } else {
        arg_mem(k, 0, bx);
        arg_mem(k, 1, bw);
        arg_mem(k, 2, bb);
        arg_mem(k, 3, by);
        arg_int(k, 4, n);
        arg_int(k, 5, o);
        arg_int(k, 6, in);
        size_t local[2] = {2, 1};
        size_t global[2] = {((size_t)(n + tm - 1) / tm + 1) / 2 * 2,
                            (size_t)(((o + vw - 1) / vw + tnb - 1) / tnb)};
        run(k, 2, global, local);
        snprintf(what, sizeof what, "fc_gemm N%d %dx%d tm%d tnb%d vw%d relu%d%s", n, o, in, tm, tnb,
                 vw, relu, fc_half ? " half" : "");
    }
    float *got = read_back(by, nout);
    compare(what, got, want, scale, nout, 1e-5);
    clReleaseKernel(k);
    clReleaseMemObject(bw), clReleaseMemObject(bx), clReleaseMemObject(bb), clReleaseMemObject(by);
    free(w), free(x), free(b), free(wp), free(bp), free(want), free(scale), free(got);
}

START_TEST(test_fc_gemm)
{
    check_fc_blocked(7, 37, 123, 4, 2, 1, 8);
    check_fc_blocked(7, 37, 123, 3, 1, 0, 16);
    check_fc_blocked(16, 64, 77, 6, 2, 1, 8);
    check_fc_blocked(5, 13, 9, 8, 4, 0, 16); /* tiles larger than the problem */
    check_fc_blocked(2, 100, 301, 1, 3, 1, 8);
    check_fc_blocked(3, 1000, 64, 2, 2, 0, 16);
    check_fc_blocked(9, 45, 130, 2, 4, 1, 8);   /* the CPU default tile */
    check_fc_blocked(21, 19, 67, 16, 1, 1, 16); /* the largest TM */
    check_fc_blocked(64, 70, 200, 2, 4, 1, 16); /* the AVX-512 CPU default */
}
END_TEST

START_TEST(test_gemv_blocked)
{
    check_fc_blocked(1, 37, 123, 0, 0, 1, 8);
    check_fc_blocked(1, 5, 1001, 0, 0, 0, 16);
    check_fc_blocked(1, 13, 7, 0, 0, 1, 8);
    check_fc_blocked(1, 64, 3, 0, 0, 0, 16); /* fewer inputs than one unrolled step */
    check_fc_blocked(1, 1000, 301, 0, 0, 1, 16);
}
END_TEST

/* gemv_panel (batches 1 to fc_panel_batch, fc_panel) on `rows` rows: the
 * blocked weights copied into panels of pw outputs by fc_panel_arrange (into
 * a NaN-poisoned buffer: every element must be written), then the product.
 * zeros: every input i with i % zeros == 1 set to 0 (or -0) in every row, a
 * column the kernel skips; in even rows also those with i % zeros == 2 (zero
 * in some rows only, so multiplied); zeros 1: all inputs zero. Several rows
 * must give each row's batch-1 result bit for bit: a zero product added to
 * an accumulator changes no bit of it. Returns the outputs (rows, o). */
static float *run_gemv_panel(const float *wp, const float *bp, const float *x, int o, int in,
                             int pw, int relu, int vw, int rows)
{
    int padded = an__conv_arranged_oc(o, 1, vw), panels = (o + pw - 1) / pw;
    char opts[192];
    snprintf(opts, sizeof opts,
             "-cl-std=CL1.2 -DRELU=%d -DVW=%d -DKDIM=%d -DPANEL=%d -DROWS=%d -DWHALF=%d", relu, vw,
             in, pw, rows, fc_half);
    cl_kernel arrange = kernel("fc.cl", opts, "fc_panel_arrange");
    cl_kernel k = kernel("fc.cl", opts, "gemv_panel");
    cl_mem bw = weight_buffer(wp, (size_t)padded * in), bx = buffer(x, (size_t)rows * in);
    cl_mem bpanel = poisoned((size_t)panels * pw * in);
    cl_mem bb = buffer(bp, (size_t)padded), by = poisoned((size_t)rows * o);
    arg_mem(arrange, 0, bw);
    arg_mem(arrange, 1, bpanel);
    arg_int(arrange, 2, o);
    size_t local = 4, global = ((size_t)panels * in + 3) / 4 * 4; /* a ragged last group */
    run(arrange, 1, &global, &local);
    arg_mem(k, 0, bpanel);
    arg_mem(k, 1, bx);
    arg_mem(k, 2, bb);
    arg_mem(k, 3, by);
    arg_int(k, 4, o);
    local = 2, global = ((size_t)panels + 1) / 2 * 2;
    run(k, 1, &global, &local);
    float *got = read_back(by, (size_t)rows * o);
    clReleaseKernel(arrange), clReleaseKernel(k);
    clReleaseMemObject(bw), clReleaseMemObject(bx), clReleaseMemObject(bpanel);
    clReleaseMemObject(bb), clReleaseMemObject(by);
    return got;
}

static void check_gemv_panel(int o, int in, int pw, int relu, int vw, int zeros, int rows)
{
    float *w = random_floats((size_t)o * in), *x = random_floats((size_t)rows * in);
    float *b = random_floats((size_t)o);
    if (fc_half)
        round_to_half(w, (size_t)o * in);
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < in; i++)
            if (zeros == 1 || i % zeros == 1 || (r % 2 == 0 && i % zeros == 2))
                x[(size_t)r * in + i] = i % 4 == 3 ? -0.0f : 0.0f;
    int padded = an__conv_arranged_oc(o, 1, vw);
    float *wp = malloc((size_t)padded * in * sizeof *wp), *bp = malloc((size_t)padded * sizeof *bp);
    an__conv_weights_arrange(w, wp, o, in, 1, 1, vw);
    an__conv_bias_arrange(b, bp, o, 1, vw);
    double *want = malloc((size_t)rows * o * sizeof *want);
    double *scale = malloc((size_t)rows * o * sizeof *scale);
    fc_reference(w, x, b, rows, o, in, relu, want, scale);
    char what[128];
    snprintf(what, sizeof what, "gemv_panel %dx%d pw%d vw%d relu%d zeros%d rows%d%s", o, in, pw, vw,
             relu, zeros, rows, fc_half ? " half" : "");
    float *got = run_gemv_panel(wp, bp, x, o, in, pw, relu, vw, rows);
    compare(what, got, want, scale, (size_t)rows * o, 1e-5);
    for (int r = 0; rows > 1 && r < rows; r++) {
        float *one = run_gemv_panel(wp, bp, x + (size_t)r * in, o, in, pw, relu, vw, 1);
        for (int c = 0; c < o; c++)
            ck_assert_msg(memcmp(&one[c], &got[(size_t)r * o + c], sizeof(float)) == 0,
                          "%s: row %d output %d is %a, alone %a", what, r, c,
                          (double)got[(size_t)r * o + c], (double)one[c]);
        free(one);
    }
    free(w), free(x), free(b), free(wp), free(bp), free(want), free(scale), free(got);
}

START_TEST(test_gemv_panel)
{
    check_gemv_panel(37, 123, 32, 1, 8, 2, 1);     /* a ragged last panel, padding blocks */
    check_gemv_panel(1000, 301, 512, 0, 16, 3, 1); /* FC8's split on two compute units */
    check_gemv_panel(5, 1001, 16, 1, 16, 2, 1);    /* one block, one panel */
    check_gemv_panel(64, 3, 64, 0, 16, 2, 1);
    check_gemv_panel(100, 200, 1024, 1, 16, 5, 1); /* a panel wider than the layer */
    check_gemv_panel(48, 77, 16, 1, 8, 1000, 1);   /* one zero input */
    check_gemv_panel(40, 50, 16, 0, 8, 1, 1);      /* every input zero: the bias */
    check_gemv_panel(37, 123, 32, 1, 8, 3, 2);     /* two rows: batch 2 */
    check_gemv_panel(1000, 301, 512, 0, 16, 4, 3);
    check_gemv_panel(100, 77, 1024, 1, 16, 3, 4);
    check_gemv_panel(40, 50, 16, 0, 8, 1, 3);
    fc_half = 1; /* binary16 weights (-DWHALF=1) */
    check_gemv_panel(37, 123, 32, 1, 8, 2, 1);
    check_gemv_panel(1000, 301, 512, 0, 16, 3, 1);
    check_gemv_panel(64, 3, 64, 0, 4, 2, 1);
    check_gemv_panel(64, 45, 64, 1, 4, 3, 4);
}
END_TEST

/* The same kernels on binary16 weights (-DWHALF=1, vload_half/vload_halfN),
 * at odd sizes, every vector width and both gemv_rows orders. */
START_TEST(test_fc_half)
{
    fc_half = 1;
    check_gemv(37, 123, 64, 1, 1);
    check_gemv(5, 1001, 16, 0, 0);
    check_gemv(13, 7, 32, 1, 0);
    check_fc_blocked(7, 37, 123, 4, 2, 1, 8);
    check_fc_blocked(5, 13, 9, 8, 4, 0, 16);
    check_fc_blocked(9, 45, 130, 2, 4, 1, 4);
    check_fc_blocked(1, 37, 123, 0, 0, 1, 8);
    check_fc_blocked(1, 5, 1001, 0, 0, 0, 16);
    check_fc_blocked(1, 64, 3, 0, 0, 0, 4);
    check_fc_blocked(1, 1000, 301, 0, 0, 1, 16);
}
END_TEST

START_TEST(test_bias_act)
{
    for (int relu = 0; relu <= 1; relu++) {
        int n = 3, o = 37;
        float *y = random_floats((size_t)n * o), *b = random_floats((size_t)o);
        double want[3 * 37], scale[3 * 37];
        for (int i = 0; i < n * o; i++) {
            double v = (double)y[i] + b[i % o];
            want[i] = relu && v < 0 ? 0 : v;
            scale[i] = fabs(y[i]) + fabs(b[i % o]);
        }
        char opts[64];
        snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DRELU=%d", relu);
        cl_kernel k = kernel("fc.cl", opts, "bias_act");
        cl_mem by = buffer(y, (size_t)n * o), bb = buffer(b, (size_t)o);
        arg_mem(k, 0, by);
        arg_mem(k, 1, bb);
        arg_int(k, 2, n);
        arg_int(k, 3, o);
        size_t local = 16, global = 112;
        run(k, 1, &global, &local);
        float *got = read_back(by, (size_t)n * o);
        compare(relu ? "bias_act relu" : "bias_act", got, want, scale, (size_t)n * o, 1e-7);
        clReleaseKernel(k);
        clReleaseMemObject(by), clReleaseMemObject(bb);
        free(y), free(b), free(got);
    }
}
END_TEST

START_TEST(test_softmax)
{
    int n = 3, o = 1000;
    float *x = random_floats((size_t)n * o);
    for (int i = 0; i < n * o; i++)
        x[i] *= 60.0f; /* large logits: exp overflows without the max shift */
    double *want = malloc((size_t)n * o * sizeof *want),
           *scale = malloc((size_t)n * o * sizeof *scale);
    for (int r = 0; r < n; r++) {
        double m = -INFINITY, sum = 0;
        for (int i = 0; i < o; i++)
            m = fmax(m, x[r * o + i]);
        for (int i = 0; i < o; i++)
            sum += exp(x[r * o + i] - m);
        for (int i = 0; i < o; i++) {
            want[r * o + i] = exp(x[r * o + i] - m) / sum;
            scale[r * o + i] = want[r * o + i] * 10;
        }
    }
    cl_kernel k = kernel("fc.cl", "-cl-std=CL1.2", "softmax_rows");
    cl_mem bx = buffer(x, (size_t)n * o), by = poisoned((size_t)n * o);
    arg_mem(k, 0, bx);
    arg_mem(k, 1, by);
    arg_int(k, 2, n);
    arg_int(k, 3, o);
    size_t local = 2, global = 4;
    run(k, 1, &global, &local);
    float *got = read_back(by, (size_t)n * o);
    compare("softmax_rows", got, want, scale, (size_t)n * o, 1e-5);
    clReleaseKernel(k);
    clReleaseMemObject(bx), clReleaseMemObject(by);
    free(x), free(want), free(scale), free(got);
}
END_TEST

/* fc_kb (fc_kb.cl, batch > 1): the K-blocked GEMM on weights blocked in vw,
 * a panel of rt row tiles of tm rows per work-item, kb inputs per K block;
 * local size 2 along the panels (a ragged last group). tm and tnb clamped to
 * the batch and the blocks, as plan.c does (the kernel needs it); pf 1: the
 * inputs as a compile-time constant (KDIM) and the prefetch on, as on CPUs. */
static void check_fc_kb(int n, int o, int in, int tm, int tnb, int rt, int kb, int relu, int vw,
                        int pf)
{
    int nblocks = (o + vw - 1) / vw;
    tm = tm < n ? tm : n;
    tnb = tnb < nblocks ? tnb : nblocks;
    float *w = random_floats((size_t)o * in), *x = random_floats((size_t)n * in);
    float *b = random_floats((size_t)o);
    if (fc_half)
        round_to_half(w, (size_t)o * in);
    int padded = an__conv_arranged_oc(o, 1, vw);
    float *wp = malloc((size_t)padded * in * sizeof *wp), *bp = malloc((size_t)padded * sizeof *bp);
    an__conv_weights_arrange(w, wp, o, in, 1, 1, vw);
    an__conv_bias_arrange(b, bp, o, 1, vw);
    size_t nout = (size_t)n * o;
    double *want = malloc(nout * sizeof *want), *scale = malloc(nout * sizeof *scale);
    fc_reference(w, x, b, n, o, in, relu, want, scale);
    char opts[160];
    int len =
        snprintf(opts, sizeof opts,
                 "-cl-std=CL1.2 -DRELU=%d -DTM=%d -DTNB=%d -DVW=%d -DRT=%d -DKB=%d -DWHALF=%d",
                 relu, tm, tnb, vw, rt, kb, fc_half);
    an_device_info info;
    an_device_get_info(dev, &info);
    if (pf) /* the prefetch where tuning.c turns it on: PoCL (Oclgrind refuses it) */
        snprintf(opts + len, sizeof opts - len, " -DKDIM=%d -DPREFETCH=%d", in,
                 strstr(info.platform, "Portable Computing Language") != NULL);
    cl_kernel k = kernel("fc_kb.cl", opts, "fc_kb");
    cl_mem bw = weight_buffer(wp, (size_t)padded * in), bx = buffer(x, (size_t)n * in);
    cl_mem bb = buffer(bp, (size_t)padded), by = poisoned(nout);
    arg_mem(k, 0, bx);
    arg_mem(k, 1, bw);
    arg_mem(k, 2, bb);
    arg_mem(k, 3, by);
    arg_int(k, 4, n);
    arg_int(k, 5, o);
    arg_int(k, 6, in);
    size_t rows = (size_t)tm * rt, local[2] = {2, 1};
    size_t global[2] = {((n + rows - 1) / rows + 1) / 2 * 2,
                        (size_t)(((o + vw - 1) / vw + tnb - 1) / tnb)};
    run(k, 2, global, local);
    char what[160];
    snprintf(what, sizeof what, "fc_kb N%d %dx%d tm%d tnb%d rt%d kb%d vw%d relu%d pf%d%s", n, o, in,
             tm, tnb, rt, kb, vw, relu, pf, fc_half ? " half" : "");
    float *got = read_back(by, nout);
    compare(what, got, want, scale, nout, 1e-5);
    clReleaseKernel(k);
    clReleaseMemObject(bw), clReleaseMemObject(bx), clReleaseMemObject(bb), clReleaseMemObject(by);
    free(w), free(x), free(b), free(wp), free(bp), free(want), free(scale), free(got);
}

START_TEST(test_fc_kb)
{
    check_fc_kb(7, 37, 123, 2, 4, 2, 16, 1, 8, 0);  /* K not a multiple of the block */
    check_fc_kb(7, 37, 123, 3, 1, 1, 50, 0, 16, 1); /* ragged panel, a shifted last tile */
    check_fc_kb(7, 37, 123, 2, 4, 2, 16, 1, 8, 1);  /* the last work-item's blocks shifted */
    check_fc_kb(16, 64, 77, 2, 4, 8, 256, 1, 8, 0); /* one K block, one panel */
    check_fc_kb(5, 13, 9, 8, 4, 4, 16, 0, 16, 1);   /* tiles and panel larger than the problem */
    check_fc_kb(19, 100, 301, 1, 3, 5, 64, 1, 8, 0);
    check_fc_kb(33, 1000, 64, 2, 2, 3, 17, 0, 16, 1); /* five panels, the last partial */
    check_fc_kb(64, 45, 130, 2, 4, 32, 32, 1, 8, 0);  /* the batch-64 shape, small */
    check_fc_kb(21, 19, 67, 16, 1, 2, 4096, 1, 16, 1);
    check_fc_kb(3, 1000, 201, 3, 2, 16, 48, 1, 8, 0);
    /* the CPU defaults (tuning.c): 8 x 3 blocks of 16, 3 x 4 of 8, K blocks
     * of 64, one panel for 64 rows; ragged batches and a ragged K */
    check_fc_kb(64, 1000, 301, 8, 3, 8, 64, 1, 16, 1);
    check_fc_kb(64, 1000, 301, 3, 4, 22, 64, 0, 8, 1);
    check_fc_kb(37, 100, 200, 8, 3, 8, 64, 1, 16, 1);
    check_fc_kb(11, 333, 129, 3, 4, 22, 64, 1, 8, 1);
    /* binary16 weights (-DWHALF=1) */
    fc_half = 1;
    check_fc_kb(64, 1000, 301, 8, 3, 8, 64, 1, 16, 1);
    check_fc_kb(37, 100, 200, 3, 4, 22, 64, 0, 8, 1);
    check_fc_kb(7, 37, 123, 2, 4, 2, 16, 1, 4, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_conv2d);
    tcase_add_test(tc, test_conv2d_groups);
    tcase_add_test(tc, test_conv11s4);
    tcase_add_test(tc, test_igemm);
    tcase_add_test(tc, test_gemv);
    tcase_add_test(tc, test_fc_gemm);
    tcase_add_test(tc, test_gemv_blocked);
    tcase_add_test(tc, test_gemv_panel);
    tcase_add_test(tc, test_fc_half);
    tcase_add_test(tc, test_bias_act);
    tcase_add_test(tc, test_softmax);
    suite_add_tcase(s, tc);
    /* cases of their own, so that CK_RUN_CASE=pool, winograd, s2d or fc_kb
     * runs one alone: Meson runs each case as a test of its own, two at a
     * time (tests/meson.build), and Oclgrind's self-check needs only pool */
    TCase *pool = tcase_create("pool");
    tcase_add_checked_fixture(pool, setup, NULL);
    tcase_set_timeout(pool, 600);
    tcase_add_test(pool, test_maxpool);
    tcase_add_test(pool, test_adaptive_avgpool);
    suite_add_tcase(s, pool);
    TCase *wino = tcase_create("winograd");
    tcase_add_checked_fixture(wino, setup, NULL);
    tcase_set_timeout(wino, 600);
    tcase_add_test(wino, test_winograd);
    suite_add_tcase(s, wino);
    TCase *s2d = tcase_create("s2d");
    tcase_add_checked_fixture(s2d, setup, NULL);
    tcase_set_timeout(s2d, 600);
    tcase_add_test(s2d, test_s2d);
    suite_add_tcase(s, s2d);
    TCase *kb = tcase_create("fc_kb");
    tcase_add_checked_fixture(kb, setup, NULL);
    tcase_set_timeout(kb, 600);
    tcase_add_test(kb, test_fc_kb);
    suite_add_tcase(s, kb);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    an_device_free(dev);
    return failed ? 1 : 0;
}
