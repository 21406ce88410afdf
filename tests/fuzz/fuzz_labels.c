/* fuzz_labels.c - libFuzzer target for the `alexnet classify --labels` file
 * parser: the static parse_labels() of apps/classify.c, reached by including
 * that file here (as fuzz_list.c does). The input is the file's contents.
 *
 * Checks what the parser promises: an accepted file gives exactly 1000
 * labels, none blank, none holding a line terminator, NUL or other control
 * byte, each valid UTF-8, and the input had 1000 lines (after an optional
 * byte-order mark); a refused one always says why. */
#include "../../apps/classify.c"
#include "../../apps/results.c"

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

const char *app_variant_list(const char *sep)
{
    (void)sep;
    return "";
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256];
    char **labels = parse_labels(data, size, why, sizeof why);
    if (!labels) {
        if (!why[0] || strlen(why) >= sizeof why)
            abort(); /* a refusal always says why (this parser allocates little) */
        return 0;
    }
    size_t skip = size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0, lines = 0;
    for (size_t i = skip; i < size; i++)
        lines += data[i] == '\n';
    if (size > skip && data[size - 1] != '\n')
        lines++;
    if (lines != AN_CLASSES)
        abort();
    for (int i = 0; i < AN_CLASSES; i++) {
        const unsigned char *l = (const unsigned char *)labels[i];
        size_t n = strlen(labels[i]), blank = 1;
        for (size_t j = 0; j < n;) {
            size_t k = app_utf8_seq(l + j, n - j);
            if (k == 0 || (k == 1 && ((l[j] < 0x20 && l[j] != '\t') || l[j] == 0x7f)))
                abort();
            blank &= l[j] == ' ' || l[j] == '\t';
            j += k;
        }
        if (blank)
            abort();
        free(labels[i]);
    }
    free(labels);
    return 0;
}
