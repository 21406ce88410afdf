/* alexnet.c - the command-line program: parses arguments, calls the library,
 * prints. Subcommands: devices, summary, forward. Exit status: 0 success,
 * 1 a run that failed part-way, 2 usage or set-up errors. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alexnet.h"
#include "apps.h"
#include "bench.h"
#include "npy.h"

enum { EXIT_USAGE = APP_EXIT_USAGE };

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: alexnet COMMAND [options]\n"
        "\n"
        "commands:\n"
        "  devices                         list every OpenCL device\n"
        "  summary --variant NAME [--input HxW]\n"
        "                                  layer table, shapes and parameter counts\n"
        "  forward --variant NAME [--weights FILE.safetensors | --seed N] [--device SEL]\n"
        "          --input X.npy --output Y.npy [--probs] [--allow-nonfinite]\n"
        "          [--weights-dtype f32|f16]\n"
        "                                  logits (or probabilities) for a (N,3,H,W) batch\n"
        "  classify [--variant NAME] [--weights FILE] [--device SEL] [--batch N] [--top K]\n"
        "           [--json] [--labels FILE] [--allow-nonfinite] [--weights-dtype f32|f16]\n"
        "           INPUT...\n"
        "                                  top-K classes of PNG/JPEG files (see classify --help)\n"
        "  eval [--variant NAME] [--weights FILE | --seed N] [--device SEL] [--batch N]\n"
        "       [--json] [--weights-dtype f32|f16] (DIR | --ground-truth FILE [--root DIR])\n"
        "                                  top-1/top-5 accuracy against ground truth\n"
        "  bench [--variant NAME] [--batch 1,16,64] [--runs N] [--duration S] [--csv | --json]\n"
        "        [--weights-dtype f32|f16]\n"
        "                                  per-layer and end-to-end timings, device ceilings\n"
        "  tune [--variant NAME[,NAME]] [--batch 1,16,64] [--runs N] [--dry-run]\n"
        "                                  search kernel parameters for the device, checked\n"
        "                                  against a host reference; stored in tuning.txt\n"
        "  convert [--variant NAME] IN.pth|IN.caffemodel OUT.safetensors\n"
        "                                  published weights to this runtime's format\n"
        "\n"
        "variants: %s\n"
        "devices:  --device or $ALEXNET_DEVICE: P:D, gpu, cpu, accelerator, or part of a name;\n"
        "          default: the first GPU, else the first device\n"
        "--weights-dtype f16: the FC layers' weights stored as half precision (half the\n"
        "          bytes, float arithmetic; rounded to nearest even from float32 files)\n",
        app_variant_list(", "));
}

static int fail_setup(const char *what, int status)
{
    fprintf(stderr, "alexnet: %s: %s (%s)\n", what, an_last_error(), an_status_name(status));
    return EXIT_USAGE;
}

double app_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

const char *app_variant_list(const char *sep)
{
    static char list[512];
    size_t used = 0;
    list[0] = '\0';
    const char *const *names = an_variant_names();
    for (int i = 0; names[i] && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? sep : "", names[i]);
    return list;
}

int app_parse_int(const char *text, int lo, int hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int app_parse_int_list(const char *text, int lo, int hi, int *out, int max)
{
    int n = 0;
    char *copy = strdup(text), *save = NULL;
    if (!copy)
        return -1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (n == max || app_parse_int(t, lo, hi, &out[n++]) != 0) {
            n = -1;
            break;
        }
    free(copy);
    return n;
}

/* ------------------------------------------------------------------------ */
/* devices                                                                  */

static const char *gib(uint64_t bytes, char *buf, size_t size)
{
    if (bytes >= (1ull << 30))
        snprintf(buf, size, "%.1f GiB", (double)bytes / (1ull << 30));
    else if (bytes >= (1ull << 20))
        snprintf(buf, size, "%.0f MiB", (double)bytes / (1ull << 20));
    else
        snprintf(buf, size, "%.0f KiB", (double)bytes / 1024);
    return buf;
}

static int cmd_devices(void)
{
    an_device_info *list = NULL;
    int n = 0, status = an_device_list(&list, &n);
    if (status != AN_OK)
        return fail_setup("devices", status);
    printf("%-5s %-28s %-40s %-5s %-10s %-6s %-12s %4s %10s %10s %9s %6s %4s %4s\n", "index",
           "platform", "name", "type", "class", "shared", "OpenCL C", "CUs", "global", "max alloc",
           "local", "max wg", "fp16", "fp64");
    for (int i = 0; i < n; i++) {
        const an_device_info *d = &list[i];
        char g[24], a[24], l[24], idx[16];
        const char *cver =
            strncmp(d->c_version, "OpenCL C ", 9) == 0 ? d->c_version + 9 : d->c_version;
        snprintf(idx, sizeof idx, "%d:%d", d->platform_index, d->device_index);
        printf("%-5s %-28.28s %-40.40s %-5s %-10s %-6s %-12.12s %4u %10s %10s %9s %6zu %4s %4s\n",
               idx, d->platform, d->name, an_device_type_name(d->type),
               an_device_class_name(d->device_class), d->unified_memory ? "yes" : "no", cver,
               d->compute_units, gib(d->global_mem, g, sizeof g), gib(d->max_alloc, a, sizeof a),
               gib(d->local_mem, l, sizeof l), d->max_work_group, d->fp16 ? "yes" : "no",
               d->fp64 ? "yes" : "no");
    }
    free(list);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* summary                                                                  */

static void commas(int64_t v, char *buf, size_t size)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%" PRId64, v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

/* Says on stderr when the input is not the variant's own size, and which
 * layers floored a division: the seed document's 224-versus-227 question. */
static void note_input_size(const char *variant, int h, int w, const an_layer_info *layers, int n)
{
    int nh = 0, nw = 0;
    an_variant_input_size(variant, &nh, &nw);
    if (h == nh && w == nw)
        return;
    fprintf(stderr, "note: %s runs at %dx%d, not its native %dx%d\n", variant, h, w, nh, nw);
    for (int i = 0; i < n; i++)
        if (!layers[i].exact)
            fprintf(stderr, "note:   %s-%d: %s, floored to %dx%d\n", layers[i].type_name,
                    layers[i].index, layers[i].arith, layers[i].h, layers[i].w);
}

static int parse_hw(const char *s, int *h, int *w)
{
    char x;
    int used = 0;
    if (sscanf(s, "%d%c%d%n", h, &x, w, &used) == 3 && (x == 'x' || x == 'X') && !s[used])
        return 0;
    if (sscanf(s, "%d%n", h, &used) == 1 && !s[used]) {
        *w = *h;
        return 0;
    }
    return -1;
}

static int cmd_summary(const char *variant, const char *input)
{
    int h = 0, w = 0;
    if (an_variant_input_size(variant, &h, &w) != AN_OK)
        return fail_setup("summary", AN_ERR_UNKNOWN_VARIANT);
    if (input && parse_hw(input, &h, &w) != 0) {
        fprintf(stderr, "alexnet: --input takes HxW (e.g. 256x256), not '%s'\n", input);
        return EXIT_USAGE;
    }
    an_layer_info layers[AN_MAX_LAYERS];
    int n = 0, status = an_variant_infer(variant, 3, h, w, layers, &n);
    if (status != AN_OK)
        return fail_setup("summary", status);
    note_input_size(variant, h, w, layers, n);

    const char *rule = "------------------------------------------------------------------------"
                       "--------------------------------";
    printf("%s, input [-1, 3, %d, %d]\n%s\n", variant, h, w, rule);
    printf("%22s %26s %15s    %s\n", "Layer (type)", "Output Shape", "Param #", "kernel");
    printf("%.*s\n", (int)strlen(rule),
           "================================================="
           "================================================="
           "==============");
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const an_layer_info *l = &layers[i];
        char name[40], shape[40], params[32];
        snprintf(name, sizeof name, "%s-%d", l->type_name, l->index);
        if (l->h == 1 && l->w == 1 &&
            (l->kind == AN_LAYER_LINEAR || l->kind == AN_LAYER_DROPOUT ||
             (l->kind == AN_LAYER_RELU && i > 0 && layers[i - 1].kind == AN_LAYER_LINEAR)))
            snprintf(shape, sizeof shape, "[-1, %d]", l->c);
        else
            snprintf(shape, sizeof shape, "[-1, %d, %d, %d]", l->c, l->h, l->w);
        commas(l->params, params, sizeof params);
        if (l->arith[0])
            printf("%22s %26s %15s    %s\n", name, shape, params, l->arith);
        else
            printf("%22s %26s %15s\n", name, shape, params);
        total += l->params;
    }
    char t[32];
    commas(total, t, sizeof t);
    printf("%s\nTotal params: %s\n", rule, t);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* forward                                                                  */

typedef struct {
    const char *variant, *weights, *device, *input, *output;
    uint64_t seed;
    int have_seed, probs;
} forward_args;

unsigned app_load_flags;
int app_tune_quick_batch;

static void tune_log(const char *line, void *user)
{
    (void)user;
    fprintf(stderr, "alexnet: tune: %s\n", line);
}

int app_parse_weights_dtype(const char *cmd, const char *text, unsigned *flags)
{
    if (strcmp(text, "f32") == 0)
        *flags &= ~AN_LOAD_WEIGHTS_F16;
    else if (strcmp(text, "f16") == 0)
        *flags |= AN_LOAD_WEIGHTS_F16;
    else {
        fprintf(stderr, "alexnet %s: --weights-dtype takes f32 or f16, not '%s'\n", cmd, text);
        return -1;
    }
    return 0;
}

/* Seeded weights (weights NULL) or a file, with app_load_flags either way. */
static int open_one(an_device *dev, const char *variant, const char *weights, uint64_t seed,
                    an_model **model)
{
    an_load_options o = {.weights = weights, .seed = seed, .flags = app_load_flags};
    return an_model_load_opts(dev, variant, &o, model);
}

int app_open_model(const char *device, const char *variant, const char *weights, uint64_t seed,
                   an_device **dev, an_model **model)
{
    int status = an_device_open(device, dev);
    if (status != AN_OK)
        return fail_setup("device", status);
    status = open_one(*dev, variant, weights, seed, model);
    if (status != AN_OK) {
        an_device_free(*dev);
        *dev = NULL;
        return fail_setup(weights ? weights : "seeded weights", status);
    }
    return 0;
}

int app_open_models(const char *devices, const char *variant, const char *weights, uint64_t seed,
                    an_device **devs, an_model **models, int max, int *n)
{
    *n = 0;
    int n_dev = 0, status = an_device_open_list(devices, devs, max, &n_dev);
    if (status != AN_OK)
        return fail_setup("device", status);
    for (int i = 0; i < n_dev; i++)
        models[i] = NULL;
    int rc = 0;
    for (int i = 0; i < n_dev && rc == 0; i++) {
        if (app_tune_quick_batch > 0) {
            an_tune_options to = {.variants = variant,
                                  .batches = &app_tune_quick_batch,
                                  .n_batches = 1,
                                  .quick = 1,
                                  .log = tune_log};
            status = an_tune(devs[i], &to);
            if (status != AN_OK) {
                rc = fail_setup("--tune quick", status);
                break;
            }
        }
        status = open_one(devs[i], variant, weights, seed, &models[i]);
        if (status != AN_OK)
            rc = fail_setup(weights ? weights : "seeded weights", status);
    }
    if (rc != 0) { /* every model opened so far and every device, not only those before */
        for (int j = 0; j < n_dev; j++) {
            an_model_free(models[j]);
            an_device_free(devs[j]);
        }
        return rc;
    }
    *n = n_dev;
    return 0;
}

static int cmd_forward(const forward_args *a)
{
    if (!a->variant || !a->input || !a->output || (a->weights && a->have_seed)) {
        fprintf(stderr, "alexnet forward: needs --variant, --input and --output, and at most one "
                        "of --weights and --seed\n");
        return EXIT_USAGE;
    }
    float *x = NULL, *y = NULL;
    an_device *dev = NULL;
    an_model *model = NULL;
    an_plan *plan = NULL;
    int dims[8], ndim = 0, rc = EXIT_USAGE;
    int status = npy_read_f32(a->input, &x, dims, &ndim, 8);
    if (status != AN_OK) {
        fprintf(stderr, "alexnet: %s: %s (%s)\n", a->input, npy_last_error(),
                an_status_name(status));
        goto done;
    }
    if (ndim != 4) {
        fprintf(stderr, "alexnet forward: %s holds a %d-D array; it must be (N, 3, H, W)\n",
                a->input, ndim);
        goto done;
    }
    if (!(app_load_flags & AN_LOAD_ALLOW_NONFINITE)) { /* NaN and infinities: refused */
        size_t per = (size_t)dims[1] * dims[2] * dims[3];
        for (size_t i = 0; i < (size_t)dims[0] * per; i++)
            if (!isfinite(x[i])) {
                fprintf(stderr,
                        "alexnet forward: %s: image %zu holds a non-finite value (NaN or "
                        "infinity) at flat index %zu of the image; refused (--allow-nonfinite "
                        "runs it anyway)\n",
                        a->input, i / per, i % per);
                goto done;
            }
    }
    an_layer_info layers[AN_MAX_LAYERS];
    int n = 0;
    status = an_variant_infer(a->variant, dims[1], dims[2], dims[3], layers, &n);
    if (status != AN_OK) {
        rc = fail_setup(a->input, status);
        goto done;
    }
    note_input_size(a->variant, dims[2], dims[3], layers, n);
    if ((rc = app_open_model(a->device, a->variant, a->weights, a->seed, &dev, &model)) != 0)
        goto done;
    rc = EXIT_USAGE;
    status = an_plan_create(model, dims[0], dims[2], dims[3], &plan);
    if (status != AN_OK) {
        rc = fail_setup("plan", status);
        goto done;
    }
    y = malloc((size_t)dims[0] * AN_CLASSES * sizeof *y);
    if (!y) {
        fprintf(stderr, "alexnet forward: out of memory\n");
        goto done;
    }
    status = an_plan_forward(plan, x, y, a->probs ? AN_OUTPUT_PROBS : AN_OUTPUT_LOGITS);
    if (status != AN_OK) {
        fprintf(stderr, "alexnet forward: %s (%s)\n", an_last_error(), an_status_name(status));
        rc = 1;
        goto done;
    }
    int bad_images = 0; /* a non-finite output fails its image; the file is still written */
    for (int i = 0; i < dims[0]; i++) {
        const float *row = y + (size_t)i * AN_CLASSES;
        int c = 0;
        while (c < AN_CLASSES && isfinite(row[c]))
            c++;
        if (c < AN_CLASSES) {
            fprintf(stderr,
                    "alexnet forward: image %d: error: its %s hold a non-finite value (NaN or "
                    "infinity), the first for class %d\n",
                    i, a->probs ? "probabilities" : "logits", c);
            bad_images++;
        }
    }
    int odims[2] = {dims[0], AN_CLASSES};
    status = npy_write_f32(a->output, y, odims, 2);
    if (status != AN_OK) {
        fprintf(stderr, "alexnet forward: %s\n", npy_last_error());
        rc = 1;
        goto done;
    }
    rc = bad_images ? 1 : 0;
done:
    an_plan_free(plan);
    an_model_free(model);
    an_device_free(dev);
    free(x);
    free(y);
    return rc;
}

/* ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "classify") == 0)
        return cmd_classify(argc, argv);
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc, argv);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench(argc, argv);
    if (strcmp(cmd, "tune") == 0)
        return cmd_tune(argc, argv);
    if (strcmp(cmd, "convert") == 0)
        return cmd_convert(argc, argv);
    /* devices, summary and forward: each accepts its own options only */
    static const struct option devices_opts[] = {{"help", no_argument, NULL, 'h'},
                                                 {NULL, 0, NULL, 0}};
    static const struct option summary_opts[] = {{"variant", required_argument, NULL, 'v'},
                                                 {"input", required_argument, NULL, 'i'},
                                                 {"help", no_argument, NULL, 'h'},
                                                 {NULL, 0, NULL, 0}};
    static const struct option forward_opts[] = {{"variant", required_argument, NULL, 'v'},
                                                 {"input", required_argument, NULL, 'i'},
                                                 {"output", required_argument, NULL, 'o'},
                                                 {"weights", required_argument, NULL, 'w'},
                                                 {"seed", required_argument, NULL, 's'},
                                                 {"device", required_argument, NULL, 'd'},
                                                 {"probs", no_argument, NULL, 'p'},
                                                 {"help", no_argument, NULL, 'h'},
                                                 {"allow-nonfinite", no_argument, NULL, 'N'},
                                                 {"weights-dtype", required_argument, NULL, 'D'},
                                                 {NULL, 0, NULL, 0}};
    const struct option *opts = strcmp(cmd, "devices") == 0   ? devices_opts
                                : strcmp(cmd, "summary") == 0 ? summary_opts
                                : strcmp(cmd, "forward") == 0 ? forward_opts
                                                              : NULL;
    if (!opts) {
        fprintf(stderr, "alexnet: unknown command '%s'\n", cmd);
        usage(stderr);
        return EXIT_USAGE;
    }
    forward_args a = {0};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'v':
            a.variant = optarg;
            break;
        case 'i':
            a.input = optarg;
            break;
        case 'o':
            a.output = optarg;
            break;
        case 'w':
            a.weights = optarg;
            break;
        case 'd':
            a.device = optarg;
            break;
        case 'p':
            a.probs = 1;
            break;
        case 'N':
            app_load_flags |= AN_LOAD_ALLOW_NONFINITE;
            break;
        case 'D':
            if (app_parse_weights_dtype(cmd, optarg, &app_load_flags) != 0)
                return EXIT_USAGE;
            break;
        case 's':
            errno = 0;
            a.seed = strtoull(optarg, &end, 0);
            if (!*optarg || *end || errno == ERANGE || *optarg == '-') {
                fprintf(stderr, "alexnet: --seed takes an integer, not '%s'\n", optarg);
                return EXIT_USAGE;
            }
            a.have_seed = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "alexnet %s: see alexnet --help for its options\n", cmd);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "alexnet %s: unexpected argument '%s'\n", cmd, argv[optind]);
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "devices") == 0)
        return cmd_devices();
    if (strcmp(cmd, "summary") == 0) {
        if (!a.variant) {
            fprintf(stderr, "alexnet summary: --variant is required (%s)\n",
                    app_variant_list(", "));
            return EXIT_USAGE;
        }
        return cmd_summary(a.variant, a.input);
    }
    return cmd_forward(&a);
}
