/* fault_shim.h - a test-only OpenCL fault injector (tests/fault_shim.c).
 *
 * fault_shim.c defines the OpenCL API functions the runtime and CLBlast call,
 * so that a test executable linking it (and the runtime's static archive)
 * calls them instead of the ICD loader's; each forwards to the real function
 * through dlsym(RTLD_NEXT, ...). Two jobs:
 *   - counting and failing: every call to a "faultable" function (creation,
 *     build, kernel arguments, enqueues, waits) gets a number from 1; when
 *     armed with n, call n returns a realistic error code without calling the
 *     real function, and the shim records which function it was;
 *   - object accounting: live counts of the OpenCL objects created minus those
 *     released, so that a test can check that an error path released
 *     everything (LeakSanitizer cannot see these: the driver allocates them). */
#ifndef FAULT_SHIM_H
#define FAULT_SHIM_H

#include <CL/cl.h>
#include <stdbool.h>

/* Calls counted since fault_reset(); the next call that fails is number n
 * (0: none). Counting continues after the failure; only one call fails. */
void fault_reset(long n);
long fault_calls(void);
long fault_clblast_calls(void); /* of those, calls made by CLBlast */

/* Name of call n (1-based) of the last run, or NULL. */
const char *fault_call_name(long n);

/* After a failure: the function that was failed, its code, and whether the
 * call came from CLBlast rather than from the runtime. NULL name if none. */
const char *fault_failed_name(void);
cl_int fault_failed_code(void);
bool fault_failed_in_clblast(void);

/* Only count (and fail) functions whose names are in this comma-separated
 * list; NULL: all faultable functions. */
void fault_only(const char *names);

enum {
    FAULT_MEM,
    FAULT_KERNEL,
    FAULT_PROGRAM,
    FAULT_EVENT,
    FAULT_QUEUE,
    FAULT_CONTEXT,
    FAULT_KINDS
};
/* Live objects of each kind (created or retained, minus released). */
void fault_live(long live[FAULT_KINDS]);
extern const char *const fault_kind_names[FAULT_KINDS];

#endif
