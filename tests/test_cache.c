/* test_cache.c - the on-disk program cache of runtime/program.c, exercised
 * with cl_kernels/probe.cl: misses, hits, programs from hits that compute,
 * corrupt entries that are rebuilt and rewritten, keys that follow the build
 * options and the source, $ALEXNET_KERNEL_DIR, $ALEXNET_NO_CACHE, and build
 * errors that point at the source line.
 *
 * Every test gets a fresh $XDG_CACHE_HOME (a mkdtemp directory) and restores
 * the environment it changed when it ends. */
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static an_device *dev;      /* one CPU device for the whole run */
static char tmp_root[64];   /* this test's $XDG_CACHE_HOME */
static char kernel_dir[64]; /* this test's $ALEXNET_KERNEL_DIR, if any */
static char saved_xdg[4096];
static bool had_xdg;

/* ------------------------------------------------------------------------ */
/* Fixtures and file helpers                                                */

static void open_device(void)
{
    int status = an_device_open("cpu", &dev);
    ck_assert_msg(status == AN_OK, "an_device_open(cpu): %s: %s", an_status_name(status),
                  an_last_error());
}

static void close_device(void)
{
    an_device_free(dev);
    dev = NULL;
}

static void setup(void)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    had_xdg = xdg != NULL;
    snprintf(saved_xdg, sizeof saved_xdg, "%s", xdg ? xdg : "");
    snprintf(tmp_root, sizeof tmp_root, "/tmp/an_test_cache_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_root));
    ck_assert_int_eq(setenv("XDG_CACHE_HOME", tmp_root, 1), 0);
    unsetenv("ALEXNET_NO_CACHE");
    unsetenv("ALEXNET_KERNEL_DIR");
    kernel_dir[0] = '\0';
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(const char *dir)
{
    if (dir[0])
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void teardown(void)
{
    if (had_xdg)
        setenv("XDG_CACHE_HOME", saved_xdg, 1);
    else
        unsetenv("XDG_CACHE_HOME");
    unsetenv("ALEXNET_NO_CACHE");
    unsetenv("ALEXNET_KERNEL_DIR");
    remove_tree(tmp_root);
    remove_tree(kernel_dir);
    tmp_root[0] = kernel_dir[0] = '\0';
}

/* $XDG_CACHE_HOME/alexnet of this test. */
static const char *cache_path(void)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/alexnet", tmp_root);
    return path;
}

/* Number of *.bin files in the cache directory (0 when it does not exist);
 * the path of the last one goes to last (if not NULL). Also fails on any
 * leftover temporary file. */
static int count_entries(char *last, size_t size)
{
    DIR *d = opendir(cache_path());
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        ck_assert_msg((len < 4 || strcmp(e->d_name + len - 4, ".tmp") != 0) &&
                          !strstr(e->d_name, ".bin."),
                      "temporary file left: %s", e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".bin") == 0) {
            n++;
            if (last)
                snprintf(last, size, "%s/%s", cache_path(), e->d_name);
        }
    }
    closedir(d);
    return n;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static void write_all(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_int_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* The repository's probe.cl (malloc'ed, NUL-terminated). */
static char *probe_source(size_t *len)
{
    const char *root = getenv("AN_SOURCE_ROOT");
    char path[4200];
    snprintf(path, sizeof path, "%s/cl_kernels/probe.cl", root ? root : ".");
    return (char *)read_all(path, len);
}

/* Makes this test's $ALEXNET_KERNEL_DIR; writes probe.cl there unless text is NULL. */
static void use_kernel_dir(const char *text, size_t len)
{
    snprintf(kernel_dir, sizeof kernel_dir, "/tmp/an_test_kernels_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(kernel_dir));
    if (text) {
        char path[4200];
        snprintf(path, sizeof path, "%s/probe.cl", kernel_dir);
        write_all(path, text, len);
    }
    ck_assert_int_eq(setenv("ALEXNET_KERNEL_DIR", kernel_dir, 1), 0);
}

/* ------------------------------------------------------------------------ */
/* Building and running                                                     */

/* Builds probe.cl with options, expects AN_OK and the given cache result,
 * and returns the program. */
static cl_program get_probe(const char *options, an__cache_result want)
{
    cl_program prog = NULL;
    int status = an__program_get(dev, "probe.cl", options, &prog);
    ck_assert_msg(status == AN_OK, "an__program_get: %s: %s", an_status_name(status),
                  an_last_error());
    ck_assert_ptr_nonnull(prog);
    static const char *names[] = {"OFF", "MISS", "HIT", "CORRUPT"};
    an__cache_result got = an__program_last_cache_result();
    ck_assert_msg(got == want, "cache result %s, want %s", names[got], names[want]);
    return prog;
}

/* Runs saxpy from prog on random data and compares with C; releases prog. */
static void check_saxpy(cl_program prog)
{
    enum { N = 1000, GUARD = 24, GLOBAL = 1024 };
    static float x[N + GUARD], y[N + GUARD], want[N + GUARD], got[N + GUARD];
    const float a = 1.75f;
    unsigned seed = 12345;
    for (int i = 0; i < N + GUARD; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)(seed >> 8) / 16777216.0f * 2.0f - 1.0f;
        seed = seed * 1103515245u + 12345u;
        y[i] = (float)(seed >> 8) / 16777216.0f * 2.0f - 1.0f;
        want[i] = i < N ? a * x[i] + y[i] : y[i]; /* past n: untouched */
        got[i] = -12345.0f;
    }
    int status = AN_OK;
    cl_mem bx = NULL, by = NULL;
    cl_kernel k = NULL;
    const int n = N;
    const size_t global = GLOBAL;
    AN_CL_OBJ(k, clCreateKernel(prog, "saxpy", &an__err));
    AN_CL_OBJ(bx, clCreateBuffer(dev->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof x, x,
                                 &an__err));
    AN_CL_OBJ(by, clCreateBuffer(dev->context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof y,
                                 y, &an__err));
    AN_CL(clSetKernelArg(k, 0, sizeof bx, &bx));
    AN_CL(clSetKernelArg(k, 1, sizeof by, &by));
    AN_CL(clSetKernelArg(k, 2, sizeof a, &a));
    AN_CL(clSetKernelArg(k, 3, sizeof n, &n));
    AN_CL(clEnqueueNDRangeKernel(dev->queue, k, 1, NULL, &global, NULL, 0, NULL, NULL));
    AN_CL(clEnqueueReadBuffer(dev->queue, by, CL_TRUE, 0, sizeof got, got, 0, NULL, NULL));
fail:
    if (k)
        clReleaseKernel(k);
    if (bx)
        clReleaseMemObject(bx);
    if (by)
        clReleaseMemObject(by);
    clReleaseProgram(prog);
    ck_assert_msg(status == AN_OK, "saxpy: %s", an_last_error());
    for (int i = 0; i < N + GUARD; i++) {
        float tol = 1e-6f * (1.0f + (want[i] < 0 ? -want[i] : want[i]));
        float diff = got[i] - want[i];
        ck_assert_msg(diff <= tol && -diff <= tol, "y[%d] = %g, want %g", i, (double)got[i],
                      (double)want[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

START_TEST(test_miss_then_hit)
{
    ck_assert_int_eq(count_entries(NULL, 0), 0);
    const char *dir = an__cache_dir();
    ck_assert_ptr_nonnull(dir);
    ck_assert_str_eq(dir, cache_path());

    check_saxpy(get_probe("-cl-std=CL1.2", AN_CACHE_MISS));
    char entry[4400];
    ck_assert_int_eq(count_entries(entry, sizeof entry), 1);
    size_t len = 0;
    unsigned char *data = read_all(entry, &len);
    ck_assert_int_gt(len, 32);
    ck_assert_int_eq(memcmp(data, "ANPC0001", 8), 0);
    free(data);

    check_saxpy(get_probe("-cl-std=CL1.2", AN_CACHE_HIT));
    check_saxpy(get_probe("-cl-std=CL1.2", AN_CACHE_HIT));
    ck_assert_int_eq(count_entries(NULL, 0), 1);
}
END_TEST

/* Damages the single entry with damage(), then expects CORRUPT, a working
 * program, a rewritten entry and a hit. */
typedef void (*damage_fn)(unsigned char *data, size_t *len);

static void flip_payload_byte(unsigned char *data, size_t *len)
{
    data[32 + (*len - 32) / 2] ^= 0x5a;
}

static void truncate_10(unsigned char *data, size_t *len)
{
    (void)data;
    *len = 10;
}

static void truncate_header(unsigned char *data, size_t *len)
{
    (void)data;
    *len = 32;
}

static void garbage(unsigned char *data, size_t *len)
{
    unsigned seed = 99;
    for (size_t i = 0; i < *len; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (unsigned char)(seed >> 16);
    }
}

static void truncate_payload(unsigned char *data, size_t *len)
{
    (void)data;
    *len -= (*len - 32) / 3;
}

static void check_damage(damage_fn damage, const char *what)
{
    const char *opts = "-cl-std=CL1.2";
    clReleaseProgram(get_probe(opts, AN_CACHE_MISS));
    char entry[4400];
    ck_assert_int_eq(count_entries(entry, sizeof entry), 1);
    size_t len = 0;
    unsigned char *good = read_all(entry, &len);
    unsigned char *bad = malloc(len);
    ck_assert_ptr_nonnull(bad);
    memcpy(bad, good, len);
    size_t bad_len = len;
    damage(bad, &bad_len);
    write_all(entry, bad, bad_len);

    cl_program prog = NULL;
    int status = an__program_get(dev, "probe.cl", opts, &prog);
    ck_assert_msg(status == AN_OK, "%s: %s", what, an_last_error());
    ck_assert_msg(an__program_last_cache_result() == AN_CACHE_CORRUPT, "%s: result %d", what,
                  (int)an__program_last_cache_result());
    check_saxpy(prog);

    /* rewritten: same name, valid again, and served as a hit */
    char again[4400];
    ck_assert_int_eq(count_entries(again, sizeof again), 1);
    ck_assert_str_eq(again, entry);
    size_t new_len = 0;
    unsigned char *now = read_all(entry, &new_len);
    uint64_t size_field = 0;
    for (int i = 0; i < 8; i++)
        size_field |= (uint64_t)now[16 + i] << (8 * i);
    /* magic and key as before, and a payload of the size the header says */
    ck_assert_msg(new_len > 32 && memcmp(now, good, 16) == 0 && size_field == new_len - 32,
                  "%s: entry not rewritten (%zu bytes)", what, new_len);
    check_saxpy(get_probe(opts, AN_CACHE_HIT));
    free(now);
    free(bad);
    free(good);
}

START_TEST(test_corrupt_flip)
{
    check_damage(flip_payload_byte, "flipped payload byte");
}
END_TEST

START_TEST(test_corrupt_truncate_10)
{
    check_damage(truncate_10, "truncated to 10 bytes");
}
END_TEST

START_TEST(test_corrupt_header_only)
{
    check_damage(truncate_header, "header only");
}
END_TEST

START_TEST(test_corrupt_truncated_payload)
{
    check_damage(truncate_payload, "payload cut short");
}
END_TEST

START_TEST(test_corrupt_garbage)
{
    check_damage(garbage, "garbage of the same size");
}
END_TEST

/* An empty file where the entry should be. */
START_TEST(test_corrupt_empty)
{
    clReleaseProgram(get_probe(NULL, AN_CACHE_MISS));
    char entry[4400];
    ck_assert_int_eq(count_entries(entry, sizeof entry), 1);
    write_all(entry, "", 0);
    check_saxpy(get_probe(NULL, AN_CACHE_CORRUPT));
    check_saxpy(get_probe(NULL, AN_CACHE_HIT));
}
END_TEST

START_TEST(test_options_change_key)
{
    clReleaseProgram(get_probe("-cl-std=CL1.2", AN_CACHE_MISS));
    check_saxpy(get_probe("-cl-std=CL1.2 -DUNUSED=1", AN_CACHE_MISS));
    ck_assert_int_eq(count_entries(NULL, 0), 2);
    check_saxpy(get_probe("", AN_CACHE_MISS));
    ck_assert_int_eq(count_entries(NULL, 0), 3);
    /* NULL options are the same as "" */
    check_saxpy(get_probe(NULL, AN_CACHE_HIT));
    check_saxpy(get_probe("-cl-std=CL1.2", AN_CACHE_HIT));
    check_saxpy(get_probe("-cl-std=CL1.2 -DUNUSED=1", AN_CACHE_HIT));
    ck_assert_int_eq(count_entries(NULL, 0), 3);
}
END_TEST

START_TEST(test_source_change_key)
{
    clReleaseProgram(get_probe(NULL, AN_CACHE_MISS));

    /* the same text from $ALEXNET_KERNEL_DIR is the same entry */
    size_t len = 0;
    char *src = probe_source(&len);
    use_kernel_dir(src, len);
    check_saxpy(get_probe(NULL, AN_CACHE_HIT));

    /* one comment line more: a new entry */
    char *changed = malloc(len + 64);
    ck_assert_ptr_nonnull(changed);
    int head = snprintf(changed, 64, "// changed for test_cache\n");
    memcpy(changed + head, src, len);
    char path[4200];
    snprintf(path, sizeof path, "%s/probe.cl", kernel_dir);
    write_all(path, changed, (size_t)head + len);
    check_saxpy(get_probe(NULL, AN_CACHE_MISS));
    ck_assert_int_eq(count_entries(NULL, 0), 2);
    check_saxpy(get_probe(NULL, AN_CACHE_HIT));

    /* back to the embedded copy: its entry is still there */
    unsetenv("ALEXNET_KERNEL_DIR");
    check_saxpy(get_probe(NULL, AN_CACHE_HIT));
    free(changed);
    free(src);
}
END_TEST

START_TEST(test_missing_source)
{
    use_kernel_dir(NULL, 0);
    cl_program prog = (cl_program)&prog;
    ck_assert_int_eq(an__program_get(dev, "probe.cl", NULL, &prog), AN_ERR_KERNEL_SOURCE);
    ck_assert_ptr_null(prog);
    const char *e = an_last_error();
    ck_assert_msg(strstr(e, "probe.cl") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, kernel_dir) != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "ALEXNET_KERNEL_DIR") != NULL, "error text: %s", e);

    /* no such embedded kernel either */
    unsetenv("ALEXNET_KERNEL_DIR");
    ck_assert_int_eq(an__program_get(dev, "nosuch.cl", NULL, &prog), AN_ERR_KERNEL_SOURCE);
    ck_assert_ptr_null(prog);
    ck_assert_ptr_nonnull(strstr(an_last_error(), "nosuch.cl"));
    ck_assert_int_eq(count_entries(NULL, 0), 0);
}
END_TEST

START_TEST(test_cache_off)
{
    ck_assert_int_eq(setenv("ALEXNET_NO_CACHE", "1", 1), 0);
    ck_assert_ptr_null(an__cache_dir());
    check_saxpy(get_probe(NULL, AN_CACHE_OFF));
    check_saxpy(get_probe(NULL, AN_CACHE_OFF));
    struct stat st;
    ck_assert_msg(stat(cache_path(), &st) != 0, "%s was created with the cache off", cache_path());

    /* "0" and "" leave it on */
    ck_assert_int_eq(setenv("ALEXNET_NO_CACHE", "0", 1), 0);
    ck_assert_ptr_nonnull(an__cache_dir());
    check_saxpy(get_probe(NULL, AN_CACHE_MISS));
    ck_assert_int_eq(setenv("ALEXNET_NO_CACHE", "", 1), 0);
    check_saxpy(get_probe(NULL, AN_CACHE_HIT));
    ck_assert_int_eq(count_entries(NULL, 0), 1);
}
END_TEST

/* Without $XDG_CACHE_HOME the cache is under $HOME/.cache. */
START_TEST(test_cache_dir_home)
{
    const char *home = getenv("HOME");
    char saved_home[4096];
    snprintf(saved_home, sizeof saved_home, "%s", home ? home : "");
    unsetenv("XDG_CACHE_HOME");
    ck_assert_int_eq(setenv("HOME", tmp_root, 1), 0);
    char want[4200];
    snprintf(want, sizeof want, "%s/.cache/alexnet", tmp_root);
    const char *dir = an__cache_dir();
    if (home)
        setenv("HOME", saved_home, 1);
    else
        unsetenv("HOME");
    ck_assert_ptr_nonnull(dir);
    ck_assert_str_eq(dir, want);
}
END_TEST

/* `#include "NAME"` splices NAME from the same place, every such line of the
 * file, the first line too: their definitions reach the file, compiler messages after them still
 * give the file's own line numbers, a missing include is refused by name, and
 * so is an included file that includes another (one level only). */
START_TEST(test_include)
{
    static const char part[] = "#define TWO 2.0f\n"
                               "__kernel void from_part(__global float *p) { p[0] = TWO; }\n";
    static const char part2[] = "#define THREE 3.0f\n";
    static const char nested[] = "#define THREE 3.0f\n#include \"part.cl\"\n";
    static const char good[] = "// uses part.cl\n#include \"part.cl\"\n#include \"part2.cl\"\n"
                               "__kernel void after(__global float *p)\n{\n"
                               "    p[1] = TWO + THREE;\n}\n";
    static const char bad[] = "// uses part.cl\n#include \"part.cl\"\n// and part2.cl\n"
                              "#include \"part2.cl\"\n__kernel void after(__global float *p)\n{\n"
                              "    p[1] = no_such;\n}\n";
    static const char gone[] = "// x\n#include \"gone.cl\"\n";
    use_kernel_dir(good, sizeof good - 1);
    char path[4200];
    snprintf(path, sizeof path, "%s/part.cl", kernel_dir);
    write_all(path, part, sizeof part - 1);
    snprintf(path, sizeof path, "%s/part2.cl", kernel_dir);
    write_all(path, part2, sizeof part2 - 1);

    cl_program prog = NULL;
    int status = an__program_get(dev, "probe.cl", "-cl-std=CL1.2", &prog);
    ck_assert_msg(status == AN_OK, "%s", an_last_error());
    cl_int err = CL_SUCCESS;
    const char *names[] = {"from_part", "after"};
    for (int i = 0; i < 2; i++) {
        cl_kernel k = clCreateKernel(prog, names[i], &err);
        ck_assert_msg(err == CL_SUCCESS, "kernel %s: %d", names[i], err);
        clReleaseKernel(k);
    }
    clReleaseProgram(prog);

    snprintf(path, sizeof path, "%s/probe.cl", kernel_dir);
    write_all(path, bad, sizeof bad - 1);
    ck_assert_int_eq(an__program_get(dev, "probe.cl", "-cl-std=CL1.2", &prog), AN_ERR_BUILD_FAILED);
    ck_assert_msg(strstr(an_last_error(), "probe.cl:7:") != NULL, "error text: %s",
                  an_last_error());

    write_all(path, good, sizeof good - 1);
    snprintf(path, sizeof path, "%s/part2.cl", kernel_dir);
    write_all(path, nested, sizeof nested - 1);
    ck_assert_int_eq(an__program_get(dev, "probe.cl", NULL, &prog), AN_ERR_KERNEL_SOURCE);
    ck_assert_msg(strstr(an_last_error(), "part2.cl includes another file") != NULL,
                  "error text: %s", an_last_error());

    /* an include on the file's first line */
    static const char first[] = "#include \"part.cl\"\n__kernel void after(__global float *p)\n"
                                "{\n    p[1] = TWO;\n}\n";
    snprintf(path, sizeof path, "%s/probe.cl", kernel_dir);
    write_all(path, first, sizeof first - 1);
    ck_assert_msg(an__program_get(dev, "probe.cl", NULL, &prog) == AN_OK, "%s", an_last_error());
    clReleaseProgram(prog);

    write_all(path, gone, sizeof gone - 1);
    ck_assert_int_eq(an__program_get(dev, "probe.cl", NULL, &prog), AN_ERR_KERNEL_SOURCE);
    ck_assert_msg(strstr(an_last_error(), "gone.cl") != NULL, "error text: %s", an_last_error());
}
END_TEST

START_TEST(test_build_error_line)
{
    /* probe.cl, a blank line, then a kernel that uses an undeclared name */
    size_t len = 0;
    char *src = probe_source(&len);
    static const char broken[] =
        "\n__kernel void broken(__global float *p)\n{\n    p[0] = no_such_symbol;\n}\n";
    char *text = malloc(len + sizeof broken + 1);
    ck_assert_ptr_nonnull(text);
    memcpy(text, src, len);
    size_t text_len = len;
    if (text_len > 0 && text[text_len - 1] != '\n')
        text[text_len++] = '\n';
    int lines = 0; /* complete lines before ours */
    for (size_t i = 0; i < text_len; i++)
        lines += text[i] == '\n';
    memcpy(text + text_len, broken, sizeof broken - 1);
    text_len += sizeof broken - 1;
    const int bad_line = lines + 4; /* blank, signature, brace, then the bad line */
    use_kernel_dir(text, text_len);

    cl_program prog = (cl_program)&prog;
    ck_assert_int_eq(an__program_get(dev, "probe.cl", "-cl-std=CL1.2", &prog), AN_ERR_BUILD_FAILED);
    ck_assert_ptr_null(prog);
    char where[64];
    snprintf(where, sizeof where, "probe.cl:%d:", bad_line);
    const char *e = an_last_error();
    ck_assert_msg(strstr(e, where) != NULL, "error text lacks '%s': %s", where, e);
    ck_assert_msg(strstr(e, "no_such_symbol") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "-cl-std=CL1.2") != NULL, "error text: %s", e);
    ck_assert_int_eq(count_entries(NULL, 0), 0); /* nothing cached */

    /* a second try fails the same way (no stale entry served) */
    ck_assert_int_eq(an__program_get(dev, "probe.cl", "-cl-std=CL1.2", &prog), AN_ERR_BUILD_FAILED);
    ck_assert_ptr_nonnull(strstr(an_last_error(), where));
    free(text);
    free(src);
}
END_TEST

/* Writes probe.cl with a kernel that draws clang's -Wconstant-conversion
 * (on by default; a #warning would not do: PoCL preprocesses the source to
 * key its own cache, and the directive's warning never reaches the build
 * log) into this test's kernel directory, headed by a comment naming this
 * process, the time and `step`, so that each is a source no cache has seen. */
static void write_warning_probe(int step)
{
    size_t len = 0;
    char *src = probe_source(&len);
    char *text = malloc(len + 128);
    ck_assert_ptr_nonnull(text);
    int head = snprintf(text, 128,
                        "// %ld %ld %d\n__kernel void warns(__global char *p) { p[0] = 300; }\n",
                        (long)getpid(), (long)time(NULL), step);
    memcpy(text + head, src, len);
    char path[4200];
    snprintf(path, sizeof path, "%s/probe.cl", kernel_dir);
    write_all(path, text, (size_t)head + len);
    free(text);
    free(src);
}

/* $ALEXNET_KERNEL_WERROR=1: a build whose log has a warning fails with the
 * log; the same source builds without it; an entry built unchecked is not
 * served to a checked build. probe.cl itself passes checked: on a CPU
 * without AVX-512 its float16 chain (options without FMA16_HALVES) draws
 * only the -Wpsabi note, which the check lets through. */
START_TEST(test_kernel_werror)
{
    const char *was = getenv("ALEXNET_KERNEL_WERROR");
    char saved[16];
    snprintf(saved, sizeof saved, "%s", was ? was : "");
    ck_assert_int_eq(setenv("ALEXNET_KERNEL_WERROR", "1", 1), 0);
    clReleaseProgram(get_probe(NULL, AN_CACHE_MISS));

    /* one source for the first checked build, another for the unchecked
     * build and the checked one after it */
    use_kernel_dir(NULL, 0);
    write_warning_probe(1);

    cl_program prog = (cl_program)&prog;
    ck_assert_int_eq(an__program_get(dev, "probe.cl", NULL, &prog), AN_ERR_BUILD_FAILED);
    ck_assert_ptr_null(prog);
    const char *e = an_last_error();
    ck_assert_msg(strstr(e, "gave a warning") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "changes value from 300") != NULL, "error text: %s", e);
    ck_assert_msg(strstr(e, "probe.cl") != NULL, "error text: %s", e);
    ck_assert_int_eq(count_entries(NULL, 0), 1); /* the plain probe's only */

    write_warning_probe(2);
    ck_assert_int_eq(setenv("ALEXNET_KERNEL_WERROR", "0", 1), 0);
    check_saxpy(get_probe(NULL, AN_CACHE_MISS));
    ck_assert_int_eq(count_entries(NULL, 0), 2);

    ck_assert_int_eq(setenv("ALEXNET_KERNEL_WERROR", "1", 1), 0);
    prog = (cl_program)&prog;
    ck_assert_int_eq(an__program_get(dev, "probe.cl", NULL, &prog), AN_ERR_BUILD_FAILED);
    ck_assert_ptr_null(prog);
    ck_assert_msg(strstr(an_last_error(), "changes value from 300") != NULL, "error text: %s",
                  an_last_error());

    if (was)
        setenv("ALEXNET_KERNEL_WERROR", saved, 1);
    else
        unsetenv("ALEXNET_KERNEL_WERROR");
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("program cache");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, open_device, close_device);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_miss_then_hit);
    tcase_add_test(tc, test_corrupt_flip);
    tcase_add_test(tc, test_corrupt_truncate_10);
    tcase_add_test(tc, test_corrupt_header_only);
    tcase_add_test(tc, test_corrupt_truncated_payload);
    tcase_add_test(tc, test_corrupt_garbage);
    tcase_add_test(tc, test_corrupt_empty);
    tcase_add_test(tc, test_options_change_key);
    tcase_add_test(tc, test_source_change_key);
    tcase_add_test(tc, test_missing_source);
    tcase_add_test(tc, test_cache_off);
    tcase_add_test(tc, test_cache_dir_home);
    tcase_add_test(tc, test_build_error_line);
    tcase_add_test(tc, test_include);
    tcase_add_test(tc, test_kernel_werror);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cache_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed > 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
