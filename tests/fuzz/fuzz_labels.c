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

#include "classify_stubs.h"

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
