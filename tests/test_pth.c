/* test_pth.c - the legacy .pth reader: real EfficientNet-Lite files checked
 * against torch (digests from tools/pth_dump.py), a synthetic file built
 * here byte by byte, and hostile inputs (truncations, flipped bytes, bad
 * counts, forbidden globals, deep nesting, empty files). */
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "nn/pth.h"
#include "nn/weights.h"
#include "pth_sample.h"
#include "test.h"

/* ---- a tiny pickle writer for synthetic files ---------------------------- */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *data, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}
static void put1(buf *b, int c) { unsigned char u = (unsigned char)c; put(b, &u, 1); }
static void put_le(buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) put1(b, (int)((v >> (8 * i)) & 0xff));
}
static void ustr(buf *b, const char *s)      /* BINUNICODE */
{
    put1(b, 'X'); put_le(b, strlen(s), 4); put(b, s, strlen(s));
}
static void global(buf *b, const char *mod, const char *name)
{
    put1(b, 'c'); put(b, mod, strlen(mod)); put1(b, '\n'); put(b, name, strlen(name)); put1(b, '\n');
}
static void int1(buf *b, int v) { put1(b, 'K'); put1(b, v); }

typedef struct synth_opts {
    const char *gmod, *gname;    /* storage global (default torch.FloatStorage) */
    int64_t float_pickled_size;  /* pickled numel of the float storage (6) */
    int64_t float_count;         /* count written in the data section (6) */
    int rows, cols;              /* float tensor shape (2, 3) */
    int omit_long_key;           /* leave storage '1' out of the keys list */
    int trailing;                /* extra bytes at the end */
    int long_offset;             /* storage offset of the scalar (0) */
    int copies;                  /* extra keys naming the same tensor "w" (0) */
} synth_opts;

static const synth_opts synth_default = {NULL, NULL, 6, 6, 2, 3, 0, 0, 0, 0};

/* state_dict {"w": 2x3 float tensor with strides (1, 2) over storage 0..5,
 * "n": int64 scalar 42}. The transposed strides exercise the copy to
 * row-major: w == [[0, 2, 4], [1, 3, 5]]. */
static buf synth(synth_opts o)
{
    buf b = {0};
    static const unsigned char magic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    put1(&b, 0x80); put1(&b, 2); put1(&b, 0x8a); put1(&b, 10); put(&b, magic, 10); put1(&b, '.');
    put1(&b, 0x80); put1(&b, 2); put1(&b, 'M'); put_le(&b, 1001, 2); put1(&b, '.');
    put1(&b, 0x80); put1(&b, 2); put1(&b, '}'); ustr(&b, "little_endian"); put1(&b, 0x88);
    put1(&b, 's'); put1(&b, '.');
    /* the state_dict */
    put1(&b, 0x80); put1(&b, 2);
    global(&b, "collections", "OrderedDict"); put1(&b, 'q'); put1(&b, 0);
    put1(&b, ')'); put1(&b, 'R'); put1(&b, '(');
    ustr(&b, "w");
    global(&b, "torch._utils", "_rebuild_tensor_v2"); put1(&b, 'q'); put1(&b, 1);
    put1(&b, '('); put1(&b, '(');
    ustr(&b, "storage");
    global(&b, o.gmod ? o.gmod : "torch", o.gname ? o.gname : "FloatStorage");
    ustr(&b, "0"); ustr(&b, "cpu"); put1(&b, 'J'); put_le(&b, (uint64_t)o.float_pickled_size, 4);
    put1(&b, 'N'); put1(&b, 't'); put1(&b, 'Q');
    int1(&b, 0);
    int1(&b, o.rows); int1(&b, o.cols); put1(&b, 0x86);
    int1(&b, 1); int1(&b, 2); put1(&b, 0x86);
    put1(&b, 0x89); put1(&b, 'h'); put1(&b, 0); put1(&b, ')'); put1(&b, 'R');
    put1(&b, 't'); put1(&b, 'R'); put1(&b, 'q'); put1(&b, 2);
    ustr(&b, "n");
    put1(&b, 'h'); put1(&b, 1);
    put1(&b, '('); put1(&b, '(');
    ustr(&b, "storage"); global(&b, "torch", "LongStorage");
    ustr(&b, "1"); ustr(&b, "cpu"); int1(&b, 1); put1(&b, 'N'); put1(&b, 't'); put1(&b, 'Q');
    int1(&b, o.long_offset); put1(&b, ')'); put1(&b, ')');
    put1(&b, 0x89); put1(&b, 'h'); put1(&b, 0); put1(&b, ')'); put1(&b, 'R');
    put1(&b, 't'); put1(&b, 'R');
    for (int i = 0; i < o.copies; i++) {
        char name[16];
        snprintf(name, sizeof name, "w%d", i);
        ustr(&b, name); put1(&b, 'h'); put1(&b, 2);
    }
    put1(&b, 'u'); put1(&b, '.');
    /* storage keys */
    put1(&b, 0x80); put1(&b, 2); put1(&b, ']'); put1(&b, '(');
    ustr(&b, "0");
    if (!o.omit_long_key)
        ustr(&b, "1");
    put1(&b, 'e'); put1(&b, '.');
    /* data */
    put_le(&b, (uint64_t)o.float_count, 8);
    for (int i = 0; i < 6; i++) {
        float f = (float)i;
        uint32_t u;
        memcpy(&u, &f, 4);
        put_le(&b, u, 4);
    }
    if (!o.omit_long_key) {
        put_le(&b, 1, 8);
        put_le(&b, 42, 8);
    }
    for (int i = 0; i < o.trailing; i++)
        put1(&b, 0);
    return b;
}

/* Parses and expects failure whose message contains `want`. */
static void expect_fail(const buf *b, const char *want, const char *what)
{
    ordo_err err = {{0}};
    ordo_pth *p = ordo_pth_parse(b->p, b->n, &err);
    CHECK_MSG(p == NULL, "%s: parse should fail", what);
    CHECK_MSG(strstr(err.msg, want) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, want);
    ordo_pth_free(p);
}

static void t_synthetic(void)
{
    buf b = synth(synth_default);
    ordo_err err = {{0}};
    ordo_pth *p = ordo_pth_parse(b.p, b.n, &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (p) {
        CHECK(ordo_pth_count(p) == 2);
        const ordo_pth_tensor *w = ordo_pth_find(p, "w"), *n = ordo_pth_find(p, "n");
        CHECK(w && n && ordo_pth_at(p, 0) == w && ordo_pth_at(p, 1) == n);
        CHECK(ordo_pth_find(p, "x") == NULL && ordo_pth_at(p, 2) == NULL && ordo_pth_at(p, -1) == NULL);
        if (w) {
            CHECK(w->dtype == ORDO_PTH_F32 && w->ndim == 2 && w->shape[0] == 2 &&
                  w->shape[1] == 3 && w->numel == 6);
            const float *f = w->data, want[6] = {0, 2, 4, 1, 3, 5};
            for (int i = 0; i < 6; i++)
                CHECK_MSG(f[i] == want[i], "w[%d] = %g, want %g", i, f[i], want[i]);
        }
        if (n) {
            CHECK(n->dtype == ORDO_PTH_I64 && n->ndim == 0 && n->numel == 1);
            CHECK(*(const int64_t *)n->data == 42);
        }
    }
    ordo_pth_free(p);
    free(b.p);
}

/* A file written by torch itself: storage offset, two tensors sharing one
 * storage (one transposed), an int64 scalar, a zero-size tensor. */
static void t_torch_sample(void)
{
    ordo_err err = {{0}};
    ordo_pth *p = ordo_pth_parse(pth_sample, sizeof pth_sample, &err);
    CHECK_MSG(p != NULL, "%s", err.msg);
    if (!p) return;
    CHECK(ordo_pth_count(p) == 4);
    const ordo_pth_tensor *a = ordo_pth_find(p, "a"), *b = ordo_pth_find(p, "b");
    const ordo_pth_tensor *c = ordo_pth_find(p, "c"), *d = ordo_pth_find(p, "d");
    CHECK(a && b && c && d);
    if (a && b && c && d) {
        CHECK(a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3 && a->numel == 6);
        for (int i = 0; i < 6; i++)
            CHECK_MSG(((const float *)a->data)[i] == 2 + i, "a[%d]", i);
        CHECK(b->ndim == 2 && b->shape[0] == 4 && b->shape[1] == 3 && b->numel == 12);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++)
                CHECK_MSG(((const float *)b->data)[i * 3 + j] == j * 4 + i, "b[%d][%d]", i, j);
        CHECK(c->dtype == ORDO_PTH_I64 && c->ndim == 0 && *(const int64_t *)c->data == 7);
        CHECK(d->ndim == 2 && d->shape[0] == 0 && d->shape[1] == 5 && d->numel == 0);
    }
    ordo_pth_free(p);
}

static void t_truncated_everywhere(void)
{
    buf b = synth(synth_default);
    int bad = 0;
    for (size_t k = 0; k < b.n; k++) {
        ordo_err err = {{0}};
        ordo_pth *p = ordo_pth_parse(b.p, k, &err);
        if (p || !err.msg[0]) {
            printf("    prefix of %zu bytes: %s\n", k, p ? "accepted" : "no message");
            bad++;
        }
        ordo_pth_free(p);
    }
    CHECK_MSG(bad == 0, "%d of %zu truncations not refused cleanly", bad, b.n);
    free(b.p);
    for (size_t k = 0; k < sizeof pth_sample; k++) {
        ordo_err err = {{0}};
        ordo_pth *p = ordo_pth_parse(pth_sample, k, &err);
        CHECK_MSG(!p && err.msg[0], "torch sample cut at %zu not refused", k);
        ordo_pth_free(p);
    }
}

/* Flipped bytes may still give a valid file (a changed float); what must
 * hold is no crash (ASan checks it under `make san`), a message on every
 * failure, and a consistent result on success. */
static void t_flipped_bytes(void)
{
    buf b = synth(synth_default);
    static const unsigned char masks[] = {0x01, 0x80, 0xff, 0x20};
    int refused = 0, accepted = 0, bad = 0;
    for (size_t k = 0; k < b.n; k++)
        for (size_t m = 0; m < sizeof masks; m++) {
            b.p[k] ^= masks[m];
            ordo_err err = {{0}};
            ordo_pth *p = ordo_pth_parse(b.p, b.n, &err);
            if (p) {
                accepted++;
                for (int i = 0; i < ordo_pth_count(p); i++) {
                    const ordo_pth_tensor *t = ordo_pth_at(p, i);
                    int64_t numel = 1;
                    for (int d = 0; d < t->ndim; d++) numel *= t->shape[d];
                    if (numel != t->numel || ordo_pth_find(p, t->name) != t) bad++;
                }
            } else {
                refused++;
                if (!err.msg[0]) bad++;
            }
            ordo_pth_free(p);
            b.p[k] ^= masks[m];
        }
    CHECK_MSG(bad == 0, "%d inconsistent results", bad);
    CHECK(refused > 0 && accepted > 0);   /* flips in the float data stay valid */
    printf("    %d flips refused, %d accepted\n", refused, accepted);
    free(b.p);
}

static void t_bad_counts(void)
{
    synth_opts o = synth_default;
    o.float_count = (int64_t)1 << 40;
    buf b = synth(o);
    expect_fail(&b, "holds 1099511627776 elements, expected 6", "data count != pickled size");
    free(b.p);

    o = synth_default;
    o.float_pickled_size = o.float_count = 1000000;   /* consistent, but the file is tiny */
    b = synth(o);
    expect_fail(&b, "runs past the end of the file", "storage larger than file");
    free(b.p);

    o = synth_default;
    o.float_pickled_size = -5;
    b = synth(o);
    expect_fail(&b, "negative storage size", "negative size");
    free(b.p);

    o = synth_default;
    o.rows = 1;
    o.cols = 4;   /* 1x4 with column stride 2 reaches element 6 of 6 */
    b = synth(o);
    expect_fail(&b, "exceeds its storage", "tensor bigger than storage");
    free(b.p);

    o = synth_default;
    o.rows = 3;   /* 9 elements cannot come from 6 */
    b = synth(o);
    expect_fail(&b, "more elements than its storage", "numel > storage");
    free(b.p);

    o = synth_default;
    o.long_offset = 1;   /* scalar at offset 1 of a 1-element storage */
    b = synth(o);
    expect_fail(&b, "exceeds its storage", "scalar past storage end");
    free(b.p);

    o = synth_default;
    o.omit_long_key = 1;
    b = synth(o);
    expect_fail(&b, "missing from the file", "missing storage");
    free(b.p);

    o = synth_default;
    o.copies = 3;   /* a few shared references are fine */
    b = synth(o);
    ordo_err err = {{0}};
    ordo_pth *p = ordo_pth_parse(b.p, b.n, &err);
    CHECK_MSG(p && ordo_pth_count(p) == 5, "%s", err.msg);
    ordo_pth_free(p);
    free(b.p);

    o.copies = 200;   /* each 8-byte entry would copy a 24-byte tensor */
    b = synth(o);
    expect_fail(&b, "more memory than the file", "shared-tensor amplification");
    free(b.p);

    o = synth_default;
    o.trailing = 3;
    b = synth(o);
    expect_fail(&b, "unexpected bytes after the last storage", "trailing bytes");
    free(b.p);
}

static void t_forbidden_globals(void)
{
    synth_opts o = synth_default;
    o.gmod = "os";
    o.gname = "system";
    buf b = synth(o);
    expect_fail(&b, "refusing pickle global os.system", "os.system");
    free(b.p);

    o.gmod = "builtins";
    o.gname = "eval";
    b = synth(o);
    expect_fail(&b, "refusing pickle global builtins.eval", "eval");
    free(b.p);

    o.gmod = "torch";
    o.gname = "FloatStorage\nextra";   /* the name must be exactly one line */
    b = synth(o);
    expect_fail(&b, "", "two-line global");
    free(b.p);
}

static void t_structural(void)
{
    buf b = {0};
    for (int i = 0; i < 100000; i++) put1(&b, '(');
    expect_fail(&b, "nests deeper", "deep MARK nesting");
    free(b.p);

    b = (buf){0};
    for (int i = 0; i < 100000; i++) put1(&b, 'N');
    expect_fail(&b, "stack exceeds", "stack overflow");
    free(b.p);

    b = (buf){0};
    put1(&b, 0x80); put1(&b, 2); put1(&b, 'h'); put1(&b, 7);
    expect_fail(&b, "memo 7 is unset", "unset memo");
    free(b.p);

    b = (buf){0};
    put1(&b, 'N'); put1(&b, 'r'); put_le(&b, 0xffffffffu, 4);
    expect_fail(&b, "memo index 4294967295 too large", "huge memo index");
    free(b.p);

    b = (buf){0};
    put1(&b, 'X'); put_le(&b, 0xfffffff0u, 4); put(&b, "abc", 3);
    expect_fail(&b, "truncated", "string longer than file");
    free(b.p);

    b = (buf){0};
    put1(&b, 0x80); put1(&b, 4);
    expect_fail(&b, "protocol 4", "protocol 4");
    free(b.p);

    b = (buf){0};
    put1(&b, 'i'); put(&b, "os\nsystem\n", 10);   /* INST: arbitrary call in pickle */
    expect_fail(&b, "unsupported pickle opcode 0x69", "INST opcode");
    free(b.p);

    b = (buf){0};
    put1(&b, 't');
    expect_fail(&b, "no MARK", "TUPLE without MARK");
    free(b.p);

    b = (buf){0};
    put1(&b, 'N'); put1(&b, '('); put1(&b, 'R');   /* REDUCE may not reach under a MARK */
    expect_fail(&b, "underflow", "REDUCE across MARK");
    free(b.p);

    b = (buf){0};
    put(&b, "PK\003\004", 4);
    expect_fail(&b, "zip-format", "zip .pth");
    free(b.p);

    b = (buf){0};
    put(&b, "\xff\xd8\xff\xe0JFIF", 8);
    expect_fail(&b, "not a legacy PyTorch file", "a JPEG");
    free(b.p);

    b = (buf){0};
    put1(&b, 0x80); put1(&b, 2); put1(&b, 'K'); put1(&b, 1); put1(&b, '.');
    for (int i = 0; i < 4; i++) put1(&b, 0);
    expect_fail(&b, "bad magic", "wrong magic");
    free(b.p);

    ordo_err err = {{0}};
    CHECK(ordo_pth_parse(NULL, 0, &err) == NULL && strstr(err.msg, "empty"));
}

static void t_open_errors(void)
{
    char path[] = "/tmp/ordo_test_pth_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    ordo_err err = {{0}};
    CHECK(ordo_pth_open(path, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "is empty"), "%s", err.msg);
    unlink(path);
    CHECK(ordo_pth_open(path, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "cannot open") && strstr(err.msg, "No such file"), "%s", err.msg);
    CHECK(ordo_pth_open("/tmp", &err) == NULL);
    CHECK_MSG(strstr(err.msg, "not a regular file"), "%s", err.msg);
}

/* ---- the real files ------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 0x100000001B3ull;
    return h;
}

/* Same digest as tools/pth_dump.py (little-endian host assumed, as the
 * files are little-endian and ordo only targets x86-64/aarch64). */
static uint64_t digest(const ordo_pth *p)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (int i = 0; i < ordo_pth_count(p); i++) {
        const ordo_pth_tensor *t = ordo_pth_at(p, i);
        h = fnv(h, t->name, strlen(t->name) + 1);
        int64_t nd = t->ndim;
        h = fnv(h, &nd, 8);
        h = fnv(h, t->shape, 8 * (size_t)t->ndim);
        h = fnv(h, t->data, (size_t)t->numel * (t->dtype == ORDO_PTH_F32 ? 4 : 8));
    }
    return h;
}

typedef struct known {
    const char *model;
    int count;
    uint64_t fnv;
    int64_t head_ch;              /* _conv_head.weight input channels */
    float stem0, fc0;             /* first values of _conv_stem.weight, _fc.weight */
    double stem_sum, fc_sum;
} known;

/* From: /usr/bin/python3 tools/pth_dump.py liteN.pth _conv_stem.weight _fc.weight */
static const known knowns[] = {
    {"lite0", 296, 0x984835c2898af7c8ull, 320, -1.1103360652923584f, -0.04561043530702591f,
     -26.811376610887237, -470.63256730128705},
    {"lite1", 386, 0x5ee884156a15b38full, 320, 0.29808712005615234f, -0.007715243846178055f,
     -17.377590472402517, -446.7586730750372},
    {"lite2", 386, 0xc4a64b63406e62a6ull, 352, 0.0875537171959877f, 0.019549570977687836f,
     -17.79710495150357, -509.8288435161521},
};

static double sum(const ordo_pth_tensor *t)
{
    double s = 0;
    const float *f = t->data;
    for (int64_t i = 0; i < t->numel; i++) s += f[i];
    return s;
}

static int real_path(const char *model, char *path, size_t cap)
{
    ordo_err err = {{0}};
    return ordo_weights_path(NULL, model, path, cap, &err);
}

static void t_real_files(void)
{
    int found = 0;
    for (size_t k = 0; k < sizeof knowns / sizeof knowns[0]; k++) {
        const known *kn = &knowns[k];
        char path[4096];
        if (real_path(kn->model, path, sizeof path) < 0) {
            printf("    %s weights not installed\n", kn->model);
            continue;
        }
        found++;
        ordo_err err = {{0}};
        ordo_pth *p = ordo_pth_open(path, &err);
        CHECK_MSG(p != NULL, "%s: %s", path, err.msg);
        if (!p) continue;
        CHECK_MSG(ordo_pth_count(p) == kn->count, "%s: %d tensors", kn->model, ordo_pth_count(p));
        const ordo_pth_tensor *stem = ordo_pth_find(p, "_conv_stem.weight");
        const ordo_pth_tensor *fc = ordo_pth_find(p, "_fc.weight");
        const ordo_pth_tensor *fcb = ordo_pth_find(p, "_fc.bias");
        const ordo_pth_tensor *head = ordo_pth_find(p, "_conv_head.weight");
        const ordo_pth_tensor *nbt = ordo_pth_find(p, "_bn0.num_batches_tracked");
        CHECK(stem && fc && fcb && head && nbt);
        if (stem && fc && fcb && head && nbt) {
            CHECK(stem->dtype == ORDO_PTH_F32 && stem->ndim == 4 && stem->shape[0] == 32 &&
                  stem->shape[1] == 3 && stem->shape[2] == 3 && stem->shape[3] == 3);
            CHECK(fc->ndim == 2 && fc->shape[0] == 1000 && fc->shape[1] == 1280);
            CHECK(fcb->ndim == 1 && fcb->shape[0] == 1000);
            CHECK(head->ndim == 4 && head->shape[0] == 1280 && head->shape[1] == kn->head_ch);
            CHECK(nbt->dtype == ORDO_PTH_I64 && nbt->ndim == 0 && nbt->numel == 1);
            /* stored channels-last; these check the strided copy */
            CHECK_MSG(((const float *)stem->data)[0] == kn->stem0, "%s stem[0] %.9g", kn->model,
                      ((const float *)stem->data)[0]);
            CHECK(((const float *)fc->data)[0] == kn->fc0);
            CHECK_MSG(fabs(sum(stem) - kn->stem_sum) < 1e-6, "%s stem sum %.17g", kn->model, sum(stem));
            CHECK_MSG(fabs(sum(fc) - kn->fc_sum) < 1e-5, "%s fc sum %.17g", kn->model, sum(fc));
        }
        uint64_t h = digest(p);
        CHECK_MSG(h == kn->fnv, "%s: digest 0x%016llx, torch gives 0x%016llx", kn->model,
                  (unsigned long long)h, (unsigned long long)kn->fnv);
        ordo_pth_free(p);
    }
    if (!found)
        SKIP("no weights installed (run `ordo weights install` or ./setup.sh)");
}

/* Cut the real lite0 file at many points: every one must be refused with a
 * message; cuts in the pickle part are dense, in the data part sparse. */
static void t_real_truncations(void)
{
    char path[4096];
    if (real_path("lite0", path, sizeof path) < 0)
        SKIP("lite0 weights not installed");
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    unsigned char *data = malloc((size_t)len);
    CHECK(data && fread(data, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    int cuts = 0, bad = 0;
    for (long k = 0; k < len; k += (k < 50000 ? 97 : 99991)) {
        ordo_err err = {{0}};
        ordo_pth *p = ordo_pth_parse(data, (size_t)k, &err);
        if (p || !err.msg[0]) bad++;
        ordo_pth_free(p);
        cuts++;
    }
    ordo_err err = {{0}};
    ordo_pth *p = ordo_pth_parse(data, (size_t)len - 1, &err);   /* last byte missing */
    CHECK_MSG(!p && strstr(err.msg, "runs past the end"), "%s", err.msg);
    ordo_pth_free(p);
    CHECK_MSG(bad == 0, "%d of %d cuts accepted or silent", bad, cuts);
    free(data);
}

int main(void)
{
    RUN(t_synthetic);
    RUN(t_torch_sample);
    RUN(t_truncated_everywhere);
    RUN(t_flipped_bytes);
    RUN(t_bad_counts);
    RUN(t_forbidden_globals);
    RUN(t_structural);
    RUN(t_open_errors);
    RUN(t_real_files);
    RUN(t_real_truncations);
    return test_summary();
}
