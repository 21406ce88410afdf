/* alexnet.h - public API of alexnet-cl, an AlexNet inference runtime on OpenCL.
 *
 * One prefix (an_), opaque handles, status codes with names. A caller who only
 * runs the network needs no OpenCL header. Tensors are float32 in NCHW order:
 * an input batch is (N, 3, H, W), contiguous, channel planes in the order the
 * variant's preprocessing produces; logits and probabilities are (N, 1000).
 *
 * A whole forward pass, in ten lines:
 *
 *     an_device *dev;  an_model *model;  an_plan *plan;
 *     if (an_device_open(NULL, &dev) != AN_OK) {          // ALEXNET_DEVICE or the first GPU
 *         fprintf(stderr, "%s\n", an_last_error()); return 1;
 *     }
 *     an_model_load(dev, "torchvision-224", "alexnet.safetensors", &model);
 *     an_plan_create(model, 16, 224, 224, &plan);           // buffers and kernels, once
 *     an_plan_forward(plan, images, probs, AN_OUTPUT_PROBS); // (16,3,224,224) -> (16,1000)
 *     an_plan_free(plan);  an_model_free(model);  an_device_free(dev);
 *
 * Ownership: every handle is created by an _open/_load/_create call and freed by
 * the matching _free call, which accepts NULL. A model keeps a reference to its
 * device; free models before their device. A plan borrows its model.
 *
 * Threads: the device list, variants and an_status_* are read-only and safe to
 * use from any thread. The last-error text is per thread. A device, a model or
 * a plan may be used by one thread at a time; distinct handles may be used
 * concurrently, including several models on one device.
 */
#ifndef ALEXNET_H
#define ALEXNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(AN_BUILDING_LIBRARY)
#define AN_API __declspec(dllexport)
#elif defined(__GNUC__)
#define AN_API __attribute__((visibility("default")))
#else
#define AN_API
#endif

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */

/* OpenCL error codes (negative, -1 .. -72, and extensions' codes such as
 * -1001) pass through unchanged; the runtime's own codes live at -4000 and
 * below, clear of OpenCL's and CLBlast's (-1024 .. -2048), so one int carries
 * all of them. */
#define AN_STATUS_MAP(X)                                                                           \
    X(AN_OK, 0, "success")                                                                         \
    X(AN_ERR_INVALID_ARGUMENT, -4000, "invalid argument")                                          \
    X(AN_ERR_OUT_OF_MEMORY, -4001, "out of host memory")                                           \
    X(AN_ERR_NO_PLATFORM, -4002, "no OpenCL platform found")                                       \
    X(AN_ERR_NO_DEVICE, -4003, "no OpenCL device found")                                           \
    X(AN_ERR_DEVICE_NOT_FOUND, -4004, "no device matches the selector")                            \
    X(AN_ERR_UNKNOWN_VARIANT, -4005, "unknown network variant")                                    \
    X(AN_ERR_BAD_SHAPE, -4006, "input shape not supported by the network")                         \
    X(AN_ERR_BUILD_FAILED, -4007, "OpenCL program build failed")                                   \
    X(AN_ERR_KERNEL_SOURCE, -4008, "kernel source not found")                                      \
    X(AN_ERR_IO, -4009, "file input/output error")                                                 \
    X(AN_ERR_BAD_WEIGHTS, -4010, "weights file rejected")                                          \
    X(AN_ERR_TOO_LARGE, -4011, "does not fit on the device")                                       \
    X(AN_ERR_CLBLAST, -4012, "CLBlast call failed")                                                \
    X(AN_ERR_BAD_FILE, -4013, "malformed input file")                                              \
    X(AN_ERR_BAD_IMAGE, -4014, "image could not be decoded")                                       \
    X(AN_ERR_NONFINITE, -4015, "non-finite value (NaN or infinity)")

typedef enum {
#define AN_STATUS_ENUM(name, value, text) name = value,
    AN_STATUS_MAP(AN_STATUS_ENUM)
#undef AN_STATUS_ENUM
} an_status;

/* Symbolic name of a status or OpenCL error code ("CL_OUT_OF_RESOURCES",
 * "AN_ERR_BAD_WEIGHTS"); never NULL. */
AN_API const char *an_status_name(int status);

/* Short fixed description of a status code; never NULL. */
AN_API const char *an_status_message(int status);

/* Detailed text of the last error on this thread (what failed, where, why).
 * Every fallible call (one returning a status) empties it on entry, so it is
 * "" after a call that returned AN_OK and describes the failure after one
 * that did not, until the next fallible call on this thread. (an_classify_files
 * reports each image's failure in its result, not here.) */
AN_API const char *an_last_error(void);

/* ------------------------------------------------------------------------ */
/* Devices                                                                  */

typedef struct an_device an_device;

typedef enum {
    AN_DEVICE_CPU = 1,
    AN_DEVICE_GPU = 2,
    AN_DEVICE_ACCELERATOR = 4,
    AN_DEVICE_OTHER = 8
} an_device_type;

/* What the defaults are chosen for (an__tuning_defaults): a CPU; an
 * integrated or otherwise small GPU (one that shares the host's memory,
 * CL_DEVICE_HOST_UNIFIED_MEMORY, or has fewer than 16 compute units: small
 * caches, work-groups of 256 or fewer); a large discrete GPU; anything else
 * (accelerators, custom devices). $ALEXNET_DEVICE_CLASS (cpu, integrated,
 * discrete or other) overrides it for devices opened afterwards, to try one
 * class's defaults on another device. */
typedef enum {
    AN_DEVICE_CLASS_CPU = 1,
    AN_DEVICE_CLASS_INTEGRATED = 2,
    AN_DEVICE_CLASS_DISCRETE = 3,
    AN_DEVICE_CLASS_OTHER = 4 /* (0 is no class: an info filled in by hand) */
} an_device_class;

/* What `alexnet devices` shows of one device. */
typedef struct {
    int platform_index, device_index; /* the "P:D" selector */
    char platform[128];
    char name[128];
    char version[64];   /* CL_DEVICE_VERSION */
    char c_version[64]; /* CL_DEVICE_OPENCL_C_VERSION */
    char driver[64];    /* CL_DRIVER_VERSION */
    an_device_type type;
    unsigned compute_units;
    uint64_t global_mem, max_alloc, local_mem; /* bytes; for a device opened with
                                                  $ALEXNET_GLOBAL_MEM or $ALEXNET_MAX_ALLOC
                                                  set below the device's own, those */
    size_t max_work_group;
    int fp16, fp64;               /* 1 when the device reports the extension */
    int float_vector;             /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT */
    int unified_memory;           /* 1: CL_DEVICE_HOST_UNIFIED_MEMORY is true (device and host share
                                     memory); 0: false, or the driver does not answer */
    an_device_class device_class; /* from the above (an_device_class); for a device opened with
                                     $ALEXNET_DEVICE_CLASS set, that class */
} an_device_info;

/* Enumerates every device of every platform into a new array that the caller
 * frees with free(), as the devices report themselves ($ALEXNET_* overrides
 * apply to opened devices only: an_device_info). Returns AN_ERR_NO_PLATFORM or
 * AN_ERR_NO_DEVICE when there is nothing to list. */
AN_API int an_device_list(an_device_info **out, int *count);

/* Opens several devices for an_classify_files_multi: selectors is a
 * comma-separated list of an_device_open selectors ("0:0,0:1", "gpu,1:0"),
 * where a type ("gpu", "cpu", "accelerator") names every device of that type
 * and "all" every device; NULL or "" opens the one an_device_open(NULL)
 * would. Each device is opened once, in the order named, at most max; the
 * caller frees each handle in devs[0, *count) with an_device_free. Errors as
 * an_device_open for the first selector that matches nothing (nothing is
 * then left open), AN_ERR_DEVICE_NOT_FOUND for a type no device has. */
AN_API int an_device_open_list(const char *selectors, an_device **devs, int max, int *count);

/* Opens the device chosen by selector: "P:D" indices, a type ("gpu", "cpu",
 * "accelerator"), or a case-insensitive substring of the device name. NULL or
 * "" uses $ALEXNET_DEVICE, else the first GPU, else the first device. On a
 * selector that matches nothing the error text lists the devices there are. */
AN_API int an_device_open(const char *selector, an_device **out);

/* Releases the device's context and queue. Accepts NULL. */
AN_API void an_device_free(an_device *dev);

/* Fills *info for an open device. */
AN_API void an_device_get_info(const an_device *dev, an_device_info *info);

/* Measures the device's two ceilings: *gflops from FMA-chain kernels (float8
 * and float16, work-groups of 1, 64 and 256: the best of them) and *gbps
 * from a large float4 copy (bytes read plus written). Takes about a second. */
AN_API int an_device_ceilings(an_device *dev, double *gflops, double *gbps);

/* "gpu", "cpu", "accelerator" or "other". */
AN_API const char *an_device_type_name(an_device_type type);

/* "cpu", "integrated", "discrete" or "other". */
AN_API const char *an_device_class_name(an_device_class device_class);

/* ------------------------------------------------------------------------ */
/* Variants and shapes (no device needed)                                    */

typedef enum {
    AN_LAYER_CONV,
    AN_LAYER_RELU,
    AN_LAYER_MAXPOOL,
    AN_LAYER_ADAPTIVE_AVGPOOL,
    AN_LAYER_DROPOUT, /* identity at inference; flattens (C,H,W) to C*H*W */
    AN_LAYER_LINEAR,
    AN_LAYER_LRN /* local response normalisation across channels (caffe-bvlc-227 only) */
} an_layer_kind;

/* One row of a variant's layer table with its inferred output shape. */
typedef struct {
    an_layer_kind kind;
    const char *type_name;                 /* "Conv2d", "ReLU", "MaxPool2d", ... */
    int index;                             /* 1-based position, as in "Conv2d-1" */
    int kernel, stride, pad, out_channels; /* 0 where not applicable; LRN: kernel = size */
    int groups;                            /* convolution groups (1 but in caffe-bvlc-227) */
    int c, h, w;                           /* output shape; h = w = 1 from the first dropout on */
    int64_t params;                        /* weights + biases */
    int exact;                             /* 0 when a size division was floored */
    char arith[192];                       /* "k=11,s=4,p=2 (224+4-11)/4+1=55.25" */
} an_layer_info;

#define AN_MAX_LAYERS 32

/* Names of the built-in variants, NULL-terminated. */
AN_API const char *const *an_variant_names(void);

/* Native input size of a variant (224 or 227). */
AN_API int an_variant_input_size(const char *variant, int *height, int *width);

/* Infers every layer's output shape for an input of (channels, height, width)
 * with PyTorch's floor semantics. Writes up to AN_MAX_LAYERS rows into layers
 * and their count into *count. A wrong channel count, or a size too small for
 * a layer, gives AN_ERR_BAD_SHAPE with the arithmetic in the error text. */
AN_API int an_variant_infer(const char *variant, int channels, int height, int width,
                            an_layer_info *layers, int *count);

/* Total parameter count of a variant (independent of input size). */
AN_API int64_t an_variant_params(const char *variant);

/* ------------------------------------------------------------------------ */
/* Models: a variant with its weights resident on a device                   */

typedef struct an_model an_model;

/* Loads a .safetensors file (F32 or F16 tensors, names as the README lists
 * them) after validating every tensor against the variant, and uploads the
 * weights to dev. A bad file gives AN_ERR_BAD_WEIGHTS naming the tensor; so
 * does a NaN or infinite value, with the tensor and the first bad flat index.
 * Weights that do not fit the device's global memory (with the transformed
 * copies the convolutions run from) give AN_ERR_TOO_LARGE. */
AN_API int an_model_load(an_device *dev, const char *variant, const char *path, an_model **out);

/* Flags of an_model_load_flags. */
#define AN_LOAD_ALLOW_NONFINITE 1u /* accept NaN and infinite weights instead of refusing them */
/* Store the fully connected layers' weights on the device as IEEE binary16
 * (half the bytes; arithmetic stays float32, through the core OpenCL 1.2
 * vload_half, so no cl_khr_fp16 is needed). F16 tensors of a safetensors file
 * are kept as they are; F32 ones (and seeded weights) are rounded to nearest
 * even once on the host, and a finite value beyond half's range (|x| >=
 * 65520) is refused with AN_ERR_BAD_WEIGHTS naming the tensor. Forces the
 * blocked FC layout (tuning fc_blocked=1). Conv weights stay float32. */
#define AN_LOAD_WEIGHTS_F16 2u

/* an_model_load with flags (0 is an_model_load; an_load_options.flags is the
 * same for an_model_load_opts; AN_LOAD_* above, or-ed). With AN_LOAD_ALLOW_NONFINITE
 * non-finite weights load; images they spoil then fail alone in
 * an_classify_files with AN_ERR_NONFINITE. */
AN_API int an_model_load_flags(an_device *dev, const char *variant, const char *path,
                               unsigned flags, an_model **out);

/* Creates a model with deterministic pseudo-random weights drawn from seed
 * (He-uniform, so that logits have a spread). For tests and benchmarks only:
 * its predictions mean nothing. */
AN_API int an_model_seed(an_device *dev, const char *variant, uint64_t seed, an_model **out);

/* Everything an_model_load_opts may be told; zero-initialise it and set what
 * you need. Strings are copied: they need not outlive the call. */
typedef struct {
    const char *weights;     /* .safetensors file; NULL: seeded weights (an_model_seed) */
    uint64_t seed;           /* the seed when weights is NULL */
    const char *device;      /* selector (an_device_open) used when dev is NULL: the model
                                then opens and owns its device */
    const char *tuning;      /* "name=value,..." kernel parameters forced on every layer
                                (the tuning file is then not read); NULL: $ALEXNET_TUNING;
                                "": none forced */
    const char *tuning_file; /* NULL: tuning.txt in the cache directory; "": none */
    const char *cache_dir;   /* built programs and the tuning file; NULL: $XDG_CACHE_HOME/alexnet
                                or ~/.cache/alexnet ($ALEXNET_NO_CACHE=1: off); "": off */
    const char *kernel_dir;  /* .cl sources; NULL: $ALEXNET_KERNEL_DIR, else the copies
                                embedded in the library; "": the embedded copies */
    unsigned flags;          /* AN_LOAD_* flags (an_model_load_flags); 0: none */
} an_load_options;

/* Loads a model as an_model_load or an_model_seed do, configured by opts
 * (NULL: all defaults, i.e. seeded weights from seed 0). dev may be NULL when
 * opts->device (or its default) should be opened for this model alone; it is
 * then freed by an_model_free. Errors as an_device_open and an_model_load;
 * a malformed opts->tuning gives AN_ERR_INVALID_ARGUMENT. *out is NULL on
 * failure. */
AN_API int an_model_load_opts(an_device *dev, const char *variant, const an_load_options *opts,
                              an_model **out);

/* Releases the model's device buffers (and its device when it opened it).
 * Accepts NULL. */
AN_API void an_model_free(an_model *model);

/* The model's variant name. */
AN_API const char *an_model_variant(const an_model *model);

/* The device the model runs on (owned by the caller or by the model). */
AN_API an_device *an_model_device(const an_model *model);

/* Describes the kernel parameters in effect into buf (size bytes, always
 * terminated): "conv_tx=3,conv_ocb=4,..." and where they came from, e.g.
 * " (and per-layer entries from the tuning file)". */
AN_API void an_model_tuning(const an_model *model, char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* Plans: a model prepared for one batch size and input size                 */

typedef struct an_plan an_plan;

typedef enum { AN_OUTPUT_LOGITS = 0, AN_OUTPUT_PROBS = 1 } an_output;

/* Builds a plan for batches of `batch` images of (3, height, width): every
 * buffer is allocated and every kernel argument set here, once. When the plan
 * does not fit on the device, returns AN_ERR_TOO_LARGE with the bytes needed,
 * the bytes available and the largest batch that fits in the error text. */
AN_API int an_plan_create(an_model *model, int batch, int height, int width, an_plan **out);

/* Runs the network on input (batch, 3, H, W) and writes output (batch, 1000)
 * as logits or softmax probabilities. Blocks until the output is on the host. */
AN_API int an_plan_forward(an_plan *plan, const float *input, float *output, an_output what);

/* Starts the same forward pass without waiting: input must stay untouched
 * and output unread until an_plan_wait returns. One pass at a time per plan:
 * a second enqueue first waits for the one in flight. (With mapped input,
 * tuning io_mapped=1, the default on integrated GPUs, the input is copied
 * before this returns, once the work already queued on the device is done.) */
AN_API int an_plan_enqueue(an_plan *plan, const float *input, float *output, an_output what);

/* Waits for the pass an_plan_enqueue started; AN_OK at once when none is in
 * flight. Returns the pass's error, if the device reported one. */
AN_API int an_plan_wait(an_plan *plan);

/* One step of a forward pass: a row of the layer table (ReLU folded into the
 * layer before it) and its device time from profiling events. */
typedef struct {
    int layer;   /* 0-based row of an_plan_layers' table */
    double ms;   /* device time of the step's commands */
    int clblast; /* 1 when the step is a CLBlast GEMM plus its epilogue */
} an_layer_time;

/* Runs one forward pass on input (batch, 3, H, W) with an event per step and
 * writes up to max steps' times, in order, and their count to *count. The
 * output is discarded. Slower than an_plan_forward: for measuring only. */
AN_API int an_plan_profile(an_plan *plan, const float *input, an_layer_time *times, int max,
                           int *count);

/* The plan's layer table (an_variant_infer at the plan's input size): up to
 * AN_MAX_LAYERS rows into layers and their count into *count. */
AN_API int an_plan_layers(const an_plan *plan, an_layer_info *layers, int *count);

/* Device bytes the plan holds for activations (weights excluded). */
AN_API size_t an_plan_activation_bytes(const an_plan *plan);

/* Releases the plan. Accepts NULL. */
AN_API void an_plan_free(an_plan *plan);

/* ------------------------------------------------------------------------ */
/* Tuning: kernel parameters searched on the device, stored for later loads  */

/* Receives one line of progress text (no trailing newline). */
typedef void (*an_log_fn)(const char *line, void *user);

typedef struct {
    const char *variants; /* comma-separated; NULL: "torchvision-224,caffe-227" */
    const int *batches;   /* n_batches sizes; NULL: 1, 16, 64 */
    int n_batches;
    int runs;                   /* timed rounds per candidate, 1..16; 0: 5 */
    double clblast_fraction;    /* (0, 1]: also run CLBlast's SGEMM tuner on that share of its
                                   configurations (CLBlast prints its own progress on stdout) */
    const char *clblast_params; /* or check this "NAME=VALUE,..." CLBlast set instead */
    int dry_run;                /* 1: search and report, store nothing */
    const char *tuning_file;    /* NULL: tuning.txt in the default cache directory */
    an_log_fn log;              /* progress and results, a line at a time; NULL: silent */
    void *user;
    int quick; /* 1 (`--tune quick`): per variant and batch, nothing when the tuning file has
                  an entry for every conv and FC layer already (they are reused); else a short
                  candidate set on the FC weight layout the device uses now, runs 0 meaning 2,
                  CLBlast not tuned. 0: the full search */
} an_tune_options;

/* Searches kernel parameters per layer shape and batch on dev: every
 * candidate runs the network on seeded weights, is checked against a host
 * reference in double (a wrong candidate never wins), and is timed with
 * profiling events; each layer keeps its fastest correct candidate. The
 * winners are merged into the tuning file (other devices' entries stay),
 * which an_model_load* then reads. AN_ERR_INVALID_ARGUMENT for bad options,
 * AN_ERR_IO when the file cannot be written (or the cache is off). */
AN_API int an_tune(an_device *dev, const an_tune_options *opts);

/* ------------------------------------------------------------------------ */
/* Images: PNG and JPEG decoding, the variants' preprocessing (host only)    */

/* A decoded image: RGB8, row-major, 3 bytes per pixel, owned (an_image_free).
 * Pixels from elsewhere (a camera, another decoder) can be filled in by hand
 * and given to an_image_preprocess as they are (not to an_image_free then). */
typedef struct {
    int width, height;
    unsigned char *rgb;
} an_image;

/* Larger images are refused from the PNG or JPEG header, before any pixel is
 * allocated. */
#define AN_IMAGE_MAX_PIXELS 100000000

typedef enum { AN_RESIZE_SHORTER = 0, AN_RESIZE_EXACT = 1 } an_resize_mode;

/* How an image becomes a (3, crop, crop) input: resize (PIL's antialiased
 * bilinear), centre crop (zero padding where the image is smaller), then
 * out = (pixel * scale - mean[c]) / std[c]. */
typedef struct {
    an_resize_mode resize_mode;
    int resize;            /* shorter side to `resize`, or both sides to it; 0: no resize */
    int crop;              /* centre crop, crop x crop */
    int bgr;               /* 1: output channels in B,G,R order */
    float scale;           /* pixel value multiplier before mean/std: 1/255 or 1 */
    float mean[3], std[3]; /* per output channel, after scaling */
} an_preprocess;

/* Fills *out with the preprocessing a variant was trained with:
 * "torchvision-224": shorter side to 256, crop 224, RGB, x/255, ImageNet mean/std;
 * "caffe-227" and "caffe-bvlc-227": both sides to 256, crop 227, BGR, 0..255 minus
 * (104, 117, 123).
 * AN_ERR_UNKNOWN_VARIANT for any other name. */
AN_API int an_preprocess_default(const char *variant, an_preprocess *out);

/* Changes *pp as the text spec says, the form that `alexnet classify --resize
 * ... --bgr` builds and the "preprocess" entry of a weights file's metadata
 * holds: KEY=VALUE items separated by ';' (spaces ignored), each setting one
 * part of the pipeline and leaving the rest of *pp as it is:
 *   resize=N      shorter side to N, as torchvision's Resize(N); resize=NxN:
 *                 both sides to N (Caffe's 256x256; only square); resize=none
 *   crop=N        centre crop N x N; at most the resize
 *   mean=R,G,B    per output channel (B,G,R with order=bgr), in 0..255 pixel
 *                 units, subtracted BEFORE scale: OpenCV's blobFromImage mean,
 *                 Caffe's mean_value, OpenVINO's -imean (torchvision's 0.485
 *                 is 123.675); commas or spaces between the three numbers
 *   scale=S       multiplier after the mean, > 0 ("1/255" accepted): OpenCV's
 *                 scalefactor, Caffe's scale
 *   std=R,G,B     divisor after scale, > 0, per output channel (OpenCV's
 *                 --std; OpenVINO's -iscale is std with scale=1)
 *   order=rgb|bgr output channel order
 * so out = (pixel - mean) * scale / std; *pp holds mean * scale (rounded once
 * from double) in its mean field. scale without mean keeps the pipeline's mean
 * in pixel units. AN_ERR_INVALID_ARGUMENT naming the key and value for an
 * unknown key, a malformed or out-of-range value, a wrong count, a std of 0 or
 * below, a crop larger than the resize; *pp is unchanged then. */
AN_API int an_preprocess_parse(const char *spec, an_preprocess *pp);

/* Writes pp as a complete spec for an_preprocess_parse into buf (size bytes,
 * always terminated): "resize=256;crop=224;mean=123.675,116.28,103.53;
 * scale=1/255;std=0.229,0.224,0.225;order=rgb" (without the line break). */
AN_API void an_preprocess_format(const an_preprocess *pp, char *buf, size_t size);

/* The preprocessing an_classify_files uses for this model when its options
 * give none: the weights file's "preprocess" metadata applied to the
 * variant's (an_preprocess_parse), or the variant's own. Returns 1 when the
 * weights file stated one, 0 when it is the variant's. */
AN_API int an_model_preprocess(const an_model *model, an_preprocess *out);

/* Decodes a PNG file of any kind (gray 1..16 bit, palette, RGB, alpha, 16-bit,
 * interlaced) to RGB8 exactly as PIL's Image.open(path).convert("RGB") does:
 * alpha and tRNS are dropped (no compositing), 16-bit samples keep their high
 * byte. AN_ERR_IO when the file cannot be read; AN_ERR_BAD_IMAGE, with the file
 * name and the reason in the error text, when it is not a valid PNG or has
 * more than AN_IMAGE_MAX_PIXELS pixels. *out is zeroed on failure. */
AN_API int an_image_decode_png(const char *path, an_image *out);

/* The same for a PNG held in memory; never reads outside data[0, size). */
AN_API int an_image_decode_png_memory(const void *data, size_t size, an_image *out);

/* Decodes a PNG or a JPEG file, the kind told by its first bytes (never by its
 * name), to RGB8 exactly as PIL's Image.open(path).convert("RGB") does. PNG:
 * as an_image_decode_png. JPEG (libjpeg-turbo, with PIL's settings: ISLOW DCT,
 * fancy upsampling): baseline, progressive and arithmetic-coded, any chroma
 * subsampling, restart markers; grayscale replicated to RGB; CMYK and YCCK
 * read as Adobe's inverted CMYK and converted with PIL's formula; the EXIF
 * orientation is NOT applied and ICC profiles are ignored, as in PIL. Errors
 * as for an_image_decode_png; AN_ERR_BAD_IMAGE also for a JPEG that ends
 * before its EOI marker (PIL: "image file is truncated"), one libjpeg refuses,
 * or a progressive one of more than 1000 scans. Corrupt entropy-coded data that
 * libjpeg only warns about decodes as in PIL. *out is zeroed on failure. */
AN_API int an_image_decode(const char *path, an_image *out);

/* The same for PNG or JPEG bytes held in memory; never reads outside
 * data[0, size). Error texts call the data "image in memory". */
AN_API int an_image_decode_memory(const void *data, size_t size, an_image *out);

/* Frees the pixels and zeroes *img. Accepts NULL and a zeroed image. */
AN_API void an_image_free(an_image *img);

/* Runs pp on img and writes (3, pp->crop, pp->crop) float32 to out, matching
 * torchvision's Resize/CenterCrop/ToTensor/Normalize on a PIL image (to the
 * rounding of PIL's 8-bit resampling). AN_ERR_INVALID_ARGUMENT on a bad pp. */
AN_API int an_image_preprocess(const an_image *img, const an_preprocess *pp, float *out);

/* ------------------------------------------------------------------------ */
/* Classification: files in, top-k classes out, host and device overlapped   */

/* Number of classes of every built-in variant. */
#define AN_CLASSES 1000

/* ImageNet-1k name of class index (0..999), e.g. "tabby"; NULL out of range. */
AN_API const char *an_class_label(int index);

typedef struct {
    int index;  /* class, 0..999 */
    float prob; /* softmax probability */
} an_score;

/* One image's outcome, passed to the callback in input order. Pointers are
 * valid during the callback only. An image whose probabilities hold a NaN or
 * an infinity fails with AN_ERR_NONFINITE (k = 0): top holds nothing then. */
typedef struct {
    size_t index; /* position in the input list */
    const char *path;
    int status;        /* AN_OK, or why this image failed (the others go on) */
    const char *error; /* the reason when status != AN_OK, else "" */
    int k;             /* scores in top, most probable first */
    const an_score *top;
} an_result;

/* Receives each result; return nonzero to stop the run early. */
typedef int (*an_result_fn)(const an_result *result, void *user);

typedef struct {
    int batch;                       /* images per forward pass (default 16) */
    int top_k;                       /* classes per result, 1..1000 (default 5) */
    int threads;                     /* decoding threads (default: online CPUs) */
    const an_preprocess *preprocess; /* NULL: the model's (an_model_preprocess) */
} an_classify_options;

typedef struct {
    size_t images, failed, batches;
    int batch;                  /* images per forward pass, as run */
    double wall_seconds;        /* first decode to last result */
    double device_seconds;      /* sum over batches of device time, from profiling events */
    double device_wait_seconds; /* device idle between batches, waiting for the host to
                                   decode the next one (profiling events; 0 without them) */
} an_classify_stats;

/* Classifies count PNG or JPEG files (an_image_decode) with model. Images are decoded and
 * preprocessed on `threads` host threads while the device computes the previous batch (two input
 * slots, non-blocking transfers, no clFinish between batches). A file that cannot be decoded fails
 * alone: its result carries the reason and the batch goes on. Returns AN_OK when the run completed
 * (even if some images failed; see stats->failed), or the device or set-up error that stopped it.
 * stats may be NULL. */
AN_API int an_classify_files(an_model *model, const char *const *paths, size_t count,
                             const an_classify_options *options, an_result_fn fn, void *user,
                             an_classify_stats *stats);

/* an_classify_files for encoded images held in memory: data[i] holds
 * sizes[i] bytes of a PNG or a JPEG (told by content, decoded as
 * an_image_decode_memory does), borrowed for the call. names may be NULL;
 * else names[i] is passed as each result's path (NULL paths otherwise). An
 * image whose bytes cannot be decoded (or whose data[i] is NULL) fails alone.
 * Errors as an_classify_files. */
AN_API int an_classify_memory(an_model *model, const void *const *data, const size_t *sizes,
                              const char *const *names, size_t count,
                              const an_classify_options *options, an_result_fn fn, void *user,
                              an_classify_stats *stats);

/* an_classify_files over several models, one per device, all of one variant
 * (and normally the same weights): the list is cut into parts of four batches,
 * and each model takes the next part as soon as it is free, so a fast and a
 * slow device both stay busy. fn is called from the library's threads, one
 * call at a time, in input order; the numbers are those of one
 * an_classify_files run over the whole list on a device of the same kind (the
 * same batch size, the last part padded as the last batch is). The host
 * decoding threads (options->threads) are shared out among the models.
 * stats: NULL, or n_models entries, each model's share (wall_seconds is the
 * whole run's on each). When a model's device fails, the images of its part
 * that have no result yet fail with the reason, naming the device, and it
 * takes no more parts while the others go on; when every device has failed
 * the run stops with the last one's status and "every device failed" (the
 * images after that are not reported, as with one device). Other errors as
 * an_classify_files, and AN_ERR_INVALID_ARGUMENT for models of different
 * variants. n_models == 1 is an_classify_files. */
AN_API int an_classify_files_multi(an_model *const *models, int n_models, const char *const *paths,
                                   size_t count, const an_classify_options *options,
                                   an_result_fn fn, void *user, an_classify_stats *stats);

/* ------------------------------------------------------------------------ */
/* Accuracy against ground truth                                             */

/* A labelled set of images: paths[i] has class labels[i] (0..AN_CLASSES-1).
 * Owned by the caller once filled: an_labelled_free. */
typedef struct {
    size_t count;
    char **paths;
    int *labels;
    int classes;        /* folder: class folders found; list: 1 + the largest label */
    char **class_names; /* folder: the class folders' names in index order; list: NULL */
} an_labelled;

/* Reads dir as torchvision's ImageFolder does: its subdirectories (symbolic
 * links followed) sorted by name are the classes 0, 1, ...; the samples of a
 * class are the files under its folder, at any depth, with one of ImageFolder's
 * extensions (.jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp, any case), in
 * the order of sorted(os.walk()) then sorted names. Files of the kinds this
 * cannot decode are listed all the same (they fail at decoding), so counts are
 * torchvision's. Each real directory is walked once (no symbolic-link loops).
 * When every class folder is an ImageNet-1k WordNet id (n01440764 ...), each
 * folder's label is that id's ImageNet class index instead (so a subset of
 * ImageNet's validation folders is scored against the right outputs; all 1000
 * give the same indices either way); class_names stays in folder order.
 * AN_ERR_IO (dir unreadable), AN_ERR_INVALID_ARGUMENT (no class folder, more
 * than AN_CLASSES, or a class without images, which ImageFolder refuses too). */
AN_API int an_labelled_folder(const char *dir, an_labelled *out);

/* Reads a ground-truth file of `PATH LABEL` lines (Caffe's val.txt: a path,
 * white space, a 0-based class index; the label is the last field, so a path
 * may hold spaces; blank lines skipped, CR LF accepted). Relative paths are
 * taken from root, or from the file's own folder when root is NULL.
 * AN_ERR_IO, or AN_ERR_BAD_FILE naming the line (no label, a label outside
 * 0..AN_CLASSES-1, a NUL byte, no entry) or the path listed twice. */
AN_API int an_labelled_list(const char *file, const char *root, an_labelled *out);

/* Frees what set holds and zeroes it; accepts NULL and a zeroed set. */
AN_API void an_labelled_free(an_labelled *set);

typedef struct {
    size_t images;     /* results (the set's count, unless the callback stopped the run) */
    size_t failed;     /* could not be decoded, or gave non-finite outputs */
    size_t classified; /* images - failed */
    size_t top1, top5; /* classified images whose label is first / among the first five */
    size_t missing;    /* an_eval_merge: images of the set no output holds (misses) */
    double wall_seconds, device_seconds; /* as an_classify_stats */
} an_eval_stats;

/* Receives each result with its label and the label's rank among the top five
 * (0..4), -1 when it is not there or the image failed; nonzero stops the run. */
typedef int (*an_eval_fn)(const an_result *result, int label, int rank, void *user);

/* Classifies set's images with an_classify_files (options as there; top_k
 * raised to 5 when lower) and counts top-1 and top-5 hits. Accuracy is
 * top1 / images with failures counted as misses (what torchvision's reference
 * script would report had it read them), or top1 / classified. fn may be NULL.
 * Returns as an_classify_files; AN_ERR_INVALID_ARGUMENT for a label outside
 * 0..AN_CLASSES-1. */
AN_API int an_eval(an_model *model, const an_labelled *set, const an_classify_options *options,
                   an_eval_fn fn, void *user, an_eval_stats *stats);

/* Counts top-1 and top-5 from `alexnet classify --json` outputs (several files,
 * e.g. one per shard) instead of classifying: each line's "path" is matched to
 * an image of set by its longest tail (the whole path, or what follows one of
 * its '/') that is a tail of one image's path and of no other's (so
 * "shard1/val/x.JPEG" matches "/data/val/x.JPEG"); a line with "error"
 * is a failure, one with "top" needs 5 classes unless the label is among those
 * it has. fn (may be NULL) gets each line's result in file order, then each
 * image no file holds, with status AN_ERR_IO (counted in stats->missing, not
 * in images). AN_ERR_BAD_FILE naming the file and line for a line that is not
 * classify's JSON, a path not in set, an image given twice (both places
 * named), too few classes; AN_ERR_IO for a file that cannot be read. stats
 * holds what was counted up to then. No device is used. */
AN_API int an_eval_merge(const an_labelled *set, const char *const *files, size_t nfiles,
                         an_eval_fn fn, void *user, an_eval_stats *stats);

/* ------------------------------------------------------------------------ */
/* Converting published weights (host only)                                  */

/* Converts a published AlexNet weights file to a .safetensors file that
 * an_model_load reads: a PyTorch .pth holding a state_dict (torch.save's zip
 * format or its legacy one; float32 or float16 tensors, kept as they are) or
 * a Caffe .caffemodel (NetParameter with `layer` or legacy V1 `layers`).
 * The format is told by the file's first bytes, the variant by the tensors'
 * names and shapes (torchvision's features.N/classifier.N names give
 * torchvision-224; a .caffemodel's layer list (types, order, kernel, stride,
 * pad, group, pooling, LRN parameters) must be exactly one Caffe variant's,
 * caffe-227, caffe-bvlc-227 or caffenet-227, else it is refused naming the first
 * layer that differs; a .pth with Caffe's names whose shapes fit both
 * caffe-bvlc-227 and caffenet-227 is refused, see an_convert_variant;
 * nn.DataParallel's "module." prefix is dropped). Nothing in the file is
 * executed: a pickle opcode or global outside a state_dict's subset is
 * refused. On success the variant's name is copied to variant_out (may be
 * NULL; size bytes, truncated). Errors: AN_ERR_IO (cannot read or write),
 * AN_ERR_BAD_FILE (malformed, truncated or tampered input: the error text says
 * where and why), AN_ERR_BAD_WEIGHTS (the tensors fit no variant: the text
 * names the tensor, its shape and the shapes expected). The preprocessing the
 * source states is recorded in out's __metadata__ as "preprocess"
 * (an_preprocess_parse's spec; an_model_load then follows it): a Caffe data
 * layer's transform_param (crop_size, mean_value, scale; B,G,R order; a
 * mean_file is not recorded), an ONNX model's metadata_props ("preprocess",
 * Windows ML's Image.BitmapPixelFormat and Image.NominalPixelRange); a .pth
 * states none. out is written
 * through a temporary "OUT.partial", checked by loading it back, then
 * renamed, so a failure leaves no output file behind. */
AN_API int an_convert(const char *in, const char *out, char *variant_out, size_t size);

/* What an_convert_ex found. */
typedef struct {
    char variant[64];     /* the variant the tensors fit */
    char format[64];      /* "PyTorch zip (torch.save)", "Caffe NetParameter (layer)", ... */
    char source_key[128]; /* where a checkpoint kept the state_dict ("state_dict",
                             "model.state_dict"), "" when the file is the state_dict */
} an_convert_info;

/* an_convert, saying more: a .pth may also be a checkpoint, a dict holding
 * the state_dict under "state_dict", "model_state_dict", "model" or "net"
 * (up to three levels down) beside entries that are read and ignored (epoch,
 * accuracy, optimizer state...; still nothing executed); "module." is dropped
 * wherever nn.DataParallel or DistributedDataParallel put it in a name
 * ("features.module.0.weight"). info may be NULL; it is zeroed on failure. */
AN_API int an_convert_ex(const char *in, const char *out, an_convert_info *info);

/* an_convert_ex with the variant named (NULL: told from the file as above).
 * A .caffemodel's layer list names its network: when it is not `variant`'s, the
 * file is refused (AN_ERR_BAD_WEIGHTS). A .pth holds no layers, so its tensors'
 * shapes choose among the variants only where the variants have the same
 * layers: a .pth whose shapes fit two different networks (caffe-bvlc-227 and
 * caffenet-227 have the same tensors) is refused unless `variant` names one.
 * AN_ERR_UNKNOWN_VARIANT for a name not in the table. */
AN_API int an_convert_variant(const char *in, const char *out, const char *variant,
                              an_convert_info *info);

#ifdef __cplusplus
}
#endif
#endif /* ALEXNET_H */
