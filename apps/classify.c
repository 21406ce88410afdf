/* classify.c - `alexnet classify`: gathers the input paths (files, sorted
 * directory walks, @lists), reads a --labels file, runs the library's
 * pipeline and prints each result in input order, as text or JSON lines
 * (strict UTF-8 whatever the bytes of a path: see app_json_string in
 * results.c); --shard and --output/--resume for runs split over processes. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alexnet.h"
#include "apps.h"

/* The inputs in order. An entry with errors[i] set is reported with that
 * reason instead of being classified (a dangling link, a loop). */
typedef struct {
    char **items;
    char **errors; /* NULL, or per item NULL or a reason (malloc'ed) */
    size_t count, cap;
} path_list;

static int push(path_list *l, const char *path)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return -1;
        l->items = items;
        char **errors = realloc(l->errors, cap * sizeof *errors);
        if (!errors)
            return -1;
        l->errors = errors;
        l->cap = cap;
    }
    l->errors[l->count] = NULL;
    if (!(l->items[l->count] = strdup(path)))
        return -1;
    l->count++;
    return 0;
}

/* An entry reported with a reason (printf-style) rather than classified. */
static int push_error(path_list *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int push_error(path_list *l, const char *path, const char *fmt, ...)
{
    if (push(l, path) != 0)
        return -1;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return (l->errors[l->count - 1] = strdup(buf)) ? 0 : -1;
}

static void free_list(path_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i]);
        if (l->errors)
            free(l->errors[i]);
    }
    free(l->items);
    free(l->errors);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names a directory walk takes: PNG and JPEG extensions, any case (what
 * torchvision's ImageFolder takes of those two kinds). Only the walk looks at
 * names; the library tells the kind by the file's first bytes. */
static int is_image_name(const char *name)
{
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".jpe", ".jfif"};
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Directory walks, as `find -L` does them                                  */

/* A set of (device, inode) pairs: open addressing, grown at half full. */
typedef struct {
    dev_t dev;
    ino_t ino;
    int used;
} file_id;

typedef struct {
    file_id *slots;
    size_t count, cap; /* cap: a power of two, or 0 */
} id_set;

static size_t id_hash(dev_t dev, ino_t ino, size_t cap)
{
    uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)ino * 0xbf58476d1ce4e5b9ull);
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

/* Adds (dev, ino): 1 when added, 0 when already there, -1 out of memory. */
static int id_set_add(id_set *s, dev_t dev, ino_t ino)
{
    if (2 * (s->count + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        file_id *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slots[i].used) {
                size_t j = id_hash(s->slots[i].dev, s->slots[i].ino, cap);
                while (slots[j].used)
                    j = (j + 1) & (cap - 1);
                slots[j] = s->slots[i];
            }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t j = id_hash(dev, ino, s->cap);
    for (; s->slots[j].used; j = (j + 1) & (s->cap - 1))
        if (s->slots[j].dev == dev && s->slots[j].ino == ino)
            return 0;
    s->slots[j] = (file_id){dev, ino, 1};
    s->count++;
    return 1;
}

enum { MAX_EXTS = 8 };

/* What the walks saw: every real file listed once, every directory walked
 * once, and the files skipped for their names, by extension. */
typedef struct {
    id_set files, dirs;
    size_t skipped;
    struct {
        char ext[16];
        size_t n;
    } exts[MAX_EXTS]; /* the first MAX_EXTS extensions; the rest in other_exts */
    int n_exts;
    size_t other_exts;
} walk_state;

/* The directories from the walk's root down to the one being read. */
typedef struct ancestor {
    dev_t dev;
    ino_t ino;
    const char *path;
    const struct ancestor *up;
} ancestor;

static void note_skipped(walk_state *ws, const char *name)
{
    const char *dot = strrchr(name, '.');
    char ext[16];
    size_t n = dot && dot[1] ? strlen(dot) : 0;
    if (n == 0 || n >= sizeof ext)
        snprintf(ext, sizeof ext, "%s", n ? "(long)" : "no extension");
    else
        for (size_t i = 0; i <= n; i++)
            ext[i] = (char)tolower((unsigned char)dot[i]);
    ws->skipped++;
    for (int i = 0; i < ws->n_exts; i++)
        if (strcmp(ws->exts[i].ext, ext) == 0) {
            ws->exts[i].n++;
            return;
        }
    if (ws->n_exts == MAX_EXTS) {
        ws->other_exts++;
        return;
    }
    snprintf(ws->exts[ws->n_exts].ext, sizeof ws->exts[0].ext, "%s", ext);
    ws->exts[ws->n_exts++].n = 1;
}

/* Adds the PNG and JPEG files (by name, is_image_name) under dir, sorted by name (bytes),
 * descending into subdirectories and following symbolic links like `find -L`: a real file (device
 * and inode) is listed once however many names it has, a directory is walked once, a link back to a
 * directory being walked is reported once as a loop, and a dangling link is reported as its entry's
 * error. Names starting with '.' are left out; other files are counted as skipped. Returns -1 only
 * when out of memory. */
static int walk(path_list *l, walk_state *ws, const char *dir, const ancestor *up)
{
    DIR *d = opendir(dir);
    if (!d)
        return push_error(l, dir, "cannot open directory: %s", strerror(errno));
    path_list names = {0};
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && push(&names, e->d_name) != 0)
            rc = -1;
    closedir(d);
    if (names.count > 1) /* an empty directory has no array at all */
        qsort(names.items, names.count, sizeof *names.items, cmp_str);
    for (size_t i = 0; i < names.count && rc == 0; i++) {
        size_t n = strlen(dir) + strlen(names.items[i]) + 2;
        char *path = malloc(n);
        if (!path) {
            rc = -1;
            break;
        }
        snprintf(path, n, "%s/%s", dir, names.items[i]);
        struct stat sb, lsb;
        if (stat(path, &sb) != 0) {
            int err = errno;
            char target[512];
            ssize_t tn = -1;
            if (lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode))
                tn = readlink(path, target, sizeof target - 1);
            if (tn >= 0) {
                target[tn] = '\0';
                rc = push_error(l, path, "%s symbolic link (to '%s'): %s",
                                err == ELOOP ? "looping" : "dangling", target, strerror(err));
            } else {
                rc = push_error(l, path, "cannot stat: %s", strerror(err));
            }
        } else if (S_ISDIR(sb.st_mode)) {
            const ancestor *a = up;
            while (a && !(a->dev == sb.st_dev && a->ino == sb.st_ino))
                a = a->up;
            if (a) {
                rc = push_error(l, path,
                                "file system loop: this is the directory '%s' again; not "
                                "walked twice",
                                a->path);
            } else {
                int added = id_set_add(&ws->dirs, sb.st_dev, sb.st_ino);
                ancestor here = {sb.st_dev, sb.st_ino, path, up};
                rc = added < 0 ? -1 : added ? walk(l, ws, path, &here) : 0;
            }
        } else if (!is_image_name(names.items[i])) {
            note_skipped(ws, names.items[i]);
        } else {
            int added = id_set_add(&ws->files, sb.st_dev, sb.st_ino);
            if (added < 0)
                rc = -1;
            else if (added && !S_ISREG(sb.st_mode))
                rc = push_error(l, path, "not a regular file");
            else if (added)
                rc = push(l, path);
            /* else: a file already listed under another name */
        }
        free(path);
    }
    free_list(&names);
    return rc;
}

/* One path a line, trailing white space dropped; blank lines and lines
 * starting with # are skipped. */
static int read_list(path_list *l, const char *name)
{
    FILE *f = strcmp(name, "-") == 0 ? stdin : fopen(name, "r");
    if (!f) {
        fprintf(stderr, "alexnet classify: cannot open list %s\n", name);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        n = (ssize_t)strlen(line); /* a NUL byte ends the line: no path holds one */
        while (n > 0 && isspace((unsigned char)line[n - 1]))
            line[--n] = '\0';
        size_t lead = strspn(line, " \t");
        if (line[lead] != '\0' && line[lead] != '#') /* blank and comment lines skipped */
            rc = push(l, line);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

static int gather(path_list *l, walk_state *ws, char **args, int n)
{
    for (int i = 0; i < n; i++) {
        const char *a = args[i];
        struct stat sb;
        int rc;
        if (strcmp(a, "-") == 0 || strcmp(a, "@-") == 0)
            rc = read_list(l, "-");
        else if (a[0] == '@')
            rc = read_list(l, a + 1);
        else if (stat(a, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            ancestor root = {sb.st_dev, sb.st_ino, a, NULL};
            int added = id_set_add(&ws->dirs, sb.st_dev, sb.st_ino);
            rc = added < 0 ? -1 : added ? walk(l, ws, a, &root) : 0; /* each directory once */
        } else
            rc = push(l, a); /* a missing file fails alone, with its reason */
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Printing                                                                 */

typedef struct {
    int json;
    FILE *out;     /* stdout, or the --output file */
    char **labels; /* from --labels, else NULL: the embedded names */
    size_t total, done;
    double start, last_draw;
    int progress;
    const path_list *all;      /* every entry, errors included */
    const unsigned char *skip; /* per entry of all: 1 when outside the shard or already done */
    const size_t *map;         /* index in all of each entry handed to the library */
    size_t next;               /* the next entry of all to print */
} printer;

/* The class's name; "?" for an index out of range (never NULL). */
static const char *label(const printer *p, int index)
{
    if (index < 0 || index >= AN_CLASSES)
        return "?";
    const char *name = p->labels ? p->labels[index] : an_class_label(index);
    return name ? name : "?";
}

static void draw_progress(printer *p, int final)
{
    double t = app_now(), elapsed = t - p->start;
    if (!p->progress || (!final && (elapsed < 1.0 || t - p->last_draw < 0.1)))
        return;
    if (final && p->last_draw == 0)
        return; /* a run too short to have shown a bar */
    p->last_draw = t;
    int width = 30, filled = p->total ? (int)(width * p->done / p->total) : width;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu  %.1f images/s", filled,
            "==============================", width - filled, "", p->done, p->total,
            elapsed > 0 ? p->done / elapsed : 0.0);
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

static void print_one(printer *p, const an_result *r)
{
    if (p->progress && p->last_draw > 0)
        fputs("\r\033[K", stderr); /* keep the bar off the results' lines */
    if (p->json) {
        fputs("{\"path\":", p->out);
        app_json_string(p->out, r->path);
        if (r->status != AN_OK) {
            fputs(",\"error\":", p->out);
            app_json_string(p->out, r->error);
        } else {
            fputs(",\"top\":[", p->out);
            for (int i = 0; i < r->k; i++) {
                fputs(i ? ",{\"label\":" : "{\"label\":", p->out);
                app_json_string(p->out, label(p, r->top[i].index));
                fprintf(p->out, ",\"index\":%d,\"probability\":", r->top[i].index);
                /* JSON has no NaN or infinity: null (the library fails such images anyway) */
                if (isfinite(r->top[i].prob))
                    fprintf(p->out, "%.9g}", r->top[i].prob); /* 9 digits: the float exactly */
                else
                    fputs("null}", p->out);
            }
            fputc(']', p->out);
        }
        fputs("}\n", p->out);
    } else if (r->status != AN_OK) {
        fprintf(p->out, "%s: error: %s\n", r->path, r->error);
    } else {
        fprintf(p->out, "%s\n", r->path);
        for (int i = 0; i < r->k; i++)
            fprintf(p->out, "  %6.2f%%  %s (%d)\n", 100.0 * r->top[i].prob,
                    label(p, r->top[i].index), r->top[i].index);
    }
    fflush(p->out);
    p->done++;
    draw_progress(p, 0);
}

/* Prints the entries before `upto` that were reported rather than classified. */
static void print_errors_before(printer *p, size_t upto)
{
    for (; p->next < upto; p->next++) {
        size_t i = p->next;
        if (!p->all->errors[i] || p->skip[i])
            continue;
        an_result r = {i, p->all->items[i], AN_ERR_IO, p->all->errors[i], 0, NULL};
        print_one(p, &r);
    }
}

static int print_result(const an_result *r, void *user)
{
    printer *p = user;
    an_result full = *r;
    full.index = p->map[r->index];
    print_errors_before(p, full.index);
    print_one(p, &full);
    p->next = full.index + 1;
    return 0;
}

enum { MAX_LABELS_BYTES = 1 << 20 };

/* Parses a labels file held in buf[0, n): exactly AN_CLASSES lines, one label
 * a line, in class order. A UTF-8 byte-order mark at the start and a CR
 * before each LF are dropped, and the last line may end without a newline;
 * anything else is exact: a blank line is a blank label and refused, as are
 * lines that are not UTF-8 or hold control bytes (NUL, a lone CR). On success
 * returns AN_CLASSES malloc'ed labels (free each, then the array); else NULL
 * with the reason in why (or "" when out of memory). */
static char **parse_labels(const unsigned char *buf, size_t n, char *why, size_t why_size)
{
    why[0] = '\0';
    if (n >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
        buf += 3;
        n -= 3;
    }
    /* count the lines first: a wrong count is the likeliest fault, say it first */
    size_t lines = 0, first_blank = 0;
    for (size_t i = 0, start = 0; i < n; i++)
        if (buf[i] == '\n' || i == n - 1) {
            size_t end = buf[i] == '\n' ? i : i + 1;
            lines++;
            size_t j = start;
            while (j < end && (buf[j] == ' ' || buf[j] == '\t' || buf[j] == '\r'))
                j++;
            if (j == end && !first_blank)
                first_blank = lines;
            start = i + 1;
        }
    if (lines != AN_CLASSES) {
        size_t used = (size_t)snprintf(why, why_size, "it has %zu label%s, one a line", lines,
                                       lines == 1 ? "" : "s");
        if (first_blank && used < why_size)
            used +=
                (size_t)snprintf(why + used, why_size - used, " (line %zu is blank)", first_blank);
        if (used < why_size)
            used +=
                (size_t)snprintf(why + used, why_size - used, "; expected exactly %d", AN_CLASSES);
        if (lines == AN_CLASSES + 1 && n >= 10 &&
            strncasecmp((const char *)buf, "background", 10) == 0 && used < why_size)
            snprintf(why + used, why_size - used,
                     " (a TensorFlow-style list with 'background' first: drop that line)");
        return NULL;
    }
    char **labels = calloc(AN_CLASSES, sizeof *labels);
    if (!labels)
        return NULL;
    size_t start = 0;
    for (int line = 0; line < AN_CLASSES; line++) {
        size_t end = start;
        while (end < n && buf[end] != '\n')
            end++;
        size_t next = end + 1, len = end - start;
        if (len > 0 && buf[start + len - 1] == '\r')
            len--; /* CRLF */
        const unsigned char *l = buf + start;
        for (size_t i = 0; i < len && !why[0];) {
            size_t k = app_utf8_seq(l + i, len - i);
            if (k == 0)
                snprintf(why, why_size, "line %d is not UTF-8 (byte 0x%02x at column %zu)",
                         line + 1, l[i], i + 1);
            else if (k == 1 && ((l[i] < 0x20 && l[i] != '\t') || l[i] == 0x7f))
                snprintf(why, why_size, "line %d holds the control byte 0x%02x at column %zu",
                         line + 1, l[i], i + 1);
            i += k ? k : 1;
        }
        if (!why[0] && line + 1 == (int)first_blank)
            snprintf(why, why_size, "line %d is blank: every class needs a label", line + 1);
        if (!why[0] && !(labels[line] = strndup((const char *)l, len)))
            snprintf(why, why_size, "out of memory");
        if (why[0]) {
            for (int i = 0; i < AN_CLASSES; i++)
                free(labels[i]);
            free(labels);
            return NULL;
        }
        start = next;
    }
    return labels;
}

static char **read_labels(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "alexnet classify: cannot open labels file %s: %s\n", path,
                strerror(errno));
        return NULL;
    }
    unsigned char *buf = malloc(MAX_LABELS_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_LABELS_BYTES + 1, f) : 0;
    int err = ferror(f);
    fclose(f);
    char why[256] = "out of memory";
    char **labels = NULL;
    if (buf && err)
        snprintf(why, sizeof why, "read error");
    else if (buf && n > MAX_LABELS_BYTES)
        snprintf(why, sizeof why, "over %d bytes: not a labels file", MAX_LABELS_BYTES);
    else if (buf)
        labels = parse_labels(buf, n, why, sizeof why);
    free(buf);
    if (!labels)
        fprintf(stderr, "alexnet classify: labels file %s refused: %s\n", path,
                why[0] ? why : "out of memory");
    return labels;
}

/* ------------------------------------------------------------------------ */

int cmd_classify(int argc, char **argv)
{
    static const struct option opts[] = {{"variant", required_argument, NULL, 'v'},
                                         {"weights", required_argument, NULL, 'w'},
                                         {"device", required_argument, NULL, 'd'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"top", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"labels", required_argument, NULL, 'l'},
                                         {"threads", required_argument, NULL, 'T'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"allow-nonfinite", no_argument, NULL, 'N'},
                                         {"shard", required_argument, NULL, 'S'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"resume", no_argument, NULL, 'R'},
                                         {"weights-dtype", required_argument, NULL, 'D'},
                                         APP_PP_LONG_OPTIONS,

                                         {"tune", required_argument, NULL, 'U'},
                                         {NULL, 0, NULL, 0}};
    int tune_quick = 0;
    const char *variant = "torchvision-224", *weights = NULL, *device = NULL, *labels_path = NULL;
    const char *output = NULL;
    int shard_k = 1, shard_n = 1, resume = 0;
    an_classify_options o = {16, 5, 0, NULL};
    app_pp ppo = {0};
    an_preprocess pp;
    printer pr = {0};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        int is_pp = app_pp_option(&ppo, "classify", c, optarg);
        if (is_pp < 0)
            return APP_EXIT_USAGE;
        if (is_pp)
            continue;
        switch (c) {
        case 'v':
            variant = optarg;
            break;
        case 'w':
            weights = optarg;
            break;
        case 'd':
            device = optarg;
            break;
        case 'l':
            labels_path = optarg;
            break;
        case 'j':
            pr.json = 1;
            break;
        case 'N':
            app_load_flags |= AN_LOAD_ALLOW_NONFINITE;
            break;
        case 'D':
            if (app_parse_weights_dtype("classify", optarg, &app_load_flags) != 0)
                return APP_EXIT_USAGE;
            break;
        case 'S':
            if (app_parse_shard(optarg, &shard_k, &shard_n) != 0) {
                fprintf(stderr, "alexnet classify: bad --shard '%s': want K/N with 1 <= K <= N\n",
                        optarg);
                return APP_EXIT_USAGE;
            }
            break;
        case 'o':
            output = optarg;
            break;
        case 'R':
            resume = 1;
            break;
        case 'U':
            if (strcmp(optarg, "quick") != 0) {
                fprintf(stderr, "alexnet classify: --tune takes 'quick', not '%s'\n", optarg);
                return APP_EXIT_USAGE;
            }
            tune_quick = 1;
            break;
        case 'b':
        case 't':
        case 'T': {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 1 || v > (c == 't' ? AN_CLASSES : 4096)) {
                fprintf(stderr, "alexnet classify: bad number '%s'\n", optarg);
                return APP_EXIT_USAGE;
            }
            *(c == 'b' ? &o.batch : c == 't' ? &o.top_k : &o.threads) = (int)v;
            break;
        }
        case 'h':
            printf("usage: alexnet classify [--variant %s]\n"
                   "         [--weights FILE] [--device SEL] [--batch N] [--top K] [--json]\n"
                   "         [--labels FILE] [--threads N] [--allow-nonfinite]\n"
                   "         [--weights-dtype f32|f16]\n"
                   "         [--shard K/N] [--output FILE [--resume]] [PREPROCESSING] INPUT...\n"
                   "SEL: a device (P:D, part of a name), a list (0:0,0:1), a type (gpu, cpu:\n"
                   "       every device of it) or all; batches go to whichever device is free\n"
                   "INPUT: a PNG or JPEG file (told by content), a directory (walked, sorted,\n"
                   "       .png/.jpg/.jpeg/.jpe/.jfif names only), or @list.txt\n"
                   "       (one path a line; - or @- reads the list from standard input)\n"
                   "--shard K/N: only part K of N of the sorted inputs (contiguous parts:\n"
                   "       the outputs of K=1..N concatenate to one run's output)\n"
                   "--output FILE: write the results there; --resume (with --json): keep the\n"
                   "       complete lines FILE already holds and classify only the rest\n"
                   "--tune quick: first tune this batch's layers that the tuning file has no\n"
                   "       entries for (a short search on the device), store and use "
                   "them\n" APP_PP_USAGE,
                   app_variant_list("|"));
            return 0;
        default:
            return APP_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "alexnet classify: no INPUT given (see alexnet classify --help)\n");
        return APP_EXIT_USAGE;
    }
    if (app_pp_check(&ppo, "classify", variant) != 0)
        return APP_EXIT_USAGE;
    if (resume && (!output || !pr.json)) {
        fprintf(stderr, "alexnet classify: --resume needs --output FILE and --json (it reads "
                        "back which images FILE already holds)\n");
        return APP_EXIT_USAGE;
    }

    int rc = APP_EXIT_USAGE;
    path_list paths = {0};
    walk_state ws = {0};
    const char **pending = NULL; /* the entries to classify, and where each is in paths */
    size_t *map = NULL, n_pending = 0;
    unsigned char *skip = NULL;
    app_done done = {0};
    size_t n_done = 0, reported = 0, lo = 0, hi = 0;
    enum { MAX_DEVICES = 64 };
    an_device *devs[MAX_DEVICES];
    an_model *models[MAX_DEVICES];
    an_classify_stats per[MAX_DEVICES];
    int n_dev = 0;
    if (labels_path && !(pr.labels = read_labels(labels_path)))
        goto done;
    if (gather(&paths, &ws, argv + optind, argc - optind) != 0) {
        fprintf(stderr, "alexnet classify: out of memory gathering the inputs\n");
        goto done;
    }
    pending = malloc((paths.count + 1) * sizeof *pending);
    map = malloc((paths.count + 1) * sizeof *map);
    skip = calloc(paths.count + 1, 1);
    if (!pending || !map || !skip) {
        fprintf(stderr, "alexnet classify: out of memory\n");
        goto done;
    }
    char why[512];
    if (resume && app_done_read(output, &done, why, sizeof why) != 0) {
        fprintf(stderr, "alexnet classify: --resume: %s\n", why);
        goto done;
    }
    app_shard_range(paths.count, shard_k, shard_n, &lo, &hi);
    for (size_t i = 0; i < paths.count; i++) {
        int had = i >= lo && i < hi ? app_done_has(&done, paths.items[i]) : 0;
        if (had < 0) {
            fprintf(stderr, "alexnet classify: out of memory\n");
            goto done;
        }
        skip[i] = i < lo || i >= hi || had;
        n_done += (size_t)had;
        if (skip[i])
            continue;
        if (paths.errors[i]) {
            reported++; /* dangling links, loops: failed entries */
        } else {
            map[n_pending] = i;
            pending[n_pending++] = paths.items[i];
        }
    }
    if (output && !(pr.out = fopen(output, resume ? "a" : "w"))) {
        fprintf(stderr, "alexnet classify: cannot write %s: %s\n", output, strerror(errno));
        goto done;
    }
    if (!pr.out)
        pr.out = stdout;
    char skipped[512] = "";
    if (ws.skipped) {
        size_t used = (size_t)snprintf(skipped, sizeof skipped,
                                       "%zu file%s skipped (not PNG or JPEG: ", ws.skipped,
                                       ws.skipped == 1 ? "" : "s");
        for (int i = 0; i < ws.n_exts && used < sizeof skipped; i++)
            used += (size_t)snprintf(skipped + used, sizeof skipped - used, "%s%zu %s",
                                     i ? ", " : "", ws.exts[i].n, ws.exts[i].ext);
        if (ws.other_exts && used < sizeof skipped)
            used += (size_t)snprintf(skipped + used, sizeof skipped - used, ", %zu other",
                                     ws.other_exts);
        if (used < sizeof skipped)
            snprintf(skipped + used, sizeof skipped - used, ")");
    }
    pr.all = &paths;
    pr.map = map;
    pr.skip = skip;
    pr.total = n_pending + reported;
    char part[160] = "";
    if (shard_n > 1)
        snprintf(part, sizeof part, "; shard %d/%d: %zu of the %zu inputs", shard_k, shard_n,
                 hi - lo, paths.count);
    if (resume)
        snprintf(part + strlen(part), sizeof part - strlen(part), "; %zu already in %s", n_done,
                 output);
    if (n_pending == 0 && reported == 0 && paths.count > 0 && n_done == hi - lo) {
        /* an empty shard of a job array, or a finished one resumed: nothing to do */
        fprintf(stderr, "alexnet classify: nothing left to classify%s\n", part);
        rc = 0;
        goto done;
    }
    if (n_pending == 0) { /* nothing to classify: say what there was, and fail */
        print_errors_before(&pr, paths.count);
        fprintf(stderr, "alexnet classify: no image classified: %zu input%s found%s%s%s\n",
                paths.count, paths.count == 1 ? "" : "s", paths.count ? " and reported" : "",
                skipped[0] ? ", " : "", skipped[0] ? skipped : "");
        rc = 1;
        goto done;
    }
    app_tune_quick_batch = tune_quick ? o.batch : 0;
    if ((rc = app_open_models(device, variant, weights, 0, devs, models, MAX_DEVICES, &n_dev)) != 0)
        goto done;
    if (!weights)
        fprintf(stderr, "alexnet: no --weights given: using seeded random weights; the "
                        "predictions are meaningless (see the README to bring real weights)\n");
    if (app_pp_resolve(&ppo, "classify", models[0], &pp) != 0) {
        rc = APP_EXIT_USAGE;
        goto done;
    }
    o.preprocess = &pp;

    pr.start = app_now();
    pr.progress = isatty(STDERR_FILENO);
    an_classify_stats st = {0};
    int status =
        an_classify_files_multi(models, n_dev, pending, n_pending, &o, print_result, &pr, per);
    for (int i = 0; i < n_dev; i++) {
        st.images += per[i].images;
        st.failed += per[i].failed;
        st.batches += per[i].batches;
        st.device_seconds += per[i].device_seconds;
        st.device_wait_seconds += per[i].device_wait_seconds;
        st.batch = per[i].batch;
        st.wall_seconds = per[i].wall_seconds;
    }
    if (status == AN_OK)
        print_errors_before(&pr, paths.count);
    draw_progress(&pr, 1);
    if (status != AN_OK) {
        fprintf(stderr, "alexnet classify: stopped after %zu images: %s (%s)\n", st.images,
                an_last_error(), an_status_name(status));
        rc = APP_EXIT_USAGE;
        goto done;
    }
    double busy = st.wall_seconds > 0 ? st.device_seconds / st.wall_seconds / n_dev : 0;
    fprintf(stderr,
            "alexnet: %zu images, %zu failed, %zu batches of %d in %.2f s: %.1f images/s, "
            "device busy %.0f%% of the time, waited %.2f s for the host%s%s%s\n",
            st.images + reported, st.failed + reported, st.batches, st.batch, st.wall_seconds,
            st.wall_seconds > 0 ? st.images / st.wall_seconds : 0.0, 100.0 * busy,
            st.device_wait_seconds / n_dev, part, skipped[0] ? "; " : "", skipped);
    for (int i = 0; i < n_dev && n_dev > 1; i++) {
        an_device_info info;
        an_device_get_info(devs[i], &info);
        fprintf(stderr, "alexnet:   device %d:%d (%s): %zu images, %.1f images/s, busy %.0f%%\n",
                info.platform_index, info.device_index, info.name, per[i].images,
                per[i].wall_seconds > 0 ? per[i].images / per[i].wall_seconds : 0.0,
                per[i].wall_seconds > 0 ? 100.0 * per[i].device_seconds / per[i].wall_seconds
                                        : 0.0);
    }
    rc = st.failed + reported ? 1 : 0;
done:
    if (pr.out && pr.out != stdout && fclose(pr.out) != 0 && rc == 0) {
        fprintf(stderr, "alexnet classify: cannot write %s: %s\n", output, strerror(errno));
        rc = 1;
    }
    app_done_free(&done);
    free(skip);
    free(pending);
    free(map);
    free(ws.files.slots);
    free(ws.dirs.slots);
    if (pr.labels) {
        for (int i = 0; i < AN_CLASSES; i++)
            free(pr.labels[i]);
        free(pr.labels);
    }
    free_list(&paths);
    for (int i = 0; i < n_dev; i++) {
        an_model_free(models[i]);
        an_device_free(devs[i]);
    }
    return rc;
}
