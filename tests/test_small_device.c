/* test_small_device.c - the whole network within a small device's limits.
 *
 *   test_small_device          on PoCL: linear layers split into parts under a
 *                              pretended largest allocation ($ALEXNET_MAX_ALLOC)
 *                              give logits bit-identical to the whole layers';
 *                              mapped input and output (io_mapped) those of
 *                              copies; the integrated class's defaults those of
 *                              the CPU's within float rounding; batch-1 plans
 *                              share the model's FC panel copies, made only
 *                              where global memory has room
 *                              ($ALEXNET_GLOBAL_MEM)
 *   test_small_device igpu     every variant at its smallest input on Oclgrind
 *                              (tests/oclgrind_igpu.sh sets it up shaped like
 *                              integrated graphics, so of the integrated class
 *                              and with its defaults) against PoCL, within float
 *                              rounding
 *
 * Both open devices by selector ("cpu", "oclgrind") among the platforms of
 * $OCL_ICD_VENDORS (the build's tests/icd under Meson). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool igpu_mode;

static float *random_input(size_t n, uint64_t seed)
{
    float *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((s >> 40) * (2.0 / 16777216.0) - 1.0); /* [-1, 1) */
    }
    return x;
}

/* The smallest square input the variant accepts. */
static int smallest_input(const char *variant)
{
    an_layer_info layers[AN_MAX_LAYERS];
    int n = 0;
    for (int s = 1; s < 400; s++)
        if (an_variant_infer(variant, 3, s, s, layers, &n) == AN_OK)
            return s;
    ck_abort_msg("%s: no input size up to 400 works", variant);
    return 0;
}

/* Logits (batch, 1000) of variant with seeded weights on the device that
 * selector picks (load flags: AN_LOAD_WEIGHTS_F16 or 0), under the largest allocation `max_alloc`
 * ("" for the device's own, NULL for $ALEXNET_MAX_ALLOC as it is). *parts gets the number of
 * linear-layer parts (0: none split). */
static float *logits(const char *selector, const char *max_alloc, const char *variant, int batch,
                     int size, unsigned flags, int *parts)
{
    char *saved = getenv("ALEXNET_MAX_ALLOC") ? strdup(getenv("ALEXNET_MAX_ALLOC")) : NULL;
    if (max_alloc)
        setenv("ALEXNET_MAX_ALLOC", max_alloc, 1);
    an_device *dev = NULL;
    an_model *m = NULL;
    an_plan *p = NULL;
    ck_assert_msg(an_device_open(selector, &dev) == AN_OK, "%s", an_last_error());
    if (igpu_mode && strcmp(selector, "oclgrind") == 0) /* 4 compute units: the small GPUs' */
        ck_assert_msg(dev->info.device_class == AN_DEVICE_CLASS_INTEGRATED,
                      "Oclgrind is of class %s, not integrated",
                      an_device_class_name(dev->info.device_class));
    an_load_options lo = {.seed = 7, .flags = flags};
    ck_assert_msg(an_model_load_opts(dev, variant, &lo, &m) == AN_OK, "%s: %s", variant,
                  an_last_error());
    *parts = 0;
    for (int i = 0; i < m->n_params; i++)
        *parts += m->parts[i] ? m->parts[i]->n : 0;
    ck_assert_msg(an_plan_create(m, batch, size, size, &p) == AN_OK, "%s: %s", variant,
                  an_last_error());
    float *x = random_input((size_t)batch * 3 * size * size, 11);
    float *y = malloc((size_t)batch * AN_CLASSES * sizeof *y);
    ck_assert_ptr_nonnull(y);
    for (int i = 0; i < batch * AN_CLASSES; i++)
        y[i] = NAN;
    ck_assert_msg(an_plan_forward(p, x, y, AN_OUTPUT_LOGITS) == AN_OK, "%s: %s", variant,
                  an_last_error());
    an_plan_free(p);
    an_model_free(m);
    an_device_free(dev);
    free(x);
    if (saved)
        setenv("ALEXNET_MAX_ALLOC", saved, 1);
    else
        unsetenv("ALEXNET_MAX_ALLOC");
    free(saved);
    return y;
}

/* Split linear layers give the unsplit logits bit for bit: both layouts
 * (blocked: gemv_panel, or gemv_blocked with fc_panel=0, and fc_kb; rows:
 * gemv_rows, CLBlast SGEMM), batch 1 and 3, half-precision weights too,
 * parts of uneven size (7 MiB: FC6 in parts of 192 or 199 rows, whose panel
 * copies are narrower than the whole layer's). */
START_TEST(split_bit_identical)
{
    static const struct {
        const char *variant, *tuning;
        int batch;
        unsigned flags;
    } cases[] = {
        {"torchvision-224", "", 1, 0},
        {"torchvision-224", "", 3, 0},
        {"caffe-227", "", 1, 0},
        {"torchvision-224", "fc_panel=0", 1, 0},
        {"torchvision-224", "fc_blocked=0", 1, 0},
        {"torchvision-224", "fc_blocked=0", 3, 0},
        {"torchvision-224", "", 1, AN_LOAD_WEIGHTS_F16},
        {"caffe-227", "", 3, AN_LOAD_WEIGHTS_F16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("ALEXNET_TUNING", cases[i].tuning, 1);
        int size = smallest_input(cases[i].variant), whole = 0, parts = 0, n = cases[i].batch;
        float *a = logits("cpu", "", cases[i].variant, n, size, cases[i].flags, &whole);
        float *b = logits("cpu", "7M", cases[i].variant, n, size, cases[i].flags, &parts);
        unsetenv("ALEXNET_TUNING");
        ck_assert_int_eq(whole, 0);
        ck_assert_msg(parts > 3, "%s: only %d parts at 7 MiB", cases[i].variant, parts);
        for (int j = 0; j < n * AN_CLASSES; j++)
            ck_assert_msg(memcmp(&a[j], &b[j], sizeof(float)) == 0 && !isnan(a[j]),
                          "%s (%s) batch %d: logit %d is %a whole, %a in %d parts",
                          cases[i].variant, cases[i].tuning, n, j, (double)a[j], (double)b[j],
                          parts);
        printf("# %s %s%s batch %d at %d: %d linear parts at 7 MiB, logits bit-identical\n",
               cases[i].variant, cases[i].tuning, cases[i].flags ? " f16" : "", n, size, parts);
        free(a);
        free(b);
    }
}
END_TEST

/* A model of variant with seeded weights on PoCL under $ALEXNET_DEVICE_CLASS
 * device_class ("" for the detected one) and the forced tuning text (the
 * tuning file unread); free with an_device_free(an_model_device(m)) after
 * an_model_free. */
static an_model *load_model(const char *device_class, const char *tuning, const char *variant)
{
    setenv("ALEXNET_DEVICE_CLASS", device_class, 1);
    an_device *dev = NULL;
    an_model *m = NULL;
    ck_assert_msg(an_device_open("cpu", &dev) == AN_OK, "%s", an_last_error());
    unsetenv("ALEXNET_DEVICE_CLASS");
    an_load_options lo = {.seed = 7, .tuning = tuning, .tuning_file = ""};
    ck_assert_msg(an_model_load_opts(dev, variant, &lo, &m) == AN_OK, "%s: %s", variant,
                  an_last_error());
    return m;
}

static void free_model(an_model *m)
{
    an_device *dev = an_model_device(m);
    an_model_free(m);
    an_device_free(dev);
}

/* Logits (batch, 1000) of m on a random input, from an_plan_forward, or with
 * `queued` from an_plan_enqueue and an_plan_wait (the plan is also profiled
 * first, which uploads through the same path). */
static float *run_plan(an_model *m, int batch, int size, bool queued)
{
    an_plan *p = NULL;
    ck_assert_msg(an_plan_create(m, batch, size, size, &p) == AN_OK, "%s", an_last_error());
    float *x = random_input((size_t)batch * 3 * size * size, 11);
    float *y = malloc((size_t)batch * AN_CLASSES * sizeof *y);
    ck_assert_ptr_nonnull(y);
    for (int i = 0; i < batch * AN_CLASSES; i++)
        y[i] = NAN;
    if (queued) {
        an_layer_time t[AN_MAX_LAYERS];
        int n = 0;
        ck_assert_msg(an_plan_profile(p, x, t, AN_MAX_LAYERS, &n) == AN_OK, "%s", an_last_error());
        ck_assert_msg(an_plan_enqueue(p, x, y, AN_OUTPUT_LOGITS) == AN_OK, "%s", an_last_error());
        ck_assert_msg(an_plan_wait(p) == AN_OK, "%s", an_last_error());
    } else {
        ck_assert_msg(an_plan_forward(p, x, y, AN_OUTPUT_LOGITS) == AN_OK, "%s", an_last_error());
    }
    an_plan_free(p);
    free(x);
    return y;
}

/* Input and output through mapped host memory (io_mapped=1) give the
 * logits of copies (io_mapped=0) bit for bit: batch 1 and odd batches, both
 * ways a plan runs. One model each: io_mapped is read when a plan is made. */
START_TEST(io_mapped_bit_identical)
{
    static const struct {
        const char *variant;
        int batch, size; /* size 0: the smallest the variant takes */
    } cases[] = {{"torchvision-224", 1, 224}, {"torchvision-224", 3, 0}, {"caffe-227", 5, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = cases[i].batch;
        int size = cases[i].size ? cases[i].size : smallest_input(cases[i].variant);
        an_model *m = load_model("", "io_mapped=0", cases[i].variant);
        for (int queued = 0; queued < 2; queued++) {
            m->tuning.io_mapped = 0;
            float *a = run_plan(m, n, size, queued);
            m->tuning.io_mapped = 1;
            float *b = run_plan(m, n, size, queued);
            for (int j = 0; j < n * AN_CLASSES; j++)
                ck_assert_msg(memcmp(&a[j], &b[j], sizeof(float)) == 0 && !isnan(a[j]),
                              "%s batch %d%s: logit %d is %a copied, %a mapped", cases[i].variant,
                              n, queued ? " (enqueue)" : "", j, (double)a[j], (double)b[j]);
            free(a);
            free(b);
        }
        free_model(m);
        printf("# %s batch %d at %d: logits bit-identical with io_mapped 0 and 1 (forward, "
               "enqueue)\n",
               cases[i].variant, n, size);
    }
}
END_TEST

/* The integrated class's defaults (which Oclgrind's igpu run only checks
 * for faults) compute the network: on PoCL, within float rounding of the
 * CPU defaults, batch 1 (gemv) and 3 (fc_gemm, its 4-row tile clamped). */
START_TEST(integrated_defaults_match)
{
    static const struct {
        const char *variant;
        int batch;
    } cases[] = {{"torchvision-224", 3}, {"caffe-227", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = cases[i].batch, size = smallest_input(cases[i].variant);
        /* " ": the defaults forced, nothing from a tuning file */
        an_model *cpu = load_model("", " ", cases[i].variant);
        an_model *igpu = load_model("integrated", " ", cases[i].variant);
        ck_assert_int_eq(an_model_device(igpu)->info.device_class, AN_DEVICE_CLASS_INTEGRATED);
        ck_assert_int_eq(igpu->tuning.io_mapped, 1);
        float *want = run_plan(cpu, n, size, false);
        float *got = run_plan(igpu, n, size, false);
        free_model(cpu);
        free_model(igpu);
        double scale = 0, worst = 0;
        for (int j = 0; j < n * AN_CLASSES; j++)
            scale = fmax(scale, fabs(want[j]));
        for (int j = 0; j < n * AN_CLASSES; j++) {
            ck_assert_msg(isfinite(got[j]), "%s: logit %d is %g", cases[i].variant, j,
                          (double)got[j]);
            worst = fmax(worst, fabs((double)got[j] - want[j]));
        }
        printf("# %s batch %d at %d: integrated defaults vs cpu defaults, largest difference %.3g "
               "of %.4g\n",
               cases[i].variant, n, size, worst, scale);
        ck_assert_msg(worst <= 1e-4 * scale, "%s batch %d: differ by %g of %g", cases[i].variant, n,
                      worst, scale);
        free(want);
        free(got);
    }
}
END_TEST

/* A largest allocation below one block of rows, or not a number, is refused
 * naming it. */
START_TEST(split_refused)
{
    setenv("ALEXNET_MAX_ALLOC", "64K", 1);
    an_device *dev = NULL;
    an_model *m = NULL;
    ck_assert_msg(an_device_open("cpu", &dev) == AN_OK, "%s", an_last_error());
    ck_assert_uint_eq(dev->info.max_alloc, 65536);
    int st = an_model_seed(dev, "torchvision-224", 7, &m);
    ck_assert_int_eq(st, AN_ERR_TOO_LARGE);
    ck_assert_msg(strstr(an_last_error(), "CL_DEVICE_MAX_MEM_ALLOC_SIZE"), "%s", an_last_error());
    an_device_free(dev);
    setenv("ALEXNET_MAX_ALLOC", "12Q", 1);
    ck_assert_int_eq(an_device_open("cpu", &dev), AN_ERR_INVALID_ARGUMENT);
    ck_assert_msg(strstr(an_last_error(), "ALEXNET_MAX_ALLOC"), "%s", an_last_error());
    unsetenv("ALEXNET_MAX_ALLOC");
}
END_TEST

/* The panels gemv_panel reads (the FC weights copied at batch 1) that the
 * model holds now: copies, and uses of them summed. */
static int live_panels(an_model *m, int *users)
{
    *users = 0;
    for (int i = 0; i < m->n_panels; i++)
        *users += m->panels[i].users;
    return m->n_panels;
}

static void assert_same_logits(const float *a, const float *b, int n, const char *what)
{
    for (int j = 0; j < n * AN_CLASSES; j++)
        ck_assert_msg(memcmp(&a[j], &b[j], sizeof(float)) == 0 && !isnan(a[j]),
                      "%s: logit %d is %a, then %a", what, j, (double)a[j], (double)b[j]);
}

static an_plan *make_plan(an_model *m, int batch, int size)
{
    an_plan *p = NULL;
    ck_assert_msg(an_plan_create(m, batch, size, size, &p) == AN_OK, "%s", an_last_error());
    return p;
}

static float *forward(an_plan *p, int batch, int size)
{
    float *x = random_input((size_t)batch * 3 * size * size, 11);
    float *y = malloc((size_t)batch * AN_CLASSES * sizeof *y);
    ck_assert_ptr_nonnull(y);
    for (int i = 0; i < batch * AN_CLASSES; i++)
        y[i] = NAN;
    ck_assert_msg(an_plan_forward(p, x, y, AN_OUTPUT_LOGITS) == AN_OK, "%s", an_last_error());
    free(x);
    return y;
}

/* A model's plans of batch 1 to fc_panel_batch share one copy of each FC
 * layer's panels: the second plan makes none, a batch-2 plan shares it, a
 * plan of a larger batch (the K-blocked GEMM) takes none; the copy outlives
 * the first plan freed (the second still computes the same logits) and goes
 * with the last; a later plan makes it again. Split layers (7 MiB) share per
 * part. */
START_TEST(panels_shared)
{
    static const char *limits[] = {"", "7M"};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        setenv("ALEXNET_MAX_ALLOC", limits[i], 1);
        an_model *m = load_model("", "", "torchvision-224");
        unsetenv("ALEXNET_MAX_ALLOC");
        ck_assert_int_gt(m->tuning.fc_panel, 0);
        int size = smallest_input("torchvision-224"), users = 0, parts = 0;
        for (int j = 0; j < m->n_params; j++)
            parts += m->parts[j] ? m->parts[j]->n : 0;
        int copies = parts ? parts : 3; /* FC6-8 whole, or each part of them */
        ck_assert_int_eq(live_panels(m, &users), 0);
        an_plan *a = make_plan(m, 1, size);
        ck_assert_int_eq(live_panels(m, &users), copies);
        ck_assert_int_eq(users, copies);
        an_plan *b = make_plan(m, 1, size);
        an_plan *c = make_plan(m, m->tuning.fc_panel_batch + 1, size);
        ck_assert_int_eq(live_panels(m, &users), copies);
        ck_assert_int_eq(users, 2 * copies);
        an_plan *e = make_plan(m, 2, size);
        ck_assert_int_eq(live_panels(m, &users), copies);
        ck_assert_int_eq(users, 3 * copies);
        an_plan_free(e);
        float *ya = forward(a, 1, size), *yb = forward(b, 1, size);
        assert_same_logits(ya, yb, 1, "two batch-1 plans");
        an_plan_free(a);
        ck_assert_int_eq(live_panels(m, &users), copies);
        ck_assert_int_eq(users, copies);
        float *yb2 = forward(b, 1, size);
        assert_same_logits(ya, yb2, 1, "after the first plan was freed");
        an_plan_free(b);
        ck_assert_int_eq(live_panels(m, &users), 0);
        an_plan *d = make_plan(m, 1, size);
        ck_assert_int_eq(live_panels(m, &users), copies);
        float *yd = forward(d, 1, size);
        assert_same_logits(ya, yd, 1, "a plan made after both were freed");
        an_plan_free(d);
        an_plan_free(c);
        ck_assert_int_eq(live_panels(m, &users), 0);
        printf("# torchvision-224 batch 1 and 2%s: %d panel copies shared by three plans, freed "
               "with the last\n",
               parts ? " at 7 MiB" : "", copies);
        free(ya);
        free(yb);
        free(yb2);
        free(yd);
        free_model(m);
    }
}
END_TEST

/* A tuning file entry per FC layer and batch may send a layer back to the
 * K-blocked GEMM (fc_panel_batch=1, as the tuner stores where that won):
 * FC7 at batch 2 then takes no copy, FC6 and FC8 do, and the logits stay
 * those of the panels within float rounding. */
START_TEST(panels_per_layer)
{
    int size = smallest_input("torchvision-224"), users = 0;
    an_model *m = load_model("", "", "torchvision-224");
    an_plan *p = make_plan(m, 2, size);
    ck_assert_int_eq(live_panels(m, &users), 3);
    float *want = forward(p, 2, size);
    an_plan_free(p);
    ck_assert_int_eq(an__tuning_table_set(&m->tuned, "fc i=4096 o=4096 n=2", "fc_panel_batch=1", 1),
                     AN_OK);
    p = make_plan(m, 2, size);
    ck_assert_int_eq(live_panels(m, &users), 2);
    float *got = forward(p, 2, size);
    an_plan_free(p);
    for (int j = 0; j < 2 * AN_CLASSES; j++)
        ck_assert_msg(fabs((double)got[j] - want[j]) <= 1e-4 * (1 + fabs(want[j])),
                      "logit %d: %g with FC7 on the GEMM, %g on panels", j, (double)got[j],
                      (double)want[j]);
    free(want);
    free(got);
    free_model(m);
}
END_TEST

/* Global memory ($ALEXNET_GLOBAL_MEM) without room for a second copy of the
 * weights: batch 1 makes no panels and runs gemv_blocked, so its logits are
 * fc_panel=0's bit for bit. A value that is not a size (or too large a
 * number) is refused naming it; global memory below the weights refuses the
 * model. */
START_TEST(panels_need_room)
{
    int size = smallest_input("torchvision-224"), users = 0;
    an_model *off = load_model("", "fc_panel=0", "torchvision-224");
    an_plan *p = make_plan(off, 1, size);
    float *want = forward(p, 1, size);
    an_plan_free(p);
    free_model(off);
    setenv("ALEXNET_GLOBAL_MEM", "400M", 1); /* the model's buffers take 284 MiB */
    an_model *m = load_model("", "", "torchvision-224");
    unsetenv("ALEXNET_GLOBAL_MEM");
    ck_assert_uint_eq(an_model_device(m)->info.global_mem, 400u << 20);
    ck_assert_int_gt(m->tuning.fc_panel, 0);
    p = make_plan(m, 1, size);
    ck_assert_int_eq(live_panels(m, &users), 0);
    float *got = forward(p, 1, size);
    assert_same_logits(want, got, 1, "fc_panel=0, then global memory for one copy");
    an_plan_free(p);
    free_model(m);
    free(want);
    free(got);
    an_device *dev = NULL;
    static const char *bad[] = {"lots", "99999999999999999999", "0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("ALEXNET_GLOBAL_MEM", bad[i], 1);
        ck_assert_int_eq(an_device_open("cpu", &dev), AN_ERR_INVALID_ARGUMENT);
        ck_assert_msg(strstr(an_last_error(), "ALEXNET_GLOBAL_MEM"), "%s", an_last_error());
    }
    /* weights beyond global memory: refused when the model loads, naming it */
    setenv("ALEXNET_GLOBAL_MEM", "100M", 1);
    ck_assert_msg(an_device_open("cpu", &dev) == AN_OK, "%s", an_last_error());
    unsetenv("ALEXNET_GLOBAL_MEM");
    an_model *small = NULL;
    ck_assert_int_eq(an_model_seed(dev, "torchvision-224", 7, &small), AN_ERR_TOO_LARGE);
    ck_assert_ptr_null(small);
    ck_assert_msg(strstr(an_last_error(), "global memory"), "%s", an_last_error());
    an_device_free(dev);
}
END_TEST

/* Every variant ($AN_IGPU_VARIANTS, comma-separated, when set) at its
 * smallest input, batch 1, on Oclgrind against PoCL. With $OCLGRIND_QUICK
 * set Oclgrind runs only the first and last work-group of every kernel: its
 * checks then see every kernel at its real shape, but the logits are not
 * compared. */
START_TEST(igpu_variants)
{
    const char *const *names = an_variant_names();
    const char *only = getenv("AN_IGPU_VARIANTS");
    const char *quick = getenv("OCLGRIND_QUICK");
    bool compare = !quick || !*quick || strcmp(quick, "0") == 0;
    for (int v = 0; names[v]; v++) {
        if (only && *only) {
            char list[256];
            snprintf(list, sizeof list, ",%s,", only);
            char item[80];
            snprintf(item, sizeof item, ",%s,", names[v]);
            if (!strstr(list, item))
                continue;
        }
        int size = smallest_input(names[v]), parts = 0, ref_parts = 0;
        double t0 = an__now();
        float *got = logits("oclgrind", NULL, names[v], 1, size, 0, &parts);
        if (!compare) {
            printf("# %s at %dx%d: %d linear parts on Oclgrind, every kernel's first and last "
                   "work-group run, %.0f s\n",
                   names[v], size, size, parts, an__now() - t0);
            free(got);
            continue;
        }
        float *want = logits("cpu", "", names[v], 1, size, 0, &ref_parts);
        double scale = 0, worst = 0;
        for (int j = 0; j < AN_CLASSES; j++)
            scale = fmax(scale, fabs(want[j]));
        for (int j = 0; j < AN_CLASSES; j++) {
            ck_assert_msg(isfinite(got[j]), "%s: logit %d is %g on Oclgrind", names[v], j,
                          (double)got[j]);
            worst = fmax(worst, fabs((double)got[j] - want[j]));
        }
        printf("# %s at %dx%d: %d linear parts on Oclgrind, max |logit| %.4g, largest "
               "difference %.3g (%.2g relative), %.0f s\n",
               names[v], size, size, parts, scale, worst, worst / scale, an__now() - t0);
        ck_assert_msg(worst <= 1e-4 * scale, "%s: Oclgrind's logits differ from PoCL's by %g of %g",
                      names[v], worst, scale);
        free(want);
        free(got);
    }
}
END_TEST

int main(int argc, char **argv)
{
    igpu_mode = argc > 1 && strcmp(argv[1], "igpu") == 0;
    Suite *s = suite_create("small_device");
    TCase *tc = tcase_create(igpu_mode ? "igpu" : "split");
    tcase_set_timeout(tc, 1200);
    if (igpu_mode) {
        tcase_add_test(tc, igpu_variants);
    } else {
        tcase_add_test(tc, split_bit_identical);
        tcase_add_test(tc, split_refused);
        tcase_add_test(tc, io_mapped_bit_identical);
        tcase_add_test(tc, integrated_defaults_match);
        tcase_add_test(tc, panels_shared);
        tcase_add_test(tc, panels_per_layer);
        tcase_add_test(tc, panels_need_room);
    }
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
