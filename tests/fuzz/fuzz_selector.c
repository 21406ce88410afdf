/* fuzz_selector.c - libFuzzer target for --device selector matching
 * (an__device_select in runtime/device.c) over a synthetic device list.
 *
 * Input: byte 0 gives the device count (0..7), bytes 1..7 the device types;
 * the rest, split at '\n', is the selector and then each device's name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static const an_device_type types[4] = {AN_DEVICE_CPU, AN_DEVICE_GPU, AN_DEVICE_ACCELERATOR,
                                        AN_DEVICE_OTHER};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    int count = data[0] % 8;
    an_device_info infos[8];
    memset(infos, 0, sizeof infos);
    for (int i = 0; i < 8; i++) {
        infos[i].type = types[data[1 + i % 7] % 4];
        infos[i].platform_index = i / 3;
        infos[i].device_index = i % 3;
        snprintf(infos[i].name, sizeof infos[i].name, "Device %d", i);
    }
    /* selector and names: a NUL-terminated copy, split at newlines */
    char *text = malloc(size - 8 + 1);
    if (!text)
        abort();
    memcpy(text, data + 8, size - 8);
    text[size - 8] = '\0';
    char *save = NULL, *sel = text, *nl = strchr(text, '\n');
    if (nl) {
        *nl = '\0';
        char *rest = nl + 1;
        for (int i = 0; i < count; i++) {
            char *name = strtok_r(i == 0 ? rest : NULL, "\n", &save);
            if (!name)
                break;
            snprintf(infos[i].name, sizeof infos[i].name, "%s", name);
        }
    }

    int r = an__device_select(sel, infos, count);
    if (r < -1 || r >= count)
        abort();
    if (!*sel) { /* default: the first GPU, else the first device */
        int want = count > 0 ? 0 : -1;
        for (int i = count - 1; i >= 0; i--)
            if (infos[i].type == AN_DEVICE_GPU)
                want = i;
        if (r != want)
            abort();
    } else if (r >= 0) {
        /* whatever matched must match for one of the documented reasons */
        char idx[32];
        snprintf(idx, sizeof idx, "%d:%d", infos[r].platform_index, infos[r].device_index);
        int p, d, used = 0;
        int is_pd = sscanf(sel, "%d:%d%n", &p, &d, &used) == 2 && sel[used] == '\0';
        int is_type = strcasecmp(sel, an_device_type_name(infos[r].type)) == 0;
        int in_name = strcasestr(infos[r].name, sel) != NULL;
        if (is_pd ? (p != infos[r].platform_index || d != infos[r].device_index)
                  : !(is_type || in_name))
            abort();
    }
    free(text);
    return 0;
}
