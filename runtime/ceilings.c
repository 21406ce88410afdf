/* ceilings.c - the device's own ceilings for the benchmark and for anyone who
 * wants to judge a kernel's speed: FMA-chain kernels in float8 and float16
 * (GFLOP/s) and a large float4 copy (GB/s), from cl_kernels/probe.cl. */
#include <stdlib.h>

#include "internal.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double event_ms(cl_event e)
{
    cl_ulong t0 = 0, t1 = 0;
    clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
    clGetEventProfilingInfo(e, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
    return t1 > t0 ? (double)(t1 - t0) * 1e-6 : 0;
}

/* ------------------------------------------------------------------------ */
/* Ceilings                                                                 */

/* Median ms of `runs` launches of k over global items. */
static int time_kernel(an_device *dev, cl_kernel k, size_t global, size_t local, int runs,
                       double *ms)
{
    int status = AN_OK;
    double t[16];
    for (int r = 0; r < runs + 1 && r < 16; r++) {
        cl_event e = NULL;
        AN_CL(clEnqueueNDRangeKernel(dev->queue, k, 1, NULL, &global, &local, 0, NULL, &e));
        AN_CL(clWaitForEvents(1, &e));
        if (r > 0) /* the first launch warms up */
            t[r - 1] = event_ms(e);
        clReleaseEvent(e);
    }
    *ms = median(t, runs < 15 ? runs : 15);
    return AN_OK;
fail:
    return status;
}

int an_device_ceilings(an_device *dev, double *gflops, double *gbps)
{
    an__clear_error();
    if (!dev || !gflops || !gbps)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_device_ceilings: NULL argument");
    if (!dev->profiling)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "an_device_ceilings: the device's queue was made without "
                        "CL_QUEUE_PROFILING_ENABLE, so kernels cannot be timed");
    int status = AN_OK;
    cl_program prog = NULL;
    cl_kernel fma[2] = {NULL, NULL}, copy = NULL;
    cl_mem out = NULL, a = NULL, b = NULL;
    /* probe.cl's FMA16_HALVES: float16 builtins on a CPU without 512-bit
     * vectors draw a warning from clang */
    bool halves = dev->info.type == AN_DEVICE_CPU && dev->info.float_vector < 16;
    AN_TRY(an__program_get(dev, "probe.cl",
                           halves ? "-cl-std=CL1.2 -DFMA16_HALVES=1" : "-cl-std=CL1.2", &prog));
    AN_CL_OBJ(fma[0], clCreateKernel(prog, "fma_chain", &an__err));
    AN_CL_OBJ(fma[1], clCreateKernel(prog, "fma_chain16", &an__err));
    AN_CL_OBJ(copy, clCreateKernel(prog, "copy4", &an__err));

    /* float8 and float16 chains, each at work-group sizes 1, 64 and 256
     * (within the kernel's and device's limits), the best of all: PoCL runs
     * FMA chains far slower at 64 than at 1 or 256, an AVX-512 CPU reaches
     * its peak only with float16, and a burst of load elsewhere during one
     * measurement should not set the ceiling. */
    size_t kwg_copy = 0;
    AN_CL(clGetKernelWorkGroupInfo(copy, dev->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kwg_copy,
                                   &kwg_copy, NULL));
    const size_t wanted[] = {1, 64, 256};
    size_t local = 64 <= dev->info.max_work_group ? 64 : dev->info.max_work_group;
    size_t items = (size_t)dev->info.compute_units * 2048; /* a multiple of 256 */
    int iters = 2048;
    float alpha = 0.5f;
    AN_CL_OBJ(out, clCreateBuffer(dev->context, CL_MEM_WRITE_ONLY, items * sizeof(float), NULL,
                                  &an__err));
    double ms = 0;
    *gflops = 0;
    for (int v = 0; v < 2; v++) {
        int lanes = v ? 16 : 8;
        size_t kwg_fma = 0;
        AN_CL(clGetKernelWorkGroupInfo(fma[v], dev->device, CL_KERNEL_WORK_GROUP_SIZE,
                                       sizeof kwg_fma, &kwg_fma, NULL));
        AN_CL(clSetKernelArg(fma[v], 0, sizeof out, &out));
        AN_CL(clSetKernelArg(fma[v], 1, sizeof iters, &iters));
        AN_CL(clSetKernelArg(fma[v], 2, sizeof alpha, &alpha));
        for (int w = 0; w < 3; w++) {
            size_t l = wanted[w];
            if (l > kwg_fma || l > dev->info.max_work_group || items % l)
                continue;
            AN_TRY(time_kernel(dev, fma[v], items, l, 5, &ms));
            double g = (double)items * iters * lanes * 8 * 2 / (ms * 1e-3) * 1e-9;
            if (g > *gflops)
                *gflops = g;
        }
    }

    size_t bytes = 64u << 20;
    if (bytes > dev->info.max_alloc / 2)
        bytes = (size_t)(dev->info.max_alloc / 2);
    int n4 = (int)(bytes / 16);
    AN_CL_OBJ(a, clCreateBuffer(dev->context, CL_MEM_READ_WRITE, bytes, NULL, &an__err));
    AN_CL_OBJ(b, clCreateBuffer(dev->context, CL_MEM_READ_WRITE, bytes, NULL, &an__err));
    float zero = 0.0f;
    AN_CL(clEnqueueFillBuffer(dev->queue, a, &zero, sizeof zero, 0, bytes, 0, NULL, NULL));
    AN_CL(clSetKernelArg(copy, 0, sizeof a, &a));
    AN_CL(clSetKernelArg(copy, 1, sizeof b, &b));
    AN_CL(clSetKernelArg(copy, 2, sizeof n4, &n4));
    *gbps = 0;
    for (int w = 1; w < 3; w++) { /* 64 and 256: one item per group would time the scheduler */
        size_t l =
            wanted[w] <= kwg_copy && wanted[w] <= dev->info.max_work_group ? wanted[w] : local;
        if (l > kwg_copy)
            l = kwg_copy;
        AN_TRY(time_kernel(dev, copy, ((size_t)n4 + l - 1) / l * l, l, 5, &ms));
        double g = 2.0 * (double)bytes / (ms * 1e-3) * 1e-9;
        if (g > *gbps)
            *gbps = g;
    }
fail:
    for (int v = 0; v < 2; v++)
        if (fma[v])
            clReleaseKernel(fma[v]);
    if (copy)
        clReleaseKernel(copy);
    if (prog)
        clReleaseProgram(prog);
    cl_mem bufs[] = {out, a, b};
    for (int i = 0; i < 3; i++)
        if (bufs[i])
            clReleaseMemObject(bufs[i]);
    return status;
}
