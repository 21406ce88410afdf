/* device.c - enumerating OpenCL platforms and devices, choosing one from a
 * selector, and opening a context with an in-order profiling queue, or
 * wrapping the caller's own context and queue (alexnet_opencl.h). Kernel programs live in
 * program.c; this file only knows devices. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alexnet_opencl.h"
#include "internal.h"

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

typedef struct {
    cl_platform_id platform;
    cl_device_id device;
} device_ref;

/* Reads a string property whole, then keeps what fits in buf: a fixed-size
 * read fails outright when the driver's string is longer than the buffer. */
static void get_string(cl_device_id d, cl_device_info what, char *buf, size_t size)
{
    size_t len = 0;
    char *tmp = NULL;
    snprintf(buf, size, "?");
    if (clGetDeviceInfo(d, what, 0, NULL, &len) != CL_SUCCESS || len == 0 ||
        !(tmp = malloc(len + 1)))
        return;
    if (clGetDeviceInfo(d, what, len, tmp, NULL) == CL_SUCCESS) {
        tmp[len] = '\0';
        snprintf(buf, size, "%s", tmp);
    }
    free(tmp);
}

static void fill_info(cl_platform_id p, cl_device_id d, int pi, int di, an_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->platform_index = pi;
    info->device_index = di;
    if (clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform, info->platform, NULL))
        snprintf(info->platform, sizeof info->platform, "?");
    info->platform[sizeof info->platform - 1] = '\0';
    get_string(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    get_string(d, CL_DEVICE_VERSION, info->version, sizeof info->version);
    get_string(d, CL_DEVICE_OPENCL_C_VERSION, info->c_version, sizeof info->c_version);
    get_string(d, CL_DRIVER_VERSION, info->driver, sizeof info->driver);

    cl_device_type type = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    info->type = (type & CL_DEVICE_TYPE_GPU)           ? AN_DEVICE_GPU
                 : (type & CL_DEVICE_TYPE_CPU)         ? AN_DEVICE_CPU
                 : (type & CL_DEVICE_TYPE_ACCELERATOR) ? AN_DEVICE_ACCELERATOR
                                                       : AN_DEVICE_OTHER;
    cl_uint cu = 0;
    cl_ulong gmem = 0, alloc = 0, lmem = 0;
    size_t wg = 0;
    cl_uint fvec = 0;
    clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof fvec, &fvec, NULL);
    info->float_vector = (int)fvec;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof gmem, &gmem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof alloc, &alloc, NULL);
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof lmem, &lmem, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    info->compute_units = cu;
    info->global_mem = gmem;
    info->max_alloc = alloc;
    info->local_mem = lmem;
    info->max_work_group = wg;

    /* deprecated in OpenCL 2.0 but answered by 1.2 and later drivers; an
     * error leaves 0 (not known to share memory) */
    cl_bool unified = CL_FALSE;
    if (clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL) ==
        CL_SUCCESS)
        info->unified_memory = unified == CL_TRUE;
    info->device_class = an__device_classify(info);

    size_t len = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &len) == CL_SUCCESS && len > 0) {
        char *ext = malloc(len + 1);
        if (ext && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, len, ext, NULL) == CL_SUCCESS) {
            ext[len] = '\0';
            info->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
            info->fp64 = strstr(ext, "cl_khr_fp64") != NULL;
        }
        free(ext);
    }
}

/* A byte count from environment variable `name` (bytes, or with a K, M or
 * G suffix: KiB, MiB, GiB): $ALEXNET_MAX_ALLOC, a largest allocation, and
 * $ALEXNET_GLOBAL_MEM, a global memory size, to pretend below the device's
 * own, so that a small device's limits can be tried on any device. Unset or
 * "": none (*out 0). */
static int size_env(const char *name, uint64_t *out)
{
    *out = 0;
    const char *v = getenv(name);
    if (!v || !*v)
        return AN_OK;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    int shift = 0;
    if (end != v && *end) {
        const char *units = "KMG";
        const char *u = strchr(units, toupper((unsigned char)*end));
        if (u && *u) {
            shift = 10 * (int)(u - units + 1);
            end++;
        }
    }
    if (end == v || *end || !isdigit((unsigned char)v[0]) || errno == ERANGE || n == 0 ||
        n > (UINT64_MAX >> shift))
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "$%s is '%s'; want a positive number of bytes, "
                        "optionally with K, M or G (e.g. 128M)",
                        name, v);
    *out = (uint64_t)n << shift;
    return AN_OK;
}

an_device_class an__device_classify(const an_device_info *info)
{
    switch (info->type) {
    case AN_DEVICE_CPU:
        return AN_DEVICE_CLASS_CPU;
    case AN_DEVICE_GPU:
        /* Integrated graphics share the host's memory (Intel, AMD APUs, Arm
         * Mali, Qualcomm Adreno, NVIDIA Tegra report it); a GPU with fewer
         * than 16 compute units is small whatever its memory (low-end
         * discrete cards; Oclgrind shaped like a small device): both get the
         * small device's defaults. Intel counts execution units as compute
         * units (24-96), which is why unified memory comes first. */
        return info->unified_memory || info->compute_units < 16 ? AN_DEVICE_CLASS_INTEGRATED
                                                                : AN_DEVICE_CLASS_DISCRETE;
    default:
        return AN_DEVICE_CLASS_OTHER;
    }
}

const char *an_device_class_name(an_device_class c)
{
    switch (c) {
    case AN_DEVICE_CLASS_CPU:
        return "cpu";
    case AN_DEVICE_CLASS_INTEGRATED:
        return "integrated";
    case AN_DEVICE_CLASS_DISCRETE:
        return "discrete";
    default:
        return "other";
    }
}

/* $ALEXNET_DEVICE_CLASS: a class to use instead of the detected one (its
 * name as an_device_class_name gives it). Unset or "": none (*out stays). */
static int device_class_env(an_device_class *out)
{
    const char *v = getenv("ALEXNET_DEVICE_CLASS");
    if (!v || !*v)
        return AN_OK;
    static const an_device_class all[] = {AN_DEVICE_CLASS_CPU, AN_DEVICE_CLASS_INTEGRATED,
                                          AN_DEVICE_CLASS_DISCRETE, AN_DEVICE_CLASS_OTHER};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcasecmp(v, an_device_class_name(all[i])) == 0) {
            *out = all[i];
            return AN_OK;
        }
    return an__fail(AN_ERR_INVALID_ARGUMENT,
                    "$ALEXNET_DEVICE_CLASS is '%s'; want cpu, integrated, discrete or other", v);
}

/* What fill_info leaves out: $ALEXNET_MAX_ALLOC, $ALEXNET_GLOBAL_MEM and
 * $ALEXNET_DEVICE_CLASS applied to dev->info, and whether fma() is in
 * hardware. */
static int finish_device(an_device *dev)
{
    uint64_t limit = 0, gmem = 0;
    int status = size_env("ALEXNET_MAX_ALLOC", &limit);
    if (status == AN_OK)
        status = size_env("ALEXNET_GLOBAL_MEM", &gmem);
    if (status == AN_OK)
        status = device_class_env(&dev->info.device_class);
    if (status != AN_OK)
        return status;
    if (gmem && gmem < dev->info.global_mem)
        dev->info.global_mem = gmem;
    if (limit && limit < dev->info.max_alloc)
        dev->info.max_alloc = limit;
    if (dev->info.max_alloc > dev->info.global_mem)
        dev->info.max_alloc = dev->info.global_mem;
    cl_device_fp_config fp = 0;
    dev->fma = clGetDeviceInfo(dev->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL) ==
                   CL_SUCCESS &&
               (fp & CL_FP_FMA);
    return AN_OK;
}

/* Collects every device of every platform; refs may be NULL. */
static int enumerate(device_ref *refs, an_device_info *infos, int max, int *count)
{
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint np = 0;
    *count = 0;
    cl_int err = clGetPlatformIDs(MAX_PLATFORMS, platforms, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0))
        return an__fail(AN_ERR_NO_PLATFORM,
                        "no OpenCL platform found: install a driver (on Debian, "
                        "pocl-opencl-icd gives the CPU as a device) and check "
                        "/etc/OpenCL/vendors or $OCL_ICD_VENDORS");
    if (err != CL_SUCCESS)
        return an__cl_fail(err, "clGetPlatformIDs", __FILE__, __LINE__);
    if (np > MAX_PLATFORMS)
        np = MAX_PLATFORMS;
    for (cl_uint p = 0; p < np; p++) {
        cl_device_id devs[MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devs, &nd) != CL_SUCCESS)
            continue; /* a platform without devices is skipped, not fatal */
        if (nd > MAX_DEVICES)
            nd = MAX_DEVICES;
        for (cl_uint d = 0; d < nd && *count < max; d++) {
            if (refs)
                refs[*count] = (device_ref){platforms[p], devs[d]};
            fill_info(platforms[p], devs[d], (int)p, (int)d, &infos[*count]);
            (*count)++;
        }
    }
    if (*count == 0)
        return an__fail(AN_ERR_NO_DEVICE, "OpenCL platforms were found but none has a device");
    return AN_OK;
}

int an_device_list(an_device_info **out, int *count)
{
    an__clear_error();
    if (!out || !count)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_device_list: NULL argument");
    *out = NULL;
    *count = 0;
    an_device_info *infos = calloc(MAX_DEVICES, sizeof *infos);
    if (!infos)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "an_device_list: out of memory");
    int status = enumerate(NULL, infos, MAX_DEVICES, count);
    if (status != AN_OK) {
        free(infos);
        return status;
    }
    *out = infos;
    return AN_OK;
}

const char *an_device_type_name(an_device_type t)
{
    switch (t) {
    case AN_DEVICE_GPU:
        return "gpu";
    case AN_DEVICE_CPU:
        return "cpu";
    case AN_DEVICE_ACCELERATOR:
        return "accelerator";
    default:
        return "other";
    }
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return n == 0;
}

/* Index into infos of the device selector names, or -1. */
static int match_selector(const char *sel, const an_device_info *infos, int count)
{
    int p, d, used = 0;
    if (sscanf(sel, "%d:%d%n", &p, &d, &used) == 2 && sel[used] == '\0') {
        for (int i = 0; i < count; i++)
            if (infos[i].platform_index == p && infos[i].device_index == d)
                return i;
        return -1;
    }
    static const struct {
        const char *word;
        an_device_type type;
    } types[] = {
        {"gpu", AN_DEVICE_GPU}, {"cpu", AN_DEVICE_CPU}, {"accelerator", AN_DEVICE_ACCELERATOR}};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        if (strcasecmp(sel, types[t].word) != 0)
            continue;
        for (int i = 0; i < count; i++)
            if (infos[i].type == types[t].type)
                return i;
        return -1;
    }
    for (int i = 0; i < count; i++)
        if (contains_nocase(infos[i].name, sel))
            return i;
    return -1;
}

int an__device_select(const char *sel, const an_device_info *infos, int count)
{
    if (sel && *sel)
        return match_selector(sel, infos, count);
    for (int i = 0; i < count; i++)
        if (infos[i].type == AN_DEVICE_GPU)
            return i;
    return count > 0 ? 0 : -1;
}

static int fail_no_match(const char *sel, const char *from, const an_device_info *infos, int count)
{
    char list[3000] = "";
    size_t used = 0;
    for (int i = 0; i < count && used < sizeof list - 1; i++) {
        int n = snprintf(list + used, sizeof list - used, "\n  %d:%d  %s  (%s, %s)",
                         infos[i].platform_index, infos[i].device_index, infos[i].name,
                         an_device_type_name(infos[i].type), infos[i].platform);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return an__fail(AN_ERR_DEVICE_NOT_FOUND,
                    "no OpenCL device matches '%s'%s; use P:D, gpu, cpu, accelerator or part of "
                    "a name. Devices:%s",
                    sel, from, list);
}

int an_device_open(const char *selector, an_device **out)
{
    an__clear_error();
    int status = AN_OK;
    an_device *dev = NULL;
    device_ref *refs = NULL;
    an_device_info *infos = NULL;
    if (!out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_device_open: NULL output");
    *out = NULL;

    const char *from = "";
    if (!selector || !*selector) {
        selector = getenv("ALEXNET_DEVICE");
        from = " (from $ALEXNET_DEVICE)";
    }
    refs = calloc(MAX_DEVICES, sizeof *refs);
    infos = calloc(MAX_DEVICES, sizeof *infos);
    dev = calloc(1, sizeof *dev);
    if (!refs || !infos || !dev) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "an_device_open: out of memory");
        goto fail;
    }
    int count = 0;
    AN_TRY(enumerate(refs, infos, MAX_DEVICES, &count));
    int i = an__device_select(selector, infos, count);
    if (i < 0) {
        status = fail_no_match(selector, from, infos, count);
        goto fail;
    }
    dev->platform = refs[i].platform;
    dev->device = refs[i].device;
    dev->info = infos[i];
    AN_TRY(finish_device(dev));

    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform, 0};
    AN_CL_OBJ(dev->context, clCreateContext(props, 1, &dev->device, NULL, NULL, &an__err));
    AN_CL_OBJ(dev->queue,
              clCreateCommandQueue(dev->context, dev->device, CL_QUEUE_PROFILING_ENABLE, &an__err));
    dev->profiling = true;
    free(refs);
    free(infos);
    *out = dev;
    return AN_OK;

fail:
    an_device_free(dev);
    free(refs);
    free(infos);
    return status;
}

void an_device_free(an_device *dev)
{
    if (!dev)
        return;
    if (dev->queue)
        clReleaseCommandQueue(dev->queue);
    if (dev->context)
        clReleaseContext(dev->context);
    free(dev);
}

void an_device_get_info(const an_device *dev, an_device_info *info)
{
    if (dev && info)
        *info = dev->info;
}

/* The "P:D" indices of d among the devices the ICD loader lists, or -1:-1. */
static void find_indices(cl_device_id d, an_device_info *info)
{
    info->platform_index = info->device_index = -1;
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint np = 0;
    if (clGetPlatformIDs(MAX_PLATFORMS, platforms, &np) != CL_SUCCESS)
        return;
    for (cl_uint p = 0; p < np && p < MAX_PLATFORMS; p++) {
        cl_device_id devs[MAX_DEVICES];
        cl_uint nd = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devs, &nd) != CL_SUCCESS)
            continue;
        for (cl_uint i = 0; i < nd && i < MAX_DEVICES; i++)
            if (devs[i] == d) {
                info->platform_index = (int)p;
                info->device_index = (int)i;
                return;
            }
    }
}

/* Checks that the caller's queue is on context and device and runs in order;
 * notes whether it gives event times. */
static int check_queue(cl_context context, cl_device_id device, cl_command_queue queue,
                       bool *profiling)
{
    int status = AN_OK;
    cl_context qc = NULL;
    cl_device_id qd = NULL;
    cl_command_queue_properties props = 0;
    AN_CL(clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof qc, &qc, NULL));
    AN_CL(clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof qd, &qd, NULL));
    AN_CL(clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL));
    if (qc != context || qd != device)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "an_device_from_cl: the queue belongs to another %s than the one passed",
                        qc != context ? "context" : "device");
    if (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "an_device_from_cl: the queue executes out of order; the network's "
                        "layers need an in-order queue (pass NULL to get one)");
    *profiling = (props & CL_QUEUE_PROFILING_ENABLE) != 0;
fail:
    return status;
}

int an_device_from_cl(cl_context context, cl_device_id device, cl_command_queue queue,
                      an_device **out)
{
    an__clear_error();
    int status = AN_OK;
    an_device *dev = NULL;
    if (!out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_device_from_cl: NULL output");
    *out = NULL;
    if (!context || !device)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_device_from_cl: NULL %s",
                        !context ? "context" : "device");

    /* The device must be one of the context's. */
    cl_uint n = 0;
    cl_device_id in_context[MAX_DEVICES];
    AN_CL(clGetContextInfo(context, CL_CONTEXT_NUM_DEVICES, sizeof n, &n, NULL));
    if (n > MAX_DEVICES)
        n = MAX_DEVICES;
    AN_CL(clGetContextInfo(context, CL_CONTEXT_DEVICES, n * sizeof *in_context, in_context, NULL));
    bool found = false;
    for (cl_uint i = 0; i < n; i++)
        found = found || in_context[i] == device;
    if (!found)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "an_device_from_cl: the device is not one of the context's %u device%s", n,
                        n == 1 ? "" : "s");
    bool profiling = true;
    if (queue)
        AN_TRY(check_queue(context, device, queue, &profiling));

    if (!(dev = calloc(1, sizeof *dev)))
        return an__fail(AN_ERR_OUT_OF_MEMORY, "an_device_from_cl: out of memory");
    AN_CL(clGetDeviceInfo(device, CL_DEVICE_PLATFORM, sizeof dev->platform, &dev->platform, NULL));
    dev->device = device;
    fill_info(dev->platform, device, -1, -1, &dev->info);
    find_indices(device, &dev->info);
    AN_TRY(finish_device(dev));
    AN_CL(clRetainContext(context));
    dev->context = context;
    if (queue) {
        AN_CL(clRetainCommandQueue(queue));
        dev->queue = queue;
    } else {
        AN_CL_OBJ(dev->queue,
                  clCreateCommandQueue(context, device, CL_QUEUE_PROFILING_ENABLE, &an__err));
    }
    dev->profiling = profiling;
    *out = dev;
    return AN_OK;

fail:
    an_device_free(dev);
    return status;
}

void an_device_get_cl(const an_device *dev, cl_context *context, cl_device_id *device,
                      cl_command_queue *queue)
{
    if (context)
        *context = dev ? dev->context : NULL;
    if (device)
        *device = dev ? dev->device : NULL;
    if (queue)
        *queue = dev ? dev->queue : NULL;
}
