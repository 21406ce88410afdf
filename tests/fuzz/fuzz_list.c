/* fuzz_list.c - libFuzzer target for `alexnet classify @list` parsing: the
 * static read_list() of apps/classify.c, reached by including that file here
 * (nothing in apps/ changes). The input is the list file's contents, in a
 * memfd opened by its /proc/self/fd path, as the program would open it.
 *
 * Checks what the parser promises: one path a line, no line terminator left
 * in a path, lines starting with '#' and blank lines skipped, and the number
 * of paths never more than the number of lines. */
#include "../../apps/classify.c"
#include "../../apps/results.c"

#include <sys/mman.h>

/* What classify.c's cmd_classify calls beyond the parsers: never reached
 * here, stubbed so that the target links without the OpenCL pipeline. */
unsigned app_load_flags;
int app_tune_quick_batch;

int app_parse_weights_dtype(const char *cmd, const char *text, unsigned *flags)
{
    (void)cmd, (void)text, (void)flags;
    abort();
}

int app_open_models(const char *devices, const char *variant, const char *weights, uint64_t seed,
                    an_device **devs, an_model **models, int max, int *n)
{
    (void)devices, (void)variant, (void)weights, (void)seed, (void)devs, (void)models, (void)max,
        (void)n;
    abort();
}

int an_classify_files_multi(an_model *const *models, int n_models, const char *const *paths,
                            size_t count, const an_classify_options *options, an_result_fn fn,
                            void *user, an_classify_stats *stats)
{
    (void)models, (void)n_models, (void)paths, (void)count, (void)options, (void)fn, (void)user,
        (void)stats;
    abort();
}

const char *an_class_label(int index)
{
    (void)index;
    abort();
}

int app_pp_option(app_pp *p, const char *cmd, int c, const char *arg)
{
    (void)p, (void)cmd, (void)c, (void)arg;
    abort();
}

int app_pp_check(const app_pp *p, const char *cmd, const char *variant)
{
    (void)p, (void)cmd, (void)variant;
    abort();
}

int app_pp_resolve(const app_pp *p, const char *cmd, const an_model *model, an_preprocess *out)
{
    (void)p, (void)cmd, (void)model, (void)out;
    abort();
}

double app_now(void)
{
    abort();
}

const char *app_variant_list(const char *sep)
{
    (void)sep;
    return "";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char name[64];
    if (fd < 0) {
        fd = memfd_create("fuzz.list", 0);
        if (fd < 0)
            abort();
        snprintf(name, sizeof name, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();

    path_list l = {0};
    if (read_list(&l, name) != 0)
        abort(); /* only allocation failures may fail */
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (size && data[size - 1] != '\n')
        lines++;
    if (l.count > lines)
        abort();
    /* A NUL byte inside a line ends the path there (strdup), so what follows
     * it on the line is dropped: the checks below hold for text without NULs. */
    int has_nul = size && memchr(data, '\0', size) != NULL;
    for (size_t i = 0; i < l.count; i++) {
        const char *p = l.items[i];
        size_t n = strlen(p);
        if (strchr(p, '\n') || p[0] == '#')
            abort();
        if (!has_nul && (n == 0 || p[n - 1] == '\r'))
            abort();
    }
    free_list(&l);
    return 0;
}
