/* pth.c - reader for legacy (non-zip) PyTorch state_dict files.
 *
 * File layout (torch.save with _use_new_zipfile_serialization=False):
 *   pickle: magic number 0x1950a86a20f9469cfc6c
 *   pickle: protocol version 1001
 *   pickle: sys_info dict (little_endian, type_sizes)
 *   pickle: the state_dict (OrderedDict of name -> tensor); tensors are
 *           _rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
 *           hooks) whose storage is a persistent id
 *           ('storage', <torch.XStorage>, key, location, numel[, view]).
 *   pickle: list of storage keys, in the order the storages follow
 *   per key: int64 LE element count, then count raw LE elements.
 *
 * The pickle machine below is deliberately tiny: it knows the protocol-2
 * opcodes torch emits for a state_dict and nothing else, calls no code, and
 * bounds every count against the bytes actually left before allocating. */
#include "nn/pth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Limits that no real state_dict comes near; they only stop hostile input
 * from making us allocate without bound. */
#define PTH_MAX_STACK   (1 << 16)
#define PTH_MAX_MARKS   1024
#define PTH_MAX_MEMO    (1 << 20)
#define PTH_MAX_OBJECTS (1 << 21)
#define PTH_MAX_GLOBAL  128

/* 0x1950a86a20f9469cfc6c as a pickle LONG1 payload (little-endian). */
static const unsigned char pth_magic[10] = {
    0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

enum pv_type {
    PV_NONE, PV_BOOL, PV_INT, PV_BIGINT, PV_FLOAT, PV_STR,
    PV_TUPLE, PV_LIST, PV_DICT, PV_GLOBAL, PV_STORAGE, PV_TENSOR
};

enum pv_global { G_ORDERED_DICT, G_REBUILD_V2, G_FLOAT_STORAGE, G_LONG_STORAGE };

typedef struct pv_tensor {
    struct pv *storage;
    int64_t offset;
    int ndim;
    int64_t shape[ORDO_PTH_MAX_DIM];
    int64_t stride[ORDO_PTH_MAX_DIM];
} pv_tensor;

/* One pickle value. Every value is linked into the machine's list of all
 * values so that freeing never has to walk (possibly cyclic) object graphs. */
typedef struct pv {
    struct pv *all_next;
    enum pv_type type;
    union {
        int64_t i;                       /* BOOL, INT */
        double f;                        /* FLOAT */
        int g;                           /* GLOBAL: enum pv_global */
        struct { const unsigned char *p; size_t n; } s;   /* STR, BIGINT */
        struct { struct pv **v; size_t n, cap; } seq;     /* TUPLE, LIST, DICT (pairs) */
        struct {                         /* STORAGE: a persistent id */
            const unsigned char *key; size_t keylen;
            ordo_pth_dtype dtype; int64_t numel;
            const unsigned char *data;   /* set once the data section is read */
        } st;
        pv_tensor *t;                    /* TENSOR */
    } u;
} pv;

typedef struct pm {                      /* the pickle machine */
    const unsigned char *buf;
    size_t len, pos;
    pv *all;
    size_t nobjects;
    pv **stack; size_t sp, stack_cap;
    size_t marks[PTH_MAX_MARKS]; size_t nmarks;
    pv **memo; size_t memo_cap;
    pv **storages; size_t nstorages, storages_cap;   /* every PV_STORAGE made */
    ordo_err *err;
} pm;

struct ordo_pth {
    int n;
    ordo_pth_tensor *t;
    int *by_name;                        /* indices sorted by name, for find */
};

/* ---- values ------------------------------------------------------------- */

static pv *pv_new(pm *m, enum pv_type type)
{
    if (m->nobjects >= PTH_MAX_OBJECTS) {
        ordo_err_set(m->err, "pickle builds more than %d objects", PTH_MAX_OBJECTS);
        return NULL;
    }
    pv *v = calloc(1, sizeof *v);
    if (!v) {
        ordo_err_set(m->err, "out of memory");
        return NULL;
    }
    v->type = type;
    v->all_next = m->all;
    m->all = v;
    m->nobjects++;
    return v;
}

static void pv_free_all(pv *v)
{
    while (v) {
        pv *next = v->all_next;
        if (v->type == PV_TUPLE || v->type == PV_LIST || v->type == PV_DICT)
            free(v->u.seq.v);
        else if (v->type == PV_TENSOR)
            free(v->u.t);
        free(v);
        v = next;
    }
}

/* Grows a pointer array to hold at least `need` entries. */
static int grow(pm *m, pv ***arr, size_t *cap, size_t need, size_t limit, const char *what)
{
    if (need <= *cap)
        return 0;
    if (need > limit)
        return ordo_err_set(m->err, "pickle %s exceeds %zu entries", what, limit);
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    if (ncap > limit)
        ncap = limit;
    pv **nv = realloc(*arr, ncap * sizeof *nv);
    if (!nv)
        return ordo_err_set(m->err, "out of memory");
    memset(nv + *cap, 0, (ncap - *cap) * sizeof *nv);
    *arr = nv;
    *cap = ncap;
    return 0;
}

static int seq_append(pm *m, pv *seq, pv *item)
{
    /* Appends are bounded by input bytes (each needs an opcode or a stack
     * slot), so the object limit is a fine cap here too. */
    if (grow(m, &seq->u.seq.v, &seq->u.seq.cap, seq->u.seq.n + 1,
             (size_t)PTH_MAX_OBJECTS * 2, "container") < 0)
        return -1;
    seq->u.seq.v[seq->u.seq.n++] = item;
    return 0;
}

/* ---- stack -------------------------------------------------------------- */

static int push(pm *m, pv *v)
{
    if (!v)
        return -1;
    if (grow(m, &m->stack, &m->stack_cap, m->sp + 1, PTH_MAX_STACK, "stack") < 0)
        return -1;
    m->stack[m->sp++] = v;
    return 0;
}

static size_t floor_sp(const pm *m)   /* stack items below this belong to an outer mark */
{
    return m->nmarks ? m->marks[m->nmarks - 1] : 0;
}

static pv *pop(pm *m)
{
    if (m->sp <= floor_sp(m)) {
        ordo_err_set(m->err, "pickle stack underflow at offset %zu", m->pos);
        return NULL;
    }
    return m->stack[--m->sp];
}

static pv *top(pm *m)
{
    if (m->sp <= floor_sp(m)) {
        ordo_err_set(m->err, "pickle stack underflow at offset %zu", m->pos);
        return NULL;
    }
    return m->stack[m->sp - 1];
}

/* Pops back to the last MARK; returns the index of the first item above it. */
static int pop_mark(pm *m, size_t *first)
{
    if (!m->nmarks)
        return ordo_err_set(m->err, "pickle has no MARK to pop at offset %zu", m->pos);
    *first = m->marks[--m->nmarks];
    return 0;
}

/* ---- reading ------------------------------------------------------------ */

static int need(pm *m, size_t n)
{
    if (m->len - m->pos < n)
        return ordo_err_set(m->err, "file truncated at offset %zu (need %zu more bytes)",
                            m->pos, n);
    return 0;
}

static uint64_t rd_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static const char *type_name(enum pv_type t)
{
    static const char *names[] = {"None", "bool", "int", "long", "float", "str",
                                  "tuple", "list", "dict", "global", "storage", "tensor"};
    return names[t];
}

static int want_type(pm *m, const pv *v, enum pv_type t, const char *ctx)
{
    if (v->type != t)
        return ordo_err_set(m->err, "%s: expected %s, got %s (offset %zu)", ctx,
                            type_name(t), type_name(v->type), m->pos);
    return 0;
}

static int str_eq(const pv *v, const char *s)
{
    size_t n = strlen(s);
    return v->type == PV_STR && v->u.s.n == n && memcmp(v->u.s.p, s, n) == 0;
}

/* ---- opcodes needing more than a line ----------------------------------- */

static int op_global(pm *m)
{
    /* GLOBAL "module\nname\n": both lines must end within the buffer. */
    const char *parts[2];
    size_t lens[2];
    for (int k = 0; k < 2; k++) {
        const unsigned char *start = m->buf + m->pos;
        size_t avail = m->len - m->pos;
        if (avail > PTH_MAX_GLOBAL + 1)
            avail = PTH_MAX_GLOBAL + 1;
        const unsigned char *nl = memchr(start, '\n', avail);
        if (!nl)
            return ordo_err_set(m->err, "unterminated or overlong GLOBAL at offset %zu", m->pos);
        parts[k] = (const char *)start;
        lens[k] = (size_t)(nl - start);
        m->pos += lens[k] + 1;
    }
    static const struct { const char *mod, *name; int g; } allowed[] = {
        {"collections", "OrderedDict", G_ORDERED_DICT},
        {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_V2},
        {"torch", "FloatStorage", G_FLOAT_STORAGE},
        {"torch", "LongStorage", G_LONG_STORAGE},
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (lens[0] == strlen(allowed[i].mod) && !memcmp(parts[0], allowed[i].mod, lens[0]) &&
            lens[1] == strlen(allowed[i].name) && !memcmp(parts[1], allowed[i].name, lens[1])) {
            pv *v = pv_new(m, PV_GLOBAL);
            if (!v)
                return -1;
            v->u.g = allowed[i].g;
            return push(m, v);
        }
    }
    /* Print only printable bytes of the refused name. */
    char shown[2][64];
    for (int k = 0; k < 2; k++) {
        size_t n = lens[k] < sizeof shown[k] - 1 ? lens[k] : sizeof shown[k] - 1;
        for (size_t j = 0; j < n; j++) {
            unsigned char c = (unsigned char)parts[k][j];
            shown[k][j] = (c >= 32 && c < 127) ? (char)c : '?';
        }
        shown[k][n] = 0;
    }
    return ordo_err_set(m->err, "refusing pickle global %s.%s (not a state_dict type)",
                        shown[0], shown[1]);
}

static int op_tuple(pm *m, size_t first)
{
    pv *t = pv_new(m, PV_TUPLE);
    if (!t)
        return -1;
    size_t n = m->sp - first;
    if (n) {
        t->u.seq.v = malloc(n * sizeof *t->u.seq.v);
        if (!t->u.seq.v)
            return ordo_err_set(m->err, "out of memory");
        memcpy(t->u.seq.v, m->stack + first, n * sizeof *t->u.seq.v);
        t->u.seq.n = t->u.seq.cap = n;
    }
    m->sp = first;
    return push(m, t);
}

static int get_int(pm *m, const pv *v, int64_t *out, const char *ctx)
{
    if (want_type(m, v, PV_INT, ctx) < 0)
        return -1;
    *out = v->u.i;
    return 0;
}

/* ('storage', <XStorage>, key, location, numel[, None]) -> PV_STORAGE */
static int op_binpersid(pm *m)
{
    pv *pid = pop(m);
    if (!pid)
        return -1;
    if (want_type(m, pid, PV_TUPLE, "persistent id") < 0)
        return -1;
    size_t n = pid->u.seq.n;
    pv **a = pid->u.seq.v;
    if (n < 5 || n > 6 || !str_eq(a[0], "storage"))
        return ordo_err_set(m->err, "persistent id is not a ('storage', ...) tuple (offset %zu)",
                            m->pos);
    if (a[1]->type != PV_GLOBAL || (a[1]->u.g != G_FLOAT_STORAGE && a[1]->u.g != G_LONG_STORAGE))
        return ordo_err_set(m->err, "storage type is not FloatStorage/LongStorage (offset %zu)",
                            m->pos);
    if (want_type(m, a[2], PV_STR, "storage key") < 0 ||
        want_type(m, a[3], PV_STR, "storage location") < 0)
        return -1;
    if (n == 6 && a[5]->type != PV_NONE)
        return ordo_err_set(m->err, "storage views are not supported (offset %zu)", m->pos);
    int64_t numel;
    if (get_int(m, a[4], &numel, "storage size") < 0)
        return -1;
    if (numel < 0)
        return ordo_err_set(m->err, "negative storage size %lld", (long long)numel);
    pv *s = pv_new(m, PV_STORAGE);
    if (!s)
        return -1;
    s->u.st.key = a[2]->u.s.p;
    s->u.st.keylen = a[2]->u.s.n;
    s->u.st.dtype = a[1]->u.g == G_FLOAT_STORAGE ? ORDO_PTH_F32 : ORDO_PTH_I64;
    s->u.st.numel = numel;
    if (grow(m, &m->storages, &m->storages_cap, m->nstorages + 1, PTH_MAX_OBJECTS, "storages") < 0)
        return -1;
    m->storages[m->nstorages++] = s;
    return push(m, s);
}

static int int_tuple(pm *m, const pv *t, int64_t *out, int *n, const char *ctx)
{
    if (want_type(m, t, PV_TUPLE, ctx) < 0)
        return -1;
    if (t->u.seq.n > ORDO_PTH_MAX_DIM)
        return ordo_err_set(m->err, "%s has %zu dimensions (max %d)", ctx, t->u.seq.n,
                            ORDO_PTH_MAX_DIM);
    for (size_t i = 0; i < t->u.seq.n; i++)
        if (get_int(m, t->u.seq.v[i], &out[i], ctx) < 0)
            return -1;
    *n = (int)t->u.seq.n;
    return 0;
}

static int op_reduce(pm *m)
{
    pv *args = pop(m);
    pv *fn = args ? pop(m) : NULL;
    if (!fn)
        return -1;
    if (fn->type != PV_GLOBAL || args->type != PV_TUPLE)
        return ordo_err_set(m->err, "REDUCE of a %s with %s arguments (offset %zu)",
                            type_name(fn->type), type_name(args->type), m->pos);
    if (fn->u.g == G_ORDERED_DICT) {
        if (args->u.seq.n != 0)
            return ordo_err_set(m->err, "OrderedDict() with arguments (offset %zu)", m->pos);
        return push(m, pv_new(m, PV_DICT));
    }
    if (fn->u.g != G_REBUILD_V2)
        return ordo_err_set(m->err, "REDUCE calls a storage type (offset %zu)", m->pos);
    /* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
     * backward_hooks[, metadata]) */
    size_t n = args->u.seq.n;
    pv **a = args->u.seq.v;
    if (n < 6 || n > 7)
        return ordo_err_set(m->err, "_rebuild_tensor_v2 with %zu arguments (offset %zu)", n,
                            m->pos);
    if (want_type(m, a[0], PV_STORAGE, "tensor storage") < 0 ||
        want_type(m, a[4], PV_BOOL, "requires_grad") < 0)
        return -1;
    pv_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return ordo_err_set(m->err, "out of memory");
    int ns = 0, nst = 0;
    if (get_int(m, a[1], &t->offset, "storage offset") < 0 ||
        int_tuple(m, a[2], t->shape, &ns, "tensor size") < 0 ||
        int_tuple(m, a[3], t->stride, &nst, "tensor stride") < 0) {
        free(t);
        return -1;
    }
    if (ns != nst) {
        free(t);
        return ordo_err_set(m->err, "tensor size has %d dims but stride has %d", ns, nst);
    }
    t->storage = a[0];
    t->ndim = ns;
    pv *v = pv_new(m, PV_TENSOR);
    if (!v) {
        free(t);
        return -1;
    }
    v->u.t = t;
    return push(m, v);
}

static int op_setitems(pm *m, size_t first)
{
    if (first == 0 || first - 1 < floor_sp(m))
        return ordo_err_set(m->err, "SETITEMS without a dict (offset %zu)", m->pos);
    pv *d = m->stack[first - 1];
    if (d->type != PV_DICT)
        return ordo_err_set(m->err, "SETITEM(S) on a %s (offset %zu)", type_name(d->type), m->pos);
    if ((m->sp - first) % 2)
        return ordo_err_set(m->err, "SETITEMS with an odd number of items (offset %zu)", m->pos);
    for (size_t i = first; i < m->sp; i++)
        if (seq_append(m, d, m->stack[i]) < 0)
            return -1;
    m->sp = first;
    return 0;
}

static int op_appends(pm *m, size_t first)
{
    if (first == 0 || first - 1 < floor_sp(m))
        return ordo_err_set(m->err, "APPENDS without a list (offset %zu)", m->pos);
    pv *l = m->stack[first - 1];
    if (l->type != PV_LIST)
        return ordo_err_set(m->err, "APPEND(S) on a %s (offset %zu)", type_name(l->type), m->pos);
    for (size_t i = first; i < m->sp; i++)
        if (seq_append(m, l, m->stack[i]) < 0)
            return -1;
    m->sp = first;
    return 0;
}

static int memo_put(pm *m, uint64_t idx)
{
    pv *v = top(m);
    if (!v)
        return -1;
    if (idx >= PTH_MAX_MEMO)
        return ordo_err_set(m->err, "pickle memo index %llu too large", (unsigned long long)idx);
    if (grow(m, &m->memo, &m->memo_cap, (size_t)idx + 1, PTH_MAX_MEMO, "memo") < 0)
        return -1;
    m->memo[idx] = v;
    return 0;
}

static int memo_get(pm *m, uint64_t idx)
{
    if (idx >= m->memo_cap || !m->memo[idx])
        return ordo_err_set(m->err, "pickle memo %llu is unset (offset %zu)",
                            (unsigned long long)idx, m->pos);
    return push(m, m->memo[idx]);
}

/* Runs one pickle from m->pos up to its STOP; *out is the result. The memo
 * and stack are per pickle, as each pickle in the file was a separate dump. */
static int run_pickle(pm *m, pv **out)
{
    m->sp = 0;
    m->nmarks = 0;
    if (m->memo)
        memset(m->memo, 0, m->memo_cap * sizeof *m->memo);
    for (;;) {
        if (need(m, 1) < 0)
            return -1;
        size_t at = m->pos;
        unsigned char op = m->buf[m->pos++];
        pv *v;
        size_t first = 0;
        switch (op) {
        case 0x80:   /* PROTO */
            if (need(m, 1) < 0)
                return -1;
            if (m->buf[m->pos] > 2)
                return ordo_err_set(m->err, "pickle protocol %d not supported (only <= 2)",
                                    m->buf[m->pos]);
            m->pos++;
            break;
        case '.':    /* STOP */
            if (m->nmarks)
                return ordo_err_set(m->err, "pickle STOP with an open MARK (offset %zu)", at);
            if (m->sp != 1)
                return ordo_err_set(m->err, "pickle STOP with %zu stack items (offset %zu)",
                                    m->sp, at);
            *out = m->stack[0];
            return 0;
        case '(':    /* MARK */
            if (m->nmarks >= PTH_MAX_MARKS)
                return ordo_err_set(m->err, "pickle nests deeper than %d MARKs", PTH_MAX_MARKS);
            m->marks[m->nmarks++] = m->sp;
            break;
        case 'c':    /* GLOBAL */
            if (op_global(m) < 0)
                return -1;
            break;
        case 'q':    /* BINPUT */
            if (need(m, 1) < 0 || memo_put(m, m->buf[m->pos]) < 0)
                return -1;
            m->pos += 1;
            break;
        case 'r':    /* LONG_BINPUT */
            if (need(m, 4) < 0 || memo_put(m, rd_le(m->buf + m->pos, 4)) < 0)
                return -1;
            m->pos += 4;
            break;
        case 'h':    /* BINGET */
            if (need(m, 1) < 0 || memo_get(m, m->buf[m->pos]) < 0)
                return -1;
            m->pos += 1;
            break;
        case 'j':    /* LONG_BINGET */
            if (need(m, 4) < 0 || memo_get(m, rd_le(m->buf + m->pos, 4)) < 0)
                return -1;
            m->pos += 4;
            break;
        case '}':    /* EMPTY_DICT */
            if (push(m, pv_new(m, PV_DICT)) < 0)
                return -1;
            break;
        case ']':    /* EMPTY_LIST */
            if (push(m, pv_new(m, PV_LIST)) < 0)
                return -1;
            break;
        case ')':    /* EMPTY_TUPLE */
            if (op_tuple(m, m->sp) < 0)
                return -1;
            break;
        case 0x85: case 0x86: case 0x87:   /* TUPLE1..3 */
            if (m->sp - floor_sp(m) < (size_t)(op - 0x84))
                return ordo_err_set(m->err, "pickle stack underflow at offset %zu", at);
            if (op_tuple(m, m->sp - (size_t)(op - 0x84)) < 0)
                return -1;
            break;
        case 't':    /* TUPLE */
            if (pop_mark(m, &first) < 0 || op_tuple(m, first) < 0)
                return -1;
            break;
        case 'X':    /* BINUNICODE */
        case 'T':    /* BINSTRING */
        case 'U': {  /* SHORT_BINSTRING */
            int w = op == 'U' ? 1 : 4;
            if (need(m, (size_t)w) < 0)
                return -1;
            uint64_t n = rd_le(m->buf + m->pos, w);
            m->pos += (size_t)w;
            if (need(m, n) < 0)
                return -1;
            if (!(v = pv_new(m, PV_STR)))
                return -1;
            v->u.s.p = m->buf + m->pos;
            v->u.s.n = (size_t)n;
            m->pos += (size_t)n;
            if (push(m, v) < 0)
                return -1;
            break;
        }
        case 'K': case 'M': case 'J': {   /* BININT1, BININT2, BININT */
            int w = op == 'K' ? 1 : op == 'M' ? 2 : 4;
            if (need(m, (size_t)w) < 0 || !(v = pv_new(m, PV_INT)))
                return -1;
            uint64_t u = rd_le(m->buf + m->pos, w);
            v->u.i = op == 'J' ? (int64_t)(int32_t)(uint32_t)u : (int64_t)u;
            m->pos += (size_t)w;
            if (push(m, v) < 0)
                return -1;
            break;
        }
        case 0x8a: { /* LONG1: n-byte little-endian two's complement */
            if (need(m, 1) < 0)
                return -1;
            size_t n = m->buf[m->pos++];
            if (need(m, n) < 0)
                return -1;
            const unsigned char *p = m->buf + m->pos;
            m->pos += n;
            if (n <= 8) {
                if (!(v = pv_new(m, PV_INT)))
                    return -1;
                uint64_t u = n ? rd_le(p, (int)n) : 0;
                if (n && n < 8 && (p[n - 1] & 0x80))   /* sign-extend */
                    u |= ~(uint64_t)0 << (8 * n);
                v->u.i = (int64_t)u;
            } else {
                if (!(v = pv_new(m, PV_BIGINT)))
                    return -1;
                v->u.s.p = p;
                v->u.s.n = n;
            }
            if (push(m, v) < 0)
                return -1;
            break;
        }
        case 'G': {  /* BINFLOAT: big-endian IEEE double */
            if (need(m, 8) < 0 || !(v = pv_new(m, PV_FLOAT)))
                return -1;
            uint64_t u = 0;
            for (int i = 0; i < 8; i++)
                u = (u << 8) | m->buf[m->pos + (size_t)i];
            memcpy(&v->u.f, &u, sizeof u);
            m->pos += 8;
            if (push(m, v) < 0)
                return -1;
            break;
        }
        case 'N':    /* NONE */
            if (push(m, pv_new(m, PV_NONE)) < 0)
                return -1;
            break;
        case 0x88: case 0x89:   /* NEWTRUE, NEWFALSE */
            if (!(v = pv_new(m, PV_BOOL)))
                return -1;
            v->u.i = op == 0x88;
            if (push(m, v) < 0)
                return -1;
            break;
        case 'Q':    /* BINPERSID */
            if (op_binpersid(m) < 0)
                return -1;
            break;
        case 'R':    /* REDUCE */
            if (op_reduce(m) < 0)
                return -1;
            break;
        case 'b': {  /* BUILD: only OrderedDict's __dict__ ({'_metadata': ...}) */
            pv *state = pop(m);
            pv *obj = state ? top(m) : NULL;
            if (!obj)
                return -1;
            if (obj->type != PV_DICT || (state->type != PV_DICT && state->type != PV_NONE))
                return ordo_err_set(m->err, "BUILD of a %s (offset %zu)", type_name(obj->type), at);
            break;   /* the state is metadata we do not need */
        }
        case 's':    /* SETITEM */
            if (m->sp - floor_sp(m) < 2)
                return ordo_err_set(m->err, "pickle stack underflow at offset %zu", at);
            if (op_setitems(m, m->sp - 2) < 0)
                return -1;
            break;
        case 'u':    /* SETITEMS */
            if (pop_mark(m, &first) < 0 || op_setitems(m, first) < 0)
                return -1;
            break;
        case 'a':    /* APPEND */
            if (m->sp - floor_sp(m) < 1)
                return ordo_err_set(m->err, "pickle stack underflow at offset %zu", at);
            if (op_appends(m, m->sp - 1) < 0)
                return -1;
            break;
        case 'e':    /* APPENDS */
            if (pop_mark(m, &first) < 0 || op_appends(m, first) < 0)
                return -1;
            break;
        default:
            return ordo_err_set(m->err, "unsupported pickle opcode 0x%02x at offset %zu", op, at);
        }
    }
}

/* ---- assembling the state_dict ------------------------------------------ */

static int cmp_storage_key(const void *a, const void *b)
{
    const pv *x = *(pv *const *)a, *y = *(pv *const *)b;
    size_t n = x->u.st.keylen < y->u.st.keylen ? x->u.st.keylen : y->u.st.keylen;
    int c = memcmp(x->u.st.key, y->u.st.key, n);
    if (c)
        return c;
    return (x->u.st.keylen > y->u.st.keylen) - (x->u.st.keylen < y->u.st.keylen);
}

static size_t dtype_size(ordo_pth_dtype d)
{
    return d == ORDO_PTH_F32 ? 4 : 8;
}

/* Reads the storage keys list and the data section that follows, pointing
 * every storage at its bytes. Each referenced key must appear exactly once
 * and every listed key must be referenced (as torch.load requires). */
static int read_storages(pm *m, const pv *keys)
{
    if (want_type(m, keys, PV_LIST, "storage keys") < 0)
        return -1;
    if (m->nstorages)
        qsort(m->storages, m->nstorages, sizeof *m->storages, cmp_storage_key);
    /* All references to one key must agree on type and size. */
    for (size_t i = 1; i < m->nstorages; i++) {
        pv *a = m->storages[i - 1], *b = m->storages[i];
        if (cmp_storage_key(&a, &b) == 0 &&
            (a->u.st.dtype != b->u.st.dtype || a->u.st.numel != b->u.st.numel))
            return ordo_err_set(m->err, "storage '%.*s' is declared twice with different "
                                "type or size", (int)a->u.st.keylen, (const char *)a->u.st.key);
    }
    for (size_t k = 0; k < keys->u.seq.n; k++) {
        pv *key = keys->u.seq.v[k];
        if (want_type(m, key, PV_STR, "storage key") < 0)
            return -1;
        pv probe = {.type = PV_STORAGE};
        probe.u.st.key = key->u.s.p;
        probe.u.st.keylen = key->u.s.n;
        pv *pp = &probe;
        pv **hit = m->nstorages ? bsearch(&pp, m->storages, m->nstorages, sizeof *m->storages,
                                          cmp_storage_key)
                                : NULL;
        if (!hit)
            return ordo_err_set(m->err, "storage '%.*s' is listed but no tensor uses it",
                                (int)key->u.s.n, (const char *)key->u.s.p);
        while (hit > m->storages && cmp_storage_key(hit - 1, &pp) == 0)
            hit--;                                  /* first of the equal run */
        if ((*hit)->u.st.data)
            return ordo_err_set(m->err, "storage '%.*s' is listed twice", (int)key->u.s.n,
                                (const char *)key->u.s.p);
        if (need(m, 8) < 0)
            return ordo_err_wrap(m->err, "storage %zu of %zu", k + 1, keys->u.seq.n);
        int64_t count = (int64_t)rd_le(m->buf + m->pos, 8);
        m->pos += 8;
        if (count != (*hit)->u.st.numel)
            return ordo_err_set(m->err, "storage '%.*s' holds %lld elements, expected %lld",
                                (int)key->u.s.n, (const char *)key->u.s.p, (long long)count,
                                (long long)(*hit)->u.st.numel);
        size_t es = dtype_size((*hit)->u.st.dtype);
        if ((uint64_t)count > (m->len - m->pos) / es)
            return ordo_err_set(m->err, "storage '%.*s' (%lld elements) runs past the end of "
                                "the file", (int)key->u.s.n, (const char *)key->u.s.p,
                                (long long)count);
        /* Mark every reference (the whole equal run) with the data. */
        for (pv **r = hit; r < m->storages + m->nstorages && cmp_storage_key(r, &pp) == 0; r++)
            (*r)->u.st.data = m->buf + m->pos;
        m->pos += (size_t)count * es;
    }
    for (size_t i = 0; i < m->nstorages; i++)
        if (!m->storages[i]->u.st.data)
            return ordo_err_set(m->err, "storage '%.*s' is used by a tensor but missing from "
                                "the file", (int)m->storages[i]->u.st.keylen,
                                (const char *)m->storages[i]->u.st.key);
    if (m->pos != m->len)
        return ordo_err_set(m->err, "%zu unexpected bytes after the last storage",
                            m->len - m->pos);
    return 0;
}

/* Copies numel elements of t (strided view into storage bytes `base`) into
 * dst in row-major order. Rows along the last dimension are copied in a
 * tight loop and the offset is kept incrementally, because the conv weights
 * of the real files are stored channels-last and make up most of the data. */
static void gather(const unsigned char *base, size_t es, const pv_tensor *t, int64_t numel,
                   unsigned char *dst)
{
    if (numel == 0)
        return;
    int nd = t->ndim;
    int64_t inner = nd ? t->shape[nd - 1] : 1, istride = nd ? t->stride[nd - 1] : 1;
    int64_t idx[ORDO_PTH_MAX_DIM] = {0};
    int64_t off = t->offset;   /* element offset of the current row start */
    for (int64_t done = 0; done < numel; done += inner) {
        const unsigned char *src = base + (size_t)off * es;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (istride == 1 || inner == 1) {
            memcpy(dst, src, (size_t)inner * es);
            dst += (size_t)inner * es;
        } else {
            size_t step = (size_t)istride * es;
            for (int64_t j = 0; j < inner; j++, src += step, dst += es)
                memcpy(dst, src, es);
        }
#else
        for (int64_t j = 0; j < inner; j++, dst += es) {
            const unsigned char *s = src + (size_t)(j * istride) * es;
            if (es == 4) { uint32_t u = (uint32_t)rd_le(s, 4); memcpy(dst, &u, 4); }
            else { uint64_t u = rd_le(s, 8); memcpy(dst, &u, 8); }
        }
#endif
        /* advance the odometer over the outer dimensions */
        for (int d = nd - 2; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) {
                off += t->stride[d];
                break;
            }
            off -= (t->shape[d] - 1) * t->stride[d];
            idx[d] = 0;
        }
    }
}

/* Copies one tensor out of its storage into contiguous row-major order.
 * *budget is what is left of the total output allowance. */
static int make_tensor(pm *m, const unsigned char *name, size_t namelen, const pv_tensor *t,
                       ordo_pth_tensor *out, size_t *budget)
{
    const pv *st = t->storage;
    int64_t size = st->u.st.numel;
    size_t es = dtype_size(st->u.st.dtype);
    const char *nm = (const char *)name;
    int nl = namelen > 200 ? 200 : (int)namelen;
    if (t->offset < 0 || t->offset > size)
        return ordo_err_set(m->err, "tensor '%.*s': storage offset %lld outside storage of %lld",
                            nl, nm, (long long)t->offset, (long long)size);
    int64_t numel = 1, last = t->offset;   /* last: highest element index used */
    int empty = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0 || t->stride[d] < 0)
            return ordo_err_set(m->err, "tensor '%.*s': negative size or stride", nl, nm);
        empty |= t->shape[d] == 0;
    }
    for (int d = 0; d < t->ndim && !empty; d++) {
        if (t->shape[d] > size || numel > size / t->shape[d])
            return ordo_err_set(m->err, "tensor '%.*s' has more elements than its storage (%lld)",
                                nl, nm, (long long)size);
        numel *= t->shape[d];
    }
    if (empty)
        numel = 0;
    if (numel > 0) {
        /* The highest element index touched must lie inside the storage;
         * each step is checked before it is added so nothing overflows. */
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] <= 1 || t->stride[d] == 0)
                continue;
            if (last >= size || t->shape[d] - 1 > (size - 1 - last) / t->stride[d])
                return ordo_err_set(m->err, "tensor '%.*s' exceeds its storage of %lld elements",
                                    nl, nm, (long long)size);
            last += (t->shape[d] - 1) * t->stride[d];
        }
        if (last >= size)
            return ordo_err_set(m->err, "tensor '%.*s' exceeds its storage of %lld elements",
                                nl, nm, (long long)size);
    }
    if ((uint64_t)numel * es > *budget)
        return ordo_err_set(m->err, "tensors would take more memory than the file's data "
                            "(shared storages?)");
    *budget -= (size_t)numel * es;

    char *nmcopy = malloc(namelen + 1);
    void *data = malloc(numel ? (size_t)numel * es : 1);
    if (!nmcopy || !data) {
        free(nmcopy);
        free(data);
        return ordo_err_set(m->err, "out of memory");
    }
    memcpy(nmcopy, name, namelen);
    nmcopy[namelen] = 0;
    gather(st->u.st.data, es, t, numel, data);
    out->name = nmcopy;
    out->dtype = st->u.st.dtype;
    out->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++)
        out->shape[d] = t->shape[d];
    out->numel = numel;
    out->data = data;
    return 0;
}

static int cmp_by_name(const void *a, const void *b, void *ctx)
{
    const ordo_pth *p = ctx;
    return strcmp(p->t[*(const int *)a].name, p->t[*(const int *)b].name);
}

static int check_magic(pm *m, const pv *v)
{
    if (!(v->type == PV_BIGINT && v->u.s.n == sizeof pth_magic &&
          !memcmp(v->u.s.p, pth_magic, sizeof pth_magic)))
        return ordo_err_set(m->err, "not a legacy PyTorch file (bad magic number)");
    return 0;
}

static int check_header(pm *m, pv *const v[3])
{
    if (v[1]->type != PV_INT || v[1]->u.i != 1001)
        return ordo_err_set(m->err, "unsupported PyTorch protocol version");
    if (want_type(m, v[2], PV_DICT, "sys_info") < 0)
        return -1;
    for (size_t i = 0; i + 1 < v[2]->u.seq.n; i += 2)
        if (str_eq(v[2]->u.seq.v[i], "little_endian")) {
            pv *le = v[2]->u.seq.v[i + 1];
            if (le->type != PV_BOOL || !le->u.i)
                return ordo_err_set(m->err, "big-endian PyTorch files are not supported");
        }
    return 0;
}

ordo_pth *ordo_pth_parse(const unsigned char *buf, size_t len, ordo_err *err)
{
    if (!buf || !len) {
        ordo_err_set(err, "empty .pth data");
        return NULL;
    }
    if (len >= 2 && buf[0] == 'P' && buf[1] == 'K') {
        ordo_err_set(err, "this is a zip-format .pth; only the legacy format is supported");
        return NULL;
    }
    pm m = {.buf = buf, .len = len, .err = err};
    ordo_pth *p = NULL;
    pv *hdr[3], *sd, *keys;
    /* Check the magic number before anything else, so that a file of some
     * other kind gets "not a PyTorch file" rather than an opcode error. */
    if (run_pickle(&m, &hdr[0]) < 0) {
        ordo_err_wrap(err, "not a legacy PyTorch file");
        goto fail;
    }
    if (check_magic(&m, hdr[0]) < 0)
        goto fail;
    if (run_pickle(&m, &hdr[1]) < 0 || run_pickle(&m, &hdr[2]) < 0 ||
        check_header(&m, hdr) < 0 || run_pickle(&m, &sd) < 0 || run_pickle(&m, &keys) < 0)
        goto fail;
    if (want_type(&m, sd, PV_DICT, "state_dict") < 0 || read_storages(&m, keys) < 0)
        goto fail;
    size_t n = sd->u.seq.n / 2;
    if (n > 1000000) {
        ordo_err_set(err, "state_dict has %zu entries", n);
        goto fail;
    }
    p = calloc(1, sizeof *p);
    if (!p || !(p->t = calloc(n ? n : 1, sizeof *p->t)) ||
        !(p->by_name = malloc((n ? n : 1) * sizeof *p->by_name))) {
        ordo_err_set(err, "out of memory");
        goto fail;
    }
    size_t budget = len;   /* output never exceeds the file's data */
    for (size_t i = 0; i < n; i++) {
        pv *k = sd->u.seq.v[2 * i], *v = sd->u.seq.v[2 * i + 1];
        if (want_type(&m, k, PV_STR, "state_dict key") < 0)
            goto fail;
        if (v->type != PV_TENSOR) {
            ordo_err_set(err, "state_dict entry '%.*s' is a %s, not a tensor",
                         (int)(k->u.s.n > 200 ? 200 : k->u.s.n), (const char *)k->u.s.p,
                         type_name(v->type));
            goto fail;
        }
        if (memchr(k->u.s.p, 0, k->u.s.n)) {
            ordo_err_set(err, "state_dict key contains a NUL byte");
            goto fail;
        }
        if (make_tensor(&m, k->u.s.p, k->u.s.n, v->u.t, &p->t[i], &budget) < 0)
            goto fail;
        p->n = (int)i + 1;
        p->by_name[i] = (int)i;
    }
    qsort_r(p->by_name, (size_t)p->n, sizeof *p->by_name, cmp_by_name, p);
    for (int i = 1; i < p->n; i++)
        if (!strcmp(p->t[p->by_name[i - 1]].name, p->t[p->by_name[i]].name)) {
            ordo_err_set(err, "state_dict has the key '%s' twice", p->t[p->by_name[i]].name);
            goto fail;
        }
    pv_free_all(m.all);
    free(m.stack);
    free(m.memo);
    free(m.storages);
    return p;
fail:
    ordo_pth_free(p);
    pv_free_all(m.all);
    free(m.stack);
    free(m.memo);
    free(m.storages);
    return NULL;
}

ordo_pth *ordo_pth_open(const char *path, ordo_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        ordo_err_set(err, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode)) {
        ordo_err_set(err, "%s is not a regular file", path);
        fclose(f);
        return NULL;
    }
    if (sb.st_size == 0) {
        ordo_err_set(err, "%s is empty", path);
        fclose(f);
        return NULL;
    }
    if ((uint64_t)sb.st_size > ((uint64_t)1 << 34)) {
        ordo_err_set(err, "%s is implausibly large for model weights", path);
        fclose(f);
        return NULL;
    }
    size_t len = (size_t)sb.st_size;
    unsigned char *buf = malloc(len);
    if (!buf) {
        ordo_err_set(err, "out of memory reading %s", path);
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, len, f);
    int rerr = ferror(f);
    fclose(f);
    if (got != len) {
        ordo_err_set(err, "cannot read %s: %s", path, rerr ? strerror(errno) : "short read");
        free(buf);
        return NULL;
    }
    ordo_pth *p = ordo_pth_parse(buf, len, err);
    free(buf);
    if (!p)
        ordo_err_wrap(err, "%s", path);
    return p;
}

void ordo_pth_free(ordo_pth *p)
{
    if (!p)
        return;
    if (p->t)
        for (int i = 0; i < p->n; i++) {
            free((void *)p->t[i].name);
            free((void *)p->t[i].data);
        }
    free(p->t);
    free(p->by_name);
    free(p);
}

int ordo_pth_count(const ordo_pth *p)
{
    return p ? p->n : 0;
}

const ordo_pth_tensor *ordo_pth_at(const ordo_pth *p, int i)
{
    return p && i >= 0 && i < p->n ? &p->t[i] : NULL;
}

const ordo_pth_tensor *ordo_pth_find(const ordo_pth *p, const char *name)
{
    if (!p || !name)
        return NULL;
    int lo = 0, hi = p->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, p->t[p->by_name[mid]].name);
        if (!c)
            return &p->t[p->by_name[mid]];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}
