/* io_time.c - moving a batch's input to the device and its output back:
 * copies (clEnqueueWriteBuffer/ReadBuffer on plain buffers) against mapped
 * host memory (CL_MEM_ALLOC_HOST_PTR buffers, map + memcpy + unmap), as
 * plan.c does with io_mapped 0 and 1, interleaved in one process (copy,
 * mapped, copy, ...) so that both see the same load. Prints the median and
 * least per way and the median of the pairs' ratios. Measurement only
 * (docs/PERFORMANCE.md, "Mapped input and output").
 * usage: io_time BATCH PAIRS [DEVICE] (torchvision-224's 3x224x224 input) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alexnet.h"
#include "clock.h"
#include "alexnet_opencl.h"

#define CHECK(call)                                                                                \
    do {                                                                                           \
        cl_int e_ = (call);                                                                        \
        if (e_ != CL_SUCCESS) {                                                                    \
            fprintf(stderr, "io_time: %s failed: %d\n", #call, e_);                                \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* One upload of in_bytes and read-back of out_bytes, in ms. */
static double pass(cl_command_queue q, cl_mem in, cl_mem out, bool mapped, const float *x,
                   size_t in_bytes, float *y, size_t out_bytes)
{
    cl_int err = CL_SUCCESS;
    double t0 = now();
    if (!mapped) {
        CHECK(clEnqueueWriteBuffer(q, in, CL_FALSE, 0, in_bytes, x, 0, NULL, NULL));
        CHECK(clEnqueueReadBuffer(q, out, CL_TRUE, 0, out_bytes, y, 0, NULL, NULL));
    } else {
        void *p = clEnqueueMapBuffer(q, in, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0, in_bytes, 0,
                                     NULL, NULL, &err);
        CHECK(err);
        memcpy(p, x, in_bytes);
        CHECK(clEnqueueUnmapMemObject(q, in, p, 0, NULL, NULL));
        p = clEnqueueMapBuffer(q, out, CL_TRUE, CL_MAP_READ, 0, out_bytes, 0, NULL, NULL, &err);
        CHECK(err);
        memcpy(y, p, out_bytes);
        CHECK(clEnqueueUnmapMemObject(q, out, p, 0, NULL, NULL));
    }
    CHECK(clFinish(q));
    return (now() - t0) * 1e3;
}

int main(int argc, char **argv)
{
    int batch = argc >= 3 ? atoi(argv[1]) : 0, pairs = argc >= 3 ? atoi(argv[2]) : 0;
    if (batch < 1 || batch > 1024 || pairs < 1 || pairs > 100000) {
        fprintf(stderr, "usage: io_time BATCH (1..1024) PAIRS (1..100000) [DEVICE]\n");
        return 2;
    }
    an_device *dev = NULL;
    if (an_device_open(argc > 3 ? argv[3] : NULL, &dev) != AN_OK) {
        fprintf(stderr, "io_time: %s\n", an_last_error());
        return 1;
    }
    cl_context ctx;
    cl_command_queue q;
    an_device_get_cl(dev, &ctx, NULL, &q);
    size_t in_bytes = (size_t)batch * 3 * 224 * 224 * sizeof(float);
    size_t out_bytes = (size_t)batch * AN_CLASSES * sizeof(float);
    float *x = malloc(in_bytes), *y = malloc(out_bytes);
    double *t[2] = {malloc(pairs * sizeof(double)), malloc(pairs * sizeof(double))};
    double *ratio = malloc(pairs * sizeof(double));
    if (!x || !y || !t[0] || !t[1] || !ratio)
        return 1;
    for (size_t i = 0; i < in_bytes / sizeof(float); i++)
        x[i] = (float)(i % 255) / 255.0f;
    cl_int err = CL_SUCCESS;
    cl_mem in[2], out[2];
    for (int m = 0; m < 2; m++) {
        cl_mem_flags host = m ? CL_MEM_ALLOC_HOST_PTR : 0;
        in[m] = clCreateBuffer(ctx, CL_MEM_READ_ONLY | host, in_bytes, NULL, &err);
        CHECK(err);
        out[m] = clCreateBuffer(ctx, CL_MEM_WRITE_ONLY | host, out_bytes, NULL, &err);
        CHECK(err);
        pass(q, in[m], out[m], m, x, in_bytes, y, out_bytes); /* first touch, not timed */
    }
    for (int i = 0; i < pairs; i++) {
        for (int m = 0; m < 2; m++)
            t[m][i] = pass(q, in[m], out[m], m, x, in_bytes, y, out_bytes);
        ratio[i] = t[0][i] / t[1][i];
    }
    an_device_info info;
    an_device_get_info(dev, &info);
    printf("%s, batch %d: input %.1f MB, output %.1f KB, %d pairs\n", info.name, batch,
           in_bytes / 1e6, out_bytes / 1e3, pairs);
    for (int m = 0; m < 2; m++) {
        qsort(t[m], pairs, sizeof(double), cmp_double);
        printf("  %-7s median %.3f ms, least %.3f ms\n", m ? "mapped" : "copies", t[m][pairs / 2],
               t[m][0]);
    }
    qsort(ratio, pairs, sizeof(double), cmp_double);
    printf("  copies / mapped, median of pairs: %.2fx\n", ratio[pairs / 2]);
    for (int m = 0; m < 2; m++) {
        clReleaseMemObject(in[m]);
        clReleaseMemObject(out[m]);
    }
    an_device_free(dev);
    free(x);
    free(y);
    free(t[0]);
    free(t[1]);
    free(ratio);
    return 0;
}
