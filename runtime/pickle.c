/* pickle.c - PyTorch .pth files without Python: a strict reader for the subset
 * of pickle that torch.save(state_dict) writes, and the two containers it
 * writes it in (the zip archive of torch >= 1.6, read with libzip, and the
 * legacy stream of pickles followed by raw storages).
 *
 * Nothing a file says is executed. The reader is a small stack machine over
 * inert values; GLOBAL may name only collections.OrderedDict,
 * torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and the
 * torch storage types, REDUCE may only call those, and any opcode outside the
 * subset stops the read with its name and offset. Checkpoints are read too:
 * floats, bytes, sets and other entries (epoch, optimizer state...) become
 * inert values, and the state_dict is found under the usual keys. Only
 * float32/float16 tensors may be weights. Every read is bounds-checked
 * against the buffer; stack, memo and object counts are capped. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "internal.h"

/* ------------------------------------------------------------------------ */
/* Values                                                                   */

typedef enum {
    PK_NONE,
    PK_BOOL,
    PK_INT,
    PK_BIGINT, /* LONG1 beyond 8 bytes: raw little-endian bytes in s */
    PK_STR,
    PK_TUPLE,
    PK_LIST,
    PK_DICT, /* items: key, value, key, value, ... */
    PK_GLOBAL,
    PK_STORAGE,
    PK_TENSOR,
    PK_FLOAT, /* BINFLOAT: inert, never used */
    PK_BYTES  /* BINBYTES: inert, never used */
} pk_type;

typedef enum {
    G_ORDERED_DICT,
    G_REBUILD_TENSOR_V2,
    G_REBUILD_PARAMETER,
    G_FLOAT_STORAGE,
    G_HALF_STORAGE,
    G_OTHER_STORAGE /* torch.DoubleStorage, LongStorage, ...: read past, never weights */
} pk_global;

static const char *const type_names[] = {"None",   "bool",  "int",  "long int", "str",
                                         "tuple",  "list",  "dict", "global",   "storage",
                                         "tensor", "float", "bytes"};

typedef struct pk_obj {
    pk_type type;
    int64_t i;              /* INT, BOOL; GLOBAL: pk_global */
    const unsigned char *s; /* STR, BIGINT: into the pickle buffer */
    size_t len;
    struct pk_obj **items; /* TUPLE, LIST, DICT */
    size_t n, cap;
    /* STORAGE: key in s/len, dtype (element size), numel, and in storage its type's
     * GLOBAL (name in s/len); TENSOR: storage, offset, shape */
    int dtype;
    int64_t numel, offset;
    struct pk_obj *storage;
    int ndim;
    int64_t size[AN__MAX_CDIMS];
    struct pk_obj *next; /* every object, for freeing */
} pk_obj;

enum {
    MAX_STACK = 1 << 16,
    MAX_MARKS = 1 << 12,
    MAX_MEMO = 1 << 20,
    MAX_OBJECTS = 1 << 22,
    MAX_ITEMS = 1 << 20
};

typedef struct {
    const char *path;
    const char *what; /* "data.pkl", "pickle 4", ... for messages */
    const unsigned char *buf;
    size_t size, pos, op_pos;
    pk_obj **stack;
    size_t sp, stack_cap;
    size_t marks[MAX_MARKS];
    size_t n_marks;
    pk_obj **memo;
    size_t memo_cap, memo_len; /* memo_len: entries set, where MEMOIZE stores */
    int err;                   /* why new_obj returned NULL */
    pk_obj *objects;
    size_t n_objects;
} pk_vm;

static int bad(pk_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(pk_vm *vm, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return an__fail(AN_ERR_BAD_FILE, "%s: %s, offset %zu: %s", vm->path, vm->what, vm->op_pos, msg);
}

static pk_obj *new_obj(pk_vm *vm, pk_type type)
{
    if (vm->n_objects >= MAX_OBJECTS) {
        vm->err = bad(vm, "more than %d objects: not a state_dict", MAX_OBJECTS);
        return NULL;
    }
    pk_obj *o = calloc(1, sizeof *o);
    if (!o) {
        vm->err = an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory reading the pickle", vm->path);
        return NULL;
    }
    o->type = type;
    o->next = vm->objects;
    vm->objects = o;
    vm->n_objects++;
    return o;
}

static int add_item(pk_vm *vm, pk_obj *seq, pk_obj *item)
{
    if (seq->n == seq->cap) {
        if (seq->cap >= MAX_ITEMS)
            return bad(vm, "a %s with more than %d items: not a state_dict", type_names[seq->type],
                       MAX_ITEMS);
        size_t cap = seq->cap ? 2 * seq->cap : 8;
        pk_obj **p = realloc(seq->items, cap * sizeof *p);
        if (!p)
            return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory reading the pickle", vm->path);
        seq->items = p;
        seq->cap = cap;
    }
    seq->items[seq->n++] = item;
    return AN_OK;
}

static void vm_free(pk_vm *vm)
{
    for (pk_obj *o = vm->objects, *next; o; o = next) {
        next = o->next;
        free(o->items);
        free(o);
    }
    vm->objects = NULL;
    free(vm->stack);
    free(vm->memo);
    vm->stack = vm->memo = NULL;
}

/* ------------------------------------------------------------------------ */
/* The machine                                                              */

static int need(pk_vm *vm, size_t n)
{
    if (n > vm->size - vm->pos)
        return bad(vm, "the pickle ends within an opcode's %zu-byte argument (file truncated?)", n);
    return AN_OK;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = (x << 8) | p[i];
    return x;
}

static int push(pk_vm *vm, pk_obj *o)
{
    if (!o)
        return vm->err; /* new_obj failed */
    if (vm->sp == vm->stack_cap) {
        if (vm->stack_cap >= MAX_STACK)
            return bad(vm, "stack deeper than %d: not a state_dict", MAX_STACK);
        size_t cap = vm->stack_cap ? 2 * vm->stack_cap : 64;
        pk_obj **p = realloc(vm->stack, cap * sizeof *p);
        if (!p)
            return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory", vm->path);
        vm->stack = p;
        vm->stack_cap = cap;
    }
    vm->stack[vm->sp++] = o;
    return AN_OK;
}

/* Pops one value above the topmost mark. */
static int pop(pk_vm *vm, pk_obj **out)
{
    size_t floor = vm->n_marks ? vm->marks[vm->n_marks - 1] : 0;
    if (vm->sp <= floor)
        return bad(vm, "stack underflow: the opcode needs a value that is not there");
    *out = vm->stack[--vm->sp];
    return AN_OK;
}

static int top(pk_vm *vm, pk_obj **out)
{
    size_t floor = vm->n_marks ? vm->marks[vm->n_marks - 1] : 0;
    if (vm->sp <= floor)
        return bad(vm, "stack underflow: the opcode needs a value that is not there");
    *out = vm->stack[vm->sp - 1];
    return AN_OK;
}

/* Pops the topmost mark: the values above it are stack[*from, sp). */
static int pop_mark(pk_vm *vm, size_t *from)
{
    if (!vm->n_marks)
        return bad(vm, "opcode needs a MARK and there is none");
    *from = vm->marks[--vm->n_marks];
    return AN_OK;
}

static int memo_put(pk_vm *vm, uint64_t idx)
{
    pk_obj *o = NULL;
    int status = top(vm, &o);
    if (status)
        return status;
    if (idx >= MAX_MEMO)
        return bad(vm, "memo index %" PRIu64 " is beyond %d", idx, MAX_MEMO);
    if (idx >= vm->memo_cap) {
        size_t cap = vm->memo_cap ? vm->memo_cap : 64;
        while (cap <= idx)
            cap *= 2;
        pk_obj **p = realloc(vm->memo, cap * sizeof *p);
        if (!p)
            return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: out of memory", vm->path);
        memset(p + vm->memo_cap, 0, (cap - vm->memo_cap) * sizeof *p);
        vm->memo = p;
        vm->memo_cap = cap;
    }
    if (!vm->memo[idx])
        vm->memo_len++;
    vm->memo[idx] = o;
    return AN_OK;
}

static int memo_get(pk_vm *vm, uint64_t idx)
{
    if (idx >= vm->memo_cap || !vm->memo[idx])
        return bad(vm, "memo entry %" PRIu64 " is read before it is written", idx);
    return push(vm, vm->memo[idx]);
}

static bool str_is(const pk_obj *o, const char *s)
{
    return o->type == PK_STR && o->len == strlen(s) && memcmp(o->s, s, o->len) == 0;
}

/* A module and name, as GLOBAL and STACK_GLOBAL give them. */
static int do_global(pk_vm *vm, const unsigned char *mod, size_t mod_len, const unsigned char *name,
                     size_t name_len)
{
    static const struct {
        const char *mod, *name;
        pk_global g;
    } allowed[] = {
        {"collections", "OrderedDict", G_ORDERED_DICT},
        {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2},
        {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER},
        {"torch", "FloatStorage", G_FLOAT_STORAGE},
        {"torch", "HalfStorage", G_HALF_STORAGE},
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (strlen(allowed[i].mod) == mod_len && memcmp(allowed[i].mod, mod, mod_len) == 0 &&
            strlen(allowed[i].name) == name_len && memcmp(allowed[i].name, name, name_len) == 0) {
            pk_obj *o = new_obj(vm, PK_GLOBAL);
            if (!o)
                return vm->err;
            o->i = allowed[i].g;
            return push(vm, o);
        }
    }
    int ml = mod_len > 64 ? 64 : (int)mod_len, nl = name_len > 64 ? 64 : (int)name_len;
    for (int i = 0; i < ml; i++)
        if (mod[i] < 0x20 || mod[i] > 0x7e)
            ml = i;
    for (int i = 0; i < nl; i++)
        if (name[i] < 0x20 || name[i] > 0x7e)
            nl = i;
    static const struct {
        const char *name;
        int size;
    } others[] = {{"DoubleStorage", 8}, {"LongStorage", 8},    {"IntStorage", 4},
                  {"ShortStorage", 2},  {"CharStorage", 1},    {"ByteStorage", 1},
                  {"BoolStorage", 1},   {"BFloat16Storage", 2}};
    for (size_t i = 0;
         mod_len == 5 && memcmp(mod, "torch", 5) == 0 && i < sizeof others / sizeof others[0]; i++)
        if (strlen(others[i].name) == name_len && memcmp(others[i].name, name, name_len) == 0) {
            pk_obj *o = new_obj(vm, PK_GLOBAL); /* a storage type whose tensors are not weights */
            if (!o)
                return vm->err;
            o->i = G_OTHER_STORAGE;
            o->s = name;
            o->len = name_len;
            o->dtype = others[i].size;
            return push(vm, o);
        }
    if (ml == 5 && memcmp(mod, "torch", 5) == 0 && nl > 7 &&
        memcmp(name + nl - 7, "Storage", 7) == 0)
        return bad(vm,
                   "tensors of type torch.%.*s are not supported: only float32 (FloatStorage) "
                   "and float16 (HalfStorage)",
                   nl, (const char *)name);
    return bad(vm,
               "global '%.*s.%.*s' is not allowed in a state_dict (allowed: "
               "collections.OrderedDict, torch._utils._rebuild_tensor_v2, "
               "torch._utils._rebuild_parameter, torch.FloatStorage, torch.HalfStorage); "
               "refused, nothing in the file is executed",
               ml, (const char *)mod, nl, (const char *)name);
}

/* ('storage', FloatStorage|HalfStorage, key, location, numel[, None]) */
static int do_persid(pk_vm *vm)
{
    pk_obj *pid = NULL;
    int status = pop(vm, &pid);
    if (status)
        return status;
    if (pid->type != PK_TUPLE || (pid->n != 5 && pid->n != 6) || !str_is(pid->items[0], "storage"))
        return bad(vm, "persistent id is not ('storage', type, key, location, size)");
    pk_obj *type = pid->items[1], *key = pid->items[2], *loc = pid->items[3], *n = pid->items[4];
    if (type->type != PK_GLOBAL ||
        (type->i != G_FLOAT_STORAGE && type->i != G_HALF_STORAGE && type->i != G_OTHER_STORAGE))
        return bad(vm, "persistent id names no torch storage type");
    if (key->type != PK_STR || key->len == 0 || key->len > 64 || loc->type != PK_STR)
        return bad(vm, "persistent id has a bad storage key or location");
    if (n->type != PK_INT || n->i < 0 || n->i > (int64_t)(SIZE_MAX / 8))
        return bad(vm, "persistent id has a bad storage size");
    if (pid->n == 6 && pid->items[5]->type != PK_NONE)
        return bad(vm, "storage views (a legacy view_metadata) are not supported");
    for (size_t i = 0; i < key->len; i++)
        if (key->s[i] < 0x21 || key->s[i] > 0x7e || key->s[i] == '/')
            return bad(vm, "storage key holds a byte 0x%02x that no torch.save writes", key->s[i]);
    pk_obj *o = new_obj(vm, PK_STORAGE);
    if (!o)
        return vm->err;
    o->s = key->s;
    o->len = key->len;
    o->dtype = type->i == G_FLOAT_STORAGE  ? AN__DT_F32
               : type->i == G_HALF_STORAGE ? AN__DT_F16
                                           : type->dtype;
    o->storage = type;
    o->numel = n->i;
    return push(vm, o);
}

static int int_tuple(pk_vm *vm, const pk_obj *t, int64_t *out, int *n, const char *what)
{
    if (t->type != PK_TUPLE)
        return bad(vm, "tensor %s is a %s, not a tuple", what, type_names[t->type]);
    if (t->n > AN__MAX_CDIMS)
        return bad(vm, "tensor has %zu dimensions (at most %d)", t->n, AN__MAX_CDIMS);
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i]->type != PK_INT || t->items[i]->i < 0)
            return bad(vm, "tensor %s holds something other than integers >= 0", what);
        out[i] = t->items[i]->i;
    }
    *n = (int)t->n;
    return AN_OK;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static int rebuild_tensor(pk_vm *vm, pk_obj *args)
{
    if (args->n != 6 && args->n != 7)
        return bad(vm, "_rebuild_tensor_v2 takes 6 or 7 arguments, not %zu", args->n);
    pk_obj *st = args->items[0], *off = args->items[1];
    if (st->type != PK_STORAGE)
        return bad(vm, "_rebuild_tensor_v2's first argument is a %s, not a storage",
                   type_names[st->type]);
    if (off->type != PK_INT || off->i < 0)
        return bad(vm, "_rebuild_tensor_v2's storage offset is not an integer >= 0");
    int64_t size[AN__MAX_CDIMS], stride[AN__MAX_CDIMS];
    int nd = 0, ns = 0, status;
    if ((status = int_tuple(vm, args->items[2], size, &nd, "size")) ||
        (status = int_tuple(vm, args->items[3], stride, &ns, "stride")))
        return status;
    if (nd != ns)
        return bad(vm, "tensor has %d sizes but %d strides", nd, ns);
    /* contiguous row-major only; strides of dimensions of size 1 do not matter */
    uint64_t numel = 1, expect = 1;
    for (int d = nd - 1; d >= 0; d--) {
        if (size[d] != 1 && (uint64_t)stride[d] != expect)
            return bad(vm,
                       "tensor is not contiguous (stride %" PRId64 " in dimension %d, "
                       "expected %" PRIu64 "); save tensor.contiguous() instead",
                       stride[d], d, expect);
        if (size[d] && numel > (uint64_t)INT64_MAX / (uint64_t)size[d])
            return bad(vm, "tensor size overflows");
        numel *= (uint64_t)size[d];
        expect = numel ? numel : 1;
    }
    if ((uint64_t)off->i > (uint64_t)st->numel || numel > (uint64_t)st->numel - (uint64_t)off->i)
        return bad(vm,
                   "tensor of %" PRIu64 " elements at offset %" PRId64
                   " runs past its storage of %" PRId64 " elements",
                   numel, off->i, st->numel);
    pk_obj *t = new_obj(vm, PK_TENSOR);
    if (!t)
        return vm->err;
    t->storage = st;
    t->offset = off->i;
    t->numel = (int64_t)numel;
    t->ndim = nd;
    memcpy(t->size, size, sizeof size);
    return push(vm, t);
}

static int do_reduce(pk_vm *vm)
{
    pk_obj *args = NULL, *fn = NULL;
    int status = pop(vm, &args);
    if (!status)
        status = pop(vm, &fn);
    if (status)
        return status;
    if (fn->type != PK_GLOBAL)
        return bad(vm, "REDUCE calls a %s", type_names[fn->type]);
    if (args->type != PK_TUPLE)
        return bad(vm, "REDUCE's arguments are a %s, not a tuple", type_names[args->type]);
    switch ((pk_global)fn->i) {
    case G_ORDERED_DICT:
        if (args->n != 0)
            return bad(vm, "OrderedDict is called with arguments");
        return push(vm, new_obj(vm, PK_DICT));
    case G_REBUILD_TENSOR_V2:
        return rebuild_tensor(vm, args);
    case G_REBUILD_PARAMETER:
        if (args->n != 3 || args->items[0]->type != PK_TENSOR)
            return bad(vm, "_rebuild_parameter takes (tensor, requires_grad, hooks)");
        return push(vm, args->items[0]);
    case G_FLOAT_STORAGE:
    case G_HALF_STORAGE:
    case G_OTHER_STORAGE:
        break;
    }
    return bad(vm, "REDUCE calls a storage type");
}

static int do_tuple(pk_vm *vm, size_t from)
{
    pk_obj *t = new_obj(vm, PK_TUPLE);
    if (!t)
        return vm->err;
    for (size_t i = from; i < vm->sp; i++) {
        int status = add_item(vm, t, vm->stack[i]);
        if (status)
            return status;
    }
    vm->sp = from;
    return push(vm, t);
}

static int do_setitems(pk_vm *vm, size_t from)
{
    if ((vm->sp - from) % 2)
        return bad(vm, "SETITEMS with an odd number of values");
    size_t floor = vm->n_marks ? vm->marks[vm->n_marks - 1] : 0;
    if (from <= floor || vm->stack[from - 1]->type != PK_DICT)
        return bad(vm, "SETITEM(S) on something that is not a dict");
    pk_obj *d = vm->stack[from - 1];
    for (size_t i = from; i < vm->sp; i++) {
        int status = add_item(vm, d, vm->stack[i]);
        if (status)
            return status;
    }
    vm->sp = from;
    return AN_OK;
}

static int do_appends(pk_vm *vm, size_t from)
{
    size_t floor = vm->n_marks ? vm->marks[vm->n_marks - 1] : 0;
    if (from <= floor || vm->stack[from - 1]->type != PK_LIST)
        return bad(vm, "APPEND(S) on something that is not a list");
    pk_obj *l = vm->stack[from - 1];
    for (size_t i = from; i < vm->sp; i++) {
        int status = add_item(vm, l, vm->stack[i]);
        if (status)
            return status;
    }
    vm->sp = from;
    return AN_OK;
}

static const char *opcode_name(unsigned char op)
{
    switch (op) {
    case 'i':
        return "INST (builds an arbitrary object)";
    case 'o':
        return "OBJ (builds an arbitrary object)";
    case 0x81:
        return "NEWOBJ (builds an arbitrary object)";
    case 0x92:
        return "NEWOBJ_EX (builds an arbitrary object)";
    case 0x82:
    case 0x83:
    case 0x84:
        return "EXT (extension registry)";
    case 'G':
        return "BINFLOAT";
    case 'F':
        return "FLOAT";
    case 'I':
        return "INT";
    case 'L':
        return "LONG";
    case 'S':
        return "STRING";
    case 'V':
        return "UNICODE";
    case 'P':
        return "PERSID";
    case '0':
        return "POP";
    case '1':
        return "POP_MARK";
    case '2':
        return "DUP";
    case 'p':
        return "PUT";
    case 'g':
        return "GET";
    case 'B':
    case 'C':
    case 0x8e:
        return "BINBYTES";
    case 0x8b:
        return "LONG4";
    case 0x8f:
        return "EMPTY_SET";
    case 0x90:
        return "ADDITEMS";
    case 0x91:
        return "FROZENSET";
    case 0x96:
        return "BYTEARRAY8";
    case 0x97:
        return "NEXT_BUFFER";
    case 0x98:
        return "READONLY_BUFFER";
    case 'l':
        return "LIST";
    case 'd':
        return "DICT";
    case 'U':
        return "SHORT_BINSTRING";
    case 'T':
        return "BINSTRING";
    case 0x8d:
        return "BINUNICODE8";
    default:
        return "unknown opcode";
    }
}

/* Runs one pickle from vm->pos to its STOP; *result is the value it builds. */
static int run(pk_vm *vm, pk_obj **result)
{
    int status = AN_OK;
    for (;;) {
        vm->op_pos = vm->pos;
        if (vm->pos >= vm->size)
            return bad(vm, "the pickle ends before its STOP opcode (file truncated?)");
        unsigned char op = vm->buf[vm->pos++];
        pk_obj *o = NULL, *a = NULL, *b = NULL;
        size_t from = 0;
        switch (op) {
        case 0x80: /* PROTO */
            if ((status = need(vm, 1)))
                return status;
            if (vm->buf[vm->pos] < 2 || vm->buf[vm->pos] > 5)
                return bad(vm, "pickle protocol %d is not 2..5", vm->buf[vm->pos]);
            vm->pos++;
            break;
        case 0x95: /* FRAME: an 8-byte length, a hint */
            if ((status = need(vm, 8)))
                return status;
            vm->pos += 8;
            break;
        case '}':
            status = push(vm, new_obj(vm, PK_DICT));
            break;
        case ']':
            status = push(vm, new_obj(vm, PK_LIST));
            break;
        case ')':
            status = push(vm, new_obj(vm, PK_TUPLE));
            break;
        case '(': /* MARK */
            if (vm->n_marks == MAX_MARKS)
                return bad(vm, "more than %d nested MARKs", MAX_MARKS);
            vm->marks[vm->n_marks++] = vm->sp;
            break;
        case 'X':    /* BINUNICODE */
        case 0x8c: { /* SHORT_BINUNICODE */
            int w = op == 'X' ? 4 : 1;
            if ((status = need(vm, (size_t)w)))
                return status;
            uint64_t len = le(vm->buf + vm->pos, w);
            vm->pos += (size_t)w;
            if (len > vm->size - vm->pos)
                return bad(vm, "a string of %" PRIu64 " bytes runs past the end (file truncated?)",
                           len);
            o = new_obj(vm, PK_STR);
            if (!o)
                return vm->err;
            o->s = vm->buf + vm->pos;
            o->len = (size_t)len;
            vm->pos += (size_t)len;
            status = push(vm, o);
            break;
        }
        case 'q':   /* BINPUT */
        case 'r':   /* LONG_BINPUT */
        case 'h':   /* BINGET */
        case 'j': { /* LONG_BINGET */
            int w = op == 'q' || op == 'h' ? 1 : 4;
            if ((status = need(vm, (size_t)w)))
                return status;
            uint64_t idx = le(vm->buf + vm->pos, w);
            vm->pos += (size_t)w;
            status = op == 'q' || op == 'r' ? memo_put(vm, idx) : memo_get(vm, idx);
            break;
        }
        case 0x94:                               /* MEMOIZE */
            status = memo_put(vm, vm->memo_len); /* at the memo's current length */
            break;
        case 'c': { /* GLOBAL: "module\nname\n" */
            const unsigned char *p = vm->buf + vm->pos, *end = vm->buf + vm->size;
            const unsigned char *nl1 = memchr(p, '\n', (size_t)(end - p));
            const unsigned char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
            if (!nl2)
                return bad(vm, "GLOBAL's module and name run past the end (file truncated?)");
            vm->pos = (size_t)(nl2 + 1 - vm->buf);
            status = do_global(vm, p, (size_t)(nl1 - p), nl1 + 1, (size_t)(nl2 - nl1 - 1));
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            if ((status = pop(vm, &b)) || (status = pop(vm, &a)))
                return status;
            if (a->type != PK_STR || b->type != PK_STR)
                return bad(vm, "STACK_GLOBAL's module and name are not strings");
            status = do_global(vm, a->s, a->len, b->s, b->len);
            break;
        case 'Q': /* BINPERSID */
            status = do_persid(vm);
            break;
        case 't': /* TUPLE */
            if (!(status = pop_mark(vm, &from)))
                status = do_tuple(vm, from);
            break;
        case 0x85: /* TUPLE1..3 */
        case 0x86:
        case 0x87: {
            size_t n = (size_t)(op - 0x84);
            size_t floor = vm->n_marks ? vm->marks[vm->n_marks - 1] : 0;
            if (vm->sp - floor < n)
                return bad(vm, "TUPLE%zu needs %zu values", n, n);
            status = do_tuple(vm, vm->sp - n);
            break;
        }
        case 'J':   /* BININT */
        case 'K':   /* BININT1 */
        case 'M': { /* BININT2 */
            int w = op == 'J' ? 4 : op == 'K' ? 1 : 2;
            if ((status = need(vm, (size_t)w)))
                return status;
            uint64_t v = le(vm->buf + vm->pos, w);
            vm->pos += (size_t)w;
            o = new_obj(vm, PK_INT);
            if (!o)
                return vm->err;
            o->i = op == 'J' ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;
            status = push(vm, o);
            break;
        }
        case 0x8a: { /* LONG1: n bytes, little-endian two's complement */
            if ((status = need(vm, 1)))
                return status;
            size_t n = vm->buf[vm->pos++];
            if ((status = need(vm, n)))
                return status;
            const unsigned char *p = vm->buf + vm->pos;
            vm->pos += n;
            if (n <= 8) {
                o = new_obj(vm, PK_INT);
                if (!o)
                    return vm->err;
                uint64_t v = le(p, (int)n);
                if (n > 0 && n < 8 && (p[n - 1] & 0x80))
                    v |= ~0ull << (8 * n); /* sign-extend */
                o->i = (int64_t)v;
            } else {
                o = new_obj(vm, PK_BIGINT);
                if (!o)
                    return vm->err;
                o->s = p;
                o->len = n;
            }
            status = push(vm, o);
            break;
        }
        case 'G': /* BINFLOAT: an 8-byte double (a learning rate, an accuracy), inert */
            if ((status = need(vm, 8)))
                return status;
            vm->pos += 8;
            status = push(vm, new_obj(vm, PK_FLOAT));
            break;
        case 'C':    /* SHORT_BINBYTES */
        case 'B':    /* BINBYTES */
        case 0x8e:   /* BINBYTES8 */
        case 0x8d: { /* BINUNICODE8 */
            int w = op == 'C' ? 1 : op == 'B' ? 4 : 8;
            if ((status = need(vm, (size_t)w)))
                return status;
            uint64_t len = le(vm->buf + vm->pos, w);
            vm->pos += (size_t)w;
            if (len > vm->size - vm->pos)
                return bad(vm, "%" PRIu64 " bytes run past the end (file truncated?)", len);
            o = new_obj(vm, op == 0x8d ? PK_STR : PK_BYTES);
            if (!o)
                return vm->err;
            o->s = vm->buf + vm->pos;
            o->len = (size_t)len;
            vm->pos += (size_t)len;
            status = push(vm, o);
            break;
        }
        case 0x8b: { /* LONG4: a big integer, kept as its bytes */
            if ((status = need(vm, 4)))
                return status;
            uint64_t n = le(vm->buf + vm->pos, 4);
            vm->pos += 4;
            if (n > vm->size - vm->pos)
                return bad(vm, "a LONG4 of %" PRIu64 " bytes runs past the end", n);
            o = new_obj(vm, PK_BIGINT);
            if (!o)
                return vm->err;
            o->s = vm->buf + vm->pos;
            o->len = (size_t)n;
            vm->pos += (size_t)n;
            status = push(vm, o);
            break;
        }
        case 0x8f: /* EMPTY_SET: a list here (nothing is hashed) */
            status = push(vm, new_obj(vm, PK_LIST));
            break;
        case 0x90: /* ADDITEMS */
            if (!(status = pop_mark(vm, &from)))
                status = do_appends(vm, from);
            break;
        case 0x91: /* FROZENSET */
            if (!(status = pop_mark(vm, &from)) && !(status = do_tuple(vm, from)))
                vm->stack[vm->sp - 1]->type = PK_LIST;
            break;
        case '0': /* POP */
            status = pop(vm, &a);
            break;
        case '1': /* POP_MARK */
            if (!(status = pop_mark(vm, &from)))
                vm->sp = from;
            break;
        case '2': /* DUP */
            if (!(status = top(vm, &a)))
                status = push(vm, a);
            break;
        case 0x88: /* NEWTRUE */
        case 0x89: /* NEWFALSE */
            o = new_obj(vm, PK_BOOL);
            if (!o)
                return vm->err;
            o->i = op == 0x88;
            status = push(vm, o);
            break;
        case 'N':
            status = push(vm, new_obj(vm, PK_NONE));
            break;
        case 'R':
            status = do_reduce(vm);
            break;
        case 'u': /* SETITEMS */
            if (!(status = pop_mark(vm, &from)))
                status = do_setitems(vm, from);
            break;
        case 's': /* SETITEM */
            if (vm->sp < 2)
                return bad(vm, "SETITEM needs a dict, a key and a value");
            status = do_setitems(vm, vm->sp - 2);
            break;
        case 'e': /* APPENDS */
            if (!(status = pop_mark(vm, &from)))
                status = do_appends(vm, from);
            break;
        case 'a': /* APPEND */
            if (vm->sp < 1)
                return bad(vm, "APPEND needs a list and a value");
            status = do_appends(vm, vm->sp - 1);
            break;
        case 'b': /* BUILD: only an OrderedDict's attributes (torch's _metadata), ignored */
            if ((status = pop(vm, &a)) || (status = top(vm, &b)))
                return status;
            if (b->type != PK_DICT)
                return bad(vm, "BUILD on a %s: only a state_dict's metadata may be set",
                           type_names[b->type]);
            break;
        case '.': /* STOP */
            if (vm->n_marks || vm->sp != 1)
                return bad(vm, "STOP with %zu values and %zu marks left", vm->sp, vm->n_marks);
            *result = vm->stack[0];
            vm->sp = 0;
            return AN_OK;
        default:
            return bad(vm,
                       "pickle opcode 0x%02x%s%c%s (%s) is outside the subset a state_dict "
                       "uses; refused, nothing in the file is executed",
                       op, op >= 0x21 && op <= 0x7e ? " '" : "",
                       op >= 0x21 && op <= 0x7e ? op : ' ', op >= 0x21 && op <= 0x7e ? "'" : "",
                       opcode_name(op));
        }
        if (status)
            return status;
    }
}

static void vm_init(pk_vm *vm, const char *path, const char *what, const unsigned char *buf,
                    size_t size, size_t pos)
{
    memset(vm, 0, sizeof *vm);
    vm->path = path;
    vm->what = what;
    vm->buf = buf;
    vm->size = size;
    vm->pos = pos;
}

/* ------------------------------------------------------------------------ */
/* From a state_dict to tensors                                             */

/* The storage bytes for key: the caller's lookup. */
typedef int (*storage_fn)(void *ctx, const pk_obj *storage, const unsigned char **data,
                          size_t *bytes);

/* A state_dict: a non-empty dict of string keys and tensors only. */
static bool is_state_dict(const pk_obj *d)
{
    if (d->type != PK_DICT || d->n == 0)
        return false;
    for (size_t i = 0; i + 1 < d->n; i += 2)
        if (d->items[i]->type != PK_STR || d->items[i + 1]->type != PK_TENSOR)
            return false;
    return true;
}

/* The keys a checkpoint keeps its model's state_dict under, most usual first. */
static const char *const checkpoint_keys[] = {"state_dict", "model_state_dict", "model", "net"};
#define N_CHECKPOINT_KEYS (sizeof checkpoint_keys / sizeof checkpoint_keys[0])

/* The state_dict in root: root itself, or a dict under one of the checkpoint
 * keys, up to three levels down ({"model": {"state_dict": ...}}). key gets
 * the path of keys ("state_dict", "model.state_dict"; "" for root itself). */
static const pk_obj *find_state_dict(const pk_obj *root, int depth, char *key, size_t size)
{
    if (is_state_dict(root))
        return root;
    if (root->type != PK_DICT || depth == 3)
        return NULL;
    for (size_t c = 0; c < N_CHECKPOINT_KEYS; c++)
        for (size_t i = 0; i + 1 < root->n; i += 2) {
            if (!str_is(root->items[i], checkpoint_keys[c]))
                continue;
            size_t used = strlen(key);
            snprintf(key + used, size - used, "%s%s", used ? "." : "", checkpoint_keys[c]);
            const pk_obj *d = find_state_dict(root->items[i + 1], depth + 1, key, size);
            if (d)
                return d;
            key[used] = '\0';
        }
    return NULL;
}

static int collect(pk_vm *vm, const pk_obj *root, storage_fn fn, void *ctx, an__ctensors *out)
{
    if (root->type != PK_DICT)
        return bad(vm, "the pickle holds a %s, not a state_dict (save model.state_dict())",
                   type_names[root->type]);
    if (root->n == 0)
        return bad(vm, "the state_dict is empty");
    char key[sizeof out->source_key] = "";
    const pk_obj *sd = find_state_dict(root, 0, key, sizeof key);
    if (!sd) {
        /* say what the dict holds: its keys, and the first entry that is no tensor */
        char keys[256] = "";
        size_t used = 0, bad_entry = root->n;
        for (size_t i = 0; i + 1 < root->n; i += 2) {
            const pk_obj *k = root->items[i];
            if (bad_entry == root->n &&
                (k->type != PK_STR || root->items[i + 1]->type != PK_TENSOR))
                bad_entry = i;
            if (k->type == PK_STR && used < sizeof keys && i < 16)
                used += (size_t)snprintf(keys + used, sizeof keys - used, "%s'%.*s'", i ? ", " : "",
                                         (int)(k->len > 32 ? 32 : k->len), (const char *)k->s);
        }
        const pk_obj *k = root->items[bad_entry];
        if (k->type != PK_STR)
            return bad(vm, "a state_dict key is a %s, not a string", type_names[k->type]);
        return bad(
            vm,
            "no state_dict found: '%.*s' holds a value of type %s, not a tensor, and no entry "
            "state_dict, model_state_dict, model or net holds only tensors (keys: %s)",
            (int)(k->len > 64 ? 64 : k->len), (const char *)k->s,
            type_names[root->items[bad_entry + 1]->type], keys);
    }
    snprintf(out->source_key, sizeof out->source_key, "%s", key);
    for (size_t i = 0; i + 1 < sd->n; i += 2) {
        const pk_obj *k = sd->items[i], *v = sd->items[i + 1];
        const pk_obj *st = v->storage;
        if (st->storage && st->storage->i == G_OTHER_STORAGE)
            return bad(vm,
                       "tensor '%.*s' is of type torch.%.*s: not supported, only float32 "
                       "(FloatStorage) and float16 (HalfStorage)",
                       (int)(k->len > 64 ? 64 : k->len), (const char *)k->s, (int)st->storage->len,
                       (const char *)st->storage->s);
        const unsigned char *data = NULL;
        size_t bytes = 0;
        int status = fn(ctx, st, &data, &bytes);
        if (status)
            return status;
        size_t es = (size_t)st->dtype;
        /* rebuild_tensor checked offset + numel <= storage numel; fn checked bytes */
        if ((uint64_t)bytes != (uint64_t)st->numel * es)
            return an__fail(AN_ERR_BAD_FILE,
                            "%s: storage '%.*s' holds %zu bytes, not %" PRId64
                            " elements of %zu bytes",
                            vm->path, (int)st->len, (const char *)st->s, bytes, st->numel, es);
        size_t n = (size_t)v->numel * es;
        unsigned char *copy = malloc(n ? n : 1);
        if (!copy)
            return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu bytes", vm->path, n);
        memcpy(copy, data + (size_t)v->offset * es, n);
        status = an__ctensors_add(out, vm->path, (const char *)k->s, k->len, st->dtype, v->ndim,
                                  v->size, copy, n);
        if (status)
            return status;
    }
    return AN_OK;
}

/* ------------------------------------------------------------------------ */
/* The zip container                                                        */

typedef struct {
    const char *path;
    zip_t *zip;
    char prefix[256];    /* "archive/" */
    unsigned char *blob; /* the last storage read, owned */
} zip_ctx;

static int zip_read_entry(const char *path, zip_t *zip, const char *name, unsigned char **out,
                          size_t *size, uint64_t max)
{
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat(zip, name, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return an__fail(AN_ERR_BAD_FILE, "%s: the archive has no entry '%s'", path, name);
    if (st.size > max || st.size > SIZE_MAX - 1)
        return an__fail(AN_ERR_BAD_FILE, "%s: entry '%s' is %" PRIu64 " bytes, more than %" PRIu64,
                        path, name, (uint64_t)st.size, max);
    unsigned char *buf = malloc((size_t)st.size + 1);
    if (!buf)
        return an__fail(AN_ERR_OUT_OF_MEMORY, "%s: cannot allocate %" PRIu64 " bytes for '%s'",
                        path, (uint64_t)st.size, name);
    zip_file_t *f = zip_fopen(zip, name, 0);
    if (!f) {
        free(buf);
        return an__fail(AN_ERR_BAD_FILE, "%s: cannot open entry '%s': %s", path, name,
                        zip_strerror(zip));
    }
    zip_int64_t got = zip_fread(f, buf, st.size);
    /* one byte more must give end of file: the stated size is the real one */
    char extra;
    zip_int64_t more = got == (zip_int64_t)st.size ? zip_fread(f, &extra, 1) : 0;
    int status = AN_OK;
    if (got != (zip_int64_t)st.size || more != 0)
        status = an__fail(AN_ERR_BAD_FILE, "%s: entry '%s' is damaged: %s", path, name,
                          got < 0 ? zip_file_strerror(f) : "its data does not match its size");
    zip_fclose(f);
    if (status) {
        free(buf);
        return status;
    }
    *out = buf;
    *size = (size_t)st.size;
    return AN_OK;
}

static int zip_storage(void *vctx, const pk_obj *st, const unsigned char **data, size_t *bytes)
{
    zip_ctx *z = vctx;
    char name[400];
    snprintf(name, sizeof name, "%sdata/%.*s", z->prefix, (int)st->len, (const char *)st->s);
    free(z->blob);
    z->blob = NULL;
    size_t size = 0;
    int status = zip_read_entry(z->path, z->zip, name, &z->blob, &size, UINT64_C(1) << 36);
    if (status)
        return status;
    *data = z->blob;
    *bytes = size;
    return AN_OK;
}

int an__pth_read_zip(const char *path, const unsigned char *buf, size_t size, an__ctensors *out)
{
    int status = AN_OK;
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *src = NULL;
    zip_ctx z = {path, NULL, "", NULL};
    unsigned char *pkl = NULL;
    size_t pkl_size = 0;
    pk_vm vm;
    vm_init(&vm, path, "data.pkl", NULL, 0, 0);

    src = zip_source_buffer_create(buf, size, 0, &err);
    if (!src) {
        status = an__fail(AN_ERR_OUT_OF_MEMORY, "%s: %s", path, zip_error_strerror(&err));
        goto fail;
    }
    z.zip = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z.zip) {
        status = an__fail(AN_ERR_BAD_FILE,
                          "%s: not a readable zip archive (a PyTorch .pth; truncated?): %s", path,
                          zip_error_strerror(&err));
        goto fail;
    }
    src = NULL; /* the archive owns it now */
    /* the pickle is "<archive>/data.pkl", the storages "<archive>/data/<key>" */
    zip_int64_t n = zip_get_num_entries(z.zip, 0);
    int found = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z.zip, (zip_uint64_t)i, 0);
        size_t len = name ? strlen(name) : 0;
        if (len >= 9 && strcmp(name + len - 9, "/data.pkl") == 0 &&
            memchr(name, '/', len - 9) == NULL && len - 8 < sizeof z.prefix) {
            memcpy(z.prefix, name, len - 8);
            z.prefix[len - 8] = '\0';
            found++;
        }
    }
    if (found != 1) {
        int npy = 0; /* numpy.savez writes NAME.npy members */
        for (zip_int64_t i = 0; i < n && !found; i++) {
            const char *name = zip_get_name(z.zip, (zip_uint64_t)i, 0);
            size_t len = name ? strlen(name) : 0;
            npy += len > 4 && strcmp(name + len - 4, ".npy") == 0;
        }
        if (npy)
            status = an__fail(AN_ERR_BAD_FILE,
                              "%s is a NumPy .npz archive; convert accepts a "
                              "PyTorch .pth and a Caffe .caffemodel",
                              path);
        else
            status = an__fail(AN_ERR_BAD_FILE,
                              "%s: the zip archive has %s 'ARCHIVE/data.pkl' entry: "
                              "not a PyTorch .pth",
                              path, found ? "more than one" : "no");
        goto fail;
    }
    char name[300];
    snprintf(name, sizeof name, "%sbyteorder", z.prefix);
    if (zip_name_locate(z.zip, name, 0) >= 0) {
        unsigned char *bo = NULL;
        size_t bo_size = 0;
        AN_TRY(zip_read_entry(path, z.zip, name, &bo, &bo_size, 16));
        bool little = bo_size == 6 && memcmp(bo, "little", 6) == 0;
        free(bo);
        if (!little) {
            status = an__fail(AN_ERR_BAD_FILE, "%s: storages are not little-endian", path);
            goto fail;
        }
    }
    snprintf(name, sizeof name, "%sdata.pkl", z.prefix);
    AN_TRY(zip_read_entry(path, z.zip, name, &pkl, &pkl_size, UINT64_C(1) << 30));
    vm_init(&vm, path, "data.pkl", pkl, pkl_size, 0);
    pk_obj *root = NULL;
    AN_TRY(run(&vm, &root));
    if (vm.pos != vm.size) {
        status = an__fail(AN_ERR_BAD_FILE, "%s: data.pkl has %zu bytes after its STOP", path,
                          vm.size - vm.pos);
        goto fail;
    }
    AN_TRY(collect(&vm, root, zip_storage, &z, out));
    snprintf(out->format, sizeof out->format, "PyTorch zip (torch.save)");

fail:
    vm_free(&vm);
    free(pkl);
    free(z.blob);
    if (z.zip)
        zip_discard(z.zip);
    if (src)
        zip_source_free(src);
    zip_error_fini(&err);
    return status;
}

/* ------------------------------------------------------------------------ */
/* The legacy container                                                     */

/* LONG1 0x1950a86a20f9469cfc6c, torch.serialization.MAGIC_NUMBER */
static const unsigned char magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

typedef struct {
    const char *path;
    const unsigned char *buf;
    size_t size;
    size_t n;
    const pk_obj *keys[4 * AN__MAX_CTENSORS]; /* storage keys, in file order */
    size_t offset[4 * AN__MAX_CTENSORS];      /* their data in buf */
    uint64_t count[4 * AN__MAX_CTENSORS];     /* elements, as the file says */
} legacy_ctx;

static int legacy_storage(void *vctx, const pk_obj *st, const unsigned char **data, size_t *bytes)
{
    legacy_ctx *c = vctx;
    for (size_t i = 0; i < c->n; i++) {
        if (c->keys[i]->len == st->len && memcmp(c->keys[i]->s, st->s, st->len) == 0) {
            *data = c->buf + c->offset[i];
            *bytes = (size_t)c->count[i] * (size_t)st->dtype;
            return AN_OK;
        }
    }
    return an__fail(AN_ERR_BAD_FILE, "%s: storage '%.*s' is not in the file's list of storages",
                    c->path, (int)st->len, (const char *)st->s);
}

/* Element size of storage key, named anywhere in the pickle (a checkpoint's
 * optimizer state too); 0 when no persistent id names it. */
static int key_dtype(const pk_vm *vm, const pk_obj *key)
{
    for (const pk_obj *o = vm->objects; o; o = o->next)
        if (o->type == PK_STORAGE && o->len == key->len && memcmp(o->s, key->s, key->len) == 0)
            return o->dtype;
    return 0;
}

int an__pth_read_legacy(const char *path, const unsigned char *buf, size_t size, an__ctensors *out)
{
    int status = AN_OK;
    pk_vm vms[5];
    static const char *const what[5] = {"magic number pickle", "protocol version pickle",
                                        "system info pickle", "state_dict pickle",
                                        "storage keys pickle"};
    pk_obj *val[5] = {NULL};
    legacy_ctx c = {.path = path, .buf = buf, .size = size};
    size_t pos = 0;
    for (int i = 0; i < 5; i++)
        vm_init(&vms[i], path, what[i], buf, size, 0);
    for (int i = 0; i < 5; i++) {
        vms[i].pos = pos;
        AN_TRY(run(&vms[i], &val[i]));
        pos = vms[i].pos;
        if (i == 0 && !(val[0]->type == PK_BIGINT && val[0]->len == sizeof magic &&
                        memcmp(val[0]->s, magic, sizeof magic) == 0)) {
            status = an__fail(AN_ERR_BAD_FILE, "%s: wrong magic number: not a legacy PyTorch file",
                              path);
            goto fail;
        }
        if (i == 1 && !(val[1]->type == PK_INT && val[1]->i == 1001)) {
            status = an__fail(AN_ERR_BAD_FILE, "%s: protocol version is not 1001", path);
            goto fail;
        }
        if (i == 2) {
            if (val[2]->type != PK_DICT) {
                status = an__fail(AN_ERR_BAD_FILE, "%s: system info is not a dict", path);
                goto fail;
            }
            for (size_t k = 0; k + 1 < val[2]->n; k += 2)
                if (str_is(val[2]->items[k], "little_endian") &&
                    !(val[2]->items[k + 1]->type == PK_BOOL && val[2]->items[k + 1]->i == 1)) {
                    status = an__fail(AN_ERR_BAD_FILE, "%s: saved on a big-endian machine", path);
                    goto fail;
                }
        }
    }
    const pk_obj *keys = val[4];
    if (keys->type != PK_LIST || keys->n > sizeof c.keys / sizeof c.keys[0]) {
        status = an__fail(AN_ERR_BAD_FILE, "%s: the storage keys are not a list of at most %zu",
                          path, sizeof c.keys / sizeof c.keys[0]);
        goto fail;
    }
    /* each storage: an 8-byte element count, then the elements */
    for (size_t i = 0; i < keys->n; i++) {
        const pk_obj *k = keys->items[i];
        if (k->type != PK_STR) {
            status = an__fail(AN_ERR_BAD_FILE, "%s: storage key %zu is not a string", path, i);
            goto fail;
        }
        int es = key_dtype(&vms[3], k);
        if (!es) {
            status = an__fail(AN_ERR_BAD_FILE, "%s: storage '%.*s' belongs to no tensor", path,
                              (int)(k->len > 64 ? 64 : k->len), (const char *)k->s);
            goto fail;
        }
        if (size - pos < 8) {
            status = an__fail(AN_ERR_BAD_FILE,
                              "%s: storage '%.*s' at offset %zu: the file ends "
                              "before its size (file truncated?)",
                              path, (int)k->len, (const char *)k->s, pos);
            goto fail;
        }
        uint64_t count = le(buf + pos, 8);
        pos += 8;
        if (count > (size - pos) / (uint64_t)es) {
            status = an__fail(AN_ERR_BAD_FILE,
                              "%s: storage '%.*s' at offset %zu: %" PRIu64
                              " elements of %d bytes run past the end of the "
                              "%zu-byte file (file truncated?)",
                              path, (int)k->len, (const char *)k->s, pos - 8, count, es, size);
            goto fail;
        }
        c.keys[c.n] = k;
        c.offset[c.n] = pos;
        c.count[c.n] = count;
        c.n++;
        pos += (size_t)count * (size_t)es;
    }
    if (pos != size) {
        status = an__fail(AN_ERR_BAD_FILE, "%s: %zu unexpected bytes after the last storage", path,
                          size - pos);
        goto fail;
    }
    AN_TRY(collect(&vms[3], val[3], legacy_storage, &c, out));
    snprintf(out->format, sizeof out->format, "PyTorch legacy (torch.save, pre-1.6 format)");

fail:
    for (int i = 0; i < 5; i++)
        vm_free(&vms[i]);
    return status;
}
