/* npy.c - a strict reader and a writer of float32 NumPy .npy files.
 *
 * The format: "\x93NUMPY", a major and minor version byte, the header length
 * (u16 little-endian in version 1.0, u32 in 2.0 and 3.0), then a Python dict
 * literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ending in '\n', then the raw data in C order. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alexnet.h"
#include "npy.h"

static _Thread_local char npy_error[1024];

const char *npy_last_error(void)
{
    return npy_error;
}

static int npy_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int npy_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(npy_error, sizeof npy_error, fmt, ap);
    va_end(ap);
    return status;
}

#define NPY_MAX_DIMS 64           /* NumPy's own limit */
#define NPY_MAX_HEADER (1u << 20) /* far above any real header */

/* ------------------------------------------------------------------------ */
/* Header parsing: a cursor over the dict literal                           */

typedef struct {
    const char *p, *end;
    const char *path;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool accept(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

static int syntax_error(const cursor *c, const char *what)
{
    return npy_fail(AN_ERR_BAD_FILE, "%s: malformed .npy header: %s near \"%.20s\"", c->path, what,
                    c->p < c->end ? c->p : "");
}

/* A quoted Python string without escapes, copied into buf. */
static int parse_string(cursor *c, char *buf, size_t n)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return syntax_error(c, "expected a quoted string");
    char quote = *c->p++;
    size_t len = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || len + 1 >= n)
            return syntax_error(c, "unsupported string");
        buf[len++] = *c->p++;
    }
    if (c->p >= c->end)
        return syntax_error(c, "unterminated string");
    c->p++;
    buf[len] = '\0';
    return AN_OK;
}

static int parse_bool(cursor *c, bool *out)
{
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
        c->p += 4;
        *out = true;
    } else if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        c->p += 5;
        *out = false;
    } else {
        return syntax_error(c, "expected True or False");
    }
    return AN_OK;
}

/* A decimal dimension, 0 .. INT_MAX. */
static int parse_dim(cursor *c, int *out)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == '-')
        return npy_fail(AN_ERR_BAD_FILE, "%s: .npy shape has a negative dimension", c->path);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return syntax_error(c, "expected a dimension");
    long long v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        v = v * 10 + (*c->p++ - '0');
        if (v > INT_MAX)
            return npy_fail(AN_ERR_BAD_FILE, "%s: .npy shape has an absurd dimension", c->path);
    }
    *out = (int)v;
    return AN_OK;
}

/* A Python tuple of dimensions: (), (n,), (n, m), (n, m,) ... */
static int parse_shape(cursor *c, int *dims, int *ndim)
{
    *ndim = 0;
    if (!accept(c, '('))
        return syntax_error(c, "shape is not a tuple");
    if (accept(c, ')'))
        return AN_OK;
    for (;;) {
        if (*ndim == NPY_MAX_DIMS)
            return npy_fail(AN_ERR_BAD_FILE, "%s: .npy shape has more than %d dimensions", c->path,
                            NPY_MAX_DIMS);
        int status = parse_dim(c, &dims[(*ndim)++]);
        if (status != AN_OK)
            return status;
        if (accept(c, ')')) {
            if (*ndim == 1)
                return syntax_error(c, "shape (n) is not a tuple, (n,) is");
            return AN_OK;
        }
        if (!accept(c, ','))
            return syntax_error(c, "expected ',' or ')' in shape");
        if (accept(c, ')'))
            return AN_OK;
    }
}

/* The whole dict; exactly the three keys, each once. */
static int parse_header(cursor *c, int *dims, int *ndim)
{
    bool have_descr = false, have_order = false, have_shape = false;
    char key[32], descr[32];
    bool fortran = false;
    int status;

    if (!accept(c, '{'))
        return syntax_error(c, "header is not a dict");
    while (!accept(c, '}')) {
        if ((status = parse_string(c, key, sizeof key)) != AN_OK)
            return status;
        if (!accept(c, ':'))
            return syntax_error(c, "expected ':'");
        bool *seen;
        if (strcmp(key, "descr") == 0) {
            seen = &have_descr;
            status = parse_string(c, descr, sizeof descr);
        } else if (strcmp(key, "fortran_order") == 0) {
            seen = &have_order;
            status = parse_bool(c, &fortran);
        } else if (strcmp(key, "shape") == 0) {
            seen = &have_shape;
            status = parse_shape(c, dims, ndim);
        } else {
            return npy_fail(AN_ERR_BAD_FILE, "%s: .npy header has an unknown key '%s'", c->path,
                            key);
        }
        if (status != AN_OK)
            return status;
        if (*seen)
            return npy_fail(AN_ERR_BAD_FILE, "%s: .npy header repeats key '%s'", c->path, key);
        *seen = true;
        if (!accept(c, ',')) {
            if (!accept(c, '}'))
                return syntax_error(c, "expected ',' or '}'");
            break;
        }
    }
    skip_ws(c);
    if (c->p != c->end)
        return syntax_error(c, "trailing characters after the dict");
    if (!have_descr || !have_order || !have_shape)
        return npy_fail(AN_ERR_BAD_FILE, "%s: .npy header lacks '%s'", c->path,
                        !have_descr   ? "descr"
                        : !have_order ? "fortran_order"
                                      : "shape");
    if (strcmp(descr, "<f4") != 0) {
        const char *hint = strcmp(descr, ">f4") == 0   ? " (big-endian float32)"
                           : strcmp(descr, "<f8") == 0 ? " (float64)"
                                                       : "";
        return npy_fail(AN_ERR_BAD_FILE,
                        "%s: .npy dtype '%s'%s is not supported, only little-endian float32 "
                        "'<f4' (numpy: a.astype('<f4'))",
                        c->path, descr, hint);
    }
    if (fortran)
        return npy_fail(AN_ERR_BAD_FILE,
                        "%s: .npy array is in Fortran order, only C order is supported "
                        "(numpy: np.ascontiguousarray(a))",
                        c->path);
    return AN_OK;
}

static void format_shape(char *buf, size_t n, const int *dims, int ndim)
{
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %d" : "%d", dims[i]);
    if (used < n)
        snprintf(buf + used, n - used, ndim == 1 ? ",)" : ")");
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

int npy_read_f32(const char *path, float **data, int *dims, int *ndim, int max_dims)
{
    int status = AN_OK;
    FILE *f = NULL;
    char *header = NULL;
    unsigned char *buf = NULL;
    int shape[NPY_MAX_DIMS], rank = 0;

    if (!data || !ndim || (!dims && max_dims > 0))
        return npy_fail(AN_ERR_INVALID_ARGUMENT, "npy_read_f32: NULL output");
    *data = NULL;
    *ndim = 0;
    if (!path) {
        status = npy_fail(AN_ERR_INVALID_ARGUMENT, "npy_read_f32: path is NULL");
        goto fail;
    }
    f = fopen(path, "rb");
    if (!f) {
        status = npy_fail(AN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        status = npy_fail(AN_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    uint64_t file_size = (uint64_t)st.st_size;

    /* Preamble: magic, version, header length. */
    unsigned char pre[12];
    if (file_size < 10 || fread(pre, 1, 10, f) != 10) {
        status = npy_fail(AN_ERR_BAD_FILE, "%s: too short for a .npy file (%llu bytes)", path,
                          (unsigned long long)file_size);
        goto fail;
    }
    if (memcmp(pre, "\x93NUMPY", 6) != 0) {
        status = npy_fail(AN_ERR_BAD_FILE, "%s: not a .npy file (bad magic)", path);
        goto fail;
    }
    int major = pre[6], minor = pre[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0) {
        status = npy_fail(AN_ERR_BAD_FILE, "%s: .npy format version %d.%d is not supported", path,
                          major, minor);
        goto fail;
    }
    uint64_t header_len, header_start = major == 1 ? 10 : 12;
    if (major == 1) {
        header_len = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
    } else {
        if (fread(pre + 10, 1, 2, f) != 2) {
            status = npy_fail(AN_ERR_BAD_FILE, "%s: truncated .npy preamble", path);
            goto fail;
        }
        header_len = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 |
                     (uint64_t)pre[11] << 24;
    }
    if (header_len > NPY_MAX_HEADER) {
        status = npy_fail(AN_ERR_BAD_FILE, "%s: absurd .npy header length %llu", path,
                          (unsigned long long)header_len);
        goto fail;
    }
    if (header_start + header_len > file_size) {
        status = npy_fail(AN_ERR_BAD_FILE, "%s: .npy header (%llu bytes) runs past the end", path,
                          (unsigned long long)header_len);
        goto fail;
    }
    header = malloc((size_t)header_len + 1);
    if (!header) {
        status = npy_fail(AN_ERR_OUT_OF_MEMORY, "%s: cannot allocate the header", path);
        goto fail;
    }
    if (fread(header, 1, (size_t)header_len, f) != header_len) {
        status = npy_fail(AN_ERR_IO, "%s: cannot read the .npy header", path);
        goto fail;
    }
    header[header_len] = '\0';
    if (strlen(header) != header_len) {
        status = npy_fail(AN_ERR_BAD_FILE, "%s: .npy header contains a NUL byte", path);
        goto fail;
    }
    cursor c = {header, header + header_len, path};
    if ((status = parse_header(&c, shape, &rank)) != AN_OK)
        goto fail;
    if (rank > max_dims) {
        status = npy_fail(AN_ERR_BAD_FILE, "%s: .npy array has %d dimensions, at most %d expected",
                          path, rank, max_dims);
        goto fail;
    }

    /* Data: exactly prod(shape) * 4 bytes, computed without overflow. */
    char shape_text[160];
    format_shape(shape_text, sizeof shape_text, shape, rank);
    uint64_t count = 1, have = file_size - header_start - header_len;
    for (int i = 0; i < rank; i++) {
        if (shape[i] != 0 && count > UINT64_MAX / 4 / (uint64_t)shape[i]) {
            status =
                npy_fail(AN_ERR_BAD_FILE, "%s: .npy shape %s is absurdly large", path, shape_text);
            goto fail;
        }
        count *= (uint64_t)shape[i];
    }
    uint64_t bytes = count * 4;
    if (have != bytes) {
        status = npy_fail(AN_ERR_BAD_FILE,
                          "%s: .npy data is %llu bytes, shape %s of '<f4' needs "
                          "%llu (%s)",
                          path, (unsigned long long)have, shape_text, (unsigned long long)bytes,
                          have < bytes ? "truncated" : "trailing bytes");
        goto fail;
    }
    if (bytes > SIZE_MAX) {
        status =
            npy_fail(AN_ERR_BAD_FILE, "%s: .npy shape %s does not fit in memory", path, shape_text);
        goto fail;
    }
    buf = malloc(bytes ? (size_t)bytes : 1);
    if (!buf) {
        status = npy_fail(AN_ERR_OUT_OF_MEMORY, "%s: cannot allocate %llu bytes", path,
                          (unsigned long long)bytes);
        goto fail;
    }
    if (fread(buf, 1, (size_t)bytes, f) != bytes) {
        status = npy_fail(AN_ERR_IO, "%s: cannot read %llu bytes of data", path,
                          (unsigned long long)bytes);
        goto fail;
    }
    /* Little-endian bytes to host floats, in place. */
    for (size_t i = 0; i < (size_t)count; i++) {
        const unsigned char *b = buf + 4 * i;
        uint32_t u =
            (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(buf + 4 * i, &u, 4);
    }

    for (int i = 0; i < rank; i++)
        dims[i] = shape[i];
    *ndim = rank;
    *data = (float *)(void *)buf;
    buf = NULL;

fail:
    free(buf);
    free(header);
    if (f)
        fclose(f);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

int npy_write_f32(const char *path, const float *data, const int *dims, int ndim)
{
    int status;
    FILE *f = NULL;

    if (!path || (!dims && ndim > 0) || ndim < 0 || ndim > NPY_MAX_DIMS)
        return npy_fail(AN_ERR_INVALID_ARGUMENT, "npy_write_f32: bad arguments");
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || (dims[i] != 0 && count > SIZE_MAX / 4 / (uint64_t)dims[i]))
            return npy_fail(AN_ERR_INVALID_ARGUMENT, "npy_write_f32: bad dimension %d", dims[i]);
        count *= (uint64_t)dims[i];
    }
    if (!data && count > 0)
        return npy_fail(AN_ERR_INVALID_ARGUMENT, "npy_write_f32: data is NULL");

    /* Header: dict, spaces, '\n', so that 10 + length is a multiple of 64. */
    char shape_text[NPY_MAX_DIMS * 12 + 4], header[1024];
    format_shape(shape_text, sizeof shape_text, dims, ndim);
    int len = snprintf(header, sizeof header,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape_text);
    size_t total = ((size_t)10 + (size_t)len + 1 + 63) / 64 * 64;
    size_t hlen = total - 10;
    memset(header + len, ' ', hlen - (size_t)len - 1);
    header[hlen - 1] = '\n';

    f = fopen(path, "wb");
    if (!f)
        return npy_fail(AN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    if (fwrite(pre, 1, sizeof pre, f) != sizeof pre || fwrite(header, 1, hlen, f) != hlen)
        goto fail;
    unsigned char chunk[4096];
    for (size_t i = 0; i < (size_t)count;) {
        size_t n = 0;
        for (; n < sizeof chunk && i < (size_t)count; n += 4, i++) {
            uint32_t u;
            memcpy(&u, &data[i], 4);
            chunk[n] = (unsigned char)u;
            chunk[n + 1] = (unsigned char)(u >> 8);
            chunk[n + 2] = (unsigned char)(u >> 16);
            chunk[n + 3] = (unsigned char)(u >> 24);
        }
        if (fwrite(chunk, 1, n, f) != n)
            goto fail;
    }
    int rc = fclose(f);
    f = NULL;
    if (rc != 0)
        goto fail;
    return AN_OK;

fail:
    status = npy_fail(AN_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    if (f)
        fclose(f);
    remove(path); /* only reached once fopen created the file */
    return status;
}
