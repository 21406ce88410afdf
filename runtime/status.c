/* status.c - status codes, their names, and the per-thread last-error text.
 * OpenCL codes pass through as they are; the runtime's own sit at -4000 and below. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static _Thread_local char last_error[4096];

const char *an_last_error(void)
{
    return last_error;
}

void an__clear_error(void)
{
    last_error[0] = '\0';
}

int an__fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

/* a table: clang-format would wrap it mid-entry */
// clang-format off
#define CL_ERROR_MAP(X)                                                                    \
    X(CL_DEVICE_NOT_FOUND) X(CL_DEVICE_NOT_AVAILABLE) X(CL_COMPILER_NOT_AVAILABLE)         \
    X(CL_MEM_OBJECT_ALLOCATION_FAILURE) X(CL_OUT_OF_RESOURCES) X(CL_OUT_OF_HOST_MEMORY)    \
    X(CL_PROFILING_INFO_NOT_AVAILABLE) X(CL_MEM_COPY_OVERLAP) X(CL_IMAGE_FORMAT_MISMATCH)  \
    X(CL_IMAGE_FORMAT_NOT_SUPPORTED) X(CL_BUILD_PROGRAM_FAILURE) X(CL_MAP_FAILURE)         \
    X(CL_MISALIGNED_SUB_BUFFER_OFFSET) X(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)     \
    X(CL_COMPILE_PROGRAM_FAILURE) X(CL_LINKER_NOT_AVAILABLE) X(CL_LINK_PROGRAM_FAILURE)    \
    X(CL_DEVICE_PARTITION_FAILED) X(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) X(CL_INVALID_VALUE)  \
    X(CL_INVALID_DEVICE_TYPE) X(CL_INVALID_PLATFORM) X(CL_INVALID_DEVICE)                  \
    X(CL_INVALID_CONTEXT) X(CL_INVALID_QUEUE_PROPERTIES) X(CL_INVALID_COMMAND_QUEUE)       \
    X(CL_INVALID_HOST_PTR) X(CL_INVALID_MEM_OBJECT) X(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR)  \
    X(CL_INVALID_IMAGE_SIZE) X(CL_INVALID_SAMPLER) X(CL_INVALID_BINARY)                    \
    X(CL_INVALID_BUILD_OPTIONS) X(CL_INVALID_PROGRAM) X(CL_INVALID_PROGRAM_EXECUTABLE)     \
    X(CL_INVALID_KERNEL_NAME) X(CL_INVALID_KERNEL_DEFINITION) X(CL_INVALID_KERNEL)         \
    X(CL_INVALID_ARG_INDEX) X(CL_INVALID_ARG_VALUE) X(CL_INVALID_ARG_SIZE)                 \
    X(CL_INVALID_KERNEL_ARGS) X(CL_INVALID_WORK_DIMENSION) X(CL_INVALID_WORK_GROUP_SIZE)   \
    X(CL_INVALID_WORK_ITEM_SIZE) X(CL_INVALID_GLOBAL_OFFSET) X(CL_INVALID_EVENT_WAIT_LIST) \
    X(CL_INVALID_EVENT) X(CL_INVALID_OPERATION) X(CL_INVALID_GL_OBJECT)                    \
    X(CL_INVALID_BUFFER_SIZE) X(CL_INVALID_MIP_LEVEL) X(CL_INVALID_GLOBAL_WORK_SIZE)       \
    X(CL_INVALID_PROPERTY) X(CL_INVALID_IMAGE_DESCRIPTOR) X(CL_INVALID_COMPILER_OPTIONS)   \
    X(CL_INVALID_LINKER_OPTIONS) X(CL_INVALID_DEVICE_PARTITION_COUNT)
// clang-format on

const char *an__cl_error_name(cl_int code)
{
    switch (code) {
#define CL_ERROR_CASE(name)                                                                        \
    case name:                                                                                     \
        return #name;
        CL_ERROR_MAP(CL_ERROR_CASE)
#undef CL_ERROR_CASE
    case -1001:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
        return NULL;
    }
}

const char *an_status_name(int status)
{
    switch (status) {
#define AN_STATUS_CASE(name, value, text)                                                          \
    case value:                                                                                    \
        return #name;
        AN_STATUS_MAP(AN_STATUS_CASE)
#undef AN_STATUS_CASE
    default:
        break;
    }
    const char *cl = an__cl_error_name(status);
    return cl ? cl : "UNKNOWN_STATUS";
}

const char *an_status_message(int status)
{
    switch (status) {
#define AN_STATUS_TEXT(name, value, text)                                                          \
    case value:                                                                                    \
        return text;
        AN_STATUS_MAP(AN_STATUS_TEXT)
#undef AN_STATUS_TEXT
    default:
        break;
    }
    return an__cl_error_name(status) ? "OpenCL error" : "unknown status";
}

int an__cl_fail(cl_int code, const char *call, const char *file, int line)
{
    /* Keep the call's text short: the function name and its arguments up to 80 chars. */
    char text[96];
    snprintf(text, sizeof text, "%s", call);
    if (strlen(call) >= sizeof text)
        memcpy(text + sizeof text - 4, "...", 4);
    const char *base = strrchr(file, '/');
    return an__fail(code, "%s failed: %s (%d) at %s:%d", text, an_status_name(code), code,
                    base ? base + 1 : file, line);
}
