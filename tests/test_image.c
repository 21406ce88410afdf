/* test_image.c - PNG and JPEG decoding and preprocessing (runtime/image.c,
 * runtime/jpeg.c): exact pixels of tiny embedded PNGs of every kind, refusal of
 * broken input at every truncation point (or the whole image once all its rows
 * are there, as in PIL), and comparisons with the reference pipeline (PIL +
 * torchvision) over the images tests/reference/preprocess_ref.py writes
 * (synthetic PNGs of every kind, real photographs, bad files and files decoders
 * disagree on, each as PIL treats it) and those jpeg_ref.py writes (JPEGs of
 * every kind, bit for bit, bad files). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alexnet.h"

/* Tiny PNGs written by preprocess_ref.py's encoder; the expected pixels below
 * are what PIL's convert("RGB") gives (except 16-bit gray, see image.c). */
static const unsigned char png_rgb8[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00,
    0x00, 0x12, 0x16, 0xf1, 0x4d, 0x00, 0x00, 0x00, 0x18, 0x49, 0x44, 0x41, 0x54, 0x78,
    0xda, 0x63, 0xf8, 0xcf, 0xc0, 0xc0, 0x00, 0xc6, 0x8c, 0x8c, 0x4c, 0xcc, 0xf5, 0xf5,
    0xf5, 0x55, 0x55, 0x55, 0x00, 0x37, 0x6c, 0x05, 0xf0, 0xd4, 0xe8, 0xdc, 0xf3, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
static const unsigned char png_pal2_trns[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x02, 0x03, 0x00, 0x00, 0x00, 0x0f, 0xd8, 0xe5,
    0xb7, 0x00, 0x00, 0x00, 0x0c, 0x50, 0x4c, 0x54, 0x45, 0x0a, 0x14, 0x1e, 0x28, 0x32, 0x3c, 0x46,
    0x50, 0x5a, 0xc8, 0xd2, 0xdc, 0x8f, 0xe1, 0x55, 0x9e, 0x00, 0x00, 0x00, 0x03, 0x74, 0x52, 0x4e,
    0x53, 0x00, 0x80, 0xff, 0xec, 0xf7, 0xb3, 0x18, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54,
    0x78, 0xda, 0x63, 0x10, 0x60, 0xdc, 0x00, 0x00, 0x00, 0xe6, 0x00, 0xc2, 0x77, 0x97, 0x9a, 0x3c,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
static const unsigned char png_graya16[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x10, 0x04, 0x00, 0x00,
    0x00, 0x88, 0x2f, 0x19, 0xec, 0x00, 0x00, 0x00, 0x1a, 0x49, 0x44, 0x41, 0x54, 0x78,
    0xda, 0x63, 0x10, 0x32, 0x61, 0x60, 0xf8, 0x77, 0xe7, 0xff, 0x7f, 0xc6, 0x06, 0x06,
    0x06, 0x81, 0x86, 0xff, 0x0d, 0x1f, 0x00, 0x3b, 0xeb, 0x07, 0x9f, 0x3b, 0x0b, 0x4d,
    0x0e, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
static const unsigned char png_gray1_adam7[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x00, 0x01, 0x09, 0x54, 0xb8,
    0x84, 0x00, 0x00, 0x00, 0x14, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x68, 0x60, 0x6e, 0x60,
    0x69, 0x60, 0x60, 0x60, 0x6c, 0x60, 0x74, 0x00, 0x00, 0x0f, 0x90, 0x02, 0x4a, 0x99, 0xd4, 0x6c,
    0x77, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
static const unsigned char png_rgba8[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0xf4,
    0x22, 0x7f, 0x8a, 0x00, 0x00, 0x00, 0x11, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xe0,
    0xe4, 0x60, 0x67, 0x48, 0xc9, 0xab, 0xf8, 0x0f, 0x00, 0x05, 0x7c, 0x02, 0x62, 0xc3, 0x21,
    0x39, 0xb9, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
static const unsigned char png_gray16[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x10, 0x00, 0x00, 0x00,
    0x00, 0x81, 0xd9, 0xfc, 0x15, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
    0xda, 0x63, 0x58, 0x7d, 0x96, 0xe1, 0x3f, 0x00, 0x06, 0x17, 0x02, 0x78, 0x9f, 0x6c,
    0xfa, 0x91, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
/* png_rgb8 with a tEXt chunk whose CRC is wrong, and one with an sRGB chunk of
 * rendering intent 7 (libpng warns "invalid sRGB rendering intent", PIL accepts it). */
static const unsigned char png_rgb8_bad_text_crc[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0x12, 0x16, 0xf1,
    0x4d, 0x00, 0x00, 0x00, 0x0f, 0x74, 0x45, 0x58, 0x74, 0x43, 0x6f, 0x6d, 0x6d, 0x65, 0x6e, 0x74,
    0x00, 0x62, 0x61, 0x64, 0x20, 0x63, 0x72, 0x63, 0x60, 0x5b, 0x07, 0x58, 0x00, 0x00, 0x00, 0x18,
    0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0xcf, 0xc0, 0xc0, 0x00, 0xc6, 0x8c, 0x8c, 0x4c,
    0xcc, 0xf5, 0xf5, 0xf5, 0x55, 0x55, 0x55, 0x00, 0x37, 0x6c, 0x05, 0xf0, 0xd4, 0xe8, 0xdc, 0xf3,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
static const unsigned char png_rgb8_bad_srgb[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0x12, 0x16, 0xf1,
    0x4d, 0x00, 0x00, 0x00, 0x01, 0x73, 0x52, 0x47, 0x42, 0x07, 0x30, 0xaa, 0x89, 0x4a, 0x00, 0x00,
    0x00, 0x18, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0xcf, 0xc0, 0xc0, 0x00, 0xc6, 0x8c,
    0x8c, 0x4c, 0xcc, 0xf5, 0xf5, 0xf5, 0x55, 0x55, 0x55, 0x00, 0x37, 0x6c, 0x05, 0xf0, 0xd4, 0xe8,
    0xdc, 0xf3, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static void expect_pixels(const void *png, size_t size, int w, int h, const unsigned char *rgb)
{
    an_image img;
    int status = an_image_decode_png_memory(png, size, &img);
    ck_assert_msg(status == AN_OK, "decode: %s: %s", an_status_name(status), an_last_error());
    ck_assert_int_eq(img.width, w);
    ck_assert_int_eq(img.height, h);
    for (int i = 0; i < w * h * 3; i++)
        ck_assert_msg(img.rgb[i] == rgb[i], "pixel %d channel %d: %d, expected %d", i / 3, i % 3,
                      img.rgb[i], rgb[i]);
    an_image_free(&img);
    ck_assert_ptr_null(img.rgb);
    ck_assert_int_eq(img.width, 0);
}

START_TEST(test_decode_rgb8)
{
    static const unsigned char rgb[] = {255, 0, 0, 0,   255, 0,   0,   0,   255,
                                        1,   2, 3, 128, 129, 130, 250, 251, 252};
    expect_pixels(png_rgb8, sizeof png_rgb8, 3, 2, rgb);
}
END_TEST

START_TEST(test_decode_palette_trns)
{
    /* tRNS alphas 0, 128, 255 are dropped: the palette colours come out as they are. */
    static const unsigned char rgb[] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 200, 210, 220};
    expect_pixels(png_pal2_trns, sizeof png_pal2_trns, 2, 2, rgb);
}
END_TEST

START_TEST(test_decode_gray_alpha16)
{
    /* 0x1234 (alpha 0) -> 0x12, 0xfedc -> 0xfe, 0x8000 -> 0x80, 0x00ff -> 0: high bytes,
     * no compositing. */
    static const unsigned char rgb[] = {18, 18, 18, 254, 254, 254, 128, 128, 128, 0, 0, 0};
    expect_pixels(png_graya16, sizeof png_graya16, 2, 2, rgb);
}
END_TEST

START_TEST(test_decode_gray1_interlaced)
{
    static const unsigned char bits[9] = {1, 0, 1, 0, 1, 0, 1, 1, 0};
    unsigned char rgb[27];
    for (int i = 0; i < 27; i++)
        rgb[i] = bits[i / 3] ? 255 : 0;
    expect_pixels(png_gray1_adam7, sizeof png_gray1_adam7, 3, 3, rgb);
}
END_TEST

START_TEST(test_decode_rgba8)
{
    static const unsigned char rgb[] = {9, 8, 7, 100, 110, 120}; /* first pixel: alpha 0 */
    expect_pixels(png_rgba8, sizeof png_rgba8, 2, 1, rgb);
}
END_TEST

START_TEST(test_decode_gray16)
{
    /* 0xabcd, 0x00ff: the high byte (PIL 9.4 would clip both to 255). */
    static const unsigned char rgb[] = {0xab, 0xab, 0xab, 0, 0, 0};
    expect_pixels(png_gray16, sizeof png_gray16, 2, 1, rgb);
}
END_TEST

START_TEST(test_decode_warnings_and_crc)
{
    /* A CRC error in an ancillary chunk before the image data is refused (PIL
     * refuses it too; after the image data both ignore it). */
    an_image img;
    ck_assert_int_eq(
        an_image_decode_png_memory(png_rgb8_bad_text_crc, sizeof png_rgb8_bad_text_crc, &img),
        AN_ERR_BAD_IMAGE);
    ck_assert_msg(strstr(an_last_error(), "CRC") != NULL, "%s", an_last_error());

    /* libpng warns about the sRGB intent; the image decodes and nothing reaches stderr. */
    char path[] = "/tmp/an_image_stderr_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int status = an_image_decode_png_memory(png_rgb8_bad_srgb, sizeof png_rgb8_bad_srgb, &img);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t written = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(path);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    ck_assert_int_eq(img.rgb[0], 255);
    ck_assert_int_eq(img.rgb[17], 252);
    an_image_free(&img);
    ck_assert_msg(written == 0, "%ld bytes were written to stderr", (long)written);
}
END_TEST

START_TEST(test_decode_file)
{
    char path[] = "/tmp/an_image_test_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, png_rgb8, sizeof png_rgb8), (int)sizeof png_rgb8);
    close(fd);
    an_image img;
    int status = an_image_decode_png(path, &img);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    ck_assert_int_eq(img.width, 3);
    ck_assert_int_eq(img.rgb[15], 250);
    an_image_free(&img);

    /* The same file cut short: the message names it. */
    ck_assert_int_eq(truncate(path, 40), 0);
    ck_assert_int_eq(an_image_decode_png(path, &img), AN_ERR_BAD_IMAGE);
    ck_assert_msg(strstr(an_last_error(), path) != NULL, "%s", an_last_error());
    ck_assert_msg(strstr(an_last_error(), "truncated") != NULL, "%s", an_last_error());
    ck_assert_ptr_null(img.rgb);
    unlink(path);

    ck_assert_int_eq(an_image_decode_png(path, &img), AN_ERR_IO);
    ck_assert_msg(strstr(an_last_error(), path) != NULL, "%s", an_last_error());
}
END_TEST

START_TEST(test_decode_every_truncation)
{
    /* Every proper prefix is refused cleanly or, when all the rows are in it (PIL
     * decodes those too, see preprocess_ref.py's cuts), gives the whole image. Run
     * under valgrind/ASan to see that nothing reads past the buffer: each prefix is
     * copied to its own allocation. */
    const unsigned char *pngs[] = {png_rgb8, png_pal2_trns, png_graya16, png_gray1_adam7};
    const size_t sizes[] = {sizeof png_rgb8, sizeof png_pal2_trns, sizeof png_graya16,
                            sizeof png_gray1_adam7};
    for (int p = 0; p < 4; p++) {
        an_image whole;
        ck_assert_int_eq(an_image_decode_png_memory(pngs[p], sizes[p], &whole), AN_OK);
        int refused = 0, decoded = 0;
        for (size_t n = 0; n < sizes[p]; n++) {
            unsigned char *copy = malloc(n ? n : 1);
            memcpy(copy, pngs[p], n);
            an_image img = {7, 7, NULL};
            int status = an_image_decode_png_memory(copy, n, &img);
            if (status == AN_OK) {
                decoded++;
                /* some of the zlib data at least (the rows can end before the
                 * stream's end-of-block code and Adler-32) */
                const unsigned char *idat = memmem(pngs[p], sizes[p], "IDAT", 4);
                ck_assert_msg(n > (size_t)(idat - pngs[p]) + 4 + 2, "png %d prefix %zu", p, n);
                ck_assert_int_eq(img.width, whole.width);
                ck_assert_int_eq(img.height, whole.height);
                ck_assert_mem_eq(img.rgb, whole.rgb, (size_t)whole.width * whole.height * 3);
                an_image_free(&img);
            } else {
                refused++;
                ck_assert_msg(status == AN_ERR_BAD_IMAGE, "png %d prefix %zu: %s", p, n,
                              an_status_name(status));
                ck_assert_msg(strstr(an_last_error(), "PNG in memory") != NULL, "%s",
                              an_last_error());
                ck_assert_ptr_null(img.rgb);
                ck_assert_int_eq(img.width, 0);
            }
            free(copy);
        }
        /* Without IEND (12 bytes) and the last IDAT's CRC (4) the image is whole. */
        ck_assert_int_ge(decoded, 16);
        ck_assert_int_gt(refused, 40);
        an_image_free(&whole);
    }
}
END_TEST

START_TEST(test_decode_bad_arguments)
{
    an_image img;
    ck_assert_int_eq(an_image_decode_png_memory(png_rgb8, sizeof png_rgb8, NULL),
                     AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an_image_decode_png_memory(NULL, 10, &img), AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an_image_decode_png(NULL, &img), AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an_image_decode_png_memory("", 0, &img), AN_ERR_BAD_IMAGE);
    ck_assert_int_eq(an_image_decode_png("/", &img), AN_ERR_IO); /* a directory */
    /* the kind told by content: a PNG through the generic entry, junk refused */
    ck_assert_int_eq(an_image_decode_memory(png_rgb8, sizeof png_rgb8, &img), AN_OK);
    ck_assert_int_eq(img.width, 3);
    an_image_free(&img);
    ck_assert_int_eq(an_image_decode_memory(png_rgb8, sizeof png_rgb8, NULL),
                     AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an_image_decode_memory(NULL, 10, &img), AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an_image_decode(NULL, &img), AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an_image_decode("/", &img), AN_ERR_IO);
    ck_assert_int_eq(an_image_decode_memory("GIF89a", 6, &img), AN_ERR_BAD_IMAGE);
    ck_assert_msg(strstr(an_last_error(), "neither PNG nor JPEG"), "%s", an_last_error());
    ck_assert_int_eq(an_image_decode_memory("\xff\xd8\xff", 3, &img), AN_ERR_BAD_IMAGE);
    ck_assert_ptr_null(img.rgb);
    an_image_free(NULL);
    an_image zero = {0, 0, NULL};
    an_image_free(&zero);
}
END_TEST

START_TEST(test_preprocess_defaults)
{
    an_preprocess pp;
    ck_assert_int_eq(an_preprocess_default("torchvision-224", &pp), AN_OK);
    ck_assert_int_eq(pp.resize_mode, AN_RESIZE_SHORTER);
    ck_assert_int_eq(pp.resize, 256);
    ck_assert_int_eq(pp.crop, 224);
    ck_assert_int_eq(pp.bgr, 0);
    ck_assert_float_eq(pp.scale, 1.0f / 255.0f);
    ck_assert_float_eq(pp.mean[0], 0.485f);
    ck_assert_float_eq(pp.std[2], 0.225f);
    ck_assert_int_eq(an_preprocess_default("caffe-227", &pp), AN_OK);
    ck_assert_int_eq(pp.resize_mode, AN_RESIZE_EXACT);
    ck_assert_int_eq(pp.crop, 227);
    ck_assert_int_eq(pp.bgr, 1);
    ck_assert_float_eq(pp.scale, 1.0f);
    ck_assert_float_eq(pp.mean[0], 104.0f);
    ck_assert_float_eq(pp.mean[2], 123.0f);
    an_preprocess bvlc;
    ck_assert_int_eq(an_preprocess_default("caffe-bvlc-227", &bvlc), AN_OK);
    ck_assert_int_eq(memcmp(&bvlc, &pp, sizeof pp), 0); /* the same BVLC pipeline */
    ck_assert_int_eq(an_preprocess_default("resnet", &pp), AN_ERR_UNKNOWN_VARIANT);
    ck_assert_msg(strstr(an_last_error(), "resnet") != NULL, "%s", an_last_error());
    ck_assert_int_eq(an_preprocess_default(NULL, &pp), AN_ERR_UNKNOWN_VARIANT);
    ck_assert_int_eq(an_preprocess_default("caffe-227", NULL), AN_ERR_INVALID_ARGUMENT);
}
END_TEST

/* an_preprocess_parse and an_preprocess_format: each variant's default written
 * out and read back is the same struct, bit for bit, so its tensors are too;
 * OpenCV's units; bad values refused naming the key, *pp untouched. */
START_TEST(test_preprocess_parse)
{
    const char *const names[] = {"torchvision-224", "caffe-227", "caffe-bvlc-227"};
    unsigned char rgb[300 * 200 * 3];
    for (size_t i = 0; i < sizeof rgb; i++)
        rgb[i] = (unsigned char)(i * 7 + i / 600);
    an_image img = {300, 200, rgb};
    for (int v = 0; v < 3; v++) {
        an_preprocess def, pp;
        char text[512];
        ck_assert_int_eq(an_preprocess_default(names[v], &def), AN_OK);
        an_preprocess_format(&def, text, sizeof text);
        fprintf(stderr, "# %s: %s\n", names[v], text);
        memset(&pp, 0x5a, sizeof pp);
        pp.scale = 1.0f;
        ck_assert_msg(an_preprocess_parse(text, &pp) == AN_OK, "%s", an_last_error());
        ck_assert_msg(memcmp(&pp, &def, sizeof pp) == 0, "%s: read back differs", names[v]);
        /* a spec of nothing, or the scale alone, changes nothing */
        ck_assert_int_eq(an_preprocess_parse(" ; ", &pp), AN_OK);
        ck_assert_int_eq(an_preprocess_parse(v ? "scale=1" : "scale=1/255", &pp), AN_OK);
        ck_assert_int_eq(memcmp(&pp, &def, sizeof pp), 0);
        float *a = malloc(3 * 227 * 227 * sizeof *a), *b = malloc(3 * 227 * 227 * sizeof *b);
        ck_assert_int_eq(an_image_preprocess(&img, &def, a), AN_OK);
        ck_assert_int_eq(an_image_preprocess(&img, &pp, b), AN_OK);
        ck_assert_int_eq(memcmp(a, b, (size_t)3 * def.crop * def.crop * sizeof *a), 0);
        free(a);
        free(b);
    }
    /* torchvision's pipeline in OpenCV's terms: mean in 0..255 before the scale */
    an_preprocess def, pp;
    ck_assert_int_eq(an_preprocess_default("caffe-227", &pp), AN_OK);
    ck_assert_int_eq(an_preprocess_default("torchvision-224", &def), AN_OK);
    ck_assert_int_eq(an_preprocess_parse("resize = 256; crop=224; mean=123.675 116.28 103.53; "
                                         "scale=0.00392156862745098;std=0.229, 0.224,0.225; "
                                         "order=rgb",
                                         &pp),
                     AN_OK);
    ck_assert_int_eq(pp.resize_mode, AN_RESIZE_SHORTER);
    ck_assert_int_eq(memcmp(&pp, &def, sizeof pp), 0);
    /* the scale alone keeps the mean in pixel units; the mean alone takes the scale */
    ck_assert_int_eq(an_preprocess_parse("scale=1", &pp), AN_OK);
    ck_assert_float_eq_tol(pp.mean[0], 123.675f, 1e-4f);
    ck_assert_int_eq(an_preprocess_parse("mean=10,20,30;resize=300x300;crop=300", &pp), AN_OK);
    ck_assert_float_eq(pp.mean[2], 30.0f);
    ck_assert_int_eq(pp.resize_mode, AN_RESIZE_EXACT);
    ck_assert_int_eq(an_preprocess_parse("order=bgr;scale=0.5;resize=none;crop=16384", &pp), AN_OK);
    ck_assert_float_eq(pp.mean[1], 10.0f);
    ck_assert_int_eq(pp.bgr, 1);
    ck_assert_int_eq(pp.resize, 0);

    static const struct {
        const char *spec, *says;
    } bad[] = {
        {"crop=0", "crop '0'"},
        {"crop=-5", "crop '-5'"},
        {"crop=22.5", "crop '22.5'"},
        {"resize=-3", "resize -3"},
        {"resize=0", "resize 0"},
        {"resize=200x300", "only square"},
        {"resize=abc", "resize 'abc'"},
        {"resize=200", "crop 224 is larger than the resize (200)"},
        {"crop=300", "crop 300 is larger than the resize (256)"},
        {"std=0,1,1", "std 0 (channel 0)"},
        {"std=1,-1,1", "std -1 (channel 1)"},
        {"mean=1,2", "mean '1,2' is not three numbers"},
        {"mean=1,2,3,4", "mean '1,2,3,4' is not three numbers"},
        {"mean=-1,2,3", "mean -1 (channel 0) is outside 0..255"},
        {"mean=1,2,300", "mean 300 (channel 2) is outside 0..255"},
        {"mean=1,x,3", "not three numbers"},
        {"scale=0", "scale '0'"},
        {"scale=-1", "scale '-1'"},
        {"scale=1/0", "scale '1/0'"},
        {"scale=nan", "scale 'nan'"},
        {"order=grb", "order 'grb'"},
        {"gamma=2", "unknown key 'gamma'"},
        {"crop", "'crop' is not KEY=VALUE"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(an_preprocess_default("torchvision-224", &pp), AN_OK);
        ck_assert_msg(an_preprocess_parse(bad[i].spec, &pp) == AN_ERR_INVALID_ARGUMENT,
                      "%s accepted", bad[i].spec);
        ck_assert_msg(strstr(an_last_error(), bad[i].says), "%s: '%s' lacks '%s'", bad[i].spec,
                      an_last_error(), bad[i].says);
        ck_assert_int_eq(memcmp(&pp, &def, sizeof pp), 0); /* untouched */
    }
    ck_assert_int_eq(an_preprocess_parse(NULL, &pp), AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an_preprocess_parse("crop=1", NULL), AN_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_preprocess_small_and_invalid)
{
    /* One pixel, no resize, crop 3: zero padding around it, as torchvision pads. */
    unsigned char rgb[3] = {255, 51, 0};
    an_image img = {1, 1, rgb};
    an_preprocess pp;
    ck_assert_int_eq(an_preprocess_default("caffe-227", &pp), AN_OK);
    pp.resize = 0;
    pp.crop = 3;
    float out[27];
    ck_assert_int_eq(an_image_preprocess(&img, &pp, out), AN_OK);
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < 9; i++) {
            float pixel = i == 4 ? (float)rgb[2 - c] : 0.0f; /* BGR */
            ck_assert_float_eq(out[c * 9 + i], pixel - pp.mean[c]);
        }
    }
    /* A constant image stays constant through any resize. */
    unsigned char flat[5 * 7 * 3];
    memset(flat, 200, sizeof flat);
    an_image f = {5, 7, flat};
    ck_assert_int_eq(an_preprocess_default("caffe-227", &pp), AN_OK);
    float *big = malloc(3 * 227 * 227 * sizeof *big);
    ck_assert_int_eq(an_image_preprocess(&f, &pp, big), AN_OK);
    for (int i = 0; i < 3 * 227 * 227; i++)
        ck_assert_float_eq(big[i], 200.0f - pp.mean[i / (227 * 227)]);

    an_preprocess bad = pp;
    bad.crop = 0;
    ck_assert_int_eq(an_image_preprocess(&f, &bad, big), AN_ERR_INVALID_ARGUMENT);
    bad = pp;
    bad.std[1] = 0.0f;
    ck_assert_int_eq(an_image_preprocess(&f, &bad, big), AN_ERR_INVALID_ARGUMENT);
    bad = pp;
    bad.resize_mode = (an_resize_mode)7;
    ck_assert_int_eq(an_image_preprocess(&f, &bad, big), AN_ERR_INVALID_ARGUMENT);
    an_image empty = {0, 0, NULL};
    ck_assert_int_eq(an_image_preprocess(&empty, &pp, big), AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an_image_preprocess(&f, NULL, big), AN_ERR_INVALID_ARGUMENT);
    /* 1 x 10^6 pixels to a shorter side of 256: 256 x 2.56e8 would be needed by a naive
     * implementation; only the crop window is computed here. */
    unsigned char *line = calloc(1000000, 3);
    an_image wide = {1000000, 1, line};
    ck_assert_int_eq(an_preprocess_default("torchvision-224", &pp), AN_OK);
    ck_assert_int_eq(an_image_preprocess(&wide, &pp, big), AN_OK);
    free(line);
    free(big);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Against the reference pipeline                                           */

static unsigned char *read_all(const char *dir, const char *name, size_t *size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static void remove_dir(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# could not remove %s\n", dir);
}

/* Kind of an image: its name without ".png" and without a trailing "_WxH". */
static void kind_of(const char *name, char *kind, size_t cap)
{
    snprintf(kind, cap, "%s", name);
    char *dot = strrchr(kind, '.');
    if (dot)
        *dot = '\0';
    char *us = strrchr(kind, '_');
    int w, h;
    char end;
    if (us && sscanf(us + 1, "%dx%d%c", &w, &h, &end) == 2)
        *us = '\0';
}

typedef struct {
    char kind[256], variant[160];
    double max_diff, step; /* largest |ours - ref|, one 8-bit step in output units */
    int images;
} diff_row;

/* The JPEG file name decoded from memory gives img's pixels, and every proper
 * prefix of it fails alone (AN_ERR_BAD_IMAGE, a reason naming the data, a
 * zeroed image). Returns the number of failures. */
static int check_prefixes(const char *dir, const char *name, const an_image *img)
{
    size_t size = 0;
    unsigned char *data = read_all(dir, name, &size);
    ck_assert_ptr_nonnull(data);
    an_image m;
    int status = an_image_decode_memory(data, size, &m), failures = 0;
    ck_assert_msg(status == AN_OK, "%s from memory: %s", name, an_last_error());
    ck_assert_int_eq(m.width, img->width);
    ck_assert_int_eq(m.height, img->height);
    ck_assert(memcmp(m.rgb, img->rgb, (size_t)m.width * m.height * 3) == 0);
    an_image_free(&m);
    for (size_t n = 0; n < size; n++) {
        unsigned char *copy = malloc(n ? n : 1); /* exactly n bytes: ASan sees overreads */
        memcpy(copy, data, n);
        status = an_image_decode_memory(copy, n, &m);
        if (status != AN_ERR_BAD_IMAGE || m.rgb || m.width || m.height ||
            !strstr(an_last_error(), "image in memory")) {
            fprintf(stderr, "FAIL %s cut to %zu of %zu bytes: %s: %s\n", name, n, size,
                    an_status_name(status), an_last_error());
            failures++;
        }
        an_image_free(&m);
        free(copy);
    }
    free(data);
    return failures;
}

/* Runs tests/reference/SCRIPT into a temporary folder and checks every line of
 * its manifest. jpeg: decode with an_image_decode (by content) and demand
 * bit-for-bit equality (max difference 0), else an_image_decode_png and allow
 * one 8-bit step. */
static void check_reference(const char *script, int jpeg)
{
    const char *root = getenv("AN_SOURCE_ROOT");
    ck_assert_msg(root != NULL, "AN_SOURCE_ROOT is not set");
    char dir[] = "/tmp/an_image_ref_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s/tests/reference/%s' '%s'", root, script, dir);
    int rc = system(cmd);
    if (rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        fprintf(stderr, "# reference comparison skipped: python3 lacks PIL/torchvision\n");
        remove_dir(dir);
        return;
    }
    ck_assert_msg(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s failed (%d)", cmd, rc);

    size_t msize = 0;
    char *manifest = (char *)read_all(dir, "manifest.txt", &msize);
    ck_assert_ptr_nonnull(manifest);
    manifest = realloc(manifest, msize + 1);
    manifest[msize] = '\0';

    enum { MAX_ROWS = 256 };
    static diff_row rows[MAX_ROWS];
    int nrows = 0, checks = 0, failures = 0, bad_files = 0;
    char *save = NULL;
    for (char *line = strtok_r(manifest, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[256], variant[160], ref[256];
        int c, h, w;
        ck_assert_int_eq(sscanf(line, "%255s %159s %d %d %d %255s", name, variant, &c, &h, &w, ref),
                         6);
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        an_image img;
        int status = jpeg ? an_image_decode(path, &img) : an_image_decode_png(path, &img);
        checks++;

        if (strcmp(variant, "bad") == 0) {
            bad_files++;
            fprintf(stderr, "# %-24s -> %s: %s\n", name, an_status_name(status), an_last_error());
            if (status != AN_ERR_BAD_IMAGE || !strstr(an_last_error(), name) ||
                strlen(an_last_error()) < strlen(path) + 10) {
                fprintf(stderr, "FAIL %s: expected AN_ERR_BAD_IMAGE with a reason\n", name);
                failures++;
            }
            an_image_free(&img);
            continue;
        }
        if (status != AN_OK) {
            fprintf(stderr, "FAIL %s: %s\n", name, an_last_error());
            failures++;
            continue;
        }
        if (jpeg && strcmp(variant, "decode") == 0 &&
            (!strncmp(name, "base420_37x29", 13) || !strncmp(name, "prog420", 7) ||
             !strncmp(name, "cmyk_adobe", 10) || !strncmp(name, "restart_rows", 12)))
            failures += check_prefixes(dir, name, &img);
        size_t rsize = 0;
        unsigned char *r = read_all(dir, ref, &rsize);
        ck_assert_msg(r != NULL, "cannot read %s", ref);

        char kind[256];
        kind_of(name, kind, sizeof kind);
        double diff = 0.0, step = 1.0;
        if (strcmp(variant, "decode") == 0) {
            if (img.width != w || img.height != h || rsize != (size_t)w * h * 3) {
                fprintf(stderr, "FAIL %s: %dx%d, reference %dx%d\n", name, img.width, img.height, w,
                        h);
                failures++;
            } else {
                for (size_t i = 0; i < rsize; i++)
                    diff = fmax(diff, abs((int)img.rgb[i] - (int)r[i]));
            }
        } else {
            char base[160];
            snprintf(base, sizeof base, "%s", variant);
            char *plus = strncmp(base, "opt:", 4) == 0 ? NULL : strchr(base, '+');
            if (plus)
                *plus = '\0';
            an_preprocess pp;
            /* "opt:SPEC": the options' pipeline, over torchvision-224's */
            ck_assert_int_eq(an_preprocess_default(
                                 plus || strncmp(base, "opt:", 4) ? base : "torchvision-224", &pp),
                             AN_OK);
            if (strncmp(base, "opt:", 4) == 0)
                ck_assert_msg(an_preprocess_parse(base + 4, &pp) == AN_OK, "%s: %s", base,
                              an_last_error());
            if (plus && strcmp(plus + 1, "noresize") == 0)
                pp.resize = 0;
            ck_assert_int_eq(c, 3);
            ck_assert_int_eq(h, pp.crop);
            ck_assert_int_eq(rsize, (size_t)c * h * w * sizeof(float));
            float *ours = malloc(rsize), refv;
            status = an_image_preprocess(&img, &pp, ours);
            ck_assert_msg(status == AN_OK, "%s %s: %s", name, variant, an_last_error());
            /* one 8-bit step after normalisation: scale / std (1/255/0.229 or 1) */
            step = pp.scale / fmin(pp.std[0], fmin(pp.std[1], pp.std[2]));
            for (size_t i = 0; i < (size_t)c * h * w; i++) {
                memcpy(&refv, r + 4 * i, 4); /* little-endian float32, as on the host */
                diff = fmax(diff, fabs((double)ours[i] - (double)refv));
            }
            free(ours);
        }
        if (jpeg ? diff != 0.0 : diff > step * 1.0001) {
            fprintf(stderr, "FAIL %s %s: max |ours - ref| = %g > %g\n", name, variant, diff, step);
            failures++;
        }
        int k;
        for (k = 0; k < nrows; k++)
            if (!strcmp(rows[k].kind, kind) && !strcmp(rows[k].variant, variant))
                break;
        if (k == nrows && nrows < MAX_ROWS) {
            memset(&rows[k], 0, sizeof rows[k]);
            snprintf(rows[k].kind, sizeof rows[k].kind, "%s", kind);
            snprintf(rows[k].variant, sizeof rows[k].variant, "%s", variant);
            rows[k].step = step;
            nrows++;
        }
        if (k < nrows) {
            rows[k].max_diff = fmax(rows[k].max_diff, diff);
            rows[k].images++;
        }
        free(r);
        an_image_free(&img);
    }

    fprintf(stderr, "# %-18s %-26s %6s %12s %10s\n", "kind", "variant", "images", "max |diff|",
            "8-bit steps");
    for (int k = 0; k < nrows; k++)
        fprintf(stderr, "# %-18s %-26s %6d %12.3g %10.3f\n", rows[k].kind, rows[k].variant,
                rows[k].images, rows[k].max_diff, rows[k].max_diff / rows[k].step);
    fprintf(stderr, "# %d checks, %d bad files, %d failures\n", checks, bad_files, failures);
    free(manifest);
    ck_assert_int_ge(bad_files, 5);
    ck_assert_msg(failures == 0,
                  "%d of %d reference checks failed (see stderr); files kept "
                  "in %s",
                  failures, checks, dir);
    remove_dir(dir);
}

START_TEST(test_reference)
{
    check_reference("preprocess_ref.py", 0);
}
END_TEST

START_TEST(test_reference_jpeg)
{
    check_reference("jpeg_ref.py", 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("decode");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_decode_rgb8);
    tcase_add_test(tc, test_decode_palette_trns);
    tcase_add_test(tc, test_decode_gray_alpha16);
    tcase_add_test(tc, test_decode_gray1_interlaced);
    tcase_add_test(tc, test_decode_rgba8);
    tcase_add_test(tc, test_decode_gray16);
    tcase_add_test(tc, test_decode_warnings_and_crc);
    tcase_add_test(tc, test_decode_file);
    tcase_add_test(tc, test_decode_every_truncation);
    tcase_add_test(tc, test_decode_bad_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("preprocess");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_preprocess_defaults);
    tcase_add_test(tc, test_preprocess_parse);
    tcase_add_test(tc, test_preprocess_small_and_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("reference");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_reference);
    tcase_add_test(tc, test_reference_jpeg);
    suite_add_tcase(s, tc);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
