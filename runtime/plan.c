/* plan.c - a model prepared for one (batch, input size): the layer table
 * turned into a list of steps with buffers allocated and kernel arguments set
 * once, and the forward pass that enqueues them on one in-order queue with no
 * host wait between layers. ReLU is fused into the layer before it, dropout
 * and an identity adaptive pool cost nothing. */
#include <clblast_c.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef enum { STEP_KERNEL, STEP_GEMM } step_kind;

typedef struct step {
    step_kind kind;
    int layer; /* index into the variant's table */
    cl_kernel kernel;
    cl_uint dims;
    size_t global[3], local[3];
    int src_arg; /* STEP_KERNEL: the argument that takes the layer's input */
    /* STEP_GEMM: y (m, n) = x (m, k) . w (n, k)^T, then `kernel` adds the bias */
    cl_mem x, w, y;
    size_t m, n, k;
    cl_mem temp;  /* CLBlast's temporary buffer (NULL when it needs none) */
    cl_mem panel; /* gemv_panel's copy of the weights in panels, the model's (panel_acquire;
                     NULL when none) */
    /* STEP_KERNEL: kernels enqueued after `kernel`, in order (space-to-depth's
     * conv; Winograd's GEMM and output transform, after its input transform
     * or after space-to-depth) */
    int n_more;
    struct {
        cl_kernel kernel;
        cl_uint dims;
        size_t global[3], local[3];
    } more[3];
    /* A linear layer split into parts (model.c's an__fc_parts): n_sub
     * steps, part j writing (N, sub[j].rows) into its own sub[j].part_y,
     * which is then copied into columns [o0, o0 + rows) of part_dst (N,
     * full_o). The parent step itself runs no kernel. */
    struct step *sub;
    int n_sub;
    cl_mem part_y, part_dst;
    size_t o0, rows, full_o, batch;
} step;

struct an_plan {
    an_model *model;
    int batch, height, width;
    an_layer_info layers[AN_MAX_LAYERS];
    int n_layers;
    cl_mem input[2]; /* two, so that a batch can be written while one computes */
    cl_mem act[2], logits, probs;
    size_t act_bytes;
    cl_mem wino_v, wino_m; /* Winograd's V and M, shared by its layers (NULL when none) */
    size_t wino_v_bytes, wino_m_bytes;
    cl_mem s2d; /* space-to-depth input, shared by its layers (NULL when none) */
    size_t s2d_bytes;
    step steps[AN_MAX_LAYERS];
    int n_steps;
    cl_kernel softmax;
    size_t softmax_global, softmax_local;
    cl_event pending; /* the read-back of the pass an_plan_enqueue started, or NULL */
    bool io_mapped;   /* input, logits and probs are CL_MEM_ALLOC_HOST_PTR, moved by mapping */
};

static size_t round_up(size_t x, size_t m)
{
    return (x + m - 1) / m * m;
}

/* Clamps a wanted work-group size to what the kernel and device allow. */
static int local_size(const an_model *m, cl_kernel k, size_t want, size_t *out)
{
    int status = AN_OK;
    size_t kwg = 0;
    AN_CL(clGetKernelWorkGroupInfo(k, m->dev->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg, &kwg,
                                   NULL));
    if (want > kwg)
        want = kwg;
    if (want > m->dev->info.max_work_group)
        want = m->dev->info.max_work_group;
    *out = want > 0 ? want : 1;
    return AN_OK;
fail:
    return status;
}

/* A 1-D step of n work-items. */
static int step_1d(an_plan *p, step *s, size_t n)
{
    int status = AN_OK;
    size_t local = 1;
    AN_TRY(local_size(p->model, s->kernel, (size_t)p->model->tuning.pointwise_local, &local));
    s->dims = 1;
    s->local[0] = local;
    s->global[0] = round_up(n, local);
    return AN_OK;
fail:
    return status;
}

/* A conv layer's tuning: the model's with its tuning-file entry. */
static an__tuning conv_tuning(const an_plan *p, int layer, const an_layer_info *in,
                              const an_layer_info *o)
{
    const an_model *m = p->model;
    const an__layer *l = &m->variant->layers[layer];
    int G = l->groups > 1 ? l->groups : 1;
    char key[96];
    an__tuning_conv_key(key, sizeof key, in->c, in->h, in->w, o->c, l->kernel, l->stride, l->pad, G,
                        p->batch);
    return an__tuning_for(m, key);
}

/* The space-to-depth grid of a stride-s, k x k conv with an oh x ow output:
 * kq = ceil(k/s) taps, hb x wb blocks (exactly what the stride-1 form reads),
 * and the floats of the rearranged input of n images of c channels (2^48
 * when its rows would pass the kernel's int index, so that the plan's memory
 * check refuses it). */
typedef struct {
    int kq, hb, wb, rows;
    size_t floats;
} s2d_dims;

static s2d_dims s2d_size(int n, int c, int oh, int ow, int k, int s)
{
    s2d_dims d = {0};
    d.kq = (k + s - 1) / s;
    d.hb = oh + d.kq - 1;
    d.wb = ow + d.kq - 1;
    long long rows = (long long)n * c * s * s * d.hb;
    if (rows > INT_MAX || rows * d.wb > INT_MAX) {
        d.floats = (size_t)1 << 48;
        return d;
    }
    d.rows = (int)rows;
    d.floats = (size_t)rows * d.wb;
    return d;
}

/* Winograd's tile counts for an output of oh x ow at batch n with output
 * tiles of wm x wm and tt tiles per GEMM work-item, and the floats of V and
 * M for np transform points (16 or 36), c input and ocp padded output
 * channels (see winograd.cl for the
 * layouts); M 0 when fused (wino_gemm_out never writes it). */
typedef struct {
    int tw, tpi, nt, tt, ntb;
    size_t v, m;
} wino_dims;

static wino_dims wino_size(int n, int oh, int ow, int c, int ocp, int wm, int tt, int np,
                           bool fused)
{
    wino_dims d = {0};
    long long tiles = (long long)((ow + wm - 1) / wm) * ((oh + wm - 1) / wm) * n;
    if (tiles > INT_MAX / np) {
        /* past the kernels' int indices: sized so that the plan's memory check
         * refuses it (2^50 bytes each), never computed in int */
        d.v = d.m = (size_t)1 << 48;
        return d;
    }
    d.tw = (ow + wm - 1) / wm;
    d.tpi = d.tw * ((oh + wm - 1) / wm);
    d.nt = n * d.tpi;
    d.tt = tt < d.nt ? tt : d.nt; /* no block wider than all tiles */
    d.ntb = (d.nt + d.tt - 1) / d.tt;
    d.v = (size_t)np * c * d.ntb * d.tt;
    d.m = fused ? 0 : (size_t)np * d.nt * ocp;
    return d;
}

/* Whether Winograd runs fused (wino_gemm_out) for a layer whose GEMMs reduce
 * over c input channels (per group) at batch n: wino_fused 1 always, 0
 * never, 2 (the CPU default) when c <= 128 or n == 1. On PoCL
 * pthread-haswell fused took 0.7-0.87x the time on conv2 (64 and 96
 * channels) and 0.8-1.0x on conv1 through space-to-depth (48) at batch 64,
 * but 1.1-1.6x on conv3-5 (192-384), whose U block per point the unfused
 * GEMM keeps in L1 across tile blocks; at batch 1 fused was faster on every
 * layer (docs/PERFORMANCE.md). */
static bool wino_fused_on(const an__tuning *t, int c, int n)
{
    return t->wino_fused == 1 || (t->wino_fused == 2 && (c <= 128 || n == 1));
}

/* The convolution a conv layer's main kernels compute: the layer itself or,
 * through space-to-depth (asked for, stride > 1, its weights made at load),
 * the stride-1 form over the s2d buffer: C*S*S channels on an hb x wb grid,
 * ceil(K/S) taps, no padding. wino: that convolution runs as Winograd
 * (conv_algo 1, R x R stride 1 with R = 3 or 5, U made at load; model.c
 * makes a stride > 1 layer's U from its s2d weights). */
typedef struct {
    bool s2d, wino, fused; /* fused: Winograd through wino_gemm_out (wino_fused_on) */
    int c, h, w;           /* input channels (all groups), height, width */
    int k, stride, pad;
    int wm; /* Winograd's output tile (an__winograd_tile), when wino */
} conv_form;

static conv_form conv_form_of(const an_plan *p, int layer, const an_layer_info *in,
                              const an_layer_info *o, const an__tuning *t)
{
    const an_model *m = p->model;
    const an__layer *l = &m->variant->layers[layer];
    int pi = an__model_param_index(m, layer);
    conv_form f = {
        .c = in->c, .h = in->h, .w = in->w, .k = l->kernel, .stride = l->stride, .pad = l->pad};
    f.s2d = t->conv_s2d && l->stride > 1 && pi >= 0 && m->s2d[pi];
    if (f.s2d) {
        s2d_dims d = s2d_size(p->batch, in->c, o->h, o->w, l->kernel, l->stride);
        f.c = in->c * l->stride * l->stride;
        f.h = d.hb;
        f.w = d.wb;
        f.k = d.kq;
        f.stride = 1;
        f.pad = 0;
    }
    f.wm = an__winograd_tile(f.k, t->wino_m, p->batch, o->h, o->w);
    /* a tile whose U was not made (larger than the device's largest
     * allocation, model.c upload_winograd) gives way to the other one */
    if (pi >= 0 && !m->wino[pi][f.wm > 2] && m->wino[pi][f.wm == 2])
        f.wm = f.wm > 2 ? 2 : an__winograd_large_tile(f.k);
    f.wino = t->conv_algo == 1 && pi >= 0 && m->wino[pi][f.wm > 2] &&
             an__winograd_shape_ok(f.k, f.stride, f.pad);
    f.fused = f.wino && wino_fused_on(t, f.c / (l->groups > 1 ? l->groups : 1), p->batch);
    return f;
}

/* A kernel launch of a step: its first kernel or one of its `more`. */
typedef struct {
    cl_kernel kernel;
    cl_uint *dims;
    size_t *global, *local;
} launch;

/* Appends kernel `name` of `file` to step s of layer `layer`: as its first
 * kernel (the step then counts in the plan; argument 0 takes the layer's
 * input) or after the ones it has. *out: where its sizes go. */
static int step_kernel(an_plan *p, step *s, int layer, const char *file, const char *opts,
                       const char *name, launch *out)
{
    int status = AN_OK;
    if (!s->kernel) {
        s->kind = STEP_KERNEL;
        s->layer = layer;
        s->src_arg = 0;
        AN_TRY(an__model_kernel(p->model, file, opts, name, &s->kernel));
        p->n_steps++;
        *out = (launch){s->kernel, &s->dims, s->global, s->local};
        return AN_OK;
    }
    int i = s->n_more;
    if (i >= (int)(sizeof s->more / sizeof s->more[0]))
        return an__fail(AN_ERR_INVALID_ARGUMENT, "a step of layer %d has too many kernels",
                        layer + 1);
    AN_TRY(an__model_kernel(p->model, file, opts, name, &s->more[i].kernel));
    s->n_more++;
    *out = (launch){s->more[i].kernel, &s->more[i].dims, s->more[i].global, s->more[i].local};
    return AN_OK;
fail:
    return status;
}

/* The blocks of output channels a work-item computes for a group of bpg
 * blocks, at most `want`: as many work-items a group as with `want`
 * (ceil(bpg / want)), the blocks spread evenly over them. A work-item's
 * blocks past the group's end are computed and not stored, so 6 blocks
 * (caffe-227's conv1, 96 channels in float16) as 4 + 4 waste a quarter of
 * the layer, as 3 + 3 nothing: on PoCL pthread-skylake-avx512 (Xeon)
 * caffe-227's conv1 at batch 64 took 55 ms as 4 pixels x 3 blocks against
 * 74 ms as 4 x 4 (docs/PERFORMANCE.md). */
static int even_ocb(int bpg, int want)
{
    int per = (bpg + want - 1) / want; /* work-items a group */
    return (bpg + per - 1) / per;
}

/* wino_gemm_out's blocks of wino_tt tiles per work-item: each point's U
 * block is then read from L1 for WINO_TB tile blocks in turn; measured 0.7-1.0x
 * the time of one block a work-item on PoCL pthread-haswell at batch 64
 * (docs/PERFORMANCE.md) */
enum { WINO_TB = 4 };

/* Winograd F(2x2,3x3), F(4x4,3x3) (wino_m 4), F(2x2,5x5) or F(3x3,5x5) (wino_m 4) of the
 * convolution f (winograd.cl): input transform, 16, 36 or 49 GEMMs, output transform, appended to
 * step s (after space-to-depth when f.s2d), through the plan's V and M buffers; with f->fused the
 * GEMMs and the output transform as one kernel (wino_gemm_out), through V only. */
static int add_winograd(an_plan *p, step *s, int layer, const conv_form *f, const an_layer_info *o,
                        int relu, cl_mem src, cl_mem dst, const an__tuning *t)
{
    int status = AN_OK;
    an_model *m = p->model;
    const an__layer *l = &m->variant->layers[layer];
    int pi = an__model_param_index(m, layer);
    int G = l->groups > 1 ? l->groups : 1, vw = m->tuning.conv_vec;
    int C = f->c / G, OC = o->c, bpg = (OC / G + vw - 1) / vw;
    int wm = f->wm, np = an__winograd_points(f->k, wm);
    cl_mem u = m->wino[pi][wm > 2];
    wino_dims d = wino_size(p->batch, o->h, o->w, f->c, G * bpg * vw, wm, t->wino_tt, np, f->fused);
    int ocb = even_ocb(bpg, t->wino_ocb), nz = G * ((bpg + ocb - 1) / ocb);
    char opts[160];
    snprintf(opts, sizeof opts,
             "-cl-std=CL1.2 -DR=%d -DWM=%d -DTT=%d -DOCB=%d -DVW=%d -DRELU=%d -DTB=%d", f->k, wm,
             d.tt, ocb, vw, relu, WINO_TB);
    launch in, gemm, out;
    AN_TRY(step_kernel(p, s, layer, "winograd.cl", opts, "wino_input", &in));

    cl_kernel k = in.kernel;
    AN_CL(clSetKernelArg(k, 0, sizeof src, &src));
    AN_CL(clSetKernelArg(k, 1, sizeof(cl_mem), &p->wino_v));
    const int in_ints[] = {C, f->h, f->w, G, d.tw, d.tpi, d.nt, d.ntb, f->pad};
    for (int i = 0; i < 9; i++)
        AN_CL(clSetKernelArg(k, (cl_uint)(2 + i), sizeof(int), &in_ints[i]));
    /* (channel, block of tiles, group): channels of one block a group */
    size_t local = 1;
    AN_TRY(local_size(m, k, (size_t)m->tuning.pointwise_local, &local));
    if (local > (size_t)C)
        local = (size_t)C;
    *in.dims = 3;
    in.local[0] = local;
    in.local[1] = in.local[2] = 1;
    in.global[0] = round_up((size_t)C, local);
    in.global[1] = (size_t)d.ntb;
    in.global[2] = (size_t)G;

    if (f->fused) {
        /* GEMM and output transform in one kernel, no M */
        AN_TRY(step_kernel(p, s, layer, "winograd.cl", opts, "wino_gemm_out", &gemm));
        k = gemm.kernel;
        AN_CL(clSetKernelArg(k, 0, sizeof(cl_mem), &p->wino_v));
        AN_CL(clSetKernelArg(k, 1, sizeof u, &u));
        AN_CL(clSetKernelArg(k, 2, sizeof(cl_mem), &m->bias[pi]));
        AN_CL(clSetKernelArg(k, 3, sizeof dst, &dst));
        const int ints[] = {C, G, bpg, d.nt, d.ntb, nz, OC, o->h, o->w, d.tw, d.tpi};
        for (int i = 0; i < 11; i++)
            AN_CL(clSetKernelArg(k, (cl_uint)(4 + i), sizeof(int), &ints[i]));
        AN_TRY(local_size(m, k, (size_t)t->conv_local, &local));
        *gemm.dims = 2;
        gemm.local[0] = local;
        gemm.local[1] = 1;
        gemm.global[0] = round_up((size_t)(d.ntb + WINO_TB - 1) / WINO_TB, local);
        gemm.global[1] = (size_t)nz;
        return AN_OK;
    }
    AN_TRY(step_kernel(p, s, layer, "winograd.cl", opts, "wino_gemm", &gemm));
    AN_TRY(step_kernel(p, s, layer, "winograd.cl", opts, "wino_output", &out));
    k = gemm.kernel;
    AN_CL(clSetKernelArg(k, 0, sizeof(cl_mem), &p->wino_v));
    AN_CL(clSetKernelArg(k, 1, sizeof u, &u));
    AN_CL(clSetKernelArg(k, 2, sizeof(cl_mem), &p->wino_m));
    const int gemm_ints[] = {C, G, bpg, d.nt, d.ntb, nz};
    for (int i = 0; i < 6; i++)
        AN_CL(clSetKernelArg(k, (cl_uint)(3 + i), sizeof(int), &gemm_ints[i]));
    AN_TRY(local_size(m, k, (size_t)t->conv_local, &local));
    *gemm.dims = 3;
    gemm.local[0] = local;
    gemm.local[1] = gemm.local[2] = 1;
    gemm.global[0] = round_up((size_t)d.ntb, local);
    gemm.global[1] = (size_t)nz;
    gemm.global[2] = (size_t)np;

    k = out.kernel;
    AN_CL(clSetKernelArg(k, 0, sizeof(cl_mem), &p->wino_m));
    AN_CL(clSetKernelArg(k, 1, sizeof(cl_mem), &m->bias[pi]));
    AN_CL(clSetKernelArg(k, 2, sizeof dst, &dst));
    const int out_ints[] = {OC, o->h, o->w, G, bpg, d.tw, d.tpi, d.nt};
    for (int i = 0; i < 8; i++)
        AN_CL(clSetKernelArg(k, (cl_uint)(3 + i), sizeof(int), &out_ints[i]));
    AN_TRY(local_size(m, k, (size_t)m->tuning.pointwise_local, &local));
    *out.dims = 2;
    out.local[0] = local;
    out.local[1] = 1;
    out.global[0] = round_up((size_t)d.nt, local);
    out.global[1] = (size_t)G * bpg;
    return AN_OK;
fail:
    return status;
}

/* Implicit GEMM (igemm.cl) for any conv layer: the weights as conv.cl has
 * them, a work-group of exactly ig_lx x ig_ly work-items. */
static int add_igemm(an_plan *p, int layer, const an_layer_info *in, const an_layer_info *o,
                     int relu, cl_mem src, cl_mem dst, const an__tuning *t)
{
    int status = AN_OK;
    an_model *m = p->model;
    const an__layer *l = &m->variant->layers[layer];
    step *s = &p->steps[p->n_steps];
    int pi = an__model_param_index(m, layer);
    int G = l->groups > 1 ? l->groups : 1, vw = m->tuning.conv_vec;
    int C = in->c / G, OC = o->c, bpg = (OC / G + vw - 1) / vw;
    int mb = t->ig_mb < bpg ? t->ig_mb : bpg, ly = t->ig_ly, lx = t->ig_lx;
    if (mb * ly > bpg) /* no more rows of work-items than blocks */
        ly = (bpg + mb - 1) / mb;
    int mt = (bpg + mb * ly - 1) / (mb * ly);
    size_t np = (size_t)p->batch * o->h * o->w, tn = (size_t)lx * t->ig_nb;
    size_t lmem = ((size_t)mb * ly * vw + tn) * t->ig_ks * sizeof(float);
    if (np > INT_MAX)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "%s: Conv2d-%d: %zu output pixels are too many",
                        m->variant->name, layer + 1, np);
    if (lmem > m->dev->info.local_mem || (size_t)lx * ly > m->dev->info.max_work_group)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "%s: Conv2d-%d: implicit GEMM tiles need %zu bytes of local memory and %d "
                        "work-items per group; the device has %llu bytes and %zu",
                        m->variant->name, layer + 1, lmem, lx * ly,
                        (unsigned long long)m->dev->info.local_mem, m->dev->info.max_work_group);
    char opts[256];
    snprintf(opts, sizeof opts,
             "-cl-std=CL1.2 -DK=%d -DS=%d -DP=%d -DVW=%d -DMB=%d -DNB=%d -DKS=%d -DLX=%d -DLY=%d "
             "-DRELU=%d",
             l->kernel, l->stride, l->pad, vw, mb, t->ig_nb, t->ig_ks, lx, ly, relu);
    s->kind = STEP_KERNEL;
    s->layer = layer;
    s->src_arg = 0;
    AN_TRY(an__model_kernel(m, "igemm.cl", opts, "igemm_conv", &s->kernel));
    p->n_steps++;
    cl_kernel k = s->kernel;
    AN_CL(clSetKernelArg(k, 0, sizeof src, &src));
    AN_CL(clSetKernelArg(k, 1, sizeof(cl_mem), &m->weight[pi]));
    AN_CL(clSetKernelArg(k, 2, sizeof(cl_mem), &m->bias[pi]));
    AN_CL(clSetKernelArg(k, 3, sizeof dst, &dst));
    const int ints[] = {C, in->h, in->w, OC, o->h, o->w, G, (int)np, mt};
    for (int i = 0; i < 9; i++)
        AN_CL(clSetKernelArg(k, (cl_uint)(4 + i), sizeof(int), &ints[i]));
    s->dims = 2;
    s->local[0] = (size_t)lx;
    s->local[1] = (size_t)ly;
    s->global[0] = (np + tn - 1) / tn * (size_t)lx;
    s->global[1] = (size_t)G * mt * ly;
    return AN_OK;
fail:
    return status;
}

static int add_conv(an_plan *p, int layer, const an_layer_info *in, const an_layer_info *o,
                    int relu, cl_mem src, cl_mem dst)
{
    int status = AN_OK;
    an_model *m = p->model;
    const an__layer *l = &m->variant->layers[layer];
    step *s = &p->steps[p->n_steps];
    int pi = an__model_param_index(m, layer);
    int G = l->groups > 1 ? l->groups : 1;
    int C = in->c, OC = o->c, OH = o->h, OW = o->w;
    if (C % G || OC % G)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "%s: Conv2d-%d: %d groups do not divide %d input "
                        "and %d output channels",
                        m->variant->name, layer + 1, G, C, OC);
    an__tuning t = conv_tuning(p, layer, in, o);
    conv_form f = conv_form_of(p, layer, in, o, &t);
    if (t.conv_algo == 2 && !f.s2d)
        return add_igemm(p, layer, in, o, relu, src, dst, &t);
    /* space-to-depth: s2d.cl writes the S x S blocks of the input into the
     * plan's s2d buffer, then the step's next kernels run the stride-1
     * ceil(K/S)-tap conv over C*S*S channels on it */
    cl_mem conv_in = src;
    launch k;
    if (f.s2d) {
        s2d_dims d = s2d_size(p->batch, C, OH, OW, l->kernel, l->stride);
        AN_TRY(step_kernel(p, s, layer, "s2d.cl", "-cl-std=CL1.2", "space_to_depth", &k));
        AN_CL(clSetKernelArg(k.kernel, 0, sizeof src, &src));
        AN_CL(clSetKernelArg(k.kernel, 1, sizeof(cl_mem), &p->s2d));
        const int ints[] = {C, in->h, in->w, l->stride, l->pad, d.hb, d.wb, d.rows};
        for (int i = 0; i < 8; i++)
            AN_CL(clSetKernelArg(k.kernel, (cl_uint)(2 + i), sizeof(int), &ints[i]));
        AN_TRY(step_1d(p, s, (size_t)d.rows));
        conv_in = p->s2d;
    }
    if (f.wino)
        return add_winograd(p, s, layer, &f, o, relu, conv_in, dst, &t);
    /* conv1 (11x11, stride 4, one group) has tile parameters of its own */
    bool first = l->kernel == 11 && l->stride == 4 && G == 1;
    int vw = m->tuning.conv_vec; /* the model's: the weights are arranged for it */
    int bpg = (OC / G + vw - 1) / vw;
    int tx = first ? t.conv1_tx : t.conv_tx;
    int ocb = even_ocb(bpg, first ? t.conv1_ocb : t.conv_ocb);
    char opts[256];
    snprintf(opts, sizeof opts,
             "-cl-std=CL1.2 -DK=%d -DS=%d -DP=%d -DTX=%d -DOCB=%d -DVW=%d -DRELU=%d", f.k, f.stride,
             f.pad, tx, ocb, vw, relu);
    AN_TRY(step_kernel(p, s, layer, "conv.cl", opts, "conv2d", &k));
    int nz = p->batch * G * ((bpg + ocb - 1) / ocb);
    cl_mem conv_w = f.s2d ? m->s2d[pi] : m->weight[pi];
    AN_CL(clSetKernelArg(k.kernel, 0, sizeof conv_in, &conv_in));
    AN_CL(clSetKernelArg(k.kernel, 1, sizeof(cl_mem), &conv_w));
    AN_CL(clSetKernelArg(k.kernel, 2, sizeof(cl_mem), &m->bias[pi]));
    AN_CL(clSetKernelArg(k.kernel, 3, sizeof dst, &dst));
    const int ints[] = {f.c / G, f.h, f.w, OC, OH, OW, nz, G};
    for (int i = 0; i < 8; i++)
        AN_CL(clSetKernelArg(k.kernel, (cl_uint)(4 + i), sizeof(int), &ints[i]));
    size_t local = 1;
    AN_TRY(local_size(m, k.kernel, (size_t)t.conv_local, &local));
    *k.dims = 3;
    k.local[0] = local;
    k.local[1] = k.local[2] = 1;
    k.global[0] = round_up((size_t)(OW + tx - 1) / tx, local);
    k.global[1] = (size_t)OH;
    k.global[2] = (size_t)nz;
    return AN_OK;
fail:
    return status;
}

static int add_pool(an_plan *p, int layer, const an_layer_info *in, const an_layer_info *o,
                    cl_mem src, cl_mem dst)
{
    int status = AN_OK;
    an_model *m = p->model;
    step *s = &p->steps[p->n_steps];
    bool maxpool = o->kind == AN_LAYER_MAXPOOL;
    s->kind = STEP_KERNEL;
    s->layer = layer;
    s->src_arg = 0;
    int px = maxpool ? m->tuning.pool_px : 1;
    if (px > o->w)
        px = o->w; /* a tile past the row would take the clipped path for nothing */
    char opts[96] = "-cl-std=CL1.2";
    if (maxpool)
        snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DK=%d -DS=%d -DPX=%d", o->kernel, o->stride,
                 px);
    AN_TRY(an__model_kernel(m, "pool.cl", opts, maxpool ? "maxpool2d" : "adaptive_avgpool2d",
                            &s->kernel));
    p->n_steps++;
    cl_kernel k = s->kernel;
    int nc = p->batch * in->c;
    AN_CL(clSetKernelArg(k, 0, sizeof src, &src));
    AN_CL(clSetKernelArg(k, 1, sizeof dst, &dst));
    const int ints[] = {nc, in->h, in->w, o->h, o->w};
    for (int i = 0; i < 5; i++)
        AN_CL(clSetKernelArg(k, (cl_uint)(2 + i), sizeof(int), &ints[i]));
    return step_1d(p, s, (size_t)nc * o->h * ((o->w + px - 1) / px));
fail:
    return status;
}

/* The panel width gemv_panel uses for a layer of O outputs and I inputs:
 * tuning.fc_panel rounded down to a multiple of fc_vec, halved (down to
 * fc_vec) while the layer would have fewer panels than the device has
 * compute units (each panel is one work-item) or the copy would exceed the
 * device's largest allocation. At fc_vec the copy is the size of the blocked
 * weights, which fit, so a layer split into parts runs gemv_panel as the
 * whole layer does, with the same arithmetic (the width does not change
 * it). 0, gemv_blocked instead: fc_panel is 0, I is above 16384 (the
 * kernel keeps a list of I ints per work-item), the device's global
 * memory has no room for a second copy of the model's weights, or the model
 * was loaded with AN_LOAD_ALLOW_NONFINITE (skipping a zero input is exact
 * only for finite weights: 0 x NaN is NaN). */
static int panel_width(const an_model *m, int O, int I)
{
    int vw = m->tuning.fc_vec, pw = m->tuning.fc_panel / vw * vw;
    if (pw <= 0 || I > 16384 || m->nonfinite ||
        2 * (uint64_t)m->weight_bytes > m->dev->info.global_mem)
        return 0;
    for (;;) {
        size_t panels = (size_t)((O + pw - 1) / pw);
        size_t bytes = panels * (size_t)pw * (size_t)I * (m->fc_half ? 2 : 4);
        bool narrower = panels < m->dev->info.compute_units || bytes > m->dev->info.max_alloc;
        if (pw == vw || !narrower)
            return pw;
        pw = pw / 2 / vw * vw > vw ? pw / 2 / vw * vw : vw;
    }
}

/* The copy of the blocked weights w (O outputs, I inputs) in panels of pw
 * outputs, for gemv_panel: the model's when one of its plans made it already,
 * else made here (a buffer filled on the device by fc_panel_arrange, built
 * with opts) and kept in the model for its other plans. Each acquire is
 * matched by one panel_release (step_release). */
static int panel_acquire(an_model *m, cl_mem w, int O, int I, int pw, const char *opts, cl_mem *out)
{
    int status = AN_OK;
    cl_kernel arrange = NULL;
    cl_mem panel = NULL;
    *out = NULL;
    int vw = m->tuning.fc_vec;
    pthread_mutex_lock(&m->panel_lock);
    for (int i = 0; i < m->n_panels; i++)
        if (m->panels[i].w == w && m->panels[i].pw == pw && m->panels[i].vw == vw) {
            m->panels[i].users++;
            *out = m->panels[i].panel;
            pthread_mutex_unlock(&m->panel_lock);
            return AN_OK;
        }
    if (m->n_panels == m->cap_panels) {
        int cap = m->cap_panels ? 2 * m->cap_panels : 8;
        an__fc_panel *grown = realloc(m->panels, (size_t)cap * sizeof *grown);
        if (!grown) {
            status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
            goto fail;
        }
        m->panels = grown;
        m->cap_panels = cap;
    }
    size_t panels = (size_t)(O + pw - 1) / (size_t)pw;
    size_t bytes = panels * (size_t)I * (size_t)pw * (m->fc_half ? 2 : 4);
    AN_CL_OBJ(panel, clCreateBuffer(m->dev->context, CL_MEM_READ_WRITE, bytes, NULL, &an__err));
    AN_TRY(an__model_kernel(m, "fc.cl", opts, "fc_panel_arrange", &arrange));
    AN_CL(clSetKernelArg(arrange, 0, sizeof w, &w));
    AN_CL(clSetKernelArg(arrange, 1, sizeof panel, &panel));
    AN_CL(clSetKernelArg(arrange, 2, sizeof(int), &O));
    size_t rows = panels * (size_t)I;
    AN_CL(clEnqueueNDRangeKernel(m->dev->queue, arrange, 1, NULL, &rows, NULL, 0, NULL, NULL));
    AN_CL(clFinish(m->dev->queue));
    m->panels[m->n_panels++] =
        (an__fc_panel){.w = w, .pw = pw, .vw = vw, .panel = panel, .users = 1};
    *out = panel;
    panel = NULL;
fail:
    pthread_mutex_unlock(&m->panel_lock);
    if (arrange)
        clReleaseKernel(arrange);
    if (panel)
        clReleaseMemObject(panel);
    return status;
}

/* Gives back one use of a copy from panel_acquire; the last frees it. */
static void panel_release(an_model *m, cl_mem panel)
{
    pthread_mutex_lock(&m->panel_lock);
    for (int i = 0; i < m->n_panels; i++)
        if (m->panels[i].panel == panel) {
            if (--m->panels[i].users == 0) {
                clReleaseMemObject(panel);
                m->panels[i] = m->panels[--m->n_panels];
            }
            break;
        }
    pthread_mutex_unlock(&m->panel_lock);
}

/* Batch 1 to fc_panel_batch through gemv_panel into step s: the weights w in
 * panels of pw outputs (panel_acquire), then the product with the bias b, the
 * batch's rows at once (-DROWS). */
static int add_gemv_panel(an_plan *p, step *s, int I, int O, int pw, int relu, cl_mem src,
                          cl_mem dst, cl_mem w, cl_mem b)
{
    int status = AN_OK;
    an_model *m = p->model;
    char copy_opts[160], opts[192];
    /* the copy's program does not depend on the layer's ReLU or the batch */
    snprintf(copy_opts, sizeof copy_opts, "-cl-std=CL1.2 -DVW=%d -DKDIM=%d -DPANEL=%d%s",
             m->tuning.fc_vec, I, pw, m->fc_half ? " -DWHALF=1" : "");
    snprintf(opts, sizeof opts, "%s -DRELU=%d -DROWS=%d", copy_opts, relu, p->batch);
    size_t panels = (size_t)(O + pw - 1) / (size_t)pw;
    AN_TRY(panel_acquire(m, w, O, I, pw, copy_opts, &s->panel));
    s->kind = STEP_KERNEL;
    s->src_arg = 1;
    AN_TRY(an__model_kernel(m, "fc.cl", opts, "gemv_panel", &s->kernel));
    cl_kernel k = s->kernel;
    AN_CL(clSetKernelArg(k, 0, sizeof s->panel, &s->panel));
    AN_CL(clSetKernelArg(k, 1, sizeof src, &src));
    AN_CL(clSetKernelArg(k, 2, sizeof b, &b));
    AN_CL(clSetKernelArg(k, 3, sizeof dst, &dst));
    AN_CL(clSetKernelArg(k, 4, sizeof(int), &O));
    s->dims = 1;
    s->global[0] = panels;
    s->local[0] = 1;
fail:
    return status;
}

/* One linear layer, or one part of a split one, into step s: O outputs
 * from the weights w and bias b, written to dst (N, O); key_o is the whole
 * layer's outputs (its tuning key). */
static int add_linear_part(an_plan *p, step *s, int layer, int I, int O, int key_o, int relu,
                           cl_mem src, cl_mem dst, cl_mem w, cl_mem b)
{
    int status = AN_OK;
    an_model *m = p->model;
    int N = p->batch;
    int vw = m->tuning.fc_vec; /* the model's: the blocked weights are arranged for it */
    char opts[160];
    s->layer = layer;
    if (N > 1 && m->tuning.fc_blocked) {
        /* a small batch (up to the layer's fc_panel_batch, which the tuning
         * file may set per layer and batch): gemv_panel with one row of
         * accumulators per image, the input columns that are zero in every
         * row skipped */
        char key[96];
        an__tuning_fc_key(key, sizeof key, I, key_o, N);
        int pw = N <= an__tuning_for(m, key).fc_panel_batch ? panel_width(m, O, I) : 0;
        if (pw > 0)
            return add_gemv_panel(p, s, I, O, pw, relu, src, dst, w, b);
    }
    if (N == 1) {
        /* batch 1: a matrix-vector product, bias and ReLU fused. On blocked
         * weights each work-item streams one contiguous slab (gemv_blocked),
         * or one panel of a copy that skips zero inputs (gemv_panel, with
         * fc_panel); else a work-group per output row (gemv_rows) */
        bool blocked = m->tuning.fc_blocked;
        int pw = blocked ? panel_width(m, O, I) : 0;
        if (pw > 0)
            return add_gemv_panel(p, s, I, O, pw, relu, src, dst, w, b);
        if (blocked)
            snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DRELU=%d -DVW=%d%s", relu, vw,
                     m->fc_half ? " -DWHALF=1" : "");
        else
            snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DRELU=%d -DLWS=%d -DINTERLEAVED=%d", relu,
                     m->tuning.gemv_lws, m->tuning.gemv_interleaved);
        s->kind = STEP_KERNEL;
        s->src_arg = 1;
        AN_TRY(
            an__model_kernel(m, "fc.cl", opts, blocked ? "gemv_blocked" : "gemv_rows", &s->kernel));
        cl_kernel k = s->kernel;
        AN_CL(clSetKernelArg(k, 0, sizeof w, &w));
        AN_CL(clSetKernelArg(k, 1, sizeof src, &src));
        AN_CL(clSetKernelArg(k, 2, sizeof b, &b));
        AN_CL(clSetKernelArg(k, 3, sizeof dst, &dst));
        AN_CL(clSetKernelArg(k, 4, sizeof(int), &O));
        AN_CL(clSetKernelArg(k, 5, sizeof(int), &I));
        s->dims = 1;
        if (blocked) {
            size_t local = 1;
            AN_TRY(local_size(m, k, (size_t)m->tuning.fc_local, &local));
            s->local[0] = local;
            s->global[0] = round_up((size_t)(O + vw - 1) / vw, local);
            return AN_OK;
        }
        size_t kwg = 0;
        AN_CL(clGetKernelWorkGroupInfo(k, m->dev->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg,
                                       &kwg, NULL));
        if (kwg < (size_t)m->tuning.gemv_lws)
            return an__fail(AN_ERR_TOO_LARGE,
                            "gemv_rows needs work-groups of %d, device allows %zu",
                            m->tuning.gemv_lws, kwg);
        s->local[0] = (size_t)m->tuning.gemv_lws;
        s->global[0] = (size_t)O * s->local[0];
        return AN_OK;
    }
    if (m->tuning.fc_blocked) {
        /* batch > 1 on blocked weights: fc_gemm, bias and ReLU fused */
        char key[96];
        an__tuning_fc_key(key, sizeof key, I, key_o, N);
        an__tuning t = an__tuning_for(m, key);
        if (t.fc_tm > N)
            t.fc_tm = N; /* no tile rows past the batch */
        if (t.fc_tnb > (O + vw - 1) / vw)
            t.fc_tnb = (O + vw - 1) / vw; /* nor blocks past the outputs (fc_kb.cl needs both) */
        /* fc_kb > 0: the K-blocked GEMM (fc_kb.cl), each work-item a panel of
         * fc_rt row tiles, no more than the batch needs */
        int rows = t.fc_tm, rt = (N + t.fc_tm - 1) / t.fc_tm;
        if (t.fc_kb > 0) {
            rt = t.fc_rt < rt ? t.fc_rt : rt;
            rows = t.fc_tm * rt;
            snprintf(opts, sizeof opts,
                     "-cl-std=CL1.2 -DRELU=%d -DTM=%d -DTNB=%d -DVW=%d -DRT=%d -DKB=%d -DKDIM=%d "
                     "-DPREFETCH=%d -DWHALF=%d",
                     relu, t.fc_tm, t.fc_tnb, vw, rt, t.fc_kb, I, t.fc_pf, m->fc_half);
        } else {
            snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DRELU=%d -DTM=%d -DTNB=%d -DVW=%d%s", relu,
                     t.fc_tm, t.fc_tnb, vw, m->fc_half ? " -DWHALF=1" : "");
        }
        s->kind = STEP_KERNEL;
        s->src_arg = 0;
        AN_TRY(an__model_kernel(m, t.fc_kb > 0 ? "fc_kb.cl" : "fc.cl", opts,
                                t.fc_kb > 0 ? "fc_kb" : "fc_gemm", &s->kernel));
        cl_kernel k = s->kernel;
        AN_CL(clSetKernelArg(k, 0, sizeof src, &src));
        AN_CL(clSetKernelArg(k, 1, sizeof w, &w));
        AN_CL(clSetKernelArg(k, 2, sizeof b, &b));
        AN_CL(clSetKernelArg(k, 3, sizeof dst, &dst));
        AN_CL(clSetKernelArg(k, 4, sizeof(int), &N));
        AN_CL(clSetKernelArg(k, 5, sizeof(int), &O));
        AN_CL(clSetKernelArg(k, 6, sizeof(int), &I));
        size_t local = 1;
        AN_TRY(local_size(m, k, (size_t)t.fc_local, &local));
        s->dims = 2;
        s->local[0] = local;
        s->local[1] = 1;
        s->global[0] = round_up((size_t)(N + rows - 1) / rows, local);
        s->global[1] = (size_t)(((O + vw - 1) / vw + t.fc_tnb - 1) / t.fc_tnb);
        return AN_OK;
    }
    /* batch > 1: CLBlast SGEMM, then the bias + ReLU epilogue */
    snprintf(opts, sizeof opts, "-cl-std=CL1.2 -DRELU=%d", relu);
    s->kind = STEP_GEMM;
    AN_TRY(an__model_kernel(m, "fc.cl", opts, "bias_act", &s->kernel));
    s->x = src;
    s->w = w;
    s->y = dst;
    s->m = (size_t)N;
    s->n = (size_t)O;
    s->k = (size_t)I;
    /* CLBlast's temporary buffer, sized and allocated once per step */
    size_t temp = 0;
    cl_command_queue q = m->dev->queue;
    CLBlastStatusCode st =
        CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes,
                                   s->m, s->n, s->k, 0, s->k, 0, s->k, 0, s->n, &q, &temp);
    if (st != CLBlastSuccess)
        return an__fail(AN_ERR_CLBLAST, "CLBlastSGemmTempBufferSize (layer %d) failed: %d",
                        layer + 1, (int)st);
    if (temp > 0)
        AN_CL_OBJ(s->temp,
                  clCreateBuffer(m->dev->context, CL_MEM_READ_WRITE, temp, NULL, &an__err));
    AN_CL(clSetKernelArg(s->kernel, 0, sizeof dst, &dst));
    AN_CL(clSetKernelArg(s->kernel, 1, sizeof b, &b));
    AN_CL(clSetKernelArg(s->kernel, 2, sizeof(int), &N));
    AN_CL(clSetKernelArg(s->kernel, 3, sizeof(int), &O));
    return step_1d(p, s, (size_t)N * O);
fail:
    return status;
}

/* A linear layer: one step, or for a layer split into parts (model.c) one
 * step whose sub-steps each compute a part's rows into a buffer of their own
 * and copy them into place (a rectangle copy: each row of the batch). The
 * arithmetic of every output is that of the whole layer's kernel. */
static int add_linear(an_plan *p, int layer, int in_features, const an_layer_info *o, int relu,
                      cl_mem src, cl_mem dst)
{
    int status = AN_OK;
    an_model *m = p->model;
    step *s = &p->steps[p->n_steps++];
    int pi = an__model_param_index(m, layer);
    const an__fc_parts *pt = m->parts[pi];
    s->layer = layer;
    if (!pt)
        return add_linear_part(p, s, layer, in_features, o->c, o->c, relu, src, dst, m->weight[pi],
                               m->bias[pi]);
    s->kind = STEP_KERNEL;
    s->sub = calloc((size_t)pt->n, sizeof *s->sub);
    if (!s->sub)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
    s->n_sub = pt->n;
    for (int j = 0; j < pt->n; j++) {
        step *sub = &s->sub[j];
        size_t o0 = (size_t)j * pt->rows;
        int rows = o->c - (int)o0 < pt->rows ? o->c - (int)o0 : pt->rows;
        sub->layer = layer;
        sub->part_dst = dst;
        sub->o0 = o0;
        sub->rows = (size_t)rows;
        sub->full_o = (size_t)o->c;
        sub->batch = (size_t)p->batch;
        AN_CL_OBJ(sub->part_y,
                  clCreateBuffer(m->dev->context, CL_MEM_READ_WRITE,
                                 (size_t)p->batch * rows * sizeof(float), NULL, &an__err));
        AN_TRY(add_linear_part(p, sub, layer, in_features, rows, o->c, relu, src, sub->part_y,
                               pt->w[j], pt->b[j]));
    }
    s->kind = s->sub[0].kind; /* what the profile calls it */
    return AN_OK;
fail:
    return status;
}

/* Caffe's across-channel LRN (lrn.cl): one work-item per element. */
static int add_lrn(an_plan *p, int layer, const an_layer_info *in, cl_mem src, cl_mem dst)
{
    int status = AN_OK;
    an_model *m = p->model;
    const an__layer *l = &m->variant->layers[layer];
    step *s = &p->steps[p->n_steps];
    if (l->kernel < 1 || l->lrn_beta < 0 || l->lrn_k <= 0)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "%s: LocalResponseNorm-%d has size %d, beta %g, "
                        "k %g",
                        m->variant->name, layer + 1, l->kernel, (double)l->lrn_beta,
                        (double)l->lrn_k);
    s->kind = STEP_KERNEL;
    s->layer = layer;
    s->src_arg = 0;
    AN_TRY(an__model_kernel(m, "lrn.cl",
                            l->lrn_beta == 0.75f ? "-cl-std=CL1.2 -DBETA_075=1" : "-cl-std=CL1.2",
                            "lrn_across", &s->kernel));
    p->n_steps++;
    cl_kernel k = s->kernel;
    const int ints[] = {p->batch, in->c, in->h * in->w, l->kernel};
    const float floats[] = {l->lrn_alpha / (float)l->kernel, l->lrn_beta, l->lrn_k};
    AN_CL(clSetKernelArg(k, 0, sizeof src, &src));
    AN_CL(clSetKernelArg(k, 1, sizeof dst, &dst));
    for (int i = 0; i < 4; i++)
        AN_CL(clSetKernelArg(k, (cl_uint)(2 + i), sizeof(int), &ints[i]));
    for (int i = 0; i < 3; i++)
        AN_CL(clSetKernelArg(k, (cl_uint)(6 + i), sizeof(float), &floats[i]));
    return step_1d(p, s, (size_t)p->batch * in->h * in->w); /* one item per (image, pixel) */
fail:
    return status;
}

static const char *human(double bytes, char *buf, size_t size)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, size, "%.1f %s", bytes, unit[u]);
    return buf;
}

/* Compares what a batch needs with the device's limits before allocating.
 * scratch_pi: the bytes per image of Winograd's V and M and of the
 * space-to-depth input (their largest layers'; without the last block's
 * padding, so a lower bound), which the largest batch that fits is told
 * from along with the activations. */
static int check_fits(const an_plan *p, size_t per_image_act, size_t per_image_in,
                      const size_t scratch_pi[3])
{
    const an_device_info *d = &p->model->dev->info;
    size_t per_image = 2 * per_image_in + 2 * per_image_act + 2 * AN_CLASSES * sizeof(float) +
                       scratch_pi[0] + scratch_pi[1] + scratch_pi[2];
    size_t largest_pi = per_image_act;
    for (int i = 0; i < 3; i++)
        if (scratch_pi[i] > largest_pi)
            largest_pi = scratch_pi[i];
    size_t need = (per_image - scratch_pi[0] - scratch_pi[1] - scratch_pi[2]) * (size_t)p->batch +
                  p->wino_v_bytes + p->wino_m_bytes + p->s2d_bytes;
    size_t largest_buffer = per_image_act * (size_t)p->batch;
    if (p->s2d_bytes > largest_buffer)
        largest_buffer = p->s2d_bytes;
    if (p->wino_v_bytes > largest_buffer)
        largest_buffer = p->wino_v_bytes;
    if (p->wino_m_bytes > largest_buffer)
        largest_buffer = p->wino_m_bytes;
    uint64_t avail =
        d->global_mem > p->model->weight_bytes ? d->global_mem - p->model->weight_bytes : 0;
    if (largest_buffer <= d->max_alloc && need <= avail)
        return AN_OK;
    uint64_t by_alloc = d->max_alloc / largest_pi;
    uint64_t by_mem = avail / per_image;
    uint64_t fits = by_alloc < by_mem ? by_alloc : by_mem;
    char a[32], b[32], c[32], e[32], f[32], verdict[64];
    if (fits)
        snprintf(verdict, sizeof verdict, "the largest batch that fits is %llu",
                 (unsigned long long)fits);
    else
        snprintf(verdict, sizeof verdict, "not even one image fits at this input size");
    return an__fail(
        AN_ERR_TOO_LARGE,
        "batch %d of %dx%d does not fit on %s: activations need %s (largest buffer %s), "
        "the device has %s of global memory beside %s of weights and allocates at most "
        "%s at once; %s",
        p->batch, p->height, p->width, d->name, human((double)need, a, sizeof a),
        human((double)largest_buffer, b, sizeof b), human((double)d->global_mem, c, sizeof c),
        human((double)p->model->weight_bytes, e, sizeof e),
        human((double)d->max_alloc, f, sizeof f), verdict);
}

int an_plan_create(an_model *model, int batch, int height, int width, an_plan **out)
{
    an__clear_error();
    int status = AN_OK;
    an_plan *p = NULL;
    if (!model || !out || batch < 1)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "an_plan_create: need a model, an output and a "
                        "batch of at least 1 (got %d)",
                        batch);
    *out = NULL;
    p = calloc(1, sizeof *p);
    if (!p)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
    p->model = model;
    p->batch = batch;
    p->height = height;
    p->width = width;
    const an__variant *v = model->variant;
    AN_TRY(an_variant_infer(v->name, v->in_channels, height, width, p->layers, &p->n_layers));

    size_t per_image_act = 0;
    for (int i = 0; i < p->n_layers; i++) {
        size_t n = (size_t)p->layers[i].c * p->layers[i].h * p->layers[i].w * sizeof(float);
        if (n > per_image_act)
            per_image_act = n;
    }
    size_t per_image_in = (size_t)v->in_channels * height * width * sizeof(float);
    /* Winograd's V and M (one pair) and the space-to-depth input (one
     * buffer), each as large as its largest layer needs; scratch_pi their
     * bytes per image (for the largest batch that fits) */
    size_t scratch_pi[3] = {0, 0, 0};
    for (int i = 0; i < p->n_layers; i++) {
        an_layer_info in = i > 0 ? p->layers[i - 1]
                                 : (an_layer_info){.c = v->in_channels, .h = height, .w = width};
        if (p->layers[i].kind != AN_LAYER_CONV)
            continue;
        an__tuning t = conv_tuning(p, i, &in, &p->layers[i]);
        conv_form f = conv_form_of(p, i, &in, &p->layers[i], &t);
        if (f.wino) {
            int G = v->layers[i].groups > 1 ? v->layers[i].groups : 1;
            int ocp = an__conv_arranged_oc(p->layers[i].c, G, model->tuning.conv_vec);
            int wm = f.wm, np = an__winograd_points(f.k, wm);
            wino_dims d = wino_size(batch, p->layers[i].h, p->layers[i].w, f.c, ocp, wm, t.wino_tt,
                                    np, f.fused);
            if (d.v * sizeof(float) > p->wino_v_bytes)
                p->wino_v_bytes = d.v * sizeof(float);
            if (d.m * sizeof(float) > p->wino_m_bytes)
                p->wino_m_bytes = d.m * sizeof(float);
            wino_dims d1 =
                wino_size(1, p->layers[i].h, p->layers[i].w, f.c, ocp, wm, 1, np, f.fused);
            if (d1.v * sizeof(float) > scratch_pi[0])
                scratch_pi[0] = d1.v * sizeof(float);
            if (d1.m * sizeof(float) > scratch_pi[1])
                scratch_pi[1] = d1.m * sizeof(float);
        }
        if (f.s2d) {
            s2d_dims d = s2d_size(batch, in.c, p->layers[i].h, p->layers[i].w, v->layers[i].kernel,
                                  v->layers[i].stride);
            if (d.floats * sizeof(float) > p->s2d_bytes)
                p->s2d_bytes = d.floats * sizeof(float);
            s2d_dims d1 = s2d_size(1, in.c, p->layers[i].h, p->layers[i].w, v->layers[i].kernel,
                                   v->layers[i].stride);
            if (d1.floats * sizeof(float) > scratch_pi[2])
                scratch_pi[2] = d1.floats * sizeof(float);
        }
    }
    AN_TRY(check_fits(p, per_image_act, per_image_in, scratch_pi));

    cl_context ctx = model->dev->context;
    p->act_bytes = per_image_act * (size_t)batch;
    size_t out_bytes = (size_t)batch * AN_CLASSES * sizeof(float);
    /* io_mapped: the buffers the host fills and reads in host-visible memory */
    p->io_mapped = model->tuning.io_mapped != 0;
    cl_mem_flags host = p->io_mapped ? CL_MEM_ALLOC_HOST_PTR : 0;
    for (int i = 0; i < 2; i++) {
        AN_CL_OBJ(p->input[i], clCreateBuffer(ctx, CL_MEM_READ_ONLY | host, per_image_in * batch,
                                              NULL, &an__err));
        AN_CL_OBJ(p->act[i], clCreateBuffer(ctx, CL_MEM_READ_WRITE, p->act_bytes, NULL, &an__err));
    }
    AN_CL_OBJ(p->logits, clCreateBuffer(ctx, CL_MEM_READ_WRITE | host, out_bytes, NULL, &an__err));
    AN_CL_OBJ(p->probs, clCreateBuffer(ctx, CL_MEM_WRITE_ONLY | host, out_bytes, NULL, &an__err));
    if (p->wino_v_bytes) {
        AN_CL_OBJ(p->wino_v,
                  clCreateBuffer(ctx, CL_MEM_READ_WRITE, p->wino_v_bytes, NULL, &an__err));
        if (p->wino_m_bytes) /* none when every Winograd layer runs fused */
            AN_CL_OBJ(p->wino_m,
                      clCreateBuffer(ctx, CL_MEM_READ_WRITE, p->wino_m_bytes, NULL, &an__err));
    }

    if (p->s2d_bytes)
        AN_CL_OBJ(p->s2d, clCreateBuffer(ctx, CL_MEM_READ_WRITE, p->s2d_bytes, NULL, &an__err));

    /* Walk the table: `cur` holds the current activation, outputs ping-pong. */
    cl_mem cur = p->input[0];
    int next = 0, last_linear = -1;
    an_layer_info in_shape = {.c = v->in_channels, .h = height, .w = width};
    for (int i = 0; i < p->n_layers; i++)
        if (v->layers[i].kind == AN_LAYER_LINEAR)
            last_linear = i;
    for (int i = 0; i < p->n_layers; i++) {
        const an_layer_info *o = &p->layers[i];
        int relu = i + 1 < p->n_layers && v->layers[i + 1].kind == AN_LAYER_RELU;
        cl_mem dst = i == last_linear ? p->logits : p->act[next];
        switch (o->kind) {
        case AN_LAYER_CONV:
            AN_TRY(add_conv(p, i, &in_shape, o, relu, cur, dst));
            break;
        case AN_LAYER_MAXPOOL:
            AN_TRY(add_pool(p, i, &in_shape, o, cur, dst));
            break;
        case AN_LAYER_ADAPTIVE_AVGPOOL:
            if (in_shape.h == o->h && in_shape.w == o->w)
                goto same_buffer; /* identity: the next layer reads cur */
            AN_TRY(add_pool(p, i, &in_shape, o, cur, dst));
            break;
        case AN_LAYER_LINEAR:
            AN_TRY(add_linear(p, i, in_shape.c * in_shape.h * in_shape.w, o, relu, cur, dst));
            break;
        case AN_LAYER_RELU:
            if (i > 0 && (v->layers[i - 1].kind == AN_LAYER_CONV ||
                          v->layers[i - 1].kind == AN_LAYER_LINEAR))
                goto same_buffer; /* fused into the layer before */
            status =
                an__fail(AN_ERR_INVALID_ARGUMENT, "ReLU-%d follows no conv or linear layer", i + 1);
            goto fail;
        case AN_LAYER_DROPOUT:
            goto same_buffer; /* identity at inference */
        case AN_LAYER_LRN:
            AN_TRY(add_lrn(p, i, &in_shape, cur, dst));
            break;
        }
        cur = dst;
        next ^= 1;
    same_buffer:
        in_shape = *o;
    }
    AN_TRY(an__model_kernel(model, "fc.cl", "-cl-std=CL1.2", "softmax_rows", &p->softmax));
    AN_CL(clSetKernelArg(p->softmax, 0, sizeof(cl_mem), &p->logits));
    AN_CL(clSetKernelArg(p->softmax, 1, sizeof(cl_mem), &p->probs));
    AN_CL(clSetKernelArg(p->softmax, 2, sizeof(int), &batch));
    int classes = AN_CLASSES;
    AN_CL(clSetKernelArg(p->softmax, 3, sizeof(int), &classes));
    AN_TRY(local_size(model, p->softmax, 1, &p->softmax_local));
    p->softmax_global = (size_t)batch;
    *out = p;
    return AN_OK;
fail:
    an_plan_free(p);
    return status;
}

/* Enqueues one step; the first step reads `input` instead of the buffer it
 * was built with. ev (may be NULL) receives events of the step's commands. */
static int enqueue_step(an_plan *p, const step *s, cl_mem input, cl_event ev[2])
{
    int status = AN_OK;
    cl_command_queue q = p->model->dev->queue;
    if (s->n_sub) {
        /* a split linear layer: each part, then its rows copied into place;
         * as for CLBlast, a marker first and the last copy's event */
        if (ev)
            AN_CL(clEnqueueMarkerWithWaitList(q, 0, NULL, &ev[1]));
        for (int j = 0; j < s->n_sub; j++) {
            const step *t = &s->sub[j];
            AN_TRY(enqueue_step(p, t, input, NULL));
            const size_t src_origin[3] = {0, 0, 0}, dst_origin[3] = {t->o0 * sizeof(float), 0, 0};
            const size_t region[3] = {t->rows * sizeof(float), t->batch, 1};
            AN_CL(clEnqueueCopyBufferRect(q, t->part_y, t->part_dst, src_origin, dst_origin, region,
                                          t->rows * sizeof(float), 0, t->full_o * sizeof(float), 0,
                                          0, NULL, ev && j == s->n_sub - 1 ? &ev[0] : NULL));
        }
        return AN_OK;
    }
    if (s->kind == STEP_GEMM) {
        /* CLBlast may run several kernels and its event covers the last only:
         * a marker before it lets the profiler time the whole step */
        if (ev)
            AN_CL(clEnqueueMarkerWithWaitList(q, 0, NULL, &ev[1]));
        CLBlastStatusCode st =
            s->temp ? CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                                 CLBlastTransposeYes, s->m, s->n, s->k, 1.0f,
                                                 input ? input : s->x, 0, s->k, s->w, 0, s->k, 0.0f,
                                                 s->y, 0, s->n, &q, NULL, s->temp)
                    : CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes,
                                   s->m, s->n, s->k, 1.0f, input ? input : s->x, 0, s->k, s->w, 0,
                                   s->k, 0.0f, s->y, 0, s->n, &q, NULL);
        if (st != CLBlastSuccess) {
            const char *name = an__cl_error_name((cl_int)st);
            return an__fail(name ? (int)st : AN_ERR_CLBLAST,
                            "CLBlastSgemm (layer %d, %zux%zux%zu) failed: %s (%d)", s->layer + 1,
                            s->m, s->n, s->k, name ? name : "CLBlast error", (int)st);
        }
    } else if (input) {
        AN_CL(clSetKernelArg(s->kernel, (cl_uint)s->src_arg, sizeof input, &input));
    }
    /* several kernels: as for CLBlast, a marker first and the last one's event */
    if (ev && s->n_more)
        AN_CL(clEnqueueMarkerWithWaitList(q, 0, NULL, &ev[1]));
    AN_CL(clEnqueueNDRangeKernel(q, s->kernel, s->dims, NULL, s->global, s->local, 0, NULL,
                                 ev && !s->n_more ? &ev[0] : NULL));
    for (int i = 0; i < s->n_more; i++)
        AN_CL(clEnqueueNDRangeKernel(q, s->more[i].kernel, s->more[i].dims, NULL, s->more[i].global,
                                     s->more[i].local, 0, NULL,
                                     ev && i == s->n_more - 1 ? &ev[0] : NULL));
    return AN_OK;
fail:
    return status;
}

/* Puts bytes of src into buf: a write (blocking or not) or, with io_mapped, a
 * blocking map, a memcpy and an unmap; the map waits for everything queued
 * before it, and src is free once this returns. ev (may be NULL) receives
 * the event of the write or of the map. */
static int upload(an_plan *p, cl_mem buf, const float *src, size_t bytes, bool blocking,
                  cl_event *ev)
{
    int status = AN_OK;
    cl_command_queue q = p->model->dev->queue;
    if (!p->io_mapped) {
        AN_CL(clEnqueueWriteBuffer(q, buf, blocking ? CL_TRUE : CL_FALSE, 0, bytes, src, 0, NULL,
                                   ev));
        return AN_OK;
    }
    void *ptr = NULL;
    AN_CL_OBJ(ptr, clEnqueueMapBuffer(q, buf, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0, bytes, 0,
                                      NULL, ev, &an__err));
    memcpy(ptr, src, bytes);
    AN_CL(clEnqueueUnmapMemObject(q, buf, ptr, 0, NULL, NULL));
    return AN_OK;
fail:
    if (ev && *ev) {
        clReleaseEvent(*ev);
        *ev = NULL;
    }
    return status;
}

/* Reads bytes of buf into dst: with done NULL, before returning (a blocking
 * read, or with io_mapped a blocking map, a memcpy and an unmap); else a
 * non-blocking read whose event is *done. (A non-blocking read from a
 * host-allocated buffer is the same one copy on a shared-memory device that
 * the caller's memcpy from a mapping would be, and needs no host step after
 * the pass: an_plan_enqueue's contract is one event to wait for.) */
static int download(an_plan *p, cl_mem buf, float *dst, size_t bytes, cl_event *done)
{
    int status = AN_OK;
    cl_command_queue q = p->model->dev->queue;
    if (!p->io_mapped || done) {
        AN_CL(clEnqueueReadBuffer(q, buf, done ? CL_FALSE : CL_TRUE, 0, bytes, dst, 0, NULL, done));
        return AN_OK;
    }
    void *ptr = NULL;
    AN_CL_OBJ(ptr,
              clEnqueueMapBuffer(q, buf, CL_TRUE, CL_MAP_READ, 0, bytes, 0, NULL, NULL, &an__err));
    memcpy(dst, ptr, bytes);
    AN_CL(clEnqueueUnmapMemObject(q, buf, ptr, 0, NULL, NULL));
fail:
    return status;
}

int an__plan_enqueue(an_plan *p, int slot, const float *input, float *output, an_output what,
                     cl_event *done, cl_event *started)
{
    int status = AN_OK;
    cl_command_queue q = p->model->dev->queue;
    cl_mem in = p->input[slot & 1];
    size_t in_bytes =
        (size_t)p->batch * p->model->variant->in_channels * p->height * p->width * sizeof(float);
    AN_TRY(upload(p, in, input, in_bytes, false, started));
    for (int i = 0; i < p->n_steps; i++)
        AN_TRY(enqueue_step(p, &p->steps[i], i == 0 ? in : NULL, NULL));
    cl_mem result = p->logits;
    if (what == AN_OUTPUT_PROBS) {
        size_t g = round_up(p->softmax_global, p->softmax_local);
        AN_CL(clEnqueueNDRangeKernel(q, p->softmax, 1, NULL, &g, &p->softmax_local, 0, NULL, NULL));
        result = p->probs;
    }
    AN_TRY(download(p, result, output, (size_t)p->batch * AN_CLASSES * sizeof(float), done));
    if (done)
        AN_CL(clFlush(q));
    return AN_OK;
fail:
    clFinish(q); /* nothing may still use the caller's buffers once we return */
    if (started && *started) {
        clReleaseEvent(*started);
        *started = NULL;
    }
    return status;
}

int an_plan_forward(an_plan *p, const float *input, float *output, an_output what)
{
    an__clear_error();
    if (!p || !input || !output)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_plan_forward: NULL argument");
    int status = an_plan_wait(p);
    if (status != AN_OK)
        return status;
    return an__plan_enqueue(p, 0, input, output, what, NULL, NULL);
}

/* Waits for the pass in flight, if any; records an error only when asked
 * (an_plan_free must not touch the error text of the call that failed). */
static int plan_wait(an_plan *p, bool record)
{
    if (!p->pending)
        return AN_OK;
    cl_event e = p->pending;
    p->pending = NULL;
    cl_int run = CL_COMPLETE;
    cl_int err = clWaitForEvents(1, &e);
    if (err == CL_SUCCESS)
        err = clGetEventInfo(e, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof run, &run, NULL);
    clReleaseEvent(e);
    if (err == CL_SUCCESS && run < 0)
        err = run;
    if (err == CL_SUCCESS)
        return AN_OK;
    clFinish(p->model->dev->queue);
    return record ? an__cl_fail(err, "clWaitForEvents(forward pass)", __FILE__, __LINE__) : err;
}

int an_plan_wait(an_plan *p)
{
    an__clear_error();
    if (!p)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_plan_wait: NULL plan");
    return plan_wait(p, true);
}

int an_plan_enqueue(an_plan *p, const float *input, float *output, an_output what)
{
    an__clear_error();
    if (!p || !input || !output)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_plan_enqueue: NULL argument");
    int status = an_plan_wait(p);
    if (status != AN_OK)
        return status;
    return an__plan_enqueue(p, 0, input, output, what, &p->pending, NULL);
}

int an__plan_batch(const an_plan *p)
{
    return p->batch;
}

an_model *an__plan_model(const an_plan *p)
{
    return p->model;
}

/* Device time from the start (or, given a marker, the end of the marker)
 * to the end of e, in ms. */
static double event_ms(cl_event marker, cl_event e)
{
    cl_ulong t0 = 0, t1 = 0;
    if (!e ||
        clGetEventProfilingInfo(marker ? marker : e,
                                marker ? CL_PROFILING_COMMAND_END : CL_PROFILING_COMMAND_START,
                                sizeof t0, &t0, NULL) ||
        clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) || t1 < t0)
        return 0;
    return (double)(t1 - t0) * 1e-6;
}

int an__plan_profile(an_plan *p, const float *input, an__step_time *times, int *count)
{
    int status = AN_OK;
    cl_event ev[AN_MAX_LAYERS][2] = {{NULL}};
    cl_command_queue q = p->model->dev->queue;
    if (!p->model->dev->profiling)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "the device's queue was made without CL_QUEUE_PROFILING_ENABLE, so "
                        "layers cannot be timed (an_device_from_cl with a NULL queue makes one)");
    size_t in_bytes =
        (size_t)p->batch * p->model->variant->in_channels * p->height * p->width * sizeof(float);
    AN_TRY(upload(p, p->input[0], input, in_bytes, true, NULL));
    for (int i = 0; i < p->n_steps; i++)
        AN_TRY(enqueue_step(p, &p->steps[i], i == 0 ? p->input[0] : NULL, ev[i]));
    AN_CL(clFinish(q));
    for (int i = 0; i < p->n_steps; i++) {
        times[i].layer = p->steps[i].layer;
        times[i].ms = event_ms(ev[i][1], ev[i][0]);
        times[i].clblast = p->steps[i].kind == STEP_GEMM;
    }
    *count = p->n_steps;
fail:
    for (int i = 0; i < p->n_steps; i++)
        for (int j = 0; j < 2; j++)
            if (ev[i][j])
                clReleaseEvent(ev[i][j]);
    return status;
}

int an_plan_profile(an_plan *p, const float *input, an_layer_time *times, int max, int *count)
{
    an__clear_error();
    if (!p || !input || !times || !count || max < 0)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_plan_profile: NULL argument");
    an__step_time t[AN_MAX_LAYERS];
    int n = 0, status = an_plan_wait(p);
    if (status == AN_OK)
        status = an__plan_profile(p, input, t, &n);
    if (status != AN_OK)
        return status;
    *count = n < max ? n : max;
    for (int i = 0; i < *count; i++)
        times[i] = (an_layer_time){t[i].layer, t[i].ms, t[i].clblast};
    return AN_OK;
}

int an_plan_layers(const an_plan *p, an_layer_info *layers, int *count)
{
    an__clear_error();
    if (!p || !layers || !count)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_plan_layers: NULL argument");
    memcpy(layers, p->layers, (size_t)p->n_layers * sizeof *layers);
    *count = p->n_layers;
    return AN_OK;
}

const an_layer_info *an__plan_layers(const an_plan *p, int *count)
{
    *count = p->n_layers;
    return p->layers;
}

size_t an_plan_activation_bytes(const an_plan *p)
{
    return p ? 2 * p->act_bytes : 0;
}

/* Releases a step's kernels and buffers, and its sub-steps'. */
static void step_release(an_model *m, step *s)
{
    if (s->kernel)
        clReleaseKernel(s->kernel);
    if (s->temp)
        clReleaseMemObject(s->temp);
    if (s->panel)
        panel_release(m, s->panel);
    if (s->part_y)
        clReleaseMemObject(s->part_y);
    for (int j = 0; j < s->n_more; j++)
        if (s->more[j].kernel)
            clReleaseKernel(s->more[j].kernel);
    for (int j = 0; j < s->n_sub; j++)
        step_release(m, &s->sub[j]);
    free(s->sub);
}

void an_plan_free(an_plan *p)
{
    if (!p)
        return;
    plan_wait(p, false); /* nothing may still use the caller's buffers */
    for (int i = 0; i < AN_MAX_LAYERS; i++)
        step_release(p->model, &p->steps[i]);
    if (p->softmax)
        clReleaseKernel(p->softmax);
    cl_mem bufs[] = {p->input[0], p->input[1], p->act[0], p->act[1], p->logits,
                     p->probs,    p->wino_v,   p->wino_m, p->s2d};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i])
            clReleaseMemObject(bufs[i]);
    free(p);
}
