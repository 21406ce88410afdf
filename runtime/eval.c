/* eval.c - accuracy against ground truth: labelled image sets read the way
 * torchvision's ImageFolder reads a folder per class, or from a Caffe-style
 * `path label` file (ImageNet's val.txt), and top-1/top-5 counted over the
 * classification pipeline's results (an_classify_files) or over the lines
 * of `alexnet classify --json` outputs (shards) merged. */
#include <dirent.h>
#include <json-c/json.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Growing arrays                                                           */

typedef struct {
    char **items;
    size_t count, cap;
} strv;

static int strv_push(strv *v, char *s) /* takes s; frees it on failure */
{
    if (!s)
        return -1;
    if (v->count == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        char **p = realloc(v->items, cap * sizeof *p);
        if (!p) {
            free(s);
            return -1;
        }
        v->items = p;
        v->cap = cap;
    }
    v->items[v->count++] = s;
    return 0;
}

static void strv_free(strv *v)
{
    for (size_t i = 0; i < v->count; i++)
        free(v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void an_labelled_free(an_labelled *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        free(set->paths[i]);
    free(set->paths);
    free(set->labels);
    for (int i = 0; i < set->classes && set->class_names; i++)
        free(set->class_names[i]);
    free(set->class_names);
    memset(set, 0, sizeof *set);
}

/* Appends one image to set; -1 out of memory (path freed). */
static int set_push(an_labelled *set, size_t *cap, char *path, int label)
{
    if (!path)
        return -1;
    if (set->count == *cap) {
        size_t n = *cap ? 2 * *cap : 256;
        char **p = realloc(set->paths, n * sizeof *p);
        if (p)
            set->paths = p;
        int *l = realloc(set->labels, n * sizeof *l);
        if (l)
            set->labels = l;
        if (!p || !l) {
            free(path);
            return -1;
        }
        *cap = n;
    }
    set->paths[set->count] = path;
    set->labels[set->count++] = label;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* ImageFolder                                                              */

/* torchvision.datasets.folder.IMG_EXTENSIONS: files with these endings (any
 * case) are samples; those that are neither PNG nor JPEG then fail to decode
 * and count as failures, so the image count is torchvision's. */
static int is_sample_name(const char *name)
{
    static const char *const exts[] = {".jpg", ".jpeg", ".png",  ".ppm", ".bmp",
                                       ".pgm", ".tif",  ".tiff", ".webp"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        size_t k = strlen(exts[i]);
        if (n >= k && strcasecmp(name + n - k, exts[i]) == 0)
            return 1;
    }
    return 0;
}

typedef struct {
    dev_t dev;
    ino_t ino;
} dir_id;

/* Every directory under (and including) dir, following symbolic links as
 * os.walk(followlinks=True) does, each real directory once (no loops). */
static int collect_dirs(const char *dir, strv *dirs, dir_id **seen, size_t *nseen, int depth)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return 0;
    for (size_t i = 0; i < *nseen; i++)
        if ((*seen)[i].dev == sb.st_dev && (*seen)[i].ino == sb.st_ino)
            return 0;
    if (depth > 64)
        return 0;
    dir_id *s = realloc(*seen, (*nseen + 1) * sizeof *s);
    if (!s)
        return -1;
    *seen = s;
    s[(*nseen)++] = (dir_id){sb.st_dev, sb.st_ino};
    char *copy = strdup(dir);
    if (strv_push(dirs, copy) != 0)
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return 0; /* os.walk skips what it cannot list */
    strv subs = {0};
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = join(dir, e->d_name);
        struct stat st;
        if (p && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rc = strv_push(&subs, p);
        else if (p)
            free(p);
        else
            rc = -1;
    }
    closedir(d);
    for (size_t i = 0; rc == 0 && i < subs.count; i++)
        rc = collect_dirs(subs.items[i], dirs, seen, nseen, depth + 1);
    strv_free(&subs);
    return rc;
}

/* The files (not directories) of one directory with a sample name, sorted. */
static int dir_samples(const char *dir, strv *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    strv names = {0};
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!is_sample_name(e->d_name))
            continue;
        char *p = join(dir, e->d_name);
        struct stat st;
        if (!p) {
            rc = -1;
        } else if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            free(p);
        } else {
            free(p);
            rc = strv_push(&names, strdup(e->d_name));
        }
    }
    closedir(d);
    if (rc == 0 && names.count > 1)
        qsort(names.items, names.count, sizeof *names.items, cmp_str);
    for (size_t i = 0; rc == 0 && i < names.count; i++)
        rc = strv_push(out, join(dir, names.items[i]));
    strv_free(&names);
    return rc;
}

/* The ImageNet class index of a WordNet id ("n01440764" -> 0), from the
 * embedded data/imagenet_wnids.txt (sorted, so a binary search), or -1. */
static int wnid_index(const char *name)
{
    const struct an__embedded *e = an__embedded_labels;
    while (e->name && strcmp(e->name, "imagenet_wnids.txt") != 0)
        e++;
    if (!e->name || strlen(name) != 9)
        return -1;
    /* each line is exactly 9 characters and a newline */
    int lo = 0, hi = (int)(e->len / 10) - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strncmp(name, e->text + (size_t)mid * 10, 9);
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

int an_labelled_folder(const char *dir, an_labelled *out)
{
    an__clear_error();
    if (!out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_labelled_folder: out is NULL");
    memset(out, 0, sizeof *out);
    if (!dir)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_labelled_folder: dir is NULL");
    DIR *d = opendir(dir);
    if (!d)
        return an__fail(AN_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    strv classes = {0}, dirs = {0}, files = {0};
    dir_id *seen = NULL;
    size_t nseen = 0, cap = 0;
    int status = AN_OK, rc = 0;
    struct dirent *e;
    /* find_classes: the entries that are directories (links followed), sorted */
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char *p = join(dir, e->d_name);
        struct stat st;
        if (!p)
            rc = -1;
        else if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rc = strv_push(&classes, strdup(e->d_name));
        free(p);
    }
    closedir(d);
    if (rc != 0)
        goto oom;
    if (classes.count == 0) {
        status = an__fail(AN_ERR_INVALID_ARGUMENT,
                          "%s: no class folder (the layout is DIR/CLASS/IMAGE, one folder "
                          "per class, as torchvision's ImageFolder reads)",
                          dir);
        goto fail;
    }
    if (classes.count > AN_CLASSES) {
        status = an__fail(AN_ERR_INVALID_ARGUMENT,
                          "%s: %zu class folders, more than the model's %d classes", dir,
                          classes.count, AN_CLASSES);
        goto fail;
    }
    qsort(classes.items, classes.count, sizeof *classes.items, cmp_str);
    /* Class folders that are all ImageNet wnids take ImageNet's indices, so a
     * subset of the validation set is scored against the right outputs. */
    bool wnids = true;
    for (size_t c = 0; c < classes.count && wnids; c++)
        wnids = wnid_index(classes.items[c]) >= 0;
    for (size_t c = 0; c < classes.count; c++) {
        int label = wnids ? wnid_index(classes.items[c]) : (int)c;
        /* make_dataset: sorted(os.walk(class_dir)), then each one's sorted names */
        char *cdir = join(dir, classes.items[c]);
        if (!cdir)
            goto oom;
        nseen = 0;
        rc = collect_dirs(cdir, &dirs, &seen, &nseen, 0);
        free(cdir);
        if (rc != 0)
            goto oom;
        if (dirs.count > 1)
            qsort(dirs.items, dirs.count, sizeof *dirs.items, cmp_str);
        size_t before = out->count;
        for (size_t i = 0; i < dirs.count; i++) {
            if (dir_samples(dirs.items[i], &files) != 0)
                goto oom;
            for (size_t k = 0; k < files.count; k++) {
                if (set_push(out, &cap, files.items[k], label) != 0) {
                    files.items[k] = NULL;
                    goto oom;
                }
                files.items[k] = NULL;
            }
            files.count = 0;
        }
        strv_free(&dirs);
        if (out->count == before) {
            status = an__fail(AN_ERR_INVALID_ARGUMENT,
                              "%s: class folder '%s' holds no image file (%s...; torchvision's "
                              "ImageFolder refuses empty classes too)",
                              dir, classes.items[c], ".jpg, .jpeg, .png");
            goto fail;
        }
    }
    out->classes = (int)classes.count;
    out->class_names = classes.items; /* taken */
    memset(&classes, 0, sizeof classes);
    goto done;

oom:
    status = an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory listing the images", dir);
fail:
    an_labelled_free(out);
done:
    strv_free(&classes);
    strv_free(&dirs);
    strv_free(&files);
    free(seen);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Ground-truth file                                                        */

static int cmp_index_path(const void *a, const void *b, void *arg)
{
    char **paths = arg;
    return strcmp(paths[*(const size_t *)a], paths[*(const size_t *)b]);
}

int an_labelled_list(const char *file, const char *root, an_labelled *out)
{
    an__clear_error();
    if (!out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_labelled_list: out is NULL");
    memset(out, 0, sizeof *out);
    if (!file)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_labelled_list: file is NULL");
    FILE *f = fopen(file, "rb");
    if (!f)
        return an__fail(AN_ERR_IO, "%s: cannot open: %s", file, strerror(errno));
    char *dirbuf = NULL;
    if (!root && strchr(file, '/')) { /* the ground-truth file's own folder */
        dirbuf = strdup(file);
        if (!dirbuf) {
            fclose(f);
            return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
        }
        char *slash = strrchr(dirbuf, '/');
        slash[slash == dirbuf ? 1 : 0] = '\0';
        root = dirbuf;
    }
    char *line = NULL;
    size_t lcap = 0, cap = 0, *order = NULL;
    ssize_t len;
    long lineno = 0;
    int status = AN_OK, max_label = -1;
    while ((len = getline(&line, &lcap, f)) != -1) {
        lineno++;
        if ((size_t)len != strlen(line)) {
            status = an__fail(AN_ERR_BAD_FILE, "%s: line %ld holds a NUL byte", file, lineno);
            goto fail;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
                           line[len - 1] == '\t'))
            line[--len] = '\0';
        char *start = line;
        if (lineno == 1 && !strncmp(start, "\xef\xbb\xbf", 3))
            start += 3; /* a UTF-8 byte-order mark */
        while (*start == ' ' || *start == '\t')
            start++;
        if (*start == '\0')
            continue; /* blank */
        char *sp = start + strlen(start);
        while (sp > start && sp[-1] != ' ' && sp[-1] != '\t')
            sp--;
        if (sp == start) {
            status = an__fail(AN_ERR_BAD_FILE,
                              "%s: line %ld: '%.80s' is not 'PATH LABEL' (a path, white "
                              "space, a class index 0..%d)",
                              file, lineno, start, AN_CLASSES - 1);
            goto fail;
        }
        char *end = NULL;
        errno = 0;
        long label = strtol(sp, &end, 10);
        if (*end || errno || label < 0 || label >= AN_CLASSES || !(*sp >= '0' && *sp <= '9')) {
            status =
                an__fail(AN_ERR_BAD_FILE, "%s: line %ld: label '%.40s' is not a class index 0..%d",
                         file, lineno, sp, AN_CLASSES - 1);
            goto fail;
        }
        char *pend = sp;
        while (pend > start && (pend[-1] == ' ' || pend[-1] == '\t'))
            pend--;
        *pend = '\0';
        char *path = start[0] == '/' || !root ? strdup(start) : join(root, start);
        if (set_push(out, &cap, path, (int)label) != 0) {
            status = an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory at line %ld", file, lineno);
            goto fail;
        }
        if ((int)label > max_label)
            max_label = (int)label;
    }
    if (ferror(f)) {
        status = an__fail(AN_ERR_IO, "%s: read error: %s", file, strerror(errno));
        goto fail;
    }
    if (out->count == 0) {
        status = an__fail(AN_ERR_BAD_FILE, "%s: no 'PATH LABEL' line", file);
        goto fail;
    }
    /* The same image twice would count twice: refuse it, naming both. */
    order = malloc(out->count * sizeof *order);
    if (!order) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory", file);
        goto fail;
    }
    for (size_t i = 0; i < out->count; i++)
        order[i] = i;
    qsort_r(order, out->count, sizeof *order, cmp_index_path, out->paths);
    for (size_t i = 1; i < out->count; i++)
        if (!strcmp(out->paths[order[i - 1]], out->paths[order[i]])) {
            size_t a = order[i - 1] < order[i] ? order[i - 1] : order[i];
            size_t b = order[i - 1] < order[i] ? order[i] : order[i - 1];
            status = an__fail(AN_ERR_BAD_FILE,
                              "%s: '%s' is listed twice (entries %zu and %zu, blank lines "
                              "not counted)",
                              file, out->paths[a], a + 1, b + 1);
            goto fail;
        }
    out->classes = max_label + 1;
    goto done;

fail:
    an_labelled_free(out);
done:
    free(order);
    free(line);
    free(dirbuf);
    fclose(f);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Counting                                                                 */

typedef struct {
    const an_labelled *set;
    an_eval_fn fn;
    void *user;
    an_eval_stats *st;
} eval_ctx;

static int eval_result(const an_result *r, void *user)
{
    eval_ctx *c = user;
    int label = c->set->labels[r->index], rank = -1;
    if (r->status == AN_OK) {
        for (int j = 0; j < r->k && j < 5; j++)
            if (r->top[j].index == label) {
                rank = j;
                break;
            }
        c->st->classified++;
        c->st->top1 += rank == 0;
        c->st->top5 += rank >= 0;
    }
    return c->fn ? c->fn(r, label, rank, c->user) : 0;
}

int an_eval(an_model *model, const an_labelled *set, const an_classify_options *options,
            an_eval_fn fn, void *user, an_eval_stats *stats)
{
    an__clear_error();
    an_eval_stats st;
    memset(&st, 0, sizeof st);
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!model || !set || (set->count && (!set->paths || !set->labels)))
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_eval: model or set is NULL");
    for (size_t i = 0; i < set->count; i++)
        if (set->labels[i] < 0 || set->labels[i] >= AN_CLASSES)
            return an__fail(AN_ERR_INVALID_ARGUMENT, "an_eval: %s has label %d, not 0..%d",
                            set->paths[i], set->labels[i], AN_CLASSES - 1);
    an_classify_options o = {16, 5, 0, NULL};
    if (options)
        o = *options;
    if (o.top_k < 5)
        o.top_k = 5; /* top-5 needs five */
    eval_ctx c = {set, fn, user, &st};
    an_classify_stats cs;
    int status = an_classify_files(model, (const char *const *)set->paths, set->count, &o,
                                   eval_result, &c, &cs);
    st.images = cs.images;
    st.failed = cs.failed;
    st.wall_seconds = cs.wall_seconds;
    st.device_seconds = cs.device_seconds;
    if (stats)
        *stats = st;
    return status;
}

/* ------------------------------------------------------------------------ */
/* Merging `classify --json` outputs                                        */

typedef struct {
    const char *key; /* a path of the set: joined, or as its line wrote it */
    size_t index;
} path_key;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const path_key *)a)->key, ((const path_key *)b)->key);
}

/* The set's image for a result path: the longest tail of it (the whole path,
 * or what follows one of its '/') that equals a tail of exactly one path of
 * the set. keys holds every tail of every path of the set, sorted, with index
 * SIZE_MAX where two images share a tail. SIZE_MAX when none. */
static size_t find_image(const path_key *keys, size_t n, const char *path)
{
    for (const char *p = path; p; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL) {
        if (!*p)
            break;
        path_key k = {p, 0};
        const path_key *hit = bsearch(&k, keys, n, sizeof *keys, cmp_key);
        if (hit)
            return hit->index; /* SIZE_MAX when ambiguous: a shorter tail is too */
    }
    return SIZE_MAX;
}

/* keys for find_image; *n gets their count. NULL when out of memory. */
static path_key *tail_keys(const an_labelled *set, size_t *n)
{
    size_t count = 0, cap = set->count + 1;
    path_key *keys = malloc(cap * sizeof *keys);
    for (size_t i = 0; keys && i < set->count; i++)
        for (const char *p = set->paths[i]; p && *p;
             p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL) {
            if (count == cap) {
                path_key *k = realloc(keys, 2 * cap * sizeof *k);
                if (!k) {
                    free(keys);
                    return NULL;
                }
                keys = k;
                cap *= 2;
            }
            keys[count++] = (path_key){p, i};
        }
    if (!keys)
        return NULL;
    if (count > 1)
        qsort(keys, count, sizeof *keys, cmp_key);
    size_t out = 0; /* one key per distinct tail; SIZE_MAX when images share it */
    for (size_t i = 0; i < count; i++) {
        if (out && !strcmp(keys[out - 1].key, keys[i].key)) {
            if (keys[out - 1].index != keys[i].index)
                keys[out - 1].index = SIZE_MAX;
            continue;
        }
        keys[out++] = keys[i];
    }
    *n = out;
    return keys;
}

int an_eval_merge(const an_labelled *set, const char *const *files, size_t nfiles, an_eval_fn fn,
                  void *user, an_eval_stats *stats)
{
    an__clear_error();
    an_eval_stats st;
    memset(&st, 0, sizeof st);
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!set || (nfiles && !files) || (set->count && (!set->paths || !set->labels)))
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_eval_merge: set or files is NULL");
    int status = AN_OK;
    size_t nkeys = 0;
    path_key *keys = tail_keys(set, &nkeys);
    long *seen_line = calloc(set->count + 1, sizeof *seen_line); /* 0: no result yet */
    size_t *seen_file = calloc(set->count + 1, sizeof *seen_file);
    char *line = NULL;
    size_t lcap = 0;
    FILE *f = NULL;
    if (!keys || !seen_line || !seen_file) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "an_eval_merge: out of memory");
        goto fail;
    }

    for (size_t fi = 0; fi < nfiles; fi++) {
        f = fopen(files[fi], "rb");
        if (!f) {
            status = an__fail(AN_ERR_IO, "%s: cannot open: %s", files[fi], strerror(errno));
            goto fail;
        }
        long lineno = 0;
        while (getline(&line, &lcap, f) != -1) {
            lineno++;
            json_object *o = json_tokener_parse(line), *jp, *jt, *je;
            if (!o || !json_object_object_get_ex(o, "path", &jp) ||
                !json_object_is_type(jp, json_type_string)) {
                if (o)
                    json_object_put(o);
                status = an__fail(AN_ERR_BAD_FILE,
                                  "%s: line %ld is not a line of `alexnet classify --json` (a "
                                  "JSON object with \"path\")",
                                  files[fi], lineno);
                goto fail;
            }
            const char *path = json_object_get_string(jp);
            size_t i = find_image(keys, nkeys, path);
            if (i == SIZE_MAX) {
                status = an__fail(AN_ERR_BAD_FILE,
                                  "%s: line %ld: '%s' matches no single image of the ground "
                                  "truth",
                                  files[fi], lineno, path);
                json_object_put(o);
                goto fail;
            }
            if (seen_line[i]) {
                status = an__fail(
                    AN_ERR_BAD_FILE, "%s: line %ld: '%s' has a result already (%s, line %ld)",
                    files[fi], lineno, set->paths[i], files[seen_file[i]], seen_line[i]);
                json_object_put(o);
                goto fail;
            }
            seen_line[i] = lineno;
            seen_file[i] = fi;
            an_score top[5];
            an_result r = {i, set->paths[i], AN_OK, "", 0, top};
            const int label = set->labels[i];
            int rank = -1;
            if (json_object_object_get_ex(o, "error", &je)) {
                r.status = AN_ERR_BAD_IMAGE;
                r.error = json_object_get_string(je);
                st.failed++;
            } else if (json_object_object_get_ex(o, "top", &jt) &&
                       json_object_is_type(jt, json_type_array)) {
                size_t k = json_object_array_length(jt);
                for (size_t j = 0; j < k && j < 5; j++) {
                    json_object *e = json_object_array_get_idx(jt, j), *ji, *jq;
                    if (!json_object_object_get_ex(e, "index", &ji) ||
                        !json_object_object_get_ex(e, "probability", &jq)) {
                        k = 0;
                        break;
                    }
                    top[j].index = json_object_get_int(ji);
                    top[j].prob = (float)json_object_get_double(jq);
                    r.k = (int)j + 1;
                    if (top[j].index == label && rank < 0)
                        rank = (int)j;
                }
                if (k == 0 || (rank < 0 && k < 5)) {
                    status = an__fail(AN_ERR_BAD_FILE,
                                      "%s: line %ld: '%s' has %zu classes and not its label "
                                      "%d; top-5 needs 5 (run classify with --top 5 or more)",
                                      files[fi], lineno, path, k, label);
                    json_object_put(o);
                    goto fail;
                }
                st.classified++;
                st.top1 += rank == 0;
                st.top5 += rank >= 0;
            } else {
                status = an__fail(AN_ERR_BAD_FILE, "%s: line %ld: neither \"top\" nor \"error\"",
                                  files[fi], lineno);
                json_object_put(o);
                goto fail;
            }
            st.images++;
            int stop = fn ? fn(&r, label, rank, user) : 0;
            json_object_put(o);
            if (stop)
                goto fail; /* status is AN_OK: stopped by the caller */
        }
        if (ferror(f)) {
            status = an__fail(AN_ERR_IO, "%s: read error", files[fi]);
            goto fail;
        }
        fclose(f);
        f = NULL;
    }
    /* Images of the set without a result: reported, counted as misses. */
    for (size_t i = 0; i < set->count; i++)
        if (!seen_line[i]) {
            st.missing++;
            an_result r = {i,
                           set->paths[i],
                           AN_ERR_IO,
                           "no result for this image in the "
                           "classify outputs",
                           0,
                           NULL};
            if (fn && fn(&r, set->labels[i], -1, user))
                break;
        }
fail:
    if (f)
        fclose(f);
    free(line);
    free(keys);
    free(seen_line);
    free(seen_file);
    if (stats)
        *stats = st;
    return status;
}
