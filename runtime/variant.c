/* variant.c - the AlexNet variants as data (one table of layers each) and the
 * generic shape inference over them, with PyTorch's floor semantics and the
 * arithmetic behind every output size. No OpenCL here. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* one-line layer macros: clang-format 14 would spread each over four lines */
// clang-format off
#define CONV(oc, k, s, p, w, b) {AN_LAYER_CONV, oc, k, s, p, w, b, 1, 0, 0, 0, 0}
#define CONVG(oc, k, s, p, w, b, g) {AN_LAYER_CONV, oc, k, s, p, w, b, g, 0, 0, 0, 0}
#define RELU {AN_LAYER_RELU, 0, 0, 0, 0, NULL, NULL, 1, 0, 0, 0, 0}
#define MAXPOOL {AN_LAYER_MAXPOOL, 0, 3, 2, 0, NULL, NULL, 1, 0, 0, 0, 0}
#define AVGPOOL6 {AN_LAYER_ADAPTIVE_AVGPOOL, 0, 6, 0, 0, NULL, NULL, 1, 0, 0, 0, 0}
#define DROPOUT {AN_LAYER_DROPOUT, 0, 0, 0, 0, NULL, NULL, 1, 0, 0, 0, 0}
#define LINEAR(of, w, b) {AN_LAYER_LINEAR, of, 0, 0, 0, w, b, 1, 0, 0, 0, 0}
/* Caffe's max pool, which rounds its output size up: ceil((in - 3) / 2) + 1 */
#define MAXPOOL_CEIL {AN_LAYER_MAXPOOL, 0, 3, 2, 0, NULL, NULL, 1, 0, 0, 0, 1}
/* Caffe's across-channel LRN as BVLC AlexNet uses it: local_size 5, alpha 1e-4, beta 0.75, k 1 */
#define LRN5 {AN_LAYER_LRN, 0, 5, 0, 0, NULL, NULL, 1, 1e-4f, 0.75f, 1.0f, 0}

/* The preprocessing each variant's weights were trained with. */
#define PP_TORCHVISION                                                                             \
    {AN_RESIZE_SHORTER, 256, 224, 0, 1.0f / 255.0f, {0.485f, 0.456f, 0.406f},                      \
     {0.229f, 0.224f, 0.225f}}
/* both Caffe variants were trained on the same BVLC data pipeline: B, G, R */
#define PP_CAFFE {AN_RESIZE_EXACT, 256, 227, 1, 1.0f, {104.0f, 117.0f, 123.0f}, {1.0f, 1.0f, 1.0f}}
/* the same weights' pipeline with the centre crop at 224 */
#define PP_CAFFE224 {AN_RESIZE_EXACT, 256, 224, 1, 1.0f, {104.0f, 117.0f, 123.0f}, {1.0f, 1.0f, 1.0f}}
// clang-format on

/* Every variant, and the only place one is described: its name, native input,
 * layers and preprocessing. Lists of names and messages are generated from it. */
static const an__variant variants[] = {
    {"torchvision-224",
     3,
     224,
     224,
     PP_TORCHVISION,
     21,
     {CONV(64, 11, 4, 2, "features.0.weight", "features.0.bias"),
      RELU,
      MAXPOOL,
      CONV(192, 5, 1, 2, "features.3.weight", "features.3.bias"),
      RELU,
      MAXPOOL,
      CONV(384, 3, 1, 1, "features.6.weight", "features.6.bias"),
      RELU,
      CONV(256, 3, 1, 1, "features.8.weight", "features.8.bias"),
      RELU,
      CONV(256, 3, 1, 1, "features.10.weight", "features.10.bias"),
      RELU,
      MAXPOOL,
      AVGPOOL6,
      DROPOUT,
      LINEAR(4096, "classifier.1.weight", "classifier.1.bias"),
      RELU,
      DROPOUT,
      LINEAR(4096, "classifier.4.weight", "classifier.4.bias"),
      RELU,
      LINEAR(1000, "classifier.6.weight", "classifier.6.bias")}},
    {"caffe-227",
     3,
     227,
     227,
     PP_CAFFE,
     21,
     {CONV(96, 11, 4, 0, "conv1.weight", "conv1.bias"),
      RELU,
      MAXPOOL,
      CONV(256, 5, 1, 2, "conv2.weight", "conv2.bias"),
      RELU,
      MAXPOOL,
      CONV(384, 3, 1, 1, "conv3.weight", "conv3.bias"),
      RELU,
      CONV(256, 3, 1, 1, "conv4.weight", "conv4.bias"),
      RELU,
      CONV(256, 3, 1, 1, "conv5.weight", "conv5.bias"),
      RELU,
      MAXPOOL,
      AVGPOOL6,
      DROPOUT,
      LINEAR(4096, "fc6.weight", "fc6.bias"),
      RELU,
      DROPOUT,
      LINEAR(4096, "fc7.weight", "fc7.bias"),
      RELU,
      LINEAR(1000, "fc8.weight", "fc8.bias")}},
    /* The original BVLC reference network (Caffe's bvlc_alexnet): LRN after
     * conv1 and conv2, two groups in conv2, conv4 and conv5. Caffe has no
     * adaptive pool: here it is the identity at 227 and gives other sizes the
     * meaning torchvision gives them. Caffe pools in ceil mode; at 227 every
     * pool division is exact, so floor and ceil agree. */
    {"caffe-bvlc-227",
     3,
     227,
     227,
     PP_CAFFE,
     23,
     {CONV(96, 11, 4, 0, "conv1.weight", "conv1.bias"),
      RELU,
      LRN5,
      MAXPOOL,
      CONVG(256, 5, 1, 2, "conv2.weight", "conv2.bias", 2),
      RELU,
      LRN5,
      MAXPOOL,
      CONV(384, 3, 1, 1, "conv3.weight", "conv3.bias"),
      RELU,
      CONVG(384, 3, 1, 1, "conv4.weight", "conv4.bias", 2),
      RELU,
      CONVG(256, 3, 1, 1, "conv5.weight", "conv5.bias", 2),
      RELU,
      MAXPOOL,
      AVGPOOL6,
      DROPOUT,
      LINEAR(4096, "fc6.weight", "fc6.bias"),
      RELU,
      DROPOUT,
      LINEAR(4096, "fc7.weight", "fc7.bias"),
      RELU,
      LINEAR(1000, "fc8.weight", "fc8.bias")}},
    /* BVLC's CaffeNet (Caffe's bvlc_reference_caffenet): the blobs of
     * caffe-bvlc-227, but each pool comes before its LRN. */
    {"caffenet-227",
     3,
     227,
     227,
     PP_CAFFE,
     23,
     {CONV(96, 11, 4, 0, "conv1.weight", "conv1.bias"),
      RELU,
      MAXPOOL,
      LRN5,
      CONVG(256, 5, 1, 2, "conv2.weight", "conv2.bias", 2),
      RELU,
      MAXPOOL,
      LRN5,
      CONV(384, 3, 1, 1, "conv3.weight", "conv3.bias"),
      RELU,
      CONVG(384, 3, 1, 1, "conv4.weight", "conv4.bias", 2),
      RELU,
      CONVG(256, 3, 1, 1, "conv5.weight", "conv5.bias", 2),
      RELU,
      MAXPOOL,
      AVGPOOL6,
      DROPOUT,
      LINEAR(4096, "fc6.weight", "fc6.bias"),
      RELU,
      DROPOUT,
      LINEAR(4096, "fc7.weight", "fc7.bias"),
      RELU,
      LINEAR(1000, "fc8.weight", "fc8.bias")}},
    /* caffe-bvlc-227's network as Caffe computes it at 224 x 224, which is the
     * ONNX model zoo's bvlcalexnet (Caffe -> Caffe2 -> ONNX, input data_0 of
     * 1x3x224x224): Caffe's pools round up, so conv1's 54 x 54 (no padding:
     * (224-11)/4+1 = 54.25) pools to 27, then 13 and 6, and fc6 sees 256x6x6.
     * The zoo's graph says it with explicit end pads on floor-mode MaxPools.
     * Its own row, not an input size of caffe-bvlc-227: that one pools in
     * floor mode at every size (torchvision's meaning), which at 224 gives
     * 26, 12 and 5. At 227 the two compute the same. */
    {"caffe-bvlc-224",
     3,
     224,
     224,
     PP_CAFFE224,
     23,
     {CONV(96, 11, 4, 0, "conv1.weight", "conv1.bias"),
      RELU,
      LRN5,
      MAXPOOL_CEIL,
      CONVG(256, 5, 1, 2, "conv2.weight", "conv2.bias", 2),
      RELU,
      LRN5,
      MAXPOOL_CEIL,
      CONV(384, 3, 1, 1, "conv3.weight", "conv3.bias"),
      RELU,
      CONVG(384, 3, 1, 1, "conv4.weight", "conv4.bias", 2),
      RELU,
      CONVG(256, 3, 1, 1, "conv5.weight", "conv5.bias", 2),
      RELU,
      MAXPOOL_CEIL,
      AVGPOOL6,
      DROPOUT,
      LINEAR(4096, "fc6.weight", "fc6.bias"),
      RELU,
      DROPOUT,
      LINEAR(4096, "fc7.weight", "fc7.bias"),
      RELU,
      LINEAR(1000, "fc8.weight", "fc8.bias")}},
};
enum { N_VARIANTS = sizeof variants / sizeof variants[0] };

static const char *names[N_VARIANTS + 1];
static char name_list[N_VARIANTS * 32];

static void make_names(void)
{
    size_t used = 0;
    for (int i = 0; i < N_VARIANTS; i++) {
        names[i] = variants[i].name;
        used += (size_t)snprintf(name_list + used, sizeof name_list - used, "%s%s",
                                 i == 0                ? ""
                                 : i == N_VARIANTS - 1 ? " or "
                                                       : ", ",
                                 variants[i].name);
    }
}

static pthread_once_t names_once = PTHREAD_ONCE_INIT;

const char *const *an_variant_names(void)
{
    pthread_once(&names_once, make_names);
    return names;
}

const char *an__variant_list(void)
{
    pthread_once(&names_once, make_names);
    return name_list;
}

const an__variant *an__variant_find(const char *name)
{
    for (int i = 0; name && i < N_VARIANTS; i++)
        if (strcmp(variants[i].name, name) == 0)
            return &variants[i];
    an__fail(AN_ERR_UNKNOWN_VARIANT, "unknown variant '%s': choose %s", name ? name : "(null)",
             an__variant_list());
    return NULL;
}

bool an__variant_same_layers(const an__variant *a, const an__variant *b)
{
    if (a->n_layers != b->n_layers || a->in_channels != b->in_channels)
        return false;
    for (int i = 0; i < a->n_layers; i++) {
        const an__layer *x = &a->layers[i], *y = &b->layers[i];
        if (x->kind != y->kind || x->out_channels != y->out_channels || x->kernel != y->kernel ||
            x->stride != y->stride || x->pad != y->pad ||
            (x->groups > 1 ? x->groups : 1) != (y->groups > 1 ? y->groups : 1) ||
            x->lrn_alpha != y->lrn_alpha || x->lrn_beta != y->lrn_beta || x->lrn_k != y->lrn_k ||
            x->ceil_mode != y->ceil_mode)
            return false;
    }
    return true;
}

int an_variant_input_size(const char *variant, int *height, int *width)
{
    an__clear_error();
    const an__variant *v = an__variant_find(variant);
    if (!v)
        return AN_ERR_UNKNOWN_VARIANT;
    *height = v->in_height;
    *width = v->in_width;
    return AN_OK;
}

int an__variant_param_shapes(const an__variant *v, an__param_shape *shapes, int max)
{
    int n = 0, in_c = v->in_channels, pool = 1;
    for (int i = 0; i < v->n_layers; i++) {
        const an__layer *l = &v->layers[i];
        if (l->kind == AN_LAYER_ADAPTIVE_AVGPOOL)
            pool = l->kernel;
        if (l->kind != AN_LAYER_CONV && l->kind != AN_LAYER_LINEAR)
            continue;
        if (n < max) {
            an__param_shape *s = &shapes[n];
            s->layer = i;
            if (l->kind == AN_LAYER_CONV) {
                int g = l->groups > 1 ? l->groups : 1;
                *s = (an__param_shape){i, {l->out_channels, in_c / g, l->kernel, l->kernel}, 4};
            } else {
                /* the first linear layer sees the flattened (C, 6, 6) pool output */
                int in = pool > 1 ? in_c * pool * pool : in_c;
                *s = (an__param_shape){i, {l->out_channels, in, 1, 1}, 2};
                pool = 1;
            }
        }
        in_c = l->out_channels;
        n++;
    }
    return n;
}

int64_t an_variant_params(const char *variant)
{
    const an__variant *v = an__variant_find(variant);
    if (!v)
        return -1;
    an__param_shape s[AN_MAX_LAYERS];
    int n = an__variant_param_shapes(v, s, AN_MAX_LAYERS);
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += (int64_t)s[i].dims[0] * s[i].dims[1] * s[i].dims[2] * s[i].dims[3] + s[i].dims[0];
    return total;
}

static const char *type_names[] = {
    [AN_LAYER_CONV] = "Conv2d",           [AN_LAYER_RELU] = "ReLU",
    [AN_LAYER_MAXPOOL] = "MaxPool2d",     [AN_LAYER_ADAPTIVE_AVGPOOL] = "AdaptiveAvgPool2d",
    [AN_LAYER_DROPOUT] = "Dropout",       [AN_LAYER_LINEAR] = "Linear",
    [AN_LAYER_LRN] = "LocalResponseNorm",
};

int an__window_out(const an__layer *l, int in)
{
    int num = in + 2 * l->pad - l->kernel;
    if (num < 0)
        return 0;
    int out = num / l->stride + 1;
    if (l->ceil_mode && num % l->stride) {
        out++;
        if (l->pad > 0 && (out - 1) * l->stride >= in + l->pad)
            out--; /* Caffe: the last window must start inside the image */
    }
    return out;
}

/* "(224+4-11)/4+1=55.25" for one dimension; returns the layer's output size. */
static int window_arith(const an__layer *l, int in, char *buf, size_t size)
{
    int num = in + 2 * l->pad - l->kernel, s = l->stride;
    double exact = (double)num / s + 1.0;
    if (l->pad > 0)
        snprintf(buf, size, "(%d+%d-%d)/%d+1=%g", in, 2 * l->pad, l->kernel, s, exact);
    else
        snprintf(buf, size, "(%d-%d)/%d+1=%g", in, l->kernel, s, exact);
    return an__window_out(l, in);
}

int an_variant_infer(const char *variant, int channels, int height, int width,
                     an_layer_info *layers, int *count)
{
    an__clear_error();
    const an__variant *v = an__variant_find(variant);
    if (!v)
        return AN_ERR_UNKNOWN_VARIANT;
    if (!layers || !count)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_variant_infer: NULL argument");
    *count = 0;
    if (channels != v->in_channels)
        return an__fail(AN_ERR_BAD_SHAPE,
                        "%s takes %d input channels, not %d: the input must be (N, %d, H, W)",
                        v->name, v->in_channels, channels, v->in_channels);
    if (height <= 0 || width <= 0 || height > 100000 || width > 100000)
        return an__fail(AN_ERR_BAD_SHAPE, "input size %dx%d is not a usable image size", height,
                        width);

    an__param_shape shapes[AN_MAX_LAYERS];
    an__variant_param_shapes(v, shapes, AN_MAX_LAYERS);
    int c = channels, h = height, w = width, param = 0;
    for (int i = 0; i < v->n_layers; i++) {
        const an__layer *l = &v->layers[i];
        an_layer_info *o = &layers[i];
        memset(o, 0, sizeof *o);
        o->kind = l->kind;
        o->type_name = type_names[l->kind];
        o->index = i + 1;
        o->kernel = l->kernel;
        o->stride = l->stride;
        o->pad = l->pad;
        o->out_channels = l->out_channels;
        o->groups = l->groups > 1 ? l->groups : 1;
        o->exact = 1;
        char ah[72], aw[72];
        switch (l->kind) {
        case AN_LAYER_CONV:
        case AN_LAYER_MAXPOOL: {
            int oh = window_arith(l, h, ah, sizeof ah);
            int ow = window_arith(l, w, aw, sizeof aw);
            char kp[40];
            int n = l->pad > 0
                        ? snprintf(kp, sizeof kp, "k=%d,s=%d,p=%d", l->kernel, l->stride, l->pad)
                        : snprintf(kp, sizeof kp, "k=%d,s=%d", l->kernel, l->stride);
            if (o->groups > 1 && n > 0 && (size_t)n < sizeof kp)
                snprintf(kp + n, sizeof kp - (size_t)n, ",g=%d", o->groups);
            else if (l->ceil_mode && n > 0 && (size_t)n < sizeof kp)
                snprintf(kp + n, sizeof kp - (size_t)n, ",ceil"); /* sizes rounded up */
            if (h == w)
                snprintf(o->arith, sizeof o->arith, "%s %s", kp, ah);
            else
                snprintf(o->arith, sizeof o->arith, "%s H %s, W %s", kp, ah, aw);
            if (oh < 1 || ow < 1)
                return an__fail(AN_ERR_BAD_SHAPE,
                                "input %dx%dx%d is too small for %s: %s-%d (%s) gets %dx%d and "
                                "its output would be empty: H %s, W %s",
                                channels, height, width, v->name, o->type_name, o->index, kp, h, w,
                                ah, aw);
            o->exact = (h + 2 * l->pad - l->kernel) % l->stride == 0 &&
                       (w + 2 * l->pad - l->kernel) % l->stride == 0;
            if (l->kind == AN_LAYER_CONV) {
                c = l->out_channels;
                const int *d = shapes[param++].dims;
                o->params = (int64_t)d[0] * d[1] * d[2] * d[3] + d[0];
            }
            h = oh;
            w = ow;
            break;
        }
        case AN_LAYER_ADAPTIVE_AVGPOOL:
            if (h == l->kernel && w == l->kernel)
                snprintf(o->arith, sizeof o->arith, "out=%dx%d, identity", l->kernel, l->kernel);
            else
                snprintf(o->arith, sizeof o->arith, "out=%dx%d from %dx%d", l->kernel, l->kernel, h,
                         w);
            h = w = l->kernel;
            break;
        case AN_LAYER_DROPOUT:
            c = c * h * w; /* flattens; identity at inference */
            h = w = 1;
            break;
        case AN_LAYER_LINEAR: {
            const int *d = shapes[param++].dims;
            o->params = (int64_t)d[0] * d[1] + d[0];
            snprintf(o->arith, sizeof o->arith, "%d->%d", c * h * w, l->out_channels);
            c = l->out_channels;
            h = w = 1;
            break;
        }
        case AN_LAYER_LRN:
            snprintf(o->arith, sizeof o->arith, "size=%d,alpha=%g,beta=%g,k=%g", l->kernel,
                     (double)l->lrn_alpha, (double)l->lrn_beta, (double)l->lrn_k);
            break;
        case AN_LAYER_RELU:
            break;
        }
        o->c = c;
        o->h = h;
        o->w = w;
    }
    *count = v->n_layers;
    return AN_OK;
}
