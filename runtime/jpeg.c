/* jpeg.c - JPEG decoding (libjpeg-turbo) to RGB8, reproducing PIL 9.4's
 * Image.open(path).convert("RGB") on Debian 12, whose PIL links the same
 * libjpeg62-turbo. What PIL does, and so what this does:
 *   - the library's defaults: JDCT_ISLOW and fancy (smooth) upsampling; PIL
 *     changes them only under Image.draft(), which open/convert never call;
 *   - 1 component: decoded as grayscale ("L"), then replicated to R=G=B;
 *   - 3 components: libjpeg's own colour-space guess (JFIF or no marker: YCbCr,
 *     Adobe transform 0 or component ids 'R','G','B': RGB) converted to RGB;
 *   - 4 components: decoded to CMYK (libjpeg turns YCCK into CMYK) and ALWAYS
 *     read as Adobe's inverted CMYK (PIL's rawmode "CMYK;I", "assume adobe
 *     conventions", whether or not an APP14 Adobe marker is present), then
 *     PIL's Convert.c cmyk2rgb: with nk = 255 - k, out = nk - round(c * nk / 255)
 *     computed as MULDIV255 does;
 *   - EXIF orientation is NOT applied (convert does not transpose), ICC profiles
 *     and every other APPn marker are ignored;
 *   - corrupt entropy-coded data that libjpeg only warns about ("Corrupt JPEG
 *     data: ...") is decoded as libjpeg decodes it, because PIL ignores
 *     libjpeg's warnings and returns those pixels too;
 *   - a file that ends before its EOI marker is refused as truncated: PIL
 *     raises "image file is truncated" there (unless LOAD_TRUNCATED_IMAGES).
 * Also refused, with the file name and the reason (AN_ERR_BAD_IMAGE): what
 * libjpeg refuses (bad markers, 12-bit data, 2 components...), images over
 * AN_IMAGE_MAX_PIXELS, told from the frame header before any pixel buffer
 * exists, and progressive files of more than MAX_SCANS scans (the cost of a
 * progressive file grows with its scan count; real ones have about ten, so a
 * file with thousands is an attack; PIL would decode it). libjpeg's
 * error_exit longjmps back here: nothing is ever printed, nothing exits. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h> /* jpeglib.h needs FILE and size_t first */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include <jerror.h> /* after jpeglib.h: JERR_ codes, ERREXIT */

#include "internal.h"

#define MAX_SCANS 1000

typedef struct {
    struct jpeg_error_mgr pub; /* first: libjpeg's err pointer points at it */
    jmp_buf jmp;
    char error[JMSG_LENGTH_MAX];
    char warning[JMSG_LENGTH_MAX]; /* the first warning, for the error text */
    int truncated;                 /* the data ended before EOI */
} jpeg_errors;

/* Everything the error path needs lives here, in the caller of the function
 * that calls setjmp, so that no local of that function is read after a
 * longjmp (C11 7.13.2.1p3). */
typedef struct {
    const char *name; /* for error texts: the path, or "image in memory" */
    const unsigned char *data;
    size_t size;
    struct jpeg_decompress_struct cinfo;
    jpeg_errors err;
    struct jpeg_source_mgr src;
    struct jpeg_progress_mgr progress;
    unsigned char *rgb; /* output pixels, width * height * 3 */
    unsigned char *row; /* one decoded scanline (gray or CMYK) */
    int created;        /* jpeg_create_decompress ran */
} jpeg_reader;

static void error_exit(j_common_ptr cinfo)
{
    jpeg_errors *e = (jpeg_errors *)cinfo->err;
    if (!e->error[0])
        (*cinfo->err->format_message)(cinfo, e->error);
    longjmp(e->jmp, 1);
}

/* Warnings (level -1) are kept for the error text and otherwise ignored, as
 * PIL ignores them; trace messages (level >= 0) are dropped. */
static void emit_message(j_common_ptr cinfo, int level)
{
    jpeg_errors *e = (jpeg_errors *)cinfo->err;
    if (level < 0) {
        if (!e->warning[0])
            (*cinfo->err->format_message)(cinfo, e->warning);
        cinfo->err->num_warnings++;
    }
}

static void output_message(j_common_ptr cinfo)
{
    (void)cinfo; /* never print */
}

/* The source: the whole file in memory. Running out of data is an error
 * (truncated), never the fake EOI libjpeg's own memory source inserts. */
static void init_source(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

static boolean fill_input_buffer(j_decompress_ptr cinfo)
{
    jpeg_errors *e = (jpeg_errors *)cinfo->err;
    e->truncated = 1;
    ERREXIT(cinfo, JERR_INPUT_EOF);
    return FALSE; /* not reached */
}

static void skip_input_data(j_decompress_ptr cinfo, long num_bytes)
{
    struct jpeg_source_mgr *src = cinfo->src;
    if (num_bytes <= 0)
        return;
    if ((unsigned long)num_bytes > src->bytes_in_buffer)
        fill_input_buffer(cinfo); /* past the end: truncated */
    src->next_input_byte += num_bytes;
    src->bytes_in_buffer -= (size_t)num_bytes;
}

static void term_source(j_decompress_ptr cinfo)
{
    (void)cinfo;
}

static void progress_monitor(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > MAX_SCANS) {
        jpeg_errors *e = (jpeg_errors *)cinfo->err;
        snprintf(e->error, sizeof e->error, "progressive JPEG with more than %d scans, refused",
                 MAX_SCANS);
        longjmp(e->jmp, 1);
    }
}

/* PIL's MULDIV255(a, b): a * b / 255 rounded, in integers. */
static inline int muldiv255(int a, int b)
{
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

/* Runs libjpeg over r->data; fills r->rgb and the size. */
static int jpeg_decode_run(jpeg_reader *r, int *width, int *height)
{
    struct jpeg_decompress_struct *c = &r->cinfo;
    if (setjmp(r->err.jmp)) {
        if (r->err.truncated)
            return an__fail(AN_ERR_BAD_IMAGE,
                            "%s: truncated JPEG: the data ends (%zu bytes) before the image "
                            "does%s%s%s",
                            r->name, r->size, r->err.warning[0] ? " (" : "", r->err.warning,
                            r->err.warning[0] ? ")" : "");
        return an__fail(AN_ERR_BAD_IMAGE, "%s: not a valid JPEG: %s%s%s%s", r->name, r->err.error,
                        r->err.warning[0] ? " (after the warning: " : "", r->err.warning,
                        r->err.warning[0] ? ")" : "");
    }
    r->created = 1; /* jpeg_destroy copes with a half-made struct */
    jpeg_create_decompress(c);
    r->src.next_input_byte = r->data;
    r->src.bytes_in_buffer = r->size;
    r->src.init_source = init_source;
    r->src.fill_input_buffer = fill_input_buffer;
    r->src.skip_input_data = skip_input_data;
    r->src.resync_to_restart = jpeg_resync_to_restart;
    r->src.term_source = term_source;
    c->src = &r->src;
    r->progress.progress_monitor = progress_monitor;
    c->progress = &r->progress;

    (void)jpeg_read_header(c, TRUE);
    const unsigned w = c->image_width, h = c->image_height;
    if ((uint64_t)w * h > AN_IMAGE_MAX_PIXELS)
        return an__fail(AN_ERR_BAD_IMAGE, "%s: %ux%u is %llu pixels, over the limit of %d", r->name,
                        w, h, (unsigned long long)w * h, AN_IMAGE_MAX_PIXELS);
    const int ncomp = c->num_components;
    if (ncomp == 1)
        c->out_color_space = JCS_GRAYSCALE;
    else if (ncomp == 3)
        c->out_color_space = JCS_RGB;
    else if (ncomp == 4)
        c->out_color_space = JCS_CMYK;
    else
        return an__fail(AN_ERR_BAD_IMAGE,
                        "%s: a JPEG of %d components (PIL, and this, read 1, 3 or 4)", r->name,
                        ncomp);
    c->dct_method = JDCT_ISLOW; /* PIL's: the library's defaults, spelled out */
    c->do_fancy_upsampling = TRUE;
    c->do_block_smoothing = TRUE;
    c->scale_num = c->scale_denom = 1;

    (void)jpeg_start_decompress(c);
    if (c->output_width != w || c->output_height != h ||
        c->output_components != (ncomp == 1   ? 1
                                 : ncomp == 3 ? 3
                                              : 4))
        return an__fail(AN_ERR_BAD_IMAGE, "%s: libjpeg gives %ux%u with %d components, not %ux%u",
                        r->name, c->output_width, c->output_height, c->output_components, w, h);
    r->rgb = malloc((size_t)w * h * 3);
    r->row = ncomp == 3 ? NULL : malloc((size_t)w * ncomp);
    if (!r->rgb || (ncomp != 3 && !r->row))
        return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: no memory for %ux%u pixels", r->name, w, h);
    while (c->output_scanline < h) {
        unsigned char *dst = r->rgb + (size_t)c->output_scanline * w * 3;
        JSAMPROW row = ncomp == 3 ? dst : r->row;
        if (jpeg_read_scanlines(c, &row, 1) != 1)
            return an__fail(AN_ERR_BAD_IMAGE, "%s: libjpeg returned no scanline at row %u", r->name,
                            c->output_scanline);
        if (ncomp == 1) {
            for (unsigned x = 0; x < w; x++)
                dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = r->row[x];
        } else if (ncomp == 4) {
            for (unsigned x = 0; x < w; x++) {
                const unsigned char *p = r->row + 4 * x;
                const int nk = p[3]; /* 255 - (255 - k): the inverted sample is nk */
                for (int ch = 0; ch < 3; ch++) {
                    int v = nk - muldiv255(255 - p[ch], nk);
                    dst[3 * x + ch] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
                }
            }
        }
    }
    (void)jpeg_finish_decompress(c); /* reads on to EOI: a missing EOI is truncation */
    *width = (int)w;
    *height = (int)h;
    return AN_OK;
}

int an__decode_jpeg(const void *data, size_t size, const char *name, an_image *out)
{
    jpeg_reader r;
    memset(&r, 0, sizeof r);
    r.name = name;
    r.data = data;
    r.size = size;
    r.cinfo.err = jpeg_std_error(&r.err.pub);
    r.err.pub.error_exit = error_exit;
    r.err.pub.emit_message = emit_message;
    r.err.pub.output_message = output_message;

    memset(out, 0, sizeof *out);
    int width = 0, height = 0;
    int status = jpeg_decode_run(&r, &width, &height);
    if (status == AN_OK) {
        out->width = width;
        out->height = height;
        out->rgb = r.rgb;
        r.rgb = NULL;
    }
    if (r.created)
        jpeg_destroy_decompress(&r.cinfo);
    free(r.rgb);
    free(r.row);
    return status;
}
