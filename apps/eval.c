/* eval.c - `alexnet eval`: top-1 and top-5 accuracy against ground truth, for a
 * folder per class (torchvision's ImageFolder) or a `PATH LABEL` file (Caffe's
 * val.txt), by classifying or from `classify --json` outputs merged; a table or
 * one JSON object. Parsing and printing only: the sets and the counting are
 * an_labelled_*, an_eval and an_eval_merge. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"

typedef struct {
    int json;
    size_t failed_shown;
    FILE *failures; /* JSON: the failures' array, written to a temporary file */
} eval_printer;

static int on_result(const an_result *r, int label, int rank, void *user)
{
    eval_printer *p = user;
    (void)rank;
    if (r->status == AN_OK)
        return 0;
    if (p->json) {
        fputs(p->failed_shown ? ",{\"path\":" : "{\"path\":", p->failures);
        app_json_string(p->failures, r->path);
        fprintf(p->failures, ",\"label\":%d,\"error\":", label);
        app_json_string(p->failures, r->error);
        fputc('}', p->failures);
    } else {
        if (strstr(r->error, r->path)) /* decoding errors name the file */
            fprintf(stderr, "alexnet eval: failed: %s\n", r->error);
        else
            fprintf(stderr, "alexnet eval: %s: %s\n", r->path, r->error);
    }
    p->failed_shown++;
    return 0;
}

static double ratio(size_t a, size_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

int cmd_eval(int argc, char **argv)
{
    static const struct option opts[] = {{"variant", required_argument, NULL, 'v'},
                                         {"weights", required_argument, NULL, 'w'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"device", required_argument, NULL, 'd'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"threads", required_argument, NULL, 'T'},
                                         {"ground-truth", required_argument, NULL, 'g'},
                                         {"root", required_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"results", required_argument, NULL, 'R'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"weights-dtype", required_argument, NULL, 'D'},
                                         APP_PP_LONG_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    const char *variant = "torchvision-224", *weights = NULL, *device = NULL, *truth = NULL,
               *root = NULL;
    int seed = 0, have_seed = 0;
    const char **results = calloc((size_t)argc, sizeof *results); /* --results, in order */
    size_t n_results = 0;
    if (!results) {
        fprintf(stderr, "alexnet eval: out of memory\n");
        return APP_EXIT_USAGE;
    }
    an_classify_options o = {16, 5, 0, NULL};
    app_pp ppo = {0};
    an_preprocess pp;
    eval_printer pr = {0};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int is_pp = app_pp_option(&ppo, "eval", c, optarg);
        if (is_pp < 0) {
            free(results);
            return APP_EXIT_USAGE;
        }
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
        case 'g':
            truth = optarg;
            break;
        case 'r':
            root = optarg;
            break;
        case 'j':
            pr.json = 1;
            break;
        case 'R':
            results[n_results++] = optarg;
            break;
        case 'D':
            if (app_parse_weights_dtype("eval", optarg, &app_load_flags) != 0) {
                free(results);
                return APP_EXIT_USAGE;
            }
            break;
        case 's':
        case 'b':
        case 'T': {
            int v;
            if (app_parse_int(optarg, c == 's' ? 0 : 1, c == 's' ? 2147483647 : 4096, &v) != 0) {
                fprintf(stderr, "alexnet eval: bad number '%s'\n", optarg);
                free(results);
                return APP_EXIT_USAGE;
            }
            if (c == 's') {
                seed = v;
                have_seed = 1;
            } else {
                *(c == 'b' ? &o.batch : &o.threads) = v;
            }
            break;
        }
        case 'h':
            printf(
                "usage: alexnet eval [--variant %s]\n"
                "         [--weights FILE | --seed N] [--device SEL] [--batch N] [--threads N]\n"
                "         [--json] [--weights-dtype f32|f16] [PREPROCESSING]\n"
                "         (DIR | --ground-truth FILE [--root DIR])\n"
                "DIR: one folder per class, sorted names give the class indices\n"
                "     (torchvision's ImageFolder)\n"
                "FILE: 'PATH LABEL' lines, 0-based labels (Caffe's val.txt); relative paths\n"
                "      from --root, else from FILE's folder\n"
                "--results OUT.jsonl (repeatable): count from `alexnet classify --json --top 5`\n"
                "      outputs (e.g. one per shard) instead of classifying; duplicates are\n"
                "      refused, images without a result reported and counted as "
                "misses\n" APP_PP_USAGE,
                app_variant_list("|"));
            free(results);
            return 0;
        default:
            free(results);
            return APP_EXIT_USAGE;
        }
    }
    int n_args = argc - optind;
    if (n_results && (weights || have_seed || device || ppo.given[0])) {
        fprintf(stderr, "alexnet eval: --results counts from classify's outputs; --weights, "
                        "--seed, --device and the preprocessing options do not apply\n");
        free(results);
        return APP_EXIT_USAGE;
    }
    if ((truth && n_args != 0) || (!truth && n_args != 1) || (root && !truth) ||
        (weights && have_seed)) {
        fprintf(stderr, "alexnet eval: give one DIR, or --ground-truth FILE (with --root DIR "
                        "if wanted), and at most one of --weights and --seed "
                        "(see alexnet eval --help)\n");
        free(results);
        return APP_EXIT_USAGE;
    }

    if (!n_results && app_pp_check(&ppo, "eval", variant) != 0) {
        free(results);
        return APP_EXIT_USAGE;
    }
    an_labelled set = {0};
    int status =
        truth ? an_labelled_list(truth, root, &set) : an_labelled_folder(argv[optind], &set);
    if (status != AN_OK) {
        fprintf(stderr, "alexnet eval: %s (%s)\n", an_last_error(), an_status_name(status));
        free(results);
        return APP_EXIT_USAGE;
    }
    an_device *dev = NULL;
    an_model *model = NULL;
    int rc = APP_EXIT_USAGE;
    char *fail_text = NULL;
    size_t fail_len = 0;
    if (pr.json && !(pr.failures = open_memstream(&fail_text, &fail_len))) {
        fprintf(stderr, "alexnet eval: out of memory\n");
        goto done;
    }
    an_eval_stats st;
    if (n_results) {
        status = an_eval_merge(&set, results, n_results, on_result, &pr, &st);
    } else {
        if (app_open_model(device, variant, weights, (uint64_t)seed, &dev, &model) != 0 ||
            app_pp_resolve(&ppo, "eval", model, &pp) != 0)
            goto done;
        o.preprocess = &pp;
        status = an_eval(model, &set, &o, on_result, &pr, &st);
    }
    if (status != AN_OK) {
        fprintf(stderr, "alexnet eval: stopped after %zu images: %s (%s)\n", st.images,
                an_last_error(), an_status_name(status));
        goto done;
    }
    double ips = st.wall_seconds > 0 ? st.images / st.wall_seconds : 0.0;
    const size_t total = st.images + st.missing; /* missing images count as misses */
    if (pr.json) {
        fclose(pr.failures);
        pr.failures = NULL;
        printf("{\"source\":");
        app_json_string(stdout, truth ? truth : argv[optind]);
        printf(",\"layout\":\"%s\",\"classes\":%d,\"images\":%zu,\"classified\":%zu,"
               "\"failed\":%zu,\"missing\":%zu,\"top1\":%zu,\"top5\":%zu,\"top1_accuracy\":%.6f,"
               "\"top5_accuracy\":%.6f,\"top1_accuracy_classified\":%.6f,"
               "\"top5_accuracy_classified\":%.6f,\"wall_seconds\":%.3f,"
               "\"images_per_second\":%.2f,\"failures\":[%s]}\n",
               truth ? "ground-truth" : "image-folder", set.classes, total, st.classified,
               st.failed, st.missing, st.top1, st.top5, ratio(st.top1, total),
               ratio(st.top5, total), ratio(st.top1, st.classified), ratio(st.top5, st.classified),
               st.wall_seconds, ips, fail_text ? fail_text : "");
    } else {
        printf("%-10s %s (%s, %d classes)\n", "set", truth ? truth : argv[optind],
               truth ? "ground-truth file" : "image folder", set.classes);
        printf("%-10s %zu (%zu classified, %zu failed, %zu without a result)\n", "images", total,
               st.classified, st.failed, st.missing);
        printf("%-10s %6.2f%%  (%zu of %zu; %.2f%% of the classified)\n", "top-1",
               100.0 * ratio(st.top1, total), st.top1, total,
               100.0 * ratio(st.top1, st.classified));
        printf("%-10s %6.2f%%  (%zu of %zu; %.2f%% of the classified)\n", "top-5",
               100.0 * ratio(st.top5, total), st.top5, total,
               100.0 * ratio(st.top5, st.classified));
        if (!n_results)
            printf("%-10s %.1f  (%.2f s, decode to last result)\n", "images/s", ips,
                   st.wall_seconds);
    }
    rc = st.failed || st.missing ? 1 : 0;
done:
    if (pr.failures)
        fclose(pr.failures);
    free(fail_text);
    free(results);
    an_labelled_free(&set);
    an_model_free(model);
    an_device_free(dev);
    return rc;
}
