/* model.c - a variant with its weights resident on a device: loading or
 * seeding the host weights, arranging them for the kernels, uploading them,
 * and the model's set of built programs. Plans (plan.c) run the model. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int an__conv_arranged_oc(int oc, int groups, int vw)
{
    if (groups < 1)
        groups = 1;
    return groups * ((oc / groups + vw - 1) / vw * vw);
}

void an__conv_weights_arrange(const float *src, float *dst, int oc, int c, int k, int groups,
                              int vw)
{
    if (groups < 1)
        groups = 1;
    int ocg = oc / groups, bpg = (ocg + vw - 1) / vw, taps = c * k * k;
    for (int g = 0; g < groups; g++)
        for (int b = 0; b < bpg; b++)
            for (int t = 0; t < taps; t++)
                for (int j = 0; j < vw; j++) {
                    int o = b * vw + j;
                    dst[(((size_t)g * bpg + b) * taps + t) * vw + j] =
                        o < ocg ? src[((size_t)g * ocg + o) * taps + t] : 0.0f;
                }
}

void an__conv_bias_arrange(const float *src, float *dst, int oc, int groups, int vw)
{
    if (groups < 1)
        groups = 1;
    int ocg = oc / groups, bpg = (ocg + vw - 1) / vw;
    for (int g = 0; g < groups; g++)
        for (int b = 0; b < bpg * vw; b++)
            dst[(size_t)g * bpg * vw + b] = b < ocg ? src[(size_t)g * ocg + b] : 0.0f;
}

bool an__winograd_shape_ok(int k, int stride, int pad)
{
    return (k == 3 || k == 5) && stride == 1 && pad >= 0 && pad < k;
}

bool an__conv_winograd_ok(const an__layer *l)
{
    return l->kind == AN_LAYER_CONV && an__winograd_shape_ok(l->kernel, l->stride, l->pad);
}

int an__winograd_large_tile(int k)
{
    return k == 3 ? 4 : 3;
}

int an__winograd_tile(int k, int wino_m, int n, int oh, int ow)
{
    int m = an__winograd_large_tile(k);
    long tiles = (long)n * ((oh + m - 1) / m) * ((ow + m - 1) / m);
    bool large = wino_m ? wino_m == 4 : tiles >= AN_WINO_LARGE_TILES;
    return large ? m : 2;
}

int an__winograd_points(int k, int m)
{
    return (m + k - 1) * (m + k - 1);
}

void an__winograd_weights_arrange(const float *src, float *dst, int oc, int c, int k, int m,
                                  int groups, int vw)
{
    /* G of F(2x2,3x3) (Lavin & Gray 2015, arXiv:1509.09308, section 4.1), of
     * F(4x4,3x3) (section 4.2) and of F(2x2,5x5) (the points 0, 1, -1, 2, -2
     * and infinity, as in Lavin's wincnn; F(4x4,3x3)'s G is its first three
     * columns with the last row (0 0 1); checked against the direct
     * correlation in double by test_kernels) */
    static const double G3[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    static const double G43[6][3] = {
        {1.0 / 4, 0, 0},
        {-1.0 / 6, -1.0 / 6, -1.0 / 6},
        {-1.0 / 6, 1.0 / 6, -1.0 / 6},
        {1.0 / 24, 1.0 / 12, 1.0 / 6},
        {1.0 / 24, -1.0 / 12, 1.0 / 6},
        {0, 0, 1},
    };
    /* G of F(3x3,5x5): the points 0, 1, -1, 2, -2, 1/2 and infinity, each
     * row divided by the integer that scales winograd.cl's B^T row to
     * integers (derived exactly in rationals, wincnn's construction) */
    static const double G53[7][5] = {
        {-1.0 / 4, 0, 0, 0, 0},
        {-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
        {1.0 / 18, -1.0 / 18, 1.0 / 18, -1.0 / 18, 1.0 / 18},
        {1.0 / 72, 1.0 / 36, 1.0 / 18, 1.0 / 9, 2.0 / 9},
        {-1.0 / 120, 1.0 / 60, -1.0 / 30, 1.0 / 15, -2.0 / 15},
        {32.0 / 45, 16.0 / 45, 8.0 / 45, 4.0 / 45, 2.0 / 45},
        {0, 0, 0, 0, 1.0 / 2},
    };
    static const double G5[6][5] = {
        {1.0 / 4, 0, 0, 0, 0},
        {-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
        {-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6},
        {1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3},
        {1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3},
        {0, 0, 0, 0, 1},
    };
    const double *Gm = k == 5 ? (m == 3 ? &G53[0][0] : &G5[0][0]) : m == 4 ? &G43[0][0] : &G3[0][0];
    int a = m + k - 1, np = a * a;
    if (groups < 1)
        groups = 1;
    int ocg = oc / groups, bpg = (ocg + vw - 1) / vw;
    size_t xstride = (size_t)groups * bpg * c * vw;
    for (int g = 0; g < groups; g++)
        for (int b = 0; b < bpg; b++)
            for (int ci = 0; ci < c; ci++)
                for (int j = 0; j < vw; j++) {
                    int o = b * vw + j;
                    double u[7][7] = {{0}};
                    if (o < ocg) {
                        const float *w = src + ((size_t)(g * ocg + o) * c + ci) * k * k;
                        double gk[7][5] = {{0}}; /* G g */
                        for (int r = 0; r < a; r++)
                            for (int q = 0; q < k; q++)
                                for (int i = 0; i < k; i++)
                                    gk[r][q] += Gm[r * k + i] * w[i * k + q];
                        for (int r = 0; r < a; r++) /* (G g) G^T */
                            for (int q = 0; q < a; q++)
                                for (int i = 0; i < k; i++)
                                    u[r][q] += gk[r][i] * Gm[q * k + i];
                    }
                    for (int xi = 0; xi < np; xi++)
                        dst[xi * xstride + (((size_t)g * bpg + b) * c + ci) * vw + j] =
                            (float)u[xi / a][xi % a];
                }
}

void an__conv_s2d_weights(const float *src, float *dst, int oc, int c, int k, int s)
{
    int kq = (k + s - 1) / s;
    for (int o = 0; o < oc; o++)
        for (int ci = 0; ci < c; ci++)
            for (int dy = 0; dy < s; dy++)
                for (int dx = 0; dx < s; dx++)
                    for (int qy = 0; qy < kq; qy++)
                        for (int qx = 0; qx < kq; qx++) {
                            int ky = qy * s + dy, kx = qx * s + dx;
                            size_t c2 = ((size_t)ci * s + dy) * s + dx;
                            dst[(((size_t)o * c * s * s + c2) * kq + qy) * kq + qx] =
                                ky < k && kx < k ? src[(((size_t)o * c + ci) * k + ky) * k + kx]
                                                 : 0.0f;
                        }
}

/* Whether some layer may run space-to-depth under m's tuning: the model-wide
 * conv_s2d or a per-layer entry of the tuning file that asks for it. Only
 * then are its weights (about (S*ceil(K/S)/K)^2 of the layer's) made. */
static bool wants_s2d(const an_model *m)
{
    if (m->tuning.conv_s2d)
        return true;
    for (size_t i = 0; i < m->tuned.n; i++) {
        an__tuning t = m->tuning;
        if (an__tuning_parse(m->tuned.e[i].params, &t) == AN_OK && t.conv_s2d)
            return true;
    }
    return false;
}

/* Whether a k x k layer may run Winograd F(wm x wm, k x k) under m's
 * tuning: the model-wide conv_algo and wino_m, or any per-layer entry of the
 * tuning file that asks for it (wino_m 0 may run either tile: 2, or the
 * large one, an__winograd_large_tile). Only then are the transformed
 * weights (16/9 of the 3x3 weights with wm 2, 36/9 with wm 4; 36/25 of the
 * 5x5 with wm 2, 49/25 with wm 3) made. */
static bool tile_wanted(const an__tuning *t, int k, int wm)
{
    int large = an__winograd_large_tile(k);
    if (t->conv_algo != 1 || (wm != 2 && wm != large))
        return false;
    return t->wino_m == 0 || (t->wino_m == 4 ? large : 2) == wm;
}

static bool wants_winograd(const an_model *m, int k, int wm)
{
    if (tile_wanted(&m->tuning, k, wm))
        return true;
    for (size_t i = 0; i < m->tuned.n; i++) {
        an__tuning t = m->tuning;
        if (an__tuning_parse(m->tuned.e[i].params, &t) == AN_OK && tile_wanted(&t, k, wm))
            return true;
    }
    return false;
}

int an__model_param_index(const an_model *model, int layer)
{
    for (int i = 0; i < model->n_params; i++)
        if (model->shape[i].layer == layer)
            return i;
    return -1;
}

static int upload(an_model *m, const void *data, size_t bytes, cl_mem *out)
{
    int status = AN_OK;
    if (bytes > m->dev->info.max_alloc)
        return an__fail(AN_ERR_TOO_LARGE,
                        "a weight tensor of %zu bytes exceeds the device's largest allocation "
                        "(%llu bytes, CL_DEVICE_MAX_MEM_ALLOC_SIZE)",
                        bytes, (unsigned long long)m->dev->info.max_alloc);
    AN_CL_OBJ(*out, clCreateBuffer(m->dev->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes,
                                   (void *)data, &an__err));
    m->weight_bytes += bytes;
    return AN_OK;
fail:
    return status;
}

/* Uploads U = G g G^T of conv weights src (oc, c, k, k) in `groups` groups
 * for each Winograd tile some layer may run (wants_winograd): out[0]
 * F(2x2,kxk), out[1] the large tile, F(4x4,3x3) or F(3x3,5x5); the ones not
 * wanted stay NULL, and so do the ones larger than the device's largest
 * allocation (Winograd is a speed-up: the plan then runs the other tile or
 * the direct kernel, where the weights themselves fit; F(4x4,3x3)'s U is 4x
 * the 3x3 weights, F(3x3,5x5)'s 1.96x the 5x5 weights). */
static int upload_winograd(an_model *m, const float *src, int oc, int c, int k, int groups,
                           cl_mem out[2])
{
    int status = AN_OK, vw = m->tuning.conv_vec;
    float *u = NULL;
    for (int j = 0; j < 2; j++) {
        int wm = j ? an__winograd_large_tile(k) : 2;
        if (!wants_winograd(m, k, wm))
            continue;
        size_t n = (size_t)an__winograd_points(k, wm) * an__conv_arranged_oc(oc, groups, vw) * c;
        if (n * sizeof *u > m->dev->info.max_alloc)
            continue;
        u = malloc(n * sizeof *u);
        if (!u) {
            status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory arranging weights");
            goto fail;
        }
        an__winograd_weights_arrange(src, u, oc, c, k, wm, groups, vw);
        AN_TRY(upload(m, u, n * sizeof *u, &out[j]));
        free(u);
        u = NULL;
    }
    return AN_OK;
fail:
    free(u);
    return status;
}

/* The blocked linear layout of an__conv_weights_arrange (c = I, k = 1, one
 * group) for binary16 bits: (ceil(O/vw), I, vw), zero-padded. */
static void fc_half_arrange(const uint16_t *src, uint16_t *dst, int o, int in, int vw)
{
    int blocks = (o + vw - 1) / vw;
    for (int b = 0; b < blocks; b++)
        for (int t = 0; t < in; t++)
            for (int j = 0; j < vw; j++) {
                int r = b * vw + j;
                dst[((size_t)b * in + t) * vw + j] = r < o ? src[(size_t)r * in + t] : 0;
            }
}

/* Uploads linear layer i's weights (O, I) in parts of whole rows, each part
 * below the device's largest allocation, into m->parts[i]: arranged into
 * blocks of fc_vec outputs when fc_blocked or half-precision (a part's rows
 * then a multiple of fc_vec, so that each part is a slice of the whole
 * layer's layout). Biases stay float32. */
static int upload_linear_parts(an_model *m, const an__weights *w, int i)
{
    int status = AN_OK;
    void *tmp = NULL;
    float *btmp = NULL;
    const int O = w->shape[i].dims[0], I = w->shape[i].dims[1];
    const bool half = w->half[i] != NULL; /* binary16 bits: always blocked (fc_half) */
    const bool blocked = half || m->tuning.fc_blocked;
    int vw = blocked ? m->tuning.fc_vec : 1;
    size_t row_bytes = (size_t)I * (half ? sizeof(uint16_t) : sizeof(float));
    uint64_t fit = m->dev->info.max_alloc / row_bytes / (uint64_t)vw * (uint64_t)vw;
    if (fit == 0)
        return an__fail(AN_ERR_TOO_LARGE,
                        "%s: Linear-%d: %d output row%s of %d inputs (%zu bytes) exceed the "
                        "device's largest allocation (%llu bytes, CL_DEVICE_MAX_MEM_ALLOC_SIZE)",
                        m->variant->name, w->shape[i].layer + 1, vw, vw == 1 ? "" : "s", I,
                        row_bytes * (size_t)vw, (unsigned long long)m->dev->info.max_alloc);
    int rows = fit < (uint64_t)O ? (int)fit : O;
    an__fc_parts *pt = calloc(1, sizeof *pt);
    if (!pt)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory splitting weights");
    m->parts[i] = pt;
    pt->rows = rows;
    int n = (O + rows - 1) / rows;
    size_t padded_rows = (size_t)an__conv_arranged_oc(rows, 1, vw);
    pt->w = calloc((size_t)n, sizeof *pt->w);
    pt->b = calloc((size_t)n, sizeof *pt->b);
    if (blocked) {
        tmp = malloc(padded_rows * row_bytes);
        btmp = malloc(padded_rows * sizeof *btmp);
    }
    if (!pt->w || !pt->b || (blocked && (!tmp || !btmp))) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory splitting weights");
        goto fail;
    }
    pt->n = n; /* the buffers not made yet are NULL */
    for (int j = 0; j < n; j++) {
        int o0 = j * rows, r = O - o0 < rows ? O - o0 : rows;
        const void *src = NULL;
        const float *bsrc = w->bias[i] + o0;
        size_t padded = (size_t)an__conv_arranged_oc(r, 1, vw);
        if (half) {
            fc_half_arrange(w->half[i] + (size_t)o0 * I, tmp, r, I, vw);
            src = tmp;
        } else if (blocked) {
            an__conv_weights_arrange(w->weight[i] + (size_t)o0 * I, tmp, r, I, 1, 1, vw);
            src = tmp;
        } else {
            src = w->weight[i] + (size_t)o0 * I;
        }
        if (blocked) {
            an__conv_bias_arrange(bsrc, btmp, r, 1, vw);
            bsrc = btmp;
        }
        AN_TRY(upload(m, src, padded * row_bytes, &pt->w[j]));
        AN_TRY(upload(m, bsrc, padded * sizeof(float), &pt->b[j]));
    }
fail:
    free(tmp);
    free(btmp);
    return status;
}

/* Uploads host weights, arranging conv filters into blocks of conv_vec output
 * channels (and, with fc_blocked, linear ones into blocks of fc_vec) and
 * padding their biases. */
static int upload_weights(an_model *m, const an__weights *w)
{
    int status = AN_OK;
    float *tmp = NULL;
    m->n_params = w->count;
    for (int i = 0; i < w->count; i++) {
        m->shape[i] = w->shape[i];
        const int *d = w->shape[i].dims;
        bool conv = w->shape[i].ndim == 4;
        if (!conv) {
            /* binary16 weights are always blocked (fc_half), two bytes each */
            bool blocked = w->half[i] || m->tuning.fc_blocked;
            size_t rows =
                blocked ? (size_t)an__conv_arranged_oc(d[0], 1, m->tuning.fc_vec) : (size_t)d[0];
            size_t esize = w->half[i] ? sizeof(uint16_t) : sizeof(float);
            if (rows * d[1] * esize > m->dev->info.max_alloc) {
                AN_TRY(upload_linear_parts(m, w, i));
                continue;
            }
        }
        if (w->half[i]) { /* binary16 linear weights: always blocked (fc_half) */
            int vw = m->tuning.fc_vec, padded = an__conv_arranged_oc(d[0], 1, vw);
            size_t n = (size_t)padded * d[1];
            uint16_t *h = calloc(n, sizeof *h);
            if (!h) {
                status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory arranging weights");
                goto fail;
            }
            fc_half_arrange(w->half[i], h, d[0], d[1], vw);
            status = upload(m, h, n * sizeof *h, &m->weight[i]);
            free(h);
            if (status != AN_OK)
                goto fail;
            tmp = calloc((size_t)padded, sizeof *tmp);
            if (!tmp) {
                status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory arranging weights");
                goto fail;
            }
            an__conv_bias_arrange(w->bias[i], tmp, d[0], 1, vw);
            AN_TRY(upload(m, tmp, (size_t)padded * sizeof *tmp, &m->bias[i]));
            free(tmp);
            tmp = NULL;
        } else if (conv || m->tuning.fc_blocked) {
            int groups = conv ? m->variant->layers[w->shape[i].layer].groups : 1;
            if (groups < 1)
                groups = 1;
            int vw = conv ? m->tuning.conv_vec : m->tuning.fc_vec;
            size_t padded = (size_t)an__conv_arranged_oc(d[0], groups, vw);
            size_t n = padded * d[1] * d[2] * d[3];
            tmp = calloc(n, sizeof *tmp);
            if (!tmp) {
                status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory arranging weights");
                goto fail;
            }
            an__conv_weights_arrange(w->weight[i], tmp, d[0], d[1], d[2], groups, vw);
            AN_TRY(upload(m, tmp, n * sizeof *tmp, &m->weight[i]));
            an__conv_bias_arrange(w->bias[i], tmp, d[0], groups, vw);
            AN_TRY(upload(m, tmp, padded * sizeof *tmp, &m->bias[i]));
            free(tmp);
            tmp = NULL;
            if (conv && an__conv_winograd_ok(&m->variant->layers[w->shape[i].layer]))
                AN_TRY(upload_winograd(m, w->weight[i], d[0], d[1], d[2], groups, m->wino[i]));
            int st = conv ? m->variant->layers[w->shape[i].layer].stride : 1;
            if (conv && st > 1 && wants_s2d(m)) {
                /* space-to-depth: the stride-1 form's weights, then arranged */
                int kq = (d[2] + st - 1) / st, c2 = d[1] * st * st;
                size_t raw = (size_t)d[0] * c2 * kq * kq;
                n = padded * c2 * kq * kq;
                tmp = malloc((raw + n) * sizeof *tmp);
                if (!tmp) {
                    status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory arranging weights");
                    goto fail;
                }
                an__conv_s2d_weights(w->weight[i], tmp, d[0], d[1], d[2], st);
                an__conv_weights_arrange(tmp, tmp + raw, d[0], c2, kq, groups, vw);
                AN_TRY(upload(m, tmp + raw, n * sizeof *tmp, &m->s2d[i]));
                /* the stride-1 form through Winograd: U from the
                 * unarranged s2d weights at tmp */
                if (an__winograd_shape_ok(kq, 1, 0))
                    AN_TRY(upload_winograd(m, tmp, d[0], c2, kq, groups, m->wino[i]));
                free(tmp);
                tmp = NULL;
            }
        } else {
            AN_TRY(upload(m, w->weight[i], (size_t)d[0] * d[1] * sizeof(float), &m->weight[i]));
            AN_TRY(upload(m, w->bias[i], (size_t)d[0] * sizeof(float), &m->bias[i]));
        }
    }
    return AN_OK;
fail:
    free(tmp);
    return status;
}

static char *copy_opt(const char *s, bool *ok)
{
    if (!s)
        return NULL;
    char *c = strdup(s);
    if (!c)
        *ok = false;
    return c;
}

int an_model_load_opts(an_device *dev, const char *variant, const an_load_options *opts,
                       an_model **out)
{
    an__clear_error();
    int status = AN_OK;
    an__weights w = {0};
    an_model *m = NULL;
    an_load_options none = {0};
    if (!out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_model: NULL output");
    *out = NULL;
    if (!opts)
        opts = &none;
    const unsigned known = AN_LOAD_ALLOW_NONFINITE | AN_LOAD_WEIGHTS_F16;
    if (opts->flags & ~known)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_model_load: unknown flags 0x%x",
                        opts->flags & ~known);
    const an__variant *v = an__variant_find(variant);
    if (!v)
        return AN_ERR_UNKNOWN_VARIANT;
    m = calloc(1, sizeof *m);
    if (!m)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
    pthread_mutex_init(&m->panel_lock, NULL);
    m->variant = v;
    m->nonfinite = (opts->flags & AN_LOAD_ALLOW_NONFINITE) != 0;
    bool ok = true;
    m->cache_dir = copy_opt(opts->cache_dir, &ok);
    m->kernel_dir = copy_opt(opts->kernel_dir, &ok);
    if (!ok) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
        goto fail;
    }
    if (!dev) {
        AN_TRY(an_device_open(opts->device, &m->dev));
        m->owns_dev = true;
    } else {
        m->dev = dev;
    }
    /* the tuning file: given, or in the cache directory (given or default) */
    char file[4200];
    const char *path = opts->tuning_file;
    if (!path && opts->cache_dir) {
        snprintf(file, sizeof file, "%s/tuning.txt", opts->cache_dir);
        path = opts->cache_dir[0] ? file : NULL;
    } else if (!path) {
        path = an__tuning_path();
    } else if (!path[0]) {
        path = NULL;
    }
    const char *forced = opts->tuning ? opts->tuning : getenv("ALEXNET_TUNING");
    m->forced = forced && *forced;
    AN_TRY(an__tuning_load(m, forced, path));
    if (opts->weights)
        AN_TRY(an__weights_load_flags(v, opts->weights, opts->flags, &w));
    else
        AN_TRY(an__weights_seed(v, opts->seed, &w));
    if (opts->flags & AN_LOAD_WEIGHTS_F16) {
        /* half-precision FC weights: our blocked kernels read them (CLBlast's
         * SGEMM, the fc_blocked=0 path, cannot) */
        AN_TRY(an__weights_to_half(v, opts->weights ? opts->weights : "seeded weights", &w));
        m->fc_half = true;
        m->tuning.fc_blocked = 1;
    }
    m->preprocess = w.has_preprocess ? w.preprocess : v->preprocess;
    m->has_preprocess = w.has_preprocess;
    AN_TRY(upload_weights(m, &w));
    if (m->weight_bytes > m->dev->info.global_mem) {
        status = an__fail(AN_ERR_TOO_LARGE,
                          "%s: the weights take %.1f MiB on the device (with the transformed "
                          "copies its convolutions run from), more than its global memory of "
                          "%.1f MiB (CL_DEVICE_GLOBAL_MEM_SIZE, or $ALEXNET_GLOBAL_MEM when "
                          "smaller)",
                          v->name, (double)m->weight_bytes / 1048576.0,
                          (double)m->dev->info.global_mem / 1048576.0);
        goto fail;
    }
    an__weights_free(&w);
    *out = m;
    return AN_OK;
fail:
    an__weights_free(&w);
    an_model_free(m);
    return status;
}

int an_model_load(an_device *dev, const char *variant, const char *path, an_model **out)
{
    if (!path)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_model_load: no weights path");
    if (!dev)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_model: NULL device or output");
    an_load_options o = {.weights = path};
    return an_model_load_opts(dev, variant, &o, out);
}

int an_model_load_flags(an_device *dev, const char *variant, const char *path, unsigned flags,
                        an_model **out)
{
    if (!path)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_model_load_flags: no weights path");
    if (!dev)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_model: NULL device or output");
    an_load_options o = {.weights = path, .flags = flags};
    return an_model_load_opts(dev, variant, &o, out);
}

int an_model_seed(an_device *dev, const char *variant, uint64_t seed, an_model **out)
{
    if (!dev)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_model: NULL device or output");
    an_load_options o = {.seed = seed};
    return an_model_load_opts(dev, variant, &o, out);
}

void an_model_free(an_model *model)
{
    if (!model)
        return;
    for (int i = 0; i < AN_MAX_LAYERS; i++) {
        if (model->weight[i])
            clReleaseMemObject(model->weight[i]);
        if (model->bias[i])
            clReleaseMemObject(model->bias[i]);
        for (int j = 0; j < 2; j++)
            if (model->wino[i][j])
                clReleaseMemObject(model->wino[i][j]);
        if (model->s2d[i])
            clReleaseMemObject(model->s2d[i]);
        an__fc_parts *pt = model->parts[i];
        for (int j = 0; pt && j < pt->n; j++) {
            if (pt->w[j])
                clReleaseMemObject(pt->w[j]);
            if (pt->b[j])
                clReleaseMemObject(pt->b[j]);
        }
        if (pt) {
            free(pt->w);
            free(pt->b);
            free(pt);
        }
    }
    /* none left unless a plan outlives its model, which the API forbids */
    for (int i = 0; i < model->n_panels; i++)
        clReleaseMemObject(model->panels[i].panel);
    free(model->panels);
    pthread_mutex_destroy(&model->panel_lock);
    for (int i = 0; i < model->n_programs; i++)
        clReleaseProgram(model->programs[i].program);
    an__tuning_table_free(&model->tuned);
    if (model->owns_dev)
        an_device_free(model->dev);
    free(model->cache_dir);
    free(model->kernel_dir);
    free(model);
}

an_device *an_model_device(const an_model *model)
{
    return model ? model->dev : NULL;
}

void an_model_tuning(const an_model *model, char *buf, size_t size)
{
    if (!buf || !size)
        return;
    buf[0] = 0;
    if (!model)
        return;
    char t[512];
    an__tuning_format(&model->tuning, t, sizeof t);
    snprintf(buf, size, "%s%s%s%s%s", t,
             model->forced        ? " (forced)"
             : model->tuned.n > 0 ? " (and per-layer entries from the tuning file)"
                                  : "",
             model->clblast[0] ? "; CLBlast's " : "", model->clblast,
             model->clblast[0] ? " parameters from the tuning file" : "");
}

int an_model_preprocess(const an_model *model, an_preprocess *out)
{
    if (!model || !out) {
        if (out)
            memset(out, 0, sizeof *out);
        return 0;
    }
    *out = model->preprocess;
    return model->has_preprocess ? 1 : 0;
}

const char *an_model_variant(const an_model *model)
{
    return model ? model->variant->name : NULL;
}

int an__model_kernel(an_model *m, const char *file, const char *options, const char *name,
                     cl_kernel *out)
{
    int status = AN_OK;
    cl_program prog = NULL;
    for (int i = 0; i < m->n_programs && !prog; i++)
        if (strcmp(m->programs[i].file, file) == 0 && strcmp(m->programs[i].options, options) == 0)
            prog = m->programs[i].program;
    if (!prog) {
        if (m->n_programs == AN_MAX_PROGRAMS)
            return an__fail(AN_ERR_INVALID_ARGUMENT, "too many distinct kernel programs");
        AN_TRY(an__program_get_in(m->dev, m->cache_dir, m->kernel_dir, file, options, &prog));
        int i = m->n_programs++;
        snprintf(m->programs[i].file, sizeof m->programs[i].file, "%s", file);
        snprintf(m->programs[i].options, sizeof m->programs[i].options, "%s", options);
        m->programs[i].program = prog;
    }
    AN_CL_OBJ(*out, clCreateKernel(prog, name, &an__err));
    return AN_OK;
fail:
    return status;
}
