/* alexnet_opencl.h - OpenCL interoperation for alexnet-cl: running the network
 * on a context, device and command queue that the caller already has (a
 * renderer's, a video pipeline's, another library's), and reading back the
 * OpenCL objects of a device the library opened.
 *
 * This is the only public header that includes the OpenCL headers; a caller
 * that only runs the network needs alexnet.h alone. */
#ifndef ALEXNET_OPENCL_H
#define ALEXNET_OPENCL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "alexnet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Makes a device handle over the caller's OpenCL objects. device must belong
 * to context. queue may be NULL: the library then creates its own in-order
 * queue with profiling in that context. A queue the caller passes must be on
 * that context and device and in-order (CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE
 * is refused: the plans rely on in-order execution); without
 * CL_QUEUE_PROFILING_ENABLE the network runs, but an_plan_profile, an_tune and
 * an_device_ceilings fail with AN_ERR_INVALID_ARGUMENT and classify's
 * device_seconds stay 0.
 *
 * Ownership: the library retains context and queue (clRetain*) and releases
 * them in an_device_free; the caller keeps and releases its own references.
 * The library enqueues work on the queue and waits for it; commands the caller
 * enqueues on the same queue run in order with the network's. Errors:
 * AN_ERR_INVALID_ARGUMENT (NULL or mismatched objects, an out-of-order queue)
 * and AN_ERR_OPENCL naming the call that failed. *out is NULL on failure.
 * The device's info (an_device_get_info) has platform_index/device_index of -1
 * when the device is not one the ICD loader lists (e.g. a sub-device). */
AN_API int an_device_from_cl(cl_context context, cl_device_id device, cl_command_queue queue,
                             an_device **out);

/* The OpenCL objects behind dev, borrowed: valid until an_device_free(dev);
 * retain them to keep them longer. Any output pointer may be NULL. */
AN_API void an_device_get_cl(const an_device *dev, cl_context *context, cl_device_id *device,
                             cl_command_queue *queue);

#ifdef __cplusplus
}
#endif

#endif /* ALEXNET_OPENCL_H */
