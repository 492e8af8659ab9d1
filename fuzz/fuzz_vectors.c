/* fuzz_vectors.c - libFuzzer target for the vector and label file parsers
 * of `ordo import`: path lists, CSV and JSON lines vectors, JSON lines label
 * events, Label Studio exports, ISO 8601 times and class lists. The first input byte
 * picks the parser; the rest is the file. Every parsed result is checked
 * for the promises io.h makes (finite values, equal widths, non-empty
 * paths and labels).
 *
 *   make fuzz && build-fuzz/fuzz_vectors -max_total_time=60 CORPUS
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_vectors(const ordo_io_vectors *v)
{
    if (!v->n || v->dim < 1) abort();
    for (size_t i = 0; i < v->n; i++) {
        if (!v->paths[i][0]) abort();
        for (int d = 0; d < v->dim; d++)
            if (!isfinite(v->embed[i * (size_t)v->dim + (size_t)d])) abort();
        for (int d = 0; v->probs && d < v->nprob; d++)
            if (!isfinite(v->probs[i * (size_t)v->nprob + (size_t)d])) abort();
    }
}

static void check_labels(const ordo_io_labels *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!l->v[i].path || !l->v[i].label || !l->v[i].path[0] || !(l->v[i].created >= 0)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    ordo_err err = {{0}};
    int rc;
    switch (data[0] % 7) {
    case 0: {
        char **p;
        size_t n;
        if ((rc = ordo_io_paths_parse(buf, len, &p, &n, &err)) == 0) {
            for (size_t i = 0; i < n; i++)
                if (!p[i][0] || strchr(p[i], '\n')) abort();
            ordo_io_paths_free(p, n);
        }
        break;
    }
    case 1:
    case 2: {
        ordo_io_vectors v;
        rc = data[0] % 7 == 1 ? ordo_io_vectors_csv(buf, len, &v, &err)
                              : ordo_io_vectors_jsonl(buf, len, &v, &err);
        if (rc == 0) {
            check_vectors(&v);
            ordo_io_vectors_free(&v);
        }
        break;
    }
    case 3:
    case 4: {
        ordo_io_labels l;
        rc = data[0] % 7 == 3 ? ordo_io_labels_jsonl(buf, len, &l, &err)
                              : ordo_io_labels_studio(buf, len, &l, &err);
        if (rc == 0) {
            check_labels(&l);
            ordo_io_labels_free(&l);
        }
        break;
    }
    case 6: {   /* a class list: at least 2 names, none empty, none twice */
        char **c;
        size_t n;
        if ((rc = ordo_io_classes_parse(buf, len, &c, &n, &err)) == 0) {
            if (n < 2) abort();
            for (size_t i = 0; i < n; i++) {
                if (!c[i][0] || strchr(c[i], '\n')) abort();
                for (size_t j = 0; j < i && n <= 64; j++)
                    if (!strcmp(c[i], c[j])) abort();
            }
            ordo_io_paths_free(c, n);
        }
        break;
    }
    default: {
        char s[64];
        double t;
        size_t n = len < sizeof s - 1 ? len : sizeof s - 1;
        memcpy(s, buf, n);
        s[n] = 0;
        if (ordo_io_time_parse(s, &t) == 0) {
            char back[40];
            ordo_io_time_format(t, back, sizeof back);
            double t2;
            /* what we write we read back, to the microsecond */
            if (ordo_io_time_parse(back, &t2) || fabs(t2 - t) > 1e-5 * (1 + fabs(t) * 1e-9)) abort();
        }
        return 0;
    }
    }
    if (rc != 0 && (!err.msg[0] || strchr(err.msg, '\n'))) abort();
    return 0;
}
