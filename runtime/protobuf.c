/* protobuf.c - the protobuf wire format (varints, field keys, fixed 32/64-bit
 * values, length-delimited contents) as caffe.c and onnx.c read it, following
 * the encoding documented at protobuf.dev/programming-guides/encoding. Every
 * length is checked against the bytes left in the enclosing message. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"
#include "protobuf.h"

int an__pb_bad(const pb_file *f, const unsigned char *at, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return an__fail(AN_ERR_BAD_FILE, "%s: not a valid %s: offset %zu: %s", f->path, f->what,
                    (size_t)(at - f->base), msg);
}

int an__pb_varint(const pb_file *f, pb_span *s, uint64_t *out)
{
    uint64_t v = 0;
    const unsigned char *start = s->p;
    for (int i = 0; i < 10; i++) {
        if (s->p >= s->end)
            return an__pb_bad(f, start,
                              "varint runs past the end of its message (file truncated?)");
        unsigned char b = *s->p++;
        if (i == 9 && b > 1)
            return an__pb_bad(f, start, "varint overflows 64 bits");
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return AN_OK;
        }
    }
    return an__pb_bad(f, start, "varint longer than 10 bytes");
}

int an__pb_next(const pb_file *f, pb_span *s, pb_field *fd)
{
    uint64_t key;
    fd->at = s->p;
    int status = an__pb_varint(f, s, &key);
    if (status)
        return status;
    fd->number = (uint32_t)(key >> 3);
    fd->wire = (int)(key & 7);
    if (key >> 3 == 0 || key >> 3 > 536870911)
        return an__pb_bad(f, fd->at, "field number %" PRIu64 " is out of range", key >> 3);
    switch (fd->wire) {
    case 0:
        return an__pb_varint(f, s, &fd->value);
    case 1:
    case 5: {
        size_t n = fd->wire == 1 ? 8 : 4;
        if ((size_t)(s->end - s->p) < n)
            return an__pb_bad(f, fd->at,
                              "field %u's %zu-byte value runs past the end (file truncated?)",
                              fd->number, n);
        uint64_t v = 0;
        for (size_t i = n; i-- > 0;)
            v = (v << 8) | s->p[i];
        s->p += n;
        fd->value = v;
        return AN_OK;
    }
    case 2: {
        uint64_t len;
        if ((status = an__pb_varint(f, s, &len)))
            return status;
        if (len > (uint64_t)(s->end - s->p))
            return an__pb_bad(f, fd->at,
                              "field %u's length %" PRIu64 " runs past the end of its message "
                              "(%zu bytes left; file truncated?)",
                              fd->number, len, (size_t)(s->end - s->p));
        fd->sub.p = s->p;
        fd->sub.end = s->p + len;
        s->p += len;
        return AN_OK;
    }
    default:
        return an__pb_bad(f, fd->at,
                          "field %u has wire type %d (groups and unknown wire types are not "
                          "used by a %s)",
                          fd->number, fd->wire, f->what);
    }
}

int an__pb_want(const pb_file *f, const pb_field *fd, int wire, const char *what)
{
    if (fd->wire != wire)
        return an__pb_bad(f, fd->at, "%s has wire type %d, not %d", what, fd->wire, wire);
    return AN_OK;
}
