/* fuzz_pth.c - libFuzzer target for the PyTorch .pth readers (runtime/
 * pickle.c: the pickle machine, checkpoints and their state_dict search, the
 * zip and the legacy containers), on the buffer as an_convert reads it.
 *
 * Checks what the readers promise: an accepted file gives at least one
 * tensor, each named (printable ASCII), of float32 or float16, with bytes =
 * elements x element size, and the data readable to its end; a refusal is
 * AN_ERR_BAD_FILE, AN_ERR_BAD_WEIGHTS or AN_ERR_OUT_OF_MEMORY with a text,
 * and nothing leaks (LeakSanitizer). */
#include "ctensors_check.h"

static void check(int status, an__ctensors *ts)
{
    if (status != AN_OK) {
        check_refusal(status);
        an__ctensors_free(ts);
        return;
    }
    if (ts->count < 1)
        abort();
    check_tensors(ts);
    an__ctensors_free(ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static an__ctensors ts; /* large: not on the stack */
    memset(&ts, 0, sizeof ts);
    check(an__pth_read_legacy("fuzz.pth", data, size, &ts), &ts);
    if (size >= 4 && memcmp(data, "PK\x03\x04", 4) == 0) {
        memset(&ts, 0, sizeof ts);
        check(an__pth_read_zip("fuzz.pth", data, size, &ts), &ts);
    }
    return 0;
}
