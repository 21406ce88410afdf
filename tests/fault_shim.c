/* fault_shim.c - the OpenCL fault injector of fault_shim.h. Test-only: linked
 * into test executables, never into the library. The definitions here take
 * the place of the ICD loader's for the runtime (linked statically into the
 * test) and for CLBlast (whose calls the dynamic linker binds to the
 * executable's definitions first). */
#include "fault_shim.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

const char *const fault_kind_names[FAULT_KINDS] = {"mem",   "kernel", "program",
                                                   "event", "queue",  "context"};

static atomic_long calls, clblast_calls, target, live[FAULT_KINDS];
static const char *failed_name;
static cl_int failed_code;
static bool failed_clblast;
static char only[512];
enum { MAX_LOGGED = 1 << 16 };
static const char *logged[MAX_LOGGED]; /* name of call n (1-based), as counted */

void fault_reset(long n)
{
    atomic_store(&calls, 0);
    atomic_store(&clblast_calls, 0);
    atomic_store(&target, n);
    failed_name = NULL;
    failed_code = CL_SUCCESS;
    failed_clblast = false;
}

long fault_calls(void)
{
    return atomic_load(&calls);
}
long fault_clblast_calls(void)
{
    return atomic_load(&clblast_calls);
}

static bool from_clblast(const void *caller)
{
    Dl_info info;
    return dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "clblast");
}

const char *fault_call_name(long n)
{
    return n >= 1 && n <= MAX_LOGGED ? logged[n - 1] : NULL;
}
const char *fault_failed_name(void)
{
    return failed_name;
}
cl_int fault_failed_code(void)
{
    return failed_code;
}
bool fault_failed_in_clblast(void)
{
    return failed_clblast;
}

void fault_only(const char *names)
{
    if (names)
        snprintf(only, sizeof only, ",%s,", names);
    else
        only[0] = '\0';
}

void fault_live(long out[FAULT_KINDS])
{
    for (int i = 0; i < FAULT_KINDS; i++)
        out[i] = atomic_load(&live[i]);
}

static bool listed(const char *name)
{
    char key[80];
    snprintf(key, sizeof key, ",%s,", name);
    return !only[0] || strstr(only, key) != NULL;
}

/* Counts the call; true when this one must fail (then *err gets code). */
static bool inject(const char *name, cl_int code, const void *caller)
{
    if (!listed(name))
        return false;
    long n = atomic_fetch_add(&calls, 1) + 1;
    bool clblast = from_clblast(caller);
    if (clblast)
        atomic_fetch_add(&clblast_calls, 1);
    if (n <= MAX_LOGGED)
        logged[n - 1] = name;
    if (n != atomic_load(&target))
        return false;
    failed_name = name;
    failed_code = code;
    failed_clblast = clblast;
    return true;
}

#define REAL(name)                                                                                 \
    static __typeof__(name) *real_##name;                                                          \
    if (!real_##name)                                                                              \
    *(void **)(&real_##name) = dlsym(RTLD_NEXT, #name)

#define CALLER __builtin_return_address(0)

/* A function returning cl_int that may fail. */
#define FAIL_INT(name, code)                                                                       \
    do {                                                                                           \
        if (inject(#name, code, CALLER))                                                           \
            return code;                                                                           \
    } while (0)

/* A function returning an object and its error through errcode_ret. */
#define FAIL_OBJ(name, code, errcode_ret)                                                          \
    do {                                                                                           \
        if (inject(#name, code, CALLER)) {                                                         \
            if (errcode_ret)                                                                       \
                *(errcode_ret) = code;                                                             \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

#define COUNT_OBJ(kind, obj)                                                                       \
    do {                                                                                           \
        if (obj)                                                                                   \
            atomic_fetch_add(&live[kind], 1);                                                      \
    } while (0)

/* An enqueue that succeeded created *event when event was given. */
#define COUNT_EVENT(rc, event)                                                                     \
    do {                                                                                           \
        if ((rc) == CL_SUCCESS && (event) && *(event))                                             \
            atomic_fetch_add(&live[FAULT_EVENT], 1);                                               \
    } while (0)

#define RETAIN_RELEASE(kind, type, retain, release)                                                \
    cl_int retain(type o)                                                                          \
    {                                                                                              \
        REAL(retain);                                                                              \
        cl_int rc = real_##retain(o);                                                              \
        if (rc == CL_SUCCESS)                                                                      \
            atomic_fetch_add(&live[kind], 1);                                                      \
        return rc;                                                                                 \
    }                                                                                              \
    cl_int release(type o)                                                                         \
    {                                                                                              \
        REAL(release);                                                                             \
        cl_int rc = real_##release(o);                                                             \
        if (rc == CL_SUCCESS)                                                                      \
            atomic_fetch_sub(&live[kind], 1);                                                      \
        return rc;                                                                                 \
    }

RETAIN_RELEASE(FAULT_MEM, cl_mem, clRetainMemObject, clReleaseMemObject)
RETAIN_RELEASE(FAULT_KERNEL, cl_kernel, clRetainKernel, clReleaseKernel)
RETAIN_RELEASE(FAULT_PROGRAM, cl_program, clRetainProgram, clReleaseProgram)
RETAIN_RELEASE(FAULT_EVENT, cl_event, clRetainEvent, clReleaseEvent)
RETAIN_RELEASE(FAULT_QUEUE, cl_command_queue, clRetainCommandQueue, clReleaseCommandQueue)
RETAIN_RELEASE(FAULT_CONTEXT, cl_context, clRetainContext, clReleaseContext)

cl_int clGetPlatformIDs(cl_uint num_entries, cl_platform_id *platforms, cl_uint *num_platforms)
{
    REAL(clGetPlatformIDs);
    FAIL_INT(clGetPlatformIDs, CL_OUT_OF_HOST_MEMORY);
    return real_clGetPlatformIDs(num_entries, platforms, num_platforms);
}

cl_context clCreateContext(const cl_context_properties *props, cl_uint num_devices,
                           const cl_device_id *devices,
                           void(CL_CALLBACK *notify)(const char *, const void *, size_t, void *),
                           void *user_data, cl_int *errcode_ret)
{
    REAL(clCreateContext);
    FAIL_OBJ(clCreateContext, CL_OUT_OF_HOST_MEMORY, errcode_ret);
    cl_context c =
        real_clCreateContext(props, num_devices, devices, notify, user_data, errcode_ret);
    COUNT_OBJ(FAULT_CONTEXT, c);
    return c;
}

cl_command_queue clCreateCommandQueue(cl_context context, cl_device_id device,
                                      cl_command_queue_properties properties, cl_int *errcode_ret)
{
    REAL(clCreateCommandQueue);
    FAIL_OBJ(clCreateCommandQueue, CL_OUT_OF_RESOURCES, errcode_ret);
    cl_command_queue q = real_clCreateCommandQueue(context, device, properties, errcode_ret);
    COUNT_OBJ(FAULT_QUEUE, q);
    return q;
}

cl_mem clCreateBuffer(cl_context context, cl_mem_flags flags, size_t size, void *host_ptr,
                      cl_int *errcode_ret)
{
    REAL(clCreateBuffer);
    FAIL_OBJ(clCreateBuffer, CL_MEM_OBJECT_ALLOCATION_FAILURE, errcode_ret);
    cl_mem m = real_clCreateBuffer(context, flags, size, host_ptr, errcode_ret);
    COUNT_OBJ(FAULT_MEM, m);
    return m;
}

cl_mem clCreateSubBuffer(cl_mem buffer, cl_mem_flags flags, cl_buffer_create_type type,
                         const void *info, cl_int *errcode_ret)
{
    REAL(clCreateSubBuffer);
    FAIL_OBJ(clCreateSubBuffer, CL_OUT_OF_RESOURCES, errcode_ret);
    cl_mem m = real_clCreateSubBuffer(buffer, flags, type, info, errcode_ret);
    COUNT_OBJ(FAULT_MEM, m);
    return m;
}

cl_program clCreateProgramWithSource(cl_context context, cl_uint count, const char **strings,
                                     const size_t *lengths, cl_int *errcode_ret)
{
    REAL(clCreateProgramWithSource);
    FAIL_OBJ(clCreateProgramWithSource, CL_OUT_OF_HOST_MEMORY, errcode_ret);
    cl_program p = real_clCreateProgramWithSource(context, count, strings, lengths, errcode_ret);
    COUNT_OBJ(FAULT_PROGRAM, p);
    return p;
}

cl_program clCreateProgramWithBinary(cl_context context, cl_uint num_devices,
                                     const cl_device_id *devices, const size_t *lengths,
                                     const unsigned char **binaries, cl_int *binary_status,
                                     cl_int *errcode_ret)
{
    REAL(clCreateProgramWithBinary);
    FAIL_OBJ(clCreateProgramWithBinary, CL_INVALID_BINARY, errcode_ret);
    cl_program p = real_clCreateProgramWithBinary(context, num_devices, devices, lengths, binaries,
                                                  binary_status, errcode_ret);
    COUNT_OBJ(FAULT_PROGRAM, p);
    return p;
}

cl_int clBuildProgram(cl_program program, cl_uint num_devices, const cl_device_id *devices,
                      const char *options, void(CL_CALLBACK *notify)(cl_program, void *),
                      void *user_data)
{
    REAL(clBuildProgram);
    FAIL_INT(clBuildProgram, CL_BUILD_PROGRAM_FAILURE);
    return real_clBuildProgram(program, num_devices, devices, options, notify, user_data);
}

cl_int clGetProgramInfo(cl_program program, cl_program_info name, size_t size, void *value,
                        size_t *size_ret)
{
    REAL(clGetProgramInfo);
    FAIL_INT(clGetProgramInfo, CL_OUT_OF_HOST_MEMORY);
    return real_clGetProgramInfo(program, name, size, value, size_ret);
}

cl_kernel clCreateKernel(cl_program program, const char *name, cl_int *errcode_ret)
{
    REAL(clCreateKernel);
    FAIL_OBJ(clCreateKernel, CL_OUT_OF_RESOURCES, errcode_ret);
    cl_kernel k = real_clCreateKernel(program, name, errcode_ret);
    COUNT_OBJ(FAULT_KERNEL, k);
    return k;
}

cl_int clSetKernelArg(cl_kernel kernel, cl_uint index, size_t size, const void *value)
{
    REAL(clSetKernelArg);
    FAIL_INT(clSetKernelArg, CL_OUT_OF_RESOURCES);
    return real_clSetKernelArg(kernel, index, size, value);
}

cl_int clGetKernelWorkGroupInfo(cl_kernel kernel, cl_device_id device,
                                cl_kernel_work_group_info name, size_t size, void *value,
                                size_t *size_ret)
{
    REAL(clGetKernelWorkGroupInfo);
    FAIL_INT(clGetKernelWorkGroupInfo, CL_OUT_OF_RESOURCES);
    return real_clGetKernelWorkGroupInfo(kernel, device, name, size, value, size_ret);
}

cl_int clEnqueueNDRangeKernel(cl_command_queue queue, cl_kernel kernel, cl_uint dims,
                              const size_t *offset, const size_t *global, const size_t *local,
                              cl_uint num_events, const cl_event *wait_list, cl_event *event)
{
    REAL(clEnqueueNDRangeKernel);
    FAIL_INT(clEnqueueNDRangeKernel, CL_OUT_OF_RESOURCES);
    cl_int rc = real_clEnqueueNDRangeKernel(queue, kernel, dims, offset, global, local, num_events,
                                            wait_list, event);
    COUNT_EVENT(rc, event);
    return rc;
}

cl_int clEnqueueWriteBuffer(cl_command_queue queue, cl_mem buffer, cl_bool blocking, size_t offset,
                            size_t size, const void *ptr, cl_uint num_events,
                            const cl_event *wait_list, cl_event *event)
{
    REAL(clEnqueueWriteBuffer);
    FAIL_INT(clEnqueueWriteBuffer, CL_MEM_OBJECT_ALLOCATION_FAILURE);
    cl_int rc = real_clEnqueueWriteBuffer(queue, buffer, blocking, offset, size, ptr, num_events,
                                          wait_list, event);
    COUNT_EVENT(rc, event);
    return rc;
}

cl_int clEnqueueReadBuffer(cl_command_queue queue, cl_mem buffer, cl_bool blocking, size_t offset,
                           size_t size, void *ptr, cl_uint num_events, const cl_event *wait_list,
                           cl_event *event)
{
    REAL(clEnqueueReadBuffer);
    FAIL_INT(clEnqueueReadBuffer, CL_OUT_OF_RESOURCES);
    cl_int rc = real_clEnqueueReadBuffer(queue, buffer, blocking, offset, size, ptr, num_events,
                                         wait_list, event);
    COUNT_EVENT(rc, event);
    return rc;
}

cl_int clEnqueueCopyBuffer(cl_command_queue queue, cl_mem src, cl_mem dst, size_t src_offset,
                           size_t dst_offset, size_t size, cl_uint num_events,
                           const cl_event *wait_list, cl_event *event)
{
    REAL(clEnqueueCopyBuffer);
    FAIL_INT(clEnqueueCopyBuffer, CL_OUT_OF_RESOURCES);
    cl_int rc = real_clEnqueueCopyBuffer(queue, src, dst, src_offset, dst_offset, size, num_events,
                                         wait_list, event);
    COUNT_EVENT(rc, event);
    return rc;
}

cl_int clEnqueueFillBuffer(cl_command_queue queue, cl_mem buffer, const void *pattern,
                           size_t pattern_size, size_t offset, size_t size, cl_uint num_events,
                           const cl_event *wait_list, cl_event *event)
{
    REAL(clEnqueueFillBuffer);
    FAIL_INT(clEnqueueFillBuffer, CL_OUT_OF_RESOURCES);
    cl_int rc = real_clEnqueueFillBuffer(queue, buffer, pattern, pattern_size, offset, size,
                                         num_events, wait_list, event);
    COUNT_EVENT(rc, event);
    return rc;
}

cl_int clEnqueueMarkerWithWaitList(cl_command_queue queue, cl_uint num_events,
                                   const cl_event *wait_list, cl_event *event)
{
    REAL(clEnqueueMarkerWithWaitList);
    FAIL_INT(clEnqueueMarkerWithWaitList, CL_OUT_OF_HOST_MEMORY);
    cl_int rc = real_clEnqueueMarkerWithWaitList(queue, num_events, wait_list, event);
    COUNT_EVENT(rc, event);
    return rc;
}

cl_int clEnqueueBarrierWithWaitList(cl_command_queue queue, cl_uint num_events,
                                    const cl_event *wait_list, cl_event *event)
{
    REAL(clEnqueueBarrierWithWaitList);
    FAIL_INT(clEnqueueBarrierWithWaitList, CL_OUT_OF_HOST_MEMORY);
    cl_int rc = real_clEnqueueBarrierWithWaitList(queue, num_events, wait_list, event);
    COUNT_EVENT(rc, event);
    return rc;
}

cl_event clCreateUserEvent(cl_context context, cl_int *errcode_ret)
{
    REAL(clCreateUserEvent);
    FAIL_OBJ(clCreateUserEvent, CL_OUT_OF_HOST_MEMORY, errcode_ret);
    cl_event e = real_clCreateUserEvent(context, errcode_ret);
    COUNT_OBJ(FAULT_EVENT, e);
    return e;
}

cl_int clFinish(cl_command_queue queue)
{
    REAL(clFinish);
    FAIL_INT(clFinish, CL_OUT_OF_RESOURCES);
    return real_clFinish(queue);
}

cl_int clFlush(cl_command_queue queue)
{
    REAL(clFlush);
    FAIL_INT(clFlush, CL_OUT_OF_RESOURCES);
    return real_clFlush(queue);
}

cl_int clWaitForEvents(cl_uint num_events, const cl_event *events)
{
    REAL(clWaitForEvents);
    FAIL_INT(clWaitForEvents, CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST);
    return real_clWaitForEvents(num_events, events);
}

cl_int clGetEventProfilingInfo(cl_event event, cl_profiling_info name, size_t size, void *value,
                               size_t *size_ret)
{
    REAL(clGetEventProfilingInfo);
    FAIL_INT(clGetEventProfilingInfo, CL_PROFILING_INFO_NOT_AVAILABLE);
    return real_clGetEventProfilingInfo(event, name, size, value, size_ret);
}
