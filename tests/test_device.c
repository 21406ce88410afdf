/* test_device.c - device enumeration and selection: the device list on the
 * default platform (PoCL), opening by type, by "P:D", by name and through
 * $ALEXNET_DEVICE, selectors that match nothing, an__device_select on a made-up
 * device table, device classes ($ALEXNET_DEVICE_CLASS, the rule on made-up
 * devices, each class's defaults), and two platforms (PoCL and Oclgrind) or none through
 * $OCL_ICD_VENDORS.
 *
 * The ICD loader reads $OCL_ICD_VENDORS once per process, so the tests that
 * change it run this binary again as a child under a modified environment:
 * `test_device --child SEL...` lists the devices it sees and tries each
 * selector, one line per result. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return n == 0;
}

/* The listed devices; the test fails when there are none. */
static an_device_info *list_devices(int *count)
{
    an_device_info *infos = NULL;
    *count = 0;
    int status = an_device_list(&infos, count);
    ck_assert_msg(status == AN_OK, "an_device_list: %s: %s", an_status_name(status),
                  an_last_error());
    ck_assert_int_ge(*count, 1);
    ck_assert_ptr_nonnull(infos);
    return infos;
}

/* Opens selector, which must work, and returns the opened device's info. */
static an_device_info open_info(const char *selector)
{
    an_device *dev = NULL;
    int status = an_device_open(selector, &dev);
    ck_assert_msg(status == AN_OK, "an_device_open(\"%s\"): %s: %s", selector ? selector : "NULL",
                  an_status_name(status), an_last_error());
    ck_assert_ptr_nonnull(dev);
    an_device_info info;
    memset(&info, 0, sizeof info);
    an_device_get_info(dev, &info);
    ck_assert_ptr_nonnull(dev->context);
    ck_assert_ptr_nonnull(dev->queue);
    an_device_free(dev);
    return info;
}

/* Checks that selector matches nothing and that the error text names every
 * listed device. */
static void check_not_found(const char *selector, const an_device_info *infos, int count)
{
    an_device *dev = (an_device *)&dev; /* poisoned: must come back NULL */
    ck_assert_int_eq(an_device_open(selector, &dev), AN_ERR_DEVICE_NOT_FOUND);
    ck_assert_ptr_null(dev);
    const char *e = an_last_error();
    ck_assert_msg(strstr(e, selector) != NULL, "error text lacks '%s': %s", selector, e);
    for (int i = 0; i < count; i++) {
        char pd[32];
        snprintf(pd, sizeof pd, "%d:%d", infos[i].platform_index, infos[i].device_index);
        ck_assert_msg(strstr(e, infos[i].name) != NULL, "error text lacks '%s': %s", infos[i].name,
                      e);
        ck_assert_msg(strstr(e, pd) != NULL, "error text lacks '%s': %s", pd, e);
    }
}

/* ------------------------------------------------------------------------ */
/* The default platform                                                     */

START_TEST(test_list_fields)
{
    int count = 0;
    an_device_info *infos = list_devices(&count);
    int cpus = 0;
    for (int i = 0; i < count; i++) {
        const an_device_info *d = &infos[i];
        ck_assert_msg(d->name[0] != '\0' && strcmp(d->name, "?") != 0, "device %d: no name", i);
        ck_assert_msg(d->platform[0] != '\0' && strcmp(d->platform, "?") != 0,
                      "device %d: no platform", i);
        ck_assert_msg(strncmp(d->version, "OpenCL ", 7) == 0, "%s: version '%s'", d->name,
                      d->version);
        ck_assert_msg(strncmp(d->c_version, "OpenCL C ", 9) == 0, "%s: C version '%s'", d->name,
                      d->c_version);
        ck_assert_int_gt(d->compute_units, 0);
        ck_assert_uint_gt(d->global_mem, 0);
        ck_assert_uint_gt(d->max_alloc, 0);
        ck_assert_uint_le(d->max_alloc, d->global_mem);
        ck_assert_uint_gt(d->local_mem, 0);
        ck_assert_uint_gt(d->max_work_group, 0);
        ck_assert_int_ge(d->platform_index, 0);
        ck_assert_int_ge(d->device_index, 0);
        ck_assert(d->type == AN_DEVICE_CPU || d->type == AN_DEVICE_GPU ||
                  d->type == AN_DEVICE_ACCELERATOR || d->type == AN_DEVICE_OTHER);
        ck_assert(d->fp16 == 0 || d->fp16 == 1);
        ck_assert(d->fp64 == 0 || d->fp64 == 1);
        /* P:D pairs are unique */
        for (int j = 0; j < i; j++)
            ck_assert(infos[j].platform_index != d->platform_index ||
                      infos[j].device_index != d->device_index);
        cpus += d->type == AN_DEVICE_CPU;
    }
    ck_assert_msg(cpus >= 1, "no CPU device listed (PoCL expected)");
    ck_assert_int_eq(infos[0].platform_index, 0);
    ck_assert_int_eq(infos[0].device_index, 0);
    free(infos);

    ck_assert_int_eq(an_device_list(NULL, &count), AN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(an_device_list(&infos, NULL), AN_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(test_open_by_type_and_index)
{
    int count = 0;
    an_device_info *infos = list_devices(&count);
    int cpu = -1;
    for (int i = 0; i < count && cpu < 0; i++)
        if (infos[i].type == AN_DEVICE_CPU)
            cpu = i;
    ck_assert_int_ge(cpu, 0);

    an_device_info got = open_info("cpu");
    ck_assert_int_eq(got.type, AN_DEVICE_CPU);
    ck_assert_str_eq(got.name, infos[cpu].name);
    ck_assert_int_eq(got.platform_index, infos[cpu].platform_index);
    ck_assert_int_eq(got.device_index, infos[cpu].device_index);
    ck_assert_int_eq(got.compute_units, infos[cpu].compute_units);

    got = open_info("CPU");
    ck_assert_str_eq(got.name, infos[cpu].name);

    got = open_info("0:0");
    ck_assert_int_eq(got.platform_index, 0);
    ck_assert_int_eq(got.device_index, 0);
    ck_assert_str_eq(got.name, infos[0].name);
    ck_assert_str_eq(got.platform, infos[0].platform);

    /* every listed device opens by its own P:D */
    for (int i = 0; i < count; i++) {
        char pd[32];
        snprintf(pd, sizeof pd, "%d:%d", infos[i].platform_index, infos[i].device_index);
        got = open_info(pd);
        ck_assert_str_eq(got.name, infos[i].name);
    }
    free(infos);

    ck_assert_int_eq(an_device_open("cpu", NULL), AN_ERR_INVALID_ARGUMENT);
    an_device_free(NULL);
}
END_TEST

START_TEST(test_open_by_name)
{
    int count = 0;
    an_device_info *infos = list_devices(&count);
    /* a piece of the first device's name, upper-cased: "PTHREAD" on PoCL */
    const char *name = infos[0].name;
    char piece[9] = "";
    size_t n = strlen(name) < 8 ? strlen(name) : 8;
    for (size_t i = 0; i < n; i++)
        piece[i] = (char)toupper((unsigned char)name[i]);
    piece[n] = '\0';

    an_device_info got = open_info(piece);
    ck_assert_msg(contains_nocase(got.name, piece), "'%s' opened '%s'", piece, got.name);
    ck_assert_str_eq(got.name, name); /* the first match is the first device */

    /* the whole name, and its tail, in lower case */
    got = open_info(name);
    ck_assert_str_eq(got.name, name);
    char tail[128];
    snprintf(tail, sizeof tail, "%s", name + strlen(name) / 2);
    for (char *p = tail; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (strcmp(tail, "cpu") != 0 && strcmp(tail, "gpu") != 0 && !strchr(tail, ':')) {
        got = open_info(tail);
        ck_assert_msg(contains_nocase(got.name, tail), "'%s' opened '%s'", tail, got.name);
    }
    free(infos);
}
END_TEST

/* NULL and "" take $ALEXNET_DEVICE; the test restores what the environment had. */
START_TEST(test_open_from_env)
{
    int count = 0;
    an_device_info *infos = list_devices(&count);
    const char *old = getenv("ALEXNET_DEVICE");
    char saved[256] = "";
    if (old)
        snprintf(saved, sizeof saved, "%s", old);

    ck_assert_int_eq(setenv("ALEXNET_DEVICE", "0:0", 1), 0);
    an_device_info got = open_info(NULL);
    ck_assert_str_eq(got.name, infos[0].name);
    got = open_info("");
    ck_assert_str_eq(got.name, infos[0].name);

    ck_assert_int_eq(setenv("ALEXNET_DEVICE", "cpu", 1), 0);
    got = open_info(NULL);
    ck_assert_int_eq(got.type, AN_DEVICE_CPU);

    /* an explicit selector beats the variable */
    ck_assert_int_eq(setenv("ALEXNET_DEVICE", "nosuchdevice", 1), 0);
    got = open_info("0:0");
    ck_assert_str_eq(got.name, infos[0].name);

    an_device *dev = NULL;
    ck_assert_int_eq(an_device_open(NULL, &dev), AN_ERR_DEVICE_NOT_FOUND);
    ck_assert_ptr_null(dev);
    const char *e = an_last_error();
    ck_assert_msg(strstr(e, "$ALEXNET_DEVICE") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "nosuchdevice") != NULL, "error text: %s", e);

    /* unset: the first GPU, else the first device */
    unsetenv("ALEXNET_DEVICE");
    got = open_info(NULL);
    ck_assert_str_eq(got.name, infos[an__device_select(NULL, infos, count)].name);

    if (old)
        setenv("ALEXNET_DEVICE", saved, 1);
    free(infos);
}
END_TEST

START_TEST(test_no_match)
{
    int count = 0;
    an_device_info *infos = list_devices(&count);
    check_not_found("nosuchdevice", infos, count);
    check_not_found("9:9", infos, count);
    check_not_found("0:99", infos, count);
    bool have_accel = false, have_gpu = false;
    for (int i = 0; i < count; i++) {
        have_accel |= infos[i].type == AN_DEVICE_ACCELERATOR;
        have_gpu |= infos[i].type == AN_DEVICE_GPU;
    }
    if (!have_accel)
        check_not_found("accelerator", infos, count);
    if (!have_gpu)
        check_not_found("gpu", infos, count);
    const char *e = an_last_error();
    ck_assert_msg(strstr(e, "P:D") != NULL, "error text lacks the selector forms: %s", e);
    free(infos);
}
END_TEST

START_TEST(test_type_names)
{
    ck_assert_str_eq(an_device_type_name(AN_DEVICE_CPU), "cpu");
    ck_assert_str_eq(an_device_type_name(AN_DEVICE_GPU), "gpu");
    ck_assert_str_eq(an_device_type_name(AN_DEVICE_ACCELERATOR), "accelerator");
    ck_assert_str_eq(an_device_type_name(AN_DEVICE_OTHER), "other");
    ck_assert_str_eq(an_device_type_name((an_device_type)77), "other");
}
END_TEST

/* Every listed device has a class; PoCL's CPU is of class cpu; the names;
 * $ALEXNET_DEVICE_CLASS overrides the class of a device opened after it is
 * set, and a word it does not know is refused naming it. */
START_TEST(test_device_class)
{
    int count = 0;
    an_device_info *infos = list_devices(&count);
    for (int i = 0; i < count; i++) {
        const an_device_info *d = &infos[i];
        ck_assert(d->unified_memory == 0 || d->unified_memory == 1);
        ck_assert_int_eq(d->device_class, an__device_classify(d));
        if (d->type == AN_DEVICE_CPU)
            ck_assert_int_eq(d->device_class, AN_DEVICE_CLASS_CPU);
    }
    free(infos);
    ck_assert_str_eq(an_device_class_name(AN_DEVICE_CLASS_CPU), "cpu");
    ck_assert_str_eq(an_device_class_name(AN_DEVICE_CLASS_INTEGRATED), "integrated");
    ck_assert_str_eq(an_device_class_name(AN_DEVICE_CLASS_DISCRETE), "discrete");
    ck_assert_str_eq(an_device_class_name(AN_DEVICE_CLASS_OTHER), "other");
    ck_assert_str_eq(an_device_class_name((an_device_class)77), "other");

    an_device *dev = NULL;
    static const struct {
        const char *env;
        an_device_class want;
    } cases[] = {{"integrated", AN_DEVICE_CLASS_INTEGRATED},
                 {"Discrete", AN_DEVICE_CLASS_DISCRETE},
                 {"other", AN_DEVICE_CLASS_OTHER},
                 {"", AN_DEVICE_CLASS_CPU}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("ALEXNET_DEVICE_CLASS", cases[i].env, 1);
        ck_assert_msg(an_device_open("cpu", &dev) == AN_OK, "%s", an_last_error());
        an_device_info info;
        an_device_get_info(dev, &info);
        ck_assert_msg(info.device_class == cases[i].want, "'%s': class %s", cases[i].env,
                      an_device_class_name(info.device_class));
        ck_assert_int_eq(info.type, AN_DEVICE_CPU); /* the type stays what the driver says */
        an_device_free(dev);
    }
    setenv("ALEXNET_DEVICE_CLASS", "igpu", 1);
    ck_assert_int_eq(an_device_open("cpu", &dev), AN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(dev);
    ck_assert_msg(strstr(an_last_error(), "ALEXNET_DEVICE_CLASS") &&
                      strstr(an_last_error(), "'igpu'"),
                  "%s", an_last_error());
    unsetenv("ALEXNET_DEVICE_CLASS");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* an__device_select on a made-up table                                     */

static an_device_info fake(int p, int d, an_device_type type, const char *name)
{
    an_device_info i;
    memset(&i, 0, sizeof i);
    i.platform_index = p;
    i.device_index = d;
    i.type = type;
    snprintf(i.name, sizeof i.name, "%s", name);
    snprintf(i.platform, sizeof i.platform, "Fake platform %d", p);
    return i;
}

START_TEST(test_select_synthetic)
{
    an_device_info t[5];
    t[0] = fake(0, 0, AN_DEVICE_CPU, "Intel gpu-less Xeon");
    t[1] = fake(0, 1, AN_DEVICE_ACCELERATOR, "FPGA Emulation Device");
    t[2] = fake(1, 0, AN_DEVICE_GPU, "NVIDIA GeForce RTX 3090");
    t[3] = fake(1, 1, AN_DEVICE_GPU, "Weird 1: device");
    t[4] = fake(2, 0, AN_DEVICE_OTHER, "Custom thing");

    /* default: the first GPU */
    ck_assert_int_eq(an__device_select(NULL, t, 5), 2);
    ck_assert_int_eq(an__device_select("", t, 5), 2);
    /* type words, any case; the type wins over a name containing the word */
    ck_assert_int_eq(an__device_select("gpu", t, 5), 2);
    ck_assert_int_eq(an__device_select("GPU", t, 5), 2);
    ck_assert_int_eq(an__device_select("cpu", t, 5), 0);
    ck_assert_int_eq(an__device_select("Accelerator", t, 5), 1);
    /* P:D */
    ck_assert_int_eq(an__device_select("0:0", t, 5), 0);
    ck_assert_int_eq(an__device_select("0:1", t, 5), 1);
    ck_assert_int_eq(an__device_select("1:1", t, 5), 3);
    ck_assert_int_eq(an__device_select("2:0", t, 5), 4);
    ck_assert_int_eq(an__device_select("2:1", t, 5), -1);
    ck_assert_int_eq(an__device_select("7:0", t, 5), -1);
    /* substrings, case-insensitive, first match */
    ck_assert_int_eq(an__device_select("geforce", t, 5), 2);
    ck_assert_int_eq(an__device_select("RTX 30", t, 5), 2);
    ck_assert_int_eq(an__device_select("xeon", t, 5), 0);
    ck_assert_int_eq(an__device_select("device", t, 5), 1);
    ck_assert_int_eq(an__device_select("custom", t, 5), 4);
    ck_assert_int_eq(an__device_select("other", t, 5), -1); /* not a type word */
    /* malformed P:D is a substring */
    ck_assert_int_eq(an__device_select("1:", t, 5), 3);
    ck_assert_int_eq(an__device_select("1: dev", t, 5), 3);
    ck_assert_int_eq(an__device_select("1:0x", t, 5), -1);
    ck_assert_int_eq(an__device_select("nosuch", t, 5), -1);

    /* no GPU: the default is the first device, and "gpu" matches nothing even
     * though a name contains it */
    ck_assert_int_eq(an__device_select(NULL, t, 2), 0);
    ck_assert_int_eq(an__device_select("gpu", t, 2), -1);
    ck_assert_int_eq(an__device_select(NULL, t + 1, 1), 0);
    /* nothing at all */
    ck_assert_int_eq(an__device_select(NULL, t, 0), -1);
    ck_assert_int_eq(an__device_select("cpu", t, 0), -1);
}
END_TEST

/* The class from a made-up device's fields, and the defaults each class
 * gets: integrated GPUs map their input and output, use the blocked FC
 * kernels and stay within the device's work-group size. */
START_TEST(test_class_synthetic)
{
    an_device_info d = fake(0, 0, AN_DEVICE_GPU, "Big discrete");
    d.compute_units = 132;
    d.max_work_group = 1024;
    ck_assert_int_eq(an__device_classify(&d), AN_DEVICE_CLASS_DISCRETE);
    d.unified_memory = 1; /* shares the host's memory: integrated, whatever its size */
    ck_assert_int_eq(an__device_classify(&d), AN_DEVICE_CLASS_INTEGRATED);
    d.unified_memory = 0;
    d.compute_units = 4; /* few compute units */
    ck_assert_int_eq(an__device_classify(&d), AN_DEVICE_CLASS_INTEGRATED);
    d.compute_units = 16;
    ck_assert_int_eq(an__device_classify(&d), AN_DEVICE_CLASS_DISCRETE);
    d.type = AN_DEVICE_CPU;
    d.unified_memory = 1;
    ck_assert_int_eq(an__device_classify(&d), AN_DEVICE_CLASS_CPU);
    d.type = AN_DEVICE_ACCELERATOR;
    ck_assert_int_eq(an__device_classify(&d), AN_DEVICE_CLASS_OTHER);

    /* defaults: device_class 0 is worked out from the fields */
    an_device_info igpu = fake(0, 0, AN_DEVICE_GPU, "Small GPU");
    igpu.compute_units = 24;
    igpu.unified_memory = 1;
    igpu.max_work_group = 64;
    igpu.float_vector = 1;
    an__tuning t = an__tuning_defaults(&igpu);
    ck_assert_int_eq(t.io_mapped, 1);
    ck_assert_int_eq(t.fc_blocked, 1);
    ck_assert_int_eq(t.conv_vec, 4);
    ck_assert_int_eq(t.conv_algo, 0);
    ck_assert_int_le(t.conv_local, 64);
    ck_assert_int_le(t.fc_local, 64);
    ck_assert_int_le(t.gemv_lws, 64);
    ck_assert_int_le(t.pointwise_local, 64);
    ck_assert_int_le(t.ig_lx * t.ig_ly, 64);
    igpu.float_vector = 8;
    ck_assert_int_eq(an__tuning_defaults(&igpu).conv_vec, 8);
    d = fake(0, 0, AN_DEVICE_GPU, "Big discrete");
    d.compute_units = 132;
    d.max_work_group = 1024;
    t = an__tuning_defaults(&d);
    ck_assert_int_eq(t.io_mapped, 0);
    ck_assert_int_eq(t.fc_blocked, 0); /* CLBlast, as measured on the H200 */
    /* the class decides, not the type: a CPU told to be integrated */
    d = fake(0, 0, AN_DEVICE_CPU, "cpu");
    d.max_work_group = 4096;
    d.float_vector = 8;
    ck_assert_int_eq(an__tuning_defaults(&d).conv_local, 1);
    d.device_class = AN_DEVICE_CLASS_INTEGRATED;
    ck_assert_int_eq(an__tuning_defaults(&d).conv_local, 16);
    ck_assert_int_eq(an__tuning_defaults(&d).io_mapped, 1);
    d.device_class = AN_DEVICE_CLASS_OTHER; /* not a CPU's defaults either */
    ck_assert_int_eq(an__tuning_defaults(&d).conv_local, 16);
    ck_assert_int_eq(an__tuning_defaults(&d).io_mapped, 0);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Other platform sets, in a child process                                  */

/* Child side: lists devices, then tries each selector. Lines:
 *   DEV|P:D|type|platform|name
 *   LIST|status name|error text
 *   SEL|selector|status name|P:D|platform|name   (P:D etc. "-" on failure) */
static void print_clean(const char *s)
{
    for (; *s; s++)
        putchar(*s == '\n' || *s == '|' ? ' ' : *s);
}

static int child_main(int argc, char **argv)
{
    an_device_info *infos = NULL;
    int count = 0;
    int status = an_device_list(&infos, &count);
    printf("LIST|%s|", an_status_name(status));
    print_clean(status == AN_OK ? "" : an_last_error());
    printf("\n");
    for (int i = 0; i < count; i++)
        printf("DEV|%d:%d|%s|%s|%s\n", infos[i].platform_index, infos[i].device_index,
               an_device_type_name(infos[i].type), infos[i].platform, infos[i].name);
    free(infos);
    for (int a = 0; a < argc; a++) {
        an_device *dev = NULL;
        status = an_device_open(argv[a], &dev);
        printf("SEL|%s|%s|", argv[a], an_status_name(status));
        if (status == AN_OK)
            printf("%d:%d|%s|%s\n", dev->info.platform_index, dev->info.device_index,
                   dev->info.platform, dev->info.name);
        else {
            printf("-|-|");
            print_clean(an_last_error());
            printf("\n");
        }
        an_device_free(dev);
    }
    return 0;
}

/* Runs this binary as a child with OCL_ICD_VENDORS=icd_dir (and
 * ALEXNET_DEVICE empty), passing selectors; returns its output (malloc'ed). */
static char *run_child(const char *icd_dir, const char *const *selectors, int n)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(len, 0);
    exe[len] = '\0';
    ck_assert_ptr_null(strchr(exe, '\''));
    ck_assert_ptr_null(strchr(icd_dir, '\''));
    char cmd[8192];
    int used = snprintf(cmd, sizeof cmd, "OCL_ICD_VENDORS='%s' ALEXNET_DEVICE= '%s' --child",
                        icd_dir, exe);
    for (int i = 0; i < n; i++) {
        ck_assert_ptr_null(strchr(selectors[i], '\''));
        used += snprintf(cmd + used, sizeof cmd - (size_t)used, " '%s'", selectors[i]);
    }
    ck_assert_int_lt(used, (int)sizeof cmd);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 1 << 16, got = 0;
    char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    size_t r;
    while ((r = fread(out + got, 1, cap - 1 - got, p)) > 0)
        got += r;
    out[got] = '\0';
    int rc = pclose(p);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "child failed (%d):\n%s", rc, out);
    return out;
}

/* The line of out that starts with prefix, copied into buf; false if none. */
static bool find_line(const char *out, const char *prefix, char *buf, size_t size)
{
    size_t n = strlen(prefix);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, prefix, n) != 0)
            continue;
        size_t len = strcspn(l, "\n");
        snprintf(buf, size, "%.*s", (int)len, l);
        return true;
    }
    return false;
}

/* $AN_TEST_ICD_DIR, which must exist (the build makes it). */
static const char *icd_dir(void)
{
    const char *dir = getenv("AN_TEST_ICD_DIR");
    ck_assert_msg(dir && *dir, "AN_TEST_ICD_DIR is not set");
    struct stat st;
    ck_assert_msg(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), "no directory %s", dir);
    return dir;
}

START_TEST(test_two_platforms)
{
    const char *dir = icd_dir();
    char oclgrind_icd[4200];
    snprintf(oclgrind_icd, sizeof oclgrind_icd, "%s/oclgrind.icd", dir);
    if (access(oclgrind_icd, F_OK) != 0 ||
        access("/usr/lib/oclgrind/liboclgrind-rt-icd.so", F_OK) != 0)
        ck_abort_msg("Oclgrind is not installed (no %s)", oclgrind_icd);

    /* 1: list, and find each platform's indices */
    char *out = run_child(dir, NULL, 0);
    char line[1024];
    ck_assert_msg(find_line(out, "LIST|AN_OK|", line, sizeof line), "child output:\n%s", out);
    int ocl_p = -1, ocl_d = -1, pocl_p = -1, pocl_d = -1, platforms_seen = 0;
    char pocl_name[128] = "";
    for (const char *l = strstr(out, "DEV|"); l; l = strstr(l + 1, "\nDEV|")) {
        if (*l == '\n')
            l++;
        int p = -1, d = -1;
        char type[32] = "", platform[128] = "", name[128] = "";
        ck_assert_int_eq(
            sscanf(l, "DEV|%d:%d|%31[^|]|%127[^|]|%127[^\n]", &p, &d, type, platform, name), 5);
        if (strcmp(platform, "Oclgrind") == 0 && ocl_p < 0) {
            ocl_p = p;
            ocl_d = d;
            ck_assert_str_eq(name, "Oclgrind Simulator");
            ck_assert_str_eq(type, "gpu"); /* it reports GPU|CPU|ACCELERATOR; GPU wins */
            platforms_seen++;
        }
        if (strcmp(platform, "Portable Computing Language") == 0 && pocl_p < 0) {
            pocl_p = p;
            pocl_d = d;
            ck_assert_str_eq(type, "cpu");
            snprintf(pocl_name, sizeof pocl_name, "%s", name);
            platforms_seen++;
        }
    }
    ck_assert_msg(platforms_seen == 2, "want PoCL and Oclgrind, child output:\n%s", out);
    ck_assert_int_ne(ocl_p, pocl_p);
    free(out);

    /* 2: select each by name, by index, by type, and by default */
    char ocl_pd[32], pocl_pd[32], bad_pd[32];
    snprintf(ocl_pd, sizeof ocl_pd, "%d:%d", ocl_p, ocl_d);
    snprintf(pocl_pd, sizeof pocl_pd, "%d:%d", pocl_p, pocl_d);
    snprintf(bad_pd, sizeof bad_pd, "%d:%d", ocl_p, ocl_d + 5);
    const char *sels[] = {"oclgrind", "OCLGRIND SIM", ocl_pd, pocl_pd, "gpu", "cpu", "", bad_pd};
    out = run_child(dir, sels, 8);
    char want[512];
    snprintf(want, sizeof want, "SEL|oclgrind|AN_OK|%s|Oclgrind|Oclgrind Simulator", ocl_pd);
    ck_assert_msg(strstr(out, want) != NULL, "want '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "SEL|OCLGRIND SIM|AN_OK|%s|Oclgrind|", ocl_pd);
    ck_assert_msg(strstr(out, want) != NULL, "want '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "SEL|%s|AN_OK|%s|Oclgrind|Oclgrind Simulator", ocl_pd, ocl_pd);
    ck_assert_msg(strstr(out, want) != NULL, "want '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "SEL|%s|AN_OK|%s|Portable Computing Language|%s", pocl_pd, pocl_pd,
             pocl_name);
    ck_assert_msg(strstr(out, want) != NULL, "want '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "SEL|gpu|AN_OK|%s|Oclgrind|", ocl_pd);
    ck_assert_msg(strstr(out, want) != NULL, "want '%s' in:\n%s", want, out);
    snprintf(want, sizeof want, "SEL|cpu|AN_OK|%s|Portable Computing Language|", pocl_pd);
    ck_assert_msg(strstr(out, want) != NULL, "want '%s' in:\n%s", want, out);
    /* no selector and ALEXNET_DEVICE empty: the first GPU, here Oclgrind */
    snprintf(want, sizeof want, "SEL||AN_OK|%s|Oclgrind|", ocl_pd);
    ck_assert_msg(strstr(out, want) != NULL, "want '%s' in:\n%s", want, out);
    /* a missing index: not found, and the text lists both platforms' devices */
    snprintf(want, sizeof want, "SEL|%s|AN_ERR_DEVICE_NOT_FOUND|", bad_pd);
    ck_assert_msg(find_line(out, want, line, sizeof line), "want '%s' in:\n%s", want, out);
    ck_assert_msg(strstr(line, "Oclgrind Simulator") && strstr(line, pocl_name), "line: %s", line);
    free(out);
}
END_TEST

START_TEST(test_no_platform)
{
    char dir[] = "/tmp/an_test_icd_empty_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const char *sels[] = {"cpu", ""};
    char *out = run_child(dir, sels, 2);
    rmdir(dir);
    char line[1024];
    ck_assert_msg(find_line(out, "LIST|AN_ERR_NO_PLATFORM|", line, sizeof line),
                  "child output:\n%s", out);
    ck_assert_msg(strstr(line, "OCL_ICD_VENDORS") != NULL, "line: %s", line);
    ck_assert_msg(strstr(line, "pocl-opencl-icd") != NULL, "line: %s", line);
    ck_assert_msg(strstr(out, "\nDEV|") == NULL, "devices listed:\n%s", out);
    ck_assert_msg(find_line(out, "SEL|cpu|AN_ERR_NO_PLATFORM|", line, sizeof line),
                  "child output:\n%s", out);
    ck_assert_msg(find_line(out, "SEL||AN_ERR_NO_PLATFORM|", line, sizeof line),
                  "child output:\n%s", out);
    free(out);
}
END_TEST

static Suite *device_suite(void)
{
    Suite *s = suite_create("device");
    TCase *tc = tcase_create("pocl");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_list_fields);
    tcase_add_test(tc, test_open_by_type_and_index);
    tcase_add_test(tc, test_open_by_name);
    tcase_add_test(tc, test_open_from_env);
    tcase_add_test(tc, test_no_match);
    tcase_add_test(tc, test_type_names);
    tcase_add_test(tc, test_device_class);
    suite_add_tcase(s, tc);
    TCase *sel = tcase_create("select");
    tcase_add_test(sel, test_select_synthetic);
    tcase_add_test(sel, test_class_synthetic);
    suite_add_tcase(s, sel);
    TCase *icd = tcase_create("platforms");
    tcase_set_timeout(icd, 300);
    tcase_add_test(icd, test_two_platforms);
    tcase_add_test(icd, test_no_platform);
    suite_add_tcase(s, icd);
    return s;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--child") == 0)
        return child_main(argc - 2, argv + 2);
    SRunner *sr = srunner_create(device_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
