/* convert.c - an_convert: a published weights file (PyTorch .pth in either
 * serialization, Caffe .caffemodel in either form, an ONNX model from
 * torch.onnx.export) to a safetensors file with this runtime's tensor names.
 * The format is told by the file's first bytes (and files of other kinds,
 * HDF5, NumPy, safetensors..., named),
 * the variant by the tensors' names and shapes; the output is written to a
 * temporary file, read back through the safetensors loader, then renamed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int an__ctensors_add(an__ctensors *ts, const char *path, const char *name, size_t name_len,
                     int dtype, int ndim, const int64_t *dims, unsigned char *data, size_t bytes)
{
    if (ts->count == AN__MAX_CTENSORS) {
        free(data);
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: more than %d tensors: not an AlexNet", path,
                        AN__MAX_CTENSORS);
    }
    if (name_len == 0 || name_len >= sizeof ts->t[0].name || memchr(name, '\0', name_len)) {
        free(data);
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: a tensor name is empty, too long or holds a NUL",
                        path);
    }
    for (size_t i = 0; i < name_len; i++)
        if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e || name[i] == '"' ||
            name[i] == '\\') {
            free(data);
            return an__fail(AN_ERR_BAD_WEIGHTS,
                            "%s: tensor name '%.*s' holds byte 0x%02x, which "
                            "no AlexNet tensor name has",
                            path, (int)i, name, (unsigned char)name[i]);
        }
    for (int i = 0; i < ts->count; i++)
        if (strlen(ts->t[i].name) == name_len && memcmp(ts->t[i].name, name, name_len) == 0) {
            free(data);
            return an__fail(AN_ERR_BAD_WEIGHTS, "%s: tensor '%.*s' appears twice", path,
                            (int)name_len, name);
        }
    an__ctensor *t = &ts->t[ts->count++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, name_len);
    t->dtype = dtype;
    t->ndim = ndim;
    memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
    t->data = data;
    t->bytes = bytes;
    return AN_OK;
}

void an__ctensors_free(an__ctensors *ts)
{
    if (!ts)
        return;
    for (int i = 0; i < ts->count; i++)
        free(ts->t[i].data);
    memset(ts, 0, sizeof *ts);
}

/* ------------------------------------------------------------------------ */
/* Which variant                                                            */

typedef struct {
    const char *name;
    int ndim, dims[4];
} expected;

static int expected_tensors(const an__variant *v, expected *e)
{
    an__param_shape s[AN_MAX_LAYERS];
    int n = an__variant_param_shapes(v, s, AN_MAX_LAYERS), k = 0;
    for (int i = 0; i < n && i < AN_MAX_LAYERS; i++) {
        const an__layer *l = &v->layers[s[i].layer];
        e[k++] = (expected){
            l->weight_name, s[i].ndim, {s[i].dims[0], s[i].dims[1], s[i].dims[2], s[i].dims[3]}};
        e[k++] = (expected){l->bias_name, 1, {s[i].dims[0], 0, 0, 0}};
    }
    return k;
}

static void fmt_dims(char *buf, size_t size, int ndim, const int64_t *d)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%" PRId64, i ? ", " : "", d[i]);
    if (used < size)
        snprintf(buf + used, size - used, ndim == 1 ? ",)" : ")");
}

static void fmt_expected(char *buf, size_t size, const expected *e)
{
    int64_t d[4];
    for (int i = 0; i < e->ndim; i++)
        d[i] = e->dims[i];
    fmt_dims(buf, size, e->ndim, d);
}

static bool same_shape(const an__ctensor *t, const expected *e)
{
    if (t->ndim != e->ndim)
        return false;
    for (int i = 0; i < t->ndim; i++)
        if (t->dims[i] != e->dims[i])
            return false;
    return true;
}

const an__variant *an__convert_match(const char *path, const an__ctensors *ts,
                                     const an__variant *only)
{
    const char *const *names = an_variant_names();
    const an__variant *cand[8];
    expected exp[8][2 * AN_MAX_LAYERS];
    int n_exp[8], n_cand = 0;
    if (only && ts->variant[0] && strcmp(only->name, ts->variant) != 0) {
        an__fail(AN_ERR_BAD_WEIGHTS,
                 "%s: its layer list is the network of %s, not of %s (the variant asked for)", path,
                 ts->variant, only->name);
        return NULL;
    }
    /* candidates: variants that know every tensor name */
    for (int v = 0; names[v] && n_cand < 8; v++) {
        const an__variant *var = an__variant_find(names[v]);
        if (!var || (only && var != only) || (ts->variant[0] && strcmp(ts->variant, var->name)))
            continue;
        int ne = expected_tensors(var, exp[n_cand]);
        bool all = true;
        for (int i = 0; i < ts->count && all; i++) {
            bool known = false;
            for (int j = 0; j < ne && !known; j++)
                known = strcmp(ts->t[i].name, exp[n_cand][j].name) == 0;
            all = known;
        }
        if (all) {
            n_exp[n_cand] = ne;
            cand[n_cand++] = var;
        }
    }
    if (n_cand == 0 && (only || ts->variant[0])) {
        const an__variant *var = only ? only : an__variant_find(ts->variant);
        expected e[2 * AN_MAX_LAYERS];
        int ne = var ? expected_tensors(var, e) : 0;
        for (int i = 0; i < ts->count; i++) {
            bool known = false;
            for (int j = 0; j < ne && !known; j++)
                known = strcmp(ts->t[i].name, e[j].name) == 0;
            if (!known) {
                an__fail(AN_ERR_BAD_WEIGHTS, "%s: tensor '%s' is not a tensor of %s", path,
                         ts->t[i].name, var ? var->name : ts->variant);
                return NULL;
            }
        }
    }
    if (n_cand == 0) {
        for (int i = 0; i < ts->count; i++) {
            bool known = false;
            for (int v = 0; names[v] && !known; v++) {
                expected e[2 * AN_MAX_LAYERS];
                const an__variant *var = an__variant_find(names[v]);
                int ne = var ? expected_tensors(var, e) : 0;
                for (int j = 0; j < ne && !known; j++)
                    known = strcmp(ts->t[i].name, e[j].name) == 0;
            }
            if (!known) {
                an__fail(AN_ERR_BAD_WEIGHTS,
                         "%s: tensor '%s' is not a tensor of any variant (torchvision-224 names "
                         "features.N/classifier.N, the Caffe variants conv1..conv5, fc6..fc8)",
                         path, ts->t[i].name);
                return NULL;
            }
        }
        an__fail(AN_ERR_BAD_WEIGHTS, "%s: the tensors mix the names of different variants", path);
        return NULL;
    }
    /* the candidates whose every tensor has its shape, and none missing: shapes
     * choose among variants only where the variants have the same layers */
    const an__variant *fit = NULL;
    for (int c = 0; c < n_cand; c++) {
        bool ok = ts->count == n_exp[c];
        for (int i = 0; i < ts->count && ok; i++)
            for (int j = 0; j < n_exp[c]; j++)
                if (strcmp(ts->t[i].name, exp[c][j].name) == 0)
                    ok = same_shape(&ts->t[i], &exp[c][j]);
        if (!ok)
            continue;
        if (!fit) {
            fit = cand[c];
        } else if (!an__variant_same_layers(fit, cand[c])) {
            an__fail(AN_ERR_BAD_WEIGHTS,
                     "%s: the tensors fit both %s and %s, different networks with tensors "
                     "of the same shapes, and the file has no layer list to tell them apart: "
                     "name the variant (alexnet convert --variant NAME)",
                     path, fit->name, cand[c]->name);
            return NULL;
        }
    }
    if (fit)
        return fit;
    /* say why: the first tensor whose shape no candidate takes, else a missing one */
    for (int i = 0; i < ts->count; i++) {
        char got[160], want[512];
        size_t used = 0;
        bool fits = false;
        for (int c = 0; c < n_cand && !fits; c++)
            for (int j = 0; j < n_exp[c]; j++)
                if (strcmp(ts->t[i].name, exp[c][j].name) == 0) {
                    char e[96];
                    fits = same_shape(&ts->t[i], &exp[c][j]);
                    fmt_expected(e, sizeof e, &exp[c][j]);
                    if (used < sizeof want)
                        used += (size_t)snprintf(want + used, sizeof want - used, "%s%s expects %s",
                                                 c ? ", " : "", cand[c]->name, e);
                }
        if (!fits) {
            fmt_dims(got, sizeof got, ts->t[i].ndim, ts->t[i].dims);
            an__fail(AN_ERR_BAD_WEIGHTS, "%s: tensor '%s' has shape %s; %s", path, ts->t[i].name,
                     got, want);
            return NULL;
        }
    }
    for (int j = 0; j < n_exp[0]; j++) {
        bool seen = false;
        for (int i = 0; i < ts->count && !seen; i++)
            seen = strcmp(ts->t[i].name, exp[0][j].name) == 0;
        if (!seen) {
            an__fail(AN_ERR_BAD_WEIGHTS, "%s: missing tensor '%s' (variant %s%s)", path,
                     exp[0][j].name, cand[0]->name,
                     n_cand > 1 ? " and the others with its names" : "");
            return NULL;
        }
    }
    an__fail(AN_ERR_BAD_WEIGHTS, "%s: the tensors match no variant", path);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Reading and writing                                                      */

static int read_file(const char *path, unsigned char **out, size_t *size)
{
    int status = AN_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    unsigned char *buf = NULL;
    if (fd < 0)
        return an__fail(AN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        status = an__fail(AN_ERR_IO, "%s: not a regular file", path);
        goto fail;
    }
    if ((uint64_t)st.st_size > ((uint64_t)1 << 36)) {
        status = an__fail(AN_ERR_BAD_FILE, "%s: %lld bytes is more than any AlexNet file", path,
                          (long long)st.st_size);
        goto fail;
    }
    size_t n = (size_t)st.st_size;
    buf = malloc(n ? n : 1);
    if (!buf) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", path, n);
        goto fail;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            status = an__fail(AN_ERR_IO, "%s: read failed: %s", path,
                              r < 0 ? strerror(errno) : "file shrank");
            goto fail;
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *size = n;
    return AN_OK;
fail:
    free(buf);
    close(fd);
    return status;
}

static int write_all(int fd, const char *path, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return an__fail(AN_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return AN_OK;
}

/* Writes the tensors in the variant's order, dtypes kept. */
static int write_safetensors(const char *path, const an__variant *v, const an__ctensors *ts,
                             const char *source_format)
{
    int status = AN_OK;
    expected e[2 * AN_MAX_LAYERS];
    int ne = expected_tensors(v, e);
    const an__ctensor *order[2 * AN_MAX_LAYERS];
    size_t cap = 4096, len = 0;
    char *hdr = malloc(cap);
    int fd = -1;
    if (!hdr)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
    for (int j = 0; j < ne; j++) {
        order[j] = NULL;
        for (int i = 0; i < ts->count; i++)
            if (strcmp(ts->t[i].name, e[j].name) == 0)
                order[j] = &ts->t[i];
        if (!order[j]) { /* an__convert_match said they are all there */
            status = an__fail(AN_ERR_BAD_WEIGHTS, "missing tensor '%s'", e[j].name);
            goto fail;
        }
    }
    /* the preprocessing the source states: the spec's characters need no JSON escape */
    len = (size_t)snprintf(hdr, cap,
                           "{\"__metadata__\":{\"format\":\"pt\",\"converted_from\":\"%s\"%s%s%s}",
                           source_format, ts->preprocess[0] ? ",\"preprocess\":\"" : "",
                           ts->preprocess, ts->preprocess[0] ? "\"" : "");
    uint64_t offset = 0;
    for (int j = 0; j < ne; j++) {
        const an__ctensor *t = order[j];
        char shape[160];
        size_t u = 0;
        for (int d = 0; d < t->ndim; d++)
            u += (size_t)snprintf(shape + u, sizeof shape - u, "%s%" PRId64, d ? "," : "",
                                  t->dims[d]);
        if (len + 512 > cap) {
            char *p = realloc(hdr, cap *= 2);
            if (!p) {
                status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
                goto fail;
            }
            hdr = p;
        }
        len += (size_t)snprintf(
            hdr + len, cap - len,
            ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}",
            t->name, t->dtype == AN__DT_F16 ? "F16" : "F32", shape, offset, offset + t->bytes);
        offset += t->bytes;
    }
    if (cap - len < 16) {
        char *p = realloc(hdr, cap += 16);
        if (!p) {
            status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
            goto fail;
        }
        hdr = p;
    }
    hdr[len++] = '}';
    while (len % 8)
        hdr[len++] = ' ';
    unsigned char size_le[8];
    for (int i = 0; i < 8; i++)
        size_le[i] = (unsigned char)((uint64_t)len >> (8 * i));

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        status = an__fail(AN_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        goto fail;
    }
    AN_TRY(write_all(fd, path, size_le, 8));
    AN_TRY(write_all(fd, path, hdr, len));
    for (int j = 0; j < ne; j++)
        AN_TRY(write_all(fd, path, order[j]->data, order[j]->bytes));
    if (close(fd) != 0) {
        fd = -1;
        status = an__fail(AN_ERR_IO, "%s: close failed: %s", path, strerror(errno));
        goto fail;
    }
    fd = -1;
fail:
    if (fd >= 0)
        close(fd);
    free(hdr);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Files of other kinds, told by their content                              */

/* Reads a protobuf varint at *p (before end); false when malformed. */
static bool pb_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        unsigned char b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* An ONNX ModelProto: top-level protobuf fields where ir_version (1) is a
 * varint and graph (7) or opset_import (8) a message. Caffe's NetParameter
 * has a string at field 1, so the two never look alike. */
static bool looks_onnx(const unsigned char *buf, size_t n)
{
    const unsigned char *p = buf, *end = buf + n;
    bool ir_version = false, graph = false;
    if (n < 2 || buf[0] != 0x08) /* serializers write ir_version, field 1, first */
        return false;
    while (p < end) {
        uint64_t key, v;
        if (!pb_varint(&p, end, &key) || key >> 3 == 0)
            break;
        int wire = (int)(key & 7);
        uint64_t field = key >> 3;
        if (wire == 0) {
            if (!pb_varint(&p, end, &v))
                break;
            ir_version |= field == 1 && p - buf <= 11; /* the first field */
        } else if (wire == 2) {
            if (!pb_varint(&p, end, &v) || v > (uint64_t)(end - p))
                break;
            graph |= field == 7 || field == 8;
            p += v;
        } else if (wire == 5 || wire == 1) {
            p += wire == 5 ? 4 : 8;
        } else {
            break;
        }
    }
    return ir_version && graph;
}

const char *an__file_kind(const unsigned char *buf, size_t n)
{
    if (n >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0)
        return "a zip archive (a PyTorch .pth?)";
    if (n >= 2 && buf[0] == 0x80 && buf[1] >= 2 && buf[1] <= 5)
        return "a Python pickle (a legacy PyTorch .pth?)";
    if (n >= 8 && memcmp(buf, "\x89HDF\r\n\x1a\n", 8) == 0)
        return "an HDF5 file (Keras .h5 weights?)";
    if (n >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0)
        return "a NumPy .npy array";
    if (n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
        return "a gzip-compressed file (decompress it first)";
    if (n >= 8 && memcmp(buf, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "a PNG image";
    if (n >= 3 && memcmp(buf, "\xff\xd8\xff", 3) == 0)
        return "a JPEG image";
    if (n >= 10) { /* safetensors: an 8-byte header size, then a JSON object */
        uint64_t h = 0;
        for (int i = 7; i >= 0; i--)
            h = (h << 8) | buf[i];
        if (h >= 2 && h <= n - 8 && buf[8] == '{')
            return "a safetensors file (already this runtime's format: load it with --weights)";
    }
    if (looks_onnx(buf, n))
        return "an ONNX model";
    return NULL;
}

/* Drops every "module" component of each name (nn.DataParallel and
 * DistributedDataParallel insert "module." wherever they wrapped a submodule:
 * "module.features.0.weight", "features.module.0.weight"). */
static int drop_module(const char *path, an__ctensors *ts)
{
    for (int i = 0; i < ts->count; i++) {
        char *name = ts->t[i].name;
        size_t pos = 0; /* the start of a component */
        for (;;) {
            if (strncmp(name + pos, "module.", 7) == 0 && name[pos + 7]) {
                memmove(name + pos, name + pos + 7, strlen(name + pos + 7) + 1);
                continue;
            }
            const char *dot = strchr(name + pos, '.');
            if (!dot)
                break;
            pos = (size_t)(dot - name) + 1;
        }
    }
    for (int i = 0; i < ts->count; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(ts->t[i].name, ts->t[j].name) == 0)
                return an__fail(AN_ERR_BAD_WEIGHTS,
                                "%s: tensor '%s' appears twice once 'module.' is dropped", path,
                                ts->t[i].name);
    return AN_OK;
}

int an_convert(const char *in, const char *out, char *variant_out, size_t size)
{
    an_convert_info info;
    int status = an_convert_ex(in, out, &info);
    if (variant_out && size)
        snprintf(variant_out, size, "%s", status == AN_OK ? info.variant : "");
    return status;
}

int an_convert_ex(const char *in, const char *out, an_convert_info *info)
{
    return an_convert_variant(in, out, NULL, info);
}

int an_convert_variant(const char *in, const char *out, const char *variant, an_convert_info *info)
{
    an__clear_error();
    const an__variant *only = NULL;
    if (info)
        memset(info, 0, sizeof *info);
    if (variant && !(only = an__variant_find(variant)))
        return AN_ERR_UNKNOWN_VARIANT;
    int status = AN_OK;
    unsigned char *buf = NULL;
    size_t n = 0;
    char *tmp = NULL;
    an__ctensors *ts = NULL;
    an__weights check;
    memset(&check, 0, sizeof check);
    if (info)
        memset(info, 0, sizeof *info);
    if (!in || !out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_convert: %s is NULL", !in ? "in" : "out");
    ts = calloc(1, sizeof *ts);
    if (!ts)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
    AN_TRY(read_file(in, &buf, &n));
    const char *kind = an__file_kind(buf, n);
    bool onnx = kind && strcmp(kind, "an ONNX model") == 0;
    if (kind && (memcmp(kind, "a zip", 5) == 0 || memcmp(kind, "a Python pickle", 15) == 0 || onnx))
        kind = NULL; /* the two .pth containers and ONNX: read below */
    if (kind) {
        status = an__fail(AN_ERR_BAD_FILE,
                          "%s is %s; convert accepts a PyTorch .pth (a state_dict saved by "
                          "torch.save, zip or legacy format), a Caffe .caffemodel and an "
                          "ONNX model",
                          in, kind);
        goto fail;
    }
    if (onnx)
        AN_TRY(an__onnx_read(in, buf, n, ts));
    else if (n >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0)
        AN_TRY(an__pth_read_zip(in, buf, n, ts));
    else if (n >= 2 && buf[0] == 0x80 && buf[1] >= 2 && buf[1] <= 5)
        AN_TRY(an__pth_read_legacy(in, buf, n, ts));
    else if (n >= 2 && memcmp(buf, "PK", 2) == 0) {
        status = an__fail(AN_ERR_BAD_FILE,
                          "%s: starts like a zip archive but has no local file "
                          "header: not a PyTorch .pth",
                          in);
        goto fail;
    } else
        AN_TRY(an__caffe_read(in, buf, n, ts));
    free(buf);
    buf = NULL;

    AN_TRY(drop_module(in, ts));

    const an__variant *v = an__convert_match(in, ts, only);
    if (!v) {
        status = AN_ERR_BAD_WEIGHTS;
        goto fail;
    }
    for (int i = 0; i < ts->count; i++) { /* NaN or infinity: refused, as the loader does */
        const an__ctensor *t = &ts->t[i];
        size_t bad = 0;
        int64_t first = an__first_nonfinite(t->data, t->bytes / (size_t)t->dtype, t->dtype, &bad);
        if (first >= 0) {
            status = an__fail(AN_ERR_BAD_WEIGHTS,
                              "%s: tensor '%s' holds %zu non-finite value%s (NaN or infinity), "
                              "the first at flat index %lld: not converted",
                              in, t->name, bad, bad == 1 ? "" : "s", (long long)first);
            goto fail;
        }
    }
    size_t tl = strlen(out) + 16;
    tmp = malloc(tl);
    if (!tmp) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    snprintf(tmp, tl, "%s.partial", out);
    status = write_safetensors(tmp, v, ts, ts->format);
    if (status == AN_OK) /* read back: what we wrote loads as the variant */
        status = an__weights_load(v, tmp, &check);
    if (status == AN_OK && rename(tmp, out) != 0)
        status = an__fail(AN_ERR_IO, "%s: cannot rename %s to it: %s", out, tmp, strerror(errno));
    if (status != AN_OK) {
        unlink(tmp);
        goto fail;
    }
    if (info) {
        snprintf(info->variant, sizeof info->variant, "%s", v->name);
        snprintf(info->format, sizeof info->format, "%s", ts->format);
        snprintf(info->source_key, sizeof info->source_key, "%s", ts->source_key);
    }
fail:
    an__weights_free(&check);
    an__ctensors_free(ts);
    free(ts);
    free(tmp);
    free(buf);
    return status;
}
