/* multi.c - classification over several devices at once: the input list is
 * cut into parts of a few batches, each device's model takes the next part
 * when it is free (so a fast and a slow device both stay busy), and the
 * results are handed to the caller in input order. Each part runs through the
 * single-device pipeline of classify.c. Also opening a list of devices. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Batches per part: small enough that the last parts spread over the
 * devices, large enough that the plan made per part costs little. */
enum { PART_BATCHES = 4 };

/* ------------------------------------------------------------------------ */
/* Opening several devices                                                  */

static int already_open(an_device *const *devs, int n, int p, int d)
{
    for (int i = 0; i < n; i++) {
        an_device_info info;
        an_device_get_info(devs[i], &info);
        if (info.platform_index == p && info.device_index == d)
            return 1;
    }
    return 0;
}

int an_device_open_list(const char *selectors, an_device **devs, int max, int *count)
{
    an__clear_error();
    int status = AN_OK, n = 0;
    an_device_info *infos = NULL;
    int n_infos = 0;
    char *copy = NULL;
    if (!devs || !count || max < 1)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_device_open_list: NULL output");
    *count = 0;
    if (!selectors || !*selectors) /* $ALEXNET_DEVICE or the first GPU, as an_device_open */
        selectors = "";
    if (!(copy = strdup(selectors)))
        return an__fail(AN_ERR_OUT_OF_MEMORY, "an_device_open_list: out of memory");
    AN_TRY(an_device_list(&infos, &n_infos));
    char *save = NULL;
    for (char *sel = strtok_r(copy, ",", &save); sel || (n == 0 && !*selectors);
         sel = strtok_r(NULL, ",", &save)) {
        const char *one = sel ? sel : "";
        int type = !strcmp(one, "all")           ? -1
                   : !strcmp(one, "gpu")         ? AN_DEVICE_GPU
                   : !strcmp(one, "cpu")         ? AN_DEVICE_CPU
                   : !strcmp(one, "accelerator") ? AN_DEVICE_ACCELERATOR
                                                 : 0;
        if (type == 0) { /* one device, as an_device_open picks it */
            an_device *dev = NULL;
            AN_TRY(an_device_open(one, &dev));
            an_device_info info;
            an_device_get_info(dev, &info);
            if (already_open(devs, n, info.platform_index, info.device_index) || n == max)
                an_device_free(dev); /* named twice, or past max */
            else
                devs[n++] = dev;
        } else { /* every device of that type */
            int matched = 0;
            for (int i = 0; i < n_infos; i++) {
                if (type != -1 && infos[i].type != (an_device_type)type)
                    continue;
                matched++;
                if (already_open(devs, n, infos[i].platform_index, infos[i].device_index) ||
                    n == max)
                    continue;
                char pd[32];
                snprintf(pd, sizeof pd, "%d:%d", infos[i].platform_index, infos[i].device_index);
                AN_TRY(an_device_open(pd, &devs[n]));
                n++;
            }
            if (!matched) {
                status = an__fail(AN_ERR_DEVICE_NOT_FOUND, "no OpenCL device of type '%s'", one);
                goto fail;
            }
        }
        if (!sel)
            break;
    }
    if (n == 0) {
        status = an__fail(AN_ERR_INVALID_ARGUMENT, "an_device_open_list: no device named in '%s'",
                          selectors);
        goto fail;
    }
    *count = n;
    free(infos);
    free(copy);
    return AN_OK;

fail:
    for (int i = 0; i < n; i++)
        an_device_free(devs[i]);
    free(infos);
    free(copy);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Classifying on several models                                            */

typedef struct {
    size_t first, len, got; /* images [first, first+len); results received so far */
    int done;
    int *status;
    int *k;
    an_score *top; /* len * top_k */
    char (*error)[512];
} part;

typedef struct {
    an_model *const *models;
    int n_models;
    const char *const *paths;
    an_classify_options o;
    bool keep_batch;
    an_result_fn fn;
    void *user;
    an_classify_stats *stats; /* n_models entries */

    pthread_mutex_t lock; /* everything below */
    part *parts;
    size_t n_parts, next_part, next_deliver;
    int stop, alive, fatal_status;
    char fatal[600];
} multi;

typedef struct {
    multi *m;
    int id;
} worker;

static void part_free(part *p)
{
    free(p->status);
    free(p->k);
    free(p->top);
    free(p->error);
    p->status = p->k = NULL;
    p->top = NULL;
    p->error = NULL;
}

/* Hands every finished part that is next in input order to the caller's
 * callback. Called with m->lock held. */
static void deliver(multi *m)
{
    while (!m->stop && m->next_deliver < m->n_parts && m->parts[m->next_deliver].done) {
        part *p = &m->parts[m->next_deliver];
        for (size_t i = 0; i < p->len && !m->stop; i++) {
            an_result r = {p->first + i,
                           m->paths[p->first + i],
                           p->status[i],
                           p->status[i] != AN_OK ? p->error[i] : "",
                           p->status[i] == AN_OK ? p->k[i] : 0,
                           p->top + i * (size_t)m->o.top_k};
            if (m->fn(&r, m->user) != 0)
                m->stop = 1;
        }
        part_free(p);
        m->next_deliver++;
    }
}

/* The single-device pipeline's callback: keeps a copy of each result. */
static int collect(const an_result *r, void *user)
{
    part *p = user;
    size_t i = r->index;
    p->status[i] = r->status;
    p->k[i] = r->k;
    if (r->k > 0)
        memcpy(p->top + i * (size_t)r->k, r->top, (size_t)r->k * sizeof *r->top);
    snprintf(p->error[i], sizeof p->error[i], "%s", r->error ? r->error : "");
    p->got = i + 1;
    return 0;
}

static void *work(void *arg)
{
    worker *w = arg;
    multi *m = w->m;
    an_model *model = m->models[w->id];
    an_classify_stats *total = &m->stats[w->id];
    an_device_info info;
    an_device_get_info(an_model_device(model), &info);
    for (;;) {
        pthread_mutex_lock(&m->lock);
        if (m->stop || m->fatal_status || m->next_part >= m->n_parts) {
            pthread_mutex_unlock(&m->lock);
            break;
        }
        part *p = &m->parts[m->next_part++];
        pthread_mutex_unlock(&m->lock);

        int status = AN_OK;
        p->status = calloc(p->len, sizeof *p->status);
        p->k = calloc(p->len, sizeof *p->k);
        p->top = calloc(p->len * (size_t)m->o.top_k, sizeof *p->top);
        p->error = calloc(p->len, sizeof *p->error);
        an_classify_stats st = {0};
        if (!p->status || !p->k || !p->top || !p->error)
            status = an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory for a part's results");
        else
            status = an__classify(model, m->paths + p->first, p->len, &m->o, m->keep_batch, collect,
                                  p, &st);
        total->images += st.images;
        total->failed += st.failed;
        total->batches += st.batches;
        total->device_seconds += st.device_seconds;
        total->device_wait_seconds += st.device_wait_seconds;
        if (st.batch)
            total->batch = st.batch;

        pthread_mutex_lock(&m->lock);
        if (status != AN_OK) { /* this device is done for: its part's other images fail */
            char why[512];
            snprintf(why, sizeof why, "device %d:%d (%s) failed: %s", info.platform_index,
                     info.device_index, info.name, an_last_error());
            if (!p->status) { /* no room even for the failures: stop the run */
                m->fatal_status = status;
                snprintf(m->fatal, sizeof m->fatal, "%s", why);
            } else {
                for (size_t i = p->got; i < p->len; i++) {
                    p->status[i] = status;
                    snprintf(p->error[i], sizeof p->error[i], "%s", why);
                    total->failed++;
                    total->images++;
                }
                p->done = 1;
            }
            if (--m->alive == 0) { /* nobody left to run the rest */
                m->fatal_status = status;
                snprintf(m->fatal, sizeof m->fatal, "every device failed; the last: %s", why);
            }
        } else {
            p->done = 1;
        }
        if (p->done)
            deliver(m);
        pthread_mutex_unlock(&m->lock);
        if (status != AN_OK)
            break;
    }
    return NULL;
}

int an_classify_files_multi(an_model *const *models, int n_models, const char *const *paths,
                            size_t count, const an_classify_options *options, an_result_fn fn,
                            void *user, an_classify_stats *stats)
{
    an__clear_error();
    if (!models || n_models < 1 || (!paths && count) || !fn)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "an_classify_files_multi: NULL models, paths or callback");
    for (int i = 0; i < n_models; i++)
        if (!models[i] || strcmp(an_model_variant(models[i]), an_model_variant(models[0])) != 0)
            return an__fail(AN_ERR_INVALID_ARGUMENT,
                            "an_classify_files_multi: model %d is %s; every model must be of "
                            "one variant (%s)",
                            i, models[i] ? an_model_variant(models[i]) : "NULL",
                            an_model_variant(models[0]));
    if (n_models == 1)
        return an_classify_files(models[0], paths, count, options, fn, user, stats);

    multi m = {.models = models, .n_models = n_models, .paths = paths, .fn = fn, .user = user};
    m.o = an__classify_options(options);
    /* the host threads are shared out: each part's pipeline decodes on its own */
    m.o.threads = m.o.threads / n_models > 0 ? m.o.threads / n_models : 1;
    m.keep_batch = count >= (size_t)m.o.batch; /* as one run over the whole list batches */
    size_t part_len = (size_t)m.o.batch * PART_BATCHES;
    m.n_parts = (count + part_len - 1) / part_len;
    m.alive = n_models;
    an_classify_stats *st = calloc((size_t)n_models, sizeof *st);
    m.parts = calloc(m.n_parts + 1, sizeof *m.parts);
    worker *w = calloc((size_t)n_models, sizeof *w);
    pthread_t *threads = calloc((size_t)n_models, sizeof *threads);
    if (!st || !m.parts || !w || !threads) {
        free(st), free(m.parts), free(w), free(threads);
        return an__fail(AN_ERR_OUT_OF_MEMORY, "an_classify_files_multi: out of memory");
    }
    m.stats = st;
    for (size_t i = 0; i < m.n_parts; i++) {
        m.parts[i].first = i * part_len;
        m.parts[i].len = count - m.parts[i].first < part_len ? count - m.parts[i].first : part_len;
    }
    pthread_mutex_init(&m.lock, NULL);
    double t0 = an__now();
    int started = 0;
    for (; started < n_models; started++) {
        w[started] = (worker){&m, started};
        if (pthread_create(&threads[started], NULL, work, &w[started]) != 0)
            break;
    }
    if (started < n_models) { /* the threads already running share the work */
        pthread_mutex_lock(&m.lock);
        m.alive -= n_models - started;
        pthread_mutex_unlock(&m.lock);
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    double wall = an__now() - t0;

    int status = AN_OK;
    if (started == 0)
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "an_classify_files_multi: no thread could start");
    else if (m.fatal_status)
        status = an__fail(m.fatal_status, "%s", m.fatal);
    for (size_t i = 0; i < m.n_parts; i++)
        part_free(&m.parts[i]);
    for (int i = 0; i < n_models; i++) {
        st[i].wall_seconds = wall;
        if (!st[i].batch)
            st[i].batch = m.keep_batch ? m.o.batch : (int)count;
        if (stats)
            stats[i] = st[i];
    }
    pthread_mutex_destroy(&m.lock);
    free(st), free(m.parts), free(w), free(threads);
    if (status == AN_OK)
        an__clear_error();
    return status;
}
