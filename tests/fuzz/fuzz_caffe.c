/* fuzz_caffe.c - libFuzzer target for the Caffe .caffemodel reader
 * (runtime/caffe.c: the protobuf wire format, blobs in both forms, and the
 * layer list that chooses the variant), on the buffer as an_convert reads it.
 *
 * Checks what the reader promises: an accepted file gives at least one tensor,
 * each named, of float32, with bytes = elements x 4 and the data readable to its
 * end, and names the variant its layer list is; a refusal is AN_ERR_BAD_FILE,
 * AN_ERR_BAD_WEIGHTS or AN_ERR_OUT_OF_MEMORY with a text, and nothing leaks
 * (LeakSanitizer). */
#include "ctensors_check.h"

static void check(int status, an__ctensors *ts)
{
    if (status != AN_OK) {
        check_refusal(status);
        an__ctensors_free(ts);
        return;
    }
    if (ts->count < 1 || !an__variant_find(ts->variant))
        abort();
    check_tensors(ts);
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
