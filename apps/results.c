/* results.c - the line format of `alexnet classify --json`, shared by its
 * writer and by --resume: strings escaped to strict UTF-8 JSON, and reading
 * back which paths an earlier, perhaps interrupted, run already wrote. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apps.h"

/* Length of the valid UTF-8 sequence at s (1 to 4 bytes, at most n), or 0
 * when the bytes there are not one: strict, as Python's decoder is (no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
size_t app_utf8_seq(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xc2 && s[0] <= 0xdf   ? 2
                 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                                : 0;
    if (len == 0 || len > n)
        return 0;
    unsigned lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (s[0] == 0xe0)
        lo = 0xa0; /* no overlong 3-byte forms */
    else if (s[0] == 0xed)
        hi = 0x9f; /* no surrogates */
    else if (s[0] == 0xf0)
        lo = 0x90; /* no overlong 4-byte forms */
    else if (s[0] == 0xf4)
        hi = 0x8f; /* nothing above U+10FFFF */
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* Writes s as a JSON string. Valid UTF-8 passes as it is (with '"', '\\' and
 * control characters escaped); each byte that is not part of valid UTF-8 is
 * written as \udcXX, the lone surrogate U+DC00+XX that Python's
 * "surrogateescape" error handler gives it. The escape is reversible: no
 * valid UTF-8 text holds a surrogate, and Python's os.fsencode(), or
 * s.encode("utf-8", "surrogateescape"), gives back the original bytes. */
void app_json_string(FILE *f, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        size_t k = app_utf8_seq(u + i, n - i);
        if (k == 0) {
            fprintf(f, "\\udc%02x", u[i]);
            i++;
            continue;
        }
        if (k == 1 && (u[i] < 0x20 || u[i] == '"' || u[i] == '\\')) {
            const char *esc = u[i] == '"'    ? "\\\""
                              : u[i] == '\\' ? "\\\\"
                              : u[i] == '\n' ? "\\n"
                              : u[i] == '\t' ? "\\t"
                              : u[i] == '\r' ? "\\r"
                                             : NULL;
            if (esc)
                fputs(esc, f);
            else
                fprintf(f, "\\u%04x", u[i]);
        } else {
            fwrite(u + i, 1, k, f);
        }
        i += k;
    }
    fputc('"', f);
}

/* The JSON text of s as app_json_string writes it (malloc'ed), or NULL. */
static char *json_text(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    app_json_string(f, s);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Length of the JSON string that starts at s[0] == '"' within n bytes,
 * quotes included, or 0 when it does not end there. */
static size_t json_string_len(const char *s, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return 0;
}

void app_done_free(app_done *d)
{
    for (size_t i = 0; i < d->count; i++)
        free(d->keys[i]);
    free(d->keys);
    d->keys = NULL;
    d->count = 0;
}

int app_done_read(const char *path, app_done *d, char *why, size_t why_size)
{
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "r+");
    if (!f) {
        if (errno == ENOENT)
            return 0; /* nothing written yet */
        snprintf(why, why_size, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, complete = 0, cap_keys = 0, line_no = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        line_no++;
        if (line[len - 1] != '\n')
            break; /* the half-written last line of an interrupted run: dropped below */
        const char *prefix = "{\"path\":";
        size_t pl = strlen(prefix), k;
        if ((size_t)len <= pl || strncmp(line, prefix, pl) != 0 ||
            (k = json_string_len(line + pl, (size_t)len - pl)) == 0) {
            snprintf(why, why_size,
                     "%s line %zu is not a line of `alexnet classify --json`; refusing to "
                     "resume into it",
                     path, line_no);
            rc = -1;
            break;
        }
        if (d->count == cap_keys) {
            cap_keys = cap_keys ? 2 * cap_keys : 256;
            char **grown = realloc(d->keys, cap_keys * sizeof *grown);
            if (!grown) {
                snprintf(why, why_size, "out of memory reading %s", path);
                rc = -1;
                break;
            }
            d->keys = grown;
        }
        if (!(d->keys[d->count] = strndup(line + pl, k))) {
            snprintf(why, why_size, "out of memory reading %s", path);
            rc = -1;
            break;
        }
        d->count++;
        complete += (size_t)len;
    }
    if (rc == 0 && ferror(f)) {
        snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
        rc = -1;
    }
    /* cut a half-written last line, so that appending starts on a line of its own */
    if (rc == 0 && (fflush(f) != 0 || ftruncate(fileno(f), (off_t)complete) != 0)) {
        snprintf(why, why_size, "cannot truncate %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    if (rc != 0) {
        app_done_free(d);
        return -1;
    }
    qsort(d->keys, d->count, sizeof *d->keys, cmp_key);
    return 0;
}

int app_done_has(const app_done *d, const char *path)
{
    if (d->count == 0)
        return 0;
    char *key = json_text(path);
    if (!key)
        return -1;
    int found = bsearch(&key, d->keys, d->count, sizeof *d->keys, cmp_key) != NULL;
    free(key);
    return found;
}

/* A whole decimal number in [lo, hi] at text, followed by the byte stop. */
static int shard_number(const char *text, char stop, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    if (*text < '0' || *text > '9')
        return -1;
    *out = strtol(text, &end, 10);
    return errno == 0 && *end == stop && *out >= lo && *out <= hi ? 0 : -1;
}

int app_parse_shard(const char *text, int *k, int *n)
{
    const char *slash = strchr(text, '/');
    long kk = 0, nn = 0;
    if (!slash || shard_number(slash + 1, '\0', 1, 1 << 20, &nn) != 0 ||
        shard_number(text, '/', 1, nn, &kk) != 0)
        return -1;
    *k = (int)kk;
    *n = (int)nn;
    return 0;
}

void app_shard_range(size_t count, int k, int n, size_t *lo, size_t *hi)
{
    /* floor(count * j / n), computed as (q*n + r) * j / n = q*j + r*j/n so
     * that no product overflows (r*j < n*n <= 2^40) */
    size_t q = count / (size_t)n, r = count % (size_t)n;
    *lo = q * (size_t)(k - 1) + r * (size_t)(k - 1) / (size_t)n;
    *hi = q * (size_t)k + r * (size_t)k / (size_t)n;
}
