/* protobuf.h - the protobuf wire format, read by hand (no protoc, no
 * libprotobuf): the few calls caffe.c and onnx.c share to walk a message's
 * fields. Every length and varint is checked against the bytes that remain in
 * its message; a malformed file gives AN_ERR_BAD_FILE with the file's path,
 * the kind of message (pb_file.what) and the byte offset. Internal to the
 * runtime. */
#ifndef AN_PROTOBUF_H
#define AN_PROTOBUF_H

#include <stdint.h>

/* The file being read: path and kind for messages, base for offsets. */
typedef struct {
    const char *path;
    const char *what; /* "Caffe NetParameter", "ONNX ModelProto" */
    const unsigned char *base;
} pb_file;

/* A message's bytes [p, end), not owned. */
typedef struct {
    const unsigned char *p, *end;
} pb_span;

/* One field: its number, wire type, and its value (wire 0, 1, 5) or its
 * contents (wire 2, a span into the file); at is where its key starts. */
typedef struct {
    uint32_t number;
    int wire;
    uint64_t value;
    pb_span sub;
    const unsigned char *at;
} pb_field;

/* Records "PATH: not a valid WHAT: offset N: <fmt>" and returns
 * AN_ERR_BAD_FILE. */
int an__pb_bad(const pb_file *f, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads one varint of at most 10 bytes from s, advancing it. */
int an__pb_varint(const pb_file *f, pb_span *s, uint64_t *out);

/* Reads the next field of s into *fd, advancing s past it. Groups (wire
 * types 3 and 4) and unknown wire types are refused. */
int an__pb_next(const pb_file *f, pb_span *s, pb_field *fd);

/* AN_OK when fd has wire type wire, else an error naming what. */
int an__pb_want(const pb_file *f, const pb_field *fd, int wire, const char *what);

#endif
