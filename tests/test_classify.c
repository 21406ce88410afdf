/* test_classify.c - classification end to end with seeded weights: a folder
 * of good and bad PNGs (and JPEGs) through the library pipeline and through `alexnet
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

#include <jpeglib.h> /* after stdio.h: it needs FILE */

#include "internal.h"
#include "npy.h"

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

/* Counts results and checks that each has no path (no names given). */
static int record_path(const an_result *r, void *user)
{
    ck_assert_ptr_null(r->path);
    ++*(int *)user;
    return 0;
}

/* Top-5 of one image by decode + preprocess + a batch-1 forward pass. */
static void reference_top5(const char *path, an_score *out)
{
    an_preprocess pp;
    ck_assert_int_eq(an_preprocess_default("torchvision-224", &pp), AN_OK);
    an_image img = {0};
    ck_assert_int_eq(an_image_decode(path, &img), AN_OK);
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

/* The same files read into memory first: the same results, bit for bit;
 * a NULL buffer (the missing file) fails alone; names are passed through,
 * and without names the results' paths are NULL. */
START_TEST(test_library_memory)
{
    make_mixed_folder();
    const char *paths[7];
    char buf[7][512];
    void *data[7] = {NULL};
    size_t sizes[7] = {0};
    for (int i = 0; i < 7; i++) {
        snprintf(buf[i], sizeof buf[i], "%s/mixed/%s", dir, names[i]);
        paths[i] = buf[i];
        FILE *f = fopen(paths[i], "rb");
        if (!f)
            continue; /* g_missing.png */
        data[i] = malloc(1 << 20);
        sizes[i] = fread(data[i], 1, 1 << 20, f);
        fclose(f);
    }
    collected *want = calloc(1, sizeof *want), *got = calloc(1, sizeof *got);
    an_classify_options o = {2, 5, 2, NULL};
    ck_assert_int_eq(an_classify_files(model, paths, 7, &o, collect, want, NULL), AN_OK);
    ck_assert_int_eq(an_classify_memory(model, (const void *const *)data, sizes, paths, 7, &o,
                                        collect, got, NULL),
                     AN_OK);
    ck_assert_uint_eq(got->n, 7);
    for (int i = 0; i < 7; i++) {
        ck_assert_str_eq(got->path[i], paths[i]);
        ck_assert_int_eq(got->r[i].status == AN_OK, good[i]);
        ck_assert_int_eq(got->r[i].k, want->r[i].k);
        ck_assert_int_eq(memcmp(got->top[i], want->top[i], sizeof got->top[i]), 0);
        if (!good[i])
            ck_assert_msg(strlen(got->error[i]) > 10, "no reason for %s", names[i]);
    }
    ck_assert_ptr_nonnull(strstr(got->error[6], "NULL data"));
    int n = 0;
    ck_assert_int_eq(an_classify_memory(model, (const void *const *)data, sizes, NULL, 7, &o,
                                        record_path, &n, NULL),
                     AN_OK);
    ck_assert_int_eq(n, 7);
    ck_assert_int_eq(an_classify_memory(model, NULL, sizes, NULL, 7, &o, collect, got, NULL),
                     AN_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 7; i++)
        free(data[i]);
    free(want);
    free(got);
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
    /* written (the 0xff poison is a NaN), and the idle time fits in the run */
    ck_assert(st.device_wait_seconds >= 0 && st.device_wait_seconds <= st.wall_seconds);
    ck_assert(st.device_seconds >= 0 && st.device_seconds <= st.wall_seconds);
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

/* ------------------------------------------------------------------------ */
/* Non-finite numbers (issue 15, item 1)                                    */

/* Top-k must be defined for every float: k distinct valid indices, in an
 * order where NaN ranks below every number. */
START_TEST(test_top_k_nonfinite)
{
    static float probs[AN_CLASSES];
    an_score out[AN_CLASSES];
    for (int pattern = 0; pattern < 4; pattern++) {
        for (int c = 0; c < AN_CLASSES; c++) {
            switch (pattern) {
            case 0:
                probs[c] = NAN;
                break;
            case 1:
                probs[c] = c % 3 == 0 ? NAN : c % 3 == 1 ? INFINITY : -INFINITY;
                break;
            case 2:
                probs[c] = c == 500 ? NAN : 0.001f;
                break;
            default:
                probs[c] = c % 7 ? -NAN : (float)c;
                break;
            }
        }
        const int ks[] = {1, 3, 5, 999, 1000};
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            int k = ks[ki];
            bool used[AN_CLASSES] = {false};
            an__top_k(probs, k, out);
            for (int j = 0; j < k; j++) {
                int i = out[j].index;
                ck_assert_msg(i >= 0 && i < AN_CLASSES, "pattern %d k %d: index %d", pattern, k, i);
                ck_assert(!used[i]);
                used[i] = true;
                if (j > 0 && !isnan(out[j].prob))
                    ck_assert_msg(!isnan(out[j - 1].prob) ? out[j - 1].prob >= out[j].prob : 0,
                                  "pattern %d: NaN ranked above a number", pattern);
            }
        }
    }
    /* ties go to the lower index; a NaN never beats a number */
    for (int c = 0; c < AN_CLASSES; c++)
        probs[c] = c < 10 ? NAN : 0.5f;
    an__top_k(probs, 2, out);
    ck_assert_int_eq(out[0].index, 10);
    ck_assert_int_eq(out[1].index, 11);
}
END_TEST

/* A sparse torchvision-224 F32 file of zeros but one NaN in classifier.6.bias
 * at index 5 (the data region is a hole). */
static void write_nan_weights(const char *path, const char *tensor)
{
    const an__variant *v = an__variant_find("torchvision-224");
    an__param_shape ps[AN_MAX_LAYERS];
    int n = an__variant_param_shapes(v, ps, AN_MAX_LAYERS);
    char hdr[8192];
    size_t len = 0;
    uint64_t off = 0, nan_at = 0;
    len += (size_t)snprintf(hdr + len, sizeof hdr - len, "{");
    for (int i = 0; i < n; i++) {
        const an__layer *l = &v->layers[ps[i].layer];
        uint64_t numel = 1;
        char shape[64] = "";
        for (int d = 0; d < ps[i].ndim; d++) {
            numel *= (uint64_t)ps[i].dims[d];
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%d", d ? "," : "",
                     ps[i].dims[d]);
        }
        len += (size_t)snprintf(
            hdr + len, sizeof hdr - len,
            "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[%llu,%llu]},"
            "\"%s\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%llu,%llu]}",
            i ? "," : "", l->weight_name, shape, (unsigned long long)off,
            (unsigned long long)(off + 4 * numel), l->bias_name, ps[i].dims[0],
            (unsigned long long)(off + 4 * numel),
            (unsigned long long)(off + 4 * numel + 4 * (uint64_t)ps[i].dims[0]));
        if (strcmp(l->weight_name, tensor) == 0)
            nan_at = off + 5 * 4;
        off += 4 * numel;
        if (strcmp(l->bias_name, tensor) == 0)
            nan_at = off + 5 * 4;
        off += 4 * (uint64_t)ps[i].dims[0];
    }
    len += (size_t)snprintf(hdr + len, sizeof hdr - len, "}");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    unsigned char size_le[8];
    for (int i = 0; i < 8; i++)
        size_le[i] = (unsigned char)((uint64_t)len >> (8 * i));
    ck_assert_uint_eq(fwrite(size_le, 1, 8, f), 8);
    ck_assert_uint_eq(fwrite(hdr, 1, len, f), len);
    ck_assert_int_eq(ftruncate(fileno(f), (off_t)(8 + len + off)), 0);
    const unsigned char nan_le[4] = {0x00, 0x00, 0xc0, 0x7f};
    ck_assert_int_eq(fseek(f, (long)(8 + len + nan_at), SEEK_SET), 0);
    ck_assert_uint_eq(fwrite(nan_le, 1, 4, f), 4);
    fclose(f);
}

START_TEST(test_nonfinite_weights)
{
    char weights[512], labels[512], cmd[4096], *out = NULL;
    snprintf(weights, sizeof weights, "%s/nan.safetensors", dir);
    write_nan_weights(weights, "classifier.6.bias");
    make_mixed_folder();

    /* refused at load, naming the tensor and the first bad flat index */
    an_model *m = NULL;
    ck_assert_int_eq(an_model_load(dev, "torchvision-224", weights, &m), AN_ERR_BAD_WEIGHTS);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(an_last_error(), "'classifier.6.bias'") &&
                      strstr(an_last_error(), "flat index 5;"),
                  "%s", an_last_error());
    ck_assert_int_eq(an_model_load_flags(dev, "torchvision-224", weights, 0x100, &m),
                     AN_ERR_INVALID_ARGUMENT);

    /* allowed: each image then fails alone, with no top-k */
    ck_assert_msg(
        an_model_load_flags(dev, "torchvision-224", weights, AN_LOAD_ALLOW_NONFINITE, &m) == AN_OK,
        "%s", an_last_error());
    char buf[3][512];
    const char *paths[3];
    const char *goods[3] = {"a_good.png", "b_empty.png", "c_good.png"};
    for (int i = 0; i < 3; i++) {
        snprintf(buf[i], sizeof buf[i], "%s/mixed/%s", dir, goods[i]);
        paths[i] = buf[i];
    }
    collected *c = calloc(1, sizeof *c);
    an_classify_options o = {2, 5, 1, NULL};
    an_classify_stats st;
    ck_assert_int_eq(an_classify_files(m, paths, 3, &o, collect, c, &st), AN_OK);
    ck_assert_uint_eq(c->n, 3);
    ck_assert_uint_eq(st.failed, 3);
    ck_assert_int_eq(c->r[0].status, AN_ERR_NONFINITE);
    ck_assert_int_eq(c->r[0].k, 0);
    ck_assert_ptr_nonnull(strstr(c->error[0], "non-finite"));
    ck_assert_int_eq(c->r[1].status, AN_ERR_BAD_IMAGE); /* its own reason stays */
    ck_assert_int_eq(c->r[2].status, AN_ERR_NONFINITE);
    free(c);
    an_model_free(m);

    /* the CLI: refused without --allow-nonfinite (set-up error, status 2) */
    const char *build = getenv("AN_BUILD_ROOT");
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' classify --weights '%s' --json --top 3 '%s/mixed/a_good.png' 2>&1",
             build, weights, dir);
    ck_assert_int_eq(run_capture(cmd, &out), 2);
    ck_assert_msg(strstr(out, "classifier.6.bias") && strstr(out, "--allow-nonfinite"), "%s", out);
    free(out);

    /* allowed: every printer gives each image an error line, status 1 */
    snprintf(labels, sizeof labels, "%s/labels.txt", dir);
    FILE *lf = fopen(labels, "w");
    for (int i = 0; i < AN_CLASSES; i++)
        fprintf(lf, "class %d\n", i);
    fclose(lf);
    const char *modes[] = {"--json --top 3", "--json --top 1", "--json --labels", "--labels", ""};
    for (size_t mi = 0; mi < sizeof modes / sizeof modes[0]; mi++) {
        bool json = strstr(modes[mi], "--json") != NULL, lab = strstr(modes[mi], "--labels");
        snprintf(cmd, sizeof cmd,
                 "'%s/apps/alexnet' classify --allow-nonfinite --weights '%s' %s %s%s%s "
                 "'%s/mixed/a_good.png' '%s/mixed/c_good.png' 2>/dev/null",
                 build, weights, modes[mi], lab ? "'" : "", lab ? labels : "", lab ? "'" : "", dir,
                 dir);
        int rc = run_capture(cmd, &out);
        ck_assert_msg(rc == 1, "%s: status %d: %s", modes[mi], rc, out);
        int lines = 0;
        for (char *save = NULL, *l = strtok_r(out, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save), lines++) {
            ck_assert_msg(!strstr(l, ":NaN") && !strstr(l, ":Infinity") && !strstr(l, "nan%") &&
                              !strstr(l, "(null)") && !strstr(l, "(-1)"),
                          "%s: %s", modes[mi], l);
            ck_assert_msg(strstr(l, "non-finite"), "%s: no error in '%s'", modes[mi], l);
            if (json) {
                json_object *jo = json_tokener_parse(l), *err;
                ck_assert_msg(jo && json_object_object_get_ex(jo, "error", &err), "%s", l);
                json_object_put(jo);
            }
        }
        ck_assert_int_eq(lines, 2);
        free(out);
    }

    /* forward: an input .npy with a NaN in image 1 is refused, naming the image */
    char npy[512], outnpy[512];
    snprintf(npy, sizeof npy, "%s/x_nan.npy", dir);
    snprintf(outnpy, sizeof outnpy, "%s/y.npy", dir);
    float *x = calloc(2 * 3 * 224 * 224, sizeof *x);
    x[3 * 224 * 224 + 777] = INFINITY;
    int dims[4] = {2, 3, 224, 224};
    ck_assert_int_eq(npy_write_f32(npy, x, dims, 4), AN_OK);
    free(x);
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' forward --variant torchvision-224 --seed 1 --input '%s' "
             "--output '%s' 2>&1",
             build, npy, outnpy);
    ck_assert_int_eq(run_capture(cmd, &out), 2);
    ck_assert_msg(strstr(out, "image 1 holds a non-finite value") && strstr(out, "index 777"), "%s",
                  out);
    free(out);
    ck_assert_int_ne(access(outnpy, F_OK), 0);
    /* forward with NaN weights allowed: the file is written, each image has an error */
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' forward --variant torchvision-224 --allow-nonfinite --weights '%s' "
             "--input '%s' --output '%s' 2>&1",
             build, weights, npy, outnpy);
    ck_assert_int_eq(run_capture(cmd, &out), 1);
    ck_assert_msg(strstr(out, "image 0: error") && strstr(out, "image 1: error"), "%s", out);
    free(out);
}
END_TEST

/* A NaN weight whose input is zero still reaches the logits at batch 1
 * (0 x NaN is NaN): a model loaded with AN_LOAD_ALLOW_NONFINITE does not skip
 * the zero inputs of the FC layers (gemv_panel, fc_panel). The file's other
 * weights and biases are zero, so every FC input is zero; the NaN is FC8's
 * weight for output 0, input 5. */
START_TEST(test_nonfinite_weight_zero_input)
{
    char weights[512];
    snprintf(weights, sizeof weights, "%s/nan_w.safetensors", dir);
    write_nan_weights(weights, "classifier.6.weight");
    an_model *m = NULL;
    ck_assert_msg(
        an_model_load_flags(dev, "torchvision-224", weights, AN_LOAD_ALLOW_NONFINITE, &m) == AN_OK,
        "%s", an_last_error());
    for (int batch = 1; batch <= 2; batch++) {
        an_plan *p = NULL;
        ck_assert_msg(an_plan_create(m, batch, 224, 224, &p) == AN_OK, "%s", an_last_error());
        size_t n = (size_t)batch * 3 * 224 * 224;
        float *x = malloc(n * sizeof *x), *y = malloc((size_t)batch * AN_CLASSES * sizeof *y);
        ck_assert(x && y);
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(i % 7) - 3.0f;
        ck_assert_int_eq(an_plan_forward(p, x, y, AN_OUTPUT_LOGITS), AN_OK);
        for (int b = 0; b < batch; b++) {
            ck_assert_msg(isnan(y[(size_t)b * AN_CLASSES]), "batch %d image %d: logit 0 is %g",
                          batch, b, (double)y[(size_t)b * AN_CLASSES]);
            ck_assert_msg(y[(size_t)b * AN_CLASSES + 1] == 0.0f, "batch %d: logit 1 is %g", batch,
                          (double)y[(size_t)b * AN_CLASSES + 1]);
        }
        free(x);
        free(y);
        an_plan_free(p);
    }
    an_model_free(m);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Directory walks like `find -L` (issue 15, item 2), and runs that classify */
/* nothing (item 6)                                                          */

/* Runs `alexnet classify --json --top 1 ARGS` (under a timeout: a walk that
 * never ends fails), returns the status and the lines' "path" and "error"
 * (or "") into paths/errors. */
static int classify_json(const char *args, char paths[][512], char errors[][512], int max,
                         int *lines, char **err_out)
{
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && timeout 120 '%s/apps/alexnet' classify --json --top 1 %s 2>'%s/stderr'",
             dir, getenv("AN_BUILD_ROOT"), args, dir);
    int rc = run_capture(cmd, &out);
    *lines = 0;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        ck_assert_int_lt(*lines, max);
        json_object *o = json_tokener_parse(l), *p, *e;
        ck_assert_msg(o && json_object_object_get_ex(o, "path", &p), "not JSON: %s", l);
        snprintf(paths[*lines], 512, "%s", json_object_get_string(p));
        snprintf(errors[*lines], 512, "%s",
                 json_object_object_get_ex(o, "error", &e) ? json_object_get_string(e) : "");
        json_object_put(o);
        (*lines)++;
    }
    free(out);
    snprintf(cmd, sizeof cmd, "cat '%s/stderr'", dir);
    run_capture(cmd, err_out);
    return rc;
}

START_TEST(test_cli_walk_links)
{
    char p[512], q[512], paths[16][512], errors[16][512], *err = NULL;
    int lines;
    snprintf(p, sizeof p, "%s/walk", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/walk/sub", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/walk/a.png", dir);
    write_png(p, 40, 30, 7);
    snprintf(p, sizeof p, "%s/walk/sub/b.png", dir);
    write_png(p, 30, 40, 8);
    snprintf(q, sizeof q, "%s/walk/hard.png", dir); /* the same file: listed once */
    ck_assert_int_eq(link(p, q), 0);
    snprintf(p, sizeof p, "%s/walk/sym.png", dir);
    ck_assert_int_eq(symlink("a.png", p), 0);
    snprintf(p, sizeof p, "%s/walk/again", dir); /* two loops back to the root */
    ck_assert_int_eq(symlink(".", p), 0);
    snprintf(p, sizeof p, "%s/walk/sub/again", dir);
    ck_assert_int_eq(symlink("..", p), 0);
    snprintf(p, sizeof p, "%s/walk/dangling.png", dir);
    ck_assert_int_eq(symlink("nowhere.png", p), 0);
    snprintf(p, sizeof p, "%s/walk/b_sub", dir); /* a second way into sub: walked once */
    ck_assert_int_eq(symlink("sub", p), 0);

    /* sorted by bytes: a.png again b_sub dangling.png hard.png sub/ sym.png */
    const char *want[][2] = {
        {"walk/a.png", ""},
        {"walk/again", "file system loop"},
        {"walk/b_sub/again", "file system loop"},
        {"walk/b_sub/b.png", ""}, /* sub/b.png is the same file: not listed again */
        {"walk/dangling.png", "dangling symbolic link"},
    };
    int n_want = (int)(sizeof want / sizeof want[0]);
    for (int run = 0; run < 2; run++) { /* the same output twice: stable */
        int rc = classify_json("walk", paths, errors, 16, &lines, &err);
        ck_assert_msg(rc == 1, "status %d: %s", rc, err);
        ck_assert_msg(lines == n_want, "%d lines: %s", lines, err);
        for (int i = 0; i < n_want; i++) {
            ck_assert_str_eq(paths[i], want[i][0]);
            if (want[i][1][0])
                ck_assert_msg(strstr(errors[i], want[i][1]), "%s: '%s'", paths[i], errors[i]);
            else
                ck_assert_msg(!errors[i][0], "%s: %s", paths[i], errors[i]);
        }
        ck_assert_msg(strstr(err, "5 images, 3 failed"), "%s", err);
        free(err);
    }
}
END_TEST

START_TEST(test_cli_nothing_classified)
{
    char p[512], paths[4][512], errors[4][512], *err = NULL;
    int lines;
    snprintf(p, sizeof p, "%s/others", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    const char *files[] = {"1.gif", "2.GIF", "3.webp", "README"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/others/%s", dir, files[i]);
        write_bytes(p, "\xff\xd8\xff", 3);
    }
    int rc = classify_json("others", paths, errors, 4, &lines, &err);
    ck_assert_int_eq(rc, 1);
    ck_assert_int_eq(lines, 0);
    ck_assert_msg(strstr(err, "no image classified") && strstr(err, "4 files skipped") &&
                      strstr(err, "not PNG or JPEG") && strstr(err, "2 .gif") &&
                      strstr(err, "1 .webp") && strstr(err, "1 no extension"),
                  "%s", err);
    free(err);
    /* an empty folder too */
    snprintf(p, sizeof p, "%s/empty", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    ck_assert_int_eq(classify_json("empty", paths, errors, 4, &lines, &err), 1);
    ck_assert_msg(strstr(err, "no image classified: 0 inputs"), "%s", err);
    free(err);
    /* a skipped file beside a classified one is named in the summary, status 0 */
    snprintf(p, sizeof p, "%s/others/ok.png", dir);
    write_png(p, 20, 20, 9);
    ck_assert_int_eq(classify_json("others", paths, errors, 4, &lines, &err), 0);
    ck_assert_int_eq(lines, 1);
    ck_assert_msg(strstr(err, "4 files skipped"), "%s", err);
    free(err);
}
END_TEST

/* Writes a w x h RGB JPEG (libjpeg's defaults: 4:2:0, quality 75). */
static void write_jpeg(const char *path, int w, int h, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc((size_t)w * 3);
    while (c.next_scanline < c.image_height) {
        for (int x = 0; x < w * 3; x++) {
            seed = seed * 1103515245u + 12345u;
            row[x] = (unsigned char)(((seed >> 24) & 31) + x + 2 * c.next_scanline);
        }
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    fclose(f);
}

/* JPEG files in a walk: taken by name (.jpg, .JPG, .jpeg), decoded by content
 * (a PNG named .jpeg decodes as PNG), a broken one fails alone; the results
 * equal decode + preprocess + forward one image at a time. */
START_TEST(test_cli_jpeg)
{
    char p[512], q[512], paths[8][512], errors[8][512], *err = NULL;
    int lines;
    snprintf(p, sizeof p, "%s/jpegs", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/jpegs/1.jpg", dir);
    write_jpeg(p, 123, 77, 21);
    snprintf(p, sizeof p, "%s/jpegs/2.JPG", dir);
    write_bytes(p, "\xff\xd8\xff", 3);
    snprintf(p, sizeof p, "%s/jpegs/3.jpeg", dir);
    write_png(p, 64, 48, 22);
    snprintf(p, sizeof p, "%s/jpegs/README", dir);
    write_bytes(p, "text", 4);
    int rc = classify_json("jpegs", paths, errors, 8, &lines, &err);
    ck_assert_msg(rc == 1, "status %d: %s", rc, err);
    ck_assert_msg(lines == 3, "%d lines: %s", lines, err);
    ck_assert_str_eq(paths[0], "jpegs/1.jpg");
    ck_assert_msg(!errors[0][0], "%s", errors[0]);
    ck_assert_str_eq(paths[1], "jpegs/2.JPG");
    ck_assert_msg(strstr(errors[1], "truncated JPEG"), "%s", errors[1]);
    ck_assert_str_eq(paths[2], "jpegs/3.jpeg");
    ck_assert_msg(!errors[2][0], "%s", errors[2]);
    ck_assert_msg(strstr(err, "3 images, 1 failed") && strstr(err, "1 file skipped"), "%s", err);
    free(err);

    /* the library pipeline on the JPEG matches the one-at-a-time reference */
    snprintf(q, sizeof q, "%s/jpegs/1.jpg", dir);
    const char *one[1] = {q};
    collected *c = calloc(1, sizeof *c);
    an_classify_options o = {1, 5, 1, NULL};
    ck_assert_int_eq(an_classify_files(model, one, 1, &o, collect, c, NULL), AN_OK);
    ck_assert_int_eq(c->r[0].status, AN_OK);
    an_score want[5];
    reference_top5(q, want);
    for (int j = 0; j < 5; j++)
        ck_assert_int_eq(c->top[0][j].index, want[j].index);
    free(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Labels files (issue 15, item 3)                                           */

/* Writes a labels file: BOM, then n lines "lab<i>" (line `blank` empty, 0 for
 * none) joined by eol, a final eol when final; extra appended raw. */
static void write_labels(const char *path, const char *bom, int n, int blank, const char *eol,
                         bool final, const char *first, const char *extra)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(bom, f);
    for (int i = 0; i < n; i++) {
        if (i == 0 && first)
            fputs(first, f);
        else if (i + 1 != blank)
            fprintf(f, "lab%d%s", i - (first ? 1 : 0), i == 7 ? " caf\xc3\xa9" : "");
        if (i + 1 < n || final)
            fputs(eol, f);
    }
    fputs(extra, f);
    fclose(f);
}

START_TEST(test_cli_labels)
{
    char lab[512], png[512], cmd[4096], *out = NULL;
    snprintf(lab, sizeof lab, "%s/labels_case.txt", dir);
    snprintf(png, sizeof png, "%s/labels.png", dir);
    write_png(png, 50, 40, 11);
    const struct {
        const char *bom, *eol, *first, *extra;
        int n, blank;
        bool final;
        const char *says;
    } refused[] = {
        {"", "\n", "background", "", 1001, 0, true,
         "1001 labels, one a line; expected exactly 1000 (a TensorFlow-style list with "
         "'background' first"},
        {"", "\n", NULL, "", 999, 0, true, "999 labels"},
        {"", "\n", NULL, "", 1000, 500, true, "line 500 is blank"},
        {"", "\n", NULL, "\n", 1000, 0, true, "1001 labels, one a line (line 1001 is blank)"},
        {"\xef\xbb\xbf", "\r\n", NULL, "\r\n", 1000, 0, true, "1001 labels"},
        {"", "\n", NULL, "", 0, 0, true, "0 labels"},
        {"", "\r", NULL, "", 1000, 0, true, "1 label, one a line"},
        {"\xfe\xff", "\n", NULL, "", 1000, 0, true, "line 1 is not UTF-8 (byte 0xfe"},
        {"", "\n", "caf\xe9", "", 1000, 0, false, "line 1 is not UTF-8 (byte 0xe9 at column 4)"},
        {"", "\n", "a\rb", "", 1000, 0, false, "line 1 holds the control byte 0x0d"},
        {"", "\n", "a\tb\x7f", "", 1000, 0, false,
         "line 1 holds the control byte 0x7f at column 4"},
        {"", "\n", "\xed\xa0\x80", "", 1000, 0, false, "line 1 is not UTF-8"}, /* a surrogate */
    };
    const char *build = getenv("AN_BUILD_ROOT");
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        write_labels(lab, refused[i].bom, refused[i].n, refused[i].blank, refused[i].eol,
                     refused[i].final, refused[i].first, refused[i].extra);
        snprintf(cmd, sizeof cmd, "'%s/apps/alexnet' classify --labels '%s' '%s' 2>&1", build, lab,
                 png);
        int rc = run_capture(cmd, &out);
        ck_assert_msg(rc == 2 && strstr(out, refused[i].says), "case %zu: status %d: %s", i, rc,
                      out);
        free(out);
    }
    /* accepted: a BOM, CRLF endings, no final newline; labels by index, UTF-8 kept */
    const char *eols[] = {"\r\n", "\n"};
    for (int e = 0; e < 2; e++) {
        write_labels(lab, e ? "" : "\xef\xbb\xbf", 1000, 0, eols[e], e == 1, NULL, "");
        snprintf(cmd, sizeof cmd,
                 "'%s/apps/alexnet' classify --json --top 1000 --labels '%s' '%s' 2>/dev/null",
                 build, lab, png);
        ck_assert_int_eq(run_capture(cmd, &out), 0);
        json_object *o = json_tokener_parse(out), *top;
        ck_assert(o && json_object_object_get_ex(o, "top", &top));
        ck_assert_int_eq((int)json_object_array_length(top), 1000);
        for (int j = 0; j < 1000; j++) {
            json_object *c = json_object_array_get_idx(top, (size_t)j), *idx, *l;
            ck_assert(json_object_object_get_ex(c, "index", &idx));
            ck_assert(json_object_object_get_ex(c, "label", &l));
            char want[64];
            int k = json_object_get_int(idx);
            snprintf(want, sizeof want, "lab%d%s", k, k == 7 ? " caf\xc3\xa9" : "");
            ck_assert_str_eq(json_object_get_string(l), want);
        }
        json_object_put(o);
        free(out);
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* JSON lines whatever the bytes of a path (issue 15, item 7)                */

/* A Latin-1 name, a name with quote, backslash, tab and valid UTF-8, and a
 * missing path with invalid bytes (its error text quotes it): every line is
 * strict UTF-8 JSON to Python, and os.fsencode() of "path" gives the bytes
 * back (surrogateescape). */
START_TEST(test_cli_json_bytes)
{
    char p[512], cmd[8192], *out = NULL;
    snprintf(p, sizeof p, "%s/bytes", dir);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/bytes/caf\xe9.png", dir);
    write_png(p, 30, 30, 21);
    snprintf(p, sizeof p, "%s/bytes/q\"b\\t\tz\xc3\xa9\xe2\x98\x95.png", dir);
    write_png(p, 30, 30, 22);
    snprintf(p, sizeof p, "%s/bytes/\xed\xa0\x80sur.png", dir); /* an encoded surrogate */
    write_png(p, 30, 30, 23);
    const char *check =
        "import json, os, sys\n"
        "want = sorted(os.listdir(b'bytes'))\n"
        "want = [b'bytes/' + w for w in want] + [b'bytes/gone\\xff\\xfe\\x80.png']\n"
        "lines = sys.stdin.buffer.read().split(b'\\n')[:-1]\n"
        "assert len(lines) == len(want), (len(lines), want)\n"
        "for line, w in zip(lines, want):\n"
        "    o = json.loads(line.decode('utf-8'))\n"
        "    assert os.fsencode(o['path']) == w, (o['path'], w)\n"
        "    if 'error' in o: assert w in os.fsencode(o['error']), o['error']\n"
        "    else: assert len(o['top']) == 2\n"
        "print('ok', len(lines))\n";
    snprintf(p, sizeof p, "%s/check.py", dir);
    FILE *f = fopen(p, "w");
    fputs(check, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s/apps/alexnet' classify --json --top 2 bytes $(printf "
             "'bytes/gone\\377\\376\\200.png') 2>/dev/null | /usr/bin/python3 check.py 2>&1",
             dir, getenv("AN_BUILD_ROOT"));
    int rc = run_capture(cmd, &out);
    ck_assert_msg(rc == 0 && strcmp(out, "ok 4\n") == 0, "status %d: %s", rc, out);
    free(out);
}
END_TEST

/* A full torchvision-224 file of seeded weights (seed 9): the linear weights
 * as F16 (rounded to nearest even), everything else F32, so that it holds
 * exactly what AN_LOAD_WEIGHTS_F16 makes of the seeded weights. When big is
 * nonzero the F16 tensors are F32 instead, with `big` at flat index 7 of
 * classifier.4.weight. */
static void write_half_weights(const char *path, float big)
{
    const an__variant *v = an__variant_find("torchvision-224");
    an__weights w;
    ck_assert_int_eq(an__weights_seed(v, 9, &w), AN_OK);
    char hdr[8192];
    size_t len = 0;
    uint64_t off = 0;
    len += (size_t)snprintf(hdr + len, sizeof hdr - len, "{");
    for (int i = 0; i < w.count; i++) {
        const an__layer *l = &v->layers[w.shape[i].layer];
        uint64_t numel = 1;
        char shape[64] = "";
        for (int d = 0; d < w.shape[i].ndim; d++) {
            numel *= (uint64_t)w.shape[i].dims[d];
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%d", d ? "," : "",
                     w.shape[i].dims[d]);
        }
        int es = w.shape[i].ndim == 2 && big == 0 ? 2 : 4;
        uint64_t o = (uint64_t)w.shape[i].dims[0];
        len += (size_t)snprintf(
            hdr + len, sizeof hdr - len,
            "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%llu,%llu]},"
            "\"%s\":{\"dtype\":\"F32\",\"shape\":[%llu],\"data_offsets\":[%llu,%llu]}",
            i ? "," : "", l->weight_name, es == 2 ? "F16" : "F32", shape, (unsigned long long)off,
            (unsigned long long)(off + es * numel), l->bias_name, (unsigned long long)o,
            (unsigned long long)(off + es * numel), (unsigned long long)(off + es * numel + 4 * o));
        off += es * numel + 4 * o;
    }
    len += (size_t)snprintf(hdr + len, sizeof hdr - len, "}");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 8; i++)
        fputc((int)((uint64_t)len >> (8 * i)) & 0xff, f);
    ck_assert_uint_eq(fwrite(hdr, 1, len, f), len);
    for (int i = 0; i < w.count; i++) {
        const an__layer *l = &v->layers[w.shape[i].layer];
        size_t numel = (size_t)w.shape[i].dims[0] * w.shape[i].dims[1] * w.shape[i].dims[2] *
                       w.shape[i].dims[3];
        if (big != 0 && strcmp(l->weight_name, "classifier.4.weight") == 0)
            w.weight[i][7] = big;
        if (w.shape[i].ndim == 2 && big == 0) { /* host byte order: little-endian x86 */
            uint16_t *h = malloc(numel * sizeof *h);
            ck_assert_ptr_nonnull(h);
            for (size_t j = 0; j < numel; j++)
                h[j] = an__half_from_float(w.weight[i][j]);
            ck_assert_uint_eq(fwrite(h, 2, numel, f), numel);
            free(h);
        } else {
            ck_assert_uint_eq(fwrite(w.weight[i], 4, numel, f), numel);
        }
        ck_assert_uint_eq(fwrite(w.bias[i], 4, (size_t)w.shape[i].dims[0], f),
                          (size_t)w.shape[i].dims[0]);
    }
    ck_assert_int_eq(fclose(f), 0);
    an__weights_free(&w);
}

/* F16 safetensors with --weights-dtype f16: the file's half weights go to the
 * device as they are, the same bits as seeded weights rounded at load, so the
 * logits are identical; a float32 FC weight beyond half's range is refused
 * naming the tensor, by the library and by the CLI (status 2). */
START_TEST(test_f16_safetensors)
{
    char path[512], cmd[2048], *out = NULL;
    snprintf(path, sizeof path, "%s/half.safetensors", dir);
    write_half_weights(path, 0);
    an_model *m[2] = {NULL, NULL};
    ck_assert_msg(an_model_load_flags(dev, "torchvision-224", path, AN_LOAD_WEIGHTS_F16, &m[0]) ==
                      AN_OK,
                  "%s", an_last_error());
    an_load_options lo = {.seed = 9, .flags = AN_LOAD_WEIGHTS_F16};
    ck_assert_msg(an_model_load_opts(dev, "torchvision-224", &lo, &m[1]) == AN_OK, "%s",
                  an_last_error());
    size_t n_in = (size_t)3 * 224 * 224;
    float *x = malloc(n_in * sizeof *x), y[2][AN_CLASSES];
    for (size_t i = 0; i < n_in; i++)
        x[i] = (float)((i * 40503u) % 997) / 300.0f - 1.5f;
    for (int k = 0; k < 2; k++) {
        an_plan *plan = NULL;
        ck_assert_int_eq(an_plan_create(m[k], 1, 224, 224, &plan), AN_OK);
        ck_assert_int_eq(an_plan_forward(plan, x, y[k], AN_OUTPUT_LOGITS), AN_OK);
        an_plan_free(plan);
        an_model_free(m[k]);
    }
    ck_assert_int_eq(memcmp(y[0], y[1], sizeof y[0]), 0);
    free(x);
    unlink(path);

    write_half_weights(path, 70000.0f);
    an_model *bad = NULL;
    ck_assert_int_eq(an_model_load_flags(dev, "torchvision-224", path, AN_LOAD_WEIGHTS_F16, &bad),
                     AN_ERR_BAD_WEIGHTS);
    ck_assert_ptr_null(bad);
    ck_assert_msg(strstr(an_last_error(), "'classifier.4.weight'") &&
                      strstr(an_last_error(), "flat index 7;"),
                  "%s", an_last_error());
    snprintf(cmd, sizeof cmd,
             "'%s/apps/alexnet' classify --weights '%s' --weights-dtype f16 '%s' 2>&1",
             getenv("AN_BUILD_ROOT"), path, path);
    ck_assert_int_eq(run_capture(cmd, &out), 2);
    ck_assert_msg(strstr(out, "classifier.4.weight") && strstr(out, "--weights-dtype f32"), "%s",
                  out);
    free(out);
    unlink(path);
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
    /* two cases, the library's pipeline and the alexnet program's, that Meson
     * runs as tests of their own side by side (CK_RUN_CASE=cli runs one) */
    Suite *s = suite_create("classify");
    TCase *tc = tcase_create("library");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_library_pipeline);
    tcase_add_test(tc, test_library_memory);
    tcase_add_test(tc, test_stop_writes_stats);
    tcase_add_test(tc, test_top_k_nonfinite);
    tcase_add_test(tc, test_nonfinite_weights);
    tcase_add_test(tc, test_nonfinite_weight_zero_input);
    tcase_add_test(tc, test_f16_safetensors);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_cli_json_mixed);
    tcase_add_test(tc, test_cli_many_batch7);
    tcase_add_test(tc, test_cli_walk_links);
    tcase_add_test(tc, test_cli_nothing_classified);
    tcase_add_test(tc, test_cli_jpeg);
    tcase_add_test(tc, test_cli_labels);
    tcase_add_test(tc, test_cli_json_bytes);
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
