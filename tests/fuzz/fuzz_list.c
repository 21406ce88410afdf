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

#include "classify_stubs.h"

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
