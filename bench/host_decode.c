/* host_decode.c - images/s of the host stage alone on one thread: each file
 * read, decoded (an_image_decode: PNG or JPEG by content) and preprocessed
 * with a variant's pipeline, `rounds` times over the list. Measurement only;
 * bench/host_vs_pil.py runs it beside PIL + torchvision on the same files.
 * usage: host_decode [--variant NAME] [--rounds N] FILE... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alexnet.h"
#include "clock.h"

int main(int argc, char **argv)
{
    const char *variant = "torchvision-224";
    int rounds = 3, first = 1;
    while (first + 1 < argc && argv[first][0] == '-') {
        if (!strcmp(argv[first], "--variant"))
            variant = argv[first + 1];
        else if (!strcmp(argv[first], "--rounds"))
            rounds = atoi(argv[first + 1]);
        else
            break;
        first += 2;
    }
    if (first >= argc || rounds < 1) {
        fprintf(stderr, "usage: host_decode [--variant NAME] [--rounds N] FILE...\n");
        return 2;
    }
    an_preprocess pp;
    if (an_preprocess_default(variant, &pp) != AN_OK) {
        fprintf(stderr, "host_decode: %s\n", an_last_error());
        return 2;
    }
    float *out = malloc((size_t)3 * pp.crop * pp.crop * sizeof *out);
    double decode_s = 0.0, pre_s = 0.0;
    long images = 0;
    for (int r = 0; r < rounds; r++)
        for (int i = first; i < argc; i++) {
            an_image img;
            double t0 = now();
            if (an_image_decode(argv[i], &img) != AN_OK) {
                fprintf(stderr, "host_decode: %s\n", an_last_error());
                return 1;
            }
            double t1 = now();
            if (an_image_preprocess(&img, &pp, out) != AN_OK) {
                fprintf(stderr, "host_decode: %s\n", an_last_error());
                return 1;
            }
            double t2 = now();
            decode_s += t1 - t0;
            pre_s += t2 - t1;
            an_image_free(&img);
            images++;
        }
    printf(
        "{\"images\": %ld, \"decode_s\": %.6f, \"preprocess_s\": %.6f, \"images_per_s\": %.2f}\n",
        images, decode_s, pre_s, images / (decode_s + pre_s));
    free(out);
    return 0;
}
