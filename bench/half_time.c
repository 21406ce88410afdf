/* half_time.c - batch-1 latency with float32 vs half-precision FC weights
 * (AN_LOAD_WEIGHTS_F16), the same seeded model loaded both ways and run
 * interleaved in one process (f32, f16, f32, ...), so that both see the same
 * load on a shared machine: wall-clock forward passes and the FC layers'
 * device time from profiling. Measurement only (docs/PERFORMANCE.md).
 * usage: half_time VARIANT PAIRS */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "alexnet.h"
#include "clock.h"

int main(int argc, char **argv)
{
    int pairs = argc == 3 ? atoi(argv[2]) : 0, side = 0, w = 0;
    if (pairs < 1 || pairs > 10000 || an_variant_input_size(argv[1], &side, &w) != AN_OK) {
        fprintf(stderr, "usage: half_time VARIANT PAIRS (1..10000)\n");
        return 2;
    }
    const char *variant = argv[1];
    an_load_options lo[2] = {{.seed = 1, .device = "cpu"},
                             {.seed = 1, .device = "cpu", .flags = AN_LOAD_WEIGHTS_F16}};
    an_model *m[2];
    an_plan *p[2];
    for (int h = 0; h < 2; h++)
        if (an_model_load_opts(NULL, variant, &lo[h], &m[h]) != AN_OK ||
            an_plan_create(m[h], 1, side, w, &p[h]) != AN_OK) {
            fprintf(stderr, "%s\n", an_last_error());
            return 1;
        }
    float *x = malloc(sizeof(float) * 3 * side * w), y[AN_CLASSES];
    for (int i = 0; i < 3 * side * w; i++)
        x[i] = (float)((i * 40503u) % 997) / 300.0f - 1.5f;
    for (int h = 0; h < 2; h++) /* warm-up */
        an_plan_forward(p[h], x, y, AN_OUTPUT_LOGITS);
    double *t[2] = {malloc(pairs * sizeof(double)), malloc(pairs * sizeof(double))};
    double *r = malloc(pairs * sizeof(double));
    double *fc[2] = {malloc(pairs * sizeof(double)), malloc(pairs * sizeof(double))};
    double *fr = malloc(pairs * sizeof(double));
    an_layer_info li[AN_MAX_LAYERS];
    int nl = 0;
    an_plan_layers(p[0], li, &nl);
    for (int i = 0; i < pairs; i++) {
        for (int h = 0; h < 2; h++) {
            double t0 = now();
            an_plan_forward(p[h], x, y, AN_OUTPUT_LOGITS);
            t[h][i] = (now() - t0) * 1e3;
            an_layer_time lt[AN_MAX_LAYERS];
            int steps = 0;
            an_plan_profile(p[h], x, lt, AN_MAX_LAYERS, &steps);
            fc[h][i] = 0;
            for (int k = 0; k < steps; k++)
                if (li[lt[k].layer].kind == AN_LAYER_LINEAR)
                    fc[h][i] += lt[k].ms;
        }
        r[i] = t[0][i] / t[1][i];
        fr[i] = fc[0][i] / fc[1][i];
    }
    qsort(fc[0], pairs, sizeof(double), cmp_double);
    qsort(fc[1], pairs, sizeof(double), cmp_double);
    qsort(fr, pairs, sizeof(double), cmp_double);
    printf(
        "%s FC layers' device time: f32 median %.1f ms (min %.1f), f16 median %.1f ms (min %.1f); "
        "median of per-pair ratios %.2fx\n",
        variant, fc[0][pairs / 2], fc[0][0], fc[1][pairs / 2], fc[1][0], fr[pairs / 2]);
    qsort(t[0], pairs, sizeof(double), cmp_double);
    qsort(t[1], pairs, sizeof(double), cmp_double);
    qsort(r, pairs, sizeof(double), cmp_double);
    printf("%s batch 1, %d interleaved pairs: f32 median %.1f ms (min %.1f), f16 median %.1f ms "
           "(min %.1f); median of per-pair ratios %.2fx, ratio of minima %.2fx\n",
           variant, pairs, t[0][pairs / 2], t[0][0], t[1][pairs / 2], t[1][0], r[pairs / 2],
           t[0][0] / t[1][0]);
    return 0;
}
