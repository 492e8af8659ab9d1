/* model_io.c - the model's byte format (the store keeps these blobs).
 *
 * Little-endian, in order:
 *   "ORDOLRN1"  magic (8 bytes)
 *   u32 version (1), u32 kind (1 = logistic regression)
 *   u32 d, u32 k, u32 p, u32 has_pca
 *   f64 temperature, f64 l2
 *   k x (u32 length, bytes)   class names (UTF-8, no terminator, <= 4096)
 *   k x u8                    class present in training
 *   f32 mean[d], scale[d], pca[p*d] if has_pca, W[k*p], b[k]
 *   u64 XXH64 (seed 0) of every byte before it
 * The checksum is verified before any field is trusted, and every length is
 * checked against the remaining bytes before it is used. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "learn/learn_internal.h"

#define MAGIC "ORDOLRN1"
#define VERSION 1u
#define MAX_NAME 4096u
#define MAX_DIM (1u << 20)

typedef struct wbuf {
    unsigned char *p;
    size_t len, cap;
    int oom;
} wbuf;

static void put(wbuf *w, const void *src, size_t n)
{
    if (w->oom) return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 1024;
        while (cap < w->len + n) cap *= 2;
        unsigned char *q = realloc(w->p, cap);
        if (!q) { w->oom = 1; return; }
        w->p = q;
        w->cap = cap;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void put_u32(wbuf *w, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(w, b, 4);
}

static void put_u64(wbuf *w, uint64_t v)
{
    put_u32(w, (uint32_t)v);
    put_u32(w, (uint32_t)(v >> 32));
}

static void put_f64(wbuf *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    put_u64(w, u);
}

static void put_f32s(wbuf *w, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_u32(w, u);
    }
}

int ordo_learn_model_to_bytes(const ordo_learn_model *m, unsigned char **buf, size_t *len,
                              ordo_err *err)
{
    if (!m || !buf || !len) return ordo_err_set(err, "model_to_bytes: bad arguments");
    wbuf w = {0};
    put(&w, MAGIC, 8);
    put_u32(&w, VERSION);
    put_u32(&w, (uint32_t)m->kind);
    put_u32(&w, (uint32_t)m->d);
    put_u32(&w, (uint32_t)m->k);
    put_u32(&w, (uint32_t)m->p);
    put_u32(&w, m->pca != NULL);
    put_f64(&w, m->temperature);
    put_f64(&w, m->l2);
    for (int c = 0; c < m->k; c++) {
        size_t nl = strlen(m->names[c]);
        if (nl > MAX_NAME) {
            free(w.p);
            return ordo_err_set(err, "model_to_bytes: class name %d longer than %u bytes", c,
                                MAX_NAME);
        }
        put_u32(&w, (uint32_t)nl);
        put(&w, m->names[c], nl);
    }
    put(&w, m->present, (size_t)m->k);
    size_t d = (size_t)m->d, k = (size_t)m->k, p = (size_t)m->p;
    put_f32s(&w, m->mean, d);
    put_f32s(&w, m->scale, d);
    if (m->pca) put_f32s(&w, m->pca, p * d);
    put_f32s(&w, m->W, k * p);
    put_f32s(&w, m->b, k);
    if (!w.oom) put_u64(&w, XXH64(w.p, w.len, 0));
    if (w.oom) {
        free(w.p);
        return ordo_err_set(err, "model_to_bytes: out of memory");
    }
    *buf = w.p;
    *len = w.len;
    return 0;
}

typedef struct rbuf {
    const unsigned char *p;
    size_t len, off;
} rbuf;

static int need(rbuf *r, size_t n) { return r->len - r->off >= n; }

static uint32_t get_u32(rbuf *r)
{
    const unsigned char *b = r->p + r->off;
    r->off += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get_u64(rbuf *r)
{
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}

static double get_f64(rbuf *r)
{
    uint64_t u = get_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static int get_f32s(rbuf *r, float *v, size_t n)
{
    if (n > (r->len - r->off) / 4) return -1;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = get_u32(r);
        memcpy(&v[i], &u, 4);
        if (!isfinite(v[i])) return -1;
    }
    return 0;
}

ordo_learn_model *ordo_learn_model_from_bytes(const void *buf, size_t len, ordo_err *err)
{
    const unsigned char *b = buf;
    if (!b || len < 8 + 6 * 4 + 16 + 8) {
        ordo_err_set(err, "model: %zu bytes is too short to be a model", len);
        return NULL;
    }
    if (memcmp(b, MAGIC, 8) != 0) {
        ordo_err_set(err, "model: bad magic (not an ordo model)");
        return NULL;
    }
    rbuf cr = {b, len, len - 8};
    if (get_u64(&cr) != XXH64(b, len - 8, 0)) {
        ordo_err_set(err, "model: checksum mismatch (corrupt model)");
        return NULL;
    }
    rbuf r = {b, len - 8, 8};
    uint32_t ver = get_u32(&r), kind = get_u32(&r);
    uint32_t d = get_u32(&r), k = get_u32(&r), p = get_u32(&r), has_pca = get_u32(&r);
    if (ver != VERSION) {
        ordo_err_set(err, "model: version %u is not supported (this ordo reads %u)", ver, VERSION);
        return NULL;
    }
    if (kind != LEARN_KIND_LOGREG || d == 0 || d > MAX_DIM || k < 2 || k > MAX_DIM || p == 0 ||
        p > d || has_pca > 1 || (!has_pca && p != d)) {
        ordo_err_set(err, "model: bad header (kind %u, d %u, k %u, p %u)", kind, d, k, p);
        return NULL;
    }
    /* the float payload alone must fit in what is left */
    uint64_t floats = 2ull * d + (has_pca ? (uint64_t)p * d : 0) + (uint64_t)k * p + k;
    if (floats > (len - r.off) / 4) {
        ordo_err_set(err, "model: truncated (dims need %llu floats)", (unsigned long long)floats);
        return NULL;
    }
    ordo_learn_model *m = learn_model_alloc((int)d, (int)k, (int)p, (int)has_pca);
    if (!m) {
        ordo_err_set(err, "model: out of memory");
        return NULL;
    }
    m->temperature = get_f64(&r);
    m->l2 = get_f64(&r);
    if (!(m->temperature > 0) || !isfinite(m->temperature) || !isfinite(m->l2)) goto bad;
    for (uint32_t c = 0; c < k; c++) {
        if (!need(&r, 4)) goto bad;
        uint32_t nl = get_u32(&r);
        if (nl > MAX_NAME || !need(&r, nl)) goto bad;
        if (memchr(r.p + r.off, 0, nl)) goto bad;
        m->names[c] = malloc(nl + 1);
        if (!m->names[c]) goto bad;
        memcpy(m->names[c], r.p + r.off, nl);
        m->names[c][nl] = 0;
        r.off += nl;
    }
    if (!need(&r, k)) goto bad;
    memcpy(m->present, r.p + r.off, k);
    r.off += k;
    for (uint32_t c = 0; c < k; c++)
        if (m->present[c] > 1) goto bad;
    if (get_f32s(&r, m->mean, d) || get_f32s(&r, m->scale, d) ||
        (has_pca && get_f32s(&r, m->pca, (size_t)p * d)) ||
        get_f32s(&r, m->W, (size_t)k * p) || get_f32s(&r, m->b, k))
        goto bad;
    if (r.off != r.len) goto bad;
    return m;
bad:
    ordo_learn_model_free(m);
    ordo_err_set(err, "model: malformed or truncated body");
    return NULL;
}
