/* model.c - a variant with its weights resident on a device: loading or
 * seeding the host weights, arranging them for the kernels, uploading them,
 * and the model's set of built programs. Plans (plan.c) run the model. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "internal.h"

an__tuning an__tuning_defaults(const an_device_info *info)
{
    an__tuning t;
    bool cpu = info->type == AN_DEVICE_CPU;
    /* CPU (PoCL): one work-item per group, large register tiles, contiguous
     * streams, our own FC kernels (CLBlast's untuned SGEMM is slow there).
     * GPU: wider work-groups, interleaved reads, CLBlast for batched FC. */
    /* CPUs: the device's preferred float vector (16 with AVX-512, 8 with
     * AVX2), one output channel per lane; GPUs: 8, measured on an H200 */
    t.conv_vec = 8;
    if (cpu && info->float_vector >= 16)
        t.conv_vec = 16;
    else if (cpu && info->float_vector > 0 && info->float_vector <= 4)
        t.conv_vec = 4;
    /* CPU tiles: measured on PoCL (2-core Xeon, AVX-512) at batches 16 and
     * 64: with float16, 3 pixels x 4 blocks (12 accumulators) for every
     * conv; with float8 (the all-round winners of `alexnet tune` before
     * float16), 4 x 3 and 4 x 2 for conv1. GPU values: H200 at batch 1. */
    bool wide = t.conv_vec == 16;
    t.conv_tx = cpu && wide ? 3 : 4;
    t.conv_ocb = cpu ? (wide ? 4 : 3) : 1;
    t.conv_local = cpu ? 1 : 16;

    t.conv1_tx = cpu && wide ? 3 : 4;
    t.conv1_ocb = cpu ? (wide ? 4 : 2) : 1;
    t.fc_blocked = cpu ? 1 : 0;
    t.fc_vec = t.conv_vec == 16 ? 16 : 8;
    /* fc_gemm tiles on PoCL at batch 64: 3 rows x 2 blocks of 16, or 2 x 4
     * blocks of 8 */
    t.fc_tm = cpu ? (t.fc_vec == 16 ? 3 : 2) : 8;
    t.fc_tnb = cpu ? (t.fc_vec == 16 ? 2 : 4) : 1;
    t.fc_local = 1;
    t.gemv_lws = 64;
    while (t.gemv_lws > 1 && (size_t)t.gemv_lws > info->max_work_group)
        t.gemv_lws /= 2;
    t.gemv_interleaved = cpu ? 0 : 1;
    t.pointwise_local = info->max_work_group >= 64 ? 64 : (int)info->max_work_group;
    t.pool_px = cpu ? 32 : 1; /* CPU: a whole row per work-item (clamped to its width) */
    return t;
}

/* name, offset, smallest and largest value */
static const struct {
    const char *name;
    size_t offset;
    int lo, hi;
} params[] = {
    {"conv_tx", offsetof(an__tuning, conv_tx), 1, 16},
    {"conv_ocb", offsetof(an__tuning, conv_ocb), 1, 4},
    {"conv_local", offsetof(an__tuning, conv_local), 1, 1024},
    {"conv1_tx", offsetof(an__tuning, conv1_tx), 1, 16},
    {"conv1_ocb", offsetof(an__tuning, conv1_ocb), 1, 4},
    {"conv_vec", offsetof(an__tuning, conv_vec), 4, 16},

    {"fc_blocked", offsetof(an__tuning, fc_blocked), 0, 1},
    {"fc_vec", offsetof(an__tuning, fc_vec), 8, 16},
    {"fc_tm", offsetof(an__tuning, fc_tm), 1, 16},
    {"fc_tnb", offsetof(an__tuning, fc_tnb), 1, 4},
    {"fc_local", offsetof(an__tuning, fc_local), 1, 1024},
    {"gemv_lws", offsetof(an__tuning, gemv_lws), 1, 1024},
    {"gemv_interleaved", offsetof(an__tuning, gemv_interleaved), 0, 1},
    {"pointwise_local", offsetof(an__tuning, pointwise_local), 1, 1024},
    {"pool_px", offsetof(an__tuning, pool_px), 1, 32},
};

int an__tuning_parse(const char *text, an__tuning *t)
{
    const char *p = text;
    while (*p) {
        while (*p == ',' || *p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '\n')
            break;
        size_t n = strcspn(p, "=, \t\n");
        if (p[n] != '=')
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning \"%s\": expected name=value at \"%s\"",
                            text, p);
        size_t i = 0;
        while (i < sizeof params / sizeof params[0] &&
               (strlen(params[i].name) != n || strncmp(params[i].name, p, n) != 0))
            i++;
        if (i == sizeof params / sizeof params[0])
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning \"%s\": unknown parameter \"%.*s\"",
                            text, (int)n, p);
        char *end = NULL;
        long v = strtol(p + n + 1, &end, 10);
        if (end == p + n + 1 || (*end && !strchr(", \t\n", *end)) || v < params[i].lo ||
            v > params[i].hi)
            return an__fail(AN_ERR_INVALID_ARGUMENT,
                            "tuning \"%s\": %s takes an integer from %d to %d", text,
                            params[i].name, params[i].lo, params[i].hi);
        if (strcmp(params[i].name, "gemv_lws") == 0 && (v & (v - 1)))
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning: gemv_lws must be a power of two");
        if (strcmp(params[i].name, "conv_vec") == 0 && v != 4 && v != 8 && v != 16)
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning: conv_vec must be 4, 8 or 16");
        if (strcmp(params[i].name, "fc_vec") == 0 && v != 8 && v != 16)
            return an__fail(AN_ERR_INVALID_ARGUMENT, "tuning: fc_vec must be 8 or 16");
        *(int *)((char *)t + params[i].offset) = (int)v;
        p = end;
    }
    return AN_OK;
}

void an__tuning_format(const an__tuning *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof params / sizeof params[0] && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s=%d", i ? "," : "", params[i].name,
                                 *(const int *)((const char *)t + params[i].offset));
}

void an__tuning_device_key(const an_device_info *info, char *buf, size_t size)
{
    snprintf(buf, size, "%s|%s|%s|%u", info->platform, info->name, info->driver,
             info->compute_units);
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
}

const char *an__tuning_path(void)
{
    static _Thread_local char path[4200];
    const char *dir = an__cache_dir();
    if (!dir)
        return NULL;
    snprintf(path, sizeof path, "%s/tuning.txt", dir);
    return path;
}

void an__tuning_conv_key(char *buf, size_t size, int c, int h, int w, int oc, int k, int s, int p,
                         int groups, int batch)
{
    snprintf(buf, size, "conv c=%d h=%d w=%d oc=%d k=%d s=%d p=%d g=%d n=%d", c, h, w, oc, k, s, p,
             groups, batch);
}

void an__tuning_fc_key(char *buf, size_t size, int in, int out, int batch)
{
    snprintf(buf, size, "fc i=%d o=%d n=%d", in, out, batch);
}

an__tuning an__tuning_for(const an_model *m, const char *key)
{
    an__tuning t = m->tuning;
    for (int i = 0; i < m->n_tuned; i++)
        if (strcmp(m->tuned[i].key, key) == 0 && an__tuning_parse(m->tuned[i].params, &t) != AN_OK)
            return m->tuning; /* a bad entry: the device's tuning */
    return t;
}

int an__clblast_override(cl_device_id device, const char *kernel, const char *text)
{
    enum { MAX_PARAMS = 32 };
    char names[MAX_PARAMS][24];
    const char *name_ptrs[MAX_PARAMS];
    size_t values[MAX_PARAMS];
    size_t n = 0;
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, "=");
        char *end = NULL;
        if (n == MAX_PARAMS || len == 0 || len >= sizeof names[0] || p[len] != '=')
            return an__fail(AN_ERR_INVALID_ARGUMENT,
                            "CLBlast %s parameters \"%s\": expected "
                            "NAME=VALUE,... (at most %d)",
                            kernel, text, MAX_PARAMS);
        unsigned long long v = strtoull(p + len + 1, &end, 10);
        if (end == p + len + 1 || (*end && *end != ','))
            return an__fail(AN_ERR_INVALID_ARGUMENT,
                            "CLBlast %s parameters \"%s\": bad value "
                            "for %.*s",
                            kernel, text, (int)len, p);
        memcpy(names[n], p, len);
        names[n][len] = 0;
        name_ptrs[n] = names[n];
        values[n++] = (size_t)v;
        p = *end ? end + 1 : end;
    }
    CLBlastStatusCode st =
        CLBlastOverrideParameters(device, kernel, CLBlastPrecisionSingle, n, name_ptrs, values);
    if (st != CLBlastSuccess)
        return an__fail(AN_ERR_CLBLAST, "CLBlastOverrideParameters(%s, \"%s\") failed: %d", kernel,
                        text, (int)st);
    return AN_OK;
}

/* Defaults, then the tuning file's lines for this device ("device" applies to
 * the whole model, "clblast Xgemm" overrides CLBlast's SGEMM kernel
 * parameters for the device, other keys apply to one layer shape and batch),
 * or, when $ALEXNET_TUNING is set, the defaults with that forced on
 * everything (and CLBlast left as it is). */
static int load_tuning(an_model *m)
{
    m->tuning = an__tuning_defaults(&m->dev->info);
    const char *forced = getenv("ALEXNET_TUNING");
    if (forced && *forced)
        return an__tuning_parse(forced, &m->tuning);
    const char *path = an__tuning_path();
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return AN_OK;
    char dkey[512], line[1024];
    an__tuning_device_key(&m->dev->info, dkey, sizeof dkey);
    size_t dlen = strlen(dkey);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0] == '#' || strncmp(line, dkey, dlen) != 0 || line[dlen] != '|')
            continue;
        char *key = line + dlen + 1, *bar = strchr(key, '|');
        if (!bar)
            continue;
        *bar = 0;
        if (strcmp(key, "device") == 0) {
            an__tuning t = m->tuning;
            if (an__tuning_parse(bar + 1, &t) == AN_OK)
                m->tuning = t; /* a malformed line is ignored: defaults stay */
        } else if (strncmp(key, "clblast ", 8) == 0) {
            /* a line CLBlast refuses leaves its own parameters in place */
            if (an__clblast_override(m->dev->device, key + 8, bar + 1) == AN_OK)
                snprintf(m->clblast, sizeof m->clblast, "%s", key + 8);
        } else if (m->n_tuned < AN_MAX_TUNED) {
            snprintf(m->tuned[m->n_tuned].key, sizeof m->tuned[0].key, "%s", key);
            snprintf(m->tuned[m->n_tuned].params, sizeof m->tuned[0].params, "%s", bar + 1);
            m->n_tuned++;
        }
    }
    fclose(f);
    return AN_OK;
}

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
        if (conv || m->tuning.fc_blocked) {
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

static int model_create(an_device *dev, const char *variant, const char *path, uint64_t seed,
                        unsigned flags, an_model **out)
{
    int status = AN_OK;
    an__weights w = {0};
    an_model *m = NULL;
    if (!dev || !out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_model: NULL device or output");
    *out = NULL;
    const an__variant *v = an__variant_find(variant);
    if (!v)
        return AN_ERR_UNKNOWN_VARIANT;
    m = calloc(1, sizeof *m);
    if (!m)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
    m->dev = dev;
    m->variant = v;
    AN_TRY(load_tuning(m));
    if (path)
        AN_TRY(an__weights_load_flags(v, path, flags, &w));
    else
        AN_TRY(an__weights_seed(v, seed, &w));
    AN_TRY(upload_weights(m, &w));
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
    return model_create(dev, variant, path, 0, 0, out);
}

int an_model_load_flags(an_device *dev, const char *variant, const char *path, unsigned flags,
                        an_model **out)
{
    if (!path)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_model_load_flags: no weights path");
    if (flags & ~AN_LOAD_ALLOW_NONFINITE)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_model_load_flags: unknown flags 0x%x",
                        flags & ~AN_LOAD_ALLOW_NONFINITE);
    return model_create(dev, variant, path, 0, flags, out);
}

int an_model_seed(an_device *dev, const char *variant, uint64_t seed, an_model **out)
{
    return model_create(dev, variant, NULL, seed, 0, out);
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
    }
    for (int i = 0; i < model->n_programs; i++)
        clReleaseProgram(model->programs[i].program);
    free(model);
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
        AN_TRY(an__program_get(m->dev, file, options, &prog));
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
