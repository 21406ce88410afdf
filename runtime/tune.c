/* tune.c - an_tune, the library side of `alexnet tune`: searches the kernel
 * parameters (an__tuning) for a device, per layer shape and batch, and stores
 * the winners through the tuning module (tuning.c), which an_model_* then
 * load. Progress goes to the caller's log callback, a line at a time; nothing
 * here prints (CLBlast's own tuner writes its progress to stdout).
 *
 * For each variant and batch, every candidate parameter set runs the whole
 * network on seeded weights with profiling events, so one run times every
 * layer under that set; candidates are timed round-robin over N rounds and
 * each layer keeps its fastest round (shared machines are noisy). Before its times count, a
 * candidate's logits for the first image must match a plain C forward pass in double on the host
 * (the reference) within 1e-4 relative L2 and 1e-3*|ref| + 1e-4*max|ref| per logit: a fast wrong
 * kernel never wins. Each conv and FC layer then takes the fastest correct candidate's parameters
 * (including the algorithm, conv_algo: direct, Winograd for a 3x3 or 5x5 stride-1 layer,
 * implicit GEMM; and conv_s2d: a stride > 1 layer through space-to-depth);
 * the FC weight layout (fc_blocked: our fc_gemm/gemv_blocked, or CLBlast SGEMM/gemv_rows) is a
 * device-wide choice by the total FC time over everything tuned. The vector
 * widths (conv_vec, fc_vec) and the 3x3 Winograd tile (wino_m): they fix the weight layouts)
 * stay the device's defaults and are stored on the device line with fc_blocked, so per-layer
 * tiles are only ever used with the widths they were tuned for.
 * CLBlast's own kernel parameters are not tuned here.
 * The quick search (an_tune_options.quick, `--tune quick`) times a few
 * candidates for the (variant, batch) pairs the tuning file has no entries
 * for, on the FC layout the device uses already, and skips the others. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clblast_tune.h"
#include "internal.h"

/* The log of the an_tune call running on this thread. */
static _Thread_local an_log_fn log_fn;
static _Thread_local void *log_user;

/* Formats a message and hands it to the log a line at a time. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    if (!log_fn)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *line = buf; *line;) {
        size_t n = strcspn(line, "\n");
        char end = line[n];
        line[n] = 0;
        log_fn(line, log_user);
        if (!end)
            break;
        line += n + 1;
    }
}

/* Candidate sets: conv tile (TX, OCB), conv1 tile, FC tile, work-groups,
 * then the conv algorithm (0 direct with the conv tiles; 1 Winograd for the
 * 3x3 and 5x5 stride-1 layers, direct for the others; 2 implicit GEMM for
 * every conv layer), Winograd's GEMM block (tiles x blocks) and the implicit GEMM's
 * parameters (ig_mb, ig_nb, ig_ks, ig_lx, ig_ly), the K-blocked FC GEMM, and
 * Winograd's fusion and 3x3 output tile; 0: the default. */
static const struct {
    int conv_tx, conv_ocb, conv1_tx, conv1_ocb, fc_tm, fc_tnb, conv_local, fc_local;
    int conv_algo, wino_tt, wino_ocb;
    int ig[5];
    int fc_kb, fc_rt; /* fc_kb > 0: the K-blocked FC GEMM (fc_kb.cl) with these */
    int wino_fused;   /* 1: Winograd's GEMM and output transform fused, -1: not, 0: default */
    int wino_m;       /* Winograd's tiles: 2 small, 4 large; 0: the default's */
} cands[] = {
    {4, 2, 4, 2, 8, 1, 0, 0, 0, 0, 0, {0}, 0, 0, 0, 0},
    {2, 4, 2, 4, 4, 2, 0, 0, 0, 0, 0, {0}, 0, 0, 0, 0},
    {6, 2, 6, 2, 6, 2, 0, 0, 0, 0, 0, {0}, 0, 0, 0, 0},
    {8, 1, 8, 1, 8, 2, 0, 0, 0, 0, 0, {0}, 0, 0, 0, 0},
    {3, 3, 3, 3, 2, 4, 0, 0, 0, 0, 0, {0}, 0, 0, 0, 0},
    {4, 3, 5, 2, 4, 3, 0, 0, 0, 0, 0, {0}, 0, 0, 0, 0},
    {7, 2, 4, 1, 1, 4, 0, 0, 0, 0, 0, {0}, 0, 0, 0, 0},
    {4, 1, 4, 4, 8, 1, 16, 4, 0, 0, 0, {0}, 0, 0, 0, 0},
    {4, 2, 4, 2, 8, 1, 64, 16, 0, 0, 0, {0}, 0, 0, 0, 0},
    {3, 4, 3, 4, 4, 4, 0, 0, 0, 0, 0, {0}, 0, 0, 0, 0},
    {4, 3, 4, 2, 2, 4, 0, 0, 1, 4, 3, {0}, 0, 0, 0, 0},
    {4, 3, 4, 2, 2, 4, 0, 0, 1, 6, 2, {0}, 256, 32, 0, 0},
    {4, 3, 4, 2, 2, 4, 0, 0, 1, 3, 4, {0}, 128, 32, 0, 0},
    {4, 3, 4, 2, 2, 4, 16, 0, 1, 8, 1, {0}, 0, 0, 0, 0},
    {4, 3, 4, 2, 2, 4, 0, 0, 2, 0, 0, {3, 2, 32, 16, 4}, 0, 0, 0, 0},
    {4, 3, 4, 2, 2, 4, 0, 0, 2, 0, 0, {2, 4, 16, 16, 4}, 128, 8, 0, 0},
    /* Winograd blocks of at most 10 accumulators (AVX2's 16 registers) */
    {4, 3, 4, 2, 2, 4, 0, 0, 1, 5, 2, {0}, 0, 0, 0, 0},
    {4, 3, 4, 2, 2, 4, 0, 0, 1, 4, 2, {0}, 0, 0, 0, 0},
    /* and of 24 (AVX-512's 32 registers) */
    {4, 3, 4, 2, 2, 4, 0, 0, 1, 6, 4, {0}, 0, 0, 0, 0},
    /* Winograd fused (wino_gemm_out) and not, whatever the default */
    {4, 3, 4, 2, 2, 4, 0, 0, 1, 5, 2, {0}, 0, 0, 1, 0},
    {4, 3, 4, 2, 2, 4, 0, 0, 1, 5, 2, {0}, 0, 0, -1, 0},
    /* the large tiles (F(4x4,3x3), F(3x3,5x5)) and the small ones
     * (F(2x2,3x3), F(2x2,5x5)), whatever the batch */
    {4, 3, 4, 2, 2, 4, 0, 0, 1, 5, 2, {0}, 0, 0, 0, 4},
    {4, 3, 4, 2, 2, 4, 0, 0, 1, 6, 4, {0}, 0, 0, 0, 2},
};
enum { N_CANDS = sizeof cands / sizeof cands[0] };

/* Candidates that also run the stride > 1 layers (conv1) through
 * space-to-depth (conv_s2d=1), with the conv1 tile given here instead of
 * theirs: two direct (conv_algo 0) whose conv1 tile other candidates time
 * already, and two Winograd ones (conv_algo 1: the 3x3 stride-1 form runs
 * as Winograd with their GEMM block; the tile is then unused). */
static const struct {
    int cand, conv1_tx, conv1_ocb;
} s2d_cands[] = {{8, 4, 3}, {9, 3, 4}, {12, 3, 4}, {16, 3, 4}};

/* The quick set (an_tune_options.quick): the device's defaults (-1), two
 * other Winograd blocks with the K-blocked FC GEMM, and implicit GEMM. */
static const int quick_cands[] = {-1, 11, 12, 14};
enum { N_QUICK = sizeof quick_cands / sizeof quick_cands[0] };

/* ------------------------------------------------------------------------ */
/* Host reference: one image through the variant's table, in double.         */

static double *ref_forward(const an__variant *v, const an__weights *w, const float *img, int h0,
                           int w0, int *n_out)
{
    int c = v->in_channels, h = h0, wd = w0;
    double *x = malloc((size_t)c * h * wd * sizeof *x);
    if (!x)
        return NULL;
    for (size_t i = 0; i < (size_t)c * h * wd; i++)
        x[i] = img[i];
    int pi = 0;
    for (int li = 0; li < v->n_layers; li++) {
        const an__layer *l = &v->layers[li];
        double *y = NULL;
        int oc = c, oh = h, ow = wd;
        switch (l->kind) {
        case AN_LAYER_CONV: {
            int g = l->groups > 1 ? l->groups : 1, k = l->kernel, cg = c / g;
            oc = l->out_channels;
            oh = (h + 2 * l->pad - k) / l->stride + 1;
            ow = (wd + 2 * l->pad - k) / l->stride + 1;
            const float *wt = w->weight[pi], *b = w->bias[pi];
            pi++;
            y = malloc((size_t)oc * oh * ow * sizeof *y);
            if (!y)
                break;
            int ocg = oc / g;
            for (int o = 0; o < oc; o++)
                for (int yy = 0; yy < oh; yy++)
                    for (int xx = 0; xx < ow; xx++) {
                        double acc = b[o];
                        for (int ci = 0; ci < cg; ci++)
                            for (int ky = 0; ky < k; ky++) {
                                int iy = yy * l->stride - l->pad + ky;
                                if (iy < 0 || iy >= h)
                                    continue;
                                const double *row = x + ((size_t)(o / ocg * cg + ci) * h + iy) * wd;
                                const float *wr = wt + (((size_t)o * cg + ci) * k + ky) * k;
                                for (int kx = 0; kx < k; kx++) {
                                    int ix = xx * l->stride - l->pad + kx;
                                    if (ix >= 0 && ix < wd)
                                        acc += row[ix] * wr[kx];
                                }
                            }
                        y[((size_t)o * oh + yy) * ow + xx] = acc;
                    }
            break;
        }
        case AN_LAYER_RELU:
            for (size_t i = 0; i < (size_t)c * h * wd; i++)
                x[i] = x[i] > 0 ? x[i] : 0;
            continue;
        case AN_LAYER_DROPOUT:
            continue;
        case AN_LAYER_MAXPOOL:
        case AN_LAYER_ADAPTIVE_AVGPOOL: {
            bool mx = l->kind == AN_LAYER_MAXPOOL;
            if (mx) {
                oh = an__window_out(l, h); /* ceil mode: the last windows clipped */
                ow = an__window_out(l, wd);
            } else {
                oh = ow = l->kernel; /* the adaptive pool's output size */
            }
            y = malloc((size_t)c * oh * ow * sizeof *y);
            if (!y)
                break;
            for (int ci = 0; ci < c; ci++)
                for (int yy = 0; yy < oh; yy++)
                    for (int xx = 0; xx < ow; xx++) {
                        int y0 = mx ? yy * l->stride : yy * h / oh;
                        int y1 = mx ? y0 + l->kernel : ((yy + 1) * h + oh - 1) / oh;
                        y1 = y1 < h ? y1 : h;
                        int x0 = mx ? xx * l->stride : xx * wd / ow;
                        int x1 = mx ? x0 + l->kernel : ((xx + 1) * wd + ow - 1) / ow;
                        x1 = x1 < wd ? x1 : wd;
                        double acc = mx ? -INFINITY : 0;
                        for (int iy = y0; iy < y1; iy++)
                            for (int ix = x0; ix < x1; ix++) {
                                double a = x[((size_t)ci * h + iy) * wd + ix];
                                acc = mx ? fmax(acc, a) : acc + a;
                            }
                        y[((size_t)ci * oh + yy) * ow + xx] =
                            mx ? acc : acc / ((y1 - y0) * (x1 - x0));
                    }
            break;
        }
        case AN_LAYER_LRN: {
            y = malloc((size_t)c * h * wd * sizeof *y);
            if (!y)
                break;
            int n = l->kernel;
            for (int ci = 0; ci < c; ci++)
                for (size_t p = 0; p < (size_t)h * wd; p++) {
                    int c0 = ci - (n - 1) / 2, c1 = c0 + n;
                    double sum = 0;
                    for (int j = c0 < 0 ? 0 : c0; j < c1 && j < c; j++)
                        sum += x[(size_t)j * h * wd + p] * x[(size_t)j * h * wd + p];
                    y[(size_t)ci * h * wd + p] =
                        x[(size_t)ci * h * wd + p] /
                        pow(l->lrn_k + (double)l->lrn_alpha / n * sum, (double)l->lrn_beta);
                }
            break;
        }
        case AN_LAYER_LINEAR: {
            int in = c * h * wd;
            oc = l->out_channels;
            oh = ow = 1;
            const float *wt = w->weight[pi], *b = w->bias[pi];
            pi++;
            y = malloc((size_t)oc * sizeof *y);
            if (!y)
                break;
            for (int o = 0; o < oc; o++) {
                double acc = b[o];
                for (int i = 0; i < in; i++)
                    acc += x[i] * wt[(size_t)o * in + i];
                y[o] = acc;
            }
            break;
        }
        }
        free(x);
        if (!y)
            return NULL;
        x = y;
        c = oc;
        h = oh;
        wd = ow;
    }
    *n_out = c * h * wd;
    return x;
}

static bool matches(const float *got, const double *ref, int n, double *rel)
{
    double num = 0, den = 0, peak = 0;
    for (int i = 0; i < n; i++)
        peak = fmax(peak, fabs(ref[i]));
    bool ok = true;
    for (int i = 0; i < n; i++) {
        double d = got[i] - ref[i];
        if (!isfinite(got[i]) || fabs(d) > 1e-3 * fabs(ref[i]) + 1e-4 * peak)
            ok = false;
        num += d * d;
        den += ref[i] * ref[i];
    }
    *rel = den > 0 ? sqrt(num / den) : sqrt(num);
    return ok && *rel < 1e-4;
}

/* ------------------------------------------------------------------------ */
/* Results and the tuning file                                              */

typedef struct {
    an__tuning_table t; /* layer key: the fastest candidate's parameters and time */
    double fc_ms[2];    /* total FC time with fc_blocked = 0, 1 */
} results;

static void record(results *r, const char *key, const char *params, double ms)
{
    const an__tuning_entry *e = an__tuning_table_find(&r->t, key);
    if (!e || ms < e->ms)
        an__tuning_table_set(&r->t, key, params, ms);
}

/* Stores the results in the tuning file (the runtime's tuning module owns its
 * format and keeps other devices' entries and this device's other keys). */
static int write_results(const char *path, const an_device_info *info, results *r, int fc_blocked,
                         const an__tuning *def, const char *clblast)
{
    if (!path)
        return an__fail(AN_ERR_IO, "the cache is off (ALEXNET_NO_CACHE) and no tuning file was "
                                   "given: nothing stored");
    char device[160];
    snprintf(device, sizeof device, "fc_blocked=%d,conv_vec=%d,fc_vec=%d,wino_m=%d", fc_blocked,
             def->conv_vec, def->fc_vec, def->wino_m);
    int status = an__tuning_table_set(&r->t, "device", device, 0);
    /* a retuned CLBlast set replaces the old one, or removes it when none won */
    if (status == AN_OK && clblast)
        status = an__tuning_table_set(&r->t, "clblast Xgemm", clblast, 0);
    if (status == AN_OK)
        status = an__tuning_table_merge(path, info, &r->t);
    if (status == AN_OK)
        say("stored in %s\n", path);
    return status;
}

/* ------------------------------------------------------------------------ */

static an__tuning candidate(const an__tuning *def, int i, int fc_blocked)
{
    an__tuning t = *def;
    t.conv_tx = cands[i].conv_tx;
    t.conv_ocb = cands[i].conv_ocb;
    t.conv1_tx = cands[i].conv1_tx;
    t.conv1_ocb = cands[i].conv1_ocb;
    t.fc_tm = cands[i].fc_tm;
    t.fc_tnb = cands[i].fc_tnb;
    if (cands[i].conv_local)
        t.conv_local = cands[i].conv_local;
    if (cands[i].fc_local)
        t.fc_local = cands[i].fc_local;
    t.conv_algo = cands[i].conv_algo;
    if (cands[i].wino_tt)
        t.wino_tt = cands[i].wino_tt;
    if (cands[i].wino_ocb)
        t.wino_ocb = cands[i].wino_ocb;
    if (cands[i].wino_fused)
        t.wino_fused = cands[i].wino_fused > 0;
    if (cands[i].wino_m)
        t.wino_m = cands[i].wino_m;
    if (cands[i].ig[0]) {
        t.ig_mb = cands[i].ig[0];
        t.ig_nb = cands[i].ig[1];
        t.ig_ks = cands[i].ig[2];
        t.ig_lx = cands[i].ig[3];
        t.ig_ly = cands[i].ig[4];
    }
    t.fc_kb = cands[i].fc_kb;
    /* the candidates that bring a K-blocked GEMM shape time it at every
     * batch, so that at the batches gemv_panel takes by default (the
     * defaults' candidate times those) the GEMM competes per layer */
    if (cands[i].fc_kb)
        t.fc_panel_batch = 1;
    if (cands[i].fc_rt)
        t.fc_rt = cands[i].fc_rt;
    t.fc_blocked = fc_blocked;
    t.conv_s2d = 0;
    for (size_t j = 0; j < sizeof s2d_cands / sizeof s2d_cands[0]; j++)
        if (s2d_cands[j].cand == i) {
            t.conv_s2d = 1;
            t.conv1_tx = s2d_cands[j].conv1_tx;
            t.conv1_ocb = s2d_cands[j].conv1_ocb;
        }
    return t;
}

/* One candidate's plan and its per-step times over the rounds. */
typedef struct {
    an_model *model;
    an__tuning t;
    an_plan *plan;
    double best[AN_MAX_LAYERS]; /* per step, the fastest round (least disturbed) */
    int layer[AN_MAX_LAYERS];
    int steps;
} cand_run;

/* Builds a candidate's plan and checks its logits against the reference. */
static bool prepare(cand_run *c, int batch, int hh, int ww, const float *x, const double *ref,
                    int n_ref)
{
    float *y = malloc((size_t)batch * AN_CLASSES * sizeof *y);
    char desc[512];
    bool ok = false;
    an__tuning_format(&c->t, desc, sizeof desc);
    c->model->tuning = c->t;
    an__tuning_table_free(&c->model->tuned);
    if (!y || an_plan_create(c->model, batch, hh, ww, &c->plan) != AN_OK ||
        an_plan_forward(c->plan, x, y, AN_OUTPUT_LOGITS) != AN_OK) {
        say("  candidate %s: failed: %s\n", desc, an_last_error());
        goto done;
    }
    double rel = 0;
    if (!matches(y, ref, n_ref, &rel)) {
        say("  candidate %s: WRONG (relative L2 %.3g against the reference): discarded\n", desc,
            rel);
        goto done;
    }
    for (int i = 0; i < AN_MAX_LAYERS; i++)
        c->best[i] = INFINITY;
    ok = true;
done:
    if (!ok) {
        an_plan_free(c->plan);
        c->plan = NULL;
    }
    free(y);
    return ok;
}

static void measure(cand_run *c, const float *x)
{
    an__step_time st[AN_MAX_LAYERS];
    if (!c->plan || an__plan_profile(c->plan, x, st, &c->steps) != AN_OK)
        return;
    for (int s = 0; s < c->steps; s++) {
        c->layer[s] = st[s].layer;
        if (st[s].ms > 0 && st[s].ms < c->best[s])
            c->best[s] = st[s].ms;
    }
}

/* Records a measured candidate's per-layer times as entries. */
static void report(const cand_run *c, int batch, int hh, int ww, results *r, bool fc_only)
{
    char desc[512];
    an__tuning_format(&c->t, desc, sizeof desc);
    int nl = 0;
    const an_layer_info *l = an__plan_layers(c->plan, &nl);
    const an__variant *v = c->model->variant;
    const an__tuning *t = &c->t;
    double total = 0, fc = 0;
    for (int s = 0; s < c->steps; s++) {
        double mm = c->best[s];
        total += mm;
        int li = c->layer[s];
        an_layer_info in =
            li > 0 ? l[li - 1] : (an_layer_info){.c = v->in_channels, .h = hh, .w = ww};
        const an__layer *vl = &v->layers[li];
        char key[96], params[160];
        bool wino = an__conv_winograd_ok(vl);
        if (l[li].kind == AN_LAYER_CONV && !fc_only) {
            int g = vl->groups > 1 ? vl->groups : 1;
            bool first = vl->kernel == 11 && vl->stride == 4 && g == 1;
            an__tuning_conv_key(key, sizeof key, in.c, in.h, in.w, l[li].c, vl->kernel, vl->stride,
                                vl->pad, g, batch);
            bool s2d = t->conv_s2d && vl->stride > 1;
            int kq = (vl->kernel + vl->stride - 1) / vl->stride;
            if (s2d && t->conv_algo == 1 && an__winograd_shape_ok(kq, 1, 0))
                snprintf(params, sizeof params,
                         "conv_algo=1,conv_s2d=1,wino_m=%d,wino_tt=%d,wino_ocb=%d,wino_fused=%d,"
                         "conv_local=%d",
                         t->wino_m, t->wino_tt, t->wino_ocb, t->wino_fused, t->conv_local);
            else if (s2d && first)
                snprintf(params, sizeof params,
                         "conv_algo=0,conv_s2d=1,conv1_tx=%d,conv1_ocb=%d,conv_local=%d",
                         t->conv1_tx, t->conv1_ocb, t->conv_local);
            else if (s2d)
                snprintf(params, sizeof params,
                         "conv_algo=0,conv_s2d=1,conv_tx=%d,conv_ocb=%d,conv_local=%d", t->conv_tx,
                         t->conv_ocb, t->conv_local);
            else if (t->conv_algo == 2)
                snprintf(params, sizeof params,
                         "conv_algo=2,ig_mb=%d,ig_nb=%d,ig_ks=%d,ig_lx=%d,ig_ly=%d", t->ig_mb,
                         t->ig_nb, t->ig_ks, t->ig_lx, t->ig_ly);
            else if (first)
                snprintf(params, sizeof params,
                         "conv_algo=0,conv1_tx=%d,conv1_ocb=%d,conv_local=%d", t->conv1_tx,
                         t->conv1_ocb, t->conv_local);
            else if (wino && t->conv_algo == 1)
                snprintf(params, sizeof params,
                         "conv_algo=1,wino_m=%d,wino_tt=%d,wino_ocb=%d,wino_fused=%d,"
                         "conv_local=%d",
                         t->wino_m, t->wino_tt, t->wino_ocb, t->wino_fused, t->conv_local);
            else
                snprintf(params, sizeof params, "conv_algo=0,conv_tx=%d,conv_ocb=%d,conv_local=%d",
                         t->conv_tx, t->conv_ocb, t->conv_local);
            if (!s2d && vl->stride > 1) /* explicit, whatever the device's default */
                strncat(params, ",conv_s2d=0", sizeof params - strlen(params) - 1);
            record(r, key, params, mm);
        } else if (l[li].kind == AN_LAYER_LINEAR) {
            fc += mm;
            if (t->fc_blocked && batch > 1) {
                an__tuning_fc_key(key, sizeof key, in.c * in.h * in.w, l[li].c, batch);
                snprintf(params, sizeof params,
                         "fc_tm=%d,fc_tnb=%d,fc_local=%d,fc_kb=%d,fc_rt=%d,fc_panel_batch=%d",
                         t->fc_tm, t->fc_tnb, t->fc_local, t->fc_kb, t->fc_rt, t->fc_panel_batch);
                record(r, key, params, mm);
            }
        }
    }
    say("  candidate %s: layers %.2f ms, FC %.2f ms (fastest of the rounds)\n", desc, total, fc);
    if (fc < r->fc_ms[t->fc_blocked] || r->fc_ms[t->fc_blocked] == 0)
        r->fc_ms[t->fc_blocked] = fc; /* best per layout for this batch; summed by the caller */
}

/* Total FC time of one plan on the model's current CLBlast parameters: the
 * plan is built (CLBlast compiles its kernel on first use), its logits checked
 * against the reference, then timed over `runs` rounds (each FC step keeps
 * its fastest). Returns INFINITY for a wrong or failed candidate. */
static double clblast_fc_ms(an_model *mc, const char *label, int batch, int hh, int ww,
                            const float *x, const double *ref, int n_ref, int runs)
{
    cand_run c;
    memset(&c, 0, sizeof c);
    c.model = mc;
    c.t = mc->tuning;
    if (!prepare(&c, batch, hh, ww, x, ref, n_ref)) {
        say("  CLBlast %s: discarded\n", label);
        return INFINITY;
    }
    for (int round = 0; round < runs; round++)
        measure(&c, x);
    int nl = 0;
    const an_layer_info *l = an__plan_layers(c.plan, &nl);
    double fc = 0;
    for (int s = 0; s < c.steps; s++)
        if (l[c.layer[s]].kind == AN_LAYER_LINEAR)
            fc += c.best[s];
    an_plan_free(c.plan);
    say("  CLBlast %s: logits match the reference; FC layers %.2f ms at batch %d\n", label, fc,
        batch);
    return fc;
}

/* CLBlast's SGEMM kernel for the FC layers (the fc_blocked=0 path): its own
 * tuner at the FC6 shape of the largest batch, then the winner checked and
 * timed here against the parameters CLBlast has now. CLBlast's tuner has
 * picked sets that gave wrong results once applied (GEMMK=1 on PoCL), so a
 * set is kept only if the whole network still matches the reference and the
 * FC layers got faster; else *out stays "" and CLBlast's own set is restored. */
typedef struct {
    double fraction;   /* of CLBlast's configurations its tuner tries; 0: not run */
    const char *given; /* a parameter set to check instead of running the tuner, or NULL */
} clblast_opts;

static void tune_clblast(an_device *dev, an_model *mc, int batch, int hh, int ww, const float *x,
                         const double *ref, int n_ref, int runs, const clblast_opts *co, char *out,
                         size_t size)
{
    char now[512] = "", tuned[512] = "";
    int in = 0, o = 0;
    out[0] = 0;
    for (int i = 0; i < mc->n_params && !in; i++)
        if (mc->shape[i].ndim == 2) { /* the first linear layer: FC6 */
            o = mc->shape[i].dims[0];
            in = mc->shape[i].dims[1];
        }
    if (batch < 2 || !in || an_clblast_gemm_params(dev->device, now, sizeof now) != 0) {
        say("CLBlast: nothing to tune (batch 1 never calls CLBlast, or no parameters)\n");
        return;
    }
    say("CLBlast Xgemm now: %s\n", now);
    if (co->given) {
        snprintf(tuned, sizeof tuned, "%s", co->given);
        say("CLBlast Xgemm candidate (--clblast-params): %s\n", tuned);
    } else {
        /* Its tuner wants m, n, k multiples of the largest tiles it tries (128,
         * 128, 32; SGEMM pads to the tile itself in the indirect path we use)
         * and times every configuration it draws on that product, slow ones
         * included: FC6 (4096 x batch x 9216) took over 15 minutes on PoCL at
         * 1% of them. So m and k are capped at 1024; the pick is then timed
         * on the real FC shapes below. */
        size_t tm = ((size_t)o + 127) / 128 * 128, tn = ((size_t)batch + 127) / 128 * 128;
        size_t tk = ((size_t)in + 31) / 32 * 32;
        tm = tm > 1024 ? 1024 : tm;
        tk = tk > 1024 ? 1024 : tk;
        say("CLBlast's tuner at m=%zu n=%zu k=%zu (FC6 at batch %d: %d x %d x %d, rounded to "
            "its tiles, capped at 1024), %g of its configurations (its own output follows)\n",
            tm, tn, tk, batch, o, batch, in, co->fraction);
        fflush(stdout);
        int st = an_clblast_tune_gemm(dev->queue, tm, tn, tk, co->fraction, tuned, sizeof tuned);
        fflush(stdout);
        if (st != 0) {
            say("CLBlast's tuner failed (status %d): CLBlast keeps its parameters\n", st);
            return;
        }
        say("CLBlast's tuner picked: %s\n", tuned);
    }
    double t_now = clblast_fc_ms(mc, "current parameters", batch, hh, ww, x, ref, n_ref, runs);
    double t_tuned = INFINITY;
    if (an__clblast_override(dev->device, "Xgemm", tuned) == AN_OK)
        t_tuned = clblast_fc_ms(mc, "tuned parameters", batch, hh, ww, x, ref, n_ref, runs);
    else
        say("  CLBlast refused the tuned set: %s\n", an_last_error());
    if (t_tuned < t_now) {
        snprintf(out, size, "%s", tuned);
        say("CLBlast: the tuned set wins (%.2f ms against %.2f)\n", t_tuned, t_now);
    } else {
        an__clblast_override(dev->device, "Xgemm", now);
        say("CLBlast: the tuned set does not win (%.2f ms against %.2f): not stored\n", t_tuned,
            t_now);
    }
}

/* quick < 0: the full search over both FC layouts; 0 or 1: the quick set
 * on that FC layout (fc_blocked) alone. */
static int tune_variant(an_device *dev, const char *variant, const int *batches, int nb, int runs,
                        results *r, double fc_total[2], const clblast_opts *co, char *clblast,
                        size_t clblast_size, int quick)
{
    int status = AN_OK, hh = 0, ww = 0, n_ref = 0;
    an_model *mb = NULL, *mc = NULL;
    an__weights w = {0};
    float *x = NULL;
    double *ref = NULL;
    const an__variant *v = an__variant_find(variant);
    if (!v)
        return AN_ERR_UNKNOWN_VARIANT;
    AN_TRY(an_variant_input_size(variant, &hh, &ww));
    int maxb = 1;
    for (int i = 0; i < nb; i++)
        maxb = batches[i] > maxb ? batches[i] : maxb;
    size_t per = (size_t)v->in_channels * hh * ww;
    x = malloc((size_t)maxb * per * sizeof *x);
    if (!x) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory for the tuning input");
        goto fail;
    }
    uint64_t s = 7;
    for (size_t i = 0; i < (size_t)maxb * per; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((s >> 40) * (2.0 / 16777216.0) - 1.0);
    }
    /* the same seeded weights on the host (reference) and on the device */
    AN_TRY(an__weights_seed(v, 1, &w));
    say("%s: host reference forward pass (double)...\n", variant);
    ref = ref_forward(v, &w, x, hh, ww, &n_ref);
    if (!ref || n_ref != AN_CLASSES) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "the host reference forward pass failed");
        goto fail;
    }
    /* one model per FC weight layout, with the defaults forced (no file) and
     * Winograd's transformed weights and space-to-depth's made, so that
     * candidates can pick them */
    an_load_options lo = {.seed = 1, .tuning = "fc_blocked=1,conv_algo=1,conv_s2d=1"};
    if (quick != 0)
        AN_TRY(an_model_load_opts(dev, variant, &lo, &mb));
    lo.tuning = "fc_blocked=0,conv_algo=1,conv_s2d=1";
    if (quick <= 0)
        AN_TRY(an_model_load_opts(dev, variant, &lo, &mc));
    /* CLBlast first, so that the FC layout choice below sees its tuned speed */
    if (co)
        tune_clblast(dev, mc, maxb, hh, ww, x, ref, n_ref, runs, co, clblast, clblast_size);
    an__tuning def = an__tuning_defaults(&dev->info);
    int n_c = quick < 0 ? N_CANDS + 1 : N_QUICK;
    for (int b = 0; b < nb; b++) {
        say("%s, batch %d: %d candidates, checked, then timed in %d interleaved rounds\n", variant,
            batches[b], n_c, runs);
        r->fc_ms[0] = r->fc_ms[1] = 0;
        cand_run c[N_CANDS + 1];
        memset(c, 0, sizeof c);
        for (int i = 0; i < n_c; i++) {
            if (quick >= 0) {
                int q = quick_cands[i];
                c[i].model = quick ? mb : mc;
                c[i].t = q < 0 ? def : candidate(&def, q, quick);
                c[i].t.fc_blocked = quick;
            } else {
                c[i].model = i < N_CANDS ? mb : mc;
                c[i].t = i < N_CANDS ? candidate(&def, i, 1) : def;
                c[i].t.fc_blocked = i < N_CANDS;
            }
            prepare(&c[i], batches[b], hh, ww, x, ref, n_ref);
        }
        /* round-robin, so that a burst of load elsewhere hits every candidate */
        for (int round = 0; round < runs; round++)
            for (int i = 0; i < n_c; i++)
                measure(&c[i], x);
        for (int i = 0; i < n_c; i++)
            if (c[i].plan) {
                report(&c[i], batches[b], hh, ww, r, quick < 0 && i == N_CANDS);
                an_plan_free(c[i].plan);
            }
        for (int k = 0; k < 2; k++)
            fc_total[k] += r->fc_ms[k] > 0 ? r->fc_ms[k] : 1e30;
        /* the programs of this batch's candidates */
        an_model *ms[2] = {mb, mc};
        for (int k = 0; k < 2; k++) {
            if (!ms[k])
                continue;
            for (int i = 0; i < ms[k]->n_programs; i++)
                clReleaseProgram(ms[k]->programs[i].program);
            ms[k]->n_programs = 0;
        }
    }
fail:
    an_model_free(mb);
    an_model_free(mc);
    an__weights_free(&w);
    free(x);
    free(ref);
    return status;
}

/* Whether the table holds an entry for every conv layer, and every FC layer
 * when fc_blocked at a batch above 1, of variant at its input size and batch
 * (the keys report() writes). */
static bool plan_tuned(const an__tuning_table *t, const char *variant, int batch, int fc_blocked)
{
    const an__variant *v = an__variant_find(variant);
    an_layer_info l[AN_MAX_LAYERS];
    int hh = 0, ww = 0, n = 0;
    if (!v || an_variant_input_size(variant, &hh, &ww) != AN_OK ||
        an_variant_infer(variant, v->in_channels, hh, ww, l, &n) != AN_OK)
        return false;
    for (int i = 0; i < n; i++) {
        an_layer_info in =
            i > 0 ? l[i - 1] : (an_layer_info){.c = v->in_channels, .h = hh, .w = ww};
        const an__layer *vl = &v->layers[i];
        char key[96];
        if (l[i].kind == AN_LAYER_CONV)
            an__tuning_conv_key(key, sizeof key, in.c, in.h, in.w, l[i].c, vl->kernel, vl->stride,
                                vl->pad, vl->groups > 1 ? vl->groups : 1, batch);
        else if (l[i].kind == AN_LAYER_LINEAR && fc_blocked && batch > 1)
            an__tuning_fc_key(key, sizeof key, in.c * in.h * in.w, l[i].c, batch);
        else
            continue;
        if (!an__tuning_table_find(t, key))
            return false;
    }
    return true;
}

/* The quick search: per variant, the batches the file has no entries for,
 * on the FC layout the file's device line (or the default) gives. */
static int tune_quick(an_device *dev, const char *variants, const int *batches, int nb, int runs,
                      const char *path, bool dry_run)
{
    an__tuning def = an__tuning_defaults(&dev->info);
    an__tuning_table file = {0};
    int status = path ? an__tuning_table_read(path, &dev->info, &file) : AN_OK;
    const an__tuning_entry *d = an__tuning_table_find(&file, "device");
    an__tuning layout = def;
    if (d && an__tuning_parse(d->params, &layout) != AN_OK) {
        layout = def; /* a malformed device line: the defaults, as an__tuning_load does */
        an__clear_error();
    }
    int fc_blocked = layout.fc_blocked;
    results *r = calloc(1, sizeof *r);
    char *copy = strdup(variants), *save = NULL;
    double fc_total[2] = {0, 0};
    bool tuned = false;
    if (status == AN_OK && (!r || !copy))
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
    for (char *v = status == AN_OK ? strtok_r(copy, ",", &save) : NULL; v && status == AN_OK;
         v = strtok_r(NULL, ",", &save)) {
        int untuned[16], nt = 0; /* the batches without entries yet */
        for (int i = 0; i < nb; i++) {
            if (plan_tuned(&file, v, batches[i], fc_blocked))
                say("%s, batch %d: the tuning file has every layer already: reused\n", v,
                    batches[i]);
            else
                untuned[nt++] = batches[i];
        }
        if (nt == 0)
            continue;
        status = tune_variant(dev, v, untuned, nt, runs, r, fc_total, NULL, NULL, 0, fc_blocked);
        tuned = true;
    }
    if (status == AN_OK && tuned) {
        for (size_t i = 0; i < r->t.n; i++)
            say("%-60s %-48s %9.3f ms\n", r->t.e[i].key, r->t.e[i].params, r->t.e[i].ms);
        if (!dry_run)
            status = write_results(path, &dev->info, r, fc_blocked, &def, NULL);
    }
    an__tuning_table_free(&file);
    if (r)
        an__tuning_table_free(&r->t);
    free(r);
    free(copy);
    return status;
}

int an_tune(an_device *dev, const an_tune_options *opts)
{
    an__clear_error();
    static const int default_batches[] = {1, 16, 64};
    if (!dev || !opts)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_tune: NULL argument");
    const char *variants = opts->variants ? opts->variants : "torchvision-224,caffe-227";
    const int *batches = opts->batches ? opts->batches : default_batches;
    int nb = opts->batches ? opts->n_batches : 3;
    int runs = opts->runs ? opts->runs : opts->quick ? 2 : 5;
    if (nb < 1 || nb > 16 || runs < 1 || runs > 16 ||
        !(opts->clblast_fraction >= 0 && opts->clblast_fraction <= 1))
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "an_tune: 1..16 batch sizes, 1..16 runs and a CLBlast fraction from 0 "
                        "to 1");
    for (int i = 0; i < nb; i++)
        if (batches[i] < 1)
            return an__fail(AN_ERR_INVALID_ARGUMENT, "an_tune: batch size %d", batches[i]);
    const char *path = opts->tuning_file ? opts->tuning_file : an__tuning_path();
    log_fn = opts->log;
    log_user = opts->user;
    clblast_opts co = {opts->clblast_fraction, opts->clblast_params};
    say("device: %s (%s, %s), %u compute units\n", dev->info.name, dev->info.platform,
        dev->info.driver, dev->info.compute_units);
    if (opts->quick) {
        int status = tune_quick(dev, variants, batches, nb, runs, path, opts->dry_run);
        log_fn = NULL;
        log_user = NULL;
        return status;
    }
    char clblast[512] = "";
    bool clblast_on = co.fraction > 0 || co.given, clblast_pending = clblast_on;
    results *r = calloc(1, sizeof *r);
    char *copy = strdup(variants), *save = NULL;
    double fc_total[2] = {0, 0};
    int status = r && copy ? AN_OK : an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory");
    for (char *v = copy ? strtok_r(copy, ",", &save) : NULL; v && status == AN_OK;
         v = strtok_r(NULL, ",", &save)) {
        status = tune_variant(dev, v, batches, nb, runs, r, fc_total, clblast_pending ? &co : NULL,
                              clblast, sizeof clblast, -1);
        clblast_pending = false; /* once: CLBlast's parameters are device-wide */
    }
    free(copy);
    if (status == AN_OK) {
        int fc_blocked = fc_total[1] <= fc_total[0];
        say("\nFC layers, all batches: %.2f ms on blocked weights (fc_gemm/gemv_blocked), "
            "%.2f ms with CLBlast/gemv_rows (1e30: a candidate failed): fc_blocked=%d\n",
            fc_total[1], fc_total[0], fc_blocked);
        for (size_t i = 0; i < r->t.n; i++)
            say("%-60s %-48s %9.3f ms\n", r->t.e[i].key, r->t.e[i].params, r->t.e[i].ms);
        if (!opts->dry_run) {
            an__tuning def = an__tuning_defaults(&dev->info);
            status =
                write_results(path, &dev->info, r, fc_blocked, &def, clblast_on ? clblast : NULL);
        }
    }
    if (r)
        an__tuning_table_free(&r->t);
    free(r);
    log_fn = NULL;
    log_user = NULL;
    return status;
}
