/* fuzz_caffe.c - libFuzzer target for the Caffe .caffemodel reader
 * (runtime/caffe.c: the protobuf wire format, blobs in both forms, and the
 * layer list that chooses the variant), on the buffer as an_convert reads it.
 *
 * Checks what the reader promises: an accepted file gives at least one tensor,
 * each named, of float32, with bytes = elements x 4 and the data readable to its
 * end, and names the variant its layer list is; a refusal is AN_ERR_BAD_FILE,
 * AN_ERR_BAD_WEIGHTS or AN_ERR_OUT_OF_MEMORY with a text, and nothing leaks
 * (LeakSanitizer). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void check(int status, an__ctensors *ts)
{
    if (status != AN_OK) {
        if ((status != AN_ERR_BAD_FILE && status != AN_ERR_BAD_WEIGHTS &&
             status != AN_ERR_OUT_OF_MEMORY) ||
            !an_last_error()[0])
            abort();
        an__ctensors_free(ts);
        return;
    }
    if (ts->count < 1 || !an__variant_find(ts->variant))
        abort();
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
    an__ctensors_free(ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static an__ctensors ts; /* large: not on the stack */
    memset(&ts, 0, sizeof ts);
    check(an__caffe_read("fuzz.caffemodel", data, size, &ts), &ts);
    return 0;
}
