/* program.c - kernel sources (embedded at build time, or read from
 * $ALEXNET_KERNEL_DIR) and the on-disk cache of built program binaries.
 *
 * A cache entry is one file named by a 64-bit key over the source, the build
 * options, the platform, the device, its driver version and this file's format.
 * Layout: "ANPC0001", key, payload size, payload hash (u64 each), payload.
 * Anything that does not check out is treated as a miss and rewritten. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

static const char CACHE_MAGIC[8] = {'A', 'N', 'P', 'C', '0', '0', '0', '1'};
enum { HEADER_BYTES = 32, MAX_ENTRY_BYTES = 256 << 20 };

static _Thread_local an__cache_result last_cache_result = AN_CACHE_OFF;

an__cache_result an__program_last_cache_result(void)
{
    return last_cache_result;
}

uint64_t an__fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static char *read_file(const char *path, size_t *len, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) != 0)
        goto done;
    long size = ftell(f);
    if (size < 0 || (size_t)size > max || fseek(f, 0, SEEK_SET) != 0)
        goto done;
    buf = malloc((size_t)size + 1);
    if (buf && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    if (buf) {
        buf[size] = '\0';
        *len = (size_t)size;
    }
done:
    fclose(f);
    return buf;
}

const char *an__kernel_source(const char *name, size_t *len, bool *owned)
{
    return an__kernel_source_in(NULL, name, len, owned);
}

const char *an__kernel_source_in(const char *dir, const char *name, size_t *len, bool *owned)
{
    *owned = false;
    bool from_env = !dir;
    if (!dir)
        dir = getenv("ALEXNET_KERNEL_DIR");
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        char *text = read_file(path, len, 16 << 20);
        if (!text) {
            an__fail(AN_ERR_KERNEL_SOURCE, "cannot read kernel source %s (%s): %s", path,
                     from_env ? "$ALEXNET_KERNEL_DIR" : "the kernel directory", strerror(errno));
            return NULL;
        }
        *owned = true;
        return text;
    }
    for (const struct an__embedded *k = an__embedded_kernels; k->name; k++) {
        if (strcmp(k->name, name) == 0) {
            *len = k->len;
            return k->text;
        }
    }
    an__fail(AN_ERR_KERNEL_SOURCE, "no embedded kernel source named %s", name);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Cache location and entries                                               */

const char *an__cache_dir(void)
{
    static _Thread_local char dir[4096];
    const char *off = getenv("ALEXNET_NO_CACHE");
    if (off && *off && strcmp(off, "0") != 0)
        return NULL;
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(dir, sizeof dir, "%s/alexnet", xdg);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.cache/alexnet", home);
    else
        return NULL;
    return dir;
}

/* mkdir -p for the cache directory; failures only disable the cache. */
static bool make_dirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    return mkdir(tmp, 0755) == 0 || errno == EEXIST;
}

static uint64_t cache_key(const an_device *dev, const char *src, size_t len, const char *opts)
{
    const an_device_info *i = &dev->info;
    uint64_t h = an__fnv1a(AN_FNV_SEED, CACHE_MAGIC, sizeof CACHE_MAGIC);
    const char *parts[] = {opts, i->platform, i->name, i->version, i->driver};
    h = an__fnv1a(h, src, len);
    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++)
        h = an__fnv1a(h, parts[k], strlen(parts[k]) + 1);
    return h;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Returns the payload (malloc'ed) of a valid entry for key, or NULL. Sets
 * *present when a file existed, valid or not. */
static unsigned char *cache_read(const char *path, uint64_t key, size_t *size, bool *present)
{
    size_t len = 0;
    unsigned char *buf = (unsigned char *)read_file(path, &len, MAX_ENTRY_BYTES);
    *present = buf != NULL || access(path, F_OK) == 0;
    if (!buf)
        return NULL;
    if (len < HEADER_BYTES || memcmp(buf, CACHE_MAGIC, 8) != 0 || get_u64(buf + 8) != key ||
        get_u64(buf + 16) != len - HEADER_BYTES || len == HEADER_BYTES ||
        get_u64(buf + 24) != an__fnv1a(AN_FNV_SEED, buf + HEADER_BYTES, len - HEADER_BYTES)) {
        free(buf);
        return NULL;
    }
    *size = len - HEADER_BYTES;
    memmove(buf, buf + HEADER_BYTES, *size);
    return buf;
}

/* Writes an entry atomically (temporary file, then rename). Best effort. */
static void cache_write(const char *dir, const char *path, uint64_t key, const unsigned char *bin,
                        size_t size)
{
    if (!make_dirs(dir))
        return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    /* unique per call: two threads (or processes) building one program
     * each write their own file, and the last rename wins whole */
    int fd = mkstemp(tmp);
    if (fd < 0)
        return;
    fchmod(fd, 0644);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        remove(tmp);
        return;
    }
    unsigned char head[HEADER_BYTES];
    memcpy(head, CACHE_MAGIC, 8);
    put_u64(head + 8, key);
    put_u64(head + 16, size);
    put_u64(head + 24, an__fnv1a(AN_FNV_SEED, bin, size));
    bool ok = fwrite(head, 1, sizeof head, f) == sizeof head && fwrite(bin, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0)
        remove(tmp);
}

/* ------------------------------------------------------------------------ */
/* Building                                                                 */

/* $ALEXNET_KERNEL_WERROR=1 (the tests set it; users need not): a build
 * whose log has a compiler warning fails, with the log, instead of the
 * warning reaching the user's terminal (PoCL prints its clang's warnings on
 * stderr). OpenCL's own -Werror cannot be used: PoCL refuses -Wno-psabi, and
 * clang's -Wpsabi note (a float16 argument "changes the ABI" on a CPU
 * without AVX-512, where the tests run float16 kernels on purpose) is about
 * PoCL's builtins, not our code, so those lines are let through. A checked
 * build adds -DAN_KERNEL_WERROR=1 to the options, so that our cache never
 * hands it a program built unchecked whose log nobody read (PoCL replays a
 * cached program's log; other implementations need not). A #warning
 * directive is not seen: PoCL preprocesses the source to key its own cache,
 * and that warning never reaches the log. */
static bool kernel_werror(void)
{
    const char *v = getenv("ALEXNET_KERNEL_WERROR");
    return v && strcmp(v, "1") == 0;
}

static bool line_has(const char *line, size_t n, const char *word)
{
    size_t k = strlen(word);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(line + i, word, k) == 0)
            return true;
    return false;
}

static bool log_has_warning(const char *log)
{
    for (const char *line = log; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (line_has(line, n, "warning") && !line_has(line, n, "changes the ABI"))
            return true;
        if (!end)
            break;
        line = end + 1;
    }
    return false;
}

/* Builds prog; on failure (and with kernel_werror(), on a warning) the
 * error text carries the compiler's log. */
static int build(an_device *dev, cl_program prog, const char *file, const char *opts)
{
    cl_int err = clBuildProgram(prog, 1, &dev->device, opts, NULL, NULL);
    bool werror = err == CL_SUCCESS && kernel_werror();
    if (err == CL_SUCCESS && !werror)
        return AN_OK;
    size_t len = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, dev->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) ==
            CL_SUCCESS &&
        (log = malloc(len + 1)) != NULL) {
        if (clGetProgramBuildInfo(prog, dev->device, CL_PROGRAM_BUILD_LOG, len, log, NULL) !=
            CL_SUCCESS)
            len = 0;
        log[len] = '\0';
    }
    int status = AN_OK;
    if (!werror)
        status = an__fail(err == CL_BUILD_PROGRAM_FAILURE ? AN_ERR_BUILD_FAILED : err,
                          "building %s for %s failed (%s, options \"%s\"):\n%s", file,
                          dev->info.name, an_status_name(err), opts, log ? log : "(no log)");
    else if (log && log_has_warning(log))
        status = an__fail(AN_ERR_BUILD_FAILED,
                          "building %s for %s gave a warning (ALEXNET_KERNEL_WERROR=1, options "
                          "\"%s\"):\n%s",
                          file, dev->info.name, opts, log);
    free(log);
    return status;
}

static int build_from_binary(an_device *dev, const unsigned char *bin, size_t size,
                             const char *file, const char *opts, cl_program *out)
{
    cl_int err = CL_SUCCESS, bin_status = CL_SUCCESS;
    cl_program prog =
        clCreateProgramWithBinary(dev->context, 1, &dev->device, &size, &bin, &bin_status, &err);
    if (err != CL_SUCCESS || bin_status != CL_SUCCESS || !prog) {
        if (prog)
            clReleaseProgram(prog);
        return AN_ERR_BUILD_FAILED;
    }
    if (build(dev, prog, file, opts) != AN_OK) {
        clReleaseProgram(prog);
        return AN_ERR_BUILD_FAILED;
    }
    *out = prog;
    return AN_OK;
}

static unsigned char *program_binary(cl_program prog, size_t *size)
{
    size_t n = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL) != CL_SUCCESS ||
        n == 0 || n > MAX_ENTRY_BYTES)
        return NULL;
    unsigned char *bin = malloc(n);
    if (bin && clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        free(bin);
        return NULL;
    }
    *size = n;
    return bin;
}

/* Appends len bytes of text to the growing *buf (*n used of *cap). */
static int text_append(char **buf, size_t *n, size_t *cap, const char *text, size_t len)
{
    if (*n + len + 1 > *cap) {
        size_t want = (*n + len + 1) * 2;
        char *grown = realloc(*buf, want);
        if (!grown)
            return an__fail(AN_ERR_OUT_OF_MEMORY, "out of memory for kernel source");
        *buf = grown;
        *cap = want;
    }
    memcpy(*buf + *n, text, len);
    *n += len;
    (*buf)[*n] = '\0';
    return AN_OK;
}

/* The first line of text at or after offset from (the start of a line) that
 * begins with `#include "`, or NULL. */
static const char *next_include(const char *text, size_t from)
{
    if (from == 0 && strncmp(text, "#include \"", 10) == 0)
        return text;
    /* from the newline that ends the line before: an include right after an
     * include */
    const char *at = strstr(text + (from ? from - 1 : 0), "\n#include \"");
    return at ? at + 1 : NULL;
}

/* file's source as the compiler gets it: "#line 1 \"file\"" first (compiler
 * messages then name the .cl file and its lines), and every line
 * `#include "NAME"` replaced by NAME's source from the same place (embedded or
 * $ALEXNET_KERNEL_DIR) between #line directives. One level: the device
 * compiler cannot see the embedded files, so it never resolves includes, and
 * an included file that includes another is refused. Textual, not a
 * preprocessor: such a line inside a comment or `#if 0` is spliced too. */
static int kernel_text(const char *kdir, const char *file, char **out, size_t *out_len)
{
    int status = AN_OK;
    bool owned = false, inc_owned = false;
    size_t len = 0, n = 0, cap = 0;
    const char *inc = NULL, *text = an__kernel_source_in(kdir, file, &len, &owned);
    char *src = NULL, line[512];
    if (!text)
        return AN_ERR_KERNEL_SOURCE;
    snprintf(line, sizeof line, "#line 1 \"%s\"\n", file);
    AN_TRY(text_append(&src, &n, &cap, line, strlen(line)));
    size_t pos = 0;
    int lines = 1; /* the line of file that text + pos starts */
    for (;;) {
        const char *at = next_include(text, pos);
        if (!at) {
            AN_TRY(text_append(&src, &n, &cap, text + pos, len - pos));
            break;
        }
        char name[64] = "";
        const char *q = at + 10, *end = strchr(q, '"');
        if (!end || end == q || (size_t)(end - q) >= sizeof name || memchr(q, '/', end - q)) {
            status = an__fail(AN_ERR_KERNEL_SOURCE, "%s: malformed #include", file);
            goto fail;
        }
        memcpy(name, q, (size_t)(end - q));
        size_t inc_len = 0;
        inc = an__kernel_source_in(kdir, name, &inc_len, &inc_owned);
        if (!inc) {
            status = AN_ERR_KERNEL_SOURCE;
            goto fail;
        }
        if (next_include(inc, 0)) {
            status = an__fail(AN_ERR_KERNEL_SOURCE, "%s: %s includes another file (one level only)",
                              file, name);
            goto fail;
        }
        size_t before = (size_t)(at - text);
        const char *nl = strchr(end, '\n');
        size_t after = nl ? (size_t)(nl - text) + 1 : len;
        for (size_t i = pos; i < after; i++)
            lines += text[i] == '\n';
        AN_TRY(text_append(&src, &n, &cap, text + pos, before - pos));
        snprintf(line, sizeof line, "#line 1 \"%s\"\n", name);
        AN_TRY(text_append(&src, &n, &cap, line, strlen(line)));
        AN_TRY(text_append(&src, &n, &cap, inc, inc_len));
        snprintf(line, sizeof line, "\n#line %d \"%s\"\n", lines, file);
        AN_TRY(text_append(&src, &n, &cap, line, strlen(line)));
        if (inc_owned)
            free((void *)inc);
        inc = NULL;
        inc_owned = false;
        pos = after;
    }
    *out = src;
    *out_len = n;
    src = NULL;
fail:
    free(src);
    if (owned)
        free((void *)text);
    if (inc_owned)
        free((void *)inc);
    return status;
}

int an__program_get(an_device *dev, const char *file, const char *options, cl_program *out)
{
    return an__program_get_in(dev, NULL, NULL, file, options, out);
}

int an__program_get_in(an_device *dev, const char *cache_dir, const char *kernel_dir,
                       const char *file, const char *options, cl_program *out)
{
    int status = AN_OK;
    char *src = NULL;
    unsigned char *bin = NULL;
    cl_program prog = NULL;
    *out = NULL;
    /* without hardware FMA, fma() is emulated (slow, and not needed for
     * float accuracy here): the kernels' fma() become mad() */
    char with_mad[620];
    snprintf(with_mad, sizeof with_mad, "%s%s%s", options ? options : "",
             dev->fma ? "" : " -Dfma=mad", kernel_werror() ? " -DAN_KERNEL_WERROR=1" : "");
    const char *opts = with_mad;

    size_t src_len = 0;
    AN_TRY(kernel_text(kernel_dir, file, &src, &src_len));

    const char *dir = cache_dir ? (*cache_dir ? cache_dir : NULL) : an__cache_dir();
    char path[4200] = "";
    uint64_t key = cache_key(dev, src, src_len, opts);
    last_cache_result = AN_CACHE_OFF;
    if (dir) {
        snprintf(path, sizeof path, "%s/%016llx.bin", dir, (unsigned long long)key);
        size_t size = 0;
        bool present = false;
        bin = cache_read(path, key, &size, &present);
        if (bin && build_from_binary(dev, bin, size, file, opts, &prog) == AN_OK) {
            last_cache_result = AN_CACHE_HIT;
            goto done;
        }
        last_cache_result = present ? AN_CACHE_CORRUPT : AN_CACHE_MISS;
        free(bin);
        bin = NULL;
    }

    const char *srcs[] = {src};
    AN_CL_OBJ(prog, clCreateProgramWithSource(dev->context, 1, srcs, &src_len, &an__err));
    AN_TRY(build(dev, prog, file, opts));
    if (dir) {
        size_t size = 0;
        bin = program_binary(prog, &size);
        if (bin)
            cache_write(dir, path, key, bin, size);
    }
done:
    free(bin);
    free(src);
    *out = prog;
    return AN_OK;

fail:
    if (prog)
        clReleaseProgram(prog);
    free(bin);
    free(src);
    return status;
}
