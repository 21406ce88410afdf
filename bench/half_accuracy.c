/* half_accuracy.c - the accuracy effect of half-precision FC weights on
 * photographs: the same seeded model loaded twice (flags 0 and
 * AN_LOAD_WEIGHTS_F16), each image preprocessed as the variant wants and run
 * through both; prints per image and in total the top-1 agreement, the top-5
 * set agreement (and the float32 margin where the sets differ) and the
 * relative L2 error of the logits. Measurement only (docs/PERFORMANCE.md).
 * usage: half_accuracy VARIANT SEED IMAGE... */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexnet.h"

static void top5(const float *z, int *out)
{
    for (int k = 0; k < 5; k++) {
        int best = -1;
        for (int i = 0; i < AN_CLASSES; i++) {
            int used = 0;
            for (int j = 0; j < k; j++)
                used |= out[j] == i;
            if (!used && (best < 0 || z[i] > z[best]))
                best = i;
        }
        out[k] = best;
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: half_accuracy VARIANT SEED IMAGE...\n");
        return 2;
    }
    const char *variant = argv[1];
    an_load_options lo[2] = {
        {.seed = strtoull(argv[2], NULL, 0), .device = "cpu"},
        {.seed = strtoull(argv[2], NULL, 0), .device = "cpu", .flags = AN_LOAD_WEIGHTS_F16}};
    an_model *m[2];
    an_plan *p[2];
    an_preprocess pp;
    an_preprocess_default(variant, &pp);
    for (int h = 0; h < 2; h++) {
        if (an_model_load_opts(NULL, variant, &lo[h], &m[h]) != AN_OK ||
            an_plan_create(m[h], 1, pp.crop, pp.crop, &p[h]) != AN_OK) {
            fprintf(stderr, "%s\n", an_last_error());
            return 1;
        }
    }
    float *x = malloc(sizeof(float) * 3 * pp.crop * pp.crop), z[2][AN_CLASSES];
    int n = 0, top1 = 0, set5 = 0;
    double worst = 0, sum = 0;
    for (int a = 3; a < argc; a++) {
        an_image img;
        if (an_image_decode(argv[a], &img) != AN_OK) {
            fprintf(stderr, "skip %s: %s\n", argv[a], an_last_error());
            continue;
        }
        an_image_preprocess(&img, &pp, x);
        an_image_free(&img);
        for (int h = 0; h < 2; h++)
            if (an_plan_forward(p[h], x, z[h], AN_OUTPUT_LOGITS) != AN_OK)
                return 1;
        double num = 0, den = 0;
        for (int i = 0; i < AN_CLASSES; i++) {
            num += ((double)z[0][i] - z[1][i]) * ((double)z[0][i] - z[1][i]);
            den += (double)z[0][i] * z[0][i];
        }
        double rel = sqrt(num / den);
        int t[2][5];
        top5(z[0], t[0]);
        top5(z[1], t[1]);
        int same = 1;
        for (int k = 0; k < 5; k++) {
            int found = 0;
            for (int j = 0; j < 5; j++)
                found |= t[0][k] == t[1][j];
            same &= found;
        }
        if (!same) {
            int t6[5];
            float zz[AN_CLASSES];
            memcpy(zz, z[0], sizeof zz);
            for (int k = 0; k < 5; k++)
                zz[t[0][k]] = -1e30f;
            top5(zz, t6);
            printf("  float32: 5th %d (%.6f), 6th %d (%.6f); half: 5th %d, its logit %.6f\n",
                   t[0][4], z[0][t[0][4]], t6[0], z[0][t6[0]], t[1][4], z[1][t[1][4]]);
        }
        n++;
        top1 += t[0][0] == t[1][0];
        set5 += same;
        sum += rel;
        if (rel > worst)
            worst = rel;
        printf("%s: top-1 %d/%d%s, top-5 set %s, logits relative L2 %.3g\n", argv[a], t[0][0],
               t[1][0], t[0][0] == t[1][0] ? " (same)" : " (DIFFERENT)",
               same ? "same" : "DIFFERENT", rel);
    }
    printf("%s seed %s: %d images, top-1 agree %d/%d, top-5 sets agree %d/%d, relative L2 of "
           "logits mean %.3g max %.3g\n",
           variant, argv[2], n, top1, n, set5, n, n ? sum / n : 0, worst);
    return 0;
}
