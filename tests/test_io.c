/* test_io.c - the parsers of src/io on hand-made inputs: .npy headers as
 * numpy versions 1-3 write them (and the corner cases the format allows),
 * the writer read back by the parser, CSV and JSON lines vectors, label
 * JSON lines, Label Studio exports (annotators, times, URLs, cancelled
 * annotations) and ISO 8601 times. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"
#include "test.h"

/* A .npy file: version v, the dict text padded as numpy pads it, then
 * nbytes of data (1.0f values for f4). *len gets the size. */
static unsigned char *npy(int v, const char *dict, size_t nbytes, size_t *len)
{
    size_t pre = v == 1 ? 10 : 12, dl = strlen(dict);
    size_t hl = dl + 1, pad = (64 - (pre + hl) % 64) % 64;
    hl += pad;
    *len = pre + hl + nbytes;
    unsigned char *b = calloc(*len, 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)v;
    b[8] = (unsigned char)(hl & 0xff);
    b[9] = (unsigned char)(hl >> 8);
    memcpy(b + pre, dict, dl);
    memset(b + pre + dl, ' ', pad);
    b[pre + hl - 1] = '\n';
    for (size_t i = 0; i + 4 <= nbytes; i += 4) {
        float one = 1.0f;
        memcpy(b + pre + hl + i, &one, 4);
    }
    return b;
}

static void t_npy_headers(void)
{
    ordo_io_npy h;
    ordo_err err;
    size_t len;
    unsigned char *b = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 24, &len);
    CHECK_MSG(ordo_io_npy_parse(b, len, &h, &err) == 0, "%s", err.msg);
    CHECK(h.dtype == ORDO_IO_F32 && h.ndim == 2 && h.rows == 3 && h.cols == 2 && h.data_off == 128);
    float out[6];
    CHECK(ordo_io_npy_floats(b, &h, out, &err) == 0 && out[0] == 1.0f && out[5] == 1.0f);
    free(b);
    /* version 2 (4-byte length), keys in another order, double quotes, no trailing comma */
    b = npy(2, "{\"shape\": (4,), \"fortran_order\": False, \"descr\": \"<f2\"}", 8, &len);
    b[10] = b[11] = 0;
    CHECK_MSG(ordo_io_npy_parse(b, len, &h, &err) == 0, "%s", err.msg);
    CHECK(h.dtype == ORDO_IO_F16 && h.ndim == 1 && h.rows == 4 && h.cols == 1);
    free(b);
    /* Python 2 long suffixes; an empty matrix */
    b = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0L, 5L), }", 0, &len);
    CHECK_MSG(ordo_io_npy_parse(b, len, &h, &err) == 0 && h.rows == 0 && h.cols == 5, "%s", err.msg);
    free(b);
    /* refused: each with its reason */
    static const struct { const char *dict; size_t n; const char *why; } bad[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 20, "truncated"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 28, "4 bytes after"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", 48, "'<f8'"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (3, 2), }", 24, "'>f4'"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", 24, "Fortran"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, "0 dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", 24, "3 dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), 'x': 1}", 24, "unknown key"},
        {"{'descr': '<f4', 'shape': (3, 2), }", 24, "lacks"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)}", 24, "not a valid dict"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (281474976710655, 281474976710655), }", 0, "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2), }", 24, "not a valid dict"},
        {"['descr']", 0, "not a valid dict"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = npy(1, bad[i].dict, bad[i].n, &len);
        err.msg[0] = 0;
        int rc = ordo_io_npy_parse(b, len, &h, &err);
        CHECK_MSG(rc != 0 && strstr(err.msg, bad[i].why), "case %zu: rc %d, '%s'", i, rc, err.msg);
        free(b);
    }
    CHECK(ordo_io_npy_parse((const unsigned char *)"\x93NUMPY\x04\x00", 8, &h, &err) != 0);
    CHECK(ordo_io_npy_parse((const unsigned char *)"\x93NUMPY\x01\x00\xff\x00{", 11, &h, &err) != 0 &&
          strstr(err.msg, "truncated"));
    /* non-finite values are named by row and column */
    b = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 24, &len);
    float inf = INFINITY;
    CHECK(ordo_io_npy_parse(b, len, &h, &err) == 0);
    memcpy(b + h.data_off + 4 * 3, &inf, 4);
    CHECK(ordo_io_npy_floats(b, &h, out, &err) != 0 && strstr(err.msg, "row 2, column 2 is infinite"));
    free(b);
}

static void t_npy_write(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(ordo_io_npy_write_header(f, ORDO_IO_F16, 123456, 1280) == 0);
    static const unsigned short z[1280 * 2];
    fwrite(z, 2, 1280, f);   /* one row is enough for the header check; fix rows below */
    fclose(f);
    CHECK((len - 1280 * 2) % 64 == 0);
    ordo_io_npy h;
    ordo_err err;
    /* Its header says 123456 rows: the parser must call the file truncated,
     * having read the header exactly. */
    CHECK(ordo_io_npy_parse((unsigned char *)buf, len, &h, &err) != 0 && strstr(err.msg, "truncated"));
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    CHECK(ordo_io_npy_write_header(f, ORDO_IO_F32, 2, 3) == 0);
    float v[6] = {1, 2, 3, 4, 5, 6};
    fwrite(v, 4, 6, f);
    fclose(f);
    CHECK_MSG(ordo_io_npy_parse((unsigned char *)buf, len, &h, &err) == 0, "%s", err.msg);
    float back[6];
    CHECK(h.rows == 2 && h.cols == 3 && h.dtype == ORDO_IO_F32 && h.data_off % 64 == 0);
    CHECK(ordo_io_npy_floats((unsigned char *)buf, &h, back, &err) == 0 && !memcmp(back, v, sizeof v));
    free(buf);
}

static void t_vectors(void)
{
    ordo_io_vectors v;
    ordo_err err;
    const char *csv = "path,a,b\n\"x,\"\"y\"\".jpg\",1.5,-2\r\nz.jpg,3e-2,4\n\n";
    CHECK_MSG(ordo_io_vectors_csv(csv, strlen(csv), &v, &err) == 0, "%s", err.msg);
    CHECK(v.n == 2 && v.dim == 2 && !strcmp(v.paths[0], "x,\"y\".jpg") && !strcmp(v.paths[1], "z.jpg"));
    CHECK(v.embed[0] == 1.5f && v.embed[1] == -2 && v.embed[2] == 3e-2f && !v.probs);
    ordo_io_vectors_free(&v);
    static const struct { const char *in; const char *why; } badcsv[] = {
        {"a.jpg,1,2\nb.jpg,1\n", "line 2: 1 values"}, {"a.jpg,1,inf\n", "infinite"},
        {"a.jpg,1,x\n", "not a number"}, {"a.jpg\n", "no values"}, {",1\n", "empty path"},
        {"\"a.jpg,1\n", "unterminated"}, {"a.jpg,1e39\n", "out of float range"}, {"", "no rows"},
    };
    for (size_t i = 0; i < sizeof badcsv / sizeof badcsv[0]; i++) {
        int rc = ordo_io_vectors_csv(badcsv[i].in, strlen(badcsv[i].in), &v, &err);
        CHECK_MSG(rc != 0 && strstr(err.msg, badcsv[i].why), "csv %zu: '%s'", i, err.msg);
    }
    const char *jl = "{\"path\": \"a.jpg\", \"embedding\": [1, 2], \"probabilities\": [0.5, 0.5]}\n"
                     "  \n{\"path\": \"b.jpg\", \"embedding\": [3, 4], \"probabilities\": [1, 0]}";
    CHECK_MSG(ordo_io_vectors_jsonl(jl, strlen(jl), &v, &err) == 0, "%s", err.msg);
    CHECK(v.n == 2 && v.dim == 2 && v.nprob == 2 && v.embed[3] == 4 && v.probs[2] == 1);
    ordo_io_vectors_free(&v);
    static const struct { const char *in; const char *why; } badjl[] = {
        {"{\"path\": \"a\", \"embedding\": [1], \"probabilities\": [1]}\n{\"path\": \"b\", \"embedding\": [1]}",
         "every line or on none"},
        {"{\"path\": \"a\", \"embedding\": []}", "0 values"},
        {"{\"path\": \"a\", \"path\": \"b\", \"embedding\": [1]}", "line 1"},
        {"{\"embedding\": [1]}", "no \"path\""},
        {"[1, 2]", "not a JSON object"},
        {"{\"path\": \"a\\u0000b\", \"embedding\": [1]}", "NUL"},
    };
    for (size_t i = 0; i < sizeof badjl / sizeof badjl[0]; i++) {
        int rc = ordo_io_vectors_jsonl(badjl[i].in, strlen(badjl[i].in), &v, &err);
        CHECK_MSG(rc != 0 && strstr(err.msg, badjl[i].why), "jsonl %zu: '%s'", i, err.msg);
    }
    char **p;
    size_t n;
    CHECK(ordo_io_paths_parse("a\r\nb c\n", 7, &p, &n, &err) == 0 && n == 2 && !strcmp(p[1], "b c") &&
          !strcmp(p[0], "a"));
    ordo_io_paths_free(p, n);
    CHECK(ordo_io_paths_parse("a\n\nb\n", 5, &p, &n, &err) != 0 && strstr(err.msg, "line 2"));
}

static void t_classes(void)
{
    char **c;
    size_t n;
    ordo_err err;
    const char *ok = "golf\r\nair hockey\ntennis";   /* CRLF, no final newline */
    CHECK_MSG(ordo_io_classes_parse(ok, strlen(ok), &c, &n, &err) == 0, "%s", err.msg);
    CHECK(n == 3 && !strcmp(c[0], "golf") && !strcmp(c[1], "air hockey") && !strcmp(c[2], "tennis"));
    ordo_io_paths_free(c, n);
    static const struct { const char *in; size_t len; const char *why; } bad[] = {
        {"golf\ntennis\ngolf\n", 17, "line 3 repeats the class name of line 1"},
        {"golf\n\ntennis\n", 13, "line 2: empty class name"},
        {"golf\n", 5, "1 class name"},
        {"", 0, "0 class names"},
        {"golf\nten\0nis\n", 14, "NUL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(ordo_io_classes_parse(bad[i].in, bad[i].len, &c, &n, &err) == -1, "case %zu", i);
        CHECK_MSG(strstr(err.msg, bad[i].why) != NULL, "case %zu: %s", i, err.msg);
    }
}

static void t_times(void)
{
    double t;
    CHECK(ordo_io_time_parse("1970-01-01T00:00:00Z", &t) == 0 && t == 0);
    CHECK(ordo_io_time_parse("2024-02-29T12:30:45.25Z", &t) == 0 && t == 1709209845.25);
    CHECK(ordo_io_time_parse("2024-02-29T14:30:45.25+02:00", &t) == 0 && t == 1709209845.25);
    CHECK(ordo_io_time_parse("2024-02-29T12:30:45", &t) == 0 && t == 1709209845);
    CHECK(ordo_io_time_parse("2024-13-01T00:00:00Z", &t) != 0);
    CHECK(ordo_io_time_parse("2024-01-01 00:00:00Z", &t) != 0);
    CHECK(ordo_io_time_parse("2024-01-01T00:00:00Zjunk", &t) != 0);
    char s[40];
    ordo_io_time_format(1709209845.123456, s, sizeof s);
    CHECK_MSG(!strcmp(s, "2024-02-29T12:30:45.123456Z"), "%s", s);
    CHECK(ordo_io_time_parse(s, &t) == 0 && fabs(t - 1709209845.123456) < 1e-6);
}

static void t_labels(void)
{
    ordo_io_labels l;
    ordo_err err;
    const char *jl = "{\"path\": \"a.jpg\", \"label\": \"tennis\", \"annotator\": \"ann\", \"created\": 12.5}\n"
                     "{\"path\": \"b.jpg\", \"label\": \"golf\", \"created\": \"1970-01-01T00:01:00Z\", "
                     "\"annotator\": null}\n";
    CHECK_MSG(ordo_io_labels_jsonl(jl, strlen(jl), &l, &err) == 0, "%s", err.msg);
    CHECK(l.n == 2 && !strcmp(l.v[0].annotator, "ann") && l.v[0].created == 12.5 && !l.v[1].annotator &&
          l.v[1].created == 60);
    ordo_io_labels_free(&l);
    const char *nolabel = "{\"path\": \"a.jpg\"}";
    CHECK(ordo_io_labels_jsonl(nolabel, strlen(nolabel), &l, &err) != 0 && strstr(err.msg, "line 1"));
    /* Label Studio: local-files URL with escapes, annotations out of time
     * order, one cancelled, one without choices, user ids and emails */
    const char *ls =
        "[{\"id\": 1, \"data\": {\"image\": \"/data/local-files/?d=photos%2Fa%20b.jpg\"},"
        " \"annotations\": ["
        "  {\"completed_by\": {\"id\": 3, \"email\": \"late@x.org\"}, \"created_at\": \"2024-05-02T00:00:00Z\","
        "   \"result\": [{\"type\": \"choices\", \"value\": {\"choices\": [\"golf\"]}}]},"
        "  {\"completed_by\": 7, \"created_at\": \"2024-05-01T00:00:00.5Z\","
        "   \"result\": [{\"type\": \"rectanglelabels\", \"value\": {}},"
        "                {\"type\": \"choices\", \"value\": {\"choices\": [\"tennis\"]}}]},"
        "  {\"completed_by\": 8, \"was_cancelled\": true, \"result\": []},"
        "  {\"completed_by\": 9, \"result\": [{\"type\": \"textarea\", \"value\": {\"text\": [\"x\"]}}]}]},"
        " {\"id\": 2, \"data\": {\"image\": \"file:///abs/c.jpg\"}, \"annotations\": []},"
        " {\"id\": 3, \"data\": {\"image\": \"plain/d.jpg\"}}]";
    CHECK_MSG(ordo_io_labels_studio(ls, strlen(ls), &l, &err) == 0, "%s", err.msg);
    CHECK_MSG(l.n == 2, "%zu events", l.n);
    if (l.n == 2) {
        CHECK(!strcmp(l.v[0].path, "photos/a b.jpg") && !strcmp(l.v[0].label, "tennis") &&
              !strcmp(l.v[0].annotator, "user 7") && l.v[0].created == 1714521600.5);
        CHECK(!strcmp(l.v[1].label, "golf") && !strcmp(l.v[1].annotator, "late@x.org"));
    }
    ordo_io_labels_free(&l);
    static const struct { const char *in; const char *why; } bad[] = {
        {"{}", "array of tasks"},
        {"[{\"data\": {}}]", "task 1: no data.image"},
        {"[{\"data\": {\"image\": \"http://h/x.jpg\"}, \"annotations\": [{\"result\": "
         "[{\"value\": {\"choices\": [\"a\"]}}]}]}]", "not a local file"},
        {"[{\"data\": {\"image\": \"/data/local-files/?d=a%00b\"}, \"annotations\": [{\"result\": "
         "[{\"value\": {\"choices\": [\"a\"]}}]}]}]", "not a local file"},
        {"[{\"data\": {\"image\": \"x\"}, \"annotations\": [{\"created_at\": \"yesterday\", \"result\": "
         "[{\"value\": {\"choices\": [\"a\"]}}]}]}]", "ISO 8601"},
        {"[{\"data\": {\"image\": \"x\"}, \"annotations\": [{\"result\": "
         "[{\"value\": {\"choices\": [\"a\", \"b\"]}}]}]}]", "2 choices"},
        {"[", "line 1"},
        /* a raw line break inside a JSON string: jansson's error text
         * quotes it (fuzz_vectors); the message stays one line */
        {"[{\"d\\\nJ\nata\": 1}]", "invalid escape near '\"d\\?'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = ordo_io_labels_studio(bad[i].in, strlen(bad[i].in), &l, &err);
        CHECK_MSG(rc != 0 && strstr(err.msg, bad[i].why) && !strpbrk(err.msg, "\n\r"),
                  "studio %zu: '%s'", i, err.msg);
    }
}

int main(void)
{
    RUN(t_npy_headers);
    RUN(t_npy_write);
    RUN(t_vectors);
    RUN(t_classes);
    RUN(t_times);
    RUN(t_labels);
    return test_summary();
}
