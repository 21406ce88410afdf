/* apps.h - what the alexnet program's command files share. */
#ifndef AN_APPS_H
#define AN_APPS_H

#include <stdint.h>
#include <stdio.h>

#include "alexnet.h"

enum { APP_EXIT_USAGE = 2 };

/* Flags app_open_model passes to an_model_load_flags (--allow-nonfinite sets
 * AN_LOAD_ALLOW_NONFINITE); 0 by default. */
extern unsigned app_load_flags;

/* Opens the device and the model (weights file, or seeded weights when
 * weights is NULL); prints the reason and returns APP_EXIT_USAGE on failure. */
int app_open_model(const char *device, const char *variant, const char *weights, uint64_t seed,
                   an_device **dev, an_model **model);

/* Seconds on a monotonic clock, for the commands' own timings. */
double app_now(void);

/* Checked integer parsing: the whole of text, base 10, in [lo, hi]; 0 or -1. */
int app_parse_int(const char *text, int lo, int hi, int *out);

/* A comma-separated list of such integers into out (at most max); returns
 * the count, or -1 for a malformed list. */
int app_parse_int_list(const char *text, int lo, int hi, int *out, int max);

/* The variants' names (an_variant_names) joined by sep, in a static buffer. */
const char *app_variant_list(const char *sep);

/* Writes s as a JSON string, strict UTF-8: bytes that are not valid UTF-8
 * become \udcXX (Python's surrogateescape), reversibly (classify.c). */
void app_json_put_string(FILE *f, const char *s);

int cmd_classify(int argc, char **argv); /* classify.c */
int cmd_eval(int argc, char **argv);     /* eval.c */
int cmd_convert(int argc, char **argv);  /* convert.c */
int cmd_tune(int argc, char **argv);     /* tune.c */

#endif
