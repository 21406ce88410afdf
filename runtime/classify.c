/* classify.c - the batched classification pipeline: PNG and JPEG files decoded
 * and preprocessed on a pool of host threads (started once per run) into one of
 * two input slots while the device computes the batch in the other, results
 * handed back in input order.
 * Also the ImageNet class names embedded from data/imagenet_classes.txt. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Class names                                                              */

static const char *labels[AN_CLASSES];
static char *label_text;
static pthread_once_t labels_once = PTHREAD_ONCE_INIT;

static void split_labels(void)
{
    const struct an__embedded *e = an__embedded_labels;
    while (e->name && strcmp(e->name, "imagenet_classes.txt") != 0)
        e++;
    if (!e->name)
        return;
    label_text = malloc(e->len + 1);
    if (!label_text)
        return;
    memcpy(label_text, e->text, e->len + 1);
    char *p = label_text;
    for (int i = 0; i < AN_CLASSES && *p; i++) {
        labels[i] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
}

const char *an_class_label(int index)
{
    if (index < 0 || index >= AN_CLASSES)
        return NULL;
    pthread_once(&labels_once, split_labels);
    return labels[index];
}

/* ------------------------------------------------------------------------ */
/* Decoding a batch on host threads                                         */

typedef struct {
    float *input; /* (batch, 3, crop, crop) */
    float *probs; /* (batch, 1000) */
    int *status;  /* per image */
    char (*error)[512];
    size_t first; /* index of the slot's first image in the input list */
    int count;    /* images in this batch (the rest of the slot is zeros) */
    cl_event done, started;
} slot;

/* What a run classifies: files (paths), or encoded images in memory (data
 * and sizes, with names optional). */
typedef struct {
    const char *const *paths; /* the files, or the names of the images in memory (may be NULL) */
    const void *const *data;  /* NULL for files */
    const size_t *sizes;
} inputs;

typedef struct {
    const inputs *in;
    const an_preprocess *pp;
    slot *s;
    size_t image_floats;
    atomic_int next;
} decode_job;

static void decode_one(decode_job *job, int i)
{
    slot *s = job->s;
    float *dst = s->input + (size_t)i * job->image_floats;
    an_image img = {0};
    size_t at = s->first + (size_t)i;
    const inputs *in = job->in;
    int status = !in->data      ? an_image_decode(in->paths[at], &img)
                 : in->data[at] ? an_image_decode_memory(in->data[at], in->sizes[at], &img)
                                : an__fail(AN_ERR_INVALID_ARGUMENT, "image %zu: NULL data", at);
    if (status == AN_OK)
        status = an_image_preprocess(&img, job->pp, dst);
    an_image_free(&img);
    s->status[i] = status;
    if (status != AN_OK) {
        snprintf(s->error[i], sizeof s->error[i], "%s", an_last_error());
        memset(dst, 0, job->image_floats * sizeof *dst); /* computed, then ignored */
    } else {
        s->error[i][0] = '\0';
    }
}

static void *decode_worker(void *arg)
{
    decode_job *job = arg;
    for (int i; (i = atomic_fetch_add(&job->next, 1)) < job->s->count;)
        decode_one(job, i);
    return NULL;
}

/* The decoding threads live for the whole run: they are started once, sleep
 * between batches, and each batch wakes them with a new job. One thread per
 * online core (or --threads), the calling thread being one of them. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t wake, idle;
    pthread_t tid[64];
    int started;       /* worker threads running (threads - 1 at most) */
    unsigned long gen; /* bumped for each batch; a worker runs each gen once */
    int busy;          /* workers still on the current batch */
    bool quit;
    decode_job *job;
} decode_pool;

static void *pool_worker(void *arg)
{
    decode_pool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->gen == seen && !p->quit)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->quit)
            break;
        seen = p->gen;
        decode_job *job = p->job;
        pthread_mutex_unlock(&p->lock);
        decode_worker(job);
        pthread_mutex_lock(&p->lock);
        if (--p->busy == 0)
            pthread_cond_signal(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Starts up to threads - 1 workers; fewer (even none) if the system refuses
 * threads, which only makes decoding slower. */
static void pool_start(decode_pool *p, int threads)
{
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->idle, NULL);
    p->started = 0, p->gen = 0, p->busy = 0, p->quit = false, p->job = NULL;
    for (int t = 1; t < threads && t < 64; t++)
        if (pthread_create(&p->tid[p->started], NULL, pool_worker, p) == 0)
            p->started++;
}

/* Decodes one batch on the pool's workers and the calling thread; returns
 * when every image of the batch is done. */
static void decode_batch(decode_pool *p, decode_job *job)
{
    atomic_store(&job->next, 0);
    pthread_mutex_lock(&p->lock);
    p->job = job;
    p->busy = p->started;
    p->gen++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    decode_worker(job);
    pthread_mutex_lock(&p->lock);
    while (p->busy > 0)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

static void pool_stop(decode_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->quit = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int t = 0; t < p->started; t++)
        pthread_join(p->tid[t], NULL);
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
}

/* ------------------------------------------------------------------------ */
/* The pipeline                                                             */

double an__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

an_classify_options an__classify_options(const an_classify_options *options)
{
    an_classify_options o = options ? *options : (an_classify_options){0};
    if (o.batch <= 0)
        o.batch = 16;
    if (o.top_k <= 0)
        o.top_k = 5;
    if (o.top_k > AN_CLASSES)
        o.top_k = AN_CLASSES;
    if (o.threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = n > 0 ? (int)(n < 64 ? n : 64) : 1;
    }
    return o;
}

/* true when (a, ia) ranks before (b, ib): higher probability first, NaN
 * below every number, ties to the lower index. A total order on all floats. */
static bool ranks_before(float a, int ia, float b, int ib)
{
    if (isnan(a) || isnan(b)) {
        if (isnan(a) && isnan(b))
            return ia < ib;
        return isnan(b);
    }
    if (a != b)
        return a > b;
    return ia < ib;
}

void an__top_k(const float *probs, int k, an_score *out)
{
    if (k < 1)
        return;
    if (k > AN_CLASSES)
        k = AN_CLASSES;
    int n = 0; /* entries of out filled so far, in rank order */
    for (int c = 0; c < AN_CLASSES; c++) {
        if (n == k && !ranks_before(probs[c], c, out[k - 1].prob, out[k - 1].index))
            continue;
        int j = n < k ? n++ : k - 1;
        for (; j > 0 && ranks_before(probs[c], c, out[j - 1].prob, out[j - 1].index); j--)
            out[j] = out[j - 1];
        out[j] = (an_score){c, probs[c]};
    }
}

/* Fails an image whose probabilities are not all finite, naming how many and
 * the first class; AN_OK when they are. */
static int check_finite(const float *probs, char *error, size_t size)
{
    int bad = 0, first = -1;
    for (int c = 0; c < AN_CLASSES; c++)
        if (!isfinite(probs[c]) && bad++ == 0)
            first = c;
    if (!bad)
        return AN_OK;
    snprintf(error, size,
             "the network's output holds %d non-finite probabilit%s (NaN or infinity), the first "
             "for class %d: the weights hold NaN or infinity, or a layer overflowed",
             bad, bad == 1 ? "y" : "ies", first);
    return AN_ERR_NONFINITE;
}

/* Adds the device seconds a batch took (from its input write starting to its
 * read ending) and the seconds the device sat idle before it, since the end
 * of the previous batch (*prev_end, device clock in ns; 0 before the first):
 * the time the device waited for the host to decode. Nothing is added when
 * the queue gives no event times. */
static void batch_times(slot *s, cl_ulong *prev_end, an_classify_stats *st)
{
    cl_ulong t0 = 0, t1 = 0;
    if (clGetEventProfilingInfo(s->started, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) ||
        clGetEventProfilingInfo(s->done, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) || t1 < t0)
        return;
    st->device_seconds += (double)(t1 - t0) * 1e-9;
    if (*prev_end && t0 > *prev_end)
        st->device_wait_seconds += (double)(t0 - *prev_end) * 1e-9;
    *prev_end = t1;
}

/* Waits for a slot's batch and hands its results to fn. Returns 1 when fn
 * asked to stop, else 0; a device error gives its status. */
static int finish_batch(slot *s, const char *const *paths, int k, an_result_fn fn, void *user,
                        cl_ulong *prev_end, an_classify_stats *st)
{
    int status = AN_OK, stop = 0;
    an_score top[AN_CLASSES];
    AN_CL(clWaitForEvents(1, &s->done));
    batch_times(s, prev_end, st);
    for (int i = 0; i < s->count && !stop; i++) {
        an_result r = {s->first + (size_t)i,
                       paths ? paths[s->first + (size_t)i] : NULL,
                       s->status[i],
                       s->error[i],
                       0,
                       top};
        if (r.status == AN_OK) {
            const float *probs = s->probs + (size_t)i * AN_CLASSES;
            r.status = s->status[i] = check_finite(probs, s->error[i], sizeof s->error[i]);
            if (r.status == AN_OK) {
                an__top_k(probs, k, top);
                r.k = k;
            }
        }
        if (r.status != AN_OK)
            st->failed++;
        st->images++;
        stop = fn(&r, user) != 0;
    }
fail:
    clReleaseEvent(s->done);
    clReleaseEvent(s->started);
    s->done = s->started = NULL;
    return status != AN_OK ? status : stop;
}

int an_classify_files(an_model *model, const char *const *paths, size_t count,
                      const an_classify_options *options, an_result_fn fn, void *user,
                      an_classify_stats *stats)
{
    return an__classify(model, paths, count, options, false, fn, user, stats);
}

static int classify_inputs(an_model *model, const inputs *in, size_t count,
                           const an_classify_options *options, bool keep_batch, an_result_fn fn,
                           void *user, an_classify_stats *stats);

int an__classify(an_model *model, const char *const *paths, size_t count,
                 const an_classify_options *options, bool keep_batch, an_result_fn fn, void *user,
                 an_classify_stats *stats)
{
    if (!paths && count)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_classify_files: NULL paths");
    inputs in = {paths, NULL, NULL};
    return classify_inputs(model, &in, count, options, keep_batch, fn, user, stats);
}

int an_classify_memory(an_model *model, const void *const *data, const size_t *sizes,
                       const char *const *names, size_t count, const an_classify_options *options,
                       an_result_fn fn, void *user, an_classify_stats *stats)
{
    an__clear_error();
    if ((!data || !sizes) && count)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_classify_memory: NULL data or sizes");
    inputs in = {names, data, sizes};
    return classify_inputs(model, &in, count, options, false, fn, user, stats);
}

static int classify_inputs(an_model *model, const inputs *in, size_t count,
                           const an_classify_options *options, bool keep_batch, an_result_fn fn,
                           void *user, an_classify_stats *stats)
{
    const char *const *paths = in->paths;
    an__clear_error();
    int status = AN_OK;
    an_plan *plan = NULL;
    slot slots[2] = {0};
    decode_pool pool;
    bool pool_running = false;
    an_classify_stats st = {0};
    an_preprocess pp;
    double t0 = an__now(); /* first decode (set again below) */
    if (!model || !fn)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_classify_files: NULL model or callback");
    an_classify_options o = an__classify_options(options);
    if (o.preprocess)
        pp = *o.preprocess;
    else
        an_model_preprocess(model, &pp); /* the weights file's, or the variant's */
    if ((size_t)o.batch > count && count > 0 && !keep_batch)
        o.batch = (int)count;
    st.batch = o.batch;
    t0 = an__now();
    if (count == 0)
        goto done;
    AN_TRY(an_plan_create(model, o.batch, pp.crop, pp.crop, &plan));

    size_t image_floats = (size_t)model->variant->in_channels * pp.crop * pp.crop;
    for (int i = 0; i < 2; i++) {
        slot *s = &slots[i];
        s->input = malloc((size_t)o.batch * image_floats * sizeof(float));
        s->probs = malloc((size_t)o.batch * AN_CLASSES * sizeof(float));
        s->status = calloc((size_t)o.batch, sizeof *s->status);
        s->error = calloc((size_t)o.batch, sizeof *s->error);
        if (!s->input || !s->probs || !s->status || !s->error) {
            status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory for batch buffers");
            goto fail;
        }
    }

    pool_start(&pool, o.threads);
    pool_running = true;
    /* Batch b decodes into slot b%2 while the device still computes b-1. */
    size_t batches = (count + (size_t)o.batch - 1) / (size_t)o.batch;
    slot *pending = NULL;
    cl_ulong prev_end = 0;
    for (size_t b = 0; b < batches; b++) {
        slot *s = &slots[b & 1];
        s->first = b * (size_t)o.batch;
        s->count = (int)(count - s->first < (size_t)o.batch ? count - s->first : (size_t)o.batch);
        decode_job job = {in, &pp, s, image_floats, 0};
        decode_batch(&pool, &job);
        if (s->count < o.batch) /* the last, partial batch: zeros after it */
            memset(s->input + (size_t)s->count * image_floats, 0,
                   (size_t)(o.batch - s->count) * image_floats * sizeof(float));
        AN_TRY(an__plan_enqueue(plan, (int)(b & 1), s->input, s->probs, AN_OUTPUT_PROBS, &s->done,
                                &s->started));
        st.batches++;
        if (pending) {
            status = finish_batch(pending, paths, o.top_k, fn, user, &prev_end, &st);
            pending = NULL;
            if (status != AN_OK)
                goto fail;
        }
        pending = s;
    }
    if (pending) {
        status = finish_batch(pending, paths, o.top_k, fn, user, &prev_end, &st);
        if (status != AN_OK)
            goto fail;
    }
done:
    st.wall_seconds = an__now() - t0;
    if (stats)
        *stats = st;
    status = AN_OK;
fail:
    if (status == 1) { /* the callback stopped the run: not an error, and stats as far as it went */
        status = AN_OK;
        st.wall_seconds = an__now() - t0;
    }
    /* a failed wait leaves a non-blocking read that may still write into the
     * slots: nothing is freed before the queue has drained */
    if (pool_running)
        pool_stop(&pool);
    if (plan)
        clFinish(model->dev->queue);
    for (int i = 0; i < 2; i++) {
        if (slots[i].done) {
            clWaitForEvents(1, &slots[i].done);
            clReleaseEvent(slots[i].done);
        }
        if (slots[i].started)
            clReleaseEvent(slots[i].started);
        free(slots[i].input);
        free(slots[i].probs);
        free(slots[i].status);
        free(slots[i].error);
    }
    an_plan_free(plan);
    if (stats)
        *stats = st;
    if (status == AN_OK)
        an__clear_error(); /* images' failures went to their results */
    return status;
}
