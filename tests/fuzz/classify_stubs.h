/* classify_stubs.h - for the fuzz targets that include apps/classify.c
 * (fuzz_list.c, fuzz_labels.c): what cmd_classify calls beyond the parsers,
 * never reached by a target, stubbed so that it links without the OpenCL
 * pipeline. Include it once, after apps/classify.c and apps/results.c. */
#ifndef ALEXNET_FUZZ_CLASSIFY_STUBS_H
#define ALEXNET_FUZZ_CLASSIFY_STUBS_H

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

#endif
