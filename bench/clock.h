/* clock.h - the two helpers every bench program times with: a monotonic
 * clock in seconds and a qsort comparison for doubles (medians, minima).
 * Static inline functions, one copy per program. */
#ifndef AN_BENCH_CLOCK_H
#define AN_BENCH_CLOCK_H

#include <time.h>

/* CLOCK_MONOTONIC, seconds. */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Ascending order of doubles, for qsort. */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
