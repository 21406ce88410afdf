/* apps.h - what the alexnet program's command files share. */
#ifndef AN_APPS_H
#define AN_APPS_H

#include <stdint.h>
#include <stdio.h>

#include "alexnet.h"

enum { APP_EXIT_USAGE = 2 };

/* Flags app_open_model passes to an_model_load_flags (--allow-nonfinite sets
 * AN_LOAD_ALLOW_NONFINITE, --weights-dtype f16 AN_LOAD_WEIGHTS_F16); 0 by
 * default. */
extern unsigned app_load_flags;

/* --weights-dtype f32|f16 into flags (AN_LOAD_WEIGHTS_F16 set or cleared);
 * prints the error, naming cmd, and returns -1 for anything else. */
int app_parse_weights_dtype(const char *cmd, const char *text, unsigned *flags);

/* When above 0 (classify --tune quick), app_open_models first runs
 * an_tune's quick search for the variant at this batch on each device
 * (layers the tuning file has entries for are reused); 0 by default. */
extern int app_tune_quick_batch;

/* Opens the device and the model (weights file, or seeded weights when
 * weights is NULL); prints the reason and returns APP_EXIT_USAGE on failure. */
int app_open_model(const char *device, const char *variant, const char *weights, uint64_t seed,
                   an_device **dev, an_model **model);

/* The same on every device that the list devices names (an_device_open_list:
 * "0:0,0:1", "gpu", "all"), at most max: one model per device in models[0,
 * *n). On failure nothing is left open. */
int app_open_models(const char *devices, const char *variant, const char *weights, uint64_t seed,
                    an_device **devs, an_model **models, int max, int *n);

/* Seconds on a monotonic clock, for the commands' own timings. */
double app_now(void);

/* Checked integer parsing: the whole of text, base 10, in [lo, hi]; 0 or -1. */
int app_parse_int(const char *text, int lo, int hi, int *out);

/* A comma-separated list of such integers into out (at most max); returns
 * the count, or -1 for a malformed list. */
int app_parse_int_list(const char *text, int lo, int hi, int *out, int max);

/* The variants' names (an_variant_names) joined by sep, in a static buffer. */
const char *app_variant_list(const char *sep);

/* results.c: the `classify --json` line format. */

/* Length of the valid UTF-8 sequence at s (1 to 4 bytes, at most n), or 0
 * when the bytes there are not one (strict, as Python's decoder). */
size_t app_utf8_seq(const unsigned char *s, size_t n);

/* Writes s as a JSON string (quotes included) in strict UTF-8; bytes that are
 * not valid UTF-8 become \udcXX escapes (see results.c: reversible). */
void app_json_string(FILE *f, const char *s);

/* The paths an earlier run wrote to an output file, as the JSON strings
 * that begin its lines, sorted. */
typedef struct {
    char **keys;
    size_t count;
} app_done;

/* Reads output file path for --resume: every complete line must be a
 * `classify --json` line; a half-written last line is cut off the file. A
 * missing file gives no paths. 0, or -1 with the reason in why. */
int app_done_read(const char *path, app_done *d, char *why, size_t why_size);

/* 1 when path is among d's, 0 when not, -1 when out of memory. */
int app_done_has(const app_done *d, const char *path);

void app_done_free(app_done *d);

/* "K/N" with 1 <= K <= N: 0, or -1 for anything else. */
int app_parse_shard(const char *text, int *k, int *n);

/* Shard k of n (1-based) of count entries is [*lo, *hi): contiguous parts in
 * input order whose sizes differ by at most one, so n runs with k = 1..n
 * cover every entry exactly once and their outputs concatenate in order. */
void app_shard_range(size_t count, int k, int n, size_t *lo, size_t *hi);

int cmd_classify(int argc, char **argv); /* classify.c */
int cmd_eval(int argc, char **argv);     /* eval.c */
int cmd_convert(int argc, char **argv);  /* convert.c */
int cmd_tune(int argc, char **argv);     /* tune.c */

/* preprocess.c: --resize N|NxN, --crop N, --mean M,M,M, --scale S, --std D,D,D,
 * --bgr, --rgb (an_preprocess_parse's keys; option values as its values). */
enum {
    APP_PP_RESIZE = 0x1001,
    APP_PP_CROP,
    APP_PP_MEAN,
    APP_PP_STD,
    APP_PP_SCALE,
    APP_PP_BGR,
    APP_PP_RGB
};
#define APP_PP_LONG_OPTIONS                                                                        \
    {"resize", required_argument, NULL, APP_PP_RESIZE},                                            \
        {"crop", required_argument, NULL, APP_PP_CROP},                                            \
        {"mean", required_argument, NULL, APP_PP_MEAN},                                            \
        {"std", required_argument, NULL, APP_PP_STD},                                              \
        {"scale", required_argument, NULL, APP_PP_SCALE}, {"bgr", no_argument, NULL, APP_PP_BGR},  \
    {                                                                                              \
        "rgb", no_argument, NULL, APP_PP_RGB                                                       \
    }
#define APP_PP_USAGE                                                                               \
    "PREPROCESSING (default: what the weights file's metadata states, else the variant's):\n"      \
    "  --resize N        shorter side to N (torchvision's Resize(N)); NxN: both sides to N\n"      \
    "  --crop N          centre crop N x N (at most the resize)\n"                                 \
    "  --mean M,M,M      per output channel, 0..255 pixel units, subtracted before --scale\n"      \
    "                    (OpenCV's --mean, Caffe's mean_value, OpenVINO's -imean)\n"               \
    "  --scale S         multiplier after the mean (1, 0.0078125, 1/255)\n"                        \
    "  --std D,D,D       divisor after --scale (OpenVINO's -iscale: --std with --scale 1)\n"       \
    "  --bgr | --rgb     output channel order (--mean and --std are in that order)\n"              \
    "  so input = (pixel - mean) * scale / std; the pipeline used is printed on stderr\n"

typedef struct {
    char spec[1024]; /* "resize=256;crop=224;..." from the options, in order */
    char given[128]; /* "--crop --mean": the options given, for the header line */
    int order;       /* APP_PP_BGR, APP_PP_RGB or 0 */
    int mean_looks_unit;
} app_pp;

/* Takes getopt's c and optarg: 1 when c is one of the options above (added to
 * p), 0 when it is not, -1 on an error (printed; exit with APP_EXIT_USAGE). */
int app_pp_option(app_pp *p, const char *cmd, int c, const char *arg);

/* Checks the options over the variant's default before anything is opened
 * (bad values, a crop the variant cannot take): 0, or -1 with the error printed. */
int app_pp_check(const app_pp *p, const char *cmd, const char *variant);

/* The pipeline to run: the model's (an_model_preprocess) with the options over
 * it, into *out; prints it on stderr with where it came from. 0 or -1 (printed). */
int app_pp_resolve(const app_pp *p, const char *cmd, const an_model *model, an_preprocess *out);

#endif
