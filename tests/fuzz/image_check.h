/* image_check.h - what fuzz_png.c and fuzz_jpeg.c check on one input, given
 * the decoder each reaches: a refusal must be AN_ERR_BAD_IMAGE (or out of
 * memory) with a text and a zeroed image; a decoded image must have every
 * pixel written and a size within AN_IMAGE_MAX_PIXELS, and must preprocess
 * with both variants' defaults and with no resize at all (crop only, zero
 * padding) into finite values. abort() on anything else. */
#ifndef FUZZ_IMAGE_CHECK_H
#define FUZZ_IMAGE_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alexnet.h"

#define MAX_CROP 227
static float out[3 * MAX_CROP * MAX_CROP];

static void preprocess(const an_image *img, const char *variant, int no_resize)
{
    an_preprocess pp;
    if (an_preprocess_default(variant, &pp) != AN_OK)
        abort();
    if (no_resize)
        pp.resize = 0;
    size_t n = (size_t)3 * pp.crop * pp.crop;
    for (size_t i = 0; i < n; i++)
        out[i] = NAN;
    if (an_image_preprocess(img, &pp, out) != AN_OK)
        abort(); /* a decoded image and a default pp must always work */
    for (size_t i = 0; i < n; i++)
        if (!isfinite(out[i])) /* every output element written, none NaN */
            abort();
}

static int check_image(const uint8_t *data, size_t size,
                       int (*decode)(const void *, size_t, an_image *))
{
    an_image img;
    int status = decode(data, size, &img);
    if (status != AN_OK) {
        if (status != AN_ERR_BAD_IMAGE && status != AN_ERR_OUT_OF_MEMORY)
            abort();
        if (img.rgb || img.width || img.height || an_last_error()[0] == '\0')
            abort();
        return 0;
    }
    if (!img.rgb || img.width <= 0 || img.height <= 0 ||
        (uint64_t)img.width * (uint64_t)img.height > AN_IMAGE_MAX_PIXELS)
        abort();
    /* every pixel was written: reading them all lets MSan/ASan see it */
    volatile unsigned sum = 0;
    for (size_t i = 0; i < (size_t)img.width * img.height * 3; i++)
        sum += img.rgb[i];
    (void)sum;
    /* Resizing a huge image is slow but not interesting: skip beyond 4 MP. */
    if ((uint64_t)img.width * img.height <= 4000000) {
        preprocess(&img, "torchvision-224", 0);
        preprocess(&img, "caffe-227", 0);
        preprocess(&img, "torchvision-224", 1);
    }
    an_image_free(&img);
    if (img.rgb)
        abort();
    return 0;
}

#endif
