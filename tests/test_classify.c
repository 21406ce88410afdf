/* test_classify.c - classification end to end with seeded weights: a folder
 * of good and bad PNGs through the library pipeline and through `alexnet
 * classify --json`, compared with decode + preprocess + forward done one image
 * at a time; and a few hundred small images at a batch size that divides
 * nothing, none lost and the order kept. */
#include <check.h>
#include <json-c/json.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

static an_device *dev;
static an_model *model;
static char dir[256];

static void write_png(const char *path, int w, int h, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    unsigned char *row = malloc((size_t)w * 3);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w * 3; x++) {
            seed = seed * 1103515245u + 12345u;
            row[x] = (unsigned char)((seed >> 16) ^ (unsigned)(x * 7 + y * 3));
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    fclose(f);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* ------------------------------------------------------------------------ */

typedef struct {
    size_t n;
    an_result r[64];
    an_score top[64][5];
    char path[64][512];
    char error[64][512];
} collected;

static int collect(const an_result *r, void *user)
{
    collected *c = user;
    ck_assert_uint_lt(c->n, 64);
    c->r[c->n] = *r;
    memcpy(c->top[c->n], r->top, (size_t)r->k * sizeof *r->top);
    snprintf(c->path[c->n], 512, "%s", r->path);
    snprintf(c->error[c->n], 512, "%s", r->error);
    c->n++;
    return 0;
}

/* Top-5 of one image by decode + preprocess + a batch-1 forward pass. */
static void reference_top5(const char *path, an_score *out)
{
    an_preprocess pp;
    ck_assert_int_eq(an_preprocess_default("torchvision-224", &pp), AN_OK);
    an_image img = {0};
    ck_assert_int_eq(an_image_decode_png(path, &img), AN_OK);
    float *x = malloc(3 * 224 * 224 * sizeof *x), probs[AN_CLASSES];
    ck_assert_int_eq(an_image_preprocess(&img, &pp, x), AN_OK);
    an_plan *plan = NULL;
    ck_assert_int_eq(an_plan_create(model, 1, 224, 224, &plan), AN_OK);
    ck_assert_int_eq(an_plan_forward(plan, x, probs, AN_OUTPUT_PROBS), AN_OK);
    for (int j = 0; j < 5; j++) {
        int best = -1;
        for (int c = 0; c < AN_CLASSES; c++) {
            bool taken = false;
            for (int t = 0; t < j; t++)
                taken |= out[t].index == c;
            if (!taken && (best < 0 || probs[c] > probs[best]))
                best = c;
        }
        out[j] = (an_score){best, probs[best]};
    }
    an_plan_free(plan);
    an_image_free(&img);
    free(x);
}

static const char *names[] = {"a_good.png",      "b_empty.png", "c_good.png",   "d_notpng.png",
                              "e_truncated.png", "f_good.png",  "g_missing.png"};
static const bool good[] = {true, false, true, false, false, true, false};

static void make_mixed_folder(void)
{
    char p[512];
    snprintf(p, sizeof p, "%s/mixed", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/mixed/a_good.png", dir);
    write_png(p, 300, 200, 1);
    snprintf(p, sizeof p, "%s/mixed/c_good.png", dir);
    write_png(p, 97, 131, 2);
    snprintf(p, sizeof p, "%s/mixed/f_good.png", dir);
    write_png(p, 256, 256, 3);
    snprintf(p, sizeof p, "%s/mixed/b_empty.png", dir);
    write_bytes(p, "", 0);
    snprintf(p, sizeof p, "%s/mixed/d_notpng.png", dir);
    write_bytes(p, "GIF89a this is not a PNG", 24);
    /* the first 100 bytes of a good PNG */
    char src[512];
    snprintf(src, sizeof src, "%s/mixed/a_good.png", dir);
    FILE *f = fopen(src, "rb");
    unsigned char head[100];
    ck_assert_uint_eq(fread(head, 1, sizeof head, f), sizeof head);
    fclose(f);
    snprintf(p, sizeof p, "%s/mixed/e_truncated.png", dir);
    write_bytes(p, head, sizeof head);
}

START_TEST(test_library_pipeline)
{
    make_mixed_folder();
    const char *paths[7];
    char buf[7][512];
    for (int i = 0; i < 7; i++) {
        snprintf(buf[i], sizeof buf[i], "%s/mixed/%s", dir, names[i]);
        paths[i] = buf[i];
    }
    collected *c = calloc(1, sizeof *c);
    an_classify_options o = {2, 5, 2, NULL}; /* batch 2: good and bad share batches */
    an_classify_stats st;
    ck_assert_int_eq(an_classify_files(model, paths, 7, &o, collect, c, &st), AN_OK);
    ck_assert_uint_eq(c->n, 7);
    ck_assert_uint_eq(st.images, 7);
    ck_assert_uint_eq(st.failed, 4);
    ck_assert_uint_eq(st.batches, 4);
    for (int i = 0; i < 7; i++) {
        ck_assert_uint_eq(c->r[i].index, (size_t)i);
        ck_assert_str_eq(c->path[i], paths[i]);
        if (!good[i]) {
            ck_assert_int_ne(c->r[i].status, AN_OK);
            ck_assert_msg(strlen(c->error[i]) > 10, "no reason for %s", names[i]);
            continue;
        }
        ck_assert_int_eq(c->r[i].status, AN_OK);
        an_score want[5];
        reference_top5(paths[i], want);
        for (int j = 0; j < 5; j++) {
            ck_assert_int_eq(c->top[i][j].index, want[j].index);
            ck_assert_msg(fabsf(c->top[i][j].prob - want[j].prob) <= 1e-5f + 1e-4f * want[j].prob,
                          "%s top %d: %g vs %g", names[i], j, c->top[i][j].prob, want[j].prob);
        }
    }
    free(c);
}
END_TEST

static int stop_after_two(const an_result *r, void *user)
{
    (void)r;
    return ++*(int *)user >= 2;
}

/* A callback that stops the run still gets the stats of what ran, and a run
 * that ended well leaves no error text behind (images' failures included). */
START_TEST(test_stop_writes_stats)
{
    make_mixed_folder();
    const char *paths[7];
    char buf[7][512];
    for (int i = 0; i < 7; i++) {
        snprintf(buf[i], sizeof buf[i], "%s/mixed/%s", dir, names[i]);
        paths[i] = buf[i];
    }
    an_classify_options o = {2, 5, 2, NULL};
    an_classify_stats st;
    memset(&st, 0xff, sizeof st);
    int seen = 0;
    ck_assert_int_eq(an_classify_files(model, paths, 7, &o, stop_after_two, &seen, &st), AN_OK);
    ck_assert_int_eq(seen, 2);
    ck_assert_uint_ge(st.images, 2);
    ck_assert_uint_le(st.images, 7);
    ck_assert_int_eq(st.batch, 2);
    ck_assert(st.wall_seconds >= 0 && st.wall_seconds < 3600);
    ck_assert_str_eq(an_last_error(), "");
}
END_TEST

/* Runs cmd, returns its exit status and its standard output (malloc'ed). */
static int run_capture(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 4096)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    *out = buf;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(test_cli_json_mixed)
{
    make_mixed_folder();
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' classify --json --batch 3 '%s/mixed' '%s/mixed/g_missing.png' "
             "2>/dev/null",
             getenv("AN_BUILD_ROOT"), dir, dir);
    ck_assert_int_eq(run_capture(cmd, &out), 1);
    /* folder walk gives a..f sorted, then the missing file */
    int line = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        ck_assert_int_lt(line, 7);
        json_object *o = json_tokener_parse(l);
        ck_assert_msg(o != NULL, "line %d is not JSON: %s", line, l);
        json_object *path, *top, *err;
        ck_assert(json_object_object_get_ex(o, "path", &path));
        ck_assert_ptr_nonnull(strstr(json_object_get_string(path), names[line]));
        if (good[line]) {
            ck_assert(json_object_object_get_ex(o, "top", &top));
            ck_assert_int_eq((int)json_object_array_length(top), 5);
            an_score want[5];
            reference_top5(json_object_get_string(path), want);
            for (int j = 0; j < 5; j++) {
                json_object *c = json_object_array_get_idx(top, (size_t)j), *idx, *prob, *lab;
                ck_assert(json_object_object_get_ex(c, "index", &idx));
                ck_assert(json_object_object_get_ex(c, "probability", &prob));
                ck_assert(json_object_object_get_ex(c, "label", &lab));
                ck_assert_int_eq(json_object_get_int(idx), want[j].index);
                ck_assert_str_eq(json_object_get_string(lab), an_class_label(want[j].index));
                ck_assert(fabs(json_object_get_double(prob) - want[j].prob) <=
                          1e-5 + 1e-4 * want[j].prob);
            }
        } else {
            ck_assert(json_object_object_get_ex(o, "error", &err));
            ck_assert_int_gt((int)strlen(json_object_get_string(err)), 10);
        }
        json_object_put(o);
        line++;
    }
    ck_assert_int_eq(line, 7);
    free(out);
}
END_TEST

START_TEST(test_cli_many_batch7)
{
    enum { N = 300 };
    char p[512], cmd[2048], *out = NULL;
    snprintf(p, sizeof p, "%s/many", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/list.txt", dir);
    FILE *list = fopen(p, "w");
    for (int i = 0; i < N; i++) {
        /* listed in reverse name order: output must follow the list, not the names */
        snprintf(p, sizeof p, "%s/many/img%03d.png", dir, N - 1 - i);
        if (i % 50 == 7)
            write_bytes(p, "broken", 6);
        else
            write_png(p, 23 + i % 17, 19 + i % 13, (unsigned)i);
        fprintf(list, "%s\n", p);
    }
    fclose(list);
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' classify --json --batch 7 --top 1 @'%s/list.txt' 2>/dev/null",
             getenv("AN_BUILD_ROOT"), dir);
    ck_assert_int_eq(run_capture(cmd, &out), 1);
    int line = 0, errors = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_object *o = json_tokener_parse(l), *path, *err;
        ck_assert_ptr_nonnull(o);
        ck_assert(json_object_object_get_ex(o, "path", &path));
        snprintf(p, sizeof p, "%s/many/img%03d.png", dir, N - 1 - line);
        ck_assert_str_eq(json_object_get_string(path), p);
        bool bad = json_object_object_get_ex(o, "error", &err);
        ck_assert_int_eq(bad, line % 50 == 7);
        errors += bad;
        json_object_put(o);
        line++;
    }
    ck_assert_int_eq(line, N);
    ck_assert_int_eq(errors, N / 50);
    free(out);
}
END_TEST

static void setup(void)
{
    if (!dev) {
        ck_assert_int_eq(an_device_open(NULL, &dev), AN_OK);
        ck_assert_int_eq(an_model_seed(dev, "torchvision-224", 0, &model), AN_OK);
        snprintf(dir, sizeof dir, "/tmp/an-classify-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
    }
}

int main(void)
{
    Suite *s = suite_create("classify");
    TCase *tc = tcase_create("classify");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_library_pipeline);
    tcase_add_test(tc, test_stop_writes_stats);
    tcase_add_test(tc, test_cli_json_mixed);
    tcase_add_test(tc, test_cli_many_batch7);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    an_model_free(model);
    an_device_free(dev);
    if (dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return failed ? 1 : 0;
}
