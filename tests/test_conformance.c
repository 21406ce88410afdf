/* test_conformance.c - the whole network against PyTorch: the logits of
 * torchvision's AlexNet (and the equivalent caffe-227 module), computed in
 * float64 by tests/reference/make_reference.py on seeded weights and random
 * inputs, at batch 1, 3 and 8 and at a second input size; the library API and
 * the `alexnet forward` command are both checked.
 *
 * Bound: ||out - ref|| / ||ref|| < 1e-5, and every logit within
 * 1e-4 * |ref| + 1e-5 * max|ref|. The absolute term scales with the logits:
 * PyTorch's own float32 forward misses a fixed 1e-5 absolute bound on some
 * near-zero logits of these weights (their sums run over 9216 terms of size
 * ~ max|ref|), so a fixed 1e-5 would reject float32 itself. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "logits_check.h"
#include "npy.h"

static an_device *dev;
static char ref_dir[4096];

/* Runs the model on the first `batch` images of x_<tag>.npy and compares
 * with ref_<tag>.npy, as logits and as probabilities. */
/* A tuning file for the test device, written into a fresh cache directory
 * while the model loads (then XDG_CACHE_HOME is restored): NULL for none. */
static const char *tuning_file_lines;
/* What the loaded model must say of the file's "clblast Xgemm" line: the
 * kernel it overrode ("Xgemm") or "" (no line, or one CLBlast refused). */
static const char *tuning_file_clblast = "";

/* A forced tuning text for check_batches' model (an_load_options.tuning), or NULL. */
static const char *forced_tuning;

static void check_batches(const char *variant, const char *tag, const int *batches, int nb)
{
    char name[256], weights[4400], file[4500] = "";
    an_model *model = NULL;
    snprintf(weights, sizeof weights, "%s/%s.safetensors", ref_dir, variant);
    if (tuning_file_lines) {
        char prefix[700];
        snprintf(file, sizeof file, "%s/tuning-test.txt", ref_dir);
        FILE *f = fopen(file, "w");
        ck_assert_ptr_nonnull(f);
        an__tuning_line_prefix(&dev->info, prefix, sizeof prefix);
        fprintf(f, "# test\n2|0|Other platform|other device|1.0|4|device|fc_blocked=1\n");
        for (const char *l = tuning_file_lines; *l;) {
            size_t len = strcspn(l, "\n");
            fprintf(f, "%s|%.*s\n", prefix, (int)len, l);
            l += len + (l[len] != 0);
        }
        fclose(f);
    }
    /* the tuning file or the forced set, never the user's own file */
    an_load_options lo = {
        .weights = weights, .tuning = forced_tuning ? forced_tuning : "", .tuning_file = file};
    int status = an_model_load_opts(dev, variant, &lo, &model);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    if (tuning_file_lines) {
        /* the file's device line and per-layer entries were read */
        ck_assert_int_eq(model->tuning.fc_blocked, 0);
        ck_assert_int_eq(model->tuned.n, 2);
        char key[96];
        an__tuning_conv_key(key, sizeof key, 64, 27, 27, 192, 5, 1, 2, 1, 3);
        an__tuning t = an__tuning_for(model, key);
        ck_assert_int_eq(t.conv_tx, 3);
        ck_assert_int_eq(t.conv_ocb, 1);
        an__tuning_conv_key(key, sizeof key, 64, 27, 27, 192, 5, 1, 2, 1, 1);
        t = an__tuning_for(model, key);
        ck_assert_int_eq(t.conv_tx, model->tuning.conv_tx);
        ck_assert_str_eq(model->clblast, tuning_file_clblast);
    }

    int xd[4], xn = 0, rd[4], rn = 0;
    snprintf(name, sizeof name, "x_%s.npy", tag);
    float *x = load_npy(ref_dir, name, xd, &xn);
    snprintf(name, sizeof name, "ref_%s.npy", tag);
    float *ref = load_npy(ref_dir, name, rd, &rn);
    ck_assert_int_eq(xn, 4);
    ck_assert_int_eq(rd[1], AN_CLASSES);

    for (int b = 0; b < nb; b++) {
        int batch = batches[b];
        ck_assert_int_le(batch, xd[0]);
        an_plan *plan = NULL;
        status = an_plan_create(model, batch, xd[2], xd[3], &plan);
        ck_assert_msg(status == AN_OK, "%s", an_last_error());
        size_t n = (size_t)batch * AN_CLASSES;
        float *out = malloc(n * sizeof *out);
        for (size_t i = 0; i < n; i++)
            out[i] = NAN;
        status = an_plan_forward(plan, x, out, AN_OUTPUT_LOGITS);
        ck_assert_msg(status == AN_OK, "%s", an_last_error());
        char what[128];
        snprintf(what, sizeof what, "%s %dx%d batch %d logits", variant, xd[2], xd[3], batch);
        compare_logits(what, "reference", out, ref, n);

        /* probabilities: softmax of the reference, in double */
        status = an_plan_forward(plan, x, out, AN_OUTPUT_PROBS);
        ck_assert_msg(status == AN_OK, "%s", an_last_error());
        for (int r = 0; r < batch; r++) {
            const float *l = ref + (size_t)r * AN_CLASSES;
            double m = -INFINITY, sum = 0, total = 0;
            for (int i = 0; i < AN_CLASSES; i++)
                m = fmax(m, l[i]);
            for (int i = 0; i < AN_CLASSES; i++)
                sum += exp(l[i] - m);
            for (int i = 0; i < AN_CLASSES; i++) {
                double p = exp(l[i] - m) / sum, got = out[(size_t)r * AN_CLASSES + i];
                ck_assert_msg(fabs(got - p) <= 1e-4 * p + 1e-7,
                              "%s probs row %d class %d: %g vs %g", variant, r, i, got, p);
                total += got;
            }
            ck_assert_msg(fabs(total - 1.0) < 1e-4, "probabilities sum to %g", total);
        }
        free(out);
        an_plan_free(plan);
    }
    free(x);
    free(ref);
    an_model_free(model);
}

START_TEST(test_torchvision_224)
{
    const int batches[] = {1, 3, 8};
    check_batches("torchvision-224", "torchvision-224", batches, 3);
}
END_TEST

START_TEST(test_torchvision_256)
{
    const int batches[] = {2};
    check_batches("torchvision-224", "torchvision-224-256x256", batches, 1);
}
END_TEST

START_TEST(test_caffe_227)
{
    const int batches[] = {1, 3, 8};
    check_batches("caffe-227", "caffe-227", batches, 3);
}
END_TEST

/* The original BVLC network: LRN (Caffe's formula) and grouped convolutions,
 * against torch's Conv2d(groups=2) and LocalResponseNorm(5, 1e-4, 0.75, 1). */
START_TEST(test_caffe_bvlc_227)
{
    const int batches[] = {1, 3};
    check_batches("caffe-bvlc-227", "caffe-bvlc-227", batches, 2);
}
END_TEST

/* BVLC's CaffeNet: each pool before its LRN, against torch's module of that
 * order, at 99x99 (pools of 11, 5 and 2, then the adaptive pool to 6). */
START_TEST(test_caffenet_227)
{
    const int batches[] = {1, 2};
    check_batches("caffenet-227", "caffenet-227-99", batches, 2);
}
END_TEST

/* The same network under other kernel parameter sets, forced through
 * $ALEXNET_TUNING (read by an_model_load): every set must meet the same bound.
 * Set 1 takes the other FC path (CLBlast SGEMM and gemv_rows on (O, I)
 * weights) with small conv tiles of float4, the direct kernel on the 3x3
 * layers, and one pooled output per work-item; set 2 Winograd F(4x4,3x3) on
 * every 3x3 stride-1 layer and F(2x2,5x5) on conv2 (odd GEMM blocks,
 * work-groups of 2, the GEMM and output transform fused), large direct
 * tiles elsewhere and FC blocks of float8 (an AVX-512 CPU's default is
 * float16), odd FC tiles, batch 1's gemv_blocked (fc_panel=0), pooling
 * tiles that leave a ragged end and work-groups above 1; set 3 the implicit
 * GEMM (igemm.cl) on every conv layer, conv1's 11x11 stride 4 and groups
 * included, in float16 with a K-step (24) that divides few of the layers'
 * C*K*K, the K-blocked FC GEMM (fc_kb.cl) in float16 with K blocks of 48
 * and panels of 2 rows (batch 3: a ragged second panel; fc_panel_batch=1
 * keeps batch 3 off gemv_panel), and batch 1's gemv_panel in panels of 48
 * outputs (FC8's last one ragged); the defaults run gemv_panel in panels of
 * up to 1024 on CPUs at both batches. Batches 1 (GEMV) and 3 (GEMM, or
 * gemv_panel's three rows) keep the runtime modest. */
static const char *const tuning_sets[] = {
    "fc_blocked=0,conv_tx=2,conv_ocb=1,conv1_tx=3,conv1_ocb=1,conv_vec=4,gemv_lws=16,"
    "gemv_interleaved=1,pool_px=1,conv_algo=0",
    "fc_blocked=1,conv_tx=7,conv_ocb=3,conv1_tx=6,conv1_ocb=4,conv_vec=8,fc_vec=8,fc_tm=3,"
    "fc_tnb=3,fc_local=2,conv_local=2,pointwise_local=8,pool_px=5,conv_algo=1,wino_tt=3,"
    "wino_ocb=2,wino_fused=1,wino_m=4,fc_panel=0",
    "conv_algo=2,conv_vec=16,ig_mb=3,ig_nb=2,ig_ks=24,ig_lx=16,ig_ly=4,fc_vec=16,fc_tm=1,"
    "fc_kb=48,fc_rt=2,fc_panel=48,fc_panel_batch=1",
};

static void check_tuned(const char *variant, const char *tag)
{
    const int batches[] = {1, 3};
    for (size_t i = 0; i < sizeof tuning_sets / sizeof tuning_sets[0]; i++) {
        fprintf(stderr, "# tuning %s\n", tuning_sets[i]);
        forced_tuning = tuning_sets[i];
        check_batches(variant, tag, batches, 2);
        forced_tuning = NULL;
    }
}

START_TEST(test_tuning_sets_torchvision)
{
    check_tuned("torchvision-224", "torchvision-224");
}
END_TEST

START_TEST(test_tuning_sets_caffe_227)
{
    check_tuned("caffe-227", "caffe-227");
}
END_TEST

START_TEST(test_tuning_sets_caffe_bvlc)
{
    check_tuned("caffe-bvlc-227", "caffe-bvlc-227");
}
END_TEST

/* conv1 through space-to-depth (conv_s2d: s2d.cl, then a 3x3 stride-1 conv
 * over 48 channels: Winograd F(2x2,3x3) without padding with conv_algo=1,
 * conv.cl with conv_algo=0) and directly (conv_s2d=0), so that all three run
 * whichever the device's defaults pick: with the device's other defaults
 * (Winograd unfused), and s2d in float16 with a 5 x 3 tile (Winograd
 * F(4x4,3x3) fused, and direct), at 224 (padding 2),
 * 256 (a 65-block grid) and caffe's unpadded 227 (57 blocks, zeros past the
 * edge). A case of its own (CK_RUN_CASE=s2d runs it alone). */
START_TEST(test_s2d_conv1)
{
    static const char *const sets[] = {
        "conv_s2d=1,conv_algo=1,wino_fused=0", "conv_s2d=1,conv_algo=0", "conv_s2d=0",
        "conv_s2d=1,conv_algo=1,conv_vec=16,fc_vec=16,wino_fused=1,wino_m=4",
        "conv_s2d=1,conv_algo=0,conv_vec=16,conv1_tx=5,conv1_ocb=3,fc_vec=16"};
    const int batches[] = {1, 3};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        fprintf(stderr, "# tuning %s\n", sets[i]);
        forced_tuning = sets[i];
        check_batches("torchvision-224", "torchvision-224", batches, 2);
        check_batches("torchvision-224", "torchvision-224-256x256", batches, 1);
        check_batches("caffe-227", "caffe-227", batches, 2);
        forced_tuning = NULL;
    }
}
END_TEST

/* The tuning file beside the program cache is loaded by an_model_load: a
 * device line (CLBlast path) and per-layer entries, one of them for conv2 at
 * batch 3 only; the results must still conform. First with a CLBlast line
 * that CLBlast must refuse (a wrong parameter set: the model loads and keeps
 * CLBlast's own), then with a valid small SGEMM set (64 work-items, no local
 * memory, so any device takes it), which `alexnet tune --clblast` would
 * write: the FC layers then run CLBlast with it, and must still conform. */
START_TEST(test_tuning_file)
{
    const int batches[] = {3};
    tuning_file_lines = "device|fc_blocked=0\n"
                        "conv c=64 h=27 w=27 oc=192 k=5 s=1 p=2 g=1 n=3|conv_tx=3,conv_ocb=1\n"
                        "conv c=192 h=13 w=13 oc=384 k=3 s=1 p=1 g=1 n=3|conv_algo=0,conv_tx=5,"
                        "conv_ocb=4\n"
                        "clblast Xgemm|KWG=16,MWG=32,WOBBLE=1";
    tuning_file_clblast = "";
    check_batches("torchvision-224", "torchvision-224", batches, 1);
    tuning_file_lines = "device|fc_blocked=0\n"
                        "conv c=64 h=27 w=27 oc=192 k=5 s=1 p=2 g=1 n=3|conv_tx=3,conv_ocb=1\n"
                        "conv c=192 h=13 w=13 oc=384 k=3 s=1 p=1 g=1 n=3|conv_algo=0,conv_tx=5,"
                        "conv_ocb=4\n"
                        "clblast Xgemm|GEMMK=0,KREG=1,KWG=16,KWI=2,MDIMA=8,MDIMC=8,MWG=32,"
                        "NDIMB=8,NDIMC=8,NWG=32,SA=0,SB=0,STRM=0,STRN=0,VWM=2,VWN=2";
    tuning_file_clblast = "Xgemm";
    check_batches("torchvision-224", "torchvision-224", batches, 1);
    tuning_file_lines = NULL;
    tuning_file_clblast = "";
}
END_TEST

/* A malformed forced set is refused by the model loader, naming the parameter. */
START_TEST(test_tuning_bad)
{
    an_model *model = NULL;
    an_load_options lo = {.seed = 1, .tuning = "conv_tx=2,conv_wobble=3"};
    int status = an_model_load_opts(dev, "torchvision-224", &lo, &model);
    ck_assert_int_eq(status, AN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(model);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "conv_wobble"));
    lo.tuning = "conv_tx=99";
    status = an_model_load_opts(dev, "torchvision-224", &lo, &model);
    ck_assert_int_eq(status, AN_ERR_INVALID_ARGUMENT);
}
END_TEST

/* The command line end to end: .npy in, .npy out, exit status 0. */
START_TEST(test_cli_forward)
{
    const char *build = getenv("AN_BUILD_ROOT");
    ck_assert_ptr_nonnull(build);
    char cmd[16384], out[4200];
    snprintf(out, sizeof out, "%s/cli_caffe.npy", ref_dir);
    remove(out);
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' forward --variant caffe-227 --weights '%s/caffe-227.safetensors' "
             "--input '%s/x_caffe-227.npy' --output '%s'",
             build, ref_dir, ref_dir, out);
    ck_assert_int_eq(system(cmd), 0);
    int d[4], nd = 0, rd[4], rn = 0;
    float *got = load_npy(ref_dir, "cli_caffe.npy", d, &nd);
    float *ref = load_npy(ref_dir, "ref_caffe-227.npy", rd, &rn);
    ck_assert_int_eq(nd, 2);
    ck_assert_int_eq(d[0], rd[0]);
    ck_assert_int_eq(d[1], AN_CLASSES);
    compare_logits("alexnet forward caffe-227 batch 8", "reference", got, ref, (size_t)d[0] * d[1]);
    free(got);
    free(ref);

    /* a float64 input is refused with exit status 2 and nothing written */
    const char *py = getenv("AN_PYTHON") ? getenv("AN_PYTHON") : "/usr/bin/python3";
    snprintf(cmd, sizeof cmd,
             "%s -c \"import numpy; numpy.save('%s/f64.npy', numpy.zeros((1,3,227,227)))\" && "
             "'%s/apps/alexnet' forward --variant caffe-227 --seed 1 --input '%s/f64.npy' "
             "--output '%s/f64_out.npy' 2>/dev/null",
             py, ref_dir, build, ref_dir, ref_dir);
    int rc = system(cmd);
    ck_assert_int_eq(WEXITSTATUS(rc), 2);
    snprintf(out, sizeof out, "%s/f64_out.npy", ref_dir);
    ck_assert_int_ne(access(out, F_OK), 0);
}
END_TEST

static void setup(void)
{
    const char *dir = getenv("AN_REF_DIR");
    ck_assert_ptr_nonnull(dir);
    snprintf(ref_dir, sizeof ref_dir, "%s", dir);
    if (!dev) {
        int status = an_device_open(NULL, &dev);
        ck_assert_msg(status == AN_OK, "%s", an_last_error());
    }
}

int main(void)
{
    Suite *s = suite_create("conformance");
    /* cases that Meson runs as tests of their own, two at a time
     * (tests/reference/meson.build); CK_RUN_CASE=tuning runs one alone */
    TCase *tc = tcase_create("networks");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_torchvision_224);
    tcase_add_test(tc, test_torchvision_256);
    tcase_add_test(tc, test_caffe_227);
    tcase_add_test(tc, test_caffe_bvlc_227);
    tcase_add_test(tc, test_caffenet_227);
    tcase_add_test(tc, test_cli_forward);
    suite_add_tcase(s, tc);
    tc = tcase_create("tuning");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_tuning_sets_torchvision);
    tcase_add_test(tc, test_tuning_sets_caffe_227);
    tcase_add_test(tc, test_tuning_sets_caffe_bvlc);
    tcase_add_test(tc, test_tuning_bad);
    tcase_add_test(tc, test_tuning_file);
    suite_add_tcase(s, tc);
    TCase *s2d = tcase_create("s2d");
    tcase_add_checked_fixture(s2d, setup, NULL);
    tcase_set_timeout(s2d, 1200);
    tcase_add_test(s2d, test_s2d_conv1);
    suite_add_tcase(s, s2d);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    an_device_free(dev);
    return failed ? 1 : 0;
}
