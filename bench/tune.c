/* tune.c - `alexnet tune`: searches the kernel parameters (an__tuning) for
 * the selected device, per layer shape and batch, and stores the winners in
 * the tuning file beside the program cache, which an_model_* then loads.
 *
 * For each variant and batch, every candidate parameter set runs the whole
 * network on seeded weights with profiling events, so one run times every
 * layer under that set; candidates are timed round-robin over N rounds and
 * each layer keeps its fastest round (shared machines are noisy). Before its times count, a
 * candidate's logits for the first image must match a plain C forward pass in double on the host
 * (the reference) within 1e-4 relative L2 and 1e-3*|ref| + 1e-4*max|ref| per logit: a fast wrong
 * kernel never wins. Each conv and FC layer then takes the fastest correct candidate's parameters;
 * the FC weight layout (fc_blocked: our fc_gemm/gemv_blocked, or CLBlast SGEMM/gemv_rows) is a
 * device-wide choice by the total FC time over everything tuned. The vector
 * widths (conv_vec, fc_vec: they fix the weight layouts) stay the device's
 * defaults and are stored on the device line with fc_blocked, so per-layer
 * tiles are only ever used with the widths they were tuned for.
 * CLBlast's own kernel parameters are not tuned here. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "clblast_tune.h"
#include "internal.h"

/* Candidate sets: conv tile (TX, OCB), conv1 tile, FC tile, work-groups. */
static const struct {
    int conv_tx, conv_ocb, conv1_tx, conv1_ocb, fc_tm, fc_tnb, conv_local, fc_local;
} cands[] = {
    {4, 2, 4, 2, 8, 1, 0, 0}, {2, 4, 2, 4, 4, 2, 0, 0},  {6, 2, 6, 2, 6, 2, 0, 0},
    {8, 1, 8, 1, 8, 2, 0, 0}, {3, 3, 3, 3, 2, 4, 0, 0},  {4, 3, 5, 2, 4, 3, 0, 0},
    {7, 2, 4, 1, 1, 4, 0, 0}, {4, 1, 4, 4, 8, 1, 16, 4}, {4, 2, 4, 2, 8, 1, 64, 16},
    {3, 4, 3, 4, 4, 4, 0, 0},
};
enum { N_CANDS = sizeof cands / sizeof cands[0] };

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
                oh = (h - l->kernel) / l->stride + 1;
                ow = (wd - l->kernel) / l->stride + 1;
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
                        int x0 = mx ? xx * l->stride : xx * wd / ow;
                        int x1 = mx ? x0 + l->kernel : ((xx + 1) * wd + ow - 1) / ow;
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
    char key[96];
    char params[160];
    double ms;
} entry;

typedef struct {
    entry e[AN_MAX_TUNED];
    int n;
    double fc_ms[2]; /* total FC time with fc_blocked = 0, 1 */
} results;

static void record(results *r, const char *key, const char *params, double ms)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->e[i].key, key) == 0) {
            if (ms < r->e[i].ms) {
                snprintf(r->e[i].params, sizeof r->e[i].params, "%s", params);
                r->e[i].ms = ms;
            }
            return;
        }
    if (r->n == AN_MAX_TUNED)
        return;
    snprintf(r->e[r->n].key, sizeof r->e[0].key, "%s", key);
    snprintf(r->e[r->n].params, sizeof r->e[0].params, "%s", params);
    r->e[r->n].ms = ms;
    r->n++;
}

/* Rewrites the file: other devices' lines and this device's other keys stay. */
static int write_results(const an_device_info *info, const results *r, int fc_blocked,
                         const an__tuning *def, const char *clblast)
{
    const char *path = an__tuning_path();
    if (!path) {
        fprintf(stderr, "alexnet tune: the cache is off (ALEXNET_NO_CACHE): nothing stored\n");
        return 1;
    }
    char dkey[512], tmp[4300];
    an__tuning_device_key(info, dkey, sizeof dkey);
    size_t dlen = strlen(dkey);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *in = fopen(path, "r"), *out = fopen(tmp, "w");
    if (!out) {
        fprintf(stderr, "alexnet tune: cannot write %s\n", tmp);
        if (in)
            fclose(in);
        return 1;
    }
    fprintf(out, "# alexnet tuning: platform|device|driver|compute units|key|parameters\n");
    char line[1024];
    while (in && fgets(line, sizeof line, in)) {
        if (line[0] == '#')
            continue;
        bool drop = false;
        if (strncmp(line, dkey, dlen) == 0 && line[dlen] == '|') {
            const char *key = line + dlen + 1;
            size_t klen = strcspn(key, "|");
            if (klen == 6 && strncmp(key, "device", 6) == 0)
                drop = true;
            if (clblast && strncmp(key, "clblast Xgemm|", 14) == 0)
                drop = true; /* retuned: replaced, or CLBlast's own set when none won */
            for (int i = 0; i < r->n && !drop; i++)
                if (strlen(r->e[i].key) == klen && strncmp(r->e[i].key, key, klen) == 0)
                    drop = true;
        }
        if (!drop)
            fputs(line, out);
    }
    if (in)
        fclose(in);
    fprintf(out, "%s|device|fc_blocked=%d,conv_vec=%d,fc_vec=%d\n", dkey, fc_blocked, def->conv_vec,
            def->fc_vec);
    for (int i = 0; i < r->n; i++)
        fprintf(out, "%s|%s|%s\n", dkey, r->e[i].key, r->e[i].params);
    if (clblast && *clblast)
        fprintf(out, "%s|clblast Xgemm|%s\n", dkey, clblast);
    if (fclose(out) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "alexnet tune: cannot write %s\n", path);
        return 1;
    }
    printf("stored in %s\n", path);
    return 0;
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
    t.fc_blocked = fc_blocked;
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
    c->model->n_tuned = 0;
    if (!y || an_plan_create(c->model, batch, hh, ww, &c->plan) != AN_OK ||
        an_plan_forward(c->plan, x, y, AN_OUTPUT_LOGITS) != AN_OK) {
        printf("  candidate %s: failed: %s\n", desc, an_last_error());
        goto done;
    }
    double rel = 0;
    if (!matches(y, ref, n_ref, &rel)) {
        printf("  candidate %s: WRONG (relative L2 %.3g against the reference): discarded\n", desc,
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
    fflush(stdout);
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
        if (l[li].kind == AN_LAYER_CONV && !fc_only) {
            int g = vl->groups > 1 ? vl->groups : 1;
            bool first = vl->kernel == 11 && vl->stride == 4 && g == 1;
            an__tuning_conv_key(key, sizeof key, in.c, in.h, in.w, l[li].c, vl->kernel, vl->stride,
                                vl->pad, g, batch);
            if (first)
                snprintf(params, sizeof params, "conv1_tx=%d,conv1_ocb=%d,conv_local=%d",
                         t->conv1_tx, t->conv1_ocb, t->conv_local);
            else
                snprintf(params, sizeof params, "conv_tx=%d,conv_ocb=%d,conv_local=%d", t->conv_tx,
                         t->conv_ocb, t->conv_local);
            record(r, key, params, mm);
        } else if (l[li].kind == AN_LAYER_LINEAR) {
            fc += mm;
            if (t->fc_blocked && batch > 1) {
                an__tuning_fc_key(key, sizeof key, in.c * in.h * in.w, l[li].c, batch);
                snprintf(params, sizeof params, "fc_tm=%d,fc_tnb=%d,fc_local=%d", t->fc_tm,
                         t->fc_tnb, t->fc_local);
                record(r, key, params, mm);
            }
        }
    }
    printf("  candidate %s: layers %.2f ms, FC %.2f ms (fastest of the rounds)\n", desc, total, fc);
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
        printf("  CLBlast %s: discarded\n", label);
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
    printf("  CLBlast %s: logits match the reference; FC layers %.2f ms at batch %d\n", label, fc,
           batch);
    fflush(stdout);
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
        printf("CLBlast: nothing to tune (batch 1 never calls CLBlast, or no parameters)\n");
        return;
    }
    printf("CLBlast Xgemm now: %s\n", now);
    if (co->given) {
        snprintf(tuned, sizeof tuned, "%s", co->given);
        printf("CLBlast Xgemm candidate (--clblast-params): %s\n", tuned);
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
        printf("CLBlast's tuner at m=%zu n=%zu k=%zu (FC6 at batch %d: %d x %d x %d, rounded to "
               "its tiles, capped at 1024), %g of its configurations (its own output follows)\n",
               tm, tn, tk, batch, o, batch, in, co->fraction);
        fflush(stdout);
        int st = an_clblast_tune_gemm(dev->queue, tm, tn, tk, co->fraction, tuned, sizeof tuned);
        fflush(stdout);
        if (st != 0) {
            printf("CLBlast's tuner failed (status %d): CLBlast keeps its parameters\n", st);
            return;
        }
        printf("CLBlast's tuner picked: %s\n", tuned);
    }
    double t_now = clblast_fc_ms(mc, "current parameters", batch, hh, ww, x, ref, n_ref, runs);
    double t_tuned = INFINITY;
    if (an__clblast_override(dev->device, "Xgemm", tuned) == AN_OK)
        t_tuned = clblast_fc_ms(mc, "tuned parameters", batch, hh, ww, x, ref, n_ref, runs);
    else
        printf("  CLBlast refused the tuned set: %s\n", an_last_error());
    if (t_tuned < t_now) {
        snprintf(out, size, "%s", tuned);
        printf("CLBlast: the tuned set wins (%.2f ms against %.2f)\n", t_tuned, t_now);
    } else {
        an__clblast_override(dev->device, "Xgemm", now);
        printf("CLBlast: the tuned set does not win (%.2f ms against %.2f): not stored\n", t_tuned,
               t_now);
    }
}

static int tune_variant(an_device *dev, const char *variant, const int *batches, int nb, int runs,
                        results *r, double fc_total[2], const clblast_opts *co, char *clblast,
                        size_t clblast_size)
{
    int rc = 1, hh = 0, ww = 0, n_ref = 0;
    an_model *mb = NULL, *mc = NULL;
    an__weights w = {0};
    float *x = NULL;
    double *ref = NULL;
    const an__variant *v = an__variant_find(variant);
    if (!v || an_variant_input_size(variant, &hh, &ww) != AN_OK) {
        fprintf(stderr, "alexnet tune: %s\n", an_last_error());
        return 1;
    }
    int maxb = 1;
    for (int i = 0; i < nb; i++)
        maxb = batches[i] > maxb ? batches[i] : maxb;
    size_t per = (size_t)v->in_channels * hh * ww;
    x = malloc((size_t)maxb * per * sizeof *x);
    if (!x)
        goto done;
    uint64_t s = 7;
    for (size_t i = 0; i < (size_t)maxb * per; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((s >> 40) * (2.0 / 16777216.0) - 1.0);
    }
    /* the same seeded weights on the host (reference) and on the device */
    if (an__weights_seed(v, 1, &w) != AN_OK)
        goto fail;
    printf("%s: host reference forward pass (double)...\n", variant);
    fflush(stdout);
    ref = ref_forward(v, &w, x, hh, ww, &n_ref);
    if (!ref || n_ref != AN_CLASSES) {
        fprintf(stderr, "alexnet tune: reference forward pass failed\n");
        goto done;
    }
    setenv("ALEXNET_TUNING", "fc_blocked=1", 1);
    int st = an_model_seed(dev, variant, 1, &mb);
    setenv("ALEXNET_TUNING", "fc_blocked=0", 1);
    if (st == AN_OK)
        st = an_model_seed(dev, variant, 1, &mc);
    unsetenv("ALEXNET_TUNING");
    if (st != AN_OK)
        goto fail;
    /* CLBlast first, so that the FC layout choice below sees its tuned speed */
    if (co)
        tune_clblast(dev, mc, maxb, hh, ww, x, ref, n_ref, runs, co, clblast, clblast_size);
    an__tuning def = an__tuning_defaults(&dev->info);
    for (int b = 0; b < nb; b++) {
        printf("%s, batch %d: %d candidates, checked, then timed in %d interleaved rounds\n",
               variant, batches[b], N_CANDS + 1, runs);
        r->fc_ms[0] = r->fc_ms[1] = 0;
        cand_run c[N_CANDS + 1];
        memset(c, 0, sizeof c);
        for (int i = 0; i <= N_CANDS; i++) {
            c[i].model = i < N_CANDS ? mb : mc;
            c[i].t = i < N_CANDS ? candidate(&def, i, 1) : def;
            c[i].t.fc_blocked = i < N_CANDS;
            prepare(&c[i], batches[b], hh, ww, x, ref, n_ref);
        }
        /* round-robin, so that a burst of load elsewhere hits every candidate */
        for (int round = 0; round < runs; round++)
            for (int i = 0; i <= N_CANDS; i++)
                measure(&c[i], x);
        for (int i = 0; i <= N_CANDS; i++)
            if (c[i].plan) {
                report(&c[i], batches[b], hh, ww, r, i == N_CANDS);
                an_plan_free(c[i].plan);
            }
        for (int k = 0; k < 2; k++)
            fc_total[k] += r->fc_ms[k] > 0 ? r->fc_ms[k] : 1e30;
        /* the programs of this batch's candidates */
        an_model *ms[2] = {mb, mc};
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < ms[k]->n_programs; i++)
                clReleaseProgram(ms[k]->programs[i].program);
            ms[k]->n_programs = 0;
        }
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "alexnet tune: %s\n", an_last_error());
done:
    an_model_free(mb);
    an_model_free(mc);
    an__weights_free(&w);
    free(x);
    free(ref);
    return rc;
}

int cmd_tune(int argc, char **argv)
{
    static const struct option opts[] = {{"variant", required_argument, NULL, 'v'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"runs", required_argument, NULL, 'r'},
                                         {"device", required_argument, NULL, 'd'},
                                         {"dry-run", no_argument, NULL, 'n'},
                                         {"clblast", required_argument, NULL, 'c'},
                                         {"clblast-params", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *variants = "torchvision-224,caffe-227", *device = NULL;
    int batches[16] = {1, 16, 64}, nb = 3, runs = 5, dry = 0, c;
    clblast_opts co = {0, NULL};
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            variants = optarg;
            break;
        case 'd':
            device = optarg;
            break;
        case 'n':
            dry = 1;
            break;
        case 'c': {
            char *end = NULL;
            co.fraction = strtod(optarg, &end);
            if (end == optarg || *end || !(co.fraction >= 0 && co.fraction <= 1)) {
                fprintf(stderr, "alexnet tune: --clblast takes a fraction from 0 to 1\n");
                return APP_EXIT_USAGE;
            }
            break;
        }
        case 'p':
            co.given = optarg;
            break;
        case 'r':
            runs = atoi(optarg);
            if (runs < 1 || runs > 16) {
                fprintf(stderr, "alexnet tune: --runs takes 1..16\n");
                return APP_EXIT_USAGE;
            }
            break;
        case 'b': {
            nb = 0;
            char *save = NULL, *copy = strdup(optarg);
            for (char *t = strtok_r(copy, ",", &save); t && nb < 16;
                 t = strtok_r(NULL, ",", &save)) {
                int v = atoi(t);
                if (v < 1) {
                    fprintf(stderr, "alexnet tune: bad batch size '%s'\n", t);
                    free(copy);
                    return APP_EXIT_USAGE;
                }
                batches[nb++] = v;
            }
            free(copy);
            break;
        }
        case 'h':
            printf("usage: alexnet tune [--variant NAME[,NAME]] [--batch 1,16,64] [--runs N] "
                   "[--device SEL]\n                   [--clblast FRACTION | --clblast-params SET] "
                   "[--dry-run]\n"
                   "Searches kernel parameters per layer shape and batch on the device, checks "
                   "every\ncandidate against a host reference, stores the winners in the tuning "
                   "file\n($XDG_CACHE_HOME/alexnet/tuning.txt), which models then load.\n"
                   "--clblast F also runs CLBlast's own SGEMM tuner (for the FC layers on the "
                   "CLBlast\npath) on F (0..1] of its configurations (slow: it compiles and times "
                   "each one it draws;\n1%% did not finish in 15 minutes on PoCL); "
                   "--clblast-params SET checks a given\n\"NAME=VALUE,...\" set instead. A set "
                   "is stored only if the network still matches\nthe reference and the FC layers "
                   "get faster.\n");
            return 0;
        default:
            return APP_EXIT_USAGE;
        }
    }
    if (getenv("ALEXNET_TUNING"))
        fprintf(stderr, "alexnet tune: note: $ALEXNET_TUNING is ignored while tuning\n");
    an_device *dev = NULL;
    int status = an_device_open(device, &dev);
    if (status != AN_OK) {
        fprintf(stderr, "alexnet tune: %s (%s)\n", an_last_error(), an_status_name(status));
        return 1;
    }
    printf("device: %s (%s, %s), %u compute units\n", dev->info.name, dev->info.platform,
           dev->info.driver, dev->info.compute_units);
    char clblast[512] = "";
    bool clblast_on = co.fraction > 0 || co.given, clblast_pending = clblast_on;
    results *r = calloc(1, sizeof *r);
    double fc_total[2] = {0, 0};
    int rc = r ? 0 : 1;
    char *copy = strdup(variants), *save = NULL;
    for (char *v = strtok_r(copy, ",", &save); v && rc == 0; v = strtok_r(NULL, ",", &save))
        rc = tune_variant(dev, v, batches, nb, runs, r, fc_total, clblast_pending ? &co : NULL,
                          clblast, sizeof clblast),
        clblast_pending = false; /* once: CLBlast's parameters are device-wide */
    free(copy);
    if (rc == 0) {
        int fc_blocked = fc_total[1] <= fc_total[0];
        printf("\nFC layers, all batches: %.2f ms on blocked weights (fc_gemm/gemv_blocked), "
               "%.2f ms with CLBlast/gemv_rows (1e30: a candidate failed): fc_blocked=%d\n",
               fc_total[1], fc_total[0], fc_blocked);
        for (int i = 0; i < r->n; i++)
            printf("%-60s %-48s %9.3f ms\n", r->e[i].key, r->e[i].params, r->e[i].ms);
        if (!dry) {
            an__tuning def = an__tuning_defaults(&dev->info);
            rc = write_results(&dev->info, r, fc_blocked, &def, clblast_on ? clblast : NULL);
        }
    }
    free(r);
    an_device_free(dev);
    return rc;
}
