/* fuzz_onnx.c - libFuzzer target for the ONNX reader (runtime/onnx.c: the
 * protobuf decoding of ModelProto, GraphProto, NodeProto, AttributeProto and
 * TensorProto, and the walk of the graph against torchvision-224), on the
 * buffer as an_convert reads it.
 *
 * Checks what the reader promises: an accepted file gives tensors each named,
 * of float32 or float16, with bytes = elements x element size and the data
 * readable to its end; a refusal is AN_ERR_BAD_FILE, AN_ERR_BAD_WEIGHTS or
 * AN_ERR_OUT_OF_MEMORY with a text, and nothing leaks (LeakSanitizer). A
 * refusal may leave the tensors read before it in the list (an_convert frees
 * them), so they are checked and freed either way. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static an__ctensors ts; /* large: not on the stack */
    memset(&ts, 0, sizeof ts);
    int status = an__onnx_read("fuzz.onnx", data, size, &ts);
    if (status != AN_OK && ((status != AN_ERR_BAD_FILE && status != AN_ERR_BAD_WEIGHTS &&
                             status != AN_ERR_OUT_OF_MEMORY) ||
                            !an_last_error()[0]))
        abort();
    if (status == AN_OK && ts.count != 16) /* torchvision-224: 8 layers, weight and bias */
        abort();
    for (int i = 0; i < ts.count; i++) {
        const an__ctensor *t = &ts.t[i];
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
    an__ctensors_free(&ts);
    return 0;
}
