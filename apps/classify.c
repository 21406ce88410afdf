/* classify.c - `alexnet classify`: gathers the input paths (files, sorted
 * directory walks, @lists), runs the library's pipeline and prints each
 * result in input order, as text or JSON lines. */
#include <ctype.h>
#include <dirent.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alexnet.h"
#include "apps.h"

typedef struct {
    char **items;
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
        l->cap = cap;
    }
    if (!(l->items[l->count] = strdup(path)))
        return -1;
    l->count++;
    return 0;
}

static void free_list(path_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_png_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcasecmp(name + n - 4, ".png") == 0;
}

/* Adds the PNG files under dir, sorted, descending into subdirectories. */
static int walk(path_list *l, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "alexnet classify: cannot open directory %s\n", dir);
        return -1;
    }
    path_list names = {0};
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && push(&names, e->d_name) != 0)
            rc = -1;
    closedir(d);
    qsort(names.items, names.count, sizeof *names.items, cmp_str);
    for (size_t i = 0; i < names.count && rc == 0; i++) {
        size_t n = strlen(dir) + strlen(names.items[i]) + 2;
        char *path = malloc(n);
        if (!path) {
            rc = -1;
            break;
        }
        snprintf(path, n, "%s/%s", dir, names.items[i]);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            rc = walk(l, path);
        else if (is_png_name(names.items[i]))
            rc = push(l, path);
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

static int gather(path_list *l, char **args, int n)
{
    for (int i = 0; i < n; i++) {
        const char *a = args[i];
        struct stat sb;
        int rc;
        if (strcmp(a, "-") == 0 || strcmp(a, "@-") == 0)
            rc = read_list(l, "-");
        else if (a[0] == '@')
            rc = read_list(l, a + 1);
        else if (stat(a, &sb) == 0 && S_ISDIR(sb.st_mode))
            rc = walk(l, a);
        else
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
    char **labels; /* from --labels, else NULL: the embedded names */
    size_t total, done;
    double start, last_draw;
    int progress;
} printer;

static const char *label(const printer *p, int index)
{
    return p->labels ? p->labels[index] : an_class_label(index);
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

static int print_result(const an_result *r, void *user)
{
    printer *p = user;
    if (p->progress && p->last_draw > 0)
        fputs("\r\033[K", stderr); /* keep the bar off the results' lines */
    if (p->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "path", json_object_new_string(r->path));
        if (r->status != AN_OK) {
            json_object_object_add(o, "error", json_object_new_string(r->error));
        } else {
            json_object *top = json_object_new_array();
            for (int i = 0; i < r->k; i++) {
                json_object *c = json_object_new_object();
                json_object_object_add(c, "label",
                                       json_object_new_string(label(p, r->top[i].index)));
                json_object_object_add(c, "index", json_object_new_int(r->top[i].index));
                json_object_object_add(c, "probability", json_object_new_double(r->top[i].prob));
                json_object_array_add(top, c);
            }
            json_object_object_add(o, "top", top);
        }
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
    } else if (r->status != AN_OK) {
        printf("%s: error: %s\n", r->path, r->error);
    } else {
        printf("%s\n", r->path);
        for (int i = 0; i < r->k; i++)
            printf("  %6.2f%%  %s (%d)\n", 100.0 * r->top[i].prob, label(p, r->top[i].index),
                   r->top[i].index);
    }
    fflush(stdout);
    p->done++;
    draw_progress(p, 0);
    return 0;
}

static char **read_labels(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "alexnet classify: cannot open labels file %s\n", path);
        return NULL;
    }
    char **labels = calloc(AN_CLASSES, sizeof *labels);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int count = 0;
    while (labels && count < AN_CLASSES && (n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        labels[count++] = strdup(line);
    }
    free(line);
    fclose(f);
    if (labels && count < AN_CLASSES) {
        fprintf(stderr, "alexnet classify: %s has %d labels; it needs %d, one a line\n", path,
                count, AN_CLASSES);
        for (int i = 0; i < count; i++)
            free(labels[i]);
        free(labels);
        return NULL;
    }
    return labels;
}

/* ------------------------------------------------------------------------ */

int cmd_classify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"variant", required_argument, NULL, 'v'}, {"weights", required_argument, NULL, 'w'},
        {"device", required_argument, NULL, 'd'},  {"batch", required_argument, NULL, 'b'},
        {"top", required_argument, NULL, 't'},     {"json", no_argument, NULL, 'j'},
        {"labels", required_argument, NULL, 'l'},  {"threads", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *variant = "torchvision-224", *weights = NULL, *device = NULL, *labels_path = NULL;
    an_classify_options o = {16, 5, 0, NULL};
    printer pr = {0};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
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
                   "         [--labels FILE] [--threads N] INPUT...\n"
                   "INPUT: a PNG file, a directory (walked, sorted, PNGs only), or @list.txt\n"
                   "       (one path a line; - or @- reads the list from standard input)\n",
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

    int rc = APP_EXIT_USAGE;
    path_list paths = {0};
    an_device *dev = NULL;
    an_model *model = NULL;
    if (labels_path && !(pr.labels = read_labels(labels_path)))
        goto done;
    if (gather(&paths, argv + optind, argc - optind) != 0)
        goto done;
    if ((rc = app_open_model(device, variant, weights, 0, &dev, &model)) != 0)
        goto done;
    if (!weights)
        fprintf(stderr, "alexnet: no --weights given: using seeded random weights; the "
                        "predictions are meaningless (see the README to bring real weights)\n");

    pr.total = paths.count;
    pr.start = app_now();
    pr.progress = isatty(STDERR_FILENO);
    an_classify_stats st = {0};
    int status = an_classify_files(model, (const char *const *)paths.items, paths.count, &o,
                                   print_result, &pr, &st);
    draw_progress(&pr, 1);
    if (status != AN_OK) {
        fprintf(stderr, "alexnet classify: stopped after %zu images: %s (%s)\n", st.images,
                an_last_error(), an_status_name(status));
        rc = APP_EXIT_USAGE;
        goto done;
    }
    double busy = st.wall_seconds > 0 ? st.device_seconds / st.wall_seconds : 0;
    fprintf(stderr,
            "alexnet: %zu images, %zu failed, %zu batches of %d in %.2f s: %.1f images/s, "
            "device busy %.0f%% of the time\n",
            st.images, st.failed, st.batches, st.batch, st.wall_seconds,
            st.wall_seconds > 0 ? st.images / st.wall_seconds : 0.0, 100.0 * busy);
    rc = st.failed ? 1 : 0;
done:
    if (pr.labels) {
        for (int i = 0; i < AN_CLASSES; i++)
            free(pr.labels[i]);
        free(pr.labels);
    }
    free_list(&paths);
    an_model_free(model);
    an_device_free(dev);
    return rc;
}
