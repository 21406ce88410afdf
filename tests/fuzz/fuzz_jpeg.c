/* fuzz_jpeg.c - libFuzzer target for JPEG decoding (runtime/jpeg.c, reached
 * through an_image_decode_memory, which tells the kind by the first bytes; the
 * seeds are JPEGs) and the preprocessing of what decodes: the checks of
 * image_check.h. */
#include "image_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return check_image(data, size, an_image_decode_memory);
}
