/* test_lrn.c - the LRN kernel (cl_kernels/lrn.cl) alone against a plain C
 * reference in double, Caffe's across-channel formula, at odd window sizes
 * and odd shapes, with the output poisoned with NaN so that an element never
 * written fails; and the caffe-bvlc-227 plan builds an LRN step. */
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

static cl_mem buffer(const float *data, size_t n)
{
    cl_int err = CL_SUCCESS;
    cl_mem m = clCreateBuffer(dev->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                              n * sizeof(float), (void *)data, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    return m;
}

/* The general kernel, or the one specialised for beta = 0.75 (BETA_075). */
static cl_kernel lrn_kernel(int beta075)
{
    cl_program prog = NULL;
    int status = an__program_get(dev, "lrn.cl",
                                 beta075 ? "-cl-std=CL1.2 -DBETA_075=1" : "-cl-std=CL1.2", &prog);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    cl_int err = CL_SUCCESS;
    cl_kernel k = clCreateKernel(prog, "lrn_across", &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    clReleaseProgram(prog);
    return k;
}

typedef struct {
    int n, c, h, w, size;
    double alpha, beta, k, amplitude;
} lrn_case;

/* Caffe: scale = k + alpha/size * sum over [c - (size-1)/2, c - (size-1)/2 + size) of a^2,
 * clipped to the channels; out = a * scale^-beta. */
static void reference(const lrn_case *t, const float *x, double *want)
{
    int hw = t->h * t->w, pre = (t->size - 1) / 2;
    for (int n = 0; n < t->n; n++)
        for (int c = 0; c < t->c; c++)
            for (int p = 0; p < hw; p++) {
                double sum = 0;
                for (int j = c - pre; j < c - pre + t->size; j++)
                    if (j >= 0 && j < t->c) {
                        double a = x[((size_t)n * t->c + j) * hw + p];
                        sum += a * a;
                    }
                size_t i = ((size_t)n * t->c + c) * hw + p;
                want[i] = x[i] * pow(t->k + t->alpha / t->size * sum, -t->beta);
            }
}

static void check_lrn(const lrn_case *t, int beta075)
{
    size_t n = (size_t)t->n * t->c * t->h * t->w;
    float *x = malloc(n * sizeof *x), *got = malloc(n * sizeof *got);
    double *want = malloc(n * sizeof *want);
    ck_assert(x && got && want);
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(frand() * t->amplitude);
        got[i] = NAN;
    }
    reference(t, x, want);

    cl_kernel k = lrn_kernel(beta075);
    cl_mem bx = buffer(x, n), by = buffer(got, n); /* output poisoned with NaN */
    int hw = t->h * t->w;
    float aos = (float)(t->alpha / t->size), beta = (float)t->beta, kk = (float)t->k;
    ck_assert_int_eq(clSetKernelArg(k, 0, sizeof bx, &bx), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 1, sizeof by, &by), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 2, sizeof(int), &t->n), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 3, sizeof(int), &t->c), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 4, sizeof(int), &hw), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 5, sizeof(int), &t->size), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 6, sizeof(float), &aos), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 7, sizeof(float), &beta), CL_SUCCESS);
    ck_assert_int_eq(clSetKernelArg(k, 8, sizeof(float), &kk), CL_SUCCESS);
    size_t items = (size_t)t->n * hw;                   /* one work-item per (image, pixel) */
    size_t local = 4, global = (items + 3) / 4 * 4 + 4; /* a guarded tail */
    ck_assert_int_eq(clEnqueueNDRangeKernel(dev->queue, k, 1, NULL, &global, &local, 0, NULL, NULL),
                     CL_SUCCESS);
    ck_assert_int_eq(
        clEnqueueReadBuffer(dev->queue, by, CL_TRUE, 0, n * sizeof *got, got, 0, NULL, NULL),
        CL_SUCCESS);
    double worst = 0, effect = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(!isnan(got[i]), "element %zu is NaN (never written?)", i);
        double d = fabs(got[i] - want[i]);
        ck_assert_msg(d <= 2e-6 * fabs(want[i]) + 1e-30,
                      "N%d C%d %dx%d size %d: element %zu is %.9g, want %.9g", t->n, t->c, t->h,
                      t->w, t->size, i, got[i], want[i]);
        worst = fmax(worst, d / fmax(fabs(want[i]), 1e-30));
        if (x[i] != 0)
            effect = fmax(effect, fabs(want[i] / x[i] - 1));
    }
    /* the case must normalise noticeably, or it proves nothing about the sum */
    ck_assert_msg(effect > 0.01, "case changes values by at most %g", effect);
    fprintf(stderr,
            "# lrn%s N%d C%d %dx%d size %d alpha %g beta %g k %g: max rel error %.3g, "
            "max change %.3g\n",
            beta075 ? " (beta 0.75 path)" : "", t->n, t->c, t->h, t->w, t->size, t->alpha, t->beta,
            t->k, worst, effect);
    clReleaseKernel(k);
    clReleaseMemObject(bx);
    clReleaseMemObject(by);
    free(x), free(got), free(want);
}

START_TEST(test_lrn_kernel)
{
    const lrn_case cases[] = {
        {2, 7, 5, 3, 5, 1e-4, 0.75, 1.0, 100.0}, /* BVLC's parameters, Caffe-sized inputs */
        {3, 13, 7, 9, 5, 1e-4, 0.75, 1.0, 60.0},
        {1, 4, 3, 3, 5, 1e-4, 0.75, 1.0, 200.0}, /* window wider than the channels */
        {1, 9, 4, 5, 3, 0.5, 0.75, 2.0, 3.0},
        {2, 11, 3, 7, 1, 1.0, 0.5, 1.0, 2.0}, /* size 1: the element alone */
        {1, 17, 2, 3, 7, 0.2, 1.0, 1.0, 2.0},
        {1, 96, 5, 5, 5, 1e-4, 0.75, 1.0, 150.0}, /* conv1's channel count */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_lrn(&cases[i], 0);
        if (cases[i].beta == 0.75)
            check_lrn(&cases[i], 1);
    }
}
END_TEST

/* The variant's LRN rows turn into plan steps and the whole network plans
 * (its values are checked against torch in the conformance test). */
START_TEST(test_lrn_variant_rows)
{
    const an__variant *v = an__variant_find("caffe-bvlc-227");
    ck_assert_ptr_nonnull(v);
    int lrn = 0;
    for (int i = 0; i < v->n_layers; i++)
        if (v->layers[i].kind == AN_LAYER_LRN) {
            lrn++;
            ck_assert_int_eq(v->layers[i].kernel, 5);
            ck_assert_float_eq_tol(v->layers[i].lrn_alpha, 1e-4f, 1e-10f);
            ck_assert_float_eq_tol(v->layers[i].lrn_beta, 0.75f, 1e-7f);
            ck_assert_float_eq_tol(v->layers[i].lrn_k, 1.0f, 1e-7f);
        }
    ck_assert_int_eq(lrn, 2);
    an_model *model = NULL;
    int status = an_model_seed(dev, "caffe-bvlc-227", 1, &model);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    an_plan *plan = NULL;
    status = an_plan_create(model, 1, 227, 227, &plan);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    float *x = calloc(3 * 227 * 227, sizeof *x), *y = malloc(AN_CLASSES * sizeof *y);
    ck_assert(x && y);
    for (int i = 0; i < 3 * 227 * 227; i++)
        x[i] = 50.0f * frand();
    status = an_plan_forward(plan, x, y, AN_OUTPUT_PROBS);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    double sum = 0;
    for (int i = 0; i < AN_CLASSES; i++) {
        ck_assert_msg(isfinite(y[i]), "probability %d is %g", i, (double)y[i]);
        sum += y[i];
    }
    ck_assert_msg(fabs(sum - 1) < 1e-4, "probabilities sum to %g", sum);
    free(x);
    free(y);
    an_plan_free(plan);
    an_model_free(model);
}
END_TEST

static void setup(void)
{
    if (!dev) {
        int status = an_device_open(NULL, &dev);
        ck_assert_msg(status == AN_OK, "%s", an_last_error());
    }
    rng_state = 7;
}

int main(void)
{
    Suite *s = suite_create("lrn");
    TCase *tc = tcase_create("lrn");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_lrn_kernel);
    tcase_add_test(tc, test_lrn_variant_rows);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    an_device_free(dev);
    return failed ? 1 : 0;
}
