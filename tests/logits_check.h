/* logits_check.h - the comparisons test_conformance.c and test_onnx_zoo.c
 * share: reading a reference .npy from a test data directory and holding
 * logits to the conformance bounds against a reference implementation
 * (torchvision, ONNX Runtime): every element within 1e-4 relative + 1e-5 of
 * the largest |reference|, and a relative L2 error under 1e-5. Check
 * assertions; static functions for one test file each. */
#ifndef AN_TESTS_LOGITS_CHECK_H
#define AN_TESTS_LOGITS_CHECK_H

#include <check.h>
#include <math.h>
#include <stdio.h>

#include "alexnet.h"
#include "npy.h"

/* dir/name as float32, its shape in dims[0, *ndim) (at most 4); the caller
 * frees it. */
static float *load_npy(const char *dir, const char *name, int *dims, int *ndim)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%.255s", dir, name);
    float *data = NULL;
    int status = npy_read_f32(path, &data, dims, ndim, 4);
    ck_assert_msg(status == AN_OK, "%s: %s", path, npy_last_error());
    return data;
}

/* out against ref (n values, from `who`); prints the errors, returns the
 * largest absolute difference. */
static double compare_logits(const char *what, const char *who, const float *out, const float *ref,
                             size_t n)
{
    double num = 0, den = 0, peak = 0, worst = 0;
    for (size_t i = 0; i < n; i++)
        peak = fmax(peak, fabs(ref[i]));
    for (size_t i = 0; i < n; i++) {
        double d = (double)out[i] - ref[i];
        ck_assert_msg(isfinite(out[i]), "%s: output %zu is %g", what, i, out[i]);
        ck_assert_msg(fabs(d) <= 1e-4 * fabs(ref[i]) + 1e-5 * peak,
                      "%s: logit %zu is %.8g, %s %.8g", what, i, out[i], who, ref[i]);
        num += d * d;
        den += (double)ref[i] * ref[i];
        worst = fmax(worst, fabs(d));
    }
    double rel = sqrt(num / den);
    fprintf(stderr, "# %s: relative L2 error %.3g, max abs error %.3g (max |ref| %.3g)\n", what,
            rel, worst, peak);
    ck_assert_msg(rel < 1e-5, "%s: relative L2 error %g", what, rel);
    return worst;
}

#endif
