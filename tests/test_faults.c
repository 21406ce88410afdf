/* test_faults.c - injected OpenCL failures (tests/fault_shim.c). For each
 * scenario - opening the device, creating a seeded model, plan creation plus
 * forward passes at batch 1 and 2 (the device's default FC kernels, and again
 * with CLBlast's SGEMM for batch 2), program builds on a fresh model, and a
 * small an_classify_files run - a clean run first counts the OpenCL calls it
 * makes; then the scenario runs once per call n with call n failing. Every
 * run must either
 *   - fail with an error whose an_last_error() text names the failed function
 *     and its code's symbolic name (CLBlast's calls: "CLBlast" and the name), or
 *   - succeed with the same output as the clean run (a best-effort call such
 *     as the program cache's clGetProgramInfo may fail harmlessly),
 * and afterwards every OpenCL object is released again (host memory is
 * checked by LeakSanitizer in tests/sanitize.sh). */
#include <check.h>
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_shim.h"
#include "internal.h"

static an_device *dev;
static an_model *model;
static an_model *model_clblast; /* ALEXNET_TUNING=fc_blocked=0: batches > 1 run CLBlast SGEMM */

typedef struct {
    const char *name;
    int (*run)(void *ctx);   /* returns a status; releases everything it made */
    bool (*same)(void *ctx); /* after AN_OK: output equals the clean run's */
    void (*keep)(void *ctx); /* after the clean run: keep its output as reference */
    void *ctx;
    bool clblast; /* the scenario runs CLBlast: its calls must be seen; its
                     kernel cache is kept across runs (rebuilding it every
                     time would take minutes), so it is part of the baseline */
} scenario;

static void live_now(long out[FAULT_KINDS], bool keep_clblast)
{
    if (!keep_clblast)
        CLBlastClearCache(); /* CLBlast keeps programs per context until told */
    fault_live(out);
}

static void check_live(const char *what, long n, const long base[FAULT_KINDS], bool keep_clblast)
{
    long now[FAULT_KINDS];
    live_now(now, keep_clblast);
    for (int k = 0; k < FAULT_KINDS; k++)
        ck_assert_msg(now[k] == base[k],
                      "%s: after failing call %ld: %ld %s objects live, %ld before", what, n,
                      now[k], fault_kind_names[k], base[k]);
}

/* Failures that crash or leak today, reported and waiting for a fix in the
 * runtime: "scenario:function". Their calls are skipped (and listed in the
 * TAP output) so that the rest of the walk still runs; remove an entry once
 * its fix is in, and the walk covers it again. Fixed so far:
 *  - classify:clWaitForEvents - a failed wait freed the slots' host buffers
 *    while a non-blocking read could still write into them (ASan:
 *    heap-use-after-free); an_classify_files now drains the queue first. */
static const char *const known_bugs[] = {NULL};

static bool is_known_bug(const char *scenario_name, const char *fn)
{
    char key[128];
    snprintf(key, sizeof key, "%s:%s", scenario_name, fn ? fn : "");
    for (int i = 0; known_bugs[i]; i++)
        if (strcmp(known_bugs[i], key) == 0)
            return true;
    return false;
}

/* Returns false when AN_FAULTS_SCENARIO names another scenario. */
static bool walk(const scenario *s)
{
    /* AN_FAULTS_SCENARIO=classify runs that walk alone (for debugging) */
    const char *only = getenv("AN_FAULTS_SCENARIO");
    if (only && *only && strcmp(only, s->name) != 0)
        return false;
    long base[FAULT_KINDS];
    fault_reset(0);
    int status = s->run(s->ctx); /* warm-up: the model's programs are built once */
    ck_assert_msg(status == AN_OK, "%s: warm-up run: %s", s->name, an_last_error());
    live_now(base, s->clblast);
    fault_reset(0);
    status = s->run(s->ctx);
    ck_assert_msg(status == AN_OK, "%s: clean run: %s", s->name, an_last_error());
    long total = fault_calls(), clblast = fault_clblast_calls();
    ck_assert_msg(total > 0, "%s: no OpenCL call counted (is the shim linked?)", s->name);
    ck_assert_msg(!s->clblast || clblast > 0, "%s: no OpenCL call from CLBlast counted", s->name);
    if (s->keep)
        s->keep(s->ctx);
    check_live(s->name, 0, base, s->clblast);

    const char *names[4096];
    ck_assert_msg(total <= 4096, "%s: %ld calls, more than this test keeps", s->name, total);
    for (long n = 1; n <= total; n++)
        names[n - 1] = fault_call_name(n);

    int failed = 0, tolerated = 0, skipped = 0;
    for (long n = 1; n <= total; n++) {
        if (is_known_bug(s->name, names[n - 1])) {
            fprintf(stderr, "# %s: call %ld %s: SKIPPED, known bug (see known_bugs)\n", s->name, n,
                    names[n - 1]);
            skipped++;
            continue;
        }
        fault_reset(n);
        status = s->run(s->ctx);
        const char *fn = fault_failed_name();
        ck_assert_msg(fn != NULL && strcmp(fn, names[n - 1]) == 0,
                      "%s: call %ld of %ld is %s, was %s in the clean run (not deterministic?)",
                      s->name, n, total, fn ? fn : "never made", names[n - 1]);
        const char *code = an_status_name(fault_failed_code());
        if (status == AN_OK) {
            ck_assert_msg(!s->same || s->same(s->ctx),
                          "%s: %s (call %ld) failed with %s, the run returned AN_OK but its "
                          "output differs from the clean run's",
                          s->name, fn, n, code);
            fprintf(stderr, "# %s: call %ld %s -> %s: tolerated, output correct\n", s->name, n, fn,
                    code);
            tolerated++;
        } else {
            const char *text = an_last_error();
            bool names_call = strstr(text, fn) != NULL ||
                              (fault_failed_in_clblast() && strstr(text, "CLBlast") != NULL);
            ck_assert_msg(names_call && strstr(text, code) != NULL,
                          "%s: %s (call %ld%s) failed with %s; the error (%s) does not name "
                          "both:\n  %s",
                          s->name, fn, n, fault_failed_in_clblast() ? ", in CLBlast" : "", code,
                          an_status_name(status), text);
            failed++;
            /* the first error text of each function, for the log */
            bool seen = false;
            for (long m = 1; m < n && !seen; m++)
                seen = strcmp(names[m - 1], fn) == 0 && !is_known_bug(s->name, fn);
            if (!seen)
                fprintf(stderr, "# %s: call %ld %s -> %s: %s: %.300s\n", s->name, n, fn, code,
                        an_status_name(status), text);
        }
        check_live(s->name, n, base, s->clblast);
    }
    fault_reset(0);
    fprintf(stderr,
            "# %s: %ld OpenCL calls (%ld from CLBlast): %d failed cleanly, %d tolerated, "
            "%d skipped\n",
            s->name, total, clblast, failed, tolerated, skipped);
    return true;
}

/* ------------------------------------------------------------------------ */

static int run_device(void *ctx)
{
    (void)ctx;
    an_device *d = NULL;
    int status = an_device_open(NULL, &d);
    an_device_free(d);
    return status;
}

static int run_model(void *ctx)
{
    (void)ctx;
    an_model *m = NULL;
    int status = an_model_seed(dev, "torchvision-224", 11, &m);
    an_model_free(m);
    return status;
}

/* Plan and forward at batch 1 (gemv) and 2 (CLBlast), small inputs for speed. */
enum { SIDE = 95 };
typedef struct {
    float *input, *out, *ref;
    bool own_model;   /* seed a model in each run: its programs are built each time */
    an_model *shared; /* else this one */
} fwd_ctx;

static int run_forward(void *vctx)
{
    fwd_ctx *c = vctx;
    an_model *m = c->shared;
    int status = AN_OK;
    if (c->own_model)
        status = an_model_seed(dev, "torchvision-224", 5, &m);
    for (size_t i = 0; i < 3 * AN_CLASSES; i++)
        c->out[i] = NAN;
    /* batch 1, then 2: out[0..1000) and out[1000..3000) */
    for (int b = 1; b <= 2 && status == AN_OK; b++) {
        an_plan *p = NULL;
        status = an_plan_create(m, b, SIDE, SIDE, &p);
        if (status == AN_OK)
            status = an_plan_forward(p, c->input, c->out + (b - 1) * AN_CLASSES, AN_OUTPUT_PROBS);
        an_plan_free(p);
    }
    if (c->own_model)
        an_model_free(m);
    return status;
}

static void keep_forward(void *vctx)
{
    fwd_ctx *c = vctx;
    memcpy(c->ref, c->out, 3 * AN_CLASSES * sizeof(float));
}

static bool same_forward(void *vctx)
{
    fwd_ctx *c = vctx;
    for (size_t i = 0; i < 3 * AN_CLASSES; i++)
        if (!(fabsf(c->out[i] - c->ref[i]) <= 1e-6f))
            return false;
    return true;
}

/* an_classify_files on three small PNGs (one of them broken), batch 2. */
typedef struct {
    const char *paths[3];
    int got[3], ref[3];
} cls_ctx;

static int on_result(const an_result *r, void *user)
{
    cls_ctx *c = user;
    c->got[r->index] = r->status == AN_OK ? r->top[0].index : -1;
    return 0;
}

static int run_classify(void *vctx)
{
    cls_ctx *c = vctx;
    for (int i = 0; i < 3; i++)
        c->got[i] = -2;
    an_classify_options o = {2, 3, 1, NULL};
    return an_classify_files(model, c->paths, 3, &o, on_result, c, NULL);
}

static void keep_classify(void *vctx)
{
    cls_ctx *c = vctx;
    memcpy(c->ref, c->got, sizeof c->ref);
}

static bool same_classify(void *vctx)
{
    cls_ctx *c = vctx;
    return memcmp(c->ref, c->got, sizeof c->ref) == 0;
}

/* ------------------------------------------------------------------------ */

static void setup(void)
{
    if (!dev) {
        ck_assert_msg(an_device_open(NULL, &dev) == AN_OK, "%s", an_last_error());
        ck_assert_msg(an_model_seed(dev, "torchvision-224", 5, &model) == AN_OK, "%s",
                      an_last_error());
        an_load_options lo = {.seed = 5, .tuning = "fc_blocked=0"};
        int status = an_model_load_opts(dev, "torchvision-224", &lo, &model_clblast);
        ck_assert_msg(status == AN_OK, "%s", an_last_error());
    }
}

START_TEST(test_device_open)
{
    scenario s = {"device open", run_device, NULL, NULL, NULL, false};
    walk(&s);
}
END_TEST

START_TEST(test_model_seed)
{
    scenario s = {"model seed", run_model, NULL, NULL, NULL, false};
    walk(&s);
}
END_TEST

static void forward_walk(bool own_model, an_model *shared, const char *name)
{
    fwd_ctx c;
    c.own_model = own_model;
    c.shared = shared;
    size_t n = (size_t)2 * 3 * SIDE * SIDE;
    c.input = malloc(n * sizeof(float));
    c.out = malloc(3 * AN_CLASSES * sizeof(float));
    c.ref = malloc(3 * AN_CLASSES * sizeof(float));
    ck_assert(c.input && c.out && c.ref);
    for (size_t i = 0; i < n; i++)
        c.input[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    scenario s = {name, run_forward, same_forward, keep_forward, &c, shared == model_clblast};
    walk(&s);
    free(c.input), free(c.out), free(c.ref);
}

/* Every call of plan creation and forward passes, on a model whose programs
 * are built already. */
START_TEST(test_plan_forward)
{
    forward_walk(false, model, "plan + forward");
}
END_TEST

/* The same with batches > 1 on CLBlast's SGEMM (the GPU default): a failure
 * inside CLBlast must come back as an error naming CLBlast and the code. */
START_TEST(test_plan_forward_clblast)
{
    forward_walk(false, model_clblast, "plan + forward (CLBlast)");
}
END_TEST

/* Program creation and building (through the program cache: a failure there
 * falls back to a build from source) on a new model each time: only the
 * program and kernel calls are failed, as the walk above covers the rest. */
START_TEST(test_programs)
{
    fault_only("clCreateProgramWithSource,clCreateProgramWithBinary,clBuildProgram,"
               "clGetProgramInfo,clCreateKernel");
    forward_walk(true, NULL, "programs (model + plans + forward)");
    fault_only(NULL);
}
END_TEST

START_TEST(test_classify)
{
    static char paths[3][4200];
    const char *root = getenv("AN_SOURCE_ROOT");
    ck_assert_msg(root != NULL, "AN_SOURCE_ROOT is not set (run through meson test)");
    snprintf(paths[0], sizeof paths[0], "%s/tests/fuzz/corpus/png/rgb8_5x3.png", root);
    snprintf(paths[1], sizeof paths[1], "%s/tests/fuzz/corpus/png/truncated.png", root);
    snprintf(paths[2], sizeof paths[2], "%s/tests/fuzz/corpus/png/palette4_trns_6x6.png", root);
    cls_ctx c = {{paths[0], paths[1], paths[2]}, {0}, {0}};
    scenario s = {"classify", run_classify, same_classify, keep_classify, &c, false};
    if (!walk(&s))
        return;
    ck_assert_int_ge(c.ref[0], 0);
    ck_assert_int_eq(c.ref[1], -1); /* the truncated PNG failed alone */
    ck_assert_int_ge(c.ref[2], 0);
}
END_TEST

/* an_classify_files_multi on two PoCL devices: the same classes as one
 * device, every image once and in input order; then one wait fails on
 * whichever device reaches it: that device's images without a result fail
 * with a reason naming the device, the other device classifies the rest. */
enum { MULTI_N = 12 };
typedef struct {
    int top[MULTI_N], status[MULTI_N];
    size_t next;
    int out_of_order;
    char error[256];
} multi_ctx;

static int on_multi(const an_result *r, void *user)
{
    multi_ctx *c = user;
    if (r->index != c->next++ || r->index >= MULTI_N) {
        c->out_of_order = 1;
        return 1;
    }
    c->status[r->index] = r->status;
    c->top[r->index] = r->status == AN_OK ? r->top[0].index : -1;
    if (r->status != AN_OK && !c->error[0])
        snprintf(c->error, sizeof c->error, "%s", r->error);
    return 0;
}

START_TEST(test_classify_multi)
{
    static char png[2][4200];
    const char *root = getenv("AN_SOURCE_ROOT");
    ck_assert_msg(root != NULL, "AN_SOURCE_ROOT is not set (run through meson test)");
    snprintf(png[0], sizeof png[0], "%s/tests/fuzz/corpus/png/rgb8_5x3.png", root);
    snprintf(png[1], sizeof png[1], "%s/tests/fuzz/corpus/png/palette4_trns_6x6.png", root);
    const char *paths[MULTI_N];
    for (int i = 0; i < MULTI_N; i++)
        paths[i] = png[i % 3 == 0];
    an_device *devs[2] = {NULL, NULL};
    an_model *models[2] = {NULL, NULL};
    int n = 0;
    ck_assert_msg(an_device_open_list("0:0,0:1", devs, 2, &n) == AN_OK, "%s", an_last_error());
    ck_assert_int_eq(n, 2);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(an_model_seed(devs[i], "torchvision-224", 5, &models[i]) == AN_OK, "%s",
                      an_last_error());
    an_classify_options o = {1, 1, 1, NULL}; /* parts of 4 images: 3 parts */
    multi_ctx ref = {0}, got = {0};
    ck_assert_int_eq(an_classify_files(models[0], paths, MULTI_N, &o, on_multi, &ref, NULL), AN_OK);
    an_classify_stats st[2];
    ck_assert_msg(an_classify_files_multi(models, 2, paths, MULTI_N, &o, on_multi, &got, st) ==
                      AN_OK,
                  "%s", an_last_error());
    ck_assert(!got.out_of_order && got.next == MULTI_N);
    ck_assert_int_eq(memcmp(got.top, ref.top, sizeof ref.top), 0);
    ck_assert_int_eq(st[0].images + st[1].images, MULTI_N);

    /* one device fails mid-run */
    memset(&got, 0, sizeof got);
    fault_only("clWaitForEvents");
    fault_reset(2);
    int status = an_classify_files_multi(models, 2, paths, MULTI_N, &o, on_multi, &got, st);
    ck_assert_ptr_nonnull(fault_failed_name());
    fault_only(NULL);
    fault_reset(0);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    ck_assert(!got.out_of_order && got.next == MULTI_N);
    int failed = 0;
    for (int i = 0; i < MULTI_N; i++) {
        if (got.status[i] != AN_OK)
            failed++;
        else
            ck_assert_int_eq(got.top[i], ref.top[i]);
    }
    ck_assert_int_ge(failed, 1);
    ck_assert_int_le(failed, 4); /* at most the failing device's part */
    ck_assert_msg(strstr(got.error, "device 0:") && strstr(got.error, "clWaitForEvents"), "%s",
                  got.error);
    ck_assert_int_eq(st[0].images + st[1].images, MULTI_N);
    ck_assert_int_eq((int)(st[0].failed + st[1].failed), failed);
    for (int i = 0; i < 2; i++) {
        an_model_free(models[i]);
        an_device_free(devs[i]);
    }
}
END_TEST

int main(void)
{
    setenv("POCL_DEVICES", "pthread pthread", 0); /* two devices for test_classify_multi */

    /* a case per scenario (CK_RUN_CASE=programs runs one alone): Meson runs
     * each as a test of its own, two at a time (tests/meson.build) */
    Suite *s = suite_create("faults");
    const struct {
        const char *name;
        const TTest *tests[2];
    } cases[] = {
        {"open", {test_device_open, test_model_seed}},      /* device open, model seed */
        {"forward", {test_plan_forward, NULL}},             /* plan + forward */
        {"clblast", {test_plan_forward_clblast, NULL}},     /* the same on CLBlast */
        {"programs", {test_programs, NULL}},                /* program builds */
        {"classify", {test_classify, test_classify_multi}}, /* classify, on two devices */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_set_timeout(tc, 1800);
        for (int j = 0; j < 2 && cases[i].tests[j]; j++)
            tcase_add_test(tc, cases[i].tests[j]);
        suite_add_tcase(s, tc);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    an_model_free(model_clblast);
    an_model_free(model);
    an_device_free(dev);
    return failed ? 1 : 0;
}
