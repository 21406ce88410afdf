/* caffe.c - Caffe .caffemodel files without Caffe or protoc: the protobuf
 * wire format decoded by hand from Caffe's public field numbers
 * (src/caffe/proto/caffe.proto), in the current form (NetParameter.layer = 100,
 * LayerParameter) and the legacy one (NetParameter.layers = 2,
 * V1LayerParameter). Only the named layers' blobs are kept:
 *
 *   NetParameter      layer = 100, layers = 2 (everything else skipped)
 *   LayerParameter    name = 1, type = 2 (string), blobs = 7
 *   V1LayerParameter  name = 4, type = 5 (enum), blobs = 6
 *   BlobProto         num, channels, height, width = 1..4; data = 5 (packed
 *                     or not); shape = 7; double_data = 8 (refused)
 *   BlobShape         dim = 1 (int64, packed or not)
 *
 * Every length and varint is checked against the bytes that remain. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct {
    const char *path;
    const unsigned char *base; /* the whole file, for offsets in messages */
} pb_file;

typedef struct {
    const unsigned char *p, *end;
} pb_span;

static int pb_bad(const pb_file *f, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int pb_bad(const pb_file *f, const unsigned char *at, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return an__fail(AN_ERR_BAD_FILE, "%s: not a valid Caffe NetParameter: offset %zu: %s", f->path,
                    (size_t)(at - f->base), msg);
}

static int pb_varint(const pb_file *f, pb_span *s, uint64_t *out)
{
    uint64_t v = 0;
    const unsigned char *start = s->p;
    for (int i = 0; i < 10; i++) {
        if (s->p >= s->end)
            return pb_bad(f, start, "varint runs past the end of its message (file truncated?)");
        unsigned char b = *s->p++;
        if (i == 9 && b > 1)
            return pb_bad(f, start, "varint overflows 64 bits");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return AN_OK;
        }
    }
    return pb_bad(f, start, "varint longer than 10 bytes");
}

/* One field: its number, wire type, and (wire type 2) its contents. */
typedef struct {
    uint32_t number;
    int wire;
    uint64_t value; /* wire 0, 1, 5 */
    pb_span sub;    /* wire 2 */
    const unsigned char *at;
} pb_field;

static int pb_next(const pb_file *f, pb_span *s, pb_field *fd)
{
    uint64_t key;
    fd->at = s->p;
    int status = pb_varint(f, s, &key);
    if (status)
        return status;
    fd->number = (uint32_t)(key >> 3);
    fd->wire = (int)(key & 7);
    if (key >> 3 == 0 || key >> 3 > 536870911)
        return pb_bad(f, fd->at, "field number %" PRIu64 " is out of range", key >> 3);
    switch (fd->wire) {
    case 0:
        return pb_varint(f, s, &fd->value);
    case 1:
    case 5: {
        size_t n = fd->wire == 1 ? 8 : 4;
        if ((size_t)(s->end - s->p) < n)
            return pb_bad(f, fd->at,
                          "field %u's %zu-byte value runs past the end (file "
                          "truncated?)",
                          fd->number, n);
        uint64_t v = 0;
        for (size_t i = n; i-- > 0;)
            v = (v << 8) | s->p[i];
        s->p += n;
        fd->value = v;
        return AN_OK;
    }
    case 2: {
        uint64_t len;
        if ((status = pb_varint(f, s, &len)))
            return status;
        if (len > (uint64_t)(s->end - s->p))
            return pb_bad(f, fd->at,
                          "field %u's length %" PRIu64 " runs past the end of its "
                          "message (%zu bytes left; file truncated?)",
                          fd->number, len, (size_t)(s->end - s->p));
        fd->sub.p = s->p;
        fd->sub.end = s->p + len;
        s->p += len;
        return AN_OK;
    }
    default:
        return pb_bad(f, fd->at,
                      "field %u has wire type %d (groups and unknown types are not "
                      "Caffe's)",
                      fd->number, fd->wire);
    }
}

/* ------------------------------------------------------------------------ */
/* Blobs                                                                    */

typedef struct {
    int64_t dims[AN__MAX_CDIMS];
    int ndim;
    int64_t legacy[4]; /* num, channels, height, width */
    bool has_legacy;
    float *data;
    size_t n, cap;
} blob;

static int blob_push(const pb_file *f, blob *b, const unsigned char *at, uint32_t bits)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 1024;
        if (cap > (SIZE_MAX / 4) / 2 || cap > ((size_t)1 << 32))
            return pb_bad(f, at, "a blob with more than 2^31 values");
        float *p = realloc(b->data, cap * sizeof *p);
        if (!p)
            return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory", f->path);
        b->data = p;
        b->cap = cap;
    }
    memcpy(&b->data[b->n++], &bits, 4);
    return AN_OK;
}

static int parse_shape(const pb_file *f, pb_span s, blob *b)
{
    pb_field fd;
    int status;
    while (s.p < s.end) {
        if ((status = pb_next(f, &s, &fd)))
            return status;
        if (fd.number != 1)
            continue;
        if (fd.wire == 0) {
            if (b->ndim == AN__MAX_CDIMS)
                return pb_bad(f, fd.at, "a blob shape with more than %d dimensions", AN__MAX_CDIMS);
            b->dims[b->ndim++] = (int64_t)fd.value;
        } else if (fd.wire == 2) {
            while (fd.sub.p < fd.sub.end) {
                uint64_t v;
                if ((status = pb_varint(f, &fd.sub, &v)))
                    return status;
                if (b->ndim == AN__MAX_CDIMS)
                    return pb_bad(f, fd.at, "a blob shape with more than %d dimensions",
                                  AN__MAX_CDIMS);
                b->dims[b->ndim++] = (int64_t)v;
            }
        } else {
            return pb_bad(f, fd.at, "BlobShape.dim has wire type %d", fd.wire);
        }
    }
    for (int i = 0; i < b->ndim; i++)
        if (b->dims[i] < 0 || b->dims[i] > INT32_MAX)
            return pb_bad(f, s.end, "blob dimension %" PRId64 " is out of range", b->dims[i]);
    return AN_OK;
}

static int parse_blob(const pb_file *f, pb_span s, blob *b)
{
    pb_field fd;
    int status;
    bool has_shape = false;
    while (s.p < s.end) {
        if ((status = pb_next(f, &s, &fd)))
            return status;
        switch (fd.number) {
        case 1:
        case 2:
        case 3:
        case 4:
            if (fd.wire != 0)
                return pb_bad(f, fd.at, "BlobProto field %u has wire type %d", fd.number, fd.wire);
            if ((int64_t)(int32_t)fd.value < 0 || fd.value > INT32_MAX)
                return pb_bad(f, fd.at, "BlobProto dimension %" PRIu64 " is out of range",
                              fd.value);
            b->legacy[fd.number - 1] = (int64_t)fd.value;
            b->has_legacy = true;
            break;
        case 5: /* data: repeated float, packed (wire 2) or one by one (wire 5) */
            if (fd.wire == 5) {
                if ((status = blob_push(f, b, fd.at, (uint32_t)fd.value)))
                    return status;
            } else if (fd.wire == 2) {
                size_t len = (size_t)(fd.sub.end - fd.sub.p);
                if (len % 4)
                    return pb_bad(f, fd.at, "packed float data of %zu bytes, not a multiple of 4",
                                  len);
                for (const unsigned char *p = fd.sub.p; p < fd.sub.end; p += 4) {
                    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                                 (uint32_t)p[3] << 24;
                    if ((status = blob_push(f, b, fd.at, u)))
                        return status;
                }
            } else {
                return pb_bad(f, fd.at, "BlobProto.data has wire type %d", fd.wire);
            }
            break;
        case 7:
            if (fd.wire != 2)
                return pb_bad(f, fd.at, "BlobProto.shape has wire type %d", fd.wire);
            if (has_shape)
                return pb_bad(f, fd.at, "BlobProto has two shapes");
            has_shape = true;
            if ((status = parse_shape(f, fd.sub, b)))
                return status;
            break;
        case 8:
            return pb_bad(f, fd.at, "blob holds double_data: only float data is supported");
        default:
            break; /* diff, double_diff: not weights */
        }
    }
    if (!has_shape) {
        if (!b->has_legacy)
            return pb_bad(f, s.end, "a blob has neither a shape nor num/channels/height/width");
        b->ndim = 4;
        memcpy(b->dims, b->legacy, sizeof b->legacy);
    }
    uint64_t numel = 1;
    for (int i = 0; i < b->ndim; i++)
        numel *= (uint64_t)b->dims[i]; /* each <= 2^31, and at most 8: compared below */
    if (b->ndim > 4 || numel != b->n)
        return pb_bad(f, s.end, "a blob's shape holds %" PRIu64 " values but its data %zu", numel,
                      b->n);
    return AN_OK;
}

/* ------------------------------------------------------------------------ */
/* Layers                                                                   */

static const char *const weight_layers[] = {"conv1", "conv2", "conv3", "conv4",
                                            "conv5", "fc6",   "fc7",   "fc8"};

/* Adds "NAME.weight" and "NAME.bias". The legacy 4-D form writes an fc weight
 * as (1, 1, out, in) and a bias as (1, 1, 1, out): leading ones go. */
static int add_blob(const pb_file *f, an__ctensors *out, const char *layer, const char *suffix,
                    blob *b, bool bias)
{
    int64_t dims[AN__MAX_CDIMS];
    int nd = b->ndim, first = 0;
    int keep = bias ? 1 : (strncmp(layer, "fc", 2) == 0 ? 2 : 4);
    while (nd - first > keep && b->dims[first] == 1)
        first++;
    for (int i = first; i < nd; i++)
        dims[i - first] = b->dims[i];
    char name[64];
    snprintf(name, sizeof name, "%s.%s", layer, suffix);
    unsigned char *data = (unsigned char *)b->data;
    size_t bytes = b->n * 4;
    b->data = NULL; /* taken, also on failure */
    b->n = b->cap = 0;
    if (!data) {
        data = malloc(1);
        if (!data)
            return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory", f->path);
    }
    /* the data is little-endian float bits already */
    return an__ctensors_add(out, f->path, name, strlen(name), AN__DT_F32, nd - first, dims, data,
                            bytes);
}

static int parse_layer(const pb_file *f, pb_span s, bool v1, an__ctensors *out, int *layers)
{
    const uint32_t f_name = v1 ? 4 : 1, f_blobs = v1 ? 6 : 7;
    pb_field fd;
    pb_span name = {NULL, NULL};
    pb_span blobs[3];
    int n_blobs = 0, status = AN_OK;
    blob b[2];
    memset(b, 0, sizeof b);
    const unsigned char *at = s.p;
    while (s.p < s.end) {
        if ((status = pb_next(f, &s, &fd)))
            return status;
        if (fd.number == f_name) {
            if (fd.wire != 2)
                return pb_bad(f, fd.at, "layer name has wire type %d", fd.wire);
            name = fd.sub;
        } else if (fd.number == f_blobs) {
            if (fd.wire != 2)
                return pb_bad(f, fd.at, "layer blobs have wire type %d", fd.wire);
            if (n_blobs == 3)
                return pb_bad(f, fd.at, "a layer with more than 2 blobs");
            blobs[n_blobs++] = fd.sub;
        }
    }
    if (n_blobs == 0)
        return AN_OK; /* ReLU, LRN, pooling, dropout, data, softmax: nothing to keep */
    size_t name_len = name.p ? (size_t)(name.end - name.p) : 0;
    const char *layer = NULL;
    for (size_t i = 0; i < sizeof weight_layers / sizeof weight_layers[0]; i++)
        if (name_len == strlen(weight_layers[i]) && memcmp(name.p, weight_layers[i], name_len) == 0)
            layer = weight_layers[i];
    if (!layer) {
        char shown[65];
        size_t n = name_len > 64 ? 64 : name_len;
        for (size_t i = 0; i < n; i++)
            shown[i] = name.p[i] >= 0x20 && name.p[i] < 0x7f ? (char)name.p[i] : '?';
        shown[n] = '\0';
        return pb_bad(f, at,
                      "layer '%s' has weights but is not an AlexNet layer (conv1..conv5, "
                      "fc6..fc8)",
                      shown);
    }
    if (n_blobs != 2)
        return pb_bad(f, at, "layer '%s' has %d blobs, not a weight and a bias", layer, n_blobs);
    for (int i = 0; i < 2 && !status; i++)
        status = parse_blob(f, blobs[i], &b[i]);
    if (!status)
        status = add_blob(f, out, layer, "weight", &b[0], false);
    if (!status)
        status = add_blob(f, out, layer, "bias", &b[1], true);
    free(b[0].data);
    free(b[1].data);
    if (!status)
        (*layers)++;
    return status;
}

int an__caffe_read(const char *path, const unsigned char *buf, size_t size, an__ctensors *out)
{
    pb_file f = {path, buf};
    pb_span s = {buf, buf + size};
    pb_field fd;
    int status, current = 0, legacy = 0;
    if (size == 0)
        return an__fail(AN_ERR_BAD_FILE, "%s: the file is empty", path);
    while (s.p < s.end) {
        if ((status = pb_next(&f, &s, &fd)))
            return status;
        if ((fd.number == 100 || fd.number == 2) && fd.wire != 2)
            return pb_bad(&f, fd.at, "NetParameter field %u has wire type %d", fd.number, fd.wire);
        if (fd.number == 100 && (status = parse_layer(&f, fd.sub, false, out, &current)))
            return status;
        if (fd.number == 2 && (status = parse_layer(&f, fd.sub, true, out, &legacy)))
            return status;
    }
    if (current + legacy == 0)
        return an__fail(AN_ERR_BAD_FILE,
                        "%s: no layer with weights: not a Caffe .caffemodel (nor "
                        "a PyTorch .pth)",
                        path);
    snprintf(out->format, sizeof out->format, "Caffe NetParameter (%s)",
             current && legacy ? "layer and V1 layers"
             : current         ? "layer"
                               : "V1 layers");
    return AN_OK;
}
