/* onnx.c - ONNX models (torch.onnx.export of torchvision's AlexNet, and the
 * ONNX model zoo's bvlcalexnet at opsets 3 to 12) without onnx or protoc: the
 * protobuf wire format decoded by hand from onnx.proto's public field numbers,
 * then the graph walked node by node against one variant's layer table
 * (torchvision-224, or caffe-bvlc-224 when the graph has an LRN). A graph that
 * is not exactly that network is refused naming the node and the attribute
 * that differs; the weights are found through the graph's wiring (a Conv's or
 * Gemm's weight input), never by their names, which exporters choose freely.
 *
 *   ModelProto        ir_version = 1, opset_import = 8, graph = 7
 *   OperatorSetIdProto domain = 1, version = 2
 *   GraphProto        node = 1, initializer = 5, input = 11, output = 12
 *   NodeProto         input = 1, output = 2, name = 3, op_type = 4,
 *                     attribute = 5, domain = 7
 *   AttributeProto    name = 1, f = 2, i = 3, s = 4, t = 5, ints = 8, type = 20
 *   TensorProto       dims = 1, data_type = 2, segment = 3, float_data = 4,
 *                     int32_data = 5, int64_data = 7, name = 8, raw_data = 9,
 *                     external_data = 13, data_location = 14
 *
 * Every length and varint is checked against the bytes that remain. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "protobuf.h"

/* ------------------------------------------------------------------------ */
/* The model, as spans into the file                                        */

#define MAX_NODES 256
#define MAX_INITS 256
#define MAX_IO 8
#define MAX_ATTRS 16
#define MAX_INTS 8

typedef struct {
    pb_span name;
    int type; /* AttributeProto.AttributeType: 1 FLOAT, 2 INT, 3 STRING, 4 TENSOR, 7 INTS */
    float f;
    int64_t i;
    pb_span s, t;
    int n_ints;
    int64_t ints[MAX_INTS];
    bool ints_overflow;
} attr;

typedef struct {
    pb_span name, op, domain;
    pb_span in[MAX_IO], out[MAX_IO];
    int n_in, n_out, n_attrs;
    attr attrs[MAX_ATTRS];
    const unsigned char *at;
} node;

typedef struct {
    pb_span name;
    const unsigned char *at;
    pb_span whole;
} init;

typedef struct {
    pb_file f;
    int64_t opset;
    node *nodes; /* MAX_NODES */
    int n_nodes;
    init inits[MAX_INITS];
    int n_inits;
    pb_span inputs[MAX_IO], outputs[MAX_IO];
    int n_inputs, n_outputs;
} model;

/* (an absent string is an empty span of NULLs: memcmp is not given those) */
static bool span_is(pb_span s, const char *str)
{
    size_t n = strlen(str);
    return (size_t)(s.end - s.p) == n && (n == 0 || memcmp(s.p, str, n) == 0);
}

static bool span_eq(pb_span a, pb_span b)
{
    size_t n = (size_t)(a.end - a.p);
    return n == (size_t)(b.end - b.p) && (n == 0 || memcmp(a.p, b.p, n) == 0);
}

/* A name from the file made printable for an error: at most 80 bytes. */
static const char *shown(pb_span s, char *buf, size_t size)
{
    size_t n = (size_t)(s.end - s.p), k = 0;
    if (size == 0)
        return "";
    for (size_t i = 0; i < n && k + 4 < size && i < 80; i++)
        buf[k++] = s.p[i] >= 0x20 && s.p[i] < 0x7f && s.p[i] != '\'' ? (char)s.p[i] : '?';
    if (n > 80 && k + 4 < size)
        k += (size_t)snprintf(buf + k, size - k, "...");
    buf[k] = '\0';
    return buf;
}

static int parse_attr(const pb_file *f, pb_span s, attr *a)
{
    pb_field fd;
    int status;
    memset(a, 0, sizeof *a);
    while (s.p < s.end) {
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        switch (fd.number) {
        case 1:
            if ((status = an__pb_want(f, &fd, 2, "AttributeProto.name")))
                return status;
            a->name = fd.sub;
            break;
        case 2:
            if ((status = an__pb_want(f, &fd, 5, "AttributeProto.f")))
                return status;
            {
                uint32_t u = (uint32_t)fd.value;
                memcpy(&a->f, &u, 4);
            }
            break;
        case 3:
            if ((status = an__pb_want(f, &fd, 0, "AttributeProto.i")))
                return status;
            a->i = (int64_t)fd.value;
            break;
        case 4:
            if ((status = an__pb_want(f, &fd, 2, "AttributeProto.s")))
                return status;
            a->s = fd.sub;
            break;
        case 5:
            if ((status = an__pb_want(f, &fd, 2, "AttributeProto.t")))
                return status;
            a->t = fd.sub;
            break;
        case 8: /* ints: packed or one by one */
            if (fd.wire == 0) {
                if (a->n_ints == MAX_INTS)
                    a->ints_overflow = true;
                else
                    a->ints[a->n_ints++] = (int64_t)fd.value;
            } else if (fd.wire == 2) {
                while (fd.sub.p < fd.sub.end) {
                    uint64_t v;
                    if ((status = an__pb_varint(f, &fd.sub, &v)))
                        return status;
                    if (a->n_ints == MAX_INTS)
                        a->ints_overflow = true;
                    else
                        a->ints[a->n_ints++] = (int64_t)v;
                }
            } else {
                return an__pb_bad(f, fd.at, "AttributeProto.ints has wire type %d", fd.wire);
            }
            break;
        case 20:
            if ((status = an__pb_want(f, &fd, 0, "AttributeProto.type")))
                return status;
            a->type = (int)fd.value;
            break;
        default:
            break; /* floats, strings, graphs, doc_string...: no AlexNet layer has them */
        }
    }
    return AN_OK;
}

static int parse_node(const pb_file *f, pb_span s, node *n)
{
    pb_field fd;
    int status;
    memset(n, 0, sizeof *n);
    n->at = s.p;
    while (s.p < s.end) {
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        if (fd.number == 1 || fd.number == 2 || fd.number == 3 || fd.number == 4 ||
            fd.number == 5 || fd.number == 7)
            if ((status = an__pb_want(f, &fd, 2, "a NodeProto field")))
                return status;
        switch (fd.number) {
        case 1:
            if (n->n_in == MAX_IO)
                return an__pb_bad(f, fd.at, "a node with more than %d inputs", MAX_IO);
            n->in[n->n_in++] = fd.sub;
            break;
        case 2:
            if (n->n_out == MAX_IO)
                return an__pb_bad(f, fd.at, "a node with more than %d outputs", MAX_IO);
            n->out[n->n_out++] = fd.sub;
            break;
        case 3:
            n->name = fd.sub;
            break;
        case 4:
            n->op = fd.sub;
            break;
        case 5:
            if (n->n_attrs == MAX_ATTRS)
                return an__pb_bad(f, fd.at, "a node with more than %d attributes", MAX_ATTRS);
            if ((status = parse_attr(f, fd.sub, &n->attrs[n->n_attrs++])))
                return status;
            break;
        case 7:
            n->domain = fd.sub;
            break;
        default:
            break;
        }
    }
    return AN_OK;
}

/* An initializer's name only; its data is read when a layer takes it. */
static int scan_init(const pb_file *f, pb_span s, init *t)
{
    pb_field fd;
    int status;
    t->whole = s;
    t->at = s.p;
    t->name.p = t->name.end = NULL;
    while (s.p < s.end) {
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        if (fd.number == 8) {
            if ((status = an__pb_want(f, &fd, 2, "TensorProto.name")))
                return status;
            t->name = fd.sub;
        }
    }
    return AN_OK;
}

static int parse_graph(model *m, pb_span s)
{
    const pb_file *f = &m->f;
    pb_field fd;
    int status;
    while (s.p < s.end) {
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        if (fd.number == 1 || fd.number == 5 || fd.number == 11 || fd.number == 12)
            if ((status = an__pb_want(f, &fd, 2, "a GraphProto field")))
                return status;
        if (fd.number == 1) {
            if (m->n_nodes == MAX_NODES)
                return an__fail(AN_ERR_BAD_WEIGHTS, "%s: more than %d nodes: not an AlexNet",
                                f->path, MAX_NODES);
            if ((status = parse_node(f, fd.sub, &m->nodes[m->n_nodes++])))
                return status;
        } else if (fd.number == 5) {
            if (m->n_inits == MAX_INITS)
                return an__fail(AN_ERR_BAD_WEIGHTS, "%s: more than %d initializers: not an AlexNet",
                                f->path, MAX_INITS);
            if ((status = scan_init(f, fd.sub, &m->inits[m->n_inits++])))
                return status;
        } else if (fd.number == 11 || fd.number == 12) {
            /* ValueInfoProto: name = 1 */
            pb_span v = fd.sub, name = {NULL, NULL};
            pb_field g;
            while (v.p < v.end) {
                if ((status = an__pb_next(f, &v, &g)))
                    return status;
                if (g.number == 1 && g.wire == 2)
                    name = g.sub;
            }
            if (fd.number == 11 && m->n_inputs < MAX_IO)
                m->inputs[m->n_inputs++] = name;
            else if (fd.number == 12) {
                if (m->n_outputs == MAX_IO)
                    return an__fail(AN_ERR_BAD_WEIGHTS,
                                    "%s: the graph has more than %d outputs: not an AlexNet",
                                    f->path, MAX_IO);
                m->outputs[m->n_outputs++] = name;
            }
        }
    }
    return AN_OK;
}

static int parse_model(model *m, pb_span s)
{
    const pb_file *f = &m->f;
    pb_field fd;
    int status, graphs = 0;
    m->opset = -1;
    while (s.p < s.end) {
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        if (fd.number == 8) { /* opset_import: the default domain's version */
            if ((status = an__pb_want(f, &fd, 2, "ModelProto.opset_import")))
                return status;
            pb_span o = fd.sub, domain = {NULL, NULL};
            pb_field g;
            int64_t version = -1;
            while (o.p < o.end) {
                if ((status = an__pb_next(f, &o, &g)))
                    return status;
                if (g.number == 1 && g.wire == 2)
                    domain = g.sub;
                else if (g.number == 2 && g.wire == 0)
                    version = (int64_t)g.value;
            }
            if (domain.p == domain.end || span_is(domain, "ai.onnx"))
                m->opset = version;
        } else if (fd.number == 7) {
            if ((status = an__pb_want(f, &fd, 2, "ModelProto.graph")))
                return status;
            if (graphs++)
                return an__pb_bad(f, fd.at, "a second graph");
            if ((status = parse_graph(m, fd.sub)))
                return status;
        }
    }
    if (!graphs)
        return an__fail(AN_ERR_BAD_FILE, "%s: the ONNX model has no graph", f->path);
    return AN_OK;
}

/* ------------------------------------------------------------------------ */
/* Initializers                                                             */

static const init *find_init(const model *m, pb_span name)
{
    for (int i = 0; i < m->n_inits; i++)
        if (span_eq(m->inits[i].name, name))
            return &m->inits[i];
    return NULL;
}

/* Reads an initializer's dims, element type and data (float32 or float16, in
 * raw_data or the typed field) into malloc'd little-endian elements. */
typedef struct {
    int ndim;
    int64_t dims[AN__MAX_CDIMS];
    int dtype; /* AN__DT_F32, AN__DT_F16 */
    unsigned char *data;
    size_t bytes;
} tensor;

static int read_tensor(const model *m, const init *t, int64_t want_type, tensor *out)
{
    const pb_file *f = &m->f;
    pb_span s = t->whole, raw = {NULL, NULL};
    pb_field fd;
    int status;
    int64_t data_type = 0;
    bool has_raw = false, external = false;
    size_t typed = 0; /* elements in float_data / int32_data / int64_data */
    unsigned typed_fields = 0;
    char nb[100];
    memset(out, 0, sizeof *out);
    while (s.p < s.end) {
        if ((status = an__pb_next(f, &s, &fd)))
            return status;
        switch (fd.number) {
        case 1:
            if (fd.wire == 0) {
                if (out->ndim == AN__MAX_CDIMS)
                    return an__pb_bad(f, fd.at, "a tensor with more than %d dimensions",
                                      AN__MAX_CDIMS);
                out->dims[out->ndim++] = (int64_t)fd.value;
            } else if (fd.wire == 2) {
                while (fd.sub.p < fd.sub.end) {
                    uint64_t v;
                    if ((status = an__pb_varint(f, &fd.sub, &v)))
                        return status;
                    if (out->ndim == AN__MAX_CDIMS)
                        return an__pb_bad(f, fd.at, "a tensor with more than %d dimensions",
                                          AN__MAX_CDIMS);
                    out->dims[out->ndim++] = (int64_t)v;
                }
            } else {
                return an__pb_bad(f, fd.at, "TensorProto.dims has wire type %d", fd.wire);
            }
            break;
        case 2:
            if ((status = an__pb_want(f, &fd, 0, "TensorProto.data_type")))
                return status;
            data_type = (int64_t)fd.value;
            break;
        case 3:
            return an__fail(AN_ERR_BAD_FILE, "%s: initializer '%s' is segmented: not supported",
                            f->path, shown(t->name, nb, sizeof nb));
        case 4: /* float_data */
        case 5: /* int32_data (float16 bits) */
        case 7: /* int64_data (Reshape's shape) */
            if (fd.wire != 2 && fd.wire != (fd.number == 4 ? 5 : 0))
                return an__pb_bad(f, fd.at, "TensorProto field %u has wire type %d", fd.number,
                                  fd.wire);
            if (fd.number == 4 && fd.wire == 2 && (fd.sub.end - fd.sub.p) % 4)
                return an__pb_bad(f, fd.at, "packed float_data of %zu bytes, not a multiple of 4",
                                  (size_t)(fd.sub.end - fd.sub.p));
            typed_fields |= 1u << fd.number;
            if (fd.wire == 2) {
                if (fd.number == 4)
                    typed += (size_t)(fd.sub.end - fd.sub.p) / 4;
                else
                    for (const unsigned char *p = fd.sub.p; p < fd.sub.end; p++)
                        typed += !(*p & 0x80);
            } else {
                typed++;
            }
            break;
        case 9:
            if ((status = an__pb_want(f, &fd, 2, "TensorProto.raw_data")))
                return status;
            raw = fd.sub;
            has_raw = true;
            break;
        case 13:
            external = true;
            break;
        case 14:
            external |= fd.wire == 0 && fd.value == 1;
            break;
        default:
            break;
        }
    }
    if (external)
        return an__fail(AN_ERR_BAD_FILE,
                        "%s: initializer '%s' keeps its data in an external file; convert reads "
                        "only self-contained models (save with onnx.save(model, path, "
                        "save_as_external_data=False), up to 2 GB)",
                        f->path, shown(t->name, nb, sizeof nb));
    if (data_type != want_type && !(want_type == 1 && data_type == 10))
        return an__fail(AN_ERR_BAD_FILE,
                        "%s: initializer '%s' has ONNX data type %" PRId64
                        "; convert reads float32 (1) and float16 (10)%s",
                        f->path, shown(t->name, nb, sizeof nb), data_type,
                        want_type == 7 ? " weights and int64 (7) shapes" : "");
    uint64_t numel = 1;
    for (int i = 0; i < out->ndim; i++) {
        if (out->dims[i] < 0 || out->dims[i] > INT32_MAX)
            return an__pb_bad(f, t->at, "initializer '%s' has dimension %" PRId64 " out of range",
                              shown(t->name, nb, sizeof nb), out->dims[i]);
        numel *= (uint64_t)out->dims[i];
        if (numel > ((uint64_t)1 << 33))
            return an__pb_bad(f, t->at, "initializer '%s' is too large",
                              shown(t->name, nb, sizeof nb));
    }
    size_t esize = data_type == 1 ? 4 : data_type == 10 ? 2 : 8;
    unsigned field = data_type == 1 ? 4 : data_type == 10 ? 5 : 7;
    if (typed_fields & ~(1u << field))
        return an__pb_bad(f, t->at,
                          "initializer '%s' of data type %" PRId64 " holds another type's "
                          "field",
                          shown(t->name, nb, sizeof nb), data_type);
    out->dtype = data_type == 10 ? AN__DT_F16 : AN__DT_F32;
    out->bytes = (size_t)numel * esize;
    if (has_raw && typed)
        return an__pb_bad(f, t->at, "initializer '%s' has both raw_data and typed data",
                          shown(t->name, nb, sizeof nb));
    if (has_raw ? (size_t)(raw.end - raw.p) != out->bytes : typed != numel)
        return an__pb_bad(f, t->at, "initializer '%s' holds %zu %s for its %" PRIu64 " elements",
                          shown(t->name, nb, sizeof nb),
                          has_raw ? (size_t)(raw.end - raw.p) : typed,
                          has_raw ? "bytes of raw_data" : "values", numel);
    out->data = malloc(out->bytes ? out->bytes : 1);
    if (!out->data)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", f->path, out->bytes);
    if (has_raw) {
        if (out->bytes)
            memcpy(out->data, raw.p, out->bytes); /* little-endian, as ours */
        return AN_OK;
    }
    /* the typed field, in order: float_data as float bits, int32_data holding
     * float16 bits in the low half, int64_data as varints */
    size_t k = 0;
    s = t->whole;
    while (s.p < s.end) {
        if ((status = an__pb_next(f, &s, &fd)))
            goto fail;
        if (fd.number != field)
            continue;
        pb_span v = fd.sub;
        bool packed = fd.wire == 2;
        while (packed ? v.p < v.end : k < numel) {
            uint64_t x = fd.value;
            if (packed && fd.number == 4) {
                x = (uint64_t)v.p[0] | (uint64_t)v.p[1] << 8 | (uint64_t)v.p[2] << 16 |
                    (uint64_t)v.p[3] << 24;
                v.p += 4;
            } else if (packed && (status = an__pb_varint(f, &v, &x))) {
                goto fail;
            }
            if (k == numel)
                break;
            for (size_t b = 0; b < esize; b++)
                out->data[k * esize + b] = (unsigned char)(x >> (8 * b));
            k++;
            if (!packed)
                break;
        }
    }
    return AN_OK;
fail:
    free(out->data);
    out->data = NULL;
    return status;
}

/* ------------------------------------------------------------------------ */
/* The walk                                                                 */

typedef struct {
    model *m;
    an__ctensors *ts;
    const an__variant *v;           /* the network the graph must be */
    const an_layer_info *shapes;    /* its layers' outputs at its native input */
    int k;                          /* the next node */
    pb_span cur;                    /* the value the next layer must read */
    char nb[100], vb[100], cb[100]; /* names shown in an error */
} walk;

static const char *node_name(walk *w, const node *n)
{
    if (n->name.p == n->name.end)
        snprintf(w->nb, sizeof w->nb, "#%d", (int)(n - w->m->nodes));
    else
        shown(n->name, w->nb, sizeof w->nb);
    return w->nb;
}

static int refuse(walk *w, const node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(walk *w, const node *n, const char *fmt, ...)
{
    char msg[400], op[100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (w->v && strcmp(w->v->name, "torchvision-224") != 0)
        return an__fail(AN_ERR_BAD_WEIGHTS,
                        "%s: node '%s' (%s): %s; convert takes the ONNX model zoo's "
                        "bvlcalexnet as published, opsets 3 to 12 (variant %s)",
                        w->m->f.path, node_name(w, n), shown(n->op, op, sizeof op), msg,
                        w->v->name);
    return an__fail(AN_ERR_BAD_WEIGHTS,
                    "%s: node '%s' (%s): %s; convert takes torchvision's AlexNet as "
                    "torch.onnx.export writes it (variant torchvision-224)",
                    w->m->f.path, node_name(w, n), shown(n->op, op, sizeof op), msg);
}

static const attr *find_attr(const node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (span_is(n->attrs[i].name, name))
            return &n->attrs[i];
    return NULL;
}

/* Every attribute must be one of names (NULL-terminated). */
static int only_attrs(walk *w, const node *n, const char *const *names)
{
    for (int i = 0; i < n->n_attrs; i++) {
        bool known = false;
        for (int j = 0; names[j] && !known; j++)
            known = span_is(n->attrs[i].name, names[j]);
        if (!known) {
            char ab[100];
            return refuse(w, n, "attribute '%s' is not one AlexNet's layer has",
                          shown(n->attrs[i].name, ab, sizeof ab));
        }
    }
    return AN_OK;
}

/* An INTS attribute equal to count copies of want (absent: dflt copies). */
static int ints_are(walk *w, const node *n, const char *name, int count, int64_t want, int64_t dflt)
{
    const attr *a = find_attr(n, name);
    if (!a) {
        if (dflt == want)
            return AN_OK;
        return refuse(w, n, "attribute '%s' is absent (%" PRId64 "), the layer has %" PRId64, name,
                      dflt, want);
    }
    bool ok = a->n_ints == count && !a->ints_overflow;
    for (int i = 0; i < a->n_ints && ok; i++)
        ok = a->ints[i] == want;
    if (!ok) {
        char got[128];
        size_t u = 0;
        for (int i = 0; i < a->n_ints && u < sizeof got; i++)
            u += (size_t)snprintf(got + u, sizeof got - u, "%s%" PRId64, i ? ", " : "", a->ints[i]);
        if (a->n_ints == 0)
            got[0] = '\0';
        char exp[64];
        size_t e = 0;
        for (int i = 0; i < count && e < sizeof exp; i++)
            e += (size_t)snprintf(exp + e, sizeof exp - e, "%s%" PRId64, i ? ", " : "", want);
        return refuse(w, n, "attribute '%s' is [%s%s], the layer has [%s]", name, got,
                      a->ints_overflow ? ", ..." : "", exp);
    }
    return AN_OK;
}

static int int_is(walk *w, const node *n, const char *name, int64_t want, int64_t dflt)
{
    const attr *a = find_attr(n, name);
    int64_t got = a ? a->i : dflt;
    if (got != want)
        return refuse(w, n, "attribute '%s' is %" PRId64 "%s, the layer has %" PRId64, name, got,
                      a ? "" : " (absent)", want);
    return AN_OK;
}

static int no_auto_pad(walk *w, const node *n)
{
    const attr *a = find_attr(n, "auto_pad");
    if (a && !span_is(a->s, "NOTSET")) {
        char sb[100];
        return refuse(w, n, "attribute 'auto_pad' is '%s', the layer has explicit pads",
                      shown(a->s, sb, sizeof sb));
    }
    return AN_OK;
}

static bool is_op(const node *n, const char *op)
{
    return span_is(n->op, op) && (n->domain.p == n->domain.end || span_is(n->domain, "ai.onnx"));
}

/* The next node, which must read the current value as its first input. */
static int next_node(walk *w, const char *what, const node **out)
{
    if (w->k == w->m->n_nodes)
        return an__fail(
            AN_ERR_BAD_WEIGHTS, "%s: the graph ends where %s has %s (variant %s)", w->m->f.path,
            strcmp(w->v->name, "torchvision-224") ? "BVLC's AlexNet" : "torchvision's AlexNet",
            what, w->v->name);
    const node *n = &w->m->nodes[w->k];
    if (n->n_in == 0 || !span_eq(n->in[0], w->cur))
        return refuse(w, n, "reads '%s', not '%s', the output of the layer before",
                      n->n_in ? shown(n->in[0], w->vb, sizeof w->vb) : "nothing",
                      shown(w->cur, w->cb, sizeof w->cb));
    if (n->n_out < 1)
        return refuse(w, n, "has no output");
    *out = n;
    return AN_OK;
}

/* Dropout (inference: identity) and Identity nodes on the current value,
 * and Constant nodes. */
static int skip_inert(walk *w)
{
    while (w->k < w->m->n_nodes) {
        const node *n = &w->m->nodes[w->k];
        if (is_op(n, "Constant") && n->n_in == 0) {
            /* a Dropout's ratio since opset 12 (onnx.version_converter writes
             * it so); weights and shapes must be initializers, so a constant
             * feeds nothing else that the walk takes */
            w->k++;
            continue;
        }
        if (!(is_op(n, "Dropout") || is_op(n, "Identity")) || n->n_in == 0 ||
            !span_eq(n->in[0], w->cur))
            return AN_OK;
        if (n->n_in > 2 && n->in[2].p != n->in[2].end) /* "" is an absent input */
            return refuse(w, n, "input 'training_mode' is given: the dropout may be active");
        /* Dropout-1 and -6 (opsets 1 to 6) train unless is_test is set */
        const attr *t = is_op(n, "Dropout") ? find_attr(n, "is_test") : NULL;
        if (t ? t->i == 0 : is_op(n, "Dropout") && w->m->opset >= 0 && w->m->opset < 7)
            return refuse(w, n,
                          "attribute 'is_test' is %s: the dropout is active (opset %" PRId64 ")",
                          t ? "0" : "absent", w->m->opset);
        w->cur = n->out[0];
        w->k++;
    }
    return AN_OK;
}

/* Adds an initializer under the variant's tensor name; a Gemm weight with
 * transB = 0 (or a MatMul's) is (in, out) and is transposed. */
static int take(walk *w, const node *n, int input, const char *as, bool transpose)
{
    if (n->n_in <= input)
        return refuse(w, n, "has no input %d (the %s)", input, as);
    const init *t = find_init(w->m, n->in[input]);
    if (!t)
        return refuse(w, n, "input %d '%s' is not an initializer (a constant), as %s must be",
                      input, shown(n->in[input], w->vb, sizeof w->vb), as);
    tensor x;
    int status = read_tensor(w->m, t, 1, &x);
    if (status)
        return status;
    if (transpose) {
        if (x.ndim != 2) {
            free(x.data);
            return refuse(w, n, "weight '%s' has %d dimensions, not 2", as, x.ndim);
        }
        size_t r = (size_t)x.dims[0], c = (size_t)x.dims[1], e = (size_t)x.dtype;
        unsigned char *y = malloc(x.bytes ? x.bytes : 1);
        if (!y) {
            free(x.data);
            return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory", w->m->f.path);
        }
        for (size_t i = 0; i < r; i++)
            for (size_t j = 0; j < c; j++)
                memcpy(y + (j * r + i) * e, x.data + (i * c + j) * e, e);
        free(x.data);
        x.data = y;
        x.dims[0] = (int64_t)c;
        x.dims[1] = (int64_t)r;
    }
    return an__ctensors_add(w->ts, w->m->f.path, as, strlen(as), x.dtype, x.ndim, x.dims, x.data,
                            x.bytes);
}

static int walk_conv(walk *w, const an__layer *l)
{
    const node *n;
    int status;
    static const char *const names[] = {"kernel_shape", "strides",  "pads", "group",
                                        "dilations",    "auto_pad", NULL};
    if ((status = next_node(w, "a Conv", &n)))
        return status;
    if (!is_op(n, "Conv"))
        return refuse(w, n, "the layer here is a Conv");
    if ((status = only_attrs(w, n, names)) || (status = no_auto_pad(w, n)) ||
        (status = ints_are(w, n, "kernel_shape", 2, l->kernel, l->kernel)) ||
        (status = ints_are(w, n, "strides", 2, l->stride, 1)) ||
        (status = ints_are(w, n, "pads", 4, l->pad, 0)) ||
        (status = ints_are(w, n, "dilations", 2, 1, 1)) ||
        (status = int_is(w, n, "group", l->groups ? l->groups : 1, 1)))
        return status;
    if (n->n_in != 3)
        return refuse(w, n, "has %d inputs, not data, weight and bias", n->n_in);
    if ((status = take(w, n, 1, l->weight_name, false)) ||
        (status = take(w, n, 2, l->bias_name, false)))
        return status;
    w->cur = n->out[0];
    w->k++;
    return AN_OK;
}

static int walk_simple(walk *w, const char *op)
{
    const node *n;
    int status;
    if ((status = next_node(w, op, &n)))
        return status;
    if (!is_op(n, op))
        return refuse(w, n, "the layer here is a %s", op);
    for (int i = 0; i < n->n_attrs; i++) {
        /* Relu-1's consumed_inputs (opsets 1 to 5): a hint to reuse buffers */
        if (span_is(n->attrs[i].name, "consumed_inputs") && w->m->opset < 6)
            continue;
        char ab[100];
        return refuse(w, n, "attribute '%s' is not one AlexNet's %s has",
                      shown(n->attrs[i].name, ab, sizeof ab), op);
    }
    w->cur = n->out[0];
    w->k++;
    return AN_OK;
}

/* Caffe's pool, which rounds its output size up, as ONNX says it: the
 * converters (Caffe2's exporter: pads[end] = out * stride - pads[begin] - 1 +
 * kernel - in) give a floor-mode MaxPool end pads that reach the rounded-up
 * size, opset 10 can say ceil_mode = 1. Any form is taken whose output at the
 * variant's native input is Caffe's: the windows are then the same ones, and
 * a max never reads a pad (each window starts inside the image). */
static int caffe_pool_pads(walk *w, const node *n, const an__layer *l, int layer)
{
    const an_layer_info *in = &w->shapes[layer - 1];
    const attr *p = find_attr(n, "pads"), *c = find_attr(n, "ceil_mode");
    int64_t pads[4] = {0, 0, 0, 0}, ceil = c ? c->i : 0;
    if (p && (p->n_ints != 4 || p->ints_overflow))
        return refuse(w, n, "attribute 'pads' has %d values, not 4", p->n_ints);
    for (int i = 0; p && i < 4; i++)
        pads[i] = p->ints[i];
    if (ceil != 0 && ceil != 1)
        return refuse(w, n, "attribute 'ceil_mode' is %" PRId64 ", not 0 or 1", ceil);
    for (int d = 0; d < 2; d++) {
        int64_t size = d ? in->w : in->h, want = an__window_out(l, (int)size);
        if (pads[d] != l->pad || pads[d + 2] < 0 || pads[d + 2] > l->kernel)
            return refuse(w, n,
                          "attribute 'pads' is [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                          "], the layer pads %d before and rounds its %" PRId64
                          " outputs up (Caffe)",
                          pads[0], pads[1], pads[2], pads[3], l->pad, want);
        int64_t num = size + pads[d] + pads[d + 2] - l->kernel;
        int64_t out = num < 0 ? 0 : num / l->stride + 1;
        if (ceil && num >= 0 && num % l->stride) {
            out++;
            if ((out - 1) * l->stride >= size + pads[d])
                out--;
        }
        if (out != want)
            return refuse(w, n,
                          "attribute 'pads' [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                          "] with ceil_mode %" PRId64 " gives %" PRId64 " outputs from %" PRId64
                          ", the layer (Caffe's pool, rounding up) %" PRId64,
                          pads[0], pads[1], pads[2], pads[3], ceil, out, size, want);
    }
    return AN_OK;
}

static int walk_maxpool(walk *w, const an__layer *l, int layer)
{
    const node *n;
    int status;
    static const char *const names[] = {"kernel_shape", "strides",       "pads",     "ceil_mode",
                                        "dilations",    "storage_order", "auto_pad", NULL};
    if ((status = next_node(w, "a MaxPool", &n)))
        return status;
    if (!is_op(n, "MaxPool"))
        return refuse(w, n, "the layer here is a MaxPool");
    if ((status = only_attrs(w, n, names)) || (status = no_auto_pad(w, n)) ||
        (status = ints_are(w, n, "kernel_shape", 2, l->kernel, -1)) ||
        (status = ints_are(w, n, "strides", 2, l->stride, 1)) ||
        (status = ints_are(w, n, "dilations", 2, 1, 1)))
        return status;
    if (l->ceil_mode) {
        if ((status = caffe_pool_pads(w, n, l, layer)))
            return status;
    } else if ((status = ints_are(w, n, "pads", 4, l->pad, 0)) ||
               (status = int_is(w, n, "ceil_mode", 0, 0))) {
        return status;
    }
    if (n->n_out > 1)
        return refuse(w, n, "has an Indices output");
    w->cur = n->out[0];
    w->k++;
    return AN_OK;
}

/* Caffe's across-channel LRN: ONNX's LRN is the same formula (alpha / size
 * times the sum of squares over `size` channels centred on the channel). */
static int walk_lrn(walk *w, const an__layer *l)
{
    static const char *const names[] = {"size", "alpha", "beta", "bias", NULL};
    const node *n;
    int status;
    if ((status = next_node(w, "an LRN", &n)))
        return status;
    if (!is_op(n, "LRN"))
        return refuse(w, n, "the layer here is an LRN");
    if ((status = only_attrs(w, n, names)))
        return status;
    const attr *size = find_attr(n, "size");
    if (!size || size->i != l->kernel)
        return refuse(w, n, "attribute 'size' is %s%" PRId64 ", the layer has %d",
                      size ? "" : "absent: ", size ? size->i : 0, l->kernel);
    const char *fl[] = {"alpha", "beta", "bias"};
    const float want[] = {l->lrn_alpha, l->lrn_beta, l->lrn_k}, dflt[] = {1e-4f, 0.75f, 1.0f};
    for (int i = 0; i < 3; i++) {
        const attr *a = find_attr(n, fl[i]);
        float got = a ? a->f : dflt[i];
        if (got != want[i])
            return refuse(w, n, "attribute '%s' is %.9g%s, the layer has %.9g", fl[i], (double)got,
                          a ? "" : " (absent)", (double)want[i]);
    }
    w->cur = n->out[0];
    w->k++;
    return AN_OK;
}

/* AdaptiveAvgPool2d((6, 6)) on pool5's 6 x 6 at 224 x 224 is the identity:
 * torch exports an AveragePool of kernel 1, stride 1, or nothing. */
static int walk_avgpool6(walk *w)
{
    static const char *const names[] = {"kernel_shape", "strides",           "pads", "ceil_mode",
                                        "auto_pad",     "count_include_pad", NULL};
    if (w->k == w->m->n_nodes || !is_op(&w->m->nodes[w->k], "AveragePool"))
        return AN_OK;
    const node *n;
    int status;
    if ((status = next_node(w, "an AveragePool", &n)) || (status = only_attrs(w, n, names)) ||
        (status = no_auto_pad(w, n)) || (status = ints_are(w, n, "kernel_shape", 2, 1, -1)) ||
        (status = ints_are(w, n, "strides", 2, 1, 1)) || (status = ints_are(w, n, "pads", 4, 0, 0)))
        return status;
    w->cur = n->out[0];
    w->k++;
    return AN_OK;
}

/* torch.flatten(x, 1): Flatten with axis 1, or Reshape to (-1 | 0 | 1, 9216). */
static int walk_flatten(walk *w, int64_t features)
{
    const node *n;
    int status;
    if ((status = next_node(w, "a Flatten", &n)))
        return status;
    if (is_op(n, "Flatten")) {
        static const char *const names[] = {"axis", NULL};
        if ((status = only_attrs(w, n, names)) || (status = int_is(w, n, "axis", 1, 1)))
            return status;
    } else if (is_op(n, "Reshape") && n->n_in == 1 && find_attr(n, "shape") && w->m->opset < 5) {
        /* Reshape-1 (opsets 1 to 4): the shape is an attribute */
        static const char *const names[] = {"shape", "consumed_inputs", NULL};
        const attr *a = find_attr(n, "shape");
        if ((status = only_attrs(w, n, names)))
            return status;
        if (a->n_ints != 2 || a->ints_overflow ||
            (a->ints[0] != -1 && a->ints[0] != 0 && a->ints[0] != 1) || a->ints[1] != features)
            return refuse(w, n, "attribute 'shape' is not (-1, %" PRId64 ")", features);
    } else if (is_op(n, "Reshape")) {
        static const char *const names[] = {"allowzero", NULL};
        if ((status = only_attrs(w, n, names)) || (status = int_is(w, n, "allowzero", 0, 0)))
            return status;
        const init *t = n->n_in == 2 ? find_init(w->m, n->in[1]) : NULL;
        if (!t)
            return refuse(w, n, "the shape is not an initializer");
        tensor x;
        if ((status = read_tensor(w->m, t, 7, &x)))
            return status;
        int64_t d[2] = {0, 0};
        bool ok = x.ndim == 1 && x.dims[0] == 2 && x.bytes == 16;
        if (ok)
            for (int i = 0; i < 2; i++)
                for (int b = 0; b < 8; b++)
                    d[i] |= (int64_t)((uint64_t)x.data[8 * i + b] << (8 * b));
        free(x.data);
        if (!ok || (d[0] != -1 && d[0] != 0 && d[0] != 1) || d[1] != features)
            return refuse(w, n, "the shape is not (-1, %" PRId64 ")", features);
    } else {
        return refuse(w, n, "the layer here is a Flatten (or a Reshape to (-1, %" PRId64 "))",
                      features);
    }
    w->cur = n->out[0];
    w->k++;
    return AN_OK;
}

/* nn.Linear: Gemm (alpha = beta = 1, transA = 0; transB = 1 keeps torch's
 * (out, in) weight, 0 has it transposed) or MatMul then Add. */
static int walk_linear(walk *w, const an__layer *l)
{
    const node *n;
    int status;
    if ((status = next_node(w, "a Gemm", &n)))
        return status;
    if (is_op(n, "Gemm")) {
        static const char *const names[] = {"alpha", "beta", "transA", "transB", "broadcast", NULL};
        if ((status = only_attrs(w, n, names)))
            return status;
        /* Gemm-1 and -6 (opsets 1 to 6) add a (N) bias to each row only with
         * broadcast = 1; later opsets always broadcast and have no attribute */
        const attr *bc = find_attr(n, "broadcast");
        if (bc && w->m->opset >= 7)
            return refuse(w, n, "attribute 'broadcast' is not Gemm's at opset %" PRId64,
                          w->m->opset);
        if ((bc && bc->i != 1) || (!bc && w->m->opset >= 0 && w->m->opset < 7))
            return refuse(w, n, "attribute 'broadcast' is %s, the layer adds its bias to each row",
                          bc ? "0" : "absent");
        const char *fl[] = {"alpha", "beta"};
        for (int i = 0; i < 2; i++) {
            const attr *a = find_attr(n, fl[i]);
            if (a && a->f != 1.0f)
                return refuse(w, n, "attribute '%s' is %g, the layer has 1", fl[i], (double)a->f);
        }
        if ((status = int_is(w, n, "transA", 0, 0)))
            return status;
        const attr *tb = find_attr(n, "transB");
        if (n->n_in != 3)
            return refuse(w, n, "has %d inputs, not data, weight and bias", n->n_in);
        if ((status = take(w, n, 1, l->weight_name, !(tb && tb->i == 1))) ||
            (status = take(w, n, 2, l->bias_name, false)))
            return status;
        w->cur = n->out[0];
        w->k++;
        return AN_OK;
    }
    if (!is_op(n, "MatMul"))
        return refuse(w, n, "the layer here is a Gemm (or MatMul and Add)");
    if (n->n_attrs || n->n_in != 2)
        return refuse(w, n, "is not a plain MatMul of the data and a weight");
    if ((status = take(w, n, 1, l->weight_name, true)))
        return status;
    w->cur = n->out[0];
    w->k++;
    const node *add;
    if ((status = next_node(w, "the Add of the bias", &add)))
        return status;
    if (!is_op(add, "Add") || add->n_in != 2 || add->n_attrs)
        return refuse(w, add, "the layer here is the Add of the bias after the MatMul");
    if ((status = take(w, add, 1, l->bias_name, false)))
        return status;
    w->cur = add->out[0];
    w->k++;
    return AN_OK;
}

/* The preprocessing a ModelProto's metadata_props (field 14: StringStringEntryProto,
 * key 1, value 2) state, as an_preprocess_parse's spec in out->preprocess:
 * "preprocess" holds such a spec itself; Windows ML's image metadata
 * "Image.BitmapPixelFormat" (Rgb8, Bgr8) gives the channel order and
 * "Image.NominalPixelRange" the value range without a mean or std
 * (NominalRange_0_255: scale 1; Normalized_0_1: 1/255; Normalized_1_1:
 * (pixel - 127.5) / 127.5). Other entries are ignored; so are malformed ones here
 * (parse_model has read the file). */
static void onnx_preprocess(const pb_file *f, pb_span s, an__ctensors *out)
{
    char spec[256] = "", order[16] = "", range[64] = "";
    pb_field fd, e;
    while (s.p < s.end && an__pb_next(f, &s, &fd) == AN_OK) {
        if (fd.number != 14 || fd.wire != 2)
            continue;
        pb_span key = {NULL, NULL}, val = {NULL, NULL}, m = fd.sub;
        while (m.p < m.end && an__pb_next(f, &m, &e) == AN_OK)
            if (e.wire == 2 && (e.number == 1 || e.number == 2))
                *(e.number == 1 ? &key : &val) = e.sub;
        if (!key.p || !val.p)
            continue;
        const int klen = (int)(key.end - key.p), vlen = (int)(val.end - val.p);
#define IS(span, len, lit) ((len) == (int)strlen(lit) && memcmp((span).p, lit, (size_t)(len)) == 0)
        if (IS(key, klen, "preprocess") && (size_t)vlen < sizeof spec)
            snprintf(spec, sizeof spec, "%.*s", vlen, (const char *)val.p);
        else if (IS(key, klen, "Image.BitmapPixelFormat") &&
                 (IS(val, vlen, "Bgr8") || IS(val, vlen, "Rgb8")))
            snprintf(order, sizeof order, "order=%s;", val.p[0] == 'B' ? "bgr" : "rgb");
        else if (IS(key, klen, "Image.NominalPixelRange"))
            snprintf(range, sizeof range, "%s",
                     IS(val, vlen, "NominalRange_0_255") ? "mean=0,0,0;scale=1;std=1,1,1;"
                     : IS(val, vlen, "Normalized_0_1")   ? "mean=0,0,0;scale=1/255;std=1,1,1;"
                     : IS(val, vlen, "Normalized_1_1")
                         ? "mean=127.5,127.5,127.5;scale=1/127.5;std=1,1,1;"
                         : "");
#undef IS
    }
    /* the spec's own keys come last: they win over the Windows ML ones */
    bool plain = true; /* nothing JSON would need escaped: the loader would refuse it anyway */
    for (const char *p = spec; *p; p++)
        plain = plain && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20 &&
                (unsigned char)*p < 0x7f;
    if (!plain)
        spec[0] = '\0';
    snprintf(out->preprocess, sizeof out->preprocess, "%s%s%s", range, order, spec);
}

int an__onnx_read(const char *path, const unsigned char *buf, size_t size, an__ctensors *out)
{
    model *m = calloc(1, sizeof *m);
    node *nodes = calloc(MAX_NODES, sizeof *nodes);
    int status = AN_OK;
    if (!m || !nodes) {
        free(m);
        free(nodes);
        return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    m->f.path = path;
    m->f.what = "ONNX ModelProto";
    m->f.base = buf;
    m->nodes = nodes;
    pb_span s = {buf, buf + size};
    if ((status = parse_model(m, s)))
        goto done;
    onnx_preprocess(&m->f, s, out);
    /* BVLC's network (the ONNX zoo's bvlcalexnet) has LRNs, torchvision's none */
    bool lrn = false;
    for (int i = 0; i < m->n_nodes; i++)
        lrn |= is_op(&m->nodes[i], "LRN");
    const an__variant *v = an__variant_find(lrn ? "caffe-bvlc-224" : "torchvision-224");
    an_layer_info shapes[AN_MAX_LAYERS];
    int n_shapes = 0;
    if (!v) {
        status = AN_ERR_UNKNOWN_VARIANT;
        goto done;
    }
    if ((status = an_variant_infer(v->name, v->in_channels, v->in_height, v->in_width, shapes,
                                   &n_shapes)))
        goto done;
    /* the network's input: the first graph input that is not an initializer */
    walk w = {m, out, v, shapes, 0, {NULL, NULL}, {0}, {0}, {0}};
    for (int i = 0; i < m->n_inputs && !w.cur.p; i++)
        if (!find_init(m, m->inputs[i]))
            w.cur = m->inputs[i];
    if (!w.cur.p) {
        status = an__fail(AN_ERR_BAD_WEIGHTS, "%s: the graph has no input", path);
        goto done;
    }
    bool flat = false;
    for (int i = 0; i < v->n_layers && !status; i++) {
        const an__layer *l = &v->layers[i];
        if ((status = skip_inert(&w)))
            break;
        switch (l->kind) {
        case AN_LAYER_CONV:
            status = walk_conv(&w, l);
            break;
        case AN_LAYER_RELU:
            status = walk_simple(&w, "Relu");
            break;
        case AN_LAYER_MAXPOOL:
            status = walk_maxpool(&w, l, i);
            break;
        case AN_LAYER_LRN:
            status = walk_lrn(&w, l);
            break;
        case AN_LAYER_ADAPTIVE_AVGPOOL:
            status = walk_avgpool6(&w);
            break;
        case AN_LAYER_DROPOUT:
            break; /* skip_inert took any */
        case AN_LAYER_LINEAR:
            if (!flat) {
                flat = true;
                status = walk_flatten(&w, (int64_t)256 * 6 * 6);
                if (!status)
                    status = skip_inert(&w);
            }
            if (!status)
                status = walk_linear(&w, l);
            break;
        default:
            status = an__fail(AN_ERR_BAD_WEIGHTS,
                              "%s: %s has a layer of kind %d that convert "
                              "cannot match",
                              path, v->name, (int)l->kind);
            break;
        }
    }
    if (status)
        goto done;
    bool softmax = false;
    if (w.k < m->n_nodes && is_op(&m->nodes[w.k], "Softmax") && m->nodes[w.k].n_in == 1 &&
        span_eq(m->nodes[w.k].in[0], w.cur)) { /* probabilities instead of logits: noted */
        const node *n = &m->nodes[w.k];
        const attr *a = find_attr(n, "axis");
        static const char *const names[] = {"axis", NULL};
        if ((status = only_attrs(&w, n, names)))
            goto done;
        if (a && a->i != 1 && a->i != -1) {
            status = refuse(&w, n, "attribute 'axis' is %" PRId64 ", not the classes' 1", a->i);
            goto done;
        }
        softmax = true;
        w.cur = n->out[0];
        w.k++;
    }
    if (w.k < m->n_nodes) {
        status = refuse(&w, &m->nodes[w.k], "follows the last layer, which %s does not have",
                        lrn ? "BVLC's AlexNet" : "torchvision's AlexNet");
        goto done;
    }
    if (m->n_outputs != 1 || !span_eq(m->outputs[0], w.cur)) {
        char ob[100];
        status = an__fail(AN_ERR_BAD_WEIGHTS,
                          "%s: the graph's output is %s'%s', not the last layer's '%s'", path,
                          m->n_outputs > 1 ? "more than one value, the first " : "",
                          m->n_outputs ? shown(m->outputs[0], ob, sizeof ob) : "",
                          shown(w.cur, w.vb, sizeof w.vb));
        goto done;
    }
    if (lrn) /* the layer list chooses, as a .caffemodel's does */
        snprintf(out->variant, sizeof out->variant, "%s", v->name);
    if (m->opset >= 0)
        snprintf(out->format, sizeof out->format, "ONNX ModelProto (opset %" PRId64 "%s)", m->opset,
                 softmax ? ", final Softmax" : "");
    else
        snprintf(out->format, sizeof out->format, "ONNX ModelProto (no opset import%s)",
                 softmax ? ", final Softmax" : "");
done:
    free(nodes);
    free(m);
    return status;
}
