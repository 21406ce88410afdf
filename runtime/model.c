/* model.c - a variant with its weights resident on a device: loading or
 * seeding the host weights, arranging them for the kernels, uploading them,
 * and the model's set of built programs. Plans (plan.c) run the model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static an__tuning default_tuning(const an_device_info *info)
{
    an__tuning t;
    bool cpu = info->type == AN_DEVICE_CPU;
    t.conv_tx = 4;
    t.conv_local = cpu ? 1 : 16;
    t.gemv_lws = 64;
    while (t.gemv_lws > 1 && (size_t)t.gemv_lws > info->max_work_group)
        t.gemv_lws /= 2;
    t.gemv_interleaved = cpu ? 0 : 1;
    t.pointwise_local = info->max_work_group >= 64 ? 64 : (int)info->max_work_group;
    return t;
}

void an__conv_weights_arrange(const float *src, float *dst, int oc, int c, int k)
{
    int blocks = (oc + 7) / 8, taps = c * k * k;
    for (int b = 0; b < blocks; b++)
        for (int t = 0; t < taps; t++)
            for (int j = 0; j < 8; j++) {
                int o = b * 8 + j;
                dst[((size_t)b * taps + t) * 8 + j] = o < oc ? src[(size_t)o * taps + t] : 0.0f;
            }
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

/* Uploads host weights, arranging conv filters and padding their biases. */
static int upload_weights(an_model *m, const an__weights *w)
{
    int status = AN_OK;
    float *tmp = NULL;
    m->n_params = w->count;
    for (int i = 0; i < w->count; i++) {
        m->shape[i] = w->shape[i];
        const int *d = w->shape[i].dims;
        if (w->shape[i].ndim == 4) {
            size_t padded = (size_t)(d[0] + 7) / 8 * 8;
            size_t n = padded * d[1] * d[2] * d[3];
            tmp = calloc(n, sizeof *tmp);
            if (!tmp) {
                status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory arranging weights");
                goto fail;
            }
            an__conv_weights_arrange(w->weight[i], tmp, d[0], d[1], d[2]);
            AN_TRY(upload(m, tmp, n * sizeof *tmp, &m->weight[i]));
            memset(tmp, 0, padded * sizeof *tmp);
            memcpy(tmp, w->bias[i], (size_t)d[0] * sizeof *tmp);
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
                        an_model **out)
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
    m->tuning = default_tuning(&dev->info);
    if (path)
        AN_TRY(an__weights_load(v, path, &w));
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
    return model_create(dev, variant, path, 0, out);
}

int an_model_seed(an_device *dev, const char *variant, uint64_t seed, an_model **out)
{
    return model_create(dev, variant, NULL, seed, out);
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
