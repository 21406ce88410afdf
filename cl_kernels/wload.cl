// wload.cl - how the FC kernels read their weights: float32, or IEEE binary16
// with WHALF=1 (--weights-dtype f16) through the core OpenCL 1.2
// vload_half/vload_halfN, which widen to float (no cl_khr_fp16 needed); all
// arithmetic stays float. wtype is the weights' storage type, WLOAD(i, p)
// reads weight p[i], WLOADV(i, p) the VW weights at p + i*VW. Spliced into
// fc.cl and fc_kb.cl after vector.cl (which defines VW and VLOAD) by the
// runtime's `#include` (program.c). OpenCL C 1.2.

#ifndef WHALF
#define WHALF 0
#endif
#if WHALF
#define wtype half
#define WLOAD(i, p) vload_half(i, p)
#if VW == 16
#define WLOADV vload_half16
#elif VW == 8
#define WLOADV vload_half8
#else
#define WLOADV vload_half4
#endif
#else
#define wtype float
#define WLOAD(i, p) ((p)[i])
#define WLOADV VLOAD
#endif
