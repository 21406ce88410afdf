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
#include "ctensors_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static an__ctensors ts; /* large: not on the stack */
    memset(&ts, 0, sizeof ts);
    int status = an__onnx_read("fuzz.onnx", data, size, &ts);
    if (status != AN_OK)
        check_refusal(status);
    else if (ts.count != 16) /* 8 layers, weight and bias */
        abort();
    check_tensors(&ts);
    an__ctensors_free(&ts);
    return 0;
}
