/* fuzz_safetensors.c - libFuzzer target for the .safetensors reader
 * (runtime/weights.c: header size, header JSON, dtypes, shapes, offsets,
 * overlaps, F32/F16 decoding).
 *
 * an__weights_load takes a path, so the input goes into a memfd and the
 * reader opens /proc/self/fd/N: the real file path, mmap included, with no
 * change to weights.c. Each input is read twice: against torchvision-224 (the
 * real shapes: everything up to the shape checks) and against a tiny made-up
 * variant whose tensors are a few elements, so that inputs can pass every
 * check and reach the data decoding too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

/* conv 1->2 channels 1x1 ("c.weight" (2,1,1,1), "c.bias" (2,)) then linear
 * 2->3 ("f.weight" (3,2), "f.bias" (3,)). */
static const an__variant tiny = {
    .name = "fuzz-tiny",
    .in_channels = 1,
    .in_height = 4,
    .in_width = 4,
    .n_layers = 3,
    .layers = {{AN_LAYER_CONV, 2, 1, 1, 0, "c.weight", "c.bias", 1, 0, 0, 0, 0},
               {AN_LAYER_RELU, 0, 0, 0, 0, NULL, NULL, 1, 0, 0, 0, 0},
               {AN_LAYER_LINEAR, 3, 0, 0, 0, "f.weight", "f.bias", 1, 0, 0, 0, 0}}};

static int fd = -1;
static char path[64];

static void check(const an__variant *v, int status, an__weights *w)
{
    if (status == AN_OK) {
        if (w->count <= 0)
            abort();
        for (int i = 0; i < w->count; i++) {
            if (!w->weight[i] || !w->bias[i])
                abort();
            /* touch every decoded value: ASan sees a short allocation */
            const int *d = w->shape[i].dims;
            size_t n = (size_t)d[0] * d[1] * d[2] * d[3];
            volatile float sink = 0;
            for (size_t j = 0; j < n; j++)
                sink += w->weight[i][j];
            for (int j = 0; j < d[0]; j++)
                sink += w->bias[i][j];
            (void)sink;
        }
    } else {
        /* a refusal names itself: a code of ours and a text */
        if (status != AN_ERR_BAD_WEIGHTS && status != AN_ERR_IO && status != AN_ERR_OUT_OF_MEMORY)
            abort();
        if (an_last_error()[0] == '\0')
            abort();
        for (int i = 0; i < AN_MAX_LAYERS; i++)
            if (w->weight[i] || w->bias[i]) /* cleared on failure */
                abort();
    }
    (void)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("fuzz.safetensors", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();

    an__weights w;
    int status = an__weights_load(&tiny, path, &w);
    check(&tiny, status, &w);
    an__weights_free(&w);

    const an__variant *v = an__variant_find("torchvision-224");
    status = an__weights_load(v, path, &w);
    check(v, status, &w);
    if (status == AN_OK) /* the real sizes cannot fit in a fuzz input */
        abort();
    an__weights_free(&w);
    return 0;
}
