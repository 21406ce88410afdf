/* test_api.c - the public API the project's own tools use, through
 * alexnet.h alone: load options (own device, seed, cache and kernel
 * directories, forced tuning), asynchronous enqueue and wait against the
 * blocking forward pass, per-layer profiling, the layer table of a plan, the
 * device ceilings and the model's tuning text; and alexnet_opencl.h: the
 * network on the caller's own OpenCL context and queue. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexnet.h"
#include "alexnet_opencl.h"

static char cache[64];

static int count_bins(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".bin") != NULL;
    if (d)
        closedir(d);
    return n;
}

START_TEST(test_load_opts_forward_async_profile)
{
    snprintf(cache, sizeof cache, "/tmp/an_test_api_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(cache));
    an_load_options lo = {.seed = 3, .device = "cpu", .cache_dir = cache, .kernel_dir = ""};
    an_model *model = NULL;
    ck_assert_msg(an_model_load_opts(NULL, "caffe-227", &lo, &model) == AN_OK, "%s",
                  an_last_error());
    ck_assert_ptr_nonnull(an_model_device(model));
    char tuning[1024];
    an_model_tuning(model, tuning, sizeof tuning);
    ck_assert_ptr_nonnull(strstr(tuning, "conv_tx="));
    /* seeded weights state no preprocessing: the variant's, through the public API */
    an_preprocess pp, def;
    ck_assert_int_eq(an_model_preprocess(model, &pp), 0);
    ck_assert_int_eq(an_preprocess_default("caffe-227", &def), AN_OK);
    ck_assert_int_eq(memcmp(&pp, &def, sizeof pp), 0);
    ck_assert_int_eq(an_preprocess_parse("crop=200;mean=1,2,3", &pp), AN_OK);
    char spec[256];
    an_preprocess_format(&pp, spec, sizeof spec);
    ck_assert_str_eq(spec, "resize=256x256;crop=200;mean=1,2,3;scale=1;std=1,1,1;order=bgr");

    /* a plan that cannot be made says why (its clean-up keeps the text) */
    an_plan *plan = NULL;
    ck_assert_int_ne(an_plan_create(model, 2, 8, 8, &plan), AN_OK);
    ck_assert_ptr_null(plan);
    ck_assert_str_ne(an_last_error(), "");
    ck_assert_msg(an_plan_create(model, 2, 227, 227, &plan) == AN_OK, "%s", an_last_error());
    /* the programs were cached in the given directory */
    ck_assert_int_gt(count_bins(cache), 0);

    size_t n_in = (size_t)2 * 3 * 227 * 227;
    float *x = malloc(n_in * sizeof *x), *a = malloc(2 * AN_CLASSES * sizeof *a);
    float *b = malloc(2 * AN_CLASSES * sizeof *b);
    for (size_t i = 0; i < n_in; i++)
        x[i] = (float)((i * 2654435761u) % 1000) / 10.0f - 50.0f;
    ck_assert_int_eq(an_plan_forward(plan, x, a, AN_OUTPUT_PROBS), AN_OK);
    for (size_t i = 0; i < 2 * AN_CLASSES; i++)
        b[i] = -1;
    ck_assert_int_eq(an_plan_enqueue(plan, x, b, AN_OUTPUT_PROBS), AN_OK);
    ck_assert_int_eq(an_plan_wait(plan), AN_OK);
    ck_assert_int_eq(an_plan_wait(plan), AN_OK); /* nothing in flight: at once */
    ck_assert_int_eq(memcmp(a, b, 2 * AN_CLASSES * sizeof *a), 0);

    an_layer_info layers[AN_MAX_LAYERS];
    int nl = 0;
    ck_assert_int_eq(an_plan_layers(plan, layers, &nl), AN_OK);
    ck_assert_int_eq(nl, 21);
    an_layer_time t[AN_MAX_LAYERS];
    int steps = 0;
    ck_assert_int_eq(an_plan_profile(plan, x, t, AN_MAX_LAYERS, &steps), AN_OK);
    ck_assert_int_gt(steps, 8); /* 5 conv, 3 pool, 3 linear at least */
    int convs = 0;
    for (int i = 0; i < steps; i++) {
        ck_assert_int_ge(t[i].layer, 0);
        ck_assert_int_lt(t[i].layer, nl);
        ck_assert(t[i].ms >= 0);
        convs += layers[t[i].layer].kind == AN_LAYER_CONV;
    }
    ck_assert_int_eq(convs, 5);
    ck_assert_int_eq(an_plan_profile(plan, x, t, 3, &steps), AN_OK);
    ck_assert_int_eq(steps, 3);

    double gflops = 0, gbps = 0;
    ck_assert_int_eq(an_device_ceilings(an_model_device(model), &gflops, &gbps), AN_OK);
    ck_assert(gflops > 0 && gbps > 0);

    an_plan_free(plan);
    an_model_free(model); /* frees the device it opened */
    free(x), free(a), free(b);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A forced tuning text is checked like $ALEXNET_TUNING; a bad one fails the
 * load with the parameter's name. */
START_TEST(test_load_opts_tuning)
{
    an_load_options lo = {.seed = 1, .device = "cpu", .tuning = "conv_tx=2,pool_px=1"};
    an_model *model = NULL;
    ck_assert_msg(an_model_load_opts(NULL, "torchvision-224", &lo, &model) == AN_OK, "%s",
                  an_last_error());
    char tuning[1024];
    an_model_tuning(model, tuning, sizeof tuning);
    ck_assert_ptr_nonnull(strstr(tuning, "conv_tx=2,"));
    ck_assert_ptr_nonnull(strstr(tuning, "(forced)"));
    an_model_free(model);
    lo.tuning = "conv_tx=2,no_such=1";
    ck_assert_int_eq(an_model_load_opts(NULL, "torchvision-224", &lo, &model),
                     AN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(model);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "no_such"));
}
END_TEST

/* Half-precision FC weights (AN_LOAD_WEIGHTS_F16) against float32 on the
 * same seeded weights: logits within a relative L2 error of 2e-3 (measured
 * 3.5e-4 to 3.7e-4 on PoCL. Each weight's rounding is relative 2^-11 = 4.9e-4
 * at most and about 2^-11/sqrt(3) = 2.8e-4 rms; independent over the 9216-
 * and 4096-long dot products, it stays at that rms relative size per layer
 * and adds up in quadrature over the three FC layers; 2e-3 is four times
 * the worst single rounding, so only a real defect passes it), for both
 * variants at batch 1 (gemv_blocked) and 3 (fc_gemm), also when the tuning
 * asks for the CLBlast layout (fc_blocked=0), which half weights override, and
 * with the K-blocked GEMM (fc_kb) in K blocks of 128 and panels of 4 tiles. */
START_TEST(test_half_weights)
{
    static const char *const variants[] = {"torchvision-224", "caffe-227"};
    for (int vi = 0; vi < 2; vi++) {
        int side = vi ? 227 : 224, batch = 3;
        size_t n_in = (size_t)batch * 3 * side * side;
        float *x = malloc(n_in * sizeof *x), *a = malloc(batch * AN_CLASSES * sizeof *a);
        float *b = malloc(batch * AN_CLASSES * sizeof *b);
        for (size_t i = 0; i < n_in; i++)
            x[i] = (float)((i * 40503u) % 997) / 300.0f - 1.5f;
        an_model *models[2] = {NULL, NULL};
        for (int h = 0; h < 2; h++) {
            an_load_options lo = {.seed = 7,
                                  .device = "cpu",
                                  .tuning = h ? "fc_blocked=0,fc_kb=128,fc_rt=4" : "",
                                  .flags = h ? AN_LOAD_WEIGHTS_F16 : 0};
            ck_assert_msg(an_model_load_opts(NULL, variants[vi], &lo, &models[h]) == AN_OK, "%s",
                          an_last_error());
        }
        char tuning[1024];
        an_model_tuning(models[1], tuning, sizeof tuning);
        ck_assert_ptr_nonnull(strstr(tuning, "fc_blocked=1"));
        for (int n = 1; n <= batch; n += batch - 1) {
            for (int h = 0; h < 2; h++) {
                an_plan *plan = NULL;
                ck_assert_msg(an_plan_create(models[h], n, side, side, &plan) == AN_OK, "%s",
                              an_last_error());
                float *out = h ? b : a;
                for (int i = 0; i < n * AN_CLASSES; i++)
                    out[i] = __builtin_nanf("");
                ck_assert_int_eq(an_plan_forward(plan, x, out, AN_OUTPUT_LOGITS), AN_OK);
                an_plan_free(plan);
            }
            double num = 0, den = 0;
            for (int i = 0; i < n * AN_CLASSES; i++) {
                ck_assert(!__builtin_isnan(a[i]) && !__builtin_isnan(b[i]));
                num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
                den += (double)a[i] * a[i];
            }
            double rel = __builtin_sqrt(num / den);
            fprintf(stderr, "# %s batch %d: half vs float32 weights, logits relative L2 %.3g\n",
                    variants[vi], n, rel);
            ck_assert_msg(rel < 2e-3, "%s batch %d: relative L2 %g", variants[vi], n, rel);
            ck_assert(rel > 0); /* the half weights were used */
        }
        an_model_free(models[0]);
        an_model_free(models[1]);
        free(x), free(a), free(b);
    }
    an_load_options lo = {.seed = 1, .device = "cpu", .flags = 4};
    an_model *model = NULL;
    ck_assert_int_eq(an_model_load_opts(NULL, "torchvision-224", &lo, &model),
                     AN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "unknown flags 0x4"));
}
END_TEST

/* Logits of torchvision-224 with seed 5 for one 67x67 input on dev. */
static int forward_small(an_device *dev, float *out)
{
    an_model *model = NULL;
    an_plan *plan = NULL;
    float x[3 * 67 * 67];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = (float)((i * 40503u) % 997) / 300.0f - 1.5f;
    for (int i = 0; i < AN_CLASSES; i++)
        out[i] = __builtin_nanf("");
    int status = an_model_seed(dev, "torchvision-224", 5, &model);
    if (status == AN_OK)
        status = an_plan_create(model, 1, 67, 67, &plan);
    if (status == AN_OK)
        status = an_plan_forward(plan, x, out, AN_OUTPUT_LOGITS);
    an_plan_free(plan);
    an_model_free(model);
    return status;
}

/* The caller's context and queue: the same logits as a device the library
 * opened; the library's references keep the objects alive after the caller
 * releases its own; a queue without profiling runs the network but refuses
 * to time it; an out-of-order queue and a queue of another context are
 * refused. */
START_TEST(test_device_from_cl)
{
    float ref[AN_CLASSES], got[AN_CLASSES];
    an_device *own = NULL;
    ck_assert_msg(an_device_open("cpu", &own) == AN_OK, "%s", an_last_error());
    ck_assert_msg(forward_small(own, ref) == AN_OK, "%s", an_last_error());
    cl_device_id d = NULL;
    an_device_get_cl(own, NULL, &d, NULL);
    ck_assert_ptr_nonnull(d);
    an_device_info want;
    an_device_get_info(own, &want);

    cl_int err = CL_SUCCESS;
    cl_context ctx = clCreateContext(NULL, 1, &d, NULL, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);

    /* NULL queue: the library makes its own (with profiling) */
    an_device *dev = NULL;
    ck_assert_msg(an_device_from_cl(ctx, d, NULL, &dev) == AN_OK, "%s", an_last_error());
    cl_context got_ctx = NULL;
    cl_command_queue got_q = NULL;
    an_device_get_cl(dev, &got_ctx, NULL, &got_q);
    ck_assert_ptr_eq(got_ctx, ctx);
    ck_assert_ptr_nonnull(got_q);
    an_device_info info;
    an_device_get_info(dev, &info);
    ck_assert_str_eq(info.name, want.name);
    ck_assert_int_eq(info.platform_index, want.platform_index);
    ck_assert_int_eq(info.device_index, want.device_index);
    ck_assert_msg(forward_small(dev, got) == AN_OK, "%s", an_last_error());
    ck_assert_int_eq(memcmp(ref, got, sizeof ref), 0);
    double gflops = 0, gbps = 0;
    an_device_free(dev);

    /* the caller's queue, without profiling; the caller's references go first */
    cl_command_queue q = clCreateCommandQueue(ctx, d, 0, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    ck_assert_msg(an_device_from_cl(ctx, d, q, &dev) == AN_OK, "%s", an_last_error());
    an_device_get_cl(dev, NULL, NULL, &got_q);
    ck_assert_ptr_eq(got_q, q);
    clReleaseCommandQueue(q);
    clReleaseContext(ctx);
    ck_assert_msg(forward_small(dev, got) == AN_OK, "%s", an_last_error());
    ck_assert_int_eq(memcmp(ref, got, sizeof ref), 0);
    ck_assert_int_eq(an_device_ceilings(dev, &gflops, &gbps), AN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "PROFILING"));
    an_model *model = NULL;
    an_plan *plan = NULL;
    ck_assert_int_eq(an_model_seed(dev, "torchvision-224", 5, &model), AN_OK);
    ck_assert_int_eq(an_plan_create(model, 1, 67, 67, &plan), AN_OK);
    float x[3 * 67 * 67] = {0};
    an_layer_time t[AN_MAX_LAYERS];
    int steps = 0;
    ck_assert_int_eq(an_plan_profile(plan, x, t, AN_MAX_LAYERS, &steps), AN_ERR_INVALID_ARGUMENT);
    an_plan_free(plan);
    an_model_free(model);
    an_device_free(dev); /* releases the last references to ctx and q */

    /* refused: NULL objects, another context's queue, an out-of-order queue */
    ctx = clCreateContext(NULL, 1, &d, NULL, NULL, &err);
    cl_context ctx2 = clCreateContext(NULL, 1, &d, NULL, NULL, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    ck_assert_int_eq(an_device_from_cl(NULL, d, NULL, &dev), AN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(dev);
    ck_assert_int_eq(an_device_from_cl(ctx, NULL, NULL, &dev), AN_ERR_INVALID_ARGUMENT);
    q = clCreateCommandQueue(ctx2, d, 0, &err);
    ck_assert_int_eq(err, CL_SUCCESS);
    ck_assert_int_eq(an_device_from_cl(ctx, d, q, &dev), AN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "another context"));
    ck_assert_ptr_null(dev);
    clReleaseCommandQueue(q);
    q = clCreateCommandQueue(ctx, d, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
    if (err == CL_SUCCESS) { /* a device may not offer out-of-order queues at all */
        ck_assert_int_eq(an_device_from_cl(ctx, d, q, &dev), AN_ERR_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(strstr(an_last_error(), "out of order"));
        clReleaseCommandQueue(q);
    }
    clReleaseContext(ctx);
    clReleaseContext(ctx2);
    an_device_free(own);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_load_opts_forward_async_profile);
    tcase_add_test(tc, test_load_opts_tuning);
    tcase_add_test(tc, test_half_weights);
    tcase_add_test(tc, test_device_from_cl);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(api_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
