/* ctensors_check.h - what the converter readers' fuzz targets (fuzz_caffe.c,
 * fuzz_pth.c, fuzz_onnx.c) check of their result: a refusal is
 * AN_ERR_BAD_FILE, AN_ERR_BAD_WEIGHTS or AN_ERR_OUT_OF_MEMORY with a text;
 * every tensor listed is named, of float32 or float16, with bytes = elements x
 * element size, and its data readable to the end. abort() on anything else. */
#ifndef FUZZ_CTENSORS_CHECK_H
#define FUZZ_CTENSORS_CHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void check_refusal(int status)
{
    if ((status != AN_ERR_BAD_FILE && status != AN_ERR_BAD_WEIGHTS &&
         status != AN_ERR_OUT_OF_MEMORY) ||
        !an_last_error()[0])
        abort();
}

static void check_tensors(const an__ctensors *ts)
{
    for (int i = 0; i < ts->count; i++) {
        const an__ctensor *t = &ts->t[i];
        if (!t->name[0] || (t->dtype != AN__DT_F32 && t->dtype != AN__DT_F16))
            abort();
        uint64_t n = 1;
        for (int d = 0; d < t->ndim; d++)
            n *= (uint64_t)t->dims[d];
        if (n * (uint64_t)t->dtype != t->bytes)
            abort();
        volatile unsigned char sum = 0; /* touch every byte: ASan sees a short allocation */
        for (size_t b = 0; b < t->bytes; b++)
            sum ^= t->data[b];
        (void)sum;
    }
}

#endif
