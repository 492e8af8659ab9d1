/* csv.c - a small RFC 4180 reader for label imports and truth files:
 * quoted fields (with doubled quotes and line breaks inside), CRLF or LF,
 * a UTF-8 byte-order mark skipped. Bounded: at most 64 fields per row and
 * 1 GiB per file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learn/learn_store.h"

#define MAX_FIELDS 64

void ordo_learn_csv_free(ordo_learn_csv *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->nrows; i++) {
        for (int j = 0; j < c->rows[i].n; j++) free(c->rows[i].f[j]);
        free(c->rows[i].f);
    }
    free(c->rows);
    memset(c, 0, sizeof *c);
}

int ordo_learn_csv_read(const char *path, ordo_learn_csv *out, ordo_err *err)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return ordo_err_set(err, "%s: cannot open", path);
    size_t cap = 0, len = 0;
    char *buf = NULL;
    for (;;) {
        if (len + 65536 + 1 > cap) {
            cap = cap ? cap * 2 : 1 << 20;
            if (cap > (1u << 30)) { fclose(f); free(buf); return ordo_err_set(err, "%s: over 1 GiB", path); }
            char *q = realloc(buf, cap);
            if (!q) { fclose(f); free(buf); return ordo_err_set(err, "%s: out of memory", path); }
            buf = q;
        }
        size_t r = fread(buf + len, 1, 65536, f);
        len += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return ordo_err_set(err, "%s: read error", path); }
    buf[len] = 0;
    size_t p = len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3) ? 3 : 0;
    size_t rcap = 0;
    char *fld = malloc(len + 1);
    char *fields[MAX_FIELDS];
    int nf = 0, line = 1;
    if (!fld) { free(buf); return ordo_err_set(err, "%s: out of memory", path); }
    while (p < len) {
        /* one record */
        nf = 0;
        int end_rec = 0;
        while (!end_rec) {
            size_t fl = 0;
            if (buf[p] == '"') {
                p++;
                for (;;) {
                    if (p >= len) { ordo_err_set(err, "%s:%d: unterminated quote", path, line); goto fail; }
                    if (buf[p] == '"') {
                        if (p + 1 < len && buf[p + 1] == '"') { fld[fl++] = '"'; p += 2; continue; }
                        p++;
                        break;
                    }
                    if (buf[p] == '\n') line++;
                    fld[fl++] = buf[p++];
                }
                if (p < len && buf[p] != ',' && buf[p] != '\n' && buf[p] != '\r') {
                    ordo_err_set(err, "%s:%d: text after a closing quote", path, line);
                    goto fail;
                }
            } else {
                while (p < len && buf[p] != ',' && buf[p] != '\n' && buf[p] != '\r') fld[fl++] = buf[p++];
            }
            if (memchr(fld, 0, fl)) { ordo_err_set(err, "%s:%d: NUL byte", path, line); goto fail; }
            if (nf == MAX_FIELDS) { ordo_err_set(err, "%s:%d: more than %d fields", path, line, MAX_FIELDS); goto fail; }
            fields[nf] = malloc(fl + 1);
            if (!fields[nf]) { ordo_err_set(err, "%s: out of memory", path); goto fail; }
            memcpy(fields[nf], fld, fl);
            fields[nf++][fl] = 0;
            if (p < len && buf[p] == ',') { p++; continue; }
            if (p < len && buf[p] == '\r') p++;
            if (p < len && buf[p] == '\n') p++;
            line++;
            end_rec = 1;
        }
        if (nf == 1 && fields[0][0] == 0) { free(fields[0]); nf = 0; continue; } /* blank line */
        if (out->nrows == rcap) {
            rcap = rcap ? 2 * rcap : 256;
            ordo_learn_csv_row *q = realloc(out->rows, rcap * sizeof *q);
            if (!q) { ordo_err_set(err, "%s: out of memory", path); goto fail; }
            out->rows = q;
        }
        ordo_learn_csv_row *r = &out->rows[out->nrows];
        r->f = malloc((size_t)nf * sizeof *r->f);
        if (!r->f) { ordo_err_set(err, "%s: out of memory", path); goto fail; }
        memcpy(r->f, fields, (size_t)nf * sizeof *r->f);
        r->n = nf;
        r->line = line - 1;
        out->nrows++;
        nf = 0;
    }
    free(fld);
    free(buf);
    return 0;
fail:
    for (int j = 0; j < nf; j++) free(fields[j]);
    free(fld);
    free(buf);
    ordo_learn_csv_free(out);
    return -1;
}
