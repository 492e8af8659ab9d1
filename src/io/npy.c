/* npy.c - NumPy .npy matrices: a strict header parser and a writer.
 * The format is documented in numpy/lib/format.py (NEP 1); see io.h. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/f16.h"
#include "io/io.h"

/* A cursor over the header dict. */
typedef struct hdr {
    const char *p, *end;
} hdr;

static void ws(hdr *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t')) h->p++;
}

static int eat(hdr *h, char c)
{
    ws(h);
    if (h->p < h->end && *h->p == c) { h->p++; return 1; }
    return 0;
}

/* A quoted Python string ('...' or "..."), no escapes (none occur in the
 * keys and dtype strings numpy writes). */
static int str(hdr *h, char *out, size_t cap)
{
    ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return -1;
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        /* printable ASCII only: the text may end up in an error message */
        if (*h->p == '\\' || *h->p < 0x20 || *h->p > 0x7e || n + 1 >= cap) return -1;
        out[n++] = *h->p++;
    }
    if (h->p >= h->end) return -1;
    h->p++;
    out[n] = 0;
    return 0;
}

/* A non-negative decimal integer below 2^48 (no numpy matrix is larger). */
static int num(hdr *h, size_t *v)
{
    ws(h);
    const char *s = h->p;
    uint64_t x = 0;
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
        x = x * 10 + (uint64_t)(*h->p++ - '0');
        if (x >= (1ull << 48)) return -1;
    }
    if (h->p == s) return -1;
    if (h->p < h->end && *h->p == 'L') h->p++;   /* Python 2 longs, in old files */
    *v = (size_t)x;
    return 0;
}

int ordo_io_npy_parse(const unsigned char *buf, size_t len, ordo_io_npy *out, ordo_err *err)
{
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6))
        return ordo_err_set(err, "not a .npy file (no \\x93NUMPY magic)");
    int major = buf[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return ordo_err_set(err, ".npy header truncated");
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        start = 12;
    } else {
        return ordo_err_set(err, ".npy format version %d.%d is not supported (1, 2 or 3)", major,
                            buf[7]);
    }
    if (hlen > len - start) return ordo_err_set(err, ".npy header truncated");
    hdr h = {(const char *)buf + start, (const char *)buf + start + hlen};
    /* The dict ends with '\n' after the padding. */
    while (h.end > h.p && (h.end[-1] == '\n' || h.end[-1] == ' ')) h.end--;
    char key[32], descr[16] = "";
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    size_t dims[3];
    int nd = 0;
    if (!eat(&h, '{')) goto bad;
    while (!eat(&h, '}')) {
        if (str(&h, key, sizeof key) || !eat(&h, ':')) goto bad;
        if (!strcmp(key, "descr")) {
            if (have_descr++ || str(&h, descr, sizeof descr)) goto bad;
        } else if (!strcmp(key, "fortran_order")) {
            if (have_fortran++) goto bad;
            ws(&h);
            if ((size_t)(h.end - h.p) >= 4 && !memcmp(h.p, "True", 4)) { fortran = 1; h.p += 4; }
            else if ((size_t)(h.end - h.p) >= 5 && !memcmp(h.p, "False", 5)) h.p += 5;
            else goto bad;
        } else if (!strcmp(key, "shape")) {
            if (have_shape++ || !eat(&h, '(')) goto bad;
            while (!eat(&h, ')')) {
                if (nd == 3 || num(&h, &dims[nd])) goto bad;
                nd++;
                if (!eat(&h, ',')) {
                    if (!eat(&h, ')')) goto bad;
                    break;
                }
            }
        } else {
            return ordo_err_set(err, ".npy header has an unknown key '%s'", key);
        }
        if (!eat(&h, ',')) {
            if (!eat(&h, '}')) goto bad;
            break;
        }
    }
    ws(&h);
    if (h.p != h.end) goto bad;
    if (!have_descr || !have_fortran || !have_shape)
        return ordo_err_set(err, ".npy header lacks descr, fortran_order or shape");
    if (!strcmp(descr, "<f4")) out->dtype = ORDO_IO_F32;
    else if (!strcmp(descr, "<f2")) out->dtype = ORDO_IO_F16;
    else
        return ordo_err_set(err, ".npy dtype '%s' is not supported (little-endian float16 '<f2' "
                                 "or float32 '<f4')", descr);
    if (fortran)
        return ordo_err_set(err, ".npy matrix is in Fortran order; save it in C order "
                                 "(numpy.ascontiguousarray)");
    if (nd < 1 || nd > 2)
        return ordo_err_set(err, ".npy array has %d dimensions; expected 1 or 2", nd);
    out->ndim = nd;
    out->rows = dims[0];
    out->cols = nd == 2 ? dims[1] : 1;
    out->data_off = start + hlen;
    /* Both below 2^48 but their product may not be: check before multiplying. */
    if (out->cols && out->rows > SIZE_MAX / 8 / out->cols)
        return ordo_err_set(err, ".npy shape is too large");
    size_t need = out->rows * out->cols * (size_t)out->dtype;
    size_t have = len - out->data_off;
    if (have < need)
        return ordo_err_set(err, ".npy file is truncated: shape (%zu, %zu) needs %zu data bytes, "
                                 "the file has %zu", out->rows, out->cols, need, have);
    if (have > need)
        return ordo_err_set(err, ".npy file has %zu bytes after its (%zu, %zu) matrix",
                            have - need, out->rows, out->cols);
    return 0;
bad:
    return ordo_err_set(err, ".npy header is not a valid dict near byte %zu",
                        (size_t)(h.p - (const char *)buf));
}

int ordo_io_npy_floats(const unsigned char *buf, const ordo_io_npy *h, float *out, ordo_err *err)
{
    const unsigned char *d = buf + h->data_off;
    size_t n = h->rows * h->cols;
    if (h->dtype == ORDO_IO_F32) {
        memcpy(out, d, n * sizeof(float));   /* little-endian host (x86-64) */
    } else {
        for (size_t i0 = 0; i0 < n; i0 += 4096) {
            uint16_t tmp[4096];
            size_t m = n - i0 < 4096 ? n - i0 : 4096;
            memcpy(tmp, d + i0 * 2, m * 2);
            ordo_f16_to_f32(tmp, out + i0, m);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(out[i]))
            return ordo_err_set(err, "row %zu, column %zu is %s", i / h->cols + 1, i % h->cols + 1,
                                isnan(out[i]) ? "NaN" : "infinite");
    return 0;
}

int ordo_io_npy_write_header(FILE *f, int dtype, size_t rows, size_t cols)
{
    char d[128];
    int n = snprintf(d, sizeof d, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }",
                     dtype == ORDO_IO_F16 ? "<f2" : "<f4", rows, cols);
    /* Pad with spaces so magic + version + length + dict + '\n' is a
     * multiple of 64 bytes, as numpy does. */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    unsigned hl = (unsigned)(n + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff),
                             (unsigned char)(hl >> 8)};
    if (fwrite(pre, 1, 10, f) != 10 || fwrite(d, 1, (size_t)n, f) != (size_t)n) return -1;
    for (size_t i = 0; i < pad; i++)
        if (fputc(' ', f) == EOF) return -1;
    return fputc('\n', f) == EOF ? -1 : 0;
}
