/* image.c - the classification front end on the host: PNG decoding (libpng) to
 * RGB8, files told PNG or JPEG by their first bytes (JPEG: jpeg.c), and the variants' preprocessing
 * (resize, centre crop, normalise) into a (3, crop, crop) float32 input.
 *
 * Decoding reproduces PIL 9.4's Image.open(path).convert("RGB"), as checked on
 * every PNG kind by tests/reference/preprocess_ref.py against Debian 12's PIL:
 *   - alpha is DROPPED, not composited: RGBA, gray+alpha, palette+tRNS, gray+tRNS
 *     and RGB+tRNS all give their colour samples unchanged (PIL's convert
 *     discards the alpha band and the "transparency" info on the way to RGB);
 *   - 1/2/4-bit gray is scaled to 0..255 (x255, x85, x17), palettes looked up;
 *   - 16-bit samples keep their high byte (PIL's "RGB;16B", "LA;16B", ... unpackers).
 *     Deliberate exception: PIL opens 16-bit gray as mode "I" and its convert
 *     ("RGB") clips the values at 255, so photographs come out white (Pillow
 *     issue #2574); we keep the high byte there too;
 *   - gAMA, sBIT, iCCP and friends are ignored, as PIL ignores them.
 * The file is first rebuilt as PIL reads it (see rebuild()): CRCs checked before
 * the first IDAT only, PIL's padded palette (indices past the PLTE's entries are
 * grey), the image data as PIL's blocks, nothing after the image data but a check
 * that each chunk's data is there. Decoding stops at the last row, as PIL's does,
 * so a missing IEND or Adler-32 is accepted; a bad Adler-32 is refused when zlib
 * meets it within the last row's input block, as in PIL.
 * Files are refused (AN_ERR_BAD_IMAGE, with the file name and the reason) when
 * they are empty, not PNG, truncated before the last row, corrupt (a CRC error
 * before the first IDAT, zlib errors, bad filters) or larger than
 * AN_IMAGE_MAX_PIXELS, the last from the IHDR before any pixel buffer exists.
 * tests/reference/preprocess_ref.py's pil_cases() are the cases checked against
 * PIL; one kind is not reproduced: a malformed known chunk after the image data
 * (an iCCP without its name's terminator, a short IHDR), which PIL's load_end()
 * parses and refuses, is skipped here.
 * libpng's warnings are kept for the error text, never printed.
 *
 * Preprocessing reproduces torchvision's Resize/CenterCrop/ToTensor/Normalize on a
 * PIL image. The resize is PIL's Resample.c for BILINEAR on 8-bit RGB: a triangle
 * filter whose support grows with the downscale factor (antialiasing), double
 * coefficients normalised per output sample then rounded to 22-bit fixed point,
 * a horizontal pass first whose results are rounded and clamped to uint8, then a
 * vertical pass over them. Every output sample depends only on its own
 * coefficients, so only the samples inside the crop window are computed, with
 * the same arithmetic: the result equals PIL's bit for bit. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

#define MAX_FILE_BYTES ((size_t)1 << 30) /* a 100 MP 16-bit RGBA PNG stored raw fits */
#define MAX_SIDE 1000000                 /* png_set_user_limits, per side */
#define PIL_BLOCK 65536                  /* PIL's ImageFile.decodermaxblock */

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */

/* Everything the libpng callbacks and the error path share. It lives in the
 * caller of the function that calls setjmp, so nothing that longjmp could leave
 * indeterminate is a local there (C11 7.13.2.1p3): no volatile locals needed. */
typedef struct {
    const char *name;          /* for error texts: the path, or "PNG in memory" */
    const unsigned char *data; /* the whole file */
    size_t size;
    unsigned char *stream;   /* the file as PIL reads it, rebuilt for libpng (see rebuild()) */
    size_t stream_size, pos; /* read cursor of read_cb in stream */
    size_t cut_at;           /* offset in stream of the IDAT chunk cut by the end of the file,
                              * or SIZE_MAX */
    size_t cut_offset;       /* that chunk's offset in the file */
    size_t pos_done;         /* pos when the last row was decoded */
    long rows_expected, rows_done; /* rows libpng decodes (all passes), rows it has decoded */
    char error[160];               /* libpng's error text */
    char warning[160];             /* libpng's last warning */
    png_structp png;
    png_infop info;
    unsigned char *rgb; /* output pixels, width * height * 3 */
    png_bytep *rows;    /* row pointers into rgb */
    int width, height;
} png_reader;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* PIL's is_cid(): four bytes matching \w (ASCII letters, digits, '_'). */
static int is_chunk_type(const unsigned char *t)
{
    for (int i = 0; i < 4; i++)
        if (!(isalnum(t[i]) && t[i] < 128) && t[i] != '_')
            return 0;
    return 1;
}

/* The chunk type for error texts, bytes that are not letters shown as '?'. */
static const char *type_text(const unsigned char *t, char out[5])
{
    for (int i = 0; i < 4; i++)
        out[i] = isalpha(t[i]) && t[i] < 128 ? (char)t[i] : '?';
    out[4] = '\0';
    return out;
}

/* Appends a chunk with its CRC to r->stream (which has room: see rebuild()). */
static void put_chunk(png_reader *r, const char *type, const unsigned char *data, size_t len)
{
    unsigned char *p = r->stream + r->stream_size;
    p[0] = (unsigned char)(len >> 24);
    p[1] = (unsigned char)(len >> 16);
    p[2] = (unsigned char)(len >> 8);
    p[3] = (unsigned char)len;
    memcpy(p + 4, type, 4);
    if (len)
        memcpy(p + 8, data, len);
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), p + 4, (uInt)len + 4);
    p[8 + len] = (unsigned char)(crc >> 24);
    p[9 + len] = (unsigned char)(crc >> 16);
    p[10 + len] = (unsigned char)(crc >> 8);
    p[11 + len] = (unsigned char)crc;
    r->stream_size += 12 + len;
}

/* Rebuilds the file the way PIL 9.4's PngImagePlugin reads it, so that libpng
 * decodes what PIL decodes and refuses what PIL refuses:
 *   - chunks before the first IDAT must be complete with a correct CRC (PIL's
 *     PngImageFile._open checks every one, ancillary or not);
 *   - a palette image's colours are PIL's: a grey ramp (entry i is (i, i, i))
 *     overwritten by the last PLTE's entries, so that indices past the PLTE's
 *     entries, a short PLTE or none at all give grey; more than 256 entries are
 *     refused. libpng gets the whole table as one PLTE of 2^depth entries after
 *     the IHDR; tRNS is left out of palette images (its alpha is dropped anyway);
 *     PLTE is left out of other kinds (PIL ignores it there);
 *   - the image data are the consecutive IDAT chunks from the first one; their
 *     CRCs are not checked (PIL never reads them), a chunk the end of the file cuts
 *     gives the data that is there, and libpng gets them in PIL's reading blocks
 *     (at most PIL_BLOCK bytes, never across a chunk), so that zlib sees the same
 *     input pieces (whether a bad Adler-32 is noticed depends on that);
 *   - after the image data, as PIL's load_end(): CRCs are not checked, the file
 *     may end at any chunk header or after IEND with anything after it, and may
 *     lack IEND; a chunk whose data runs past the end of the file is refused (PIL's
 *     _safe_read raises). libpng gets a plain IEND instead of these chunks. */
static int rebuild(png_reader *r)
{
    const unsigned char *d = r->data;
    const size_t n = r->size;
    size_t pos = 8, plte_at = 0;
    int color = -1, depth = 0;
    unsigned char palette[3 * 256];
    char tt[5];

    /* The rebuilt stream is never longer than this: each PIL block costs 12 bytes
     * of chunk framing, and PLTE and IEND are added. */
    size_t cap = n + (n / PIL_BLOCK + 1) * 12 + 12 + 3 * 256 + 12 + 12;
    r->stream = malloc(cap);
    if (!r->stream)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: no memory for %zu bytes", r->name, cap);
    memcpy(r->stream, d, 8);
    r->stream_size = 8;
    r->cut_at = SIZE_MAX;

    for (;;) {
        if (n - pos < 8)
            return an__fail(AN_ERR_BAD_IMAGE,
                            "%s: not a valid PNG: truncated: the chunk at offset %zu needs a "
                            "header of 8 bytes, %zu left, and there was no image data (IDAT)",
                            r->name, pos, n - pos);
        const uint32_t len = be32(d + pos);
        const unsigned char *type = d + pos + 4;
        if (memcmp(type, "IDAT", 4) == 0)
            break;
        if (len > n - pos - 8 || n - pos - 8 - len < 4)
            return an__fail(AN_ERR_BAD_IMAGE,
                            "%s: not a valid PNG: truncated: chunk %s at offset %zu has %u bytes "
                            "of data and a CRC, the file has %zu bytes after its header",
                            r->name, type_text(type, tt), pos, (unsigned)len, n - pos - 8);
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), type, (uInt)len + 4);
        if (crc != be32(d + pos + 8 + len))
            return an__fail(AN_ERR_BAD_IMAGE,
                            "%s: not a valid PNG: CRC error in chunk %s at offset %zu (PIL refuses "
                            "CRC errors before the image data)",
                            r->name, type_text(type, tt), pos);
        if (memcmp(type, "IEND", 4) == 0)
            return an__fail(AN_ERR_BAD_IMAGE,
                            "%s: not a valid PNG: IEND at offset %zu before any "
                            "image data (IDAT)",
                            r->name, pos);
        const unsigned char *body = d + pos + 8;
        const size_t whole = 12 + (size_t)len;
        if (pos == 8 && memcmp(type, "IHDR", 4) == 0 && len == 13) {
            depth = body[8];
            color = body[9];
            memcpy(r->stream + r->stream_size, d + pos, whole);
            r->stream_size += whole;
            if (color == PNG_COLOR_TYPE_PALETTE) { /* room for the PLTE, written below */
                for (int i = 0; i < 256; i++)
                    memset(palette + 3 * i, i, 3);
                plte_at = r->stream_size;
                int entries = depth >= 1 && depth <= 8 ? 1 << depth : 256;
                r->stream_size += 12 + 3 * (size_t)entries;
            }
        } else if (memcmp(type, "PLTE", 4) == 0 && color == PNG_COLOR_TYPE_PALETTE) {
            if (len / 3 > 256)
                return an__fail(AN_ERR_BAD_IMAGE,
                                "%s: not a valid PNG: PLTE at offset %zu has %u entries, over 256",
                                r->name, pos, (unsigned)(len / 3));
            for (int i = 0; i < 256; i++)
                memset(palette + 3 * i, i, 3);
            memcpy(palette, body, len / 3 * 3);
        } else if (!(memcmp(type, "PLTE", 4) == 0 ||
                     (memcmp(type, "tRNS", 4) == 0 && color == PNG_COLOR_TYPE_PALETTE))) {
            memcpy(r->stream + r->stream_size, d + pos, whole);
            r->stream_size += whole;
        }
        pos += whole;
    }
    if (plte_at) {
        size_t end = r->stream_size, entries = depth >= 1 && depth <= 8 ? (size_t)1 << depth : 256;
        r->stream_size = plte_at;
        put_chunk(r, "PLTE", palette, 3 * entries);
        r->stream_size = end;
    }

    /* The image data. */
    while (n - pos >= 8 && memcmp(d + pos + 4, "IDAT", 4) == 0) {
        const uint32_t len = be32(d + pos);
        const size_t have = n - pos - 8, take = len < have ? len : have;
        if (take < len) {
            r->cut_at = r->stream_size;
            r->cut_offset = pos;
        }
        for (size_t k = 0; k < take; k += PIL_BLOCK)
            put_chunk(r, "IDAT", d + pos + 8 + k, take - k < PIL_BLOCK ? take - k : PIL_BLOCK);
        pos += 8 + take;
        pos += n - pos < 4 ? n - pos : 4; /* the CRC */
    }

    /* After it. */
    while (n - pos >= 8) {
        const uint32_t len = be32(d + pos);
        const unsigned char *type = d + pos + 4;
        if (!is_chunk_type(type) || memcmp(type, "IEND", 4) == 0)
            break;
        if (len > n - pos - 8)
            return an__fail(AN_ERR_BAD_IMAGE,
                            "%s: not a valid PNG: truncated: chunk %s at offset %zu after the "
                            "image data has %u bytes of data, the file %zu (PIL refuses this too)",
                            r->name, type_text(type, tt), pos, (unsigned)len, n - pos - 8);
        pos += 8 + (size_t)len;
        pos += n - pos < 4 ? n - pos : 4;
    }
    put_chunk(r, "IEND", NULL, 0);
    return AN_OK;
}

static void read_cb(png_structp png, png_bytep dst, size_t len)
{
    png_reader *r = png_get_io_ptr(png);
    if (len > r->stream_size - r->pos) {
        char msg[96];
        snprintf(msg, sizeof msg, "truncated: the image data end before the last row (%zu bytes)",
                 r->size);
        png_error(png, msg); /* error_cb copies msg before the longjmp */
    }
    memcpy(dst, r->stream + r->pos, len);
    r->pos += len;
}

/* Called by libpng for each decoded row (of each Adam7 pass) before it is stored. */
static void row_cb(png_structp png, png_row_infop info, png_bytep row)
{
    (void)info;
    (void)row;
    png_reader *r = png_get_io_ptr(png);
    if (++r->rows_done == r->rows_expected)
        r->pos_done = r->pos;
}

static void error_cb(png_structp png, png_const_charp msg)
{
    png_reader *r = png_get_error_ptr(png);
    snprintf(r->error, sizeof r->error, "%s", msg);
    png_longjmp(png, 1);
}

static void warning_cb(png_structp png, png_const_charp msg)
{
    png_reader *r = png_get_error_ptr(png);
    snprintf(r->warning, sizeof r->warning, "%s", msg);
}

/* The end of a decode whose rows are all there: the IDAT chunk that the end of
 * the file cuts must be one the rows needed (PIL reads the rest of the image data
 * as ordinary chunks, whose data must be complete). */
static int png_done(png_reader *r)
{
    if (r->cut_at != SIZE_MAX && r->pos_done <= r->cut_at)
        return an__fail(AN_ERR_BAD_IMAGE,
                        "%s: not a valid PNG: truncated: chunk IDAT at offset %zu, after the "
                        "image data, runs past the end of the file (PIL refuses this too)",
                        r->name, r->cut_offset);
    return AN_OK;
}

/* Runs libpng over r->stream; fills r->rgb, r->width, r->height. On a libpng error
 * control comes back to the setjmp with everything to free reachable from r. */
static int png_decode(png_reader *r)
{
    if (setjmp(png_jmpbuf(r->png))) {
        /* After the last row libpng reads the end of the zlib stream (checksum,
         * stray data); PIL stops at the last row, so errors there do not count. */
        if (r->rows_expected > 0 && r->rows_done == r->rows_expected)
            return png_done(r);
        if (strcmp(r->error, "Not enough image data") == 0)
            return an__fail(AN_ERR_BAD_IMAGE,
                            "%s: not a valid PNG: truncated: the image data (IDAT) end before "
                            "the last row (%ld of %ld %s decoded)",
                            r->name, r->rows_done, r->rows_expected,
                            png_get_interlace_type(r->png, r->info) == PNG_INTERLACE_ADAM7
                                ? "rows of the Adam7 passes"
                                : "rows");
        return an__fail(AN_ERR_BAD_IMAGE, "%s: not a valid PNG: %s%s%s%s", r->name, r->error,
                        r->warning[0] ? " (" : "", r->warning, r->warning[0] ? ")" : "");
    }
    png_set_read_fn(r->png, r, read_cb);
    png_set_user_limits(r->png, MAX_SIDE, MAX_SIDE);
    png_set_compression_buffer_size(r->png, PIL_BLOCK); /* zlib input: one block at a time */
    png_read_info(r->png, r->info);

    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(r->png, r->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if ((uint64_t)w * h > AN_IMAGE_MAX_PIXELS) {
        return an__fail(AN_ERR_BAD_IMAGE, "%s: %ux%u is %llu pixels, over the limit of %d", r->name,
                        (unsigned)w, (unsigned)h, (unsigned long long)w * h, AN_IMAGE_MAX_PIXELS);
    }

    /* Every kind to RGB8 the way PIL's convert("RGB") gets there. */
    if (depth == 16)
        png_set_strip_16(r->png); /* high byte */
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(r->png); /* PIL's palette, see rebuild() */
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(r->png); /* scaled to 0..255 */
    if (!(color & PNG_COLOR_MASK_COLOR))
        png_set_gray_to_rgb(r->png);
    if (png_get_valid(r->png, r->info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(r->png); /* made an alpha channel, then stripped below */
    png_set_strip_alpha(r->png);
    png_set_read_user_transform_fn(r->png, row_cb);
    (void)png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    if (png_get_channels(r->png, r->info) != 3 || png_get_bit_depth(r->png, r->info) != 8 ||
        png_get_rowbytes(r->png, r->info) != (size_t)w * 3) {
        return an__fail(AN_ERR_BAD_IMAGE, "%s: libpng gives %d channels of %d bits, not RGB8",
                        r->name, png_get_channels(r->png, r->info),
                        png_get_bit_depth(r->png, r->info));
    }
    if (interlace == PNG_INTERLACE_ADAM7) {
        for (int pass = 0; pass < 7; pass++)
            if (PNG_PASS_COLS(w, pass) > 0)
                r->rows_expected += (long)PNG_PASS_ROWS(h, pass);
    } else {
        r->rows_expected = (long)h;
    }

    r->rgb = malloc((size_t)w * h * 3);
    r->rows = malloc((size_t)h * sizeof *r->rows);
    if (!r->rgb || !r->rows)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: no memory for %ux%u pixels", r->name,
                        (unsigned)w, (unsigned)h);
    for (png_uint_32 y = 0; y < h; y++)
        r->rows[y] = r->rgb + (size_t)y * w * 3;
    r->width = (int)w; /* before the last row, for the error path above */
    r->height = (int)h;
    png_read_image(r->png, r->rows);
    /* No png_read_end: rebuild() has checked what follows the image data. */
    return png_done(r);
}

/* The one decoding path; name is what error texts call the data. */
static int decode_png(const void *data, size_t size, const char *name, an_image *out)
{
    png_reader r;
    memset(&r, 0, sizeof r);
    r.name = name;
    r.data = data;
    r.size = size;
    int status = AN_OK;

    if (!out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_image_decode_png: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_image_decode_png_memory: data is NULL");
    if (size == 0)
        return an__fail(AN_ERR_BAD_IMAGE, "%s: empty (0 bytes), not a PNG", name);
    if (size < 8 || png_sig_cmp(r.data, 0, 8) != 0) {
        char head[3 * 8 + 1] = "";
        for (size_t i = 0; i < size && i < 8; i++)
            snprintf(head + 3 * i, sizeof head - 3 * i, "%02x ", r.data[i]);
        head[strlen(head) - 1] = '\0';
        return an__fail(AN_ERR_BAD_IMAGE,
                        "%s: not a PNG file (%zu bytes, starts with %s; a PNG starts with "
                        "89 50 4e 47 0d 0a 1a 0a)",
                        name, size, head);
    }

    r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, error_cb, warning_cb);
    if (!r.png) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "%s: png_create_read_struct failed", name);
        goto fail;
    }
    r.info = png_create_info_struct(r.png);
    if (!r.info) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "%s: png_create_info_struct failed", name);
        goto fail;
    }
    AN_TRY(rebuild(&r));
    AN_TRY(png_decode(&r));
    out->width = r.width;
    out->height = r.height;
    out->rgb = r.rgb;
    r.rgb = NULL;

fail:
    png_destroy_read_struct(&r.png, &r.info, NULL);
    free(r.rows);
    free(r.stream);
    free(r.rgb);
    return status;
}

int an_image_decode_png_memory(const void *data, size_t size, an_image *out)
{
    an__clear_error();
    return decode_png(data, size, "PNG in memory", out);
}

/* The whole file at path into *buf (malloc'd, the caller frees it); works for
 * pipes too. AN_ERR_IO when it cannot be read. */
static int read_file(const char *path, unsigned char **buf_out, size_t *size_out)
{
    FILE *f = NULL;
    unsigned char *buf = NULL;
    size_t size = 0, cap = 0;
    int status = AN_OK;

    *buf_out = NULL;
    *size_out = 0;
    f = fopen(path, "rb");
    if (!f)
        return an__fail(AN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    for (;;) {
        if (size == cap) {
            if (cap >= MAX_FILE_BYTES) {
                status = an__fail(AN_ERR_BAD_IMAGE, "%s: larger than the %zu MiB limit", path,
                                  MAX_FILE_BYTES >> 20);
                goto fail;
            }
            size_t new_cap = cap ? 2 * cap : 1 << 16;
            unsigned char *p = realloc(buf, new_cap);
            if (!p) {
                status =
                    an__fail(AN_ERR_OUT_OF_MEMORY, "%s: no memory for %zu bytes", path, new_cap);
                goto fail;
            }
            buf = p;
            cap = new_cap;
        }
        size_t n = fread(buf + size, 1, cap - size, f);
        size += n;
        if (n == 0) {
            if (ferror(f)) {
                status = an__fail(AN_ERR_IO, "%s: read error: %s", path, strerror(errno));
                goto fail;
            }
            break;
        }
    }
    fclose(f);
    *buf_out = buf;
    *size_out = size;
    return AN_OK;

fail:
    fclose(f);
    free(buf);
    return status;
}

int an_image_decode_png(const char *path, an_image *out)
{
    an__clear_error();
    if (out)
        memset(out, 0, sizeof *out);
    if (!path || !out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_image_decode_png: path or out is NULL");
    unsigned char *buf;
    size_t size;
    int status = read_file(path, &buf, &size);
    if (status == AN_OK)
        status = decode_png(buf, size, path, out);
    free(buf);
    return status;
}

/* PNG or JPEG, told by the first bytes (never by the name). */
static int decode_any(const unsigned char *data, size_t size, const char *name, an_image *out)
{
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return an__decode_jpeg(data, size, name, out);
    if (size >= 8 && memcmp(data, png_sig, 8) == 0)
        return decode_png(data, size, name, out);
    memset(out, 0, sizeof *out);
    if (size == 0)
        return an__fail(AN_ERR_BAD_IMAGE, "%s: empty (0 bytes), not an image", name);
    char head[3 * 8 + 1] = "";
    for (size_t i = 0; i < size && i < 8; i++)
        snprintf(head + 3 * i, sizeof head - 3 * i, "%02x ", data[i]);
    head[strlen(head) - 1] = '\0';
    return an__fail(AN_ERR_BAD_IMAGE,
                    "%s: neither PNG nor JPEG (%zu bytes, starts with %s; a PNG starts with "
                    "89 50 4e 47 0d 0a 1a 0a, a JPEG with ff d8 ff)",
                    name, size, head);
}

int an_image_decode(const char *path, an_image *out)
{
    an__clear_error();
    if (out)
        memset(out, 0, sizeof *out);
    if (!path || !out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_image_decode: path or out is NULL");
    unsigned char *buf;
    size_t size;
    int status = read_file(path, &buf, &size);
    if (status == AN_OK)
        status = decode_any(buf, size, path, out);
    free(buf);
    return status;
}

int an_image_decode_memory(const void *data, size_t size, an_image *out)
{
    an__clear_error();
    if (!out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_image_decode_memory: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_image_decode_memory: data is NULL");
    return decode_any(data, size, "image in memory", out);
}

void an_image_free(an_image *img)
{
    if (!img)
        return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

/* ------------------------------------------------------------------------ */
/* Preprocessing                                                            */

int an_preprocess_default(const char *variant, an_preprocess *out)
{
    an__clear_error();
    if (!out)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_preprocess_default: out is NULL");
    memset(out, 0, sizeof *out);
    const an__variant *v = an__variant_find(variant);
    if (!v)
        return AN_ERR_UNKNOWN_VARIANT;
    *out = v->preprocess;
    return AN_OK;
}

/* Whitespace-trimmed [p, e) of s. */
static void trim(const char **p, const char **e)
{
    while (*p < *e && isspace((unsigned char)**p))
        (*p)++;
    while (*e > *p && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* One number of [p, e): a decimal or "A/B" (a fraction, as in scale=1/255). */
static int parse_number(const char *p, const char *e, double *out)
{
    char buf[64];
    size_t n = (size_t)(e - p);
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    double a = strtod(buf, &end);
    if (end == buf || errno)
        return -1;
    if (*end == '/') {
        char *den = end + 1, *end2;
        double b = strtod(den, &end2);
        if (end2 == den || *end2 || errno || b == 0.0)
            return -1;
        a /= b;
    } else if (*end) {
        return -1;
    }
    if (!isfinite(a))
        return -1;
    *out = a;
    return 0;
}

/* Exactly `want` numbers of [p, e), separated by commas and/or spaces. */
static int parse_numbers(const char *p, const char *e, double *out, int want)
{
    int n = 0;
    while (p < e) {
        while (p < e && (isspace((unsigned char)*p) || *p == ','))
            p++;
        if (p == e)
            break;
        const char *q = p;
        while (q < e && !isspace((unsigned char)*q) && *q != ',')
            q++;
        if (n == want || parse_number(p, q, &out[n]) != 0)
            return -1;
        n++;
        p = q;
    }
    return n == want ? 0 : -1;
}

int an_preprocess_parse(const char *spec, an_preprocess *pp)
{
    an__clear_error();
    if (!spec || !pp)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "an_preprocess_parse: spec or pp is NULL");
    an_preprocess out = *pp;
    double mean[3], scale = 0.0, std[3];
    int have_mean = 0, have_scale = 0;
    for (const char *p = spec; *p;) {
        const char *e = strchr(p, ';');
        if (!e)
            e = p + strlen(p);
        const char *k = p, *ke = e;
        trim(&k, &ke);
        p = *e ? e + 1 : e;
        if (k == ke)
            continue; /* empty item: "a=1;;b=2", a trailing ';' */
        const char *eq = memchr(k, '=', (size_t)(ke - k));
        if (!eq)
            return an__fail(AN_ERR_INVALID_ARGUMENT,
                            "preprocessing: '%.*s' is not KEY=VALUE (keys: resize, crop, mean, "
                            "scale, std, order)",
                            (int)(ke - k), k);
        const char *kn = k, *kne = eq, *v = eq + 1, *ve = ke;
        trim(&kn, &kne);
        trim(&v, &ve);
        const int klen = (int)(kne - kn), vlen = (int)(ve - v);
#define KEY_IS(s) (klen == (int)strlen(s) && strncmp(kn, s, (size_t)klen) == 0)
        if (KEY_IS("resize")) {
            double a, b;
            const char *x = memchr(v, 'x', (size_t)vlen);
            if (vlen == 4 && strncmp(v, "none", 4) == 0) {
                out.resize = 0;
            } else if (x ? parse_number(v, x, &a) || parse_number(x + 1, ve, &b) || a != b
                         : parse_number(v, ve, &a)) {
                return an__fail(AN_ERR_INVALID_ARGUMENT,
                                "preprocessing: resize '%.*s' is not N (the shorter side to N), "
                                "NxN (both sides to N; only square) or none",
                                vlen, v);
            } else if (a != floor(a) || a < 1 || a > 16384) {
                return an__fail(AN_ERR_INVALID_ARGUMENT,
                                "preprocessing: resize %.*s: the size must be a whole number of "
                                "pixels in 1..16384",
                                vlen, v);
            } else {
                out.resize = (int)a;
                out.resize_mode = x ? AN_RESIZE_EXACT : AN_RESIZE_SHORTER;
            }
        } else if (KEY_IS("crop")) {
            double a;
            if (parse_number(v, ve, &a) || a != floor(a) || a < 1 || a > 16384)
                return an__fail(AN_ERR_INVALID_ARGUMENT,
                                "preprocessing: crop '%.*s' is not a whole number of pixels in "
                                "1..16384",
                                vlen, v);
            out.crop = (int)a;
        } else if (KEY_IS("mean") || KEY_IS("std")) {
            const int is_mean = KEY_IS("mean");
            double *dst = is_mean ? mean : std;
            if (parse_numbers(v, ve, dst, 3))
                return an__fail(AN_ERR_INVALID_ARGUMENT,
                                "preprocessing: %s '%.*s' is not three numbers (one per output "
                                "channel, separated by commas or spaces)",
                                is_mean ? "mean" : "std", vlen, v);
            for (int c = 0; c < 3; c++)
                if (is_mean ? dst[c] < 0 || dst[c] > 255 : !(dst[c] > 0))
                    return an__fail(AN_ERR_INVALID_ARGUMENT,
                                    is_mean ? "preprocessing: mean %g (channel %d) is outside "
                                              "0..255: the mean is in pixel units, before scale"
                                            : "preprocessing: std %g (channel %d) must be above 0",
                                    dst[c], c);
            if (is_mean)
                have_mean = 1;
            else
                for (int c = 0; c < 3; c++)
                    out.std[c] = (float)std[c];
        } else if (KEY_IS("scale")) {
            if (parse_number(v, ve, &scale) || !(scale > 0) || (float)scale == 0.0f)
                return an__fail(AN_ERR_INVALID_ARGUMENT,
                                "preprocessing: scale '%.*s' is not a number above 0 (e.g. 1, "
                                "0.0078125 or 1/255)",
                                vlen, v);
            have_scale = 1;
        } else if (KEY_IS("order")) {
            if (vlen == 3 && (strncmp(v, "rgb", 3) == 0 || strncmp(v, "bgr", 3) == 0))
                out.bgr = v[0] == 'b';
            else
                return an__fail(AN_ERR_INVALID_ARGUMENT,
                                "preprocessing: order '%.*s' is not rgb or bgr", vlen, v);
        } else {
            return an__fail(AN_ERR_INVALID_ARGUMENT,
                            "preprocessing: unknown key '%.*s' (keys: resize, crop, mean, scale, "
                            "std, order)",
                            klen, kn);
        }
#undef KEY_IS
    }
    /* The mean is held after scaling: mean * scale, in double then rounded once. */
    if (have_scale || have_mean) {
        const double old_scale = pp->scale > 0.0f ? pp->scale : 1.0;
        const double s = have_scale ? scale : old_scale;
        for (int c = 0; c < 3; c++)
            if (have_mean || (float)s != pp->scale) /* the same scale keeps the mean's bits */
                out.mean[c] = (float)(have_mean ? mean[c] * s : pp->mean[c] / old_scale * s);
        out.scale = (float)s;
    }
    if (out.crop <= 0)
        return an__fail(AN_ERR_INVALID_ARGUMENT, "preprocessing: no crop size");
    if (out.resize > 0 && out.crop > out.resize)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "preprocessing: crop %d is larger than the resize (%d): the crop would "
                        "be padded with zeros",
                        out.crop, out.resize);
    for (int c = 0; c < 3; c++)
        if (!(out.std[c] > 0.0f))
            return an__fail(AN_ERR_INVALID_ARGUMENT,
                            "preprocessing: std %g (channel %d) must be above 0",
                            (double)out.std[c], c);
    *pp = out;
    return AN_OK;
}

/* A number with up to 9 significant digits, the shortest that reads back as the
 * same float, without a trailing ".0". */
static void fmt_float(char *buf, size_t size, double v)
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, v);
        if ((float)strtod(buf, NULL) == (float)v)
            return;
    }
}

void an_preprocess_format(const an_preprocess *pp, char *buf, size_t size)
{
    if (!buf || size == 0)
        return;
    buf[0] = '\0';
    if (!pp)
        return;
    char resize[48], scale[48], mean[3][48], std[3][48];
    if (pp->resize <= 0)
        snprintf(resize, sizeof resize, "none");
    else if (pp->resize_mode == AN_RESIZE_EXACT)
        snprintf(resize, sizeof resize, "%dx%d", pp->resize, pp->resize);
    else
        snprintf(resize, sizeof resize, "%d", pp->resize);
    /* a short decimal when one reads back exactly (0.5), else 1/N when that does (1/255) */
    double s = pp->scale > 0.0f ? pp->scale : 1.0, inv = nearbyint(1.0 / s);
    snprintf(scale, sizeof scale, "%g", s);
    if ((float)strtod(scale, NULL) != (float)s && inv >= 2.0 && (float)(1.0 / inv) == (float)s)
        snprintf(scale, sizeof scale, "1/%.0f", inv);
    else
        fmt_float(scale, sizeof scale, s);
    for (int c = 0; c < 3; c++) {
        /* in pixel units: mean / scale, shown with 6 digits (123.675 for 0.485 x 255) */
        snprintf(mean[c], sizeof mean[c], "%g", pp->mean[c] / s);
        fmt_float(std[c], sizeof std[c], pp->std[c]);
    }
    snprintf(buf, size, "resize=%s;crop=%d;mean=%s,%s,%s;scale=%s;std=%s,%s,%s;order=%s", resize,
             pp->crop, mean[0], mean[1], mean[2], scale, std[0], std[1], std[2],
             pp->bgr ? "bgr" : "rgb");
}

#define PRECISION_BITS (32 - 8 - 2) /* PIL's fixed point: 22 fraction bits */

/* Coefficients of one axis of PIL's resize, for output samples [first, first + count). */
typedef struct {
    int ksize;   /* coefficients per output sample */
    int *bounds; /* per output sample: first input index, number of inputs */
    int32_t *k;  /* ksize fixed-point coefficients per output sample */
} resample_axis;

static double bilinear_filter(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* PIL's precompute_coeffs() and normalize_coeffs_8bpc(), same operations in the
 * same order (a box of the whole image: in0 = 0, in1 = in_size as floats). */
static int axis_init(resample_axis *a, int in_size, int out_size, int first, int count)
{
    double *w = NULL;
    int status = AN_OK;
    double scale = (double)((float)in_size - 0.0f) / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale; /* the bilinear filter's support is 1 */

    memset(a, 0, sizeof *a);
    a->ksize = (int)ceil(support) * 2 + 1;
    a->bounds = malloc((size_t)count * 2 * sizeof *a->bounds);
    a->k = malloc((size_t)count * a->ksize * sizeof *a->k);
    w = malloc((size_t)a->ksize * sizeof *w);
    if (!a->bounds || !a->k || !w) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "resize: no memory for %d x %d coefficients", count,
                          a->ksize);
        goto fail;
    }
    for (int i = 0; i < count; i++) {
        int xx = first + i;
        double center = 0.0f + (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            w[x] = bilinear_filter((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = a->k + (size_t)i * a->ksize;
        for (int x = 0; x < a->ksize; x++) {
            double v = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        a->bounds[2 * i] = xmin;
        a->bounds[2 * i + 1] = xmax;
    }
    free(w);
    return AN_OK;

fail:
    free(w);
    free(a->bounds);
    free(a->k);
    memset(a, 0, sizeof *a);
    return status;
}

static void axis_free(resample_axis *a)
{
    free(a->bounds);
    free(a->k);
    memset(a, 0, sizeof *a);
}

/* PIL's clip8(): the fixed-point sum to uint8, rounded (the sums start at one
 * half) and clamped. */
static unsigned char clip8(int32_t v)
{
    if (v < 0)
        return 0;
    v >>= PRECISION_BITS;
    return v > 255 ? 255 : (unsigned char)v;
}

/* Offset of a centre crop of `crop` in `n` samples: torchvision's
 * int(round((n - crop) / 2.0)) (Python rounds halves to even), or minus the
 * left/top zero padding (crop - n) // 2 when the image is smaller. */
static int crop_offset(int n, int crop)
{
    if (crop > n)
        return -((crop - n) / 2);
    int d = n - crop, half = d / 2;
    return (d % 2 == 0 || half % 2 == 0) ? half : half + 1;
}

int an_image_preprocess(const an_image *img, const an_preprocess *pp, float *out)
{
    an__clear_error();
    resample_axis ax = {0}, ay = {0};
    unsigned char *tmp = NULL, *px = NULL;
    int status = AN_OK;

    if (!img || !pp || !out || !img->rgb || img->width <= 0 || img->height <= 0)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "an_image_preprocess: NULL argument or an empty image (%dx%d)",
                        img ? img->width : 0, img ? img->height : 0);
    if (pp->crop <= 0 || pp->crop > 16384 || pp->resize < 0 || pp->resize > 16384 ||
        (pp->resize_mode != AN_RESIZE_SHORTER && pp->resize_mode != AN_RESIZE_EXACT) ||
        !(pp->scale > 0.0f) || !isfinite(pp->scale) || pp->std[0] == 0.0f || pp->std[1] == 0.0f ||
        pp->std[2] == 0.0f)
        return an__fail(AN_ERR_INVALID_ARGUMENT,
                        "an_image_preprocess: bad parameters (mode %d, resize %d, crop %d, "
                        "scale %g, std %g %g %g)",
                        (int)pp->resize_mode, pp->resize, pp->crop, (double)pp->scale,
                        (double)pp->std[0], (double)pp->std[1], (double)pp->std[2]);

    /* Size after the resize: torchvision's _compute_resized_output_size, where the
     * longer side is int(resize * long / short), truncated. */
    const int w = img->width, h = img->height, crop = pp->crop;
    int rw = w, rh = h;
    if (pp->resize > 0 && pp->resize_mode == AN_RESIZE_EXACT) {
        rw = rh = pp->resize;
    } else if (pp->resize > 0) {
        int shorter = w <= h ? w : h, longer = w <= h ? h : w;
        double l = (double)((int64_t)pp->resize * longer) / shorter;
        if (l > (double)INT_MAX / 4)
            return an__fail(AN_ERR_INVALID_ARGUMENT,
                            "an_image_preprocess: %dx%d resized to a shorter side of %d "
                            "has a longer side of %.0f, too large",
                            w, h, pp->resize, l);
        rw = w <= h ? pp->resize : (int)l;
        rh = w <= h ? (int)l : pp->resize;
    }
    const int need_h = rw != w, need_v = rh != h;

    /* The crop window in the resized image: output (oy, ox) is resized
     * (oy + top, ox + left); the resized rows [y0, y1) and columns [x0, x1) fall
     * inside it, the rest of the window is zero padding. */
    const int top = crop_offset(rh, crop), left = crop_offset(rw, crop);
    const int y0 = top > 0 ? top : 0, y1 = top + crop < rh ? top + crop : rh;
    const int x0 = left > 0 ? left : 0, x1 = left + crop < rw ? left + crop : rw;
    const int ncols = x1 - x0;

    if (need_h)
        AN_TRY(axis_init(&ax, w, rw, x0, ncols));
    if (need_v)
        AN_TRY(axis_init(&ay, h, rh, y0, y1 - y0));

    /* Source rows the vertical pass reads: [r0, r1). */
    int r0 = y0, r1 = y1;
    if (need_v) {
        r0 = INT_MAX;
        r1 = 0;
        for (int i = 0; i < y1 - y0; i++) {
            int lo = ay.bounds[2 * i], hi = lo + ay.bounds[2 * i + 1];
            r0 = lo < r0 ? lo : r0;
            r1 = hi > r1 ? hi : r1;
        }
    }

    /* Horizontal pass (or a copy of the window's columns): source rows [r0, r1)
     * to tmp, uint8 as in PIL's intermediate image. */
    tmp = malloc((size_t)(r1 - r0) * ncols * 3);
    px = calloc((size_t)crop * crop * 3, 1); /* the crop window; zero is the padding */
    if (!tmp || !px) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "an_image_preprocess: no memory");
        goto fail;
    }
    for (int y = r0; y < r1; y++) {
        const unsigned char *src = img->rgb + (size_t)y * w * 3;
        unsigned char *dst = tmp + (size_t)(y - r0) * ncols * 3;
        if (!need_h) {
            memcpy(dst, src + (size_t)x0 * 3, (size_t)ncols * 3);
            continue;
        }
        for (int i = 0; i < ncols; i++) {
            const int xmin = ax.bounds[2 * i], xmax = ax.bounds[2 * i + 1];
            const int32_t *k = ax.k + (size_t)i * ax.ksize;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < xmax; x++) {
                const unsigned char *p = src + (size_t)(xmin + x) * 3;
                s0 += p[0] * k[x];
                s1 += p[1] * k[x];
                s2 += p[2] * k[x];
            }
            dst[3 * i + 0] = clip8(s0);
            dst[3 * i + 1] = clip8(s1);
            dst[3 * i + 2] = clip8(s2);
        }
    }

    /* Vertical pass (or a copy) into the crop window. */
    for (int y = y0; y < y1; y++) {
        unsigned char *dst = px + ((size_t)(y - top) * crop + (x0 - left)) * 3;
        if (!need_v) {
            memcpy(dst, tmp + (size_t)(y - r0) * ncols * 3, (size_t)ncols * 3);
            continue;
        }
        const int ymin = ay.bounds[2 * (y - y0)], ymax = ay.bounds[2 * (y - y0) + 1];
        const int32_t *k = ay.k + (size_t)(y - y0) * ay.ksize;
        for (int i = 0; i < ncols * 3; i++) {
            int32_t s = 1 << (PRECISION_BITS - 1);
            for (int j = 0; j < ymax; j++)
                s += tmp[(size_t)(ymin - r0 + j) * ncols * 3 + i] * k[j];
            dst[i] = clip8(s);
        }
    }

    /* ToTensor + Normalize: (x * scale - mean) / std in float32, channel planes.
     * ToTensor divides by 255, and x * (1/255.f) differs from x / 255.f in the last
     * bit for some x; so when scale is the reciprocal of a whole number, divide by
     * that number, which reproduces torchvision's results exactly. */
    double inv = 1.0 / pp->scale;
    float divisor =
        inv >= 2.0 && fabs(inv - nearbyint(inv)) < 1e-4 * inv ? (float)nearbyint(inv) : 0.0f;
    for (int c = 0; c < 3; c++) {
        const int src_c = pp->bgr ? 2 - c : c;
        const float mean = pp->mean[c], std = pp->std[c];
        float *plane = out + (size_t)c * crop * crop;
        for (size_t i = 0; i < (size_t)crop * crop; i++) {
            float v = (float)px[3 * i + src_c];
            v = divisor != 0.0f ? v / divisor : v * pp->scale;
            plane[i] = (v - mean) / std;
        }
    }

fail:
    axis_free(&ax);
    axis_free(&ay);
    free(tmp);
    free(px);
    return status;
}
