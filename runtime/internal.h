/* internal.h - what the runtime's files share and the public header hides:
 * the error machinery, the device and variant structures, the program cache,
 * weights on the host, and the embedded kernel sources. */
#ifndef AN_INTERNAL_H
#define AN_INTERNAL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>

#include "alexnet.h"

/* ------------------------------------------------------------------------ */
/* Images                                                                   */

/* Decodes the JPEG in data[0, size) to RGB8 as PIL does (runtime/jpeg.c); name
 * is what error texts call it. *out is zeroed first and filled on AN_OK. */
int an__decode_jpeg(const void *data, size_t size, const char *name, an_image *out);

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

/* Empties the last-error text: every fallible public function calls it on
 * entry, so that after a call that succeeded an_last_error() is "". */
void an__clear_error(void);

/* Records the detailed text for an_last_error() and returns status. */
int an__fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Name of an OpenCL error code ("CL_INVALID_VALUE"), or NULL if unknown. */
const char *an__cl_error_name(cl_int code);

/* Runs an OpenCL call that returns cl_int; on failure records
 * "clFoo(...) failed: CL_X (-n) at file:line", sets `status` and jumps to the
 * function's `fail` label. The caller declares `int status`. */
#define AN_CL(call)                                                                                \
    do {                                                                                           \
        cl_int an__e = (call);                                                                     \
        if (an__e != CL_SUCCESS) {                                                                 \
            status = an__cl_fail(an__e, #call, __FILE__, __LINE__);                                \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* For OpenCL calls that return an object and set an error through a pointer:
 *   AN_CL_OBJ(buf, clCreateBuffer(ctx, flags, size, NULL, &an__err));        */
#define AN_CL_OBJ(lhs, call)                                                                       \
    do {                                                                                           \
        cl_int an__err = CL_SUCCESS;                                                               \
        (lhs) = (call);                                                                            \
        if (an__err != CL_SUCCESS || !(lhs)) {                                                     \
            status = an__cl_fail(an__err != CL_SUCCESS ? an__err : CL_OUT_OF_RESOURCES, #call,     \
                                 __FILE__, __LINE__);                                              \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

/* Jumps to fail when an internal call returned a non-zero status. */
#define AN_TRY(call)                                                                               \
    do {                                                                                           \
        status = (call);                                                                           \
        if (status != AN_OK)                                                                       \
            goto fail;                                                                             \
    } while (0)

int an__cl_fail(cl_int code, const char *call, const char *file, int line);

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */

struct an_device {
    cl_platform_id platform;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue; /* in-order; profiling enabled unless the caller's queue lacks it */
    bool profiling;         /* the queue gives event times (an_device_from_cl may say no) */
    bool fma;               /* CL_DEVICE_SINGLE_FP_CONFIG has CL_FP_FMA: fma() is in hardware;
                               else kernels are built with -Dfma=mad (program.c) */
    an_device_info info;
};

/* Index into infos of the device that selector picks (NULL or "": the first
 * GPU, else the first device), or -1 when nothing matches. */
int an__device_select(const char *selector, const an_device_info *infos, int count);
/* The class of a device from its type, unified_memory and compute_units
 * (the rule is in alexnet.h's an_device_class); no environment. */
an_device_class an__device_classify(const an_device_info *info);

/* ------------------------------------------------------------------------ */
/* Embedded kernels and the program cache                                   */

/* Files embedded at build time by tools/embed.py (NULL-name terminated). */
struct an__embedded {
    const char *name;
    const char *text;
    size_t len;
};
extern const struct an__embedded an__embedded_kernels[]; /* the .cl files */
extern const struct an__embedded an__embedded_labels[];  /* data/imagenet_classes.txt */

/* Source text of cl_kernels/<name> (e.g. "conv.cl"): from $ALEXNET_KERNEL_DIR
 * when it is set, else the copy embedded at build time. *owned is set when the
 * caller must free() the returned text. NULL with an error when not found. */
const char *an__kernel_source(const char *name, size_t *len, bool *owned);
/* The same from directory dir (NULL: as above; "": the embedded copy). */
const char *an__kernel_source_in(const char *dir, const char *name, size_t *len, bool *owned);

/* Builds cl_kernels/<file> for dev with options, through the on-disk program
 * cache ($XDG_CACHE_HOME/alexnet, else ~/.cache/alexnet; ALEXNET_NO_CACHE=1
 * turns it off). A failed build's error text holds the compiler log. */
int an__program_get(an_device *dev, const char *file, const char *options, cl_program *out);
/* The same with the cache in cache_dir (NULL: as above; "": off) and the
 * sources from kernel_dir (NULL: as above; "": embedded). */
int an__program_get_in(an_device *dev, const char *cache_dir, const char *kernel_dir,
                       const char *file, const char *options, cl_program *out);

/* How the last an__program_get on this thread was served (for tests). */
typedef enum { AN_CACHE_OFF, AN_CACHE_MISS, AN_CACHE_HIT, AN_CACHE_CORRUPT } an__cache_result;
an__cache_result an__program_last_cache_result(void);

/* Directory of the program cache (a static buffer), or NULL when off. */
const char *an__cache_dir(void);

/* 64-bit FNV-1a, chained through h (start with AN_FNV_SEED). */
#define AN_FNV_SEED 0xcbf29ce484222325ull
uint64_t an__fnv1a(uint64_t h, const void *data, size_t len);

/* ------------------------------------------------------------------------ */
/* Variants                                                                 */

typedef struct {
    an_layer_kind kind;
    int out_channels, kernel, stride, pad; /* conv, pool; out features for linear */
    const char *weight_name, *bias_name;   /* safetensors keys; NULL if no params */
    int groups;                            /* conv groups; 0 means 1 */
    float lrn_alpha, lrn_beta, lrn_k;      /* LRN (kernel = size): Caffe's formula */
    int ceil_mode; /* max pool: Caffe's rounding up, ceil((in + 2 pad - k) / s) + 1 */
} an__layer;

typedef struct {
    const char *name;
    int in_channels, in_height, in_width; /* native input */
    an_preprocess preprocess;             /* what its weights were trained with */
    int n_layers;
    an__layer layers[AN_MAX_LAYERS];
} an__variant;

/* "torchvision-224, caffe-227 or caffe-bvlc-227", from the table. */
const char *an__variant_list(void);

/* The built-in variant called name, or NULL with AN_ERR_UNKNOWN_VARIANT set. */
const an__variant *an__variant_find(const char *name);

/* Shape of each parametric layer's tensors: weight (O, I/groups, K, K) for
 * conv, (O, I) for linear (dims[2] = dims[3] = 1), bias (O). */
typedef struct {
    int layer;   /* index into variant->layers */
    int dims[4]; /* weight shape */
    int ndim;    /* 4 for conv, 2 for linear */
} an__param_shape;

/* A conv's or max pool's output size along one dimension of `in` pixels:
 * floor((in + 2 pad - k) / s) + 1, or with ceil_mode Caffe's rounding up
 * (a last window that would start in the padding dropped); 0 when empty. */
int an__window_out(const an__layer *l, int in);

/* Fills the parameter shapes of a variant in layer order; returns the count. */
int an__variant_param_shapes(const an__variant *v, an__param_shape *shapes, int max);

/* ------------------------------------------------------------------------ */
/* Weights on the host                                                      */

typedef struct {
    int count; /* number of parametric layers */
    an__param_shape shape[AN_MAX_LAYERS];
    float *weight[AN_MAX_LAYERS];  /* (O, I, K, K) or (O, I), owned; NULL where half[i] is set */
    uint16_t *half[AN_MAX_LAYERS]; /* linear (O, I) as binary16 bits (AN_LOAD_WEIGHTS_F16),
                                      owned; else NULL */
    float *bias[AN_MAX_LAYERS];    /* (O), owned */
    an_preprocess preprocess;      /* the variant's, with the file's "preprocess" metadata */
    bool has_preprocess;           /* the file's metadata stated one */
} an__weights;

/* IEEE binary32 -> binary16 bits, rounded to nearest even; |x| >= 65520
 * gives infinity, NaN stays NaN (quiet, sign and top payload bits kept). */
uint16_t an__half_from_float(float f);

/* binary16 bits -> float, exact for every input. */
float an__half_to_float(uint16_t h);

/* Turns every linear weight of w that is still float32 into binary16
 * (w->half[i], freeing w->weight[i]). A finite value beyond half's range is
 * refused: AN_ERR_BAD_WEIGHTS naming `source` (a path, or "seeded weights"),
 * the tensor, the count and the first flat index; w is then unchanged for
 * that tensor and the caller frees it. */
int an__weights_to_half(const an__variant *v, const char *source, an__weights *w);

/* Reads and validates a safetensors file for variant v. A NaN or infinite
 * value is refused (AN_ERR_BAD_WEIGHTS naming the tensor and the first bad
 * flat index) unless flags holds AN_LOAD_ALLOW_NONFINITE. With
 * AN_LOAD_WEIGHTS_F16, linear weights stored as F16 are kept as binary16 bits
 * in w->half (never widened); F32 ones stay in w->weight for
 * an__weights_to_half. */
int an__weights_load(const an__variant *v, const char *path, an__weights *w);
int an__weights_load_flags(const an__variant *v, const char *path, unsigned flags, an__weights *w);

/* Flat index of the first NaN or infinity among n little-endian elements of
 * elem_size bytes (4: binary32, 2: binary16) at data, and the count of them
 * in *count (may be NULL); -1 when all are finite. Reads the bits only. */
int64_t an__first_nonfinite(const unsigned char *data, size_t n, int elem_size, size_t *count);

/* The top k (1..1000) of probs (1000 values), most probable first, ties to
 * the lower index. Defined for every float: NaN ranks below -inf, so out
 * always holds k distinct valid indices. */
void an__top_k(const float *probs, int k, an_score *out);

/* Deterministic He-uniform weights from seed. */
int an__weights_seed(const an__variant *v, uint64_t seed, an__weights *w);

void an__weights_free(an__weights *w);

/* ------------------------------------------------------------------------ */
/* Models and plans                                                         */

enum { AN_MAX_PROGRAMS = 96 }; /* `alexnet tune` holds many candidates' programs */

/* Kernel shape parameters, chosen per device (defaults in model.c), then
 * per layer shape and batch from the tuning file ($cache/tuning.txt, written
 * by `alexnet tune`), or forced for everything by $ALEXNET_TUNING
 * ("conv_tx=2,fc_blocked=0,..."; the file is then ignored). */
typedef struct {
    int conv_tx;    /* output pixels per work-item in conv.cl (1..16) */
    int conv_ocb;   /* blocks of conv_vec output channels per work-item in conv.cl (1..4) */
    int conv_local; /* work-group size along a row (dimension 0) */
    int conv1_tx;   /* the same two for conv1 (11x11, stride 4) */
    int conv1_ocb;
    int conv_vec;          /* output channels per vector in both conv kernels: 4, 8 or 16 (a
                              model-wide choice: it fixes the weight layout) */
    int fc_blocked;        /* 1: fc_gemm/gemv_blocked on (O/VW, I, VW) weights; 0: CLBlast SGEMM
                              and gemv_rows on (O, I) (a model-wide choice: it fixes the layout) */
    int fc_vec;            /* outputs per block of the blocked layout: 8 or 16 (model-wide) */
    int fc_tm, fc_tnb;     /* fc_gemm and fc_kb tile: batch rows (1..16) x blocks of fc_vec
                              outputs (1..4) */
    int fc_local;          /* fc_gemm work-group size along dimension 0 */
    int gemv_lws;          /* work-group size of gemv_rows, a power of two */
    int gemv_interleaved;  /* 1: GPU-style interleaved reads; 0: contiguous chunks */
    int pointwise_local;   /* work-group size of the 1-D kernels */
    int pool_px;           /* max pooling outputs per work-item along a row (1..32) */
    int conv_algo;         /* 0 direct (conv.cl); 1 Winograd F(2x2,3x3) or F(2x2,5x5)
                              (winograd.cl) for 3x3 and 5x5 stride-1 layers
                              (an__conv_winograd_ok), others direct; 2 implicit GEMM
                              (igemm.cl) for every conv layer */
    int wino_m;            /* Winograd's output tile: 2, the small tiles F(2x2,3x3) and
                              F(2x2,5x5); 4, the large ones F(4x4,3x3) and F(3x3,5x5);
                              0, large where a batch has AN_WINO_LARGE_TILES of them or
                              more (an__winograd_tile), small elsewhere */
    int wino_tt, wino_ocb; /* Winograd GEMM block: tiles (1..8) x blocks of conv_vec output
                              channels (1..4) per work-item */
    int wino_fused;        /* 1: Winograd's GEMM and output transform as one kernel
                              (wino_gemm_out), no M buffer; 0: separate (wino_gemm,
                              wino_output); 2: fused for the layers of at most 128
                              input channels per group, and at batch 1 */
    int ig_mb, ig_nb;      /* implicit GEMM (conv_algo 2, igemm.cl): register block of blocks of
                              conv_vec output channels (1..4) x pixels (1..8) per work-item */
    int ig_ks;             /* its K-step: (input channel, tap) values per local-memory panel */
    int ig_lx, ig_ly;      /* its work-group: work-items along pixels x along output channels */
    int fc_kb;             /* FC at batch > 1 on blocked weights: 0 fc_gemm; else fc_kb.cl's
                              K-blocked GEMM with this many inputs per K block (16..4096) */
    int fc_rt;             /* fc_kb's panel: row tiles of fc_tm rows per work-item (1..64) */
    int fc_pf;             /* 1: fc_kb prefetches the next K block's weights (clang's
                              __builtin_prefetch: CPUs through PoCL) */
    int fc_panel;          /* FC at batch 1 to fc_panel_batch on blocked weights: 0
                              gemv_blocked (batch 1) or the FC GEMMs; else gemv_panel on a
                              copy of the weights (the model's, shared by its plans:
                              an__fc_panel) in panels of this many outputs (a multiple of
                              fc_vec, 16..4096), narrower where a layer would have fewer
                              panels than compute units; it skips the inputs that are zero
                              in every row of the batch */
    int fc_panel_batch;    /* the largest batch that runs gemv_panel (1..8) */
    int io_mapped;         /* 1: the plan's input and output buffers are CL_MEM_ALLOC_HOST_PTR and
                              data moves by map + memcpy + unmap; 0: clEnqueueWrite/ReadBuffer */
    int conv_s2d;          /* 1: a conv layer of stride S > 1 runs through space-to-depth
                              (s2d.cl, then conv.cl as a stride-1 ceil(K/S) x ceil(K/S)
                              convolution over C*S*S channels, whatever conv_algo says);
                              0: as conv_algo says. conv1 keeps conv1_tx/conv1_ocb */
} an__tuning;

/* Parses "name=value,name=value" (commas or blanks) onto *t; unknown names
 * and out-of-range values fail with AN_ERR_INVALID_ARGUMENT. */
int an__tuning_parse(const char *text, an__tuning *t);
/* Writes every parameter of t as "name=value,..." */
void an__tuning_format(const an__tuning *t, char *buf, size_t size);
an__tuning an__tuning_defaults(const an_device_info *info);
/* "platform|device|driver|compute units": the device part of a tuning key. */
void an__tuning_device_key(const an_device_info *info, char *buf, size_t size);
/* Tuning keys of one layer shape and batch, as plan.c looks them up. */
void an__tuning_conv_key(char *buf, size_t size, int c, int h, int w, int oc, int k, int s, int p,
                         int groups, int batch);
void an__tuning_fc_key(char *buf, size_t size, int in, int out, int batch);
/* Sets CLBlast's single-precision parameters of `kernel` ("Xgemm", ...) for
 * device from "NAME=VALUE,..." (CLBlastOverrideParameters: process-wide, for
 * every later call on that device). */
int an__clblast_override(cl_device_id device, const char *kernel, const char *text);

/* The tuning file (tuning.c owns its format; see there). One entry: a key
 * ("device", "clblast Xgemm" or a layer key) and its "name=value,..." text. */
enum { AN__TUNING_FORMAT = 2 };
typedef struct {
    char *key, *params; /* owned */
    double ms;          /* the tuner's time for it; 0 when read from a file */
} an__tuning_entry;
typedef struct {
    an__tuning_entry *e; /* grows as needed: no limit on the count */
    size_t n, cap;
} an__tuning_table;

/* Sets key to params (copied; replaces an entry with the same key). */
int an__tuning_table_set(an__tuning_table *t, const char *key, const char *params, double ms);
an__tuning_entry *an__tuning_table_find(const an__tuning_table *t, const char *key);
/* Frees the entries and zeroes *t. Accepts NULL. */
void an__tuning_table_free(an__tuning_table *t);
/* Adds to *out the entries of a tuning file's text that are for the device
 * info describes, in this format and runtime version; every other line is
 * ignored. */
int an__tuning_table_parse(const char *text, const an_device_info *info, an__tuning_table *out);
/* The same from a file; a missing file adds nothing and is no error. */
int an__tuning_table_read(const char *path, const an_device_info *info, an__tuning_table *out);
/* Rewrites the file at path (through a unique temporary file and rename):
 * lines of other devices and other runtime versions stay, this device's
 * entries with a key in t are replaced by t's (an entry with params "" just
 * removes its key), comments and lines of other formats are dropped. */
int an__tuning_table_merge(const char *path, const an_device_info *info, const an__tuning_table *t);
/* Hash of the embedded kernel sources: entries tuned for other kernels are
 * stale. */
uint64_t an__tuning_runtime_version(void);
/* "FORMAT|RUNTIME|platform|device|driver|compute units": how this runtime's
 * entries for a device start. */
void an__tuning_line_prefix(const an_device_info *info, char *buf, size_t size);
/* Path of the tuning file in the program cache's directory (static buffer,
 * per thread), or NULL when the cache is off. */
const char *an__tuning_path(void);
/* Sets m->tuning (and m->tuned, m->clblast): the device's defaults, then
 * forced ("name=value,..." on everything) when not NULL or "", else the
 * entries of the tuning file at path (NULL: none) for m's device. */
int an__tuning_load(an_model *m, const char *forced, const char *path);
/* The model's tuning with the file's entry for layer key `key` applied. */
an__tuning an__tuning_for(const an_model *m, const char *key);

/* A linear layer's weights in parts of `rows` output rows (the last part
 * fewer), each part arranged as the whole layer would be (blocked rows are a
 * multiple of fc_vec) in buffers of its own: w[j] holds rows [j*rows,
 * min(O, (j+1)*rows)) and b[j] their bias. Owned by the model. */
typedef struct {
    int n, rows;
    cl_mem *w, *b; /* n each */
} an__fc_parts;

/* gemv_panel's copy of one linear layer's (or part's) blocked weights in
 * panels of pw outputs (plan.c, panel_acquire): made on the device by the
 * first batch-1 plan that wants it, shared by the model's other plans that
 * want the same, released when the last of them is freed. */
typedef struct {
    cl_mem w;     /* the blocked weights it was copied from (the model's) */
    int pw, vw;   /* panel width, outputs; w's block width (fc_vec) */
    cl_mem panel; /* (ceil(O/pw), I, pw) */
    int users;    /* steps of live plans holding it */
} an__fc_panel;

struct an_model {
    an_device *dev;
    bool owns_dev;                /* opened by an_model_load_opts: freed with the model */
    bool forced;                  /* tuning forced by an option or $ALEXNET_TUNING */
    bool nonfinite;               /* loaded with AN_LOAD_ALLOW_NONFINITE: weights may be NaN or
                                     infinite, so 0 x w need not be 0 (gemv_panel stays off) */
    bool fc_half;                 /* linear weights are binary16 (AN_LOAD_WEIGHTS_F16), blocked;
                                     fc.cl is built with -DWHALF=1 */
    char *cache_dir, *kernel_dir; /* the load options' (owned), or NULL for the defaults */
    const an__variant *variant;
    an_preprocess preprocess; /* an_model_preprocess */
    bool has_preprocess;      /* from the weights file's metadata */
    an__tuning tuning;
    an__tuning_table tuned; /* this device's per-layer entries from the tuning file */
    char clblast[32];       /* the CLBlast kernel the tuning file overrode ("Xgemm"), or "" */
    int n_params;
    an__param_shape shape[AN_MAX_LAYERS];
    cl_mem weight[AN_MAX_LAYERS]; /* conv: (G, ceil(OC/G/VW), C/G, K, K, VW) with VW =
                                     tuning.conv_vec; linear: (O, I), or (ceil(O/VW), I, VW)
                                     with VW = tuning.fc_vec when tuning.fc_blocked */
    cl_mem bias[AN_MAX_LAYERS];   /* conv: (G, ceil(OC/G/8), 8); linear: (O), padded to 8
                                     when blocked */
    /* A linear layer whose weights exceed the device's largest allocation
     * (CL_DEVICE_MAX_MEM_ALLOC_SIZE, or $ALEXNET_MAX_ALLOC when smaller):
     * split by output rows (model.c, upload_linear_parts); weight[i] and
     * bias[i] are then NULL and plan.c runs one step per part. NULL when
     * whole. */
    an__fc_parts *parts[AN_MAX_LAYERS];
    cl_mem wino[AN_MAX_LAYERS][2]; /* Winograd-eligible conv, per tile that may run (model.c,
                                      wants_winograd): U = G g G^T arranged as
                                      (NP, G, ceil(OC/G/VW), C/G, VW); [0] F(2x2,RxR), NP 16
                                      (3x3) or 36 (5x5), [1] F(4x4,3x3), NP 36, or F(3x3,5x5), NP
                                      49; for a stride > 1 layer that of its space-to-depth form
                                      (when that may run and is eligible); else NULL */
    cl_mem s2d[AN_MAX_LAYERS];     /* conv of stride > 1 when space-to-depth may run (model.c,
                                      wants_s2d): an__conv_s2d_weights then an__conv_weights_arrange,
                                      (G, ceil(OC/G/VW), C/G*S*S, ceil(K/S), ceil(K/S), VW); else
                                      NULL */
    size_t weight_bytes;
    /* gemv_panel's copies in use (n_panels of cap_panels), under panel_lock:
     * plans of one model may be freed on different threads. */
    an__fc_panel *panels;
    int n_panels, cap_panels;
    pthread_mutex_t panel_lock;
    struct {
        char file[32];
        char options[256];
        cl_program program;
    } programs[AN_MAX_PROGRAMS];
    int n_programs;
};

/* Index into model->shape of the parameters of table layer `layer`, or -1. */
int an__model_param_index(const an_model *model, int layer);

/* A kernel from cl_kernels/<file> built with options; programs are built once
 * per model (through the disk cache) and shared by its plans. */
int an__model_kernel(an_model *model, const char *file, const char *options, const char *name,
                     cl_kernel *out);

/* Rearranges conv weights (OC, C, K, K) of `groups` groups (C input channels
 * per group) into (groups, ceil(OC/groups/vw), C, K, K, vw), each group's last
 * block zero-padded: the layout conv.cl reads with VW = vw.
 * dst holds an__conv_arranged_oc(oc, groups, vw)*C*K*K floats. With c = I,
 * k = 1, groups = 1 and vw = 8 it gives the blocked linear layout
 * (ceil(O/8), I, 8) of fc.cl. */
void an__conv_weights_arrange(const float *src, float *dst, int oc, int c, int k, int groups,
                              int vw);
/* Whether a conv layer can run as Winograd F(MxM,RxR) (winograd.cl): R = 3
 * or 5, stride 1, padding 0 <= P < R, at any input size and group count. */
bool an__conv_winograd_ok(const an__layer *l);
/* Whether a k x k convolution of that stride and padding can run as
 * Winograd F(MxM,kxk): k = 3 or 5, stride 1, 0 <= pad < k (also the
 * stride-1 form of a space-to-depth layer: ceil(K/S) taps, pad 0). */
bool an__winograd_shape_ok(int k, int stride, int pad);
/* The large tiles a batch must have for wino_m 0 to run them (F(4x4,3x3),
 * F(3x3,5x5)) rather than the small ones. Fewer leave the GEMMs too few
 * blocks of tiles: on PoCL the 13 x 13 layers (16 large tiles an image) ran
 * slower with them at batches 1-2 and mixed at 4 (64), faster from 8 (128);
 * conv2 (81 an image) and conv1 through space-to-depth (196) ran faster with
 * them at batch 1 (pthread-skylake-avx512 on a Xeon, and compiled for
 * haswell there; docs/PERFORMANCE.md). */
enum { AN_WINO_LARGE_TILES = 80 };
/* The large output tile of a k x k layer: 4 for k = 3, 3 for k = 5. */
int an__winograd_large_tile(int k);
/* The output tile M of a k x k layer's Winograd F(MxM,kxk) at batch n with
 * an oh x ow output plane, under wino_m (tuning): 2 when wino_m is 2, the
 * large tile (an__winograd_large_tile) when 4; when 0, the large tile where
 * the batch has at least AN_WINO_LARGE_TILES of them, else 2. */
int an__winograd_tile(int k, int wino_m, int n, int oh, int ow);
/* The transform points (GEMMs) of F(mxm,kxk): (m+k-1)^2, 16 for F(2x2,3x3),
 * 36 for F(4x4,3x3) and F(2x2,5x5), 49 for F(3x3,5x5). */
int an__winograd_points(int k, int m);
/* Transforms conv weights (OC, C, k, k) of `groups` groups into U = G g G^T
 * of F(mxm,kxk) (k = 3 with m = 2 or 4, k = 5 with m = 2 or 3; in double, rounded
 * once) arranged as (NP, groups, ceil(OC/groups/vw), C, vw) with NP =
 * an__winograd_points(k, m), each group's last block zero-padded: the
 * layout wino_gemm reads. dst holds NP * an__conv_arranged_oc(oc, groups,
 * vw) * C floats. */
void an__winograd_weights_arrange(const float *src, float *dst, int oc, int c, int k, int m,
                                  int groups, int vw);
/* Space-to-depth (conv_s2d): rewrites conv weights (OC, C, K, K) of stride s
 * into those of the equivalent stride-1 convolution over the s x s blocks of
 * the input (s2d.cl), (OC, C*s*s, kq, kq) with kq = ceil(K/s): channel
 * (c*s + dy)*s + dx, tap (qy, qx) holds w[c][qy*s + dy][qx*s + dx], zero where
 * that is past K. C is the channels per group; groups stay contiguous. dst
 * holds OC*C*s*s*kq*kq floats. */
void an__conv_s2d_weights(const float *src, float *dst, int oc, int c, int k, int s);
/* Output channels after padding each group to a multiple of vw. */
int an__conv_arranged_oc(int oc, int groups, int vw);
/* The same arrangement for a bias: (groups, ceil(OC/groups/vw), vw). */
void an__conv_bias_arrange(const float *src, float *dst, int oc, int groups, int vw);

/* Enqueues a whole forward pass reading input slot `slot` (0 or 1) without
 * waiting: the host input must stay untouched and the output unread until
 * *done completes. *started (may be NULL) is the input write's event, for
 * profiling; the caller releases both. With done NULL it blocks. */
int an__plan_enqueue(an_plan *p, int slot, const float *input, float *output, an_output what,
                     cl_event *done, cl_event *started);
int an__plan_batch(const an_plan *p);

/* One forward pass with an event per step, for the benchmark. times[i]
 * (AN_MAX_LAYERS entries) gets each step's table layer and device time. */
typedef struct {
    int layer;   /* index into the variant's table (ReLU fused into it) */
    double ms;   /* device time of the step's commands */
    int clblast; /* 1 when the step is a CLBlast GEMM plus its epilogue */
} an__step_time;
int an__plan_profile(an_plan *p, const float *input, an__step_time *times, int *count);
const an_layer_info *an__plan_layers(const an_plan *p, int *count);
an_model *an__plan_model(const an_plan *p);

/* ------------------------------------------------------------------------ */
/* Converters: published weight files to safetensors (convert.c, pickle.c,  */
/* caffe.c, onnx.c)                                                        */

enum { AN__DT_F32 = 4, AN__DT_F16 = 2 }; /* element sizes */
#define AN__MAX_CTENSORS 64
#define AN__MAX_CDIMS 8

/* One tensor read from a foreign file: little-endian raw elements, owned. */
typedef struct {
    char name[128];
    int dtype; /* AN__DT_F32 or AN__DT_F16 */
    int ndim;
    int64_t dims[AN__MAX_CDIMS];
    unsigned char *data; /* numel * dtype bytes */
    size_t bytes;
} an__ctensor;

typedef struct {
    int count;
    an__ctensor t[AN__MAX_CTENSORS];
    char format[64];      /* "PyTorch zip", "PyTorch legacy", "Caffe NetParameter (layer)", ... */
    char source_key[128]; /* a checkpoint's keys down to the state_dict ("state_dict"), or "" */
    char variant[64];     /* the variant a Caffe layer list is, or "" (a .pth has no layers) */
    char preprocess[256]; /* the preprocessing the file states (an_preprocess_parse's spec:
                             a Caffe data layer's transform_param), or "" */
} an__ctensors;

/* Appends a tensor (copying name; taking data, which is freed on failure). */
int an__ctensors_add(an__ctensors *ts, const char *path, const char *name, size_t name_len,
                     int dtype, int ndim, const int64_t *dims, unsigned char *data, size_t bytes);
void an__ctensors_free(an__ctensors *ts);

/* Readers of whole files held in memory; every read is bounds-checked and a
 * bad file gets AN_ERR_BAD_FILE naming the file, the offset and the reason. */
int an__pth_read_zip(const char *path, const unsigned char *buf, size_t size, an__ctensors *out);
int an__pth_read_legacy(const char *path, const unsigned char *buf, size_t size, an__ctensors *out);
int an__caffe_read(const char *path, const unsigned char *buf, size_t size, an__ctensors *out);
/* An ONNX ModelProto whose graph is exactly torchvision's AlexNet as
 * torch.onnx.export writes it (onnx.c); anything else is refused with
 * AN_ERR_BAD_WEIGHTS naming the node and the attribute that differs. */
int an__onnx_read(const char *path, const unsigned char *buf, size_t size, an__ctensors *out);

/* What a file is, told by its first bytes, as a phrase ("an ONNX model", "a
 * zip archive (a PyTorch .pth?)", "a safetensors file (...)"), for errors that
 * name the kind of a file given in the wrong place; NULL when not known. */
const char *an__file_kind(const unsigned char *buf, size_t n);

/* The variant whose tensor names and shapes match ts exactly, or NULL with an
 * error naming the first tensor that fits none, its shape and the shapes the
 * candidate variants expect. Candidates: only ts->variant when set (the layer
 * list chose it), only `only` when not NULL (the user chose it); shapes choose
 * among the rest only where the variants have the same layers, else the error
 * asks for a variant by name. */
const an__variant *an__convert_match(const char *path, const an__ctensors *ts,
                                     const an__variant *only);

/* Whether two variants differ only in their tensor names (same layers, same
 * parameters, same order). */
bool an__variant_same_layers(const an__variant *a, const an__variant *b);

/* Seconds on a monotonic clock (classify.c). */
double an__now(void);

/* options (NULL: all defaults) with its defaults filled in: batch 16, top_k 5
 * (at most AN_CLASSES), threads the online CPUs (at most 64). */
an_classify_options an__classify_options(const an_classify_options *options);

/* an_classify_files; keep_batch runs a list shorter than options->batch at
 * that batch size all the same (zeros after it), as the last batch of a longer
 * list runs: an_classify_files_multi's parts then give the same numbers as one
 * run over the whole list. */
int an__classify(an_model *model, const char *const *paths, size_t count,
                 const an_classify_options *options, bool keep_batch, an_result_fn fn, void *user,
                 an_classify_stats *stats);

#endif /* AN_INTERNAL_H */
