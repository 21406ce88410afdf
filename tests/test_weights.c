/* test_weights.c - the safetensors reader, seeded weights and the .npy reader
 * and writer. Every file is generated here, in a temporary directory: two full
 * torchvision-224 files with values (F32 and F16, built once per run) and, for
 * the rejection cases, sparse files whose data region costs no disk. */
#include <check.h>

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "npy.h"

static char tmp_dir[64];

static const an__variant *variant(const char *name)
{
    const an__variant *v = an__variant_find(name);
    ck_assert_msg(v != NULL, "variant %s: %s", name, an_last_error());
    return v;
}

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmp_dir, name);
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static void assert_zeroed(const an__weights *w)
{
    static const an__weights zero;
    ck_assert_msg(memcmp(w, &zero, sizeof zero) == 0, "weights not zeroed after a failure");
}

/* ------------------------------------------------------------------------ */
/* Writing safetensors files                                                */

/* One tensor as it will appear in the header; shape and offsets are JSON
 * text so that a test can put anything there. */
typedef struct {
    char name[48];
    char dtype[16];
    char shape[96];
    char offsets[96];
    char raw[192]; /* when set, the whole entry value, verbatim */
    int table;     /* index in the variant's weight/bias order */
    int elem_size;
    uint64_t numel, begin, end;
} tspec;

typedef struct {
    tspec t[2 * AN_MAX_LAYERS + 2];
    int n;
    char extra[256]; /* more members after the tensors, e.g. "__metadata__" */
    uint64_t data_size;
} layout;

static void set_offsets(tspec *t, uint64_t begin, uint64_t end)
{
    t->begin = begin;
    t->end = end;
    snprintf(t->offsets, sizeof t->offsets, "[%llu, %llu]", (unsigned long long)begin,
             (unsigned long long)end);
}

/* The valid layout of variant v: weights of elem_size bytes and biases of
 * bias_size bytes (4 = F32, 2 = F16); data in table order or reversed. */
static void layout_init(layout *L, const an__variant *v, int elem_size, int bias_size, int reversed)
{
    an__param_shape ps[AN_MAX_LAYERS];
    int n = an__variant_param_shapes(v, ps, AN_MAX_LAYERS);
    ck_assert_int_gt(n, 0);
    memset(L, 0, sizeof *L);
    for (int i = 0; i < n; i++) {
        const an__layer *l = &v->layers[ps[i].layer];
        for (int b = 0; b < 2; b++) {
            tspec *t = &L->t[L->n];
            t->table = L->n++;
            t->elem_size = b ? bias_size : elem_size;
            snprintf(t->name, sizeof t->name, "%s", b ? l->bias_name : l->weight_name);
            snprintf(t->dtype, sizeof t->dtype, "%s", t->elem_size == 4 ? "F32" : "F16");
            if (b) {
                t->numel = (uint64_t)ps[i].dims[0];
                snprintf(t->shape, sizeof t->shape, "[%d]", ps[i].dims[0]);
            } else if (ps[i].ndim == 4) {
                t->numel = (uint64_t)ps[i].dims[0] * ps[i].dims[1] * ps[i].dims[2] * ps[i].dims[3];
                snprintf(t->shape, sizeof t->shape, "[%d, %d, %d, %d]", ps[i].dims[0],
                         ps[i].dims[1], ps[i].dims[2], ps[i].dims[3]);
            } else {
                t->numel = (uint64_t)ps[i].dims[0] * ps[i].dims[1];
                snprintf(t->shape, sizeof t->shape, "[%d, %d]", ps[i].dims[0], ps[i].dims[1]);
            }
        }
    }
    uint64_t at = 0;
    for (int k = 0; k < L->n; k++) {
        tspec *t = &L->t[reversed ? L->n - 1 - k : k];
        set_offsets(t, at, at + t->numel * (uint64_t)t->elem_size);
        at = t->end;
    }
    L->data_size = at;
}

static tspec *layout_find(layout *L, const char *name)
{
    for (int k = 0; k < L->n; k++)
        if (strcmp(L->t[k].name, name) == 0)
            return &L->t[k];
    ck_abort_msg("no tensor %s in the layout", name);
    return NULL;
}

static void layout_remove(layout *L, const char *name)
{
    tspec *t = layout_find(L, name);
    int k = (int)(t - L->t);
    memmove(&L->t[k], &L->t[k + 1], (size_t)(L->n - k - 1) * sizeof L->t[0]);
    L->n--;
}

/* The header JSON, padded with spaces so that 8 + length = mod (mod 8). */
static char *layout_render(const layout *L, int mod, size_t *len)
{
    size_t cap = 16384, used = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    used += (size_t)snprintf(s + used, cap - used, "{");
    for (int k = 0; k < L->n; k++) {
        const tspec *t = &L->t[k];
        if (t->raw[0])
            used += (size_t)snprintf(s + used, cap - used, "%s\"%s\": %s", k ? ", " : "", t->name,
                                     t->raw);
        else
            used += (size_t)snprintf(s + used, cap - used,
                                     "%s\"%s\": {\"dtype\": \"%s\", \"shape\": %s, "
                                     "\"data_offsets\": %s}",
                                     k ? ", " : "", t->name, t->dtype, t->shape, t->offsets);
    }
    if (L->extra[0])
        used += (size_t)snprintf(s + used, cap - used, "%s%s", L->n ? ", " : "", L->extra);
    used += (size_t)snprintf(s + used, cap - used, "}");
    while ((8 + used) % 8 != (size_t)mod)
        s[used++] = ' ';
    s[used] = '\0';
    ck_assert_uint_lt(used, cap);
    *len = used;
    return s;
}

static void put_u64le(FILE *f, uint64_t x)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(x >> (8 * i));
    ck_assert_uint_eq(fwrite(b, 1, 8, f), 8);
}

/* Fills the data region tensor by tensor, in offset order. */
typedef void (*fill_fn)(FILE *f, const tspec *t);

/* Writes size, header and data region; without fill the data region is a
 * hole (zeros) made by ftruncate. */
static void write_st(const char *path, uint64_t size_field, const char *hdr, size_t hdr_len,
                     const layout *L, fill_fn fill)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    put_u64le(f, size_field);
    ck_assert_uint_eq(fwrite(hdr, 1, hdr_len, f), hdr_len);
    if (fill) {
        const tspec *order[2 * AN_MAX_LAYERS + 2];
        for (int k = 0; k < L->n; k++)
            order[k] = &L->t[k];
        for (int a = 1; a < L->n; a++) /* insertion sort by begin */
            for (int b = a; b > 0 && order[b]->begin < order[b - 1]->begin; b--) {
                const tspec *x = order[b];
                order[b] = order[b - 1];
                order[b - 1] = x;
            }
        for (int k = 0; k < L->n; k++)
            fill(f, order[k]);
    }
    ck_assert_int_eq(fflush(f), 0);
    if (!fill && L)
        ck_assert_int_eq(ftruncate(fileno(f), (off_t)(8 + hdr_len + L->data_size)), 0);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_layout(const char *path, const layout *L, fill_fn fill, int mod)
{
    size_t len;
    char *hdr = layout_render(L, mod, &len);
    write_st(path, len, hdr, len, L, fill);
    free(hdr);
}

/* ------------------------------------------------------------------------ */
/* Values of the full files                                                 */

/* F32: arbitrary bit patterns (NaNs, infinities, subnormals included). */
static uint32_t f32_value(int table, uint64_t i)
{
    uint32_t x = (uint32_t)i * 2654435761u ^ (uint32_t)(table + 1) * 0x9e3779b9u;
    x ^= x >> 15;
    x *= 0x2c1b3c6du;
    x ^= x >> 12;
    x *= 0x297a2d39u;
    return x ^ (x >> 15);
}

static const uint16_t f16_special[] = {
    0x0001, /* smallest subnormal, 2^-24 */
    0x03ff, /* largest subnormal */
    0x0400, /* smallest normal, 2^-14 */
    0x7bff, /* 65504 */
    0x7c00, /* inf */
    0xfc00, /* -inf */
    0x8000, /* -0.0 */
    0x0000, /* 0.0 */
    0x3c00, /* 1.0 */
    0x8001, /* -2^-24 */
    0x7e00, /* NaN */
    0xfd01, /* -NaN with payload */
};
static const uint32_t f16_special_f32[] = {
    0x33800000, 0x387fc000, 0x38800000, 0x477fe000, 0x7f800000, 0xff800000,
    0x80000000, 0x00000000, 0x3f800000, 0xb3800000, 0x7fc00000, 0xffa02000,
};
#define N_SPECIAL (sizeof f16_special / sizeof f16_special[0])

/* F16: every one of the 65536 patterns in each large tensor, specials first
 * in features.0.bias (table index 1). */
static uint16_t f16_value(int table, uint64_t i)
{
    if (table == 1 && i < N_SPECIAL)
        return f16_special[i];
    return (uint16_t)(i * 7 + (uint64_t)table * 13);
}

/* The expected widening, computed with arithmetic rather than bit moves. */
static float f16_reference(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float f;
    if (e == 31)
        f = m ? NAN : INFINITY;
    else if (e == 0)
        f = ldexpf((float)m, -24);
    else
        f = ldexpf((float)(m + 1024), e - 25);
    return sign ? -f : f;
}

static void fill_values(FILE *f, const tspec *t)
{
    unsigned char buf[1 << 14];
    size_t n = 0;
    for (uint64_t i = 0; i < t->numel; i++) {
        if (t->elem_size == 4) {
            uint32_t u = f32_value(t->table, i);
            for (int b = 0; b < 4; b++)
                buf[n++] = (unsigned char)(u >> (8 * b));
        } else {
            uint16_t h = f16_value(t->table, i);
            buf[n++] = (unsigned char)h;
            buf[n++] = (unsigned char)(h >> 8);
        }
        if (n == sizeof buf) {
            ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
            n = 0;
        }
    }
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
}

/* The full torchvision-224 file of one dtype, built once per run (and reused
 * across forked tests through the directory). Data in reverse table order,
 * starting at an odd offset, with a __metadata__ member. */
static const char *full_file(int elem_size)
{
    static char path[2][128];
    char *p = path[elem_size == 2];
    snprintf(p, 128, "%s/full_%s.safetensors", tmp_dir, elem_size == 4 ? "f32" : "f16");
    struct stat st;
    if (stat(p, &st) == 0)
        return p;
    layout L;
    layout_init(&L, variant("torchvision-224"), elem_size, elem_size, 1);
    snprintf(L.extra, sizeof L.extra, "\"__metadata__\": {\"format\": \"pt\", \"by\": \"test\"}");
    char part[160];
    snprintf(part, sizeof part, "%s.part", p);
    write_layout(part, &L, fill_values, 1);
    ck_assert_int_eq(rename(part, p), 0);
    return p;
}

/* ------------------------------------------------------------------------ */
/* Loading valid files                                                      */

static void check_shapes(const an__variant *v, const an__weights *w)
{
    an__param_shape ps[AN_MAX_LAYERS];
    int n = an__variant_param_shapes(v, ps, AN_MAX_LAYERS);
    ck_assert_int_eq(w->count, n);
    ck_assert_int_eq(w->count, 8);
    ck_assert_mem_eq(w->shape, ps, (size_t)n * sizeof ps[0]);
    for (int i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(w->weight[i]);
        ck_assert_ptr_nonnull(w->bias[i]);
    }
    for (int i = n; i < AN_MAX_LAYERS; i++)
        ck_assert_ptr_null(w->weight[i]);
}

static uint64_t weight_numel(const an__param_shape *ps)
{
    uint64_t n = 1;
    for (int d = 0; d < ps->ndim; d++)
        n *= (uint64_t)ps->dims[d];
    return n;
}

/* A "preprocess" metadata entry is read over the variant's pipeline; without
 * one the file states none. */
START_TEST(test_load_preprocess_metadata)
{
    const an__variant *v = variant("torchvision-224");
    layout L;
    layout_init(&L, v, 4, 4, 0);
    snprintf(L.extra, sizeof L.extra,
             "\"__metadata__\": {\"format\": \"pt\", \"preprocess\": \"resize=288; crop=256; "
             "mean=127.5,127.5,127.5;scale=1/255;std=0.5,0.5,0.5\"}");
    char path[160];
    snprintf(path, sizeof path, "%s/preprocess.safetensors", tmp_dir);
    write_layout(path, &L, fill_values, 1);
    an__weights w;
    ck_assert_msg(an__weights_load_flags(v, path, AN_LOAD_ALLOW_NONFINITE, &w) == AN_OK, "%s",
                  an_last_error());
    ck_assert(w.has_preprocess);
    ck_assert_int_eq(w.preprocess.resize, 288);
    ck_assert_int_eq(w.preprocess.resize_mode, AN_RESIZE_SHORTER);
    ck_assert_int_eq(w.preprocess.crop, 256);
    ck_assert_int_eq(w.preprocess.bgr, 0); /* not stated: the variant's */
    ck_assert_float_eq(w.preprocess.scale, 1.0f / 255.0f);
    ck_assert_float_eq(w.preprocess.mean[1], 0.5f);
    ck_assert_float_eq(w.preprocess.std[2], 0.5f);
    an__weights_free(&w);
    ck_assert_msg(an__weights_load_flags(v, full_file(4), AN_LOAD_ALLOW_NONFINITE, &w) == AN_OK,
                  "%s", an_last_error());
    ck_assert(!w.has_preprocess);
    an__weights_free(&w);
    remove(path);
}
END_TEST

START_TEST(test_load_f32_exact)
{
    const an__variant *v = variant("torchvision-224");
    const char *path = full_file(4);
    an__weights w;
    int st = an__weights_load_flags(v, path, AN_LOAD_ALLOW_NONFINITE, &w);
    ck_assert_msg(st == AN_OK, "load: %d %s", st, an_last_error());
    check_shapes(v, &w);
    uint64_t bad = 0;
    for (int i = 0; i < w.count; i++) {
        uint64_t n = weight_numel(&w.shape[i]);
        for (uint64_t j = 0; j < n; j++)
            bad += bits_of(w.weight[i][j]) != f32_value(2 * i, j);
        for (uint64_t j = 0; j < (uint64_t)w.shape[i].dims[0]; j++)
            bad += bits_of(w.bias[i][j]) != f32_value(2 * i + 1, j);
    }
    ck_assert_uint_eq(bad, 0);
    an__weights_free(&w);
    assert_zeroed(&w);
}
END_TEST

START_TEST(test_load_f16_exact)
{
    const an__variant *v = variant("torchvision-224");
    const char *path = full_file(2);
    an__weights w;
    int st = an__weights_load_flags(v, path, AN_LOAD_ALLOW_NONFINITE, &w);
    ck_assert_msg(st == AN_OK, "load: %d %s", st, an_last_error());
    check_shapes(v, &w);

    /* the special values, against hand-written bits */
    for (size_t k = 0; k < N_SPECIAL; k++) {
        uint32_t got = bits_of(w.bias[0][k]);
        if (isnan(f16_reference(f16_special[k])))
            ck_assert_msg(isnan(w.bias[0][k]) && (got >> 31) == (f16_special_f32[k] >> 31),
                          "half %04x -> %08x", f16_special[k], got);
        else
            ck_assert_msg(got == f16_special_f32[k], "half %04x -> %08x, want %08x", f16_special[k],
                          got, f16_special_f32[k]);
    }
    ck_assert_float_eq(w.bias[0][0], 0x1p-24f);
    ck_assert(signbit(w.bias[0][6]) && w.bias[0][6] == 0.0f);
    ck_assert(isinf(w.bias[0][4]) && w.bias[0][4] > 0);

    /* everything, against the arithmetic reference */
    uint64_t bad = 0;
    for (int i = 0; i < w.count; i++) {
        for (int b = 0; b < 2; b++) {
            const float *x = b ? w.bias[i] : w.weight[i];
            uint64_t n = b ? (uint64_t)w.shape[i].dims[0] : weight_numel(&w.shape[i]);
            for (uint64_t j = 0; j < n; j++) {
                float want = f16_reference(f16_value(2 * i + b, j));
                if (isnan(want))
                    bad += !isnan(x[j]) || signbit(x[j]) != signbit(want);
                else
                    bad += bits_of(x[j]) != bits_of(want);
            }
        }
    }
    ck_assert_uint_eq(bad, 0);
    an__weights_free(&w);
    assert_zeroed(&w);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Half-precision weights (AN_LOAD_WEIGHTS_F16)                             */

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* binary32 -> binary16: every half back to itself; every midpoint between
 * neighbours to the even one, and the floats either side of it to the
 * nearer; the range's ends. Midpoints of halves are exact floats (12 bits). */
START_TEST(test_half_rounding)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = f16_reference((uint16_t)h);
        uint16_t got = an__half_from_float(f);
        if (isnan(f))
            ck_assert_msg((got & 0x7c00u) == 0x7c00u && (got & 0x3ffu) && (got >> 15) == (h >> 15),
                          "NaN %04x -> %04x", h, got);
        else
            ck_assert_msg(got == h, "%04x -> %g -> %04x", h, (double)f, got);
        if ((h & 0x7fffu) >= 0x7bffu)
            continue; /* no finite neighbour above */
        float a = f16_reference((uint16_t)h), b = f16_reference((uint16_t)(h + 1));
        float mid = (float)(((double)a + b) / 2);
        ck_assert((double)mid == ((double)a + b) / 2);
        uint16_t even = (h & 1u) ? (uint16_t)(h + 1) : (uint16_t)h;
        ck_assert_uint_eq(an__half_from_float(mid), even);
        ck_assert_uint_eq(an__half_from_float(nextafterf(mid, a)), h);
        ck_assert_uint_eq(an__half_from_float(nextafterf(mid, b)), h + 1);
    }
    ck_assert_uint_eq(an__half_from_float(0x1p-25f), 0x0000);                /* tie to even: 0 */
    ck_assert_uint_eq(an__half_from_float(nextafterf(0x1p-25f, 1)), 0x0001); /* above: 2^-24 */
    ck_assert_uint_eq(an__half_from_float(-0x1p-26f), 0x8000);
    ck_assert_uint_eq(an__half_from_float(1e-30f), 0x0000);
    ck_assert_uint_eq(an__half_from_float(65504.0f), 0x7bff);
    ck_assert_uint_eq(an__half_from_float(nextafterf(65520.0f, 0)), 0x7bff);
    ck_assert_uint_eq(an__half_from_float(65520.0f), 0x7c00); /* the tie goes up: infinity */
    ck_assert_uint_eq(an__half_from_float(-3e38f), 0xfc00);
    ck_assert_uint_eq(an__half_from_float(INFINITY), 0x7c00);
    ck_assert_uint_eq(an__half_from_float(float_of(0x7f800001u)) & 0x7e00u, 0x7e00u);
}
END_TEST

/* F16 tensors of a file stay binary16 bits with AN_LOAD_WEIGHTS_F16 (the
 * linear weights, bit for bit, never widened); the rest loads as before;
 * an__weights_to_half then leaves them alone. */
START_TEST(test_load_f16_as_half)
{
    const an__variant *v = variant("torchvision-224");
    const char *path = full_file(2);
    an__weights w;
    int st = an__weights_load_flags(v, path, AN_LOAD_ALLOW_NONFINITE | AN_LOAD_WEIGHTS_F16, &w);
    ck_assert_msg(st == AN_OK, "load: %d %s", st, an_last_error());
    ck_assert_int_eq(an__weights_to_half(v, path, &w), AN_OK);
    int linear = 0;
    uint64_t bad = 0;
    for (int i = 0; i < w.count; i++) {
        ck_assert_ptr_nonnull(w.bias[i]);
        if (w.shape[i].ndim != 2) {
            ck_assert_ptr_nonnull(w.weight[i]);
            ck_assert_ptr_null(w.half[i]);
            continue;
        }
        linear++;
        ck_assert_ptr_null(w.weight[i]);
        ck_assert_ptr_nonnull(w.half[i]);
        uint64_t n = weight_numel(&w.shape[i]);
        for (uint64_t j = 0; j < n; j++)
            bad += w.half[i][j] != f16_value(2 * i, j);
    }
    ck_assert_int_eq(linear, 3);
    ck_assert_uint_eq(bad, 0);
    an__weights_free(&w);
    assert_zeroed(&w);

    /* without AN_LOAD_ALLOW_NONFINITE the half path refuses as the float one */
    st = an__weights_load_flags(v, path, AN_LOAD_WEIGHTS_F16, &w);
    ck_assert_int_eq(st, AN_ERR_BAD_WEIGHTS);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "non-finite"));
    assert_zeroed(&w);
}
END_TEST

/* F32 linear weights beyond half's range are refused, naming the tensor;
 * seeded weights convert, each value rounded as an__half_from_float does. */
START_TEST(test_half_overflow_and_seed)
{
    const an__variant *v = variant("torchvision-224");
    const char *path = full_file(4);
    an__weights w;
    int st = an__weights_load_flags(v, path, AN_LOAD_ALLOW_NONFINITE | AN_LOAD_WEIGHTS_F16, &w);
    ck_assert_msg(st == AN_OK, "load: %d %s", st, an_last_error());
    int first = -1; /* the first linear tensor: its arbitrary bits hold huge values */
    for (int i = 0; i < w.count && first < 0; i++)
        if (w.shape[i].ndim == 2)
            first = i;
    ck_assert_int_ge(first, 0);
    ck_assert_ptr_null(w.half[first]); /* F32 in the file: still float until converted */
    ck_assert_int_eq(an__weights_to_half(v, path, &w), AN_ERR_BAD_WEIGHTS);
    char want[128];
    snprintf(want, sizeof want, "tensor '%s' holds", v->layers[w.shape[first].layer].weight_name);
    ck_assert_msg(strstr(an_last_error(), want), "'%s' does not say '%s'", an_last_error(), want);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "beyond half precision's range"));
    ck_assert_ptr_nonnull(strstr(an_last_error(), path));
    an__weights_free(&w);

    an__weights f, h;
    ck_assert_int_eq(an__weights_seed(v, 3, &f), AN_OK);
    ck_assert_int_eq(an__weights_seed(v, 3, &h), AN_OK);
    ck_assert_int_eq(an__weights_to_half(v, "seeded weights", &h), AN_OK);
    uint64_t bad = 0;
    for (int i = 0; i < f.count; i++) {
        if (f.shape[i].ndim != 2) {
            ck_assert_ptr_null(h.half[i]);
            continue;
        }
        ck_assert_ptr_null(h.weight[i]);
        uint64_t n = weight_numel(&f.shape[i]);
        for (uint64_t j = 0; j < n; j++)
            bad += h.half[i][j] != an__half_from_float(f.weight[i][j]);
    }
    ck_assert_uint_eq(bad, 0);
    an__weights_free(&f);
    an__weights_free(&h);
}
END_TEST

/* The same files without the flag: refused, naming the first tensor (in the
 * variant's order) that holds a NaN or infinity and its first bad flat index,
 * computed here from the values written. */
START_TEST(test_refuse_nonfinite)
{
    const an__variant *v = variant("torchvision-224");
    an__param_shape ps[AN_MAX_LAYERS];
    int n = an__variant_param_shapes(v, ps, AN_MAX_LAYERS);
    for (int elem = 2; elem <= 4; elem += 2) {
        const char *path = full_file(elem);
        char want[256] = "";
        for (int t = 0; t < 2 * n && !want[0]; t++) {
            uint64_t numel = t % 2 ? (uint64_t)ps[t / 2].dims[0] : weight_numel(&ps[t / 2]);
            const an__layer *l = &v->layers[ps[t / 2].layer];
            for (uint64_t j = 0; j < numel && !want[0]; j++) {
                bool bad = elem == 4 ? ((f32_value(t, j) >> 23) & 0xff) == 0xff
                                     : ((f16_value(t, j) >> 10) & 0x1f) == 0x1f;
                if (bad)
                    snprintf(want, sizeof want, "tensor '%s' holds",
                             t % 2 ? l->bias_name : l->weight_name);
                if (bad)
                    snprintf(want + strlen(want), sizeof want - strlen(want), "|flat index %llu;",
                             (unsigned long long)j);
            }
        }
        ck_assert(want[0]);
        an__weights w;
        int st = an__weights_load(v, path, &w);
        ck_assert_int_eq(st, AN_ERR_BAD_WEIGHTS);
        char *bar = strchr(want, '|');
        *bar = '\0';
        ck_assert_msg(strstr(an_last_error(), want), "'%s' does not say '%s'", an_last_error(),
                      want);
        ck_assert_msg(strstr(an_last_error(), bar + 1), "'%s' does not say '%s'", an_last_error(),
                      bar + 1);
        ck_assert_ptr_nonnull(strstr(an_last_error(), "non-finite"));
        assert_zeroed(&w);
    }

    /* the raw-bit scan against isfinite() on every half and many float patterns */
    for (uint32_t h = 0; h < 65536; h++) {
        unsigned char b[2] = {(unsigned char)h, (unsigned char)(h >> 8)};
        ck_assert_int_eq(an__first_nonfinite(b, 1, 2, NULL) == 0,
                         !isfinite(f16_reference((uint16_t)h)));
    }
    for (uint64_t i = 0; i < 200000; i++) {
        uint32_t u = f32_value(7, i);
        float f;
        memcpy(&f, &u, sizeof f);
        unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                              (unsigned char)(u >> 24)};
        ck_assert_int_eq(an__first_nonfinite(b, 1, 4, NULL) == 0, !isfinite(f));
    }
    unsigned char three[12] = {0}; /* 0, +inf, NaN: first at 1, two of them */
    three[6] = 0x80, three[7] = 0x7f, three[10] = 0xc0, three[11] = 0x7f;
    size_t count = 0;
    ck_assert_int_eq(an__first_nonfinite(three, 3, 4, &count), 1);
    ck_assert_uint_eq(count, 2);
}
END_TEST

/* A file of another kind given as weights is named, with the way to convert
 * it (issue 15, item 9): never "header size ... (not a safetensors file?)". */
START_TEST(test_reject_other_kinds)
{
    static const unsigned char zip[64] = {'P', 'K', 3, 4, 20};
    static const unsigned char pickle[64] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc};
    static const unsigned char onnx[] = {0x08, 0x07, 0x12, 0x07, 'p',  'y',  't', 'o',
                                         'r',  'c',  'h',  0x3a, 0x02, 0x0a, 0x00};
    static const unsigned char hdf5[64] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    static const unsigned char png[64] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const struct {
        const unsigned char *data;
        size_t size;
        const char *says;
    } cases[] = {
        {zip, sizeof zip, "is a zip archive (a PyTorch .pth?), not a safetensors file"},
        {pickle, sizeof pickle, "is a Python pickle (a legacy PyTorch .pth?)"},
        {onnx, sizeof onnx, "is an ONNX model, not a safetensors file"},
        {hdf5, sizeof hdf5, "is an HDF5 file"},
        {png, sizeof png, "is a PNG image"},
    };
    char path[128];
    tmp_path(path, sizeof path, "other.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "wb");
        ck_assert_uint_eq(fwrite(cases[i].data, 1, cases[i].size, f), cases[i].size);
        fclose(f);
        an__weights w;
        ck_assert_int_eq(an__weights_load(variant("torchvision-224"), path, &w),
                         AN_ERR_BAD_WEIGHTS);
        ck_assert_msg(strstr(an_last_error(), cases[i].says) &&
                          strstr(an_last_error(), "alexnet convert"),
                      "case %zu: %s", i, an_last_error());
        assert_zeroed(&w);
    }
    remove(path);
}
END_TEST

/* caffe-227 names, F16 weights with F32 biases, data in table order at an
 * aligned offset; the data is a hole, so every value is zero. */
START_TEST(test_load_caffe_mixed)
{
    const an__variant *v = variant("caffe-227");
    layout L;
    layout_init(&L, v, 2, 4, 0);
    ck_assert_str_eq(L.t[0].name, "conv1.weight");
    char path[128];
    tmp_path(path, sizeof path, "caffe.safetensors");
    write_layout(path, &L, NULL, 0);
    an__weights w;
    int st = an__weights_load(v, path, &w);
    ck_assert_msg(st == AN_OK, "load: %d %s", st, an_last_error());
    check_shapes(v, &w);
    ck_assert_int_eq(w.shape[0].dims[0], 96);
    ck_assert(w.weight[0][0] == 0.0f && w.bias[7][999] == 0.0f && !signbit(w.weight[7][0]));
    an__weights_free(&w);
    an__weights_free(&w); /* twice, and on a zeroed struct */
    assert_zeroed(&w);
    an__weights_free(NULL);

    /* the torchvision variant does not know these names */
    st = an__weights_load(variant("torchvision-224"), path, &w);
    ck_assert_int_eq(st, AN_ERR_BAD_WEIGHTS);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "unknown tensor 'conv1.weight'"));
    assert_zeroed(&w);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Rejections: one header change each                                       */

typedef enum {
    M_DTYPE,   /* dtype := arg */
    M_SHAPE,   /* shape := arg (JSON) */
    M_OFFSETS, /* data_offsets := arg (JSON) */
    M_RAW,     /* whole entry := arg (JSON) */
    M_ADD,     /* add tensor `tensor` with entry arg */
    M_REMOVE,  /* drop tensor */
    M_EXTRA,   /* add members arg */
    M_REVERSE, /* [end, begin] */
    M_BEYOND,  /* moved past the end of the data region */
    M_SHORT,   /* end - 4 */
    M_SHIFT,   /* both offsets - 4 */
    M_SAME_AS, /* the offsets of tensor arg */
} mutation;

typedef struct {
    const char *tensor;
    mutation op;
    const char *arg;
    const char *needle[3]; /* all must appear in an_last_error() */
} reject_case;

#define BIG_OFF "[0, 99999999999999999999]"
static const reject_case reject_cases[] = {
    {"features.3.weight", M_DTYPE, "F64", {"'features.3.weight'", "F64"}},
    {"features.3.bias", M_DTYPE, "BF16", {"'features.3.bias'", "BF16"}},
    {"classifier.6.bias", M_DTYPE, "I32", {"'classifier.6.bias'", "I32"}},
    {"features.0.weight", M_DTYPE, "f32", {"'features.0.weight'", "f32"}},
    {"features.0.weight",
     M_SHAPE,
     "[64, 3, 11, 10]",
     {"'features.0.weight'", "(64, 3, 11, 10)", "(64, 3, 11, 11)"}},
    {"classifier.1.weight",
     M_SHAPE,
     "[4096, 256, 6, 6]",
     {"'classifier.1.weight'", "(4096, 256, 6, 6)", "(4096, 9216)"}},
    {"classifier.6.bias", M_SHAPE, "[1000, 1]", {"'classifier.6.bias'", "(1000, 1)", "(1000,)"}},
    {"features.8.bias", M_SHAPE, "[]", {"'features.8.bias'", "()", "(256,)"}},
    {"features.6.weight", M_SHAPE, "[-384, 192, 3, 3]", {"'features.6.weight'", "-384", "integer"}},
    {"features.8.weight", M_SHAPE, "[256, 384, 3.5, 3]", {"'features.8.weight'", "integer"}},
    {"features.8.weight", M_SHAPE, "[256, 384, \"3\", 3]", {"'features.8.weight'", "integer"}},
    {"features.8.weight", M_SHAPE, "[256, 384, 3, 3e0]", {"'features.8.weight'", "integer"}},
    {"features.10.weight", M_SHAPE, "\"256x256x3x3\"", {"'features.10.weight'", "shape"}},
    {"features.10.weight",
     M_SHAPE,
     "[256, 256, 3, 3, 1, 1, 1, 1, 1, 1]",
     {"'features.10.weight'", "(256, 256, 3, 3)", "10 dimensions"}},
    {"features.3.weight", M_REVERSE, NULL, {"'features.3.weight'", "out of order"}},
    {"classifier.4.weight", M_BEYOND, NULL, {"'classifier.4.weight'", "beyond the data"}},
    {"classifier.4.bias", M_OFFSETS, BIG_OFF, {"'classifier.4.bias'", "data_offsets"}},
    {"features.0.bias", M_SHORT, NULL, {"'features.0.bias'", "span"}},
    {"features.0.bias", M_OFFSETS, "[0, 256, 512]", {"'features.0.bias'", "data_offsets"}},
    {"features.0.bias", M_OFFSETS, "[-4, 252]", {"'features.0.bias'", "data_offsets"}},
    {"features.0.bias", M_OFFSETS, "[0.0, 256.0]", {"'features.0.bias'", "data_offsets"}},
    {"features.0.bias", M_OFFSETS, "{\"begin\": 0}", {"'features.0.bias'", "data_offsets"}},
    {"features.10.bias",
     M_SAME_AS,
     "features.8.bias",
     {"'features.8.bias'", "'features.10.bias'", "overlap"}},
    {"classifier.6.bias", M_SHIFT, NULL, {"'classifier.6.bias'", "overlap"}},
    {"extra.weight",
     M_ADD,
     "{\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}",
     {"unknown tensor 'extra.weight'"}},
    {"conv1.weight", M_ADD, "{}", {"unknown tensor 'conv1.weight'"}},
    {"features.3.weight", M_REMOVE, NULL, {"missing tensor 'features.3.weight'"}},
    {"classifier.6.bias", M_REMOVE, NULL, {"missing tensor 'classifier.6.bias'"}},
    {"features.0.bias", M_RAW, "5", {"'features.0.bias'", "not an object"}},
    {"features.0.bias", M_RAW, "[\"F32\", [64], [0, 256]]", {"'features.0.bias'", "object"}},
    {"features.0.bias",
     M_RAW,
     "{\"shape\": [64], \"data_offsets\": [0, 256]}",
     {"'features.0.bias'", "dtype"}},
    {"features.0.bias",
     M_RAW,
     "{\"dtype\": \"F32\", \"data_offsets\": [0, 256]}",
     {"'features.0.bias'", "shape"}},
    {"features.0.bias",
     M_RAW,
     "{\"dtype\": \"F32\", \"shape\": [64]}",
     {"'features.0.bias'", "data_offsets"}},
    {"features.0.bias",
     M_RAW,
     "{\"dtype\": 32, \"shape\": [64], \"data_offsets\": [0, 256]}",
     {"'features.0.bias'", "dtype"}},
    {NULL, M_EXTRA, "\"__metadata__\": [\"pt\"]", {"__metadata__"}},
    {NULL, M_EXTRA, "\"__metadata__\": {\"format\": 1}", {"__metadata__", "format"}},
    /* the "preprocess" entry: an_preprocess_parse's spec, refused when it is bad */
    {NULL, M_EXTRA, "\"__metadata__\": {\"preprocess\": 256}", {"__metadata__", "preprocess"}},
    {NULL,
     M_EXTRA,
     "\"__metadata__\": {\"preprocess\": \"std=0,1,1\"}",
     {"\"preprocess\"", "std 0 (channel 0)"}},
    {NULL,
     M_EXTRA,
     "\"__metadata__\": {\"preprocess\": \"crop=300\"}",
     {"\"preprocess\"", "crop 300 is larger than the resize (256)"}},
    {NULL,
     M_EXTRA,
     "\"__metadata__\": {\"preprocess\": \"mean=1,2\"}",
     {"\"preprocess\"", "not three numbers"}},
    {NULL,
     M_EXTRA,
     "\"__metadata__\": {\"preprocess\": \"gamma=2.2\"}",
     {"\"preprocess\"", "unknown key 'gamma'"}},
};
#define N_REJECT (int)(sizeof reject_cases / sizeof reject_cases[0])

START_TEST(test_reject_entry)
{
    const reject_case *rc = &reject_cases[_i];
    const an__variant *v = variant("torchvision-224");
    layout L;
    layout_init(&L, v, 4, 4, 0);
    tspec *t = rc->tensor && rc->op != M_ADD ? layout_find(&L, rc->tensor) : NULL;
    switch (rc->op) {
    case M_DTYPE:
        snprintf(t->dtype, sizeof t->dtype, "%s", rc->arg);
        break;
    case M_SHAPE:
        snprintf(t->shape, sizeof t->shape, "%s", rc->arg);
        break;
    case M_OFFSETS:
        snprintf(t->offsets, sizeof t->offsets, "%s", rc->arg);
        break;
    case M_RAW:
        snprintf(t->raw, sizeof t->raw, "%s", rc->arg);
        break;
    case M_ADD:
        t = &L.t[L.n++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", rc->tensor);
        snprintf(t->raw, sizeof t->raw, "%s", rc->arg);
        break;
    case M_REMOVE:
        layout_remove(&L, rc->tensor);
        break;
    case M_EXTRA:
        snprintf(L.extra, sizeof L.extra, "%s", rc->arg);
        break;
    case M_REVERSE:
        set_offsets(t, t->end, t->begin);
        break;
    case M_BEYOND:
        set_offsets(t, L.data_size - 4, L.data_size - 4 + (t->end - t->begin));
        break;
    case M_SHORT:
        set_offsets(t, t->begin, t->end - 4);
        break;
    case M_SHIFT:
        set_offsets(t, t->begin - 4, t->end - 4);
        break;
    case M_SAME_AS: {
        const tspec *o = layout_find(&L, rc->arg);
        set_offsets(t, o->begin, o->end);
        break;
    }
    }
    char path[128];
    snprintf(path, sizeof path, "%s/reject_%02d.safetensors", tmp_dir, _i);
    write_layout(path, &L, NULL, 0);

    an__weights w;
    int st = an__weights_load(v, path, &w);
    const char *err = an_last_error();
    ck_assert_msg(st == AN_ERR_BAD_WEIGHTS, "case %d: status %d (%s)", _i, st, err);
    ck_assert_msg(strstr(err, path) != NULL, "case %d: no file name in \"%s\"", _i, err);
    for (int k = 0; k < 3 && rc->needle[k]; k++)
        ck_assert_msg(strstr(err, rc->needle[k]) != NULL, "case %d: \"%s\" not in \"%s\"", _i,
                      rc->needle[k], err);
    assert_zeroed(&w);
    unlink(path);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Rejections: broken headers and truncated files                           */

#define AUTO UINT64_C(0x5a5a5a5a5a5a5a5a) /* header size = length of body */
typedef struct {
    uint64_t size_field; /* the 8-byte header size, or AUTO */
    const char *body;    /* bytes after it */
    size_t body_len;
    const char *needle;
} raw_case;

#define S(lit) lit, sizeof(lit) - 1
static const raw_case raw_cases[] = {
    {0, S(""), "header size 0"},
    {0, S("{}"), "header size 0"},
    {(100ull << 20) + 1, S("{}"), "header size"},
    {1ull << 63, S("{}"), "header size"},
    {UINT64_MAX, S("{}"), "header size"},
    {1000, S("{\"a\": 1}"), "past the end"},
    {9, S("{\"a\": 1}"), "past the end"},
    {AUTO, S("{\"a\": 1"), "JSON"},
    {AUTO, S("{\"a\": "), "JSON"},
    {AUTO, S("{'a':1}"), "unknown tensor 'a'"},
    {AUTO, S("hello"), "JSON"},
    {AUTO, S("[1,2]"), "not an object"},
    {AUTO, S("12"), "JSON"},
    {AUTO, S("null"), "not an object"},
    {AUTO, S("{\"a\":1,}"), "JSON"},
    {AUTO, S("{\"a\":1}{}"), "JSON"},
    {AUTO, S("{\"a\":1} x"), "JSON"},
    {AUTO, S("{\0}x"), "NUL"},
    {AUTO, S("{}"), "missing tensor 'features.0.weight'"},
    {AUTO, S("   {}           "), "missing tensor 'features.0.weight'"},
    {AUTO, S("{\"__metadata__\": {\"a\": \"b\"}}   "), "missing tensor 'features.0.weight'"},
};
#define N_RAW (int)(sizeof raw_cases / sizeof raw_cases[0])

START_TEST(test_reject_raw_header)
{
    const raw_case *rc = &raw_cases[_i];
    char path[128];
    snprintf(path, sizeof path, "%s/raw_%02d.safetensors", tmp_dir, _i);
    write_st(path, rc->size_field == AUTO ? rc->body_len : rc->size_field, rc->body, rc->body_len,
             NULL, NULL);
    an__weights w;
    int st = an__weights_load(variant("torchvision-224"), path, &w);
    const char *err = an_last_error();
    ck_assert_msg(st == AN_ERR_BAD_WEIGHTS, "case %d: status %d (%s)", _i, st, err);
    ck_assert_msg(strstr(err, path) && strstr(err, rc->needle), "case %d: \"%s\" lacks \"%s\"", _i,
                  err, rc->needle);
    assert_zeroed(&w);
    unlink(path);
}
END_TEST

/* A valid header (sparse data) cut at various lengths; the last tensor in the
 * data region is classifier.6.bias. */
START_TEST(test_reject_truncated)
{
    const an__variant *v = variant("torchvision-224");
    layout L;
    layout_init(&L, v, 4, 4, 0);
    size_t hlen;
    char *hdr = layout_render(&L, 0, &hlen);
    char path[128];
    tmp_path(path, sizeof path, "truncated.safetensors");

    uint64_t total = 8 + hlen + L.data_size;
    struct {
        uint64_t len;
        const char *needle;
    } cuts[] = {
        {0, "too short"},
        {1, "too short"},
        {7, "too short"},
        {8, "past the end"},
        {8 + hlen / 2, "past the end"},
        {8 + hlen - 1, "past the end"},
        {8 + hlen, "'features.0.weight'"},
        {total - 4000 * 4, "'classifier.6.weight'"},
        {total - 1, "'classifier.6.bias'"},
    };
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        write_st(path, hlen, hdr, hlen, &L, NULL);
        ck_assert_int_eq(truncate(path, (off_t)cuts[k].len), 0);
        an__weights w;
        int st = an__weights_load(v, path, &w);
        const char *err = an_last_error();
        ck_assert_msg(st == AN_ERR_BAD_WEIGHTS, "cut at %llu: status %d (%s)",
                      (unsigned long long)cuts[k].len, st, err);
        ck_assert_msg(strstr(err, cuts[k].needle), "cut at %llu: \"%s\" lacks \"%s\"",
                      (unsigned long long)cuts[k].len, err, cuts[k].needle);
        assert_zeroed(&w);
    }

    /* one byte too many is fine (not every writer packs the data) */
    write_st(path, hlen, hdr, hlen, &L, NULL);
    ck_assert_int_eq(truncate(path, (off_t)(total + 1)), 0);
    free(hdr);
    an__weights w;
    ck_assert_int_eq(an__weights_load(v, path, &w), AN_OK);
    an__weights_free(&w);
    unlink(path);
}
END_TEST

START_TEST(test_reject_io)
{
    const an__variant *v = variant("torchvision-224");
    an__weights w;
    char path[128];
    tmp_path(path, sizeof path, "does-not-exist.safetensors");
    ck_assert_int_eq(an__weights_load(v, path, &w), AN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(an_last_error(), path));
    ck_assert_ptr_nonnull(strstr(an_last_error(), "No such file"));
    assert_zeroed(&w);

    ck_assert_int_eq(an__weights_load(v, tmp_dir, &w), AN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "regular file"));
    assert_zeroed(&w);

    ck_assert_int_eq(an__weights_load(NULL, path, &w), AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an__weights_load(v, NULL, &w), AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an__weights_load(v, path, NULL), AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an__weights_seed(NULL, 1, &w), AN_ERR_INVALID_ARGUMENT);
    assert_zeroed(&w);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Seeded weights                                                           */

START_TEST(test_seed)
{
    const an__variant *tv = variant("torchvision-224"), *cf = variant("caffe-227");
    an__weights a, b, c, d;
    ck_assert_int_eq(an__weights_seed(tv, 42, &a), AN_OK);
    ck_assert_int_eq(an__weights_seed(tv, 42, &b), AN_OK);
    ck_assert_int_eq(an__weights_seed(tv, 43, &c), AN_OK);
    ck_assert_int_eq(an__weights_seed(cf, 42, &d), AN_OK);
    check_shapes(tv, &a);
    check_shapes(cf, &d);

    for (int i = 0; i < a.count; i++) {
        uint64_t n = weight_numel(&a.shape[i]), o = (uint64_t)a.shape[i].dims[0];
        /* same seed, same bytes */
        ck_assert_mem_eq(a.weight[i], b.weight[i], n * sizeof(float));
        ck_assert_mem_eq(a.bias[i], b.bias[i], o * sizeof(float));
        /* another seed: (almost) every value differs */
        uint64_t same = 0;
        for (uint64_t j = 0; j < n; j++)
            same += a.weight[i][j] == c.weight[i][j];
        ck_assert_msg(same * 100 < n, "layer %d: %llu of %llu equal", i, (unsigned long long)same,
                      (unsigned long long)n);
        ck_assert_int_ne(memcmp(a.bias[i], c.bias[i], o * sizeof(float)), 0);

        /* He-uniform bounds, reached and centred */
        float bound = (float)sqrt(6.0 / (double)(n / o));
        double sum = 0, max = 0, sq = 0;
        uint64_t outside = 0; /* no ck_assert in the loop: each one is a syscall */
        for (uint64_t j = 0; j < n; j++) {
            float x = a.weight[i][j];
            outside += !(fabsf(x) <= bound);
            sum += x;
            sq += (double)x * x;
            max = fmax(max, fabs(x));
        }
        ck_assert_msg(outside == 0, "layer %d: %llu values beyond %g", i,
                      (unsigned long long)outside, bound);
        ck_assert_double_gt(max, 0.99 * bound);
        ck_assert_double_lt(fabs(sum / (double)n), 0.02 * bound);
        double sd = sqrt(sq / (double)n), want = bound / sqrt(3.0);
        ck_assert_msg(fabs(sd - want) < 0.02 * want, "layer %d: sd %g, want %g", i, sd, want);
        outside = 0;
        for (uint64_t j = 0; j < o; j++)
            outside += !(fabsf(a.bias[i][j]) <= 0.05f);
        ck_assert_uint_eq(outside, 0);
        ck_assert_int_ne(memcmp(a.weight[i], a.bias[i], o * sizeof(float)), 0);
    }
    /* streams per layer: caffe's first three layers have other sizes, yet the
     * layers of equal shape after them draw the same values */
    ck_assert_int_ne(memcmp(a.weight[1], d.weight[1], 64 * sizeof(float)), 0);
    for (int i = 3; i < a.count; i++) {
        ck_assert_mem_eq(a.weight[i], d.weight[i], weight_numel(&a.shape[i]) * sizeof(float));
        ck_assert_mem_eq(a.bias[i], d.bias[i], (size_t)a.shape[i].dims[0] * sizeof(float));
    }
    /* pinned values: the generator is the same on every platform and release */
    static const uint32_t pinned[4] = {0x3defff3c, 0xbb660706, 0xbde3d480, 0x3d3a5409};
    for (int j = 0; j < 4; j++)
        ck_assert_msg(bits_of(a.weight[0][j]) == pinned[j], "weight[0][%d] = %08x (%a)", j,
                      bits_of(a.weight[0][j]), a.weight[0][j]);
    static const uint32_t first[8][2] = {
        {0x3defff3c, 0x3d18757f}, {0xbd5097bb, 0xbd2a91d0}, {0xbcd2d694, 0x3d47c893},
        {0x3cb6a80d, 0x3d41c9fe}, {0xbce45a93, 0x3be5075e}, {0xbca04f72, 0x3bf092fe},
        {0x3cb23078, 0x3d2a8afd}, {0x3c7d029f, 0x3c88f797},
    };
    for (int i = 0; i < a.count; i++) {
        ck_assert_msg(bits_of(a.weight[i][0]) == first[i][0], "weight[%d][0] = %08x", i,
                      bits_of(a.weight[i][0]));
        ck_assert_msg(bits_of(a.bias[i][0]) == first[i][1], "bias[%d][0] = %08x", i,
                      bits_of(a.bias[i][0]));
    }

    an__weights_free(&a);
    an__weights_free(&b);
    an__weights_free(&c);
    an__weights_free(&d);
    assert_zeroed(&a);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* .npy                                                                     */

static long file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (long)st.st_size;
}

static void npy_round_trip(const int *dims, int ndim)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)dims[i];
    float *x = malloc((n ? n : 1) * sizeof(float));
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = f32_value(7, i);
        memcpy(&x[i], &u, 4);
    }
    if (n > 4) {
        x[0] = -0.0f;
        x[1] = INFINITY;
        x[2] = 0x1p-149f;
        x[3] = NAN;
    }
    char path[128];
    tmp_path(path, sizeof path, "round.npy");
    ck_assert_msg(npy_write_f32(path, x, dims, ndim) == AN_OK, "%s", npy_last_error());

    /* layout: magic, version 1.0, data at a multiple of 64 after '\n' */
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char pre[10];
    ck_assert_uint_eq(fread(pre, 1, 10, f), 10);
    size_t hlen = pre[8] | (size_t)pre[9] << 8;
    char hdr[1024];
    ck_assert_uint_lt(hlen, sizeof hdr);
    ck_assert_uint_eq(fread(hdr, 1, hlen, f), hlen);
    fclose(f);
    ck_assert_mem_eq(pre, "\x93NUMPY\x01\x00", 8);
    ck_assert_uint_eq((10 + hlen) % 64, 0);
    ck_assert_int_eq(hdr[hlen - 1], '\n');
    ck_assert(strncmp(hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (", 51) == 0);
    ck_assert_int_eq(file_size(path), (long)(10 + hlen + 4 * n));

    float *y = NULL;
    int got[8] = {0}, got_ndim = -1;
    ck_assert_msg(npy_read_f32(path, &y, got, &got_ndim, 8) == AN_OK, "%s", npy_last_error());
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(got_ndim, ndim);
    for (int i = 0; i < ndim; i++)
        ck_assert_int_eq(got[i], dims[i]);
    if (n)
        ck_assert_mem_eq(x, y, n * sizeof(float));
    free(x);
    free(y);
    unlink(path);
}

START_TEST(test_npy_round_trip)
{
    npy_round_trip((int[]){2, 3, 4, 5}, 4);
    npy_round_trip((int[]){3, 224, 224}, 3);
    npy_round_trip((int[]){7}, 1);
    npy_round_trip((int[]){1000, 1}, 2);
    npy_round_trip((int[]){0, 3}, 2);
    npy_round_trip(NULL, 0);

    char path[128];
    tmp_path(path, sizeof path, "nowhere/x.npy");
    float one = 1;
    ck_assert_int_eq(npy_write_f32(path, &one, (int[]){1}, 1), AN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(npy_last_error(), path));
    ck_assert_int_eq(npy_write_f32(path, &one, (int[]){-1}, 1), AN_ERR_INVALID_ARGUMENT);
}
END_TEST

/* A hand-made .npy: preamble of the given version, header text padded to 64,
 * then data_len bytes of data. */
static void write_npy_raw(const char *path, const char *magic, int major, int minor,
                          const char *header, size_t data_len)
{
    size_t pre = major == 1 ? 10 : 12, len = strlen(header);
    size_t hlen = (pre + len + 1 + 63) / 64 * 64 - pre;
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(magic, 1, 6, f);
    fputc(major, f);
    fputc(minor, f);
    for (size_t i = 0; i < pre - 8; i++)
        fputc((int)((hlen >> (8 * i)) & 0xff), f);
    fwrite(header, 1, len, f);
    for (size_t i = len; i + 1 < hlen; i++)
        fputc(' ', f);
    fputc('\n', f);
    for (size_t i = 0; i < data_len; i++)
        fputc((int)(i & 0xff), f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_npy_versions)
{
    static const char *hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    char path[128];
    tmp_path(path, sizeof path, "version.npy");
    for (int major = 1; major <= 3; major++) {
        write_npy_raw(path, "\x93NUMPY", major, 0, hdr, 24);
        float *y = NULL;
        int dims[4], ndim;
        ck_assert_msg(npy_read_f32(path, &y, dims, &ndim, 4) == AN_OK, "v%d: %s", major,
                      npy_last_error());
        ck_assert_int_eq(ndim, 2);
        ck_assert_int_eq(dims[0], 2);
        ck_assert_int_eq(dims[1], 3);
        ck_assert_uint_eq(bits_of(y[1]), 0x07060504u); /* little-endian bytes 4..7 */
        free(y);
    }
    /* double quotes, no trailing comma, keys in another order */
    write_npy_raw(path, "\x93NUMPY", 1, 0,
                  "{\"shape\": (6,), \"fortran_order\": False, \"descr\": \"<f4\"}", 24);
    float *y = NULL;
    int dims[4], ndim;
    ck_assert_msg(npy_read_f32(path, &y, dims, &ndim, 4) == AN_OK, "%s", npy_last_error());
    ck_assert_int_eq(ndim, 1);
    ck_assert_int_eq(dims[0], 6);
    free(y);
    unlink(path);
}
END_TEST

typedef struct {
    const char *magic;
    int major;
    const char *header;
    size_t data_len;
    int max_dims;
    int status;
    const char *needle;
} npy_case;

#define NPY_HDR(descr, order, shape)                                                               \
    "{'descr': '" descr "', 'fortran_order': " order ", 'shape': " shape ", }"
static const npy_case npy_cases[] = {
    {"\x93NUMPX", 1, NPY_HDR("<f4", "False", "(2, 3)"), 24, 4, AN_ERR_BAD_FILE, "magic"},
    {"PK\x03\x04\x00\x00", 1, NPY_HDR("<f4", "False", "(2, 3)"), 24, 4, AN_ERR_BAD_FILE, "magic"},
    {"\x93NUMPY", 4, NPY_HDR("<f4", "False", "(2, 3)"), 24, 4, AN_ERR_BAD_FILE, "version 4.0"},
    {"\x93NUMPY", 1, NPY_HDR("<f8", "False", "(2, 3)"), 48, 4, AN_ERR_BAD_FILE, "'<f8'"},
    {"\x93NUMPY", 1, NPY_HDR(">f4", "False", "(2, 3)"), 24, 4, AN_ERR_BAD_FILE, "'>f4'"},
    {"\x93NUMPY", 1, NPY_HDR("|u1", "False", "(2, 3)"), 6, 4, AN_ERR_BAD_FILE, "'|u1'"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "True", "(2, 3)"), 24, 4, AN_ERR_BAD_FILE, "Fortran"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(2, 3)"), 23, 4, AN_ERR_BAD_FILE, "truncated"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(2, 3)"), 0, 4, AN_ERR_BAD_FILE, "truncated"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(2, 3)"), 25, 4, AN_ERR_BAD_FILE, "trailing"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(2, -3)"), 24, 4, AN_ERR_BAD_FILE, "negative"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(6)"), 24, 4, AN_ERR_BAD_FILE, "tuple"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "[2, 3]"), 24, 4, AN_ERR_BAD_FILE, "tuple"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(2, 3.0)"), 24, 4, AN_ERR_BAD_FILE, "shape"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(2,, 3)"), 24, 4, AN_ERR_BAD_FILE, "dimension"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(2 3)"), 24, 4, AN_ERR_BAD_FILE, "shape"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "false", "(2, 3)"), 24, 4, AN_ERR_BAD_FILE, "True or False"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(1, 1, 1, 1, 6)"), 24, 4, AN_ERR_BAD_FILE,
     "5 dimensions"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(2147483647, 2147483647, 2147483647)"), 24, 4,
     AN_ERR_BAD_FILE, "absurd"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(99999999999, 3)"), 24, 4, AN_ERR_BAD_FILE, "absurd"},
    {"\x93NUMPY", 1, "{'descr': '<f4', 'shape': (2, 3), }", 24, 4, AN_ERR_BAD_FILE,
     "fortran_order"},
    {"\x93NUMPY", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 24, 4,
     AN_ERR_BAD_FILE, "unknown key 'x'"},
    {"\x93NUMPY", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", 24,
     4, AN_ERR_BAD_FILE, "repeats"},
    {"\x93NUMPY", 1, NPY_HDR("<f4", "False", "(2, 3)") " x", 24, 4, AN_ERR_BAD_FILE, "trailing"},
    {"\x93NUMPY", 1, "['<f4', False, (2, 3)]", 24, 4, AN_ERR_BAD_FILE, "dict"},
    {"\x93NUMPY", 1, "{'descr': ['<f4'], 'fortran_order': False, 'shape': (6,)}", 24, 4,
     AN_ERR_BAD_FILE, "string"},
};
#define N_NPY (int)(sizeof npy_cases / sizeof npy_cases[0])

START_TEST(test_npy_reject)
{
    const npy_case *nc = &npy_cases[_i];
    char path[128];
    snprintf(path, sizeof path, "%s/bad_%02d.npy", tmp_dir, _i);
    write_npy_raw(path, nc->magic, nc->major, 0, nc->header, nc->data_len);
    static float sentinel;
    float *y = &sentinel; /* must come back NULL */
    int dims[4], ndim = 9;
    int st = npy_read_f32(path, &y, dims, &ndim, nc->max_dims);
    const char *err = npy_last_error();
    ck_assert_msg(st == nc->status, "case %d: status %d (%s)", _i, st, err);
    ck_assert_msg(strstr(err, path) && strstr(err, nc->needle), "case %d: \"%s\" lacks \"%s\"", _i,
                  err, nc->needle);
    ck_assert_ptr_null(y);
    ck_assert_int_eq(ndim, 0);
    unlink(path);
}
END_TEST

START_TEST(test_npy_truncated)
{
    char path[128];
    tmp_path(path, sizeof path, "cut.npy");
    float *y;
    int dims[4], ndim;
    /* a valid file cut at every length up to the end of its header */
    for (long cut = 0; cut < 64; cut++) {
        write_npy_raw(path, "\x93NUMPY", 1, 0, NPY_HDR("<f4", "False", "(2, 3)"), 24);
        ck_assert_int_eq(truncate(path, cut), 0);
        int st = npy_read_f32(path, &y, dims, &ndim, 4);
        ck_assert_msg(st == AN_ERR_BAD_FILE, "cut at %ld: status %d (%s)", cut, st,
                      npy_last_error());
        ck_assert_ptr_null(y);
    }
    /* header length beyond the file */
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite("\x93NUMPY\x02\x00\xff\xff\xff\x7f{}", 1, 14, f);
    fclose(f);
    ck_assert_int_eq(npy_read_f32(path, &y, dims, &ndim, 4), AN_ERR_BAD_FILE);
    ck_assert_ptr_nonnull(strstr(npy_last_error(), "header"));

    /* a NUL inside the header */
    static const char nul[] = "\x93NUMPY\x01\x00\x06\x00{'a'\0}";
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(nul, 1, sizeof nul - 1, f);
    fclose(f);
    ck_assert_int_eq(npy_read_f32(path, &y, dims, &ndim, 4), AN_ERR_BAD_FILE);
    ck_assert_ptr_nonnull(strstr(npy_last_error(), "NUL"));
    unlink(path);

    ck_assert_int_eq(npy_read_f32(path, &y, dims, &ndim, 4), AN_ERR_IO);
    ck_assert_ptr_nonnull(strstr(npy_last_error(), "No such file"));
}
END_TEST

/* ------------------------------------------------------------------------ */

static void remove_tmp_dir(void)
{
    DIR *d = opendir(tmp_dir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
    rmdir(tmp_dir);
}

static Suite *weights_suite(void)
{
    Suite *s = suite_create("weights");
    TCase *tc;

    tc = tcase_create("load");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_load_f32_exact);
    tcase_add_test(tc, test_load_preprocess_metadata);
    tcase_add_test(tc, test_load_f16_exact);
    tcase_add_test(tc, test_load_caffe_mixed);
    tcase_add_test(tc, test_refuse_nonfinite);
    tcase_add_test(tc, test_half_rounding);
    tcase_add_test(tc, test_load_f16_as_half);
    tcase_add_test(tc, test_half_overflow_and_seed);
    suite_add_tcase(s, tc);

    tc = tcase_create("reject");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_reject_entry, 0, N_REJECT);
    tcase_add_loop_test(tc, test_reject_raw_header, 0, N_RAW);
    tcase_add_test(tc, test_reject_truncated);
    tcase_add_test(tc, test_reject_io);
    tcase_add_test(tc, test_reject_other_kinds);
    suite_add_tcase(s, tc);

    tc = tcase_create("seed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_seed);
    suite_add_tcase(s, tc);

    tc = tcase_create("npy");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_npy_round_trip);
    tcase_add_test(tc, test_npy_versions);
    tcase_add_loop_test(tc, test_npy_reject, 0, N_NPY);
    tcase_add_test(tc, test_npy_truncated);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/an-test-weights-XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    SRunner *sr = srunner_create(weights_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tmp_dir();
    return failed != 0;
}
