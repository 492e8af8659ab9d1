/* vec.c - per-image vectors from path lists, CSV and JSON lines (Jansson
 * parses the JSON). Every value must be finite and every row the same width. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

/* Widths beyond any embedding in use (CLIP ViT-bigG: 1280, ResNet: 2048);
 * a cap keeps a hostile file from asking for absurd allocations per row. */
#define MAX_DIM 65536

void ordo_io_vectors_free(ordo_io_vectors *v)
{
    ordo_io_paths_free(v->paths, v->n);
    free(v->embed);
    free(v->probs);
    memset(v, 0, sizeof *v);
}

void ordo_io_paths_free(char **paths, size_t n)
{
    for (size_t i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
}

/* Calls fn(line, len, lineno) for each '\n'-separated line (the '\n' and a
 * '\r' before it excluded); a final line without '\n' counts. */
typedef int (*line_fn)(void *ctx, const char *s, size_t n, size_t lineno, ordo_err *err);

static int each_line(const char *buf, size_t len, void *ctx, line_fn fn, ordo_err *err)
{
    size_t no = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - buf) : len, n = e - i;
        if (n && buf[i + n - 1] == '\r') n--;
        if (fn(ctx, buf + i, n, ++no, err)) return -1;
        i = e + 1;
    }
    return 0;
}

typedef struct grow {
    char **v;
    size_t n, cap;
} grow;

static int push_path(grow *g, const char *s, size_t n, ordo_err *err)
{
    if (g->n == g->cap) {
        size_t c = g->cap ? g->cap * 2 : 256;
        char **v = realloc(g->v, c * sizeof *v);
        if (!v) return ordo_err_set(err, "out of memory");
        g->v = v;
        g->cap = c;
    }
    if (memchr(s, 0, n)) return ordo_err_set(err, "a path contains a NUL byte");
    char *p = malloc(n + 1);
    if (!p) return ordo_err_set(err, "out of memory");
    memcpy(p, s, n);
    p[n] = 0;
    g->v[g->n++] = p;
    return 0;
}

static int path_line(void *ctx, const char *s, size_t n, size_t no, ordo_err *err)
{
    if (!n) return ordo_err_set(err, "line %zu: empty path", no);
    return push_path(ctx, s, n, err);
}

int ordo_io_paths_parse(const char *buf, size_t len, char ***paths, size_t *n, ordo_err *err)
{
    grow g = {0};
    if (each_line(buf, len, &g, path_line, err)) {
        ordo_io_paths_free(g.v, g.n);
        return -1;
    }
    *paths = g.v;
    *n = g.n;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int class_line(void *ctx, const char *s, size_t n, size_t no, ordo_err *err)
{
    if (!n) return ordo_err_set(err, "line %zu: empty class name", no);
    if (memchr(s, 0, n)) return ordo_err_set(err, "line %zu: a class name contains a NUL byte", no);
    return push_path(ctx, s, n, err);
}

int ordo_io_classes_parse(const char *buf, size_t len, char ***names, size_t *n, ordo_err *err)
{
    grow g = {0};
    char **sorted = NULL;
    if (each_line(buf, len, &g, class_line, err)) goto fail;
    if (g.n < 2) {
        ordo_err_set(err, "%zu class name%s: a class list has at least 2", g.n,
                     g.n == 1 ? "" : "s");
        goto fail;
    }
    /* A name twice would make two probability columns one label. */
    if (!(sorted = malloc(g.n * sizeof *sorted))) {
        ordo_err_set(err, "out of memory");
        goto fail;
    }
    memcpy(sorted, g.v, g.n * sizeof *sorted);
    qsort(sorted, g.n, sizeof *sorted, cmp_str);
    for (size_t i = 1; i < g.n; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) {
            size_t first = 0, again;
            while (strcmp(g.v[first], sorted[i])) first++;
            for (again = first + 1; strcmp(g.v[again], sorted[i]); again++) {}
            ordo_err_set(err, "line %zu repeats the class name of line %zu", again + 1,
                         first + 1);
            goto fail;
        }
    free(sorted);
    *names = g.v;
    *n = g.n;
    return 0;
fail:
    free(sorted);
    ordo_io_paths_free(g.v, g.n);
    return -1;
}

/* Appends w floats to a growing matrix. */
typedef struct fgrow {
    float *v;
    size_t n, cap;   /* in floats */
} fgrow;

static int push_floats(fgrow *g, const float *x, size_t w, ordo_err *err)
{
    if (g->n + w > g->cap) {
        size_t c = g->cap ? g->cap : 4096;
        while (c < g->n + w) c *= 2;
        float *v = realloc(g->v, c * sizeof *v);
        if (!v) return ordo_err_set(err, "out of memory");
        g->v = v;
        g->cap = c;
    }
    memcpy(g->v + g->n, x, w * sizeof *x);
    g->n += w;
    return 0;
}

typedef struct csv_ctx {
    grow paths;
    fgrow x;
    float *row;
    int dim;
    char *tmp;
    size_t tmpcap;
} csv_ctx;

static int csv_line(void *vc, const char *s, size_t n, size_t no, ordo_err *err)
{
    csv_ctx *c = vc;
    if (!n) return 0;   /* blank lines carry nothing */
    /* The path: quoted (RFC 4180, "" for a quote) or up to the first comma. */
    size_t i = 0, pl = 0;
    if (n + 1 > c->tmpcap) {
        char *t = realloc(c->tmp, n + 1);
        if (!t) return ordo_err_set(err, "out of memory");
        c->tmp = t;
        c->tmpcap = n + 1;
    }
    if (s[0] == '"') {
        for (i = 1;; i++) {
            if (i >= n) return ordo_err_set(err, "line %zu: unterminated quoted path", no);
            if (s[i] == '"') {
                if (i + 1 < n && s[i + 1] == '"') { c->tmp[pl++] = '"'; i++; continue; }
                i++;
                break;
            }
            c->tmp[pl++] = s[i];
        }
    } else {
        while (i < n && s[i] != ',') c->tmp[pl++] = s[i++];
    }
    if (no == 1 && pl == 4 && !memcmp(c->tmp, "path", 4)) return 0;   /* header */
    if (!pl) return ordo_err_set(err, "line %zu: empty path", no);
    if (i < n && s[i] != ',') return ordo_err_set(err, "line %zu: text after the quoted path", no);
    if (push_path(&c->paths, c->tmp, pl, err)) return -1;
    /* The values, parsed from a NUL-terminated copy. */
    size_t rest = i < n ? n - i : 0;
    memcpy(c->tmp, s + i, rest);
    c->tmp[rest] = 0;
    int d = 0;
    char *p = c->tmp;
    while (*p == ',') {
        p++;
        if (d == MAX_DIM) return ordo_err_set(err, "line %zu: more than %d values", no, MAX_DIM);
        char *e;
        errno = 0;
        float v = strtof(p, &e);
        if (e == p || (*e && *e != ','))
            return ordo_err_set(err, "line %zu, value %d: not a number", no, d + 1);
        if (!isfinite(v) || errno == ERANGE)
            return ordo_err_set(err, "line %zu, value %d: %s", no, d + 1,
                                isnan(v) ? "NaN" : "infinite or out of float range");
        if (!c->row) {
            c->row = malloc(MAX_DIM * sizeof *c->row);
            if (!c->row) return ordo_err_set(err, "out of memory");
        }
        c->row[d++] = v;
        p = e;
    }
    if (*p) return ordo_err_set(err, "line %zu: not a number", no);
    if (!d) return ordo_err_set(err, "line %zu: no values after the path", no);
    if (c->dim && d != c->dim)
        return ordo_err_set(err, "line %zu: %d values, earlier rows have %d", no, d, c->dim);
    c->dim = d;
    return push_floats(&c->x, c->row, (size_t)d, err);
}

int ordo_io_vectors_csv(const char *buf, size_t len, ordo_io_vectors *out, ordo_err *err)
{
    memset(out, 0, sizeof *out);
    csv_ctx c = {0};
    int rc = each_line(buf, len, &c, csv_line, err);
    free(c.row);
    free(c.tmp);
    if (!rc && !c.paths.n) rc = ordo_err_set(err, "no rows");
    if (rc) {
        ordo_io_paths_free(c.paths.v, c.paths.n);
        free(c.x.v);
        return -1;
    }
    out->n = c.paths.n;
    out->paths = c.paths.v;
    out->dim = c.dim;
    out->embed = c.x.v;
    return 0;
}

typedef struct jl_ctx {
    grow paths;
    fgrow x, p;
    int dim, nprob, has_prob;   /* has_prob: -1 unknown, 0 no, 1 yes */
    float *row;
} jl_ctx;

/* A JSON array of finite numbers into c->row; returns its length or -1. */
static int num_array(jl_ctx *c, json_t *a, const char *what, size_t no, ordo_err *err)
{
    if (!json_is_array(a)) return ordo_err_set(err, "line %zu: \"%s\" is not an array", no, what);
    size_t n = json_array_size(a);
    if (!n || n > MAX_DIM)
        return ordo_err_set(err, "line %zu: \"%s\" has %zu values (1 to %d)", no, what, n, MAX_DIM);
    if (!c->row && !(c->row = malloc(MAX_DIM * sizeof *c->row)))
        return ordo_err_set(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_number(v))
            return ordo_err_set(err, "line %zu: \"%s\"[%zu] is not a number", no, what, i);
        double d = json_number_value(v);
        if (!isfinite((float)d))
            return ordo_err_set(err, "line %zu: \"%s\"[%zu] is out of float range", no, what, i);
        c->row[i] = (float)d;
    }
    return (int)n;
}

static int jl_line(void *vc, const char *s, size_t n, size_t no, ordo_err *err)
{
    jl_ctx *c = vc;
    size_t k = 0;
    while (k < n && (s[k] == ' ' || s[k] == '\t')) k++;
    if (k == n) return 0;
    json_error_t je;
    /* Jansson refuses NaN and Infinity (not JSON) and, with this flag,
     * duplicate keys. */
    json_t *o = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    if (!o) return ordo_err_set(err, "line %zu: %s", no, je.text);
    int rc = -1;
    json_t *p = json_object_get(o, "path"), *e = json_object_get(o, "embedding"),
           *pr = json_object_get(o, "probabilities");
    if (!json_is_object(o)) { ordo_err_set(err, "line %zu: not a JSON object", no); goto out; }
    if (!json_is_string(p) || !json_string_length(p)) {
        ordo_err_set(err, "line %zu: no \"path\" string", no);
        goto out;
    }
    int d = num_array(c, e, "embedding", no, err);
    if (d < 0) goto out;
    if (c->dim && d != c->dim) {
        ordo_err_set(err, "line %zu: %d embedding values, earlier lines have %d", no, d, c->dim);
        goto out;
    }
    c->dim = d;
    if (push_path(&c->paths, json_string_value(p), json_string_length(p), err) ||
        push_floats(&c->x, c->row, (size_t)d, err))
        goto out;
    int has = pr && !json_is_null(pr);
    if (c->has_prob >= 0 && has != c->has_prob) {
        ordo_err_set(err, "line %zu: \"probabilities\" must be on every line or on none", no);
        goto out;
    }
    c->has_prob = has;
    if (has) {
        int q = num_array(c, pr, "probabilities", no, err);
        if (q < 0) goto out;
        if (c->nprob && q != c->nprob) {
            ordo_err_set(err, "line %zu: %d probabilities, earlier lines have %d", no, q, c->nprob);
            goto out;
        }
        c->nprob = q;
        if (push_floats(&c->p, c->row, (size_t)q, err)) goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

int ordo_io_vectors_jsonl(const char *buf, size_t len, ordo_io_vectors *out, ordo_err *err)
{
    memset(out, 0, sizeof *out);
    jl_ctx c = {.has_prob = -1};
    int rc = each_line(buf, len, &c, jl_line, err);
    free(c.row);
    if (!rc && !c.paths.n) rc = ordo_err_set(err, "no rows");
    if (rc) {
        ordo_io_paths_free(c.paths.v, c.paths.n);
        free(c.x.v);
        free(c.p.v);
        return -1;
    }
    out->n = c.paths.n;
    out->paths = c.paths.v;
    out->dim = c.dim;
    out->embed = c.x.v;
    out->nprob = c.nprob;
    out->probs = c.p.v;
    return 0;
}
