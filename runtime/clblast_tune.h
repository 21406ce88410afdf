/* clblast_tune.h - the C face of clblast_tune.cc (CLBlast's C++-only tuning
 * API), used by `alexnet tune`. Both return 0 or a CLBlast status code. */
#ifndef AN_CLBLAST_TUNE_H
#define AN_CLBLAST_TUNE_H

#include <stddef.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Runs CLBlast's own tuner for its SGEMM kernel ("Xgemm") at m x n x k on
 * queue's device, trying `fraction` (0..1] of the configurations, and writes
 * the fastest as "NAME=VALUE,..." into params. CLBlast's tuner prints its
 * progress to stdout. The result is not yet checked: the caller must. */
int an_clblast_tune_gemm(cl_command_queue queue, size_t m, size_t n, size_t k, double fraction,
                         char *params, size_t size);

/* The "Xgemm" parameters CLBlast uses now on device (its database's, or an
 * override), in the same format. */
int an_clblast_gemm_params(cl_device_id device, char *params, size_t size);

#ifdef __cplusplus
}
#endif

#endif
