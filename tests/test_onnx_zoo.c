/* test_onnx_zoo.c - the ONNX model zoo's bvlcalexnet (Caffe -> Caffe2 ->
 * ONNX, input data_0 1x3x224x224) at the opsets the zoo publishes, rebuilt by
 * tests/reference/make_zoo_onnx.py with the onnx package on seeded weights:
 * each file converted by an_convert to variant caffe-bvlc-224 and run here on
 * the inputs ONNX Runtime ran it on.
 *
 * Logits: the graph ends in Softmax (softmaxout_1); the converter notes it
 * and keeps the weights, and the runtime gives logits and probabilities
 * apart. ONNX Runtime's logits are its fc8_1 (the Softmax's input), read from
 * a copy of the file that lists fc8_1 as a second graph output; they must be
 * within tests/test_conformance.c's bounds (||out - ref|| / ||ref|| < 1e-5,
 * every logit within 1e-4 * |ref| + 1e-5 * max|ref|). The probabilities are
 * checked against ONNX Runtime's softmaxout_1 from the file itself, within
 * what the logits' largest difference d allows (softmax moves a log
 * probability by at most 2 d): |p - ref| <= ref * (exp(2 d) - 1) + 1e-4 * ref
 * + 1e-7.
 *
 * ONNX Runtime runs opsets 7 and later: the opset 3 and 6 files must convert
 * to exactly the tensors the opset 7 file does. The float16 file is run
 * against ONNX Runtime on the same graph holding the float16 values as float32
 * (a float graph with float16 initializers is not one ONNX Runtime runs). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "logits_check.h"
#include "npy.h"

static an_device *dev;
static char dir[4096];

/* Converts zoo_<tag>.onnx; returns the safetensors path (static buffer). */
static const char *convert(const char *tag)
{
    static char out[4400];
    char in[4400], variant[32] = "";
    snprintf(in, sizeof in, "%s/zoo_%s.onnx", dir, tag);
    snprintf(out, sizeof out, "%s/zoo_%s.safetensors", dir, tag);
    int status = an_convert(in, out, variant, sizeof variant);
    ck_assert_msg(status == AN_OK, "%s: %s", in, an_last_error());
    ck_assert_str_eq(variant, "caffe-bvlc-224");
    return out;
}

/* Runs the converted tag at batch 1 and 2 against ONNX Runtime's outputs. */
static void check_against_ort(const char *tag, const char *weights)
{
    an_model *model = NULL;
    an_load_options lo = {.weights = weights, .tuning = ""};
    int status = an_model_load_opts(dev, "caffe-bvlc-224", &lo, &model);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    int xd[4], xn = 0, ld[4], ln = 0, pd[4], pn = 0;
    char name[128];
    float *x = load_npy(dir, "zoo_x.npy", xd, &xn);
    snprintf(name, sizeof name, "zoo_logits_%s.npy", tag);
    float *ref = load_npy(dir, name, ld, &ln);
    snprintf(name, sizeof name, "zoo_prob_%s.npy", tag);
    float *prob = load_npy(dir, name, pd, &pn);
    ck_assert_int_eq(xn, 4);
    ck_assert_int_eq(xd[2], 224);
    ck_assert_int_eq(xd[3], 224);
    ck_assert_int_eq(ld[0], xd[0]);
    ck_assert_int_eq(ld[1], AN_CLASSES);
    for (int batch = 1; batch <= xd[0]; batch++) {
        an_plan *plan = NULL;
        status = an_plan_create(model, batch, 224, 224, &plan);
        ck_assert_msg(status == AN_OK, "%s", an_last_error());
        size_t n = (size_t)batch * AN_CLASSES;
        float *out = malloc(n * sizeof *out);
        for (size_t i = 0; i < n; i++)
            out[i] = NAN;
        ck_assert_int_eq(an_plan_forward(plan, x, out, AN_OUTPUT_LOGITS), AN_OK);
        char what[128];
        snprintf(what, sizeof what, "zoo_%s batch %d logits vs ONNX Runtime", tag, batch);
        double d = compare_logits(what, "ONNX Runtime's", out, ref, n);
        for (size_t i = 0; i < n; i++)
            out[i] = NAN;
        ck_assert_int_eq(an_plan_forward(plan, x, out, AN_OUTPUT_PROBS), AN_OK);
        double worst = 0, pmax = 0;
        for (size_t i = 0; i < n; i++) {
            pmax = fmax(pmax, prob[i]);
            double p = prob[i], tol = p * expm1(2 * d) + 1e-4 * p + 1e-7;
            ck_assert_msg(fabs(out[i] - p) <= tol, "zoo_%s probability %zu: %g vs %g", tag, i,
                          out[i], p);
            worst = fmax(worst, fabs(out[i] - p));
        }
        fprintf(stderr, "# zoo_%s batch %d probabilities: max abs error %.3g (max %.3g)\n", tag,
                batch, worst, pmax);
        free(out);
        an_plan_free(plan);
    }
    free(x);
    free(ref);
    free(prob);
    an_model_free(model);
}

static void check_opset(const char *tag)
{
    const char *st = convert(tag);
    check_against_ort(tag, st);
    remove(st); /* 240 MB each */
}

START_TEST(test_zoo_op7)
{
    check_opset("op7");
}
END_TEST

START_TEST(test_zoo_op8)
{
    check_opset("op8");
}
END_TEST

START_TEST(test_zoo_op9)
{
    check_opset("op9");
}
END_TEST

/* onnx.version_converter's opset 12 (Dropout's ratio a Constant input) */
START_TEST(test_zoo_op12)
{
    check_opset("op12");
}
END_TEST

/* float16 initializers: converted as F16, run against the float32 graph of
 * the same values */
START_TEST(test_zoo_f16)
{
    char path[4400];
    snprintf(path, sizeof path, "%s", convert("f16"));
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char head[4096] = "";
    size_t got = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    ck_assert_uint_gt(got, 8);
    head[got] = '\0'; /* the JSON header after its 8-byte length */
    ck_assert_msg(strstr(head + 8, "\"dtype\":\"F16\"") != NULL, "no F16 tensor in %s", path);
    check_against_ort("f16", path);
    remove(path);
}
END_TEST

/* Opsets 3 and 6 (Reshape's shape attribute, Dropout is_test, Gemm
 * broadcast), which ONNX Runtime no longer runs: the tensors of opset 7's. */
START_TEST(test_zoo_op3_op6)
{
    const an__variant *v = an__variant_find("caffe-bvlc-224");
    ck_assert_ptr_nonnull(v);
    char p7[4400];
    snprintf(p7, sizeof p7, "%s", convert("op7"));
    an__weights want;
    ck_assert_int_eq(an__weights_load(v, p7, &want), AN_OK);
    const char *tags[] = {"op3", "op6"};
    for (int t = 0; t < 2; t++) {
        const char *st = convert(tags[t]);
        an__weights got;
        ck_assert_msg(an__weights_load(v, st, &got) == AN_OK, "%s", an_last_error());
        ck_assert_int_eq(got.count, want.count);
        for (int i = 0; i < got.count; i++) {
            const int *d = got.shape[i].dims;
            size_t n = (size_t)d[0] * d[1] * d[2] * d[3];
            ck_assert_msg(memcmp(got.weight[i], want.weight[i], n * sizeof(float)) == 0 &&
                              memcmp(got.bias[i], want.bias[i], (size_t)d[0] * sizeof(float)) == 0,
                          "zoo_%s: layer %d differs from opset 7's", tags[t], i);
        }
        fprintf(stderr, "# zoo_%s: %d tensors bit-identical to opset 7's\n", tags[t],
                2 * got.count);
        an__weights_free(&got);
        remove(st);
    }
    an__weights_free(&want);
    remove(p7);
}
END_TEST

/* Tampered graphs: refused naming the node and what differs. */
START_TEST(test_zoo_refusals)
{
    static const struct {
        const char *tag, *says;
    } cases[] = {
        {"bad_pads", "node '#3' (MaxPool): attribute 'pads' [0, 0, 0, 0] with ceil_mode 0 gives "
                     "26 outputs from 54, the layer (Caffe's pool, rounding up) 27"},
        {"bad_beta", "node '#2' (LRN): attribute 'beta' is 0.5, the layer has 0.75"},
        {"bad_is_test", "(Dropout): attribute 'is_test' is 0: the dropout is active (opset 6)"},
        {"bad_broadcast", "(Gemm): attribute 'broadcast' is absent"},
        {"bad_caffenet", "node '#2' (MaxPool): the layer here is an LRN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char in[4400], out[4400], variant[32] = "";
        snprintf(in, sizeof in, "%s/zoo_%s.onnx", dir, cases[i].tag);
        snprintf(out, sizeof out, "%s/zoo_%s.safetensors", dir, cases[i].tag);
        int status = an_convert(in, out, variant, sizeof variant);
        ck_assert_int_eq(status, AN_ERR_BAD_WEIGHTS);
        const char *e = an_last_error();
        ck_assert_msg(strstr(e, cases[i].says) != NULL, "%s: %s", cases[i].tag, e);
        ck_assert_msg(strstr(e, "(variant caffe-bvlc-224)") != NULL, "%s: %s", cases[i].tag, e);
        FILE *f = fopen(out, "rb");
        ck_assert_msg(f == NULL, "%s: an output was left behind", cases[i].tag);
    }
}
END_TEST

static void setup(void)
{
    const char *d = getenv("AN_ZOO_DIR");
    ck_assert_ptr_nonnull(d);
    snprintf(dir, sizeof dir, "%s", d);
    if (!dev) {
        int status = an_device_open(NULL, &dev);
        ck_assert_msg(status == AN_OK, "%s", an_last_error());
    }
}

int main(void)
{
    Suite *s = suite_create("onnx-zoo");
    TCase *tc = tcase_create("bvlcalexnet");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_zoo_refusals);
    tcase_add_test(tc, test_zoo_op7);
    tcase_add_test(tc, test_zoo_op8);
    tcase_add_test(tc, test_zoo_op9);
    tcase_add_test(tc, test_zoo_op12);
    tcase_add_test(tc, test_zoo_f16);
    tcase_add_test(tc, test_zoo_op3_op6);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    an_device_free(dev);
    return failed ? 1 : 0;
}
