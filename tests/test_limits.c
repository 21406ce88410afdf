/* test_limits.c - resource limits are refused up front, with the numbers:
 *   - a plan whose batch cannot fit on the device gives AN_ERR_TOO_LARGE with
 *     the bytes needed, the device's memory and the largest batch that fits,
 *     before any device buffer is created (fault_shim.c counts clCreateBuffer);
 *     that largest batch is consistent (one more is refused, naming it again);
 *   - sizes whose arithmetic would overflow an int are refused, not wrapped;
 *   - a PNG above AN_IMAGE_MAX_PIXELS is refused from its header: the error
 *     names the limit, and the file is far too short to be a decoded image. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fault_shim.h"
#include "internal.h"

static an_device *dev;
static an_model *model;

static void setup(void)
{
    if (!dev) {
        ck_assert_msg(an_device_open(NULL, &dev) == AN_OK, "%s", an_last_error());
        ck_assert_msg(an_model_seed(dev, "torchvision-224", 3, &model) == AN_OK, "%s",
                      an_last_error());
    }
}

/* "... the largest batch that fits is K" -> K; "not even one image fits" -> 0;
 * -1 when the text says neither. */
static long long largest_batch(const char *text)
{
    if (strstr(text, "not even one image fits"))
        return 0;
    const char *key = "largest batch that fits is ";
    const char *p = strstr(text, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* Creates a plan that must be refused as too large, counting buffers. */
static long long refuse(int batch, int h, int w)
{
    an_plan *p = (an_plan *)&p; /* must come back NULL */
    fault_only("clCreateBuffer");
    fault_reset(0);
    int status = an_plan_create(model, batch, h, w, &p);
    long buffers = fault_calls();
    fault_only(NULL);
    const char *text = an_last_error();
    ck_assert_msg(status == AN_ERR_TOO_LARGE, "batch %d of %dx%d: %s (%s)", batch, h, w,
                  an_status_name(status), text);
    ck_assert_ptr_null(p);
    ck_assert_msg(buffers == 0, "batch %d: %ld device buffers created before the refusal", batch,
                  buffers);
    fprintf(stderr, "# %s\n", text);
    ck_assert_msg(strstr(text, "need") && strstr(text, "global memory") &&
                      strstr(text, "allocates at most"),
                  "no needed/available sizes in: %s", text);
    long long k = largest_batch(text);
    ck_assert_msg(k >= 0, "no largest batch in: %s", text);
    return k;
}

START_TEST(test_batch_too_large)
{
    long long k = refuse(100000, 224, 224);
    ck_assert_msg(k >= 1 && k < 100000, "largest batch %lld", k);
    /* one more than the largest that fits is refused, with the same answer */
    ck_assert_int_eq(refuse((int)k + 1, 224, 224), k);
    refuse(INT_MAX, 224, 224);
}
END_TEST

START_TEST(test_input_too_large)
{
    /* 40000 x 40000: conv1 alone is 64 x 10000 x 10000 floats = 25.6 GB per image */
    long long k = refuse(1, 40000, 40000);
    ck_assert_int_eq(k, 0);
}
END_TEST

START_TEST(test_sizes_that_overflow)
{
    /* (in + 2p - k) and the batch products must not wrap around: refused as a
     * bad shape or as too large, never planned */
    const int sizes[][3] = {
        {1, INT_MAX, INT_MAX}, {1, INT_MAX - 3, 224}, {INT_MAX, 4096, 4096}, {2, 1 << 30, 1 << 30}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        an_plan *p = NULL;
        fault_only("clCreateBuffer");
        fault_reset(0);
        int status = an_plan_create(model, sizes[i][0], sizes[i][1], sizes[i][2], &p);
        long buffers = fault_calls();
        fault_only(NULL);
        ck_assert_msg(status == AN_ERR_TOO_LARGE || status == AN_ERR_BAD_SHAPE,
                      "batch %d of %dx%d: %s (%s)", sizes[i][0], sizes[i][1], sizes[i][2],
                      an_status_name(status), an_last_error());
        ck_assert_ptr_null(p);
        ck_assert_int_eq(buffers, 0);
        fprintf(stderr, "# %dx%dx%d: %s\n", sizes[i][0], sizes[i][1], sizes[i][2],
                an_status_name(status));
    }
}
END_TEST

/* ------------------------------------------------------------------------ */

static size_t put_chunk(unsigned char *out, const char *kind, const unsigned char *body, size_t len)
{
    out[0] = (unsigned char)(len >> 24), out[1] = (unsigned char)(len >> 16);
    out[2] = (unsigned char)(len >> 8), out[3] = (unsigned char)len;
    memcpy(out + 4, kind, 4);
    if (len)
        memcpy(out + 8, body, len);
    uLong crc = crc32(0L, out + 4, (uInt)(4 + len));
    out[8 + len] = (unsigned char)(crc >> 24), out[9 + len] = (unsigned char)(crc >> 16);
    out[10 + len] = (unsigned char)(crc >> 8), out[11 + len] = (unsigned char)crc;
    return 12 + len;
}

/* An RGB8 PNG header for w x h with one small IDAT of zeros: a few hundred
 * bytes that claim a huge image. */
static size_t huge_png(unsigned char *buf, unsigned w, unsigned h)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13] = {(unsigned char)(w >> 24),
                              (unsigned char)(w >> 16),
                              (unsigned char)(w >> 8),
                              (unsigned char)w,
                              (unsigned char)(h >> 24),
                              (unsigned char)(h >> 16),
                              (unsigned char)(h >> 8),
                              (unsigned char)h,
                              8,
                              2,
                              0,
                              0,
                              0};
    unsigned char zeros[256] = {0}, z[512];
    uLongf zlen = sizeof z;
    ck_assert_int_eq(compress(z, &zlen, zeros, sizeof zeros), Z_OK);
    size_t n = 0;
    memcpy(buf, sig, 8);
    n += 8;
    n += put_chunk(buf + n, "IHDR", ihdr, 13);
    n += put_chunk(buf + n, "IDAT", z, zlen);
    n += put_chunk(buf + n, "IEND", NULL, 0);
    return n;
}

START_TEST(test_image_over_pixel_limit)
{
    /* just over the limit (sides below libpng's own per-side limit), and far over */
    const unsigned dims[][2] = {{10001, 10000}, {100000, 1001}, {999999, 999999}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        unsigned char png[1024];
        size_t size = huge_png(png, dims[i][0], dims[i][1]);
        an_image img = {7, 7, (unsigned char *)png};
        int status = an_image_decode_png_memory(png, size, &img);
        const char *text = an_last_error();
        ck_assert_msg(status == AN_ERR_BAD_IMAGE, "%ux%u: %s (%s)", dims[i][0], dims[i][1],
                      an_status_name(status), text);
        ck_assert_msg(strstr(text, "over the limit") != NULL,
                      "%ux%u: refused, but not by the pixel limit: %s", dims[i][0], dims[i][1],
                      text);
        ck_assert_ptr_null(img.rgb);
        ck_assert_int_eq(img.width, 0);
        fprintf(stderr, "# %s\n", text);
    }
    /* at the limit exactly the header is accepted: the refusal is for the
     * missing pixel data (the image stops early), not for the size */
    unsigned char png[1024];
    size_t size = huge_png(png, 10000, 10000);
    an_image img;
    int status = an_image_decode_png_memory(png, size, &img);
    ck_assert_int_eq(status, AN_ERR_BAD_IMAGE);
    ck_assert_msg(strstr(an_last_error(), "over the limit") == NULL, "%s", an_last_error());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_batch_too_large);
    tcase_add_test(tc, test_input_too_large);
    tcase_add_test(tc, test_sizes_that_overflow);
    tcase_add_test(tc, test_image_over_pixel_limit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    an_model_free(model);
    an_device_free(dev);
    return failed ? 1 : 0;
}
