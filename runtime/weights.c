/* weights.c - weights on the host: a .safetensors reader (memory-mapped, every
 * field validated against the variant before a byte of data is touched, F16
 * widened to F32 or, for half-precision linear weights, kept as it is; NaN and
 * infinities refused unless allowed), binary32 -> binary16 rounding, and
 * deterministic He-uniform weights from a seed. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MAX_HEADER_BYTES (100ull << 20) /* 100 MiB, as the safetensors crate */
#define MAX_TENSORS (2 * AN_MAX_LAYERS)

/* ------------------------------------------------------------------------ */
/* Little-endian decoding and half precision                                */

static uint64_t read_u64le(const unsigned char *p)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

/* IEEE 754 binary16 -> binary32 bits, exact for every input: zeros keep their
 * sign, subnormals are renormalised, inf stays inf, NaN keeps sign and payload.
 * Bits rather than a float, so that no FPU step can quieten a NaN. */
static uint32_t half_to_float_bits(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) /* inf or NaN */
        return sign | 0x7f800000u | (mant << 13);
    if (exp != 0) /* normal: rebias 15 -> 127 */
        return sign | ((exp + 112) << 23) | (mant << 13);
    if (mant == 0) /* signed zero */
        return sign;
    /* subnormal, mant * 2^-24: shift the leading one up to the implicit bit */
    uint32_t e = 113;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e--;
    }
    return sign | (e << 23) | ((mant & 0x3ffu) << 13);
}

float an__half_to_float(uint16_t h)
{
    uint32_t u = half_to_float_bits(h);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t an__half_from_float(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN: quiet, top payload bits kept */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u) /* >= 65520 (and inf): rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (ax >= 0x38800000u) { /* normal in half: rebias 127 -> 15, round to nearest even */
        uint32_t r = ax - 0x38000000u;
        r += 0xfffu + ((r >> 13) & 1u);
        return (uint16_t)(sign | (r >> 13));
    }
    if (ax < 0x33000000u) /* below 2^-25: rounds to zero */
        return sign;
    /* subnormal: round(m * 2^(e - 126)) in units of 2^-24, ties to even */
    uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - e; /* 14..24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1u)))
        q++;
    return (uint16_t)(sign | q);
}

/* Both decoders read little-endian bytes at any alignment and store through
 * memcpy, so the result is bit-exact on every host. */
static void decode_f32(float *dst, const unsigned char *src, size_t n)
{
    for (size_t i = 0; i < n; i++, src += 4) {
        uint32_t u = (uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 |
                     (uint32_t)src[3] << 24;
        memcpy(&dst[i], &u, sizeof u);
    }
}

static void decode_f16(float *dst, const unsigned char *src, size_t n)
{
    for (size_t i = 0; i < n; i++, src += 2) {
        uint32_t u = half_to_float_bits((uint16_t)(src[0] | src[1] << 8));
        memcpy(&dst[i], &u, sizeof u);
    }
}

/* ------------------------------------------------------------------------ */
/* What the variant expects, and what the header says                       */

typedef struct {
    const char *name;    /* key in the file */
    int dims[4], ndim;   /* expected shape */
    uint64_t numel;      /* prod(dims) */
    int elem_size;       /* 4 (F32) or 2 (F16), once seen */
    uint64_t begin, end; /* relative to the data region, once seen */
    bool seen;
} tensor_slot;

static void format_dims(char *buf, size_t n, const int64_t *dims, int ndim)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < n)
        snprintf(buf + used, n - used, ndim == 1 ? ",)" : ")");
}

static void format_slot_dims(char *buf, size_t n, const tensor_slot *s)
{
    int64_t d[4];
    for (int i = 0; i < s->ndim; i++)
        d[i] = s->dims[i];
    format_dims(buf, n, d, s->ndim);
}

static int compare_by_begin(const void *a, const void *b)
{
    const tensor_slot *x = *(const tensor_slot *const *)a, *y = *(const tensor_slot *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* A JSON integer >= 0. json-c clamps integers beyond int64 to INT64_MAX, which
 * is larger than any file, so the range checks that follow still refuse them. */
static bool json_uint(json_object *o, uint64_t *out)
{
    if (!json_object_is_type(o, json_type_int))
        return false;
    int64_t v = json_object_get_int64(o);
    if (v < 0)
        return false;
    *out = (uint64_t)v;
    return true;
}

/* Checks one header entry against its slot; data_size is the byte length of
 * the data region. */
static int check_entry(const char *path, const char *variant, tensor_slot *s, json_object *e,
                       uint64_t data_size)
{
    const char *name = s->name;
    if (!json_object_is_type(e, json_type_object))
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: tensor '%s': entry is a JSON %s, not an object",
                        path, name, json_type_to_name(json_object_get_type(e)));

    json_object *dtype, *shape, *offsets;
    if (!json_object_object_get_ex(e, "dtype", &dtype))
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: tensor '%s': no \"dtype\"", path, name);
    if (!json_object_object_get_ex(e, "shape", &shape))
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: tensor '%s': no \"shape\"", path, name);
    if (!json_object_object_get_ex(e, "data_offsets", &offsets))
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: tensor '%s': no \"data_offsets\"", path, name);

    /* dtype */
    if (!json_object_is_type(dtype, json_type_string))
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: tensor '%s': \"dtype\" is a JSON %s, not a string",
                        path, name, json_type_to_name(json_object_get_type(dtype)));
    const char *dt = json_object_get_string(dtype);
    size_t dt_len = (size_t)json_object_get_string_len(dtype);
    if (dt_len == 3 && memcmp(dt, "F32", 3) == 0)
        s->elem_size = 4;
    else if (dt_len == 3 && memcmp(dt, "F16", 3) == 0)
        s->elem_size = 2;
    else
        return an__fail(AN_ERR_BAD_WEIGHTS,
                        "%s: tensor '%s': dtype %.32s is not supported (only F32 and F16)", path,
                        name, dt);

    /* shape */
    if (!json_object_is_type(shape, json_type_array))
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: tensor '%s': \"shape\" is a JSON %s, not an array",
                        path, name, json_type_to_name(json_object_get_type(shape)));
    size_t ndim = json_object_array_length(shape);
    int64_t dims[8];
    for (size_t i = 0; i < ndim && i < 8; i++) {
        json_object *d = json_object_array_get_idx(shape, i);
        uint64_t v;
        if (!json_uint(d, &v))
            return an__fail(AN_ERR_BAD_WEIGHTS,
                            "%s: tensor '%s': shape element %zu (%.32s) is not an integer >= 0",
                            path, name, i, json_object_to_json_string(d));
        dims[i] = (int64_t)v;
    }
    bool match = ndim == (size_t)s->ndim;
    for (int i = 0; match && i < s->ndim; i++)
        match = dims[i] == s->dims[i];
    if (!match) {
        char got[160], want[96];
        if (ndim <= 8)
            format_dims(got, sizeof got, dims, (int)ndim);
        else
            snprintf(got, sizeof got, "(%zu dimensions)", ndim);
        format_slot_dims(want, sizeof want, s);
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: tensor '%s' has shape %s, variant %s expects %s",
                        path, name, got, variant, want);
    }

    /* data_offsets */
    if (!json_object_is_type(offsets, json_type_array) || json_object_array_length(offsets) != 2)
        return an__fail(AN_ERR_BAD_WEIGHTS,
                        "%s: tensor '%s': \"data_offsets\" is not an array [begin, end]", path,
                        name);
    uint64_t begin, end;
    if (!json_uint(json_object_array_get_idx(offsets, 0), &begin) ||
        !json_uint(json_object_array_get_idx(offsets, 1), &end))
        return an__fail(AN_ERR_BAD_WEIGHTS,
                        "%s: tensor '%s': \"data_offsets\" %.64s are not integers >= 0", path, name,
                        json_object_to_json_string(offsets));
    if (begin > end)
        return an__fail(AN_ERR_BAD_WEIGHTS,
                        "%s: tensor '%s': data_offsets [%llu, %llu] are out of order", path, name,
                        (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return an__fail(AN_ERR_BAD_WEIGHTS,
                        "%s: tensor '%s': data_offsets [%llu, %llu] end beyond the data region "
                        "(%llu bytes; file truncated?)",
                        path, name, (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)data_size);
    uint64_t want_bytes = s->numel * (uint64_t)s->elem_size; /* make_slots bounded numel */
    if (end - begin != want_bytes) {
        char want[96];
        format_slot_dims(want, sizeof want, s);
        return an__fail(AN_ERR_BAD_WEIGHTS,
                        "%s: tensor '%s': data_offsets [%llu, %llu] span %llu bytes, but %s %s "
                        "takes %llu",
                        path, name, (unsigned long long)begin, (unsigned long long)end,
                        (unsigned long long)(end - begin), want, dt,
                        (unsigned long long)want_bytes);
    }
    s->begin = begin;
    s->end = end;
    s->seen = true;
    return AN_OK;
}

/* The metadata's "preprocess" entry (an_preprocess_parse's spec), applied to
 * the variant's preprocessing into *w. */
static int metadata_preprocess(const char *path, const an__variant *v, json_object *val,
                               an__weights *w)
{
    an_preprocess pp = v->preprocess;
    if (an_preprocess_parse(json_object_get_string(val), &pp) != AN_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", an_last_error());
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: \"__metadata__\" entry \"preprocess\": %s", path,
                        why);
    }
    w->preprocess = pp;
    w->has_preprocess = true;
    return AN_OK;
}

static int check_metadata(const char *path, const an__variant *v, json_object *m, an__weights *w)
{
    if (!json_object_is_type(m, json_type_object))
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: \"__metadata__\" is a JSON %s, not an object",
                        path, json_type_to_name(json_object_get_type(m)));
    json_object_object_foreach(m, key, val)
    {
        if (!json_object_is_type(val, json_type_string))
            return an__fail(AN_ERR_BAD_WEIGHTS,
                            "%s: \"__metadata__\" value of '%.64s' is a JSON %s, not a string",
                            path, key, json_type_to_name(json_object_get_type(val)));
        int status = strcmp(key, "preprocess") == 0 ? metadata_preprocess(path, v, val, w) : AN_OK;
        if (status != AN_OK)
            return status;
    }
    return AN_OK;
}

/* Parses and validates the header against the variant; fills slots. */
static int check_header(const char *path, const an__variant *v, const char *hdr, size_t hdr_len,
                        uint64_t data_size, tensor_slot *slots, int n_slots, an__weights *w)
{
    int status = AN_OK;
    json_tokener *tok = NULL;
    json_object *root = NULL;

    if (memchr(hdr, '\0', hdr_len)) {
        status = an__fail(AN_ERR_BAD_WEIGHTS, "%s: header contains a NUL byte at offset %zu", path,
                          (size_t)((const char *)memchr(hdr, '\0', hdr_len) - hdr) + 8);
        goto fail;
    }
    tok = json_tokener_new();
    if (!tok) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "%s: cannot allocate a JSON parser", path);
        goto fail;
    }
    /* strict: no trailing commas or leading zeros, nothing but spaces after the object */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, hdr, (int)hdr_len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t parse_end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* The header is all there is: a final NUL ends a bare value ("12"). */
        root = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        parse_end = hdr_len;
    }
    if (jerr == json_tokener_continue) {
        status =
            an__fail(AN_ERR_BAD_WEIGHTS, "%s: header JSON ends early (%zu bytes)", path, hdr_len);
        goto fail;
    }
    if (jerr != json_tokener_success) {
        status = an__fail(AN_ERR_BAD_WEIGHTS, "%s: header is not valid JSON: %s at byte %zu", path,
                          json_tokener_error_desc(jerr), 8 + parse_end);
        goto fail;
    }
    if (!json_object_is_type(root, json_type_object)) { /* JSON null is root == NULL */
        status = an__fail(AN_ERR_BAD_WEIGHTS, "%s: header is a JSON %s, not an object", path,
                          json_type_to_name(json_object_get_type(root)));
        goto fail;
    }

    json_object_object_foreach(root, key, entry)
    {
        if (strcmp(key, "__metadata__") == 0) {
            AN_TRY(check_metadata(path, v, entry, w));
            continue;
        }
        tensor_slot *s = NULL;
        for (int i = 0; i < n_slots && !s; i++)
            if (strcmp(slots[i].name, key) == 0)
                s = &slots[i];
        if (!s) {
            status = an__fail(AN_ERR_BAD_WEIGHTS, "%s: unknown tensor '%.128s' (not in variant %s)",
                              path, key, v->name);
            goto fail;
        }
        AN_TRY(check_entry(path, v->name, s, entry, data_size));
    }
    for (int i = 0; i < n_slots; i++) {
        if (!slots[i].seen) {
            status = an__fail(AN_ERR_BAD_WEIGHTS, "%s: missing tensor '%s' (variant %s)", path,
                              slots[i].name, v->name);
            goto fail;
        }
    }

    /* No two tensors may share bytes: sort by begin, compare neighbours. */
    const tensor_slot *order[MAX_TENSORS];
    for (int i = 0; i < n_slots; i++)
        order[i] = &slots[i];
    qsort(order, (size_t)n_slots, sizeof order[0], compare_by_begin);
    for (int i = 1; i < n_slots; i++) {
        if (order[i]->begin < order[i - 1]->end) {
            status = an__fail(
                AN_ERR_BAD_WEIGHTS, "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap",
                path, order[i - 1]->name, (unsigned long long)order[i - 1]->begin,
                (unsigned long long)order[i - 1]->end, order[i]->name,
                (unsigned long long)order[i]->begin, (unsigned long long)order[i]->end);
            goto fail;
        }
    }

fail:
    json_object_put(root);
    if (tok)
        json_tokener_free(tok);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */

/* One weight and one bias slot per parametric layer, in table order. */
static int make_slots(const an__variant *v, an__weights *w, tensor_slot *slots)
{
    w->count = an__variant_param_shapes(v, w->shape, AN_MAX_LAYERS);
    if (w->count <= 0 || w->count > AN_MAX_LAYERS)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "variant %s has no parametric layers", v->name);
    for (int i = 0; i < w->count; i++) {
        const an__param_shape *ps = &w->shape[i];
        const an__layer *l = &v->layers[ps->layer];
        tensor_slot *ws = &slots[2 * i], *bs = &slots[2 * i + 1];
        if (!l->weight_name || !l->bias_name)
            return an__fail(AN_ERR_INVALID_ARGUMENT, "variant %s: layer %d has no tensor names",
                            v->name, ps->layer);
        memset(ws, 0, sizeof *ws);
        memset(bs, 0, sizeof *bs);
        ws->name = l->weight_name;
        bs->name = l->bias_name;
        ws->ndim = ps->ndim;
        ws->numel = 1;
        for (int d = 0; d < ps->ndim; d++) {
            /* bytes = numel * 4 must fit in a size_t: check before multiplying */
            if (ps->dims[d] <= 0 || ws->numel > SIZE_MAX / sizeof(float) / (uint64_t)ps->dims[d])
                return an__fail(AN_ERR_INVALID_ARGUMENT, "variant %s: tensor '%s' has a bad size",
                                v->name, l->weight_name);
            ws->dims[d] = ps->dims[d];
            ws->numel *= (uint64_t)ps->dims[d];
        }
        bs->ndim = 1;
        bs->dims[0] = ps->dims[0];
        bs->numel = (uint64_t)ps->dims[0];
    }
    return AN_OK;
}

int64_t an__first_nonfinite(const unsigned char *data, size_t n, int elem_size, size_t *count)
{
    int64_t first = -1;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        /* all exponent bits set: an infinity or a NaN */
        bool nonfinite = elem_size == 2
                             ? (data[2 * i + 1] & 0x7c) == 0x7c
                             : (data[4 * i + 3] & 0x7f) == 0x7f && (data[4 * i + 2] & 0x80);
        if (nonfinite) {
            if (first < 0)
                first = (int64_t)i;
            bad++;
        }
    }
    if (count)
        *count = bad;
    return first;
}

static int check_finite(const char *path, const tensor_slot *s, const unsigned char *data,
                        unsigned flags)
{
    if (!(flags & AN_LOAD_ALLOW_NONFINITE)) {
        size_t bad = 0;
        int64_t first = an__first_nonfinite(data + s->begin, (size_t)s->numel, s->elem_size, &bad);
        if (first >= 0)
            return an__fail(AN_ERR_BAD_WEIGHTS,
                            "%s: tensor '%s' holds %zu non-finite value%s (NaN or infinity), the "
                            "first at flat index %lld; refused (allow with "
                            "AN_LOAD_ALLOW_NONFINITE, `--allow-nonfinite`)",
                            path, s->name, bad, bad == 1 ? "" : "s", (long long)first);
    }
    return AN_OK;
}

/* An F16 tensor's bits as they are (AN_LOAD_WEIGHTS_F16). */
static int copy_half(const char *path, const tensor_slot *s, const unsigned char *data,
                     unsigned flags, uint16_t **out)
{
    int status = check_finite(path, s, data, flags);
    if (status != AN_OK)
        return status;
    uint16_t *dst = malloc((size_t)s->numel * sizeof *dst);
    if (!dst)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: tensor '%s': cannot allocate %llu bytes", path,
                        s->name, (unsigned long long)(s->numel * sizeof *dst));
    const unsigned char *src = data + s->begin;
    for (size_t i = 0; i < (size_t)s->numel; i++)
        dst[i] = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
    *out = dst;
    return AN_OK;
}

static int copy_tensor(const char *path, const tensor_slot *s, const unsigned char *data,
                       unsigned flags, float **out)
{
    int status = check_finite(path, s, data, flags);
    if (status != AN_OK)
        return status;
    float *dst = malloc((size_t)s->numel * sizeof(float));
    if (!dst)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: tensor '%s': cannot allocate %llu bytes", path,
                        s->name, (unsigned long long)(s->numel * sizeof(float)));
    if (s->elem_size == 4)
        decode_f32(dst, data + s->begin, (size_t)s->numel);
    else
        decode_f16(dst, data + s->begin, (size_t)s->numel);
    *out = dst;
    return AN_OK;
}

int an__weights_load(const an__variant *v, const char *path, an__weights *w)
{
    return an__weights_load_flags(v, path, 0, w);
}

int an__weights_load_flags(const an__variant *v, const char *path, unsigned flags, an__weights *w)
{
    int status = AN_OK;
    int fd = -1;
    void *map = MAP_FAILED;
    size_t map_len = 0;
    tensor_slot slots[MAX_TENSORS];

    if (!w)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an__weights_load: w is NULL");
    memset(w, 0, sizeof *w);
    if (!v || !path) {
        status = an__fail(AN_ERR_INVALID_ARGUMENT, "an__weights_load: %s is NULL",
                          !v ? "variant" : "path");
        goto fail;
    }
    AN_TRY(make_slots(v, w, slots));

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        status = an__fail(AN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        status = an__fail(AN_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        status = an__fail(AN_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    uint64_t file_size = (uint64_t)st.st_size;
    if (file_size < 8) {
        status = an__fail(AN_ERR_BAD_WEIGHTS,
                          "%s: %llu bytes is too short for a safetensors file (8-byte header size)",
                          path, (unsigned long long)file_size);
        goto fail;
    }
    if (file_size > SIZE_MAX) {
        status = an__fail(AN_ERR_IO, "%s: %llu bytes do not fit in the address space", path,
                          (unsigned long long)file_size);
        goto fail;
    }
    map_len = (size_t)file_size;
    map = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        status =
            an__fail(AN_ERR_IO, "%s: cannot mmap %zu bytes: %s", path, map_len, strerror(errno));
        goto fail;
    }
    const unsigned char *bytes = map;

    uint64_t hdr_len = read_u64le(bytes);
    const char *kind = an__file_kind(bytes, map_len);
    if (kind && strncmp(kind, "a safetensors", 13) != 0) { /* another kind of file: say which */
        status = an__fail(AN_ERR_BAD_WEIGHTS,
                          "%s is %s, not a safetensors file; `alexnet convert` (an_convert) "
                          "turns a PyTorch .pth, a Caffe .caffemodel or an ONNX model into one",
                          path, kind);
        goto fail;
    }
    if (hdr_len == 0 || hdr_len > MAX_HEADER_BYTES) {
        status = an__fail(AN_ERR_BAD_WEIGHTS,
                          "%s: header size %llu is %s (not a safetensors file?)", path,
                          (unsigned long long)hdr_len, hdr_len ? "over the 100 MiB limit" : "zero");
        goto fail;
    }
    if (hdr_len > file_size - 8) {
        status = an__fail(AN_ERR_BAD_WEIGHTS,
                          "%s: header of %llu bytes runs past the end of the %llu-byte file", path,
                          (unsigned long long)hdr_len, (unsigned long long)file_size);
        goto fail;
    }
    uint64_t data_size = file_size - 8 - hdr_len;
    AN_TRY(check_header(path, v, (const char *)bytes + 8, (size_t)hdr_len, data_size, slots,
                        2 * w->count, w));

    const unsigned char *data = bytes + 8 + hdr_len;
    for (int i = 0; i < w->count; i++) {
        if ((flags & AN_LOAD_WEIGHTS_F16) && w->shape[i].ndim == 2 && slots[2 * i].elem_size == 2)
            AN_TRY(copy_half(path, &slots[2 * i], data, flags, &w->half[i]));
        else
            AN_TRY(copy_tensor(path, &slots[2 * i], data, flags, &w->weight[i]));
        AN_TRY(copy_tensor(path, &slots[2 * i + 1], data, flags, &w->bias[i]));
    }

fail:
    if (map != MAP_FAILED)
        munmap(map, map_len);
    if (fd >= 0)
        close(fd);
    if (status != AN_OK)
        an__weights_free(w);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Seeded weights                                                           */

/* splitmix64 (Steele, Lea, Flood 2014): one add and a mix per draw. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Independent stream per (seed, tensor): layer i's weight is stream 2i, its
 * bias 2i+1, so resizing one tensor never shifts another's values. */
static uint64_t stream_state(uint64_t seed, uint64_t stream)
{
    uint64_t s = seed;
    uint64_t a = splitmix64(&s);
    s = a ^ (stream * 0xd1b54a32d192ed03ull);
    splitmix64(&s);
    return s;
}

/* n values uniform in [-bound, bound]: 53 random bits to [0, 1), then scaled
 * in double, where every step is exactly rounded, so all platforms agree. */
static void fill_uniform(float *dst, size_t n, double bound, uint64_t state)
{
    for (size_t i = 0; i < n; i++) {
        double u = (double)(splitmix64(&state) >> 11) * 0x1p-53;
        dst[i] = (float)((2.0 * u - 1.0) * bound);
    }
}

int an__weights_seed(const an__variant *v, uint64_t seed, an__weights *w)
{
    int status = AN_OK;
    if (!w)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an__weights_seed: w is NULL");
    memset(w, 0, sizeof *w);
    if (!v) {
        status = an__fail(AN_ERR_INVALID_ARGUMENT, "an__weights_seed: variant is NULL");
        goto fail;
    }
    tensor_slot slots[MAX_TENSORS];
    AN_TRY(make_slots(v, w, slots));
    for (int i = 0; i < w->count; i++) {
        const an__param_shape *ps = &w->shape[i];
        size_t out = (size_t)ps->dims[0], fan_in = (size_t)slots[2 * i].numel / out;
        w->weight[i] = malloc(out * fan_in * sizeof(float));
        w->bias[i] = malloc(out * sizeof(float));
        if (!w->weight[i] || !w->bias[i]) {
            status = an__fail(AN_ERR_OUT_OF_MEMORY, "seeded weights: cannot allocate layer %d (%s)",
                              i, v->layers[ps->layer].weight_name);
            goto fail;
        }
        fill_uniform(w->weight[i], out * fan_in, sqrt(6.0 / (double)fan_in),
                     stream_state(seed, 2 * (uint64_t)i));
        fill_uniform(w->bias[i], out, 0.05, stream_state(seed, 2 * (uint64_t)i + 1));
    }

fail:
    if (status != AN_OK)
        an__weights_free(w);
    return status;
}

int an__weights_to_half(const an__variant *v, const char *source, an__weights *w)
{
    for (int i = 0; i < w->count; i++) {
        if (w->shape[i].ndim != 2 || w->half[i] || !w->weight[i])
            continue;
        size_t n = (size_t)w->shape[i].dims[0] * (size_t)w->shape[i].dims[1];
        uint16_t *h = malloc(n * sizeof *h);
        if (!h)
            return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: tensor '%s': cannot allocate %zu bytes",
                            source, v->layers[w->shape[i].layer].weight_name, n * sizeof *h);
        size_t over = 0, first = 0;
        for (size_t j = 0; j < n; j++) {
            h[j] = an__half_from_float(w->weight[i][j]);
            /* a finite float that became infinite: beyond half's range */
            if ((h[j] & 0x7fffu) == 0x7c00u && isfinite(w->weight[i][j]) && over++ == 0)
                first = j;
        }
        if (over) {
            float x = w->weight[i][first];
            free(h);
            return an__fail(AN_ERR_BAD_WEIGHTS,
                            "%s: tensor '%s' holds %zu value%s beyond half precision's range "
                            "(|x| >= 65520), the first %g at flat index %zu; refused for "
                            "half-precision weights (load them as float32: --weights-dtype f32)",
                            source, v->layers[w->shape[i].layer].weight_name, over,
                            over == 1 ? "" : "s", (double)x, first);
        }
        free(w->weight[i]);
        w->weight[i] = NULL;
        w->half[i] = h;
    }
    return AN_OK;
}

void an__weights_free(an__weights *w)
{
    if (!w)
        return;
    for (int i = 0; i < AN_MAX_LAYERS; i++) {
        free(w->weight[i]);
        free(w->half[i]);
        free(w->bias[i]);
    }
    memset(w, 0, sizeof *w);
}
