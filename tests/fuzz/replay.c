/* replay.c - runs a fuzz target's entry point on files, without libFuzzer:
 * the Meson suite 'fuzz' replays every committed seed and regression input
 * this way with the normal compiler, so that they stay covered even where
 * clang is missing. usage: replay FILE|DIR... */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 1 << 16, size = 0, n;
    uint8_t *buf = malloc(cap);
    while (buf && (n = fread(buf + size, 1, cap - size, f)) > 0) {
        size += n;
        if (size == cap) {
            uint8_t *p = realloc(buf, cap *= 2);
            if (!p) {
                free(buf);
                buf = NULL;
            } else {
                buf = p;
            }
        }
    }
    fclose(f);
    if (!buf)
        return 1;
    LLVMFuzzerTestOneInput(buf, size); /* aborts on a broken invariant */
    free(buf);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    int files = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0)
            continue; /* an absent regressions/ directory: nothing to replay */
        if (!S_ISDIR(st.st_mode)) {
            rc |= replay_file(argv[i]);
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        char *names[4096];
        int n = 0;
        while (d && (e = readdir(d)) != NULL && n < 4096)
            if (e->d_name[0] != '.')
                names[n++] = strdup(e->d_name);
        if (d)
            closedir(d);
        qsort(names, (size_t)n, sizeof names[0], compare_names);
        for (int j = 0; j < n; j++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", argv[i], names[j]);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                rc |= replay_file(path);
                files++;
            }
            free(names[j]);
        }
    }
    printf("replay: %d inputs\n", files);
    return rc || files == 0;
}
