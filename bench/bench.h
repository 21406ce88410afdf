/* bench.h - `alexnet bench`, called by the alexnet program's dispatcher. */
#ifndef AN_BENCH_H
#define AN_BENCH_H

/* argv[1] is "bench"; returns the exit status (0, 1 failed, 2 usage). */
int cmd_bench(int argc, char **argv);

#endif
