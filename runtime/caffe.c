/* caffe.c - Caffe .caffemodel files without Caffe or protoc: the protobuf
 * wire format decoded by hand from Caffe's public field numbers
 * (src/caffe/proto/caffe.proto), in the current form (NetParameter.layer = 100,
 * LayerParameter) and the legacy one (NetParameter.layers = 2,
 * V1LayerParameter). The named layers' blobs are kept, and the layer list
 * (types, order, bottom/top, convolution, pooling, LRN and ReLU parameters)
 * chooses the variant, never the blobs' shapes (match_layers()):
 *
 *   NetParameter      layer = 100, layers = 2 (everything else skipped)
 *   LayerParameter    name = 1, type = 2 (string), blobs = 7
 *   V1LayerParameter  name = 4, type = 5 (enum), blobs = 6
 *   BlobProto         num, channels, height, width = 1..4; data = 5 (packed
 *                     or not); shape = 7; double_data = 8 (refused)
 *   BlobShape         dim = 1 (int64, packed or not)
 *   layer fields      bottom, top, convolution_param, pooling_param, lrn_param,
 *                     relu_param: see parse_layer_kind() and parse_params()
 *
 * Every length and varint is checked against the bytes that remain. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "protobuf.h"

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
            return an__pb_bad(f, at, "a blob with more than 2^31 values");
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
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        if (fd.number != 1)
            continue;
        if (fd.wire == 0) {
            if (b->ndim == AN__MAX_CDIMS)
                return an__pb_bad(f, fd.at, "a blob shape with more than %d dimensions",
                                  AN__MAX_CDIMS);
            b->dims[b->ndim++] = (int64_t)fd.value;
        } else if (fd.wire == 2) {
            while (fd.sub.p < fd.sub.end) {
                uint64_t v;
                if ((status = an__pb_varint(f, &fd.sub, &v)))
                    return status;
                if (b->ndim == AN__MAX_CDIMS)
                    return an__pb_bad(f, fd.at, "a blob shape with more than %d dimensions",
                                      AN__MAX_CDIMS);
                b->dims[b->ndim++] = (int64_t)v;
            }
        } else {
            return an__pb_bad(f, fd.at, "BlobShape.dim has wire type %d", fd.wire);
        }
    }
    for (int i = 0; i < b->ndim; i++)
        if (b->dims[i] < 0 || b->dims[i] > INT32_MAX)
            return an__pb_bad(f, s.end, "blob dimension %" PRId64 " is out of range", b->dims[i]);
    return AN_OK;
}

static int parse_blob(const pb_file *f, pb_span s, blob *b)
{
    pb_field fd;
    int status;
    bool has_shape = false;
    while (s.p < s.end) {
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        switch (fd.number) {
        case 1:
        case 2:
        case 3:
        case 4:
            if (fd.wire != 0)
                return an__pb_bad(f, fd.at, "BlobProto field %u has wire type %d", fd.number,
                                  fd.wire);
            if ((int64_t)(int32_t)fd.value < 0 || fd.value > INT32_MAX)
                return an__pb_bad(f, fd.at, "BlobProto dimension %" PRIu64 " is out of range",
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
                    return an__pb_bad(f, fd.at,
                                      "packed float data of %zu bytes, not a multiple of 4", len);
                for (const unsigned char *p = fd.sub.p; p < fd.sub.end; p += 4) {
                    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                                 (uint32_t)p[3] << 24;
                    if ((status = blob_push(f, b, fd.at, u)))
                        return status;
                }
            } else {
                return an__pb_bad(f, fd.at, "BlobProto.data has wire type %d", fd.wire);
            }
            break;
        case 7:
            if (fd.wire != 2)
                return an__pb_bad(f, fd.at, "BlobProto.shape has wire type %d", fd.wire);
            if (has_shape)
                return an__pb_bad(f, fd.at, "BlobProto has two shapes");
            has_shape = true;
            if ((status = parse_shape(f, fd.sub, b)))
                return status;
            break;
        case 8:
            return an__pb_bad(f, fd.at, "blob holds double_data: only float data is supported");
        default:
            break; /* diff, double_diff: not weights */
        }
    }
    if (!has_shape) {
        if (!b->has_legacy)
            return an__pb_bad(f, s.end, "a blob has neither a shape nor num/channels/height/width");
        b->ndim = 4;
        memcpy(b->dims, b->legacy, sizeof b->legacy);
    }
    uint64_t numel = 1;
    for (int i = 0; i < b->ndim; i++)
        numel *= (uint64_t)b->dims[i]; /* each <= 2^31, and at most 8: compared below */
    if (b->ndim > 4 || numel != b->n)
        return an__pb_bad(f, s.end, "a blob's shape holds %" PRIu64 " values but its data %zu",
                          numel, b->n);
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
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        if (fd.number == f_name) {
            if (fd.wire != 2)
                return an__pb_bad(f, fd.at, "layer name has wire type %d", fd.wire);
            name = fd.sub;
        } else if (fd.number == f_blobs) {
            if (fd.wire != 2)
                return an__pb_bad(f, fd.at, "layer blobs have wire type %d", fd.wire);
            if (n_blobs == 3)
                return an__pb_bad(f, fd.at, "a layer with more than 2 blobs");
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
        return an__pb_bad(f, at,
                          "layer '%s' has weights but is not an AlexNet layer (conv1..conv5, "
                          "fc6..fc8)",
                          shown);
    }
    if (n_blobs != 2)
        return an__pb_bad(f, at, "layer '%s' has %d blobs, not a weight and a bias", layer,
                          n_blobs);
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

/* ------------------------------------------------------------------------ */
/* The layer list                                                           */

/* What a layer is, from its type: the string of LayerParameter.type or the
 * enum of V1LayerParameter.type (caffe.proto's V1LayerParameter.LayerType). */
typedef enum { L_OTHER, L_DATA, L_HEAD, L_CONV, L_RELU, L_POOL, L_LRN, L_IP, L_DROPOUT } lkind;

static const struct {
    const char *name;
    int v1;
    lkind kind;
} layer_types[] = {
    {"Convolution", 4, L_CONV}, {"ReLU", 18, L_RELU},       {"Pooling", 17, L_POOL},
    {"LRN", 15, L_LRN},         {"InnerProduct", 14, L_IP}, {"Dropout", 6, L_DROPOUT},
    {"Data", 5, L_DATA},        {"ImageData", 12, L_DATA},  {"MemoryData", 29, L_DATA},
    {"DummyData", 32, L_DATA},  {"WindowData", 24, L_DATA}, {"HDF5Data", 9, L_DATA},
    {"Input", -1, L_DATA},      {"Softmax", 20, L_HEAD},    {"SoftmaxWithLoss", 21, L_HEAD},
    {"Accuracy", 1, L_HEAD},    {"Split", 22, L_HEAD},      {"Silence", 36, L_HEAD},
};

#define UNSET UINT32_MAX
#define MIXED (UINT32_MAX - 1) /* different values for height and width */

/* One layer's name, type, blobs and the parameters the variants fix. */
typedef struct {
    char name[64], type[32], bottom[64], top[64];
    lkind kind;
    uint32_t kernel, stride, pad, group, dilation; /* Convolution, Pooling (UNSET: default) */
    uint32_t pool, global;                         /* Pooling: MAX 0, AVE 1, STOCHASTIC 2 */
    uint32_t local_size, region;                   /* LRN: ACROSS_CHANNELS 0 */
    float alpha, beta, k, slope;                   /* LRN; ReLU's negative_slope */
} clayer;

/* The layers read so far (a list of a few dozen for AlexNet). */
typedef struct {
    clayer *l;
    int n, cap;
} clayers;

static void copy_str(char *dst, size_t cap, pb_span s)
{
    size_t n = (size_t)(s.end - s.p);
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = s.p[i] >= 0x20 && s.p[i] < 0x7f ? (char)s.p[i] : '?';
    dst[n] = '\0';
}

/* A repeated uint32 (packed or not) or a single one: height and width alike. */
static int set_dim(const pb_file *f, pb_field *fd, uint32_t *dst)
{
    pb_span s = fd->sub;
    uint64_t v = fd->value;
    int status;
    if (fd->wire != 0 && fd->wire != 2)
        return an__pb_bad(f, fd->at, "field %u has wire type %d, not an integer", fd->number,
                          fd->wire);
    for (bool first = true; fd->wire == 0 ? first : s.p < s.end; first = false) {
        if (fd->wire == 2 && (status = an__pb_varint(f, &s, &v)))
            return status;
        uint32_t u = v > UINT32_MAX - 2 ? MIXED : (uint32_t)v;
        *dst = *dst == UNSET || *dst == u ? u : MIXED;
    }
    return AN_OK;
}

static int set_float(const pb_file *f, const pb_field *fd, float *dst)
{
    if (fd->wire != 5)
        return an__pb_bad(f, fd->at, "field %u has wire type %d, not a float", fd->number,
                          fd->wire);
    uint32_t u = (uint32_t)fd->value;
    memcpy(dst, &u, 4);
    return AN_OK;
}

/* ConvolutionParameter, PoolingParameter, LRNParameter, ReLUParameter: the
 * fields a variant fixes (caffe.proto's numbers); others are skipped. */
static int parse_params(const pb_file *f, pb_span s, lkind kind, clayer *l)
{
    pb_field fd;
    int status;
    while (s.p < s.end) {
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        uint32_t *dim = NULL;
        float *fl = NULL;
        if (kind == L_CONV) /* pad 3, kernel_size 4, group 5, stride 6, pad_h/w 9/10,
                               kernel_h/w 11/12, stride_h/w 13/14, dilation 18 */
            dim = fd.number == 3 || fd.number == 9 || fd.number == 10    ? &l->pad
                  : fd.number == 4 || fd.number == 11 || fd.number == 12 ? &l->kernel
                  : fd.number == 5                                       ? &l->group
                  : fd.number == 6 || fd.number == 13 || fd.number == 14 ? &l->stride
                  : fd.number == 18                                      ? &l->dilation
                                                                         : NULL;
        else if (kind == L_POOL) /* pool 1, kernel_size 2, stride 3, pad 4, kernel_h/w 5/6,
                                    stride_h/w 7/8, pad_h/w 9/10, global_pooling 12 */
            dim = fd.number == 1                                       ? &l->pool
                  : fd.number == 2 || fd.number == 5 || fd.number == 6 ? &l->kernel
                  : fd.number == 3 || fd.number == 7 || fd.number == 8 ? &l->stride
                  : fd.number == 4 || fd.number == 9 || fd.number == 10
                      ? &l->pad
                      : (fd.number == 12 ? &l->global : NULL);
        else if (kind == L_LRN) { /* local_size 1, alpha 2, beta 3, norm_region 4, k 5 */
            dim = fd.number == 1 ? &l->local_size : fd.number == 4 ? &l->region : NULL;
            fl = fd.number == 2   ? &l->alpha
                 : fd.number == 3 ? &l->beta
                 : fd.number == 5 ? &l->k
                                  : NULL;
        } else if (kind == L_RELU && fd.number == 1) { /* negative_slope */
            fl = &l->slope;
        }
        if (dim && (status = set_dim(f, &fd, dim)))
            return status;
        if (fl && (status = set_float(f, &fd, fl)))
            return status;
    }
    return AN_OK;
}

static int layers_push(const pb_file *f, clayers *ls, const unsigned char *at, clayer **out)
{
    if (ls->n == ls->cap) {
        if (ls->cap >= 4096)
            return an__pb_bad(f, at, "more than 4096 layers: not an AlexNet");
        int cap = ls->cap ? 2 * ls->cap : 32;
        clayer *p = realloc(ls->l, (size_t)cap * sizeof *p);
        if (!p)
            return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory", f->path);
        ls->l = p;
        ls->cap = cap;
    }
    clayer *l = &ls->l[ls->n++];
    memset(l, 0, sizeof *l);
    l->kernel = l->stride = l->pad = l->group = l->dilation = l->pool = l->global = UNSET;
    l->local_size = l->region = UNSET;
    l->alpha = 1.0f; /* caffe.proto's defaults */
    l->beta = 0.75f;
    l->k = 1.0f;
    *out = l;
    return AN_OK;
}

/* Reads the fields of one layer that say what it computes (the blobs are read
 * by parse_layer). */
static int parse_layer_kind(const pb_file *f, pb_span s, bool v1, clayers *ls)
{
    /* LayerParameter: name 1, type 2, bottom 3, top 4, convolution_param 106,
     * lrn_param 118, pooling_param 121, relu_param 123; V1LayerParameter: bottom
     * 2, top 3, name 4, type 5, convolution_param 10, lrn_param 18,
     * pooling_param 19, relu_param 30. */
    const uint32_t f_name = v1 ? 4 : 1, f_type = v1 ? 5 : 2, f_bottom = v1 ? 2 : 3,
                   f_top = v1 ? 3 : 4, f_conv = v1 ? 10 : 106, f_lrn = v1 ? 18 : 118,
                   f_pool = v1 ? 19 : 121, f_relu = v1 ? 30 : 123;
    clayer *l = NULL;
    pb_field fd;
    pb_span params[4] = {{NULL, NULL}, {NULL, NULL}, {NULL, NULL}, {NULL, NULL}};
    int status = layers_push(f, ls, s.p, &l);
    if (status)
        return status;
    snprintf(l->type, sizeof l->type, "(none)");
    while (s.p < s.end) {
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        const uint32_t n = fd.number;
        if (n == f_type && v1) {
            if (fd.wire != 0)
                return an__pb_bad(f, fd.at, "V1 layer type has wire type %d", fd.wire);
            snprintf(l->type, sizeof l->type, "type %" PRIu64, fd.value);
            l->kind = L_OTHER;
            for (size_t i = 0; i < sizeof layer_types / sizeof layer_types[0]; i++)
                if ((uint64_t)layer_types[i].v1 == fd.value) {
                    snprintf(l->type, sizeof l->type, "%s", layer_types[i].name);
                    l->kind = layer_types[i].kind;
                }
            continue;
        }
        if (n != f_name && n != f_type && n != f_bottom && n != f_top && n != f_conv &&
            n != f_lrn && n != f_pool && n != f_relu)
            continue;
        if (fd.wire != 2)
            return an__pb_bad(f, fd.at, "layer field %u has wire type %d", n, fd.wire);
        if (n == f_name)
            copy_str(l->name, sizeof l->name, fd.sub);
        else if (n == f_type) {
            copy_str(l->type, sizeof l->type, fd.sub);
            l->kind = L_OTHER;
            for (size_t i = 0; i < sizeof layer_types / sizeof layer_types[0]; i++)
                if (strcmp(l->type, layer_types[i].name) == 0)
                    l->kind = layer_types[i].kind;
        } else if (n == f_bottom && !l->bottom[0])
            copy_str(l->bottom, sizeof l->bottom, fd.sub);
        else if (n == f_top && !l->top[0])
            copy_str(l->top, sizeof l->top, fd.sub);
        else if (n == f_conv)
            params[0] = fd.sub;
        else if (n == f_pool)
            params[1] = fd.sub;
        else if (n == f_lrn)
            params[2] = fd.sub;
        else if (n == f_relu)
            params[3] = fd.sub;
    }
    const lkind kinds[4] = {L_CONV, L_POOL, L_LRN, L_RELU};
    for (int i = 0; i < 4; i++)
        if (params[i].p && l->kind == kinds[i] &&
            (status = parse_params(f, params[i], kinds[i], l)))
            return status;
    return AN_OK;
}

/* Caffe's values where a field is absent. */
static uint32_t or_default(uint32_t v, uint32_t d)
{
    return v == UNSET ? d : v;
}

/* "Pooling MAX k=3 s=2 p=0" and the like, for a file's layer. */
static void describe_clayer(char *buf, size_t size, const clayer *l)
{
    char k[16], s[16], p[16], g[16];
#define DIM(out, v, d)                                                                             \
    snprintf(out, sizeof out, or_default(v, d) == MIXED ? "h!=w" : "%u", or_default(v, d))
    DIM(k, l->kernel, 0);
    DIM(s, l->stride, 1);
    DIM(p, l->pad, 0);
    DIM(g, l->group, 1);
#undef DIM
    switch (l->kind) {
    case L_CONV:
        snprintf(buf, size, "Convolution k=%s s=%s p=%s group=%s%s", k, s, p, g,
                 or_default(l->dilation, 1) != 1 ? " dilated" : "");
        break;
    case L_POOL:
        snprintf(buf, size, "Pooling %s k=%s s=%s p=%s%s",
                 or_default(l->pool, 0) == 0   ? "MAX"
                 : or_default(l->pool, 0) == 1 ? "AVE"
                                               : "STOCHASTIC",
                 k, s, p, or_default(l->global, 0) ? " global" : "");
        break;
    case L_LRN:
        snprintf(buf, size, "LRN %s size=%u alpha=%g beta=%g k=%g",
                 or_default(l->region, 0) ? "WITHIN_CHANNEL" : "ACROSS_CHANNELS",
                 or_default(l->local_size, 5), (double)l->alpha, (double)l->beta, (double)l->k);
        break;
    case L_RELU:
        snprintf(buf, size, l->slope != 0.0f ? "ReLU negative_slope=%g" : "ReLU", (double)l->slope);
        break;
    case L_IP:
        snprintf(buf, size, "InnerProduct");
        break;
    default:
        snprintf(buf, size, "%s", l->type);
        break;
    }
}

/* The same for a variant's layer, in Caffe's terms. */
static void describe_vlayer(char *buf, size_t size, const an__layer *l)
{
    const int wn = l->weight_name ? (int)strcspn(l->weight_name, ".") : 0;
    switch (l->kind) {
    case AN_LAYER_CONV:
        snprintf(buf, size, "Convolution '%.*s' k=%d s=%d p=%d group=%d", wn, l->weight_name,
                 l->kernel, l->stride, l->pad, l->groups > 1 ? l->groups : 1);
        break;
    case AN_LAYER_MAXPOOL:
        snprintf(buf, size, "Pooling MAX k=%d s=%d p=%d", l->kernel, l->stride, l->pad);
        break;
    case AN_LAYER_LRN:
        snprintf(buf, size, "LRN ACROSS_CHANNELS size=%d alpha=%g beta=%g k=%g", l->kernel,
                 (double)l->lrn_alpha, (double)l->lrn_beta, (double)l->lrn_k);
        break;
    case AN_LAYER_RELU:
        snprintf(buf, size, "ReLU");
        break;
    default:
        snprintf(buf, size, "InnerProduct '%.*s'", wn, l->weight_name ? l->weight_name : "");
        break;
    }
}

/* Whether a file's layer computes what a variant's layer does. */
static bool same_layer(const clayer *c, const an__layer *v)
{
    const char *w = v->weight_name;
    size_t wn = w ? strcspn(w, ".") : 0;
    switch (v->kind) {
    case AN_LAYER_CONV:
        return c->kind == L_CONV && strlen(c->name) == wn && strncmp(c->name, w, wn) == 0 &&
               or_default(c->kernel, 0) == (uint32_t)v->kernel &&
               or_default(c->stride, 1) == (uint32_t)v->stride &&
               or_default(c->pad, 0) == (uint32_t)v->pad &&
               or_default(c->group, 1) == (uint32_t)(v->groups > 1 ? v->groups : 1) &&
               or_default(c->dilation, 1) == 1;
    case AN_LAYER_MAXPOOL:
        return c->kind == L_POOL && or_default(c->pool, 0) == 0 && or_default(c->global, 0) == 0 &&
               or_default(c->kernel, 0) == (uint32_t)v->kernel &&
               or_default(c->stride, 1) == (uint32_t)v->stride &&
               or_default(c->pad, 0) == (uint32_t)v->pad;
    case AN_LAYER_LRN:
        return c->kind == L_LRN && or_default(c->region, 0) == 0 &&
               or_default(c->local_size, 5) == (uint32_t)v->kernel && c->alpha == v->lrn_alpha &&
               c->beta == v->lrn_beta && c->k == v->lrn_k;
    case AN_LAYER_RELU:
        return c->kind == L_RELU && c->slope == 0.0f;
    case AN_LAYER_LINEAR:
        return c->kind == L_IP && strlen(c->name) == wn && strncmp(c->name, w, wn) == 0;
    default:
        return false;
    }
}

/* Chooses the variant whose layers the file's are, in order (Dropout and the
 * adaptive pool, identities here, aside; data layers and the heads after the
 * last layer — Softmax, SoftmaxWithLoss, Accuracy — ignored), or refuses
 * naming the first layer that differs from the closest variant. Only the
 * variants with Caffe's layer names (conv1..fc8) and floor-mode pools are candidates. */
static int match_layers(const pb_file *f, const clayers *ls, an__ctensors *out)
{
    const clayer *seq[256];
    int n = 0;
    const char *reads = NULL; /* the blob the next layer must read */
    const clayer *head = NULL;
    for (int i = 0; i < ls->n; i++) {
        const clayer *l = &ls->l[i];
        if (l->kind == L_DATA)
            continue;
        if (l->kind == L_HEAD) {
            head = head ? head : l;
            continue;
        }
        if (head)
            return an__fail(AN_ERR_BAD_WEIGHTS,
                            "%s: layer '%s' (%s) comes after the output layer '%s' (%s): not a "
                            "network this runtime runs",
                            f->path, l->name, l->type, head->name, head->type);
        if (reads && strcmp(l->bottom, reads) != 0)
            return an__fail(AN_ERR_BAD_WEIGHTS,
                            "%s: layer '%s' (%s) reads blob '%s', not '%s' from the layer before "
                            "it: not a chain of layers like the variants'",
                            f->path, l->name, l->type, l->bottom, reads);
        reads = l->top;
        if (l->kind == L_DROPOUT)
            continue;
        if (n == (int)(sizeof seq / sizeof seq[0]))
            return an__fail(AN_ERR_BAD_WEIGHTS, "%s: more than %d layers: not an AlexNet", f->path,
                            n);
        seq[n++] = l;
    }

    const char *const *names = an_variant_names();
    const an__variant *best = NULL, *found = NULL;
    int best_at = -1, best_vi = 0;
    for (int v = 0; names[v]; v++) {
        const an__variant *var = an__variant_find(names[v]);
        const char *w = NULL;
        for (int i = 0; var && i < var->n_layers && !w; i++)
            w = var->layers[i].weight_name;
        if (!var || !w || strchr(w, '.') != strrchr(w, '.'))
            continue; /* not Caffe's names (torchvision's are features.N.weight) */
        bool ceil_pools = false;
        for (int i = 0; i < var->n_layers; i++)
            ceil_pools |= var->layers[i].ceil_mode != 0;
        if (ceil_pools)
            continue; /* caffe-bvlc-224 (the ONNX zoo's input size) is caffe-bvlc-227's
                         network, which computes the same at 227, its native input */
        int at = 0, vi = 0;
        for (; vi < var->n_layers; vi++) {
            const an__layer *vl = &var->layers[vi];
            if (vl->kind == AN_LAYER_DROPOUT || vl->kind == AN_LAYER_ADAPTIVE_AVGPOOL)
                continue;
            if (at == n || !same_layer(seq[at], vl))
                break;
            at++;
        }
        if (vi == var->n_layers && at == n) {
            if (found)
                return an__fail(AN_ERR_BAD_WEIGHTS, "%s: the layers are those of both %s and %s",
                                f->path, found->name, var->name);
            found = var;
        } else if (at > best_at) {
            best = var;
            best_at = at;
            best_vi = vi;
        }
    }
    if (found) {
        snprintf(out->variant, sizeof out->variant, "%s", found->name);
        return AN_OK;
    }
    if (!best)
        return an__fail(AN_ERR_BAD_WEIGHTS, "%s: no variant has Caffe's layer names", f->path);
    char got[128], want[128];
    if (best_vi < best->n_layers)
        describe_vlayer(want, sizeof want, &best->layers[best_vi]);
    if (best_at == n)
        return an__fail(AN_ERR_BAD_WEIGHTS,
                        "%s: the layers end after '%s', where %s (the closest variant) goes on "
                        "with %s",
                        f->path, n ? seq[n - 1]->name : "(none)", best->name, want);
    describe_clayer(got, sizeof got, seq[best_at]);
    if (best_vi == best->n_layers)
        return an__fail(AN_ERR_BAD_WEIGHTS,
                        "%s: layer '%s' (%s, layer %d of the file's) comes after the last layer "
                        "of %s, the closest variant",
                        f->path, seq[best_at]->name, got, best_at + 1, best->name);
    return an__fail(AN_ERR_BAD_WEIGHTS,
                    "%s: layer '%s' (%s, layer %d of the file's) differs from %s, the closest "
                    "variant, which has %s there; this network is none of the variants (%s)",
                    f->path, seq[best_at]->name, got, best_at + 1, best->name, want,
                    an__variant_list());
}

/* A data layer's TransformationParameter (scale 1, crop_size 3, mean_file 4,
 * mean_value 5) as an_preprocess_parse's spec in out->preprocess, when it is the
 * first one the file holds: Caffe computes (pixel - mean) * scale on B,G,R
 * images, and crops crop_size (centred at test time). A mean_file (a mean
 * image) is not a per-channel mean: no mean is recorded for it. */
static int parse_transform(const pb_file *f, pb_span s, an__ctensors *out)
{
    pb_field fd;
    int status, n_mean = 0, has_scale = 0;
    uint64_t crop = 0;
    float mean[3] = {0, 0, 0}, scale = 1.0f;
    while (s.p < s.end) {
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        if (fd.number == 1) {
            if ((status = set_float(f, &fd, &scale)))
                return status;
            has_scale = 1;
        } else if (fd.number == 3) {
            if (fd.wire != 0)
                return an__pb_bad(f, fd.at, "transform_param crop_size has wire type %d", fd.wire);
            crop = fd.value;
        } else if (fd.number == 5) { /* repeated float, packed (wire 2) or not (wire 5) */
            if (fd.wire != 2 && fd.wire != 5)
                return an__pb_bad(f, fd.at, "transform_param mean_value has wire type %d", fd.wire);
            if (fd.wire == 2 && (fd.sub.end - fd.sub.p) % 4)
                return an__pb_bad(f, fd.at,
                                  "transform_param mean_value: packed length not a "
                                  "multiple of 4");
            size_t n = fd.wire == 5 ? 1 : (size_t)(fd.sub.end - fd.sub.p) / 4;
            for (size_t i = 0; i < n; i++, n_mean++) {
                uint32_t u = (uint32_t)fd.value;
                if (fd.wire == 2) {
                    const unsigned char *b = fd.sub.p + 4 * i;
                    u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                        (uint32_t)b[3] << 24;
                }
                if (n_mean < 3)
                    memcpy(&mean[n_mean], &u, 4);
            }
        }
    }
    if (n_mean != 0 && n_mean != 1 && n_mean != 3)
        return an__pb_bad(f, s.p, "transform_param has %d mean_value entries: Caffe takes 1 or 3",
                          n_mean);
    if (n_mean == 1)
        mean[1] = mean[2] = mean[0];
    char *p = out->preprocess;
    size_t cap = sizeof out->preprocess, used = 0;
    if (crop > 0 && crop <= 16384)
        used += (size_t)snprintf(p + used, cap - used, "crop=%u;", (unsigned)crop);
    if (n_mean && used < cap)
        used += (size_t)snprintf(p + used, cap - used, "mean=%.9g,%.9g,%.9g;", (double)mean[0],
                                 (double)mean[1], (double)mean[2]);
    if (has_scale && used < cap)
        used += (size_t)snprintf(p + used, cap - used, "scale=%.9g;", (double)scale);
    if (used && used < cap)
        snprintf(p + used, cap - used, "order=bgr");
    return AN_OK;
}

int an__caffe_read(const char *path, const unsigned char *buf, size_t size, an__ctensors *out)
{
    pb_file f = {path, "Caffe NetParameter", buf};
    pb_span s = {buf, buf + size};
    pb_field fd;
    clayers ls = {NULL, 0, 0};
    int status = AN_OK, current = 0, legacy = 0;
    if (size == 0)
        return an__fail(AN_ERR_BAD_FILE, "%s: the file is empty", path);
    while (s.p < s.end) {
        if ((status = an__pb_next(&f, &s, &fd)))
            goto fail;
        if ((fd.number == 100 || fd.number == 2) && fd.wire != 2) {
            status =
                an__pb_bad(&f, fd.at, "NetParameter field %u has wire type %d", fd.number, fd.wire);
            goto fail;
        }
        if (fd.number != 100 && fd.number != 2)
            continue;
        if ((status =
                 parse_layer(&f, fd.sub, fd.number == 2, out, fd.number == 2 ? &legacy : &current)))
            goto fail;
        if ((status = parse_layer_kind(&f, fd.sub, fd.number == 2, &ls)))
            goto fail;
        /* LayerParameter.transform_param = 100, V1LayerParameter's = 36 */
        pb_span l = fd.sub;
        pb_field tf;
        while (!out->preprocess[0] && l.p < l.end) {
            if ((status = an__pb_next(&f, &l, &tf)))
                goto fail;
            if (tf.number == (fd.number == 2 ? 36u : 100u) && tf.wire == 2 &&
                (status = parse_transform(&f, tf.sub, out)))
                goto fail;
        }
    }
    if (current + legacy == 0) {
        status = an__fail(AN_ERR_BAD_FILE,
                          "%s: no layer with weights: not a Caffe .caffemodel (nor "
                          "a PyTorch .pth)",
                          path);
        goto fail;
    }
    if ((status = match_layers(&f, &ls, out)))
        goto fail;
    snprintf(out->format, sizeof out->format, "Caffe NetParameter (%s)",
             current && legacy ? "layer and V1 layers"
             : current         ? "layer"
                               : "V1 layers");
fail:
    free(ls.l);
    return status;
}
