/* bench.c - `alexnet bench`: measures, never asserts. The device's two
 * ceilings (FMA-chain kernels in float8 and float16 for GFLOP/s, a large
 * float4 copy for GB/s) are measured here on the selected device (the best
 * over vector widths and work-group sizes 1, 64 and 256); then, per batch size, the median
 * device time of every layer from profiling events, its GFLOP/s, bytes and
 * GB/s and its share of the ceilings, and the end-to-end wall-clock time per
 * batch (upload and read-back included): its median, the latency percentiles
 * over the runs (min, p50, p90, p99, max, nearest rank; --duration repeats
 * the timed passes for that many seconds instead), the first inference
 * after the plan is made (first launches compile) and the model's load time
 * (weights, their arrangement and upload), as onnxruntime_perf_test and
 * trtexec report them. Output: a table, --csv or --json. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "alexnet.h"
#include "clock.h"
#include "bench.h"

enum { EXIT_USAGE = 2 };

/* The whole of text as a base-10 integer in [lo, hi]: 0, else -1. */
static int parse_int(const char *text, int lo, int hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

typedef enum { OUT_TABLE, OUT_CSV, OUT_JSON } out_format;

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The nearest-rank percentile p (0..100) of v[0..n) sorted ascending. */
static double percentile(const double *v, int n, double p)
{
    int rank = (int)ceil(p / 100.0 * n);
    if (rank < 1)
        rank = 1;
    return v[(rank > n ? n : rank) - 1];
}

/* ------------------------------------------------------------------------ */
/* Work per layer                                                           */

/* FLOPs and bytes moved of table layer i for a batch, from the shapes; the
 * linear layers' weights take fc_wbytes bytes each (4, or 2 for half). */
static void layer_work(const an_layer_info *l, int i, const an_layer_info *in, int batch,
                       int fc_wbytes, double *flop, double *bytes)
{
    double n = batch, in_elems = (double)in->c * in->h * in->w;
    double out_elems = (double)l[i].c * l[i].h * l[i].w;
    double wt = 0;
    *flop = 0;
    switch (l[i].kind) {
    case AN_LAYER_CONV:
        /* each output sees C/groups input channels */
        *flop = 2.0 * n * out_elems * in->c / (l[i].groups > 1 ? l[i].groups : 1) * l[i].kernel *
                l[i].kernel;
        wt = (double)l[i].params;
        break;
    case AN_LAYER_LINEAR:
        *flop = 2.0 * n * out_elems * in_elems;
        wt = (double)l[i].params * fc_wbytes / 4.0;
        break;
    case AN_LAYER_MAXPOOL:
        *flop = n * out_elems * l[i].kernel * l[i].kernel;
        break;
    case AN_LAYER_ADAPTIVE_AVGPOOL:
        *flop = n * in_elems;
        break;
    default:
        break;
    }
    *bytes = 4.0 * (wt + n * in_elems + n * out_elems);
}

typedef struct {
    const char *variant;
    int batches[16], n_batches, runs;
    double duration; /* seconds of timed end-to-end passes; 0: exactly `runs` */
    out_format format;
    int fc_wbytes; /* bytes per linear weight: 4, or 2 with --weights-dtype f16 */
} bench_args;

/* A JSON number printed with fmt (json-c keeps the text as given). */
static json_object *num(const char *fmt, double v)
{
    char text[64];
    snprintf(text, sizeof text, fmt, v);
    return json_object_new_double_s(v, text);
}

/* Appends {"variant", "batch", "layer", then pairs of key and value printed
 * with "%.4f"-style formats given as "key:fmt"}. */
static void json_row(json_object *rows, const char *variant, int batch, const char *layer, int n,
                     const char *const *keys, const char *const *fmts, const double *values)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "variant", json_object_new_string(variant));
    json_object_object_add(o, "batch", json_object_new_int(batch));
    json_object_object_add(o, "layer", json_object_new_string(layer));
    for (int i = 0; i < n; i++)
        json_object_object_add(o, keys[i], num(fmts[i], values[i]));
    json_object_array_add(rows, o);
}

static int bench_batch(an_model *model, int batch, const bench_args *a, double gflops, double gbps,
                       double load_ms, int *first_row, json_object *rows)
{
    int status = AN_OK, rc = 1, hh = 0, ww = 0;
    an_plan *plan = NULL;
    an_variant_input_size(a->variant, &hh, &ww);
    size_t n_in = (size_t)batch * 3 * hh * ww;
    float *x = malloc(n_in * sizeof *x), *y = malloc((size_t)batch * AN_CLASSES * sizeof *y);
    double(*ms)[64] = calloc(AN_MAX_LAYERS, sizeof *ms);
    int n_wall = 0, cap_wall = 64;
    double *wall = malloc((size_t)cap_wall * sizeof *wall);
    if (!x || !y || !ms || !wall)
        goto done;
    uint64_t s = 1;
    for (size_t i = 0; i < n_in; i++) {
        s = s * 6364136223846793005ull + 1;
        x[i] = (float)((s >> 40) * (1.0 / 16777216.0)) - 0.5f;
    }
    if ((status = an_plan_create(model, batch, hh, ww, &plan)) != AN_OK) {
        fprintf(stderr, "alexnet bench: batch %d: %s\n", batch, an_last_error());
        goto done;
    }
    /* warm up, timed apart: first launches compile (CLBlast, PoCL) */
    double t_first = now();
    if ((status = an_plan_forward(plan, x, y, AN_OUTPUT_LOGITS)) != AN_OK)
        goto fail;
    double first_ms = (now() - t_first) * 1e3;
    an_layer_time t[AN_MAX_LAYERS];
    int steps = 0, runs = a->runs < 64 ? a->runs : 64;
    for (int r = 0; r < runs; r++) {
        if ((status = an_plan_profile(plan, x, t, AN_MAX_LAYERS, &steps)) != AN_OK)
            goto fail;
        for (int i = 0; i < steps; i++)
            ms[i][r] = t[i].ms;
    }
    /* end to end: `runs` passes, or as many as fit in --duration (at least `runs`) */
    for (double t_end = now() + a->duration; n_wall < runs || now() < t_end;) {
        if (n_wall == cap_wall) {
            double *grown =
                cap_wall < (1 << 24) ? realloc(wall, 2 * (size_t)cap_wall * sizeof *wall) : NULL;
            if (!grown)
                break; /* 16 M passes are enough for any percentile */
            wall = grown, cap_wall *= 2;
        }
        double t0 = now();
        if ((status = an_plan_forward(plan, x, y, AN_OUTPUT_PROBS)) != AN_OK)
            goto fail;
        wall[n_wall++] = (now() - t0) * 1e3;
    }

    int n_layers = 0;
    an_layer_info l[AN_MAX_LAYERS];
    an_plan_layers(plan, l, &n_layers);
    an_device_info dinfo;
    an_device_get_info(an_model_device(model), &dinfo);
    const an_device_info *d = &dinfo;
    if (a->format == OUT_TABLE)
        printf("\n%s, batch %d, %s, median of %d runs\n%-20s %10s %10s %10s %9s %7s %7s\n",
               a->variant, batch, d->name, runs, "layer", "ms", "GFLOP/s", "MB", "GB/s", "%flop",
               "%bw");
    if (a->format == OUT_CSV && *first_row)
        printf("variant,batch,layer,ms,gflops,mbytes,gbps,pct_flop_ceiling,pct_bw_ceiling\n");
    double total = 0, conv_ms = 0, conv_flop = 0;
    for (int i = 0; i < steps; i++) {
        int li = t[i].layer;
        an_layer_info in = li > 0 ? l[li - 1] : (an_layer_info){.c = 3, .h = hh, .w = ww};
        if (li > 0 && l[li - 1].kind == AN_LAYER_DROPOUT && li > 1)
            in = l[li - 1];
        double flop, bytes, m = median(ms[i], runs);
        layer_work(l, li, &in, batch, a->fc_wbytes, &flop, &bytes);
        double gf = m > 0 ? flop / (m * 1e-3) * 1e-9 : 0,
               gb = m > 0 ? bytes / (m * 1e-3) * 1e-9 : 0;
        char name[48];
        snprintf(name, sizeof name, "%s-%d%s", l[li].type_name, l[li].index,
                 t[i].clblast ? " (CLBlast)" : "");
        total += m;
        if (l[li].kind == AN_LAYER_CONV) {
            conv_ms += m;
            conv_flop += flop;
        }
        if (a->format == OUT_TABLE)
            printf("%-20s %10.3f %10.1f %10.2f %9.2f %6.1f%% %6.1f%%\n", name, m, gf, bytes / 1e6,
                   gb, 100 * gf / gflops, 100 * gb / gbps);
        else if (a->format == OUT_CSV)
            printf("%s,%d,%s,%.4f,%.2f,%.3f,%.3f,%.2f,%.2f\n", a->variant, batch, name, m, gf,
                   bytes / 1e6, gb, 100 * gf / gflops, 100 * gb / gbps);
        else
            json_row(rows, a->variant, batch, name, 4,
                     (const char *const[]){"ms", "gflops", "mbytes", "gbps"},
                     (const char *const[]){"%.4f", "%.2f", "%.3f", "%.3f"},
                     (const double[]){m, gf, bytes / 1e6, gb});
    }
    double wm = median(wall, n_wall), ips = batch / (wm * 1e-3); /* median sorts wall */
    double conv_gf = conv_ms > 0 ? conv_flop / (conv_ms * 1e-3) * 1e-9 : 0;
    /* latency over the runs, then the one-off costs */
    static const char *const lat_name[] = {"latency_min", "latency_p50", "latency_p90",
                                           "latency_p99", "latency_max", "first_inference",
                                           "model_load"};
    double lat[] = {wall[0],
                    percentile(wall, n_wall, 50),
                    percentile(wall, n_wall, 90),
                    percentile(wall, n_wall, 99),
                    wall[n_wall - 1],
                    first_ms,
                    load_ms};
    enum { N_LAT = sizeof lat / sizeof lat[0] };
    if (a->format == OUT_TABLE) {
        printf("%-20s %10.3f\nconv layers together: %.1f GFLOP/s, %.1f%% of the FMA ceiling\n"
               "end to end: %.3f ms per batch of %d (wall clock, upload and read-back included), "
               "%.1f images/s\n",
               "layers total", total, conv_gf, 100 * conv_gf / gflops, wm, batch, ips);
        printf("latency over %d runs, ms: min %.3f, p50 %.3f, p90 %.3f, p99 %.3f, max %.3f; "
               "first inference %.3f ms; model load %.3f ms\n",
               n_wall, lat[0], lat[1], lat[2], lat[3], lat[4], lat[5], lat[6]);
    } else if (a->format == OUT_CSV) {
        printf("%s,%d,end_to_end,%.4f,,,,,\n%s,%d,images_per_second,%.3f,,,,,\n", a->variant, batch,
               wm, a->variant, batch, ips);
        for (int i = 0; i < N_LAT; i++)
            printf("%s,%d,%s,%.4f,,,,,\n", a->variant, batch, lat_name[i], lat[i]);
    } else {
        json_row(rows, a->variant, batch, "end_to_end", 3,
                 (const char *const[]){"ms", "images_per_second", "conv_gflops"},
                 (const char *const[]){"%.4f", "%.3f", "%.2f"}, (const double[]){wm, ips, conv_gf});
        for (int i = 0; i < N_LAT; i++)
            json_row(rows, a->variant, batch, lat_name[i], 1, (const char *const[]){"ms"},
                     (const char *const[]){"%.4f"}, &lat[i]);
    }
    *first_row = 0;
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "alexnet bench: %s (%s)\n", an_last_error(), an_status_name(status));
done:
    an_plan_free(plan);
    free(x);
    free(y);
    free(ms);
    free(wall);
    return rc;
}

static void log_stderr(const char *line, void *user)
{
    (void)user;
    fprintf(stderr, "alexnet bench: tune: %s\n", line);
}

/* --tune quick: opens the device into *dev and runs an_tune's quick search
 * for the variant at these batches (layers with entries are reused); 0, or
 * prints why not and returns -1 with nothing left open. */
static int tune_quick(const char *device, const char *variant, const int *batches, int n,
                      an_device **dev)
{
    int status = an_device_open(device, dev);
    if (status == AN_OK) {
        an_tune_options to = {
            .variants = variant, .batches = batches, .n_batches = n, .quick = 1, .log = log_stderr};
        status = an_tune(*dev, &to);
    }
    if (status == AN_OK)
        return 0;
    fprintf(stderr, "alexnet bench: --tune quick: %s (%s)\n", an_last_error(),
            an_status_name(status));
    an_device_free(*dev);
    *dev = NULL;
    return -1;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"variant", required_argument, NULL, 'v'}, {"batch", required_argument, NULL, 'b'},
        {"runs", required_argument, NULL, 'r'},    {"duration", required_argument, NULL, 'T'},
        {"device", required_argument, NULL, 'd'},  {"weights", required_argument, NULL, 'w'},
        {"csv", no_argument, NULL, 'c'},           {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},          {"weights-dtype", required_argument, NULL, 'D'},
        {"tune", required_argument, NULL, 't'},    {NULL, 0, NULL, 0}};
    int quick = 0;
    bench_args a = {"torchvision-224", {1, 16, 64}, 3, 5, 0, OUT_TABLE, 4};
    const char *device = NULL, *weights = NULL;
    unsigned flags = 0; /* --weights-dtype f16: AN_LOAD_WEIGHTS_F16 */
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            a.variant = optarg;
            break;
        case 'd':
            device = optarg;
            break;
        case 'w':
            weights = optarg;
            break;
        case 'c':
            a.format = OUT_CSV;
            break;
        case 'D':
            if (strcmp(optarg, "f16") != 0 && strcmp(optarg, "f32") != 0) {
                fprintf(stderr, "alexnet bench: --weights-dtype takes f32 or f16, not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            flags = strcmp(optarg, "f16") == 0 ? AN_LOAD_WEIGHTS_F16 : 0;
            a.fc_wbytes = flags ? 2 : 4;
            break;
        case 'j':
            a.format = OUT_JSON;
            break;
        case 'r':
            if (parse_int(optarg, 1, 64, &a.runs) != 0) {
                fprintf(stderr, "alexnet bench: --runs takes 1..64, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'T': {
            char *end = NULL;
            errno = 0;
            a.duration = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(a.duration > 0 && a.duration <= 86400)) {
                fprintf(stderr, "alexnet bench: --duration takes seconds in (0, 86400], not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        }
        case 'b': {
            a.n_batches = 0;
            char *save = NULL, *copy = strdup(optarg);
            for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t;
                 t = strtok_r(NULL, ",", &save)) {
                if (a.n_batches == 16 || parse_int(t, 1, 1 << 20, &a.batches[a.n_batches]) != 0) {
                    fprintf(stderr, "alexnet bench: --batch takes up to 16 sizes, not '%s'\n", t);
                    free(copy);
                    return EXIT_USAGE;
                }
                a.n_batches++;
            }
            free(copy);
            if (a.n_batches == 0) {
                fprintf(stderr, "alexnet bench: --batch takes sizes like 1,16,64\n");
                return EXIT_USAGE;
            }
            break;
        }
        case 't':
            if (strcmp(optarg, "quick") != 0) {
                fprintf(stderr, "alexnet bench: --tune takes 'quick', not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            quick = 1;
            break;
        case 'h':
            printf("usage: alexnet bench [--variant NAME] [--batch 1,16,64] [--runs N] "
                   "[--duration S] [--device SEL] [--weights FILE] [--csv | --json]\n"
                   "       [--weights-dtype f32|f16] [--tune quick]\n"
                   "--tune quick: first tune the layers of each batch's plan that the tuning "
                   "file has no\n       entries for (a short search, progress on stderr), "
                   "then measure with them\n");
            return 0;
        default:
            return EXIT_USAGE;
        }
    }
    an_model *model = NULL;
    an_device *own = NULL; /* opened here for --tune quick, freed after the model */
    an_load_options lo = {.weights = weights, .seed = 1, .device = device, .flags = flags};
    if (quick && tune_quick(device, a.variant, a.batches, a.n_batches, &own) != 0)
        return EXIT_USAGE;
    double t_load = now();
    int rc = 0, status = an_model_load_opts(own, a.variant, &lo, &model);
    double load_ms = (now() - t_load) * 1e3; /* device opening included */
    if (status != AN_OK) {
        fprintf(stderr, "alexnet bench: %s: %s (%s)\n", weights ? weights : "seeded weights",
                an_last_error(), an_status_name(status));
        an_device_free(own);
        return EXIT_USAGE;
    }
    an_device *dev = an_model_device(model);
    an_device_info info;
    an_device_get_info(dev, &info);
    double gflops = 0, gbps = 0;
    status = an_device_ceilings(dev, &gflops, &gbps);
    if (status != AN_OK) {
        fprintf(stderr, "alexnet bench: ceilings: %s\n", an_last_error());
        rc = 1;
        goto done;
    }
    char tuning[1024];
    an_model_tuning(model, tuning, sizeof tuning);
    if (a.format == OUT_TABLE)
        printf("device: %s (%s, %s), %u compute units\nceilings measured here: %.1f GFLOP/s "
               "(FMA chains), %.1f GB/s (float4 copy, read + write)\n"
               "tuning: %s\nweights: %s\n",
               info.name, info.platform, info.driver, info.compute_units, gflops, gbps, tuning,
               flags ? "FC layers float16 (--weights-dtype f16), conv float32" : "float32");
    else if (a.format == OUT_CSV)
        printf("# device,%s,ceiling_gflops,%.2f,ceiling_gbps,%.2f\n", info.name, gflops, gbps);
    json_object *root = json_object_new_object(), *rows = json_object_new_array();
    json_object_object_add(root, "device", json_object_new_string(info.name));
    json_object_object_add(root, "ceiling_gflops", num("%.2f", gflops));
    json_object_object_add(root, "ceiling_gbps", num("%.2f", gbps));
    json_object_object_add(root, "weights_dtype", json_object_new_string(flags ? "f16" : "f32"));
    json_object_object_add(root, "rows", rows);
    int first = 1;
    for (int i = 0; i < a.n_batches && rc == 0; i++)
        rc = bench_batch(model, a.batches[i], &a, gflops, gbps, load_ms, &first, rows);
    if (a.format == OUT_JSON)
        printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
done:
    an_model_free(model);
    an_device_free(own);
    return rc;
}
