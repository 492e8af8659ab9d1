/* io.h - other tools' file formats: NumPy .npy matrices, per-image vectors
 * as CSV or JSON lines, and label files (CSV, JSON lines, Label Studio's
 * JSON export). Parsers work on memory buffers (so they can be fuzzed) and
 * are strict: a file that is not exactly what it claims is refused with a
 * message naming the place, and the caller stores nothing.
 */
#ifndef ORDO_IO_H
#define ORDO_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

/* ---- NumPy .npy ------------------------------------------------------------
 * Format (numpy/lib/format.py, "NEP 1"): the 6 bytes "\x93NUMPY", major and
 * minor version bytes, the header length (uint16 LE for version 1, uint32
 * LE for 2 and 3), then an ASCII (v3: UTF-8) Python dict literal
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }
 * padded with spaces and a final '\n' so the data starts 64-byte aligned,
 * then the N*D values in C order. We accept float16 and float32,
 * little-endian, C order, 1 or 2 dimensions, and data of exactly the
 * declared size. */
enum { ORDO_IO_F16 = 2, ORDO_IO_F32 = 4 };

typedef struct ordo_io_npy {
    int dtype;            /* ORDO_IO_F16 or ORDO_IO_F32 (= bytes per value) */
    int ndim;             /* 1 or 2 */
    size_t rows, cols;    /* shape; cols = 1 when ndim = 1 */
    size_t data_off;      /* where the values start */
} ordo_io_npy;

/* Parses and checks the header of the .npy file in buf[0, len), including
 * that len = data_off + rows * cols * dtype exactly (truncated files and
 * trailing bytes are refused). */
int ordo_io_npy_parse(const unsigned char *buf, size_t len, ordo_io_npy *out, ordo_err *err);

/* Converts the parsed values to float (rows * cols), refusing NaN and
 * infinities (naming the first row and column). */
int ordo_io_npy_floats(const unsigned char *buf, const ordo_io_npy *h, float *out,
                       ordo_err *err);

/* Writes a version 1.0 header for a C-order little-endian matrix of rows x
 * cols values of dtype; the caller then writes the values. */
int ordo_io_npy_write_header(FILE *f, int dtype, size_t rows, size_t cols);

/* ---- per-image vectors ----------------------------------------------------- */

/* What a vector import reads: n paths, each with a dim-float embedding and
 * optionally nprob probabilities (probs NULL and nprob 0 when absent). */
typedef struct ordo_io_vectors {
    size_t n;
    int dim, nprob;
    char **paths;          /* n, NUL-terminated (owned) */
    float *embed;          /* n * dim (owned) */
    float *probs;          /* n * nprob or NULL (owned) */
} ordo_io_vectors;

void ordo_io_vectors_free(ordo_io_vectors *v);

/* A path list: one path per line ('\n'; a final newline is optional; a '\r'
 * before it is dropped). Empty lines are refused. */
int ordo_io_paths_parse(const char *buf, size_t len, char ***paths, size_t *n, ordo_err *err);
void ordo_io_paths_free(char **paths, size_t n);

/* A class list (an imported model's own classes, in the order of its
 * probability columns): one name per line like a path list, and no name
 * twice. Free with ordo_io_paths_free. (The store checks each name against
 * its rule for labels.) */
int ordo_io_classes_parse(const char *buf, size_t len, char ***names, size_t *n, ordo_err *err);

/* CSV rows `path,x1,...,xD` (a first row starting with "path" is a header
 * and skipped). Every row must have the same D; values must be finite. */
int ordo_io_vectors_csv(const char *buf, size_t len, ordo_io_vectors *out, ordo_err *err);

/* JSON lines {"path": "...", "embedding": [x1, ...], "probabilities": [...]}
 * ("probabilities" optional, but then on every line or on none). */
int ordo_io_vectors_jsonl(const char *buf, size_t len, ordo_io_vectors *out, ordo_err *err);

/* ---- labels ------------------------------------------------------------------ */

/* One label event as other tools write it. created is unix time (0: unknown,
 * the store then uses the time of the import). */
typedef struct ordo_io_label {
    char *path, *label, *annotator, *reason;   /* annotator, reason may be NULL */
    double created;
} ordo_io_label;

typedef struct ordo_io_labels {
    ordo_io_label *v;
    size_t n, cap;
} ordo_io_labels;

void ordo_io_labels_free(ordo_io_labels *l);

/* JSON lines {"path": ..., "label": ..., "annotator": ..., "created": ...}
 * as `ordo export --labels --jsonl` writes them ("annotator", "reason" and
 * "created" optional; "created" is unix seconds or an ISO 8601 time). */
int ordo_io_labels_jsonl(const char *buf, size_t len, ordo_io_labels *out, ordo_err *err);

/* Label Studio's JSON export (a JSON array of tasks). For each task, every
 * annotation that is not cancelled yields the "choices" of its first
 * choices result; the image is the task's data.image (a path, file:// URL,
 * or "/data/local-files/?d=PATH" URL), the annotator the annotation's
 * completed_by (an email when exported with users, else the user id), the
 * time its created_at (ISO 8601). Annotations are ordered by time so the
 * newest becomes the current label. */
int ordo_io_labels_studio(const char *buf, size_t len, ordo_io_labels *out, ordo_err *err);

/* Parses an ISO 8601 time as Label Studio writes it
 * ("2024-05-01T12:30:45.123456Z" or with "+02:00"); 0 on success. */
int ordo_io_time_parse(const char *s, double *t);

/* Writes t (unix seconds) as "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
void ordo_io_time_format(double t, char *out, size_t cap);

#endif
