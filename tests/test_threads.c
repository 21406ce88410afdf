/* test_threads.c - what include/alexnet.h promises about threads: distinct
 * models (and their plans) may be used concurrently, including several models
 * on one device. Two threads each create a model (different seeds), a plan at
 * batch 1 (gemv) and one at batch 2 (CLBlast), and run forward passes over
 * and over; every output must equal, bit for bit, that of the same model run
 * alone on one thread beforehand. Two set-ups: both models on ONE an_device
 * handle (sharing its context and queue), and each thread with its own handle
 * on the same OpenCL device. Each thread also checks that its last-error text
 * stays its own. tests/sanitize.sh tsan runs this under ThreadSanitizer. */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexnet.h"

enum { SIDE = 127, ROUNDS = 3, THREADS = 2 };
static const char *variant = "torchvision-224";

typedef struct {
    an_device *dev; /* shared handle, or NULL: open one in the thread */
    uint64_t seed;
    const float *input; /* (2, 3, SIDE, SIDE) */
    float *ref;         /* 3 * AN_CLASSES: batch 1 then batch 2, from the lone run */
    int status;         /* AN_OK, or the first failure */
    char error[512];
    int mismatches;
} job;

static int fail_job(job *j, int status, const char *what)
{
    j->status = status;
    snprintf(j->error, sizeof j->error, "%s: %s", what, an_last_error());
    return status;
}

/* Model + two plans + ROUNDS forward passes each; out gets the last outputs. */
static int run_model(job *j, an_device *dev, float *out)
{
    an_model *m = NULL;
    an_plan *p1 = NULL, *p2 = NULL;
    int status = an_model_seed(dev, variant, j->seed, &m);
    if (status != AN_OK)
        return fail_job(j, status, "an_model_seed");
    if ((status = an_plan_create(m, 1, SIDE, SIDE, &p1)) != AN_OK ||
        (status = an_plan_create(m, 2, SIDE, SIDE, &p2)) != AN_OK) {
        fail_job(j, status, "an_plan_create");
        goto done;
    }
    for (int r = 0; r < ROUNDS; r++) {
        if ((status = an_plan_forward(p1, j->input, out, AN_OUTPUT_PROBS)) != AN_OK ||
            (status = an_plan_forward(p2, j->input, out + AN_CLASSES, AN_OUTPUT_LOGITS)) != AN_OK) {
            fail_job(j, status, "an_plan_forward");
            goto done;
        }
        if (j->ref && memcmp(out, j->ref, 3 * AN_CLASSES * sizeof(float)) != 0)
            j->mismatches++;
    }
    /* this thread's error text is its own: provoke one and read it back */
    an_plan *bad = NULL;
    char want[64];
    snprintf(want, sizeof want, "(got -%llu)", (unsigned long long)j->seed);
    if (an_plan_create(m, -(int)j->seed, SIDE, SIDE, &bad) != AN_ERR_INVALID_ARGUMENT ||
        !strstr(an_last_error(), want)) {
        status = fail_job(j, AN_ERR_INVALID_ARGUMENT, "last error of another thread");
        goto done;
    }
    status = AN_OK;
done:
    an_plan_free(p1);
    an_plan_free(p2);
    an_model_free(m);
    return status;
}

static void *thread_main(void *arg)
{
    job *j = arg;
    an_device *dev = j->dev;
    if (!dev && an_device_open(NULL, &dev) != AN_OK) {
        fail_job(j, AN_ERR_NO_DEVICE, "an_device_open");
        return NULL;
    }
    float *out = malloc(3 * AN_CLASSES * sizeof(float));
    if (out)
        run_model(j, dev, out);
    else
        j->status = AN_ERR_OUT_OF_MEMORY;
    free(out);
    if (!j->dev)
        an_device_free(dev);
    return NULL;
}

static float *input;
static float *refs[THREADS];

static void setup(void)
{
    if (input)
        return;
    size_t n = (size_t)2 * 3 * SIDE * SIDE;
    input = malloc(n * sizeof(float));
    ck_assert_ptr_nonnull(input);
    for (size_t i = 0; i < n; i++)
        input[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    /* the references: each model alone, on this thread */
    an_device *dev = NULL;
    ck_assert_msg(an_device_open(NULL, &dev) == AN_OK, "%s", an_last_error());
    for (int t = 0; t < THREADS; t++) {
        refs[t] = malloc(3 * AN_CLASSES * sizeof(float));
        job j = {dev, 101 + (uint64_t)t, input, NULL, AN_OK, "", 0};
        ck_assert_msg(run_model(&j, dev, refs[t]) == AN_OK, "%s", j.error);
    }
    ck_assert_msg(memcmp(refs[0], refs[1], 3 * AN_CLASSES * sizeof(float)) != 0,
                  "the two seeds give the same outputs: the test could not tell them apart");
    an_device_free(dev);
}

static void run_threads(bool shared)
{
    an_device *dev = NULL;
    if (shared)
        ck_assert_msg(an_device_open(NULL, &dev) == AN_OK, "%s", an_last_error());
    job jobs[THREADS];
    pthread_t tids[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){dev, 101 + (uint64_t)t, input, refs[t], AN_OK, "", 0};
        ck_assert_int_eq(pthread_create(&tids[t], NULL, thread_main, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_join(tids[t], NULL), 0);
    an_device_free(dev);
    for (int t = 0; t < THREADS; t++) {
        ck_assert_msg(jobs[t].status == AN_OK, "thread %d: %s", t, jobs[t].error);
        ck_assert_msg(jobs[t].mismatches == 0,
                      "thread %d (%s device): %d of %d rounds differ from the lone run", t,
                      shared ? "shared" : "own", jobs[t].mismatches, ROUNDS);
    }
}

START_TEST(test_two_models_one_device_handle)
{
    run_threads(true);
}
END_TEST

START_TEST(test_two_models_two_device_handles)
{
    run_threads(false);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 1200);
    tcase_add_test(tc, test_two_models_one_device_handle);
    tcase_add_test(tc, test_two_models_two_device_handles);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    for (int t = 0; t < THREADS; t++)
        free(refs[t]);
    free(input);
    return failed ? 1 : 0;
}
