/* fuzz_tuning.c - libFuzzer target for the kernel tuning parser
 * (an__tuning_parse in runtime/model.c): the text of $ALEXNET_TUNING and of
 * each line of the per-device tuning file in the cache directory, which any
 * earlier run (or anyone who can write there) may have left malformed.
 *
 * On success every parameter must be within its range (checked by formatting
 * the result and parsing that again: the round trip must give the same
 * values); on failure the tuning passed in must read as a refusal with a text.
 * The same text is then read as a tuning file (an__tuning_table_parse): every
 * entry it yields must have a key and parameters without line breaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';

    an_device_info info;
    memset(&info, 0, sizeof info);
    info.type = (size & 1) ? AN_DEVICE_CPU : AN_DEVICE_GPU;
    info.max_work_group = 256;
    an__tuning t = an__tuning_defaults(&info);
    int status = an__tuning_parse(text, &t);
    if (status == AN_OK) {
        char buf[1024];
        an__tuning_format(&t, buf, sizeof buf);
        an__tuning u = an__tuning_defaults(&info);
        if (an__tuning_parse(buf, &u) != AN_OK || memcmp(&t, &u, sizeof t) != 0)
            abort(); /* out of range, or not what was parsed */
    } else if (status != AN_ERR_INVALID_ARGUMENT || an_last_error()[0] == '\0') {
        abort();
    }
    an__tuning_table table = {0};
    if (an__tuning_table_parse(text, &info, &table) != AN_OK)
        abort(); /* only running out of memory may fail */
    for (size_t i = 0; i < table.n; i++)
        if (!table.e[i].key[0] || strchr(table.e[i].key, '\n') || strchr(table.e[i].params, '\n'))
            abort();
    an__tuning_table_free(&table);
    free(text);
    return 0;
}
