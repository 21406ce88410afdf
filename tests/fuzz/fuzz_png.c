/* fuzz_png.c - libFuzzer target for PNG decoding and preprocessing
 * (runtime/image.c): an_image_decode_png_memory on the input, then the checks
 * of image_check.h (both variants' default preprocessing, torchvision-224:
 * shorter side to 256, crop 224; caffe-227: 256x256, crop 227; and no resize
 * at all). */
#include "image_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return check_image(data, size, an_image_decode_png_memory);
}
