/* test_tuning.c - the tuning file (runtime/tuning.c), no OpenCL: a table
 * written and read back, a merge that keeps other devices' and other keys'
 * entries, stale entries (older format, other runtime version) ignored, more
 * than 64 entries kept, and a model's tuning loaded from such a file. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "internal.h" /* twice on purpose: its include guard must cover all of it */

static an_device_info device(const char *name)
{
    an_device_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.platform, sizeof info.platform, "Test platform");
    snprintf(info.name, sizeof info.name, "%s", name);
    snprintf(info.driver, sizeof info.driver, "1.0");
    info.type = AN_DEVICE_CPU;
    info.compute_units = 2;
    info.max_work_group = 256;
    info.float_vector = 8;
    return info;
}

/* A fresh file path in a temporary directory. */
static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/an_tuning_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/tuning.txt", dir);
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *slurp(const char *p)
{
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void write_text(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_round_trip)
{
    an_device_info a = device("device A");
    an__tuning_table t = {0}, back = {0};
    ck_assert_int_eq(an__tuning_table_set(&t, "device", "fc_blocked=1,conv_vec=8", 0), AN_OK);
    ck_assert_int_eq(an__tuning_table_set(&t, "conv c=3 h=224", "conv_tx=3", 1.5), AN_OK);
    ck_assert_int_eq(an__tuning_table_set(&t, "conv c=3 h=224", "conv_tx=4", 1.0), AN_OK);
    ck_assert_uint_eq(t.n, 2); /* the same key replaced */
    ck_assert_int_eq(an__tuning_table_merge(path, &a, &t), AN_OK);
    ck_assert_int_eq(an__tuning_table_read(path, &a, &back), AN_OK);
    ck_assert_uint_eq(back.n, 2);
    ck_assert_str_eq(an__tuning_table_find(&back, "device")->params, "fc_blocked=1,conv_vec=8");
    ck_assert_str_eq(an__tuning_table_find(&back, "conv c=3 h=224")->params, "conv_tx=4");
    /* another device reads nothing of it */
    an_device_info b = device("device B");
    an__tuning_table none = {0};
    ck_assert_int_eq(an__tuning_table_read(path, &b, &none), AN_OK);
    ck_assert_uint_eq(none.n, 0);
    /* a missing file is no error */
    ck_assert_int_eq(an__tuning_table_read("/nonexistent/tuning.txt", &a, &none), AN_OK);
    ck_assert_uint_eq(none.n, 0);
    an__tuning_table_free(&t);
    an__tuning_table_free(&back);
}
END_TEST

START_TEST(test_merge)
{
    an_device_info a = device("device A"), b = device("device B");
    an__tuning_table ta = {0}, tb = {0}, ta2 = {0}, got = {0};
    an__tuning_table_set(&ta, "device", "fc_blocked=1", 0);
    an__tuning_table_set(&ta, "fc i=9216 o=4096 n=16", "fc_tm=2", 0);
    an__tuning_table_set(&ta, "clblast Xgemm", "MWG=32", 0);
    an__tuning_table_set(&tb, "device", "fc_blocked=0", 0);
    ck_assert_int_eq(an__tuning_table_merge(path, &a, &ta), AN_OK);
    ck_assert_int_eq(an__tuning_table_merge(path, &b, &tb), AN_OK);
    /* A retuned: its device line replaced, the FC entry kept, CLBlast removed */
    an__tuning_table_set(&ta2, "device", "fc_blocked=0", 0);
    an__tuning_table_set(&ta2, "clblast Xgemm", "", 0);
    ck_assert_int_eq(an__tuning_table_merge(path, &a, &ta2), AN_OK);
    ck_assert_int_eq(an__tuning_table_read(path, &a, &got), AN_OK);
    ck_assert_uint_eq(got.n, 2);
    ck_assert_str_eq(an__tuning_table_find(&got, "device")->params, "fc_blocked=0");
    ck_assert_str_eq(an__tuning_table_find(&got, "fc i=9216 o=4096 n=16")->params, "fc_tm=2");
    ck_assert_ptr_null(an__tuning_table_find(&got, "clblast Xgemm"));
    an__tuning_table_free(&got);
    ck_assert_int_eq(an__tuning_table_read(path, &b, &got), AN_OK);
    ck_assert_uint_eq(got.n, 1);
    ck_assert_str_eq(an__tuning_table_find(&got, "device")->params, "fc_blocked=0");
    an__tuning_table_free(&got);
    /* no temporary file left beside it */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 1", dir);
    ck_assert_int_eq(system(cmd), 0);
    an__tuning_table_free(&ta);
    an__tuning_table_free(&tb);
    an__tuning_table_free(&ta2);
}
END_TEST

START_TEST(test_stale_ignored)
{
    an_device_info a = device("device A");
    char prefix[700], dkey[512], text[4096];
    an__tuning_line_prefix(&a, prefix, sizeof prefix);
    an__tuning_device_key(&a, dkey, sizeof dkey);
    /* the unversioned format of before, another runtime version, a future
     * format, a line with no key, and one current entry */
    snprintf(text, sizeof text,
             "# comment\n"
             "%s|device|fc_blocked=0\n"
             "2|0123456789abcdef|%s|conv c=1|conv_tx=9\n"
             "3|%016llx|%s|conv c=2|conv_tx=9\n"
             "%s|\n"
             "%s|conv c=3|conv_tx=2\n",
             dkey, dkey, (unsigned long long)an__tuning_runtime_version(), dkey, prefix, prefix);
    write_text(path, text);
    an__tuning_table got = {0};
    ck_assert_int_eq(an__tuning_table_read(path, &a, &got), AN_OK);
    ck_assert_uint_eq(got.n, 1);
    ck_assert_str_eq(got.e[0].key, "conv c=3");
    ck_assert_str_eq(got.e[0].params, "conv_tx=2");
    /* a merge keeps the other runtime version's line (another build may use
     * it) and drops the unversioned and future-format ones */
    an__tuning_table t = {0};
    an__tuning_table_set(&t, "conv c=4", "conv_tx=1", 0);
    ck_assert_int_eq(an__tuning_table_merge(path, &a, &t), AN_OK);
    const char *after = slurp(path);
    ck_assert_ptr_nonnull(strstr(after, "2|0123456789abcdef|"));
    ck_assert_ptr_null(strstr(after, "\n3|"));
    ck_assert_ptr_null(strstr(after, "|device|fc_blocked=0"));
    an__tuning_table_free(&got);
    ck_assert_int_eq(an__tuning_table_read(path, &a, &got), AN_OK);
    ck_assert_uint_eq(got.n, 2);
    an__tuning_table_free(&got);
    an__tuning_table_free(&t);
}
END_TEST

START_TEST(test_many_entries)
{
    an_device_info a = device("device A");
    an__tuning_table t = {0}, got = {0};
    char key[96], params[64];
    for (int i = 0; i < 300; i++) {
        an__tuning_conv_key(key, sizeof key, 64, 27, 27, 192, 5, 1, 2, 1, i + 1);
        snprintf(params, sizeof params, "conv_tx=%d", 1 + i % 16);
        ck_assert_int_eq(an__tuning_table_set(&t, key, params, 0), AN_OK);
    }
    ck_assert_uint_eq(t.n, 300);
    ck_assert_int_eq(an__tuning_table_merge(path, &a, &t), AN_OK);
    ck_assert_int_eq(an__tuning_table_read(path, &a, &got), AN_OK);
    ck_assert_uint_eq(got.n, 300);

    /* a model's tuning: every entry reaches an__tuning_for */
    an_device dev;
    memset(&dev, 0, sizeof dev);
    dev.info = a;
    an_model m;
    memset(&m, 0, sizeof m);
    m.dev = &dev;
    ck_assert_int_eq(an__tuning_load(&m, NULL, path), AN_OK);
    ck_assert_uint_eq(m.tuned.n, 300);
    an__tuning_conv_key(key, sizeof key, 64, 27, 27, 192, 5, 1, 2, 1, 300);
    ck_assert_int_eq(an__tuning_for(&m, key).conv_tx, 1 + 299 % 16);
    an__tuning_table_free(&m.tuned);
    /* a forced text wins over the file */
    ck_assert_int_eq(an__tuning_load(&m, "conv_tx=7", path), AN_OK);
    ck_assert_uint_eq(m.tuned.n, 0);
    ck_assert_int_eq(an__tuning_for(&m, key).conv_tx, 7);
    an__tuning_table_free(&t);
    an__tuning_table_free(&got);
}
END_TEST

/* wino_m's tile choice (an__winograd_tile): 2 and 4 force the small and
 * large tiles; 0 takes the large one where the batch has at least
 * AN_WINO_LARGE_TILES of them */
START_TEST(test_winograd_tile)
{
    /* conv2 (5x5, 27 x 27 out: 81 large tiles an image) large from batch 1 */
    ck_assert_int_eq(an__winograd_tile(5, 0, 1, 27, 27), 3);
    ck_assert_int_eq(an__winograd_tile(5, 2, 64, 27, 27), 2);
    /* conv3-5 (3x3, 13 x 13: 16 an image) small to batch 4, large from 5 */
    ck_assert_int_eq(an__winograd_tile(3, 0, 1, 13, 13), 2);
    ck_assert_int_eq(an__winograd_tile(3, 0, 4, 13, 13), 2);
    ck_assert_int_eq(an__winograd_tile(3, 0, 5, 13, 13), 4);
    ck_assert_int_eq(an__winograd_tile(3, 0, 64, 13, 13), 4);
    ck_assert_int_eq(an__winograd_tile(3, 4, 1, 13, 13), 4);
    /* conv1 through space-to-depth (3 taps, 55 x 55: 196) and a small plane */
    ck_assert_int_eq(an__winograd_tile(3, 0, 1, 55, 55), 4);
    ck_assert_int_eq(an__winograd_tile(5, 0, 8, 6, 6), 2);
    ck_assert_int_eq(an__winograd_tile(5, 0, 20, 6, 6), 3);
}
END_TEST

static Suite *tuning_suite(void)
{
    Suite *s = suite_create("tuning");
    TCase *tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_merge);
    tcase_add_test(tc, test_stale_ignored);
    tcase_add_test(tc, test_many_entries);
    tcase_add_test(tc, test_winograd_tile);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tuning_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
