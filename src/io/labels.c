/* labels.c - label events from JSON lines and Label Studio's JSON export
 * (Jansson parses the JSON), and the ISO 8601 times both use. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/io.h"

void ordo_io_labels_free(ordo_io_labels *l)
{
    for (size_t i = 0; l->v && i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].label);
        free(l->v[i].annotator);
        free(l->v[i].reason);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* A copy of a JSON string value, refusing embedded NULs. */
static char *jstr(json_t *v)
{
    if (!json_is_string(v)) return NULL;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (memchr(s, 0, n)) return NULL;
    return strdup(s);
}

/* Appends one event, taking ownership of the strings (freed on failure). */
static int push(ordo_io_labels *l, char *path, char *label, char *annotator, char *reason,
                double created, ordo_err *err)
{
    if (path && label && l->n == l->cap) {
        size_t c = l->cap ? l->cap * 2 : 256;
        ordo_io_label *v = realloc(l->v, c * sizeof *v);
        if (v) {
            l->v = v;
            l->cap = c;
        }
    }
    if (!path || !label || l->n == l->cap) {
        free(path); free(label); free(annotator); free(reason);
        return ordo_err_set(err, "out of memory");
    }
    l->v[l->n++] = (ordo_io_label){path, label, annotator, reason, created};
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant,
 * "chrono-Compatible Low-Level Date Algorithms", days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

int ordo_io_time_parse(const char *s, double *t)
{
    int y, mo, d, h, mi, se, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
        return -1;
    const char *p = s + n;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') return -1;
        for (; *p >= '0' && *p <= '9'; p++, scale /= 10) frac += (*p - '0') * scale;
    }
    long off = 0;
    if (*p == 'Z') p++;
    else if (*p == '+' || *p == '-') {
        int oh, om, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5 || oh > 23 || om > 59) return -1;
        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    }   /* no zone: UTC, as Label Studio's server writes */
    if (*p) return -1;
    long long days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *t = (double)(days * 86400LL + h * 3600LL + mi * 60LL + se - off) + frac;
    return 0;
}

void ordo_io_time_format(double t, char *out, size_t cap)
{
    /* Microseconds, rounded once, so formatting and parsing round-trip. */
    long long us = llround(t * 1e6);
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1000000);
}

/* "created": unix seconds or an ISO 8601 string; absent or null: 0. */
static int created_of(json_t *c, double *t)
{
    *t = 0;
    if (!c || json_is_null(c)) return 0;
    if (json_is_number(c)) {
        *t = json_number_value(c);
        return isfinite(*t) && *t >= 0 ? 0 : -1;
    }
    return json_is_string(c) ? ordo_io_time_parse(json_string_value(c), t) : -1;
}

int ordo_io_labels_jsonl(const char *buf, size_t len, ordo_io_labels *out, ordo_err *err)
{
    memset(out, 0, sizeof *out);
    size_t no = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - buf) : len;
        no++;
        size_t a = i;
        while (a < e && (buf[a] == ' ' || buf[a] == '\t' || buf[a] == '\r')) a++;
        if (a == e) { i = e + 1; continue; }
        json_error_t je;
        json_t *o = json_loadb(buf + i, e - i, JSON_REJECT_DUPLICATES, &je);
        i = e + 1;
        if (!o) {
            ordo_err_set(err, "line %zu: %s", no, je.text);
            goto fail;
        }
        double t;
        json_t *an = json_object_get(o, "annotator"), *re = json_object_get(o, "reason");
        char *p = jstr(json_object_get(o, "path")), *l = jstr(json_object_get(o, "label"));
        char *a2 = an && json_is_string(an) ? jstr(an) : NULL;
        char *r2 = re && json_is_string(re) ? jstr(re) : NULL;
        int bad = !json_is_object(o) || !p || !*p || !l || (an && !json_is_null(an) && !a2) ||
                  (re && !json_is_null(re) && !r2) || created_of(json_object_get(o, "created"), &t);
        json_decref(o);
        if (bad) {
            free(p); free(l); free(a2); free(r2);
            ordo_err_set(err, "line %zu: expected {\"path\": STRING, \"label\": STRING} with "
                              "optional \"annotator\", \"reason\" (strings) and \"created\" (unix "
                              "seconds or ISO 8601)", no);
            goto fail;
        }
        if (push(out, p, l, a2, r2, t, err)) goto fail;
    }
    return 0;
fail:
    ordo_io_labels_free(out);
    return -1;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes s[0, n) (a '+' is a space in a query string). NULL if a
 * %XX is malformed or decodes to NUL. */
static char *pct_decode(const char *s, size_t n, int query)
{
    char *o = malloc(n + 1), *q = o;
    if (!o) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            *q++ = query && s[i] == '+' ? ' ' : s[i];
            continue;
        }
        int a = i + 2 < n + 1 && i + 1 < n ? hexval(s[i + 1]) : -1;
        int b = i + 2 < n ? hexval(s[i + 2]) : -1;
        if (a < 0 || b < 0 || a * 16 + b == 0) {
            free(o);
            return NULL;
        }
        *q++ = (char)(a * 16 + b);
        i += 2;
    }
    *q = 0;
    return o;
}

/* The file a Label Studio task's image refers to: "/data/local-files/?d=P"
 * (local storage; P relative to its document root), "file://P", or a plain
 * path. Other URLs (uploads, http) cannot be mapped to a file here. */
static char *task_path(const char *img)
{
    const char *lf = "/data/local-files/?d=";
    const char *q = strstr(img, lf);
    if (q) {
        const char *p = q + strlen(lf);
        size_t n = strcspn(p, "&");
        return pct_decode(p, n, 1);
    }
    if (!strncmp(img, "file://", 7)) return pct_decode(img + 7, strlen(img + 7), 0);
    if (strstr(img, "://") || !strncmp(img, "/data/", 6)) return NULL;
    return strdup(img);
}

/* The annotator of an annotation: completed_by's email (exports "with
 * users"), else its numeric id as "user N". */
static char *who(json_t *cb)
{
    char buf[64];
    if (json_is_object(cb)) {
        json_t *e = json_object_get(cb, "email");
        if (json_is_string(e) && json_string_length(e)) return jstr(e);
        cb = json_object_get(cb, "id");
    }
    if (json_is_integer(cb)) {
        snprintf(buf, sizeof buf, "user %lld", (long long)json_integer_value(cb));
        return strdup(buf);
    }
    return NULL;
}

typedef struct ann {
    char *label, *annotator;
    double t;
    size_t order;
} ann;

static int ann_cmp(const void *a, const void *b)
{
    const ann *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int ordo_io_labels_studio(const char *buf, size_t len, ordo_io_labels *out, ordo_err *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return ordo_err_set(err, "line %d, column %d: %s", je.line, je.column, je.text);
    ann *as = NULL;
    size_t nas = 0;
    if (!json_is_array(root)) {
        ordo_err_set(err, "not a Label Studio JSON export (expected an array of tasks)");
        goto fail;
    }
    size_t ti;
    json_t *task;
    json_array_foreach(root, ti, task) {
        json_t *data = json_object_get(task, "data");
        json_t *img = json_object_get(data, "image");
        json_t *anns = json_object_get(task, "annotations");
        if (!json_is_object(task) || !json_is_string(img)) {
            ordo_err_set(err, "task %zu: no data.image", ti + 1);
            goto fail;
        }
        if (anns && !json_is_array(anns)) {
            ordo_err_set(err, "task %zu: annotations is not an array", ti + 1);
            goto fail;
        }
        size_t na = json_array_size(anns), ai;
        json_t *a;
        free(as);
        as = calloc(na ? na : 1, sizeof *as);
        nas = 0;
        if (!as) { ordo_err_set(err, "out of memory"); goto fail; }
        json_array_foreach(anns, ai, a) {
            if (!json_is_object(a)) {
                ordo_err_set(err, "task %zu, annotation %zu: not an object", ti + 1, ai + 1);
                goto fail;
            }
            if (json_is_true(json_object_get(a, "was_cancelled"))) continue;   /* skipped in LS */
            json_t *res = json_object_get(a, "result"), *r;
            size_t ri;
            const char *choice = NULL;
            json_array_foreach(res, ri, r) {
                json_t *ch = json_object_get(json_object_get(r, "value"), "choices");
                if (!json_is_array(ch)) continue;
                if (json_array_size(ch) != 1 || !json_is_string(json_array_get(ch, 0))) {
                    ordo_err_set(err, "task %zu, annotation %zu: %zu choices; ordo keeps one label "
                                      "per image (single-choice classification)", ti + 1, ai + 1,
                                 json_array_size(ch));
                    goto fail;
                }
                choice = json_string_value(json_array_get(ch, 0));
                break;
            }
            if (!choice) continue;   /* no classification in this annotation */
            double t = 0;
            json_t *ca = json_object_get(a, "created_at");
            if (ca && !json_is_null(ca) && created_of(ca, &t)) {
                ordo_err_set(err, "task %zu, annotation %zu: created_at is not an ISO 8601 time",
                             ti + 1, ai + 1);
                goto fail;
            }
            as[nas] = (ann){strdup(choice), who(json_object_get(a, "completed_by")), t, ai};
            if (!as[nas].label) { ordo_err_set(err, "out of memory"); goto fail; }
            nas++;
        }
        if (!nas) continue;
        char *path = task_path(json_string_value(img));
        if (!path || !*path) {
            free(path);
            ordo_err_set(err, "task %zu: image '%s' is not a local file (use local storage, "
                              "/data/local-files/?d=PATH, or file:// URLs)", ti + 1,
                         json_string_value(img));
            goto fail;
        }
        qsort(as, nas, sizeof *as, ann_cmp);
        int failed = 0;
        for (size_t k = 0; k < nas; k++) {
            /* push owns what it is given, even when it fails */
            int last = k + 1 == nas;
            if (!failed && push(out, last ? path : strdup(path), as[k].label, as[k].annotator,
                                NULL, as[k].t, err))
                failed = 1;
            else if (failed) {
                free(as[k].label);
                free(as[k].annotator);
                if (last) free(path);
            }
            as[k].label = as[k].annotator = NULL;
        }
        nas = 0;
        if (failed) goto fail;
    }
    free(as);
    json_decref(root);
    return 0;
fail:
    for (size_t k = 0; as && k < nas; k++) { free(as[k].label); free(as[k].annotator); }
    free(as);
    json_decref(root);
    ordo_io_labels_free(out);
    return -1;
}
