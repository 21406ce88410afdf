// vector.cl - the vector type the blocked kernels compute in: VW floats, one
// output channel per lane (VW = 4, 8 or 16: the tuning parameters conv_vec
// and fc_vec, which also fix how model.c arranges the weights). Spliced into
// conv.cl and fc.cl by the runtime's `#include` (program.c),
// not by the device compiler. OpenCL C 1.2.

#ifndef VW
#define VW 8
#endif
#if VW == 16
#define floatv float16
#define VLOAD vload16
#define VSTORE vstore16
#elif VW == 8
#define floatv float8
#define VLOAD vload8
#define VSTORE vstore8
#elif VW == 4
#define floatv float4
#define VLOAD vload4
#define VSTORE vstore4
#else
#error "VW (output channels per vector) must be 4, 8 or 16"
#endif
