/* tune.c - `alexnet tune`: parses the options, runs an_tune (the search and
 * the tuning file live in the library) and prints its progress lines. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexnet.h"
#include "apps.h"

static void print_line(const char *line, void *user)
{
    (void)user;
    printf("%s\n", line);
    fflush(stdout); /* CLBlast's tuner writes to stdout too: keep the order */
}

int cmd_tune(int argc, char **argv)
{
    static const struct option opts[] = {
        {"variant", required_argument, NULL, 'v'}, {"batch", required_argument, NULL, 'b'},
        {"runs", required_argument, NULL, 'r'},    {"device", required_argument, NULL, 'd'},
        {"dry-run", no_argument, NULL, 'n'},       {"quick", no_argument, NULL, 'q'},
        {"clblast", required_argument, NULL, 'c'}, {"clblast-params", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    an_tune_options to = {.log = print_line};
    const char *device = NULL;
    int batches[16], c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            to.variants = optarg;
            break;
        case 'd':
            device = optarg;
            break;
        case 'n':
            to.dry_run = 1;
            break;
        case 'q':
            to.quick = 1;
            break;
        case 'c': {
            char *end = NULL;
            to.clblast_fraction = strtod(optarg, &end);
            if (end == optarg || *end || !(to.clblast_fraction >= 0 && to.clblast_fraction <= 1)) {
                fprintf(stderr, "alexnet tune: --clblast takes a fraction from 0 to 1\n");
                return APP_EXIT_USAGE;
            }
            break;
        }
        case 'p':
            to.clblast_params = optarg;
            break;
        case 'r':
            if (app_parse_int(optarg, 1, 16, &to.runs) != 0) {
                fprintf(stderr, "alexnet tune: --runs takes 1..16, not '%s'\n", optarg);
                return APP_EXIT_USAGE;
            }
            break;
        case 'b':
            to.n_batches = app_parse_int_list(optarg, 1, 1 << 20, batches, 16);
            if (to.n_batches < 1) {
                fprintf(stderr,
                        "alexnet tune: --batch takes up to 16 sizes like 1,16,64, not "
                        "'%s'\n",
                        optarg);
                return APP_EXIT_USAGE;
            }
            to.batches = batches;
            break;
        case 'h':
            printf("usage: alexnet tune [--variant NAME[,NAME]] [--batch 1,16,64] [--runs N] "
                   "[--device SEL]\n                   [--clblast FRACTION | --clblast-params SET] "
                   "[--dry-run] [--quick]\n"
                   "Searches kernel parameters per layer shape and batch on the device, checks "
                   "every\ncandidate against a host reference, stores the winners in the tuning "
                   "file\n($XDG_CACHE_HOME/alexnet/tuning.txt), which models then load.\n"
                   "--clblast F also runs CLBlast's own SGEMM tuner (for the FC layers on the "
                   "CLBlast\npath) on F (0..1] of its configurations (slow: it compiles and times "
                   "each one it draws;\n1%% did not finish in 15 minutes on PoCL); "
                   "--clblast-params SET checks a given\n\"NAME=VALUE,...\" set instead. A set "
                   "is stored only if the network still matches\nthe reference and the FC layers "
                   "get faster.\n--quick: only the variant and batch pairs the file has no "
                   "entries for, a few\ncandidates each, on the FC layout the device uses "
                   "already (what `bench --tune quick`\nand `classify --tune quick` run first).\n");
            return 0;
        default:
            return APP_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "alexnet tune: unexpected argument '%s'\n", argv[optind]);
        return APP_EXIT_USAGE;
    }
    if (getenv("ALEXNET_TUNING"))
        fprintf(stderr, "alexnet tune: note: $ALEXNET_TUNING is ignored while tuning\n");
    an_device *dev = NULL;
    int status = an_device_open(device, &dev);
    if (status != AN_OK) {
        fprintf(stderr, "alexnet tune: %s (%s)\n", an_last_error(), an_status_name(status));
        return 1;
    }
    status = an_tune(dev, &to);
    if (status != AN_OK)
        fprintf(stderr, "alexnet tune: %s (%s)\n", an_last_error(), an_status_name(status));
    an_device_free(dev);
    return status == AN_OK ? 0 : 1;
}
