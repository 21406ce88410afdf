/* apps.h - what the alexnet program's command files share. */
#ifndef AN_APPS_H
#define AN_APPS_H

#include <stdint.h>

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

int cmd_classify(int argc, char **argv);
int cmd_bench(int argc, char **argv); /* bench/bench.c */
int cmd_tune(int argc, char **argv);  /* bench/tune.c */

#endif
