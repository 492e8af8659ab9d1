/* test_store.c - the project store: half floats, scores, project discovery,
 * writes with duplicates / failures / missing files, read-back, status, and
 * crash consistency (a child killed with SIGKILL inside a transaction). */
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "base/f16.h"
#include "test.h"

static char tmpdir[256];

static void make_tmp(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ordo_test_store_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        exit(2);
    }
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("    (could not remove %s)\n", dir);
}

static void t_f16(void)
{
    /* Exact values, rounding to nearest even, subnormals, overflow. */
    const float in[] = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65520.0f, 1e-8f,
                        5.9604645e-8f /* 2^-24, smallest subnormal */,
                        6.1035156e-5f /* 2^-14, smallest normal */,
                        1.0f + 1.0f / 2048 /* halfway: rounds to even 1.0 */,
                        1.0f + 3.0f / 2048 /* halfway: rounds up to 1+2/1024 */};
    const uint16_t want[] = {0x0000, 0x8000, 0x3c00, 0xc100, 0x7bff, 0x7c00, 0x0000,
                             0x0001, 0x0400, 0x3c00, 0x3c02};
    size_t n = sizeof in / sizeof in[0];
    uint16_t h[16];
    float back[16];
    ordo_f16_from_f32(in, h, n);
    for (size_t i = 0; i < n; i++)
        CHECK_MSG(h[i] == want[i], "f16(%g) = %04x, want %04x", in[i], h[i], want[i]);
    ordo_f16_to_f32(h, back, n);
    CHECK(back[2] == 1.0f && back[3] == -2.5f && back[4] == 65504.0f && isinf(back[5]));
    CHECK(back[7] == 5.9604645e-8f && back[8] == 6.1035156e-5f);
    /* Every finite half survives a round trip exactly. */
    int bad = 0;
    for (uint32_t x = 0; x < 0x10000; x++) {
        uint16_t a = (uint16_t)x, b;
        if ((a & 0x7c00) == 0x7c00)
            continue;
        float f;
        ordo_f16_to_f32(&a, &f, 1);
        ordo_f16_from_f32(&f, &b, 1);
        bad += a != b;
    }
    CHECK_MSG(bad == 0, "%d halves do not round-trip", bad);
    /* Relative error of random values stays within half an ulp (2^-11). */
    double worst = 0;
    for (int i = 0; i < 10000; i++) {
        float f = (float)((rand() / (double)RAND_MAX - 0.5) * 200), g;
        uint16_t q;
        ordo_f16_from_f32(&f, &q, 1);
        ordo_f16_to_f32(&q, &g, 1);
        if (fabsf(f) > 1e-3f && fabs((g - f) / f) > worst)
            worst = fabs((g - f) / f);
    }
    CHECK_MSG(worst <= 1.0 / 2048 + 1e-9, "worst relative error %g", worst);
    /* The dispatched (F16C when the CPU has it) and portable paths agree
     * bit for bit, including ties, subnormals, overflow and infinities. */
    enum { M = 1 << 16 };
    float *f = malloc(M * sizeof *f), *g1 = malloc(M * sizeof *g1), *g2 = malloc(M * sizeof *g2);
    uint16_t *h1 = malloc(M * sizeof *h1), *h2 = malloc(M * sizeof *h2);
    uint32_t st = 1;
    for (int i = 0; i < M; i++) {
        st = st * 1664525u + 1013904223u;
        uint32_t bits = st;
        if (i < 4096)   /* exact halfway points between neighbouring halves */
            bits = 0x38000000u + ((uint32_t)i << 13) * 16 + 0x1000u;
        memcpy(&f[i], &bits, 4);
        if (isnan(f[i]))
            f[i] = 1.5f;
    }
    ordo_f16_from_f32(f, h1, M);
    ordo_f16_from_f32_portable(f, h2, M);
    int diff = 0;
    for (int i = 0; i < M; i++)
        diff += h1[i] != h2[i];
    CHECK_MSG(diff == 0, "%d of %d conversions differ between paths", diff, M);
    for (int i = 0; i < M; i++)
        h1[i] = (uint16_t)((i & 0x7c00) == 0x7c00 ? 0x3c00 : i);   /* every finite half */
    ordo_f16_to_f32(h1, g1, M);
    ordo_f16_to_f32_portable(h1, g2, M);
    CHECK(memcmp(g1, g2, M * sizeof *g1) == 0);
    free(f); free(g1); free(g2); free(h1); free(h2);
}

static void t_summarize(void)
{
    float l[1000];
    for (int i = 0; i < 1000; i++)
        l[i] = 0;
    ordo_store_scores sc;
    float p[1000];
    ordo_store_summarize(l, 1000, &sc, p);
    /* Uniform: entropy ln 1000, margin 0, ties broken by lower index. */
    CHECK_MSG(fabsf(sc.entropy - logf(1000)) < 1e-4f, "entropy %g", sc.entropy);
    CHECK(fabsf(sc.max_prob - 0.001f) < 1e-6f && sc.margin == 0);
    CHECK(sc.top_class[0] == 0 && sc.top_class[4] == 4);
    l[7] = 2;
    l[3] = 1;
    l[999] = 3;
    ordo_store_summarize(l, 1000, &sc, p);
    CHECK(sc.top_class[0] == 999 && sc.top_class[1] == 7 && sc.top_class[2] == 3);
    CHECK(sc.top_class[3] == 0 && sc.top_class[4] == 1);
    double z = 997 + exp(1) + exp(2) + exp(3), h = 0, sum = 0;
    for (int i = 0; i < 1000; i++) {
        double q = exp(l[i]) / z;
        h -= q * log(q);
        sum += p[i];
    }
    CHECK_MSG(fabs(sc.entropy - h) < 1e-4, "entropy %g want %g", sc.entropy, h);
    CHECK(fabs(sc.max_prob - exp(3) / z) < 1e-6);
    CHECK(fabs(sc.margin - (exp(3) - exp(2)) / z) < 1e-6);
    CHECK(fabs(sum - 1) < 1e-4);
    /* One-hot-like: near-zero entropy, margin near 1. */
    l[500] = 100;
    ordo_store_summarize(l, 1000, &sc, NULL);
    CHECK(sc.top_class[0] == 500 && sc.max_prob > 0.999f && sc.entropy < 1e-3f &&
          sc.margin > 0.999f);
}

static void t_find_init(void)
{
    make_tmp();
    ordo_err err = {{0}};
    char out[4096], sub[512], cwd[4096];
    snprintf(sub, sizeof sub, "%s/a/b", tmpdir);
    char mk[600];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", sub);
    CHECK(system(mk) == 0);
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = 0;
    /* Nothing yet: a message telling the user to run init. */
    unsetenv("ORDO_PROJECT");
    CHECK(chdir(sub) == 0);
    CHECK(ordo_store_find(NULL, out, sizeof out, &err) == -1);
    CHECK_MSG(strstr(err.msg, "ordo init") != NULL, "%s", err.msg);
    CHECK(ordo_store_find(tmpdir, out, sizeof out, &err) == -1);
    CHECK(ordo_store_init(tmpdir, "lite9", &err) == -1);
    CHECK(ordo_store_init(tmpdir, NULL, &err) == 0);
    CHECK_MSG(ordo_store_init(tmpdir, NULL, &err) == -1 && strstr(err.msg, "already"), "%s",
              err.msg);
    /* Found from a subdirectory (walking up), from the flag, from $ORDO_PROJECT. */
    CHECK_MSG(ordo_store_find(NULL, out, sizeof out, &err) == 0, "%s", err.msg);
    CHECK_MSG(!strcmp(out, tmpdir), "%s vs %s", out, tmpdir);
    char other[300];
    snprintf(other, sizeof other, "%s/a", tmpdir);
    CHECK(ordo_store_init(other, "lite1", &err) == 0);
    CHECK(ordo_store_find(NULL, out, sizeof out, &err) == 0 && !strcmp(out, other));
    CHECK(ordo_store_find(tmpdir, out, sizeof out, &err) == 0 && !strcmp(out, tmpdir));
    setenv("ORDO_PROJECT", tmpdir, 1);
    CHECK(ordo_store_find(NULL, out, sizeof out, &err) == 0 && !strcmp(out, tmpdir));
    CHECK(ordo_store_find(other, out, sizeof out, &err) == 0 && !strcmp(out, other));
    unsetenv("ORDO_PROJECT");
    if (cwd[0] && chdir(cwd) != 0)
        printf("    (chdir back failed)\n");
    /* The model: recorded once, then other models are refused. */
    ordo_store *s = ordo_store_open(other, 0, &err);
    CHECK_MSG(s != NULL, "%s", err.msg);
    if (s) {
        char m[16];
        CHECK(ordo_store_model(s, m, sizeof m, &err) == 0 && !strcmp(m, "lite1"));
        CHECK(ordo_store_set_model(s, "lite1", &err) == 0);
        CHECK_MSG(ordo_store_set_model(s, "lite0", &err) == -1 && strstr(err.msg, "lite1"),
                  "%s", err.msg);
        ordo_store_close(s);
    }
    s = ordo_store_open(tmpdir, 0, &err);
    if (s) {
        char m[16];
        CHECK(ordo_store_model(s, m, sizeof m, &err) == 0 && m[0] == 0);
        CHECK(ordo_store_set_model(s, "lite2", &err) == 0);
        CHECK(ordo_store_model(s, m, sizeof m, &err) == 0 && !strcmp(m, "lite2"));
        ordo_store_close(s);
    }
    rm_rf(tmpdir);
}

/* Deterministic fake network output for image k. */
static void fake(int k, float *logits, float *embed)
{
    for (int i = 0; i < ORDO_STORE_LOGITS; i++)
        logits[i] = (float)sin(k * 0.37 + i * 0.011) * 3;
    logits[(k * 7) % 1000] += 8;
    for (int i = 0; i < ORDO_STORE_EMBED; i++)
        embed[i] = (float)cos(k * 0.13 + i * 0.07) * 2;
}

static void put(ordo_store *s, const char *path, int content, int64_t scan, ordo_err *err)
{
    float logits[ORDO_STORE_LOGITS], embed[ORDO_STORE_EMBED];
    fake(content, logits, embed);
    ordo_store_image_in in = {.path = path, .size = 1000 + content, .mtime_ns = 5,
                              .width = 640, .height = 480, .format = "jpeg",
                              .logits = logits, .embed = embed, .sports = NAN,
                              .scan_id = scan};
    memset(in.hash, 0, 16);
    memcpy(in.hash, &content, sizeof content);
    if (content == 3)
        in.sports = 0.25f;
    CHECK_MSG(ordo_store_put_image(s, &in, NULL, err) == 0, "%s", err->msg);
}

static int64_t q1(ordo_store *s, const char *sql)
{
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st;
    int64_t v = -999;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

static void t_write_read(void)
{
    make_tmp();
    ordo_err err = {{0}};
    CHECK(ordo_store_init(tmpdir, "lite0", &err) == 0);
    ordo_store *s = ordo_store_open(tmpdir, ORDO_STORE_FAST, &err);
    CHECK_MSG(s != NULL, "%s", err.msg);
    if (!s)
        return;
    int64_t scan = ordo_store_scan_begin(s, "/x", "lite0", &err);
    CHECK(scan > 0);
    CHECK(ordo_store_put_failed(s, "/x/a", 1, 1, NULL, "empty", "e", scan, &err) == -1);
    CHECK(ordo_store_begin(s, &err) == 0);
    put(s, "/x/a.jpg", 1, scan, &err);
    put(s, "/x/b.jpg", 2, scan, &err);
    put(s, "/x/sub/c.jpg", 1, scan, &err);         /* duplicate of a.jpg */
    put(s, "/x/name with\nnewline \"q\" \xff.jpg", 3, scan, &err);
    CHECK(ordo_store_put_failed(s, "/x/bad.jpg", 0, 7, NULL, "empty", "empty file", scan,
                                &err) == 0);
    put(s, "/xy/outside.jpg", 4, scan, &err);      /* not under /x */
    CHECK_MSG(ordo_store_commit(s, &err) == 0, "%s", err.msg);

    ordo_store_file_info fi;
    CHECK(ordo_store_file_get(s, "/x/bad.jpg", &fi, &err) == 0);
    CHECK(fi.id > 0 && fi.state == ORDO_STORE_FAILED && !strcmp(fi.error_kind, "empty") &&
          fi.mtime_ns == 7);
    CHECK(ordo_store_file_get(s, "/x/nope.jpg", &fi, &err) == 0 && fi.id == 0);
    int h1 = 1;
    unsigned char hash[16] = {0};
    memcpy(hash, &h1, sizeof h1);
    CHECK(ordo_store_has_hash(s, hash, &err) == 1);
    hash[15] = 9;
    CHECK(ordo_store_has_hash(s, hash, &err) == 0);

    ordo_store_status st;
    CHECK_MSG(ordo_store_get_status(s, &st, &err) == 0, "%s", err.msg);
    CHECK_MSG(st.ok == 5 && st.failed == 1 && st.images == 4 && st.duplicates == 1 &&
              st.missing == 0 && st.files == 6 && st.labeled == 0,
              "ok %lld failed %lld images %lld dup %lld", (long long)st.ok,
              (long long)st.failed, (long long)st.images, (long long)st.duplicates);
    CHECK(st.nkinds == 1 && !strcmp(st.failed_by[0].kind, "empty") && st.failed_by[0].count == 1);
    CHECK(!strcmp(st.model, "lite0"));
    CHECK(st.ntop == 4);

    /* Read back: four images in id order, scores and matrices as written. */
    ordo_store_item *it;
    size_t n;
    CHECK(ordo_store_items(s, &it, &n, &err) == 0);
    CHECK_MSG(n == 4, "%zu items", n);
    size_t rows, lrows;
    const uint16_t *E = ordo_store_embeddings(s, &rows, &err);
    const uint16_t *L = ordo_store_logits(s, &lrows, &err);
    CHECK(E && L && rows == 4 && lrows == 4);
    const int contents[4] = {1, 2, 3, 4};
    for (size_t i = 0; E && L && i < n && i < 4; i++) {
        float logits[ORDO_STORE_LOGITS], embed[ORDO_STORE_EMBED], back[ORDO_STORE_EMBED];
        fake(contents[i], logits, embed);
        CHECK(it[i].slot == (int64_t)i);
        ordo_f16_to_f32(E + it[i].slot * ORDO_STORE_EMBED, back, ORDO_STORE_EMBED);
        double worst = 0;
        for (int j = 0; j < ORDO_STORE_EMBED; j++)
            worst = fmax(worst, fabs(back[j] - embed[j]));
        CHECK_MSG(worst < 2e-3, "embedding error %g", worst);
        ordo_f16_to_f32(L + it[i].slot * ORDO_STORE_LOGITS, back, ORDO_STORE_LOGITS);
        worst = 0;
        for (int j = 0; j < ORDO_STORE_LOGITS; j++)
            worst = fmax(worst, fabs(back[j] - logits[j]));
        CHECK_MSG(worst < 1e-2, "logit error %g", worst);
        /* the scores are those of the logits as stored (read back: `back`),
         * so an exported and re-imported project scores exactly the same */
        ordo_store_scores sc;
        ordo_store_summarize(back, 1000, &sc, NULL);
        CHECK(it[i].s.top_class[0] == sc.top_class[0] && it[i].s.top_class[0] == (contents[i] * 7) % 1000);
        CHECK(it[i].s.entropy == sc.entropy && it[i].s.margin == sc.margin &&
              it[i].s.max_prob == sc.max_prob);
        CHECK(contents[i] == 3 ? it[i].sports == 0.25f : isnan(it[i].sports));
    }
    free(it);
    char path[256];
    CHECK(ordo_store_image_path(s, 1, path, sizeof path, &err) == 0 && !strcmp(path, "/x/a.jpg"));

    /* Second scan of /x: a.jpg unchanged (touched), sub/c.jpg changed to new
     * content, b.jpg and the odd name gone, bad.jpg now fine. */
    int64_t scan2 = ordo_store_scan_begin(s, "/x", "lite0", &err);
    CHECK(ordo_store_begin(s, &err) == 0);
    CHECK(ordo_store_file_get(s, "/x/a.jpg", &fi, &err) == 0 && fi.id > 0);
    CHECK(ordo_store_touch(s, fi.id, scan2, &err) == 0);
    put(s, "/x/sub/c.jpg", 5, scan2, &err);
    put(s, "/x/bad.jpg", 6, scan2, &err);
    int64_t nmiss = 0;
    CHECK_MSG(ordo_store_mark_missing(s, "/x/", scan2, &nmiss, &err) == 0, "%s", err.msg);
    CHECK_MSG(nmiss == 2, "missing %lld", (long long)nmiss);
    CHECK(ordo_store_commit(s, &err) == 0);
    CHECK(ordo_store_get_status(s, &st, &err) == 0);
    CHECK_MSG(st.ok == 4 && st.failed == 0 && st.missing == 2 && st.images == 4 &&
              st.duplicates == 0,
              "ok %lld failed %lld missing %lld images %lld dup %lld", (long long)st.ok,
              (long long)st.failed, (long long)st.missing, (long long)st.images,
              (long long)st.duplicates);
    CHECK(q1(s, "SELECT nfiles FROM images WHERE id = 2") == 0);   /* b.jpg's content */
    CHECK(q1(s, "SELECT state FROM files WHERE path = CAST('/xy/outside.jpg' AS BLOB)") == 0);
    /* Coming back makes the file present again and its image counted. */
    CHECK(ordo_store_begin(s, &err) == 0);
    put(s, "/x/b.jpg", 2, scan2, &err);
    CHECK(ordo_store_commit(s, &err) == 0);
    CHECK(q1(s, "SELECT nfiles FROM images WHERE id = 2") == 1);
    /* A rolled back transaction leaves no trace and reuses its slot. */
    CHECK(ordo_store_begin(s, &err) == 0);
    put(s, "/x/rolled.jpg", 77, scan2, &err);
    ordo_store_rollback(s);
    CHECK(ordo_store_begin(s, &err) == 0);
    put(s, "/x/kept.jpg", 78, scan2, &err);
    CHECK(ordo_store_commit(s, &err) == 0);
    CHECK(q1(s, "SELECT count(*) FROM files WHERE path = CAST('/x/rolled.jpg' AS BLOB)") == 0);
    CHECK(q1(s, "SELECT slot FROM images ORDER BY id DESC LIMIT 1") == 6);
    CHECK(q1(s, "SELECT value FROM meta WHERE key = 'next_slot'") == 7);
    /* Labeled = newest event is a real label ("skip" means unlabeled). */
    sqlite3_exec(ordo_store_db(s),
                 "INSERT INTO labels(image_id, label, created) VALUES (1, 'tennis', 1),"
                 " (1, 'skip', 2), (2, 'skip', 3), (2, 'golf', 4), (3, 'unclear', 5)",
                 NULL, NULL, NULL);
    CHECK(ordo_store_get_status(s, &st, &err) == 0);
    CHECK_MSG(st.labeled == 2, "labeled %lld", (long long)st.labeled);
    ordo_store_scan_counts c = {1, 2, 3, 4};
    CHECK(ordo_store_scan_end(s, scan2, &c, &err) == 0);
    CHECK(ordo_store_get_status(s, &st, &err) == 0 && st.last_scan > 1.7e9 && st.scans == 2);
    /* answers of two annotators to image 5 (for the answer views below) */
    sqlite3_exec(ordo_store_db(s),
                 "INSERT INTO labels(image_id, label, annotator, source, created) VALUES"
                 " (5, 'a', 'x', 'ui', 6), (5, 'b', 'y', 'ui', 7), (5, 'c', 'x', 'cli', 8),"
                 " (5, 'd', 'x', 'review', 9)",
                 NULL, NULL, NULL);
    ordo_store_close(s);

    /* Read-only handles refuse writes, yet read the current_labels view:
     * the newest event per image and the image's event count. */
    s = ordo_store_open(tmpdir, ORDO_STORE_RDONLY, &err);
    CHECK_MSG(s != NULL, "%s", err.msg);
    if (s) {
        CHECK(ordo_store_begin(s, &err) == -1);
        CHECK(q1(s, "SELECT count(*) FROM current_labels") == 4);
        CHECK(q1(s, "SELECT created FROM current_labels WHERE image_id = 5") == 9);
        /* per annotator: reviews left out; the page's answers alone */
        CHECK(q1(s, "SELECT count(*) FROM current_answers WHERE image_id = 5") == 2);
        CHECK(q1(s, "SELECT created FROM current_answers WHERE annotator = 'x'") == 8);
        CHECK(q1(s, "SELECT created FROM current_ui_answers WHERE annotator = 'x'") == 6);
        CHECK(q1(s, "SELECT count(*) FROM current_answers WHERE annotator = 'x'"
                    " AND first = (SELECT id FROM labels WHERE label = 'a')") == 1);
        CHECK(q1(s, "SELECT events FROM current_labels WHERE image_id = 1") == 2);
        CHECK(q1(s, "SELECT created FROM current_labels WHERE image_id = 2") == 4);
        CHECK(q1(s, "SELECT count(*) FROM current_labels WHERE label = 'skip'") == 1);
        ordo_store_close(s);
    }
    rm_rf(tmpdir);
}

/* ordo_store_copy_image (the merge's slot protocol): the row and both f16
 * matrix rows arrive byte for byte at the destination's next slot, nfiles
 * stays 0 until a file links it, next_slot moves with the commit, a missing
 * source image is an error, and both handles close cleanly (under ASan a
 * connection left open by a prepared statement shows as a leak). */
static void t_copy_image(void)
{
    make_tmp();
    char src_dir[300], dst_dir[300];
    snprintf(src_dir, sizeof src_dir, "%s/src", tmpdir);
    snprintf(dst_dir, sizeof dst_dir, "%s/dst", tmpdir);
    CHECK(mkdir(src_dir, 0755) == 0 && mkdir(dst_dir, 0755) == 0);
    ordo_err err = {{0}};
    CHECK(ordo_store_init(src_dir, "lite0", &err) == 0 && ordo_store_init(dst_dir, "lite0", &err) == 0);
    ordo_store *a = ordo_store_open(src_dir, ORDO_STORE_FAST, &err);
    ordo_store *b = ordo_store_open(dst_dir, ORDO_STORE_FAST, &err);
    CHECK_MSG(a && b, "%s", err.msg);
    if (!a || !b) {
        ordo_store_close(a);
        ordo_store_close(b);
        rm_rf(tmpdir);
        return;
    }
    int64_t scan = ordo_store_scan_begin(a, "/x", "lite0", &err);
    CHECK(ordo_store_begin(a, &err) == 0);
    put(a, "/x/1.jpg", 11, scan, &err);
    put(a, "/x/2.jpg", 12, scan, &err);
    CHECK(ordo_store_commit(a, &err) == 0);
    CHECK(ordo_store_begin(b, &err) == 0);
    put(b, "/y/0.jpg", 10, 1, &err);                      /* b's slot 0 is taken */
    CHECK_MSG(ordo_store_copy_image(b, a, 2, 7, &err) == 0, "%s", err.msg);
    CHECK(ordo_store_copy_image(b, a, 99, 7, &err) == -1);  /* no such image */
    CHECK(strstr(err.msg, "99") != NULL);
    CHECK(ordo_store_commit(b, &err) == 0);
    CHECK(q1(b, "SELECT value FROM meta WHERE key = 'next_slot'") == 2);
    CHECK(q1(b, "SELECT slot FROM images WHERE id = 2") == 1);
    CHECK(q1(b, "SELECT nfiles FROM images WHERE id = 2") == 0);
    CHECK(q1(b, "SELECT scan_id FROM images WHERE id = 2") == 7);
    CHECK(q1(b, "SELECT top_class0 FROM images WHERE id = 2") ==
          q1(a, "SELECT top_class0 FROM images WHERE id = 2"));
    size_t ra, rb;
    const uint16_t *ea = ordo_store_embeddings(a, &ra, &err), *eb = ordo_store_embeddings(b, &rb, &err);
    int64_t sa = q1(a, "SELECT slot FROM images WHERE id = 2");
    CHECK(ea && eb && rb == 2 && sa >= 0 && (size_t)sa < ra);
    if (ea && eb && rb == 2 && sa >= 0 && (size_t)sa < ra)
        CHECK(!memcmp(ea + sa * ORDO_STORE_EMBED, eb + ORDO_STORE_EMBED,
                      ORDO_STORE_EMBED * sizeof *ea));
    const uint16_t *la = ordo_store_logits(a, &ra, &err), *lb = ordo_store_logits(b, &rb, &err);
    if (la && lb && rb == 2)
        CHECK(!memcmp(la + sa * ORDO_STORE_LOGITS, lb + ORDO_STORE_LOGITS,
                      ORDO_STORE_LOGITS * sizeof *la));
    else
        CHECK(0);
    /* the scan lock: a second taker is refused with the caller's message */
    int fd = ordo_store_lock(dst_dir, "busy here", &err);
    CHECK(fd >= 0);
    CHECK(ordo_store_lock(dst_dir, "busy here", &err) == -1 && !strcmp(err.msg, "busy here"));
    ordo_store_unlock(fd);
    fd = ordo_store_lock(dst_dir, "busy here", &err);
    CHECK(fd >= 0);
    ordo_store_unlock(fd);
    ordo_store_close(a);
    ordo_store_close(b);
    rm_rf(tmpdir);
}

/* The one rule for a label, whoever writes it. */
/* A project whose vectors are wider than ordo's own and whose logits are
 * over an imported model's own classes: the matrices take those widths,
 * other handles see them, rows read back at that stride, and a second
 * class set, or rows of another width, are refused. */
static void t_widths(void)
{
    make_tmp();
    char wide[300], narrow[300];
    snprintf(wide, sizeof wide, "%s/wide", tmpdir);
    snprintf(narrow, sizeof narrow, "%s/narrow", tmpdir);
    CHECK(mkdir(wide, 0755) == 0 && mkdir(narrow, 0755) == 0);
    ordo_err err = {{0}};
    CHECK(ordo_store_init(wide, NULL, &err) == 0 && ordo_store_init(narrow, "lite0", &err) == 0);
    ordo_store *a = ordo_store_open(wide, ORDO_STORE_FAST, &err);
    ordo_store *other = ordo_store_open(wide, ORDO_STORE_RDONLY, &err);   /* opened before */
    ordo_store *b = ordo_store_open(narrow, ORDO_STORE_FAST, &err);
    CHECK_MSG(a && other && b, "%s", err.msg);
    if (!a || !other || !b) goto out;
    CHECK(ordo_store_embed_dim(a) == ORDO_STORE_EMBED && ordo_store_logits_dim(a) == ORDO_STORE_LOGITS);
    enum { D = 2048, K = 3 };
    const char *const names[K] = {"golf", "air hockey", "tennis"};
    const char *const other_names[K] = {"golf", "tennis", "air hockey"};
    static float e[2][D];
    float lg[2][K] = {{0, 3, 1}, {2, 0, 0}};
    for (int i = 0; i < 2; i++)
        for (int d = 0; d < D; d++) e[i][d] = (float)sin(i * 1.7 + d * 0.01);
    CHECK(ordo_store_begin(a, &err) == 0);
    CHECK_MSG(ordo_store_set_source(a, "resnet50", D, 1, names, K, &err) == 0, "%s", err.msg);
    CHECK(ordo_store_embed_dim(a) == D && ordo_store_logits_dim(a) == K);
    for (int i = 0; i < 2; i++) {
        ordo_store_image_in in = {.path = i ? "/p/b.jpg" : "/p/a.jpg", .size = 1, .format = "",
                                  .logits = lg[i], .embed = e[i], .embed_dim = D,
                                  .sports = NAN};
        memset(in.hash, 0, 16);
        in.hash[0] = (unsigned char)(i + 1);
        CHECK_MSG(ordo_store_put_image(a, &in, NULL, &err) == 0, "%s", err.msg);
    }
    ordo_store_image_in too_wide = {.path = "/p/c.jpg", .format = "", .embed = e[0],
                                    .embed_dim = D + 1, .sports = NAN};
    too_wide.hash[0] = 9;
    CHECK(ordo_store_put_image(a, &too_wide, NULL, &err) == -1 && strstr(err.msg, "1 to 2048"));
    CHECK_MSG(ordo_store_commit(a, &err) == 0, "%s", err.msg);
    /* the handle opened before the import sees the widths at its next map */
    size_t rows = 0;
    const uint16_t *E = ordo_store_embeddings(other, &rows, &err);
    CHECK(E && rows == 2 && ordo_store_embed_dim(other) == D);
    if (E && rows == 2) {
        static float back[D], want[D];
        static uint16_t h[D];
        ordo_f16_to_f32(E + D, back, D);            /* row 1 at stride 2048 */
        ordo_f16_from_f32(e[1], h, D);
        ordo_f16_to_f32(h, want, D);
        CHECK(!memcmp(back, want, sizeof back));
    }
    const uint16_t *L = ordo_store_logits(other, &rows, &err);
    CHECK(L && rows == 2 && ordo_store_logits_dim(other) == K);
    ordo_store_item *it = NULL;
    size_t n = 0;
    CHECK(ordo_store_items(other, &it, &n, &err) == 0 && n == 2);
    if (n == 2) CHECK(it[0].s.top_class[0] == 1 && it[1].s.top_class[0] == 0 && it[0].s.top_class[3] == -1);
    free(it);
    char **cn = NULL;
    int k = 0;
    CHECK(ordo_store_class_names(other, &cn, &k, &err) == 0 && k == K && !strcmp(cn[1], "air hockey"));
    ordo_store_class_names_free(cn, k);
    CHECK(ordo_store_class_names(b, &cn, &k, &err) == 0 && k == 0 && !cn);
    ordo_store_source src;
    CHECK(ordo_store_get_source(other, &src, &err) == 0 && src.dim == D && src.nclasses == K);
    /* never mixed: another order, ImageNet's classes, another width */
    CHECK(ordo_store_begin(a, &err) == 0);
    CHECK(ordo_store_set_source(a, "resnet50", D, 1, names, K, &err) == 0);
    CHECK(ordo_store_set_source(a, "resnet50", D, 1, other_names, K, &err) == -1 &&
          strstr(err.msg, "differ in names or order"));
    CHECK(ordo_store_set_source(a, "resnet50", D, 1, NULL, 0, &err) == -1 &&
          strstr(err.msg, "ImageNet"));
    CHECK(ordo_store_set_source(a, "resnet50", 1280, 1, names, K, &err) == -1);
    const char *const dup[K] = {"golf", "golf\n", "x"};
    CHECK(ordo_store_set_source(a, "resnet50", D, 1, dup, K, &err) == -1);
    ordo_store_rollback(a);
    /* rows of a 2048-d project never go into a 1280-d one */
    CHECK(ordo_store_begin(b, &err) == 0);
    CHECK(ordo_store_copy_image(b, a, 1, 0, &err) == -1 && strstr(err.msg, "cannot be copied"));
    ordo_store_rollback(b);
out:
    ordo_store_close(a);
    ordo_store_close(other);
    ordo_store_close(b);
    rm_rf(tmpdir);
}

static void t_label_rule(void)
{
    char big[ORDO_STORE_LABEL_MAX + 2];
    memset(big, 'x', sizeof big);
    big[ORDO_STORE_LABEL_MAX] = 0;
    CHECK(ordo_store_label_ok(big));                 /* 200 bytes */
    big[ORDO_STORE_LABEL_MAX] = 'x';
    big[ORDO_STORE_LABEL_MAX + 1] = 0;
    CHECK(!ordo_store_label_ok(big));                /* 201 */
    CHECK(ordo_store_label_ok("motor racing"));
    CHECK(ordo_store_label_ok("caf\xc3\xa9"));        /* UTF-8 */
    CHECK(!ordo_store_label_ok("caf\xc3"));            /* truncated UTF-8 */
    CHECK(!ordo_store_label_ok(""));
    CHECK(!ordo_store_label_ok(NULL));
    CHECK(!ordo_store_label_ok("a\tb"));
    CHECK(!ordo_store_label_ok("a\x7f" "b"));          /* DEL */
    CHECK(ordo_store_label_ok(ORDO_STORE_LABEL_NOT_SPORTS));
    CHECK(ordo_store_label_ok(ORDO_STORE_LABEL_SKIP));
}

/* A child writes batches forever; the parent SIGKILLs it at random moments.
 * After each kill the store must be consistent: integrity_check ok, every
 * committed image's slot < next_slot <= matrix rows, its embedding exactly
 * what was written, and nfiles equal to the count of its present files. */
static void t_kill(void)
{
    make_tmp();
    ordo_err err = {{0}};
    CHECK(ordo_store_init(tmpdir, "lite0", &err) == 0);
    srand(12345);
    int bad = 0;
    for (int round = 0; round < 20 && !bad; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            ordo_store *s = ordo_store_open(tmpdir, ORDO_STORE_FAST, &err);
            if (!s)
                _exit(3);
            for (int b = 0;; b++) {
                if (ordo_store_begin(s, &err))
                    _exit(4);
                for (int i = 0; i < 20; i++) {
                    char p[64];
                    int k = round * 100000 + b * 20 + i;
                    snprintf(p, sizeof p, "/d/%d.jpg", k % 997);   /* paths get rewritten */
                    put(s, p, k % 1500, 1, &err);                   /* and content repeats */
                }
                if (ordo_store_commit(s, &err))
                    _exit(5);
            }
        }
        usleep(20000 + rand() % 80000);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFSIGNALED(status), "child exited early, status %d", status);
        ordo_store *s = ordo_store_open(tmpdir, 0, &err);
        CHECK_MSG(s != NULL, "%s", err.msg);
        if (!s) { bad = 1; break; }
        sqlite3 *db = ordo_store_db(s);
        sqlite3_stmt *st;
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL);
        CHECK(sqlite3_step(st) == SQLITE_ROW &&
              !strcmp((const char *)sqlite3_column_text(st, 0), "ok"));
        sqlite3_finalize(st);
        int64_t next = q1(s, "SELECT value FROM meta WHERE key = 'next_slot'");
        CHECK(q1(s, "SELECT count(*) FROM images") == next);
        CHECK(q1(s, "SELECT count(*) FROM images WHERE slot >= "
                    "(SELECT value FROM meta WHERE key = 'next_slot')") == 0);
        CHECK(q1(s, "SELECT count(*) FROM images i WHERE nfiles != (SELECT count(*) FROM "
                    "files f WHERE f.image_id = i.id AND f.state = 0)") == 0);
        CHECK(q1(s, "SELECT count(*) FROM (SELECT hash FROM images GROUP BY hash HAVING count(*) > 1)") == 0);
        size_t rows;
        const uint16_t *E = ordo_store_embeddings(s, &rows, &err);
        CHECK(E && (int64_t)rows >= next);
        sqlite3_prepare_v2(db, "SELECT slot, hash FROM images", -1, &st, NULL);
        int wrong = 0;
        while (E && sqlite3_step(st) == SQLITE_ROW) {
            int64_t slot = sqlite3_column_int64(st, 0);
            int content;
            memcpy(&content, sqlite3_column_blob(st, 1), sizeof content);
            float logits[ORDO_STORE_LOGITS], embed[ORDO_STORE_EMBED], back[8];
            fake(content, logits, embed);
            ordo_f16_to_f32(E + slot * ORDO_STORE_EMBED, back, 8);
            for (int j = 0; j < 8; j++)
                wrong += fabsf(back[j] - embed[j]) > 2e-3f;
        }
        sqlite3_finalize(st);
        CHECK_MSG(wrong == 0, "%d embedding values differ from what was committed", wrong);
        bad = test_failed_now;
        ordo_store_close(s);
    }
    rm_rf(tmpdir);
}

int main(void)
{
    RUN(t_f16);
    RUN(t_summarize);
    RUN(t_find_init);
    RUN(t_write_read);
    RUN(t_copy_image);
    RUN(t_widths);
    RUN(t_label_rule);
    RUN(t_kill);
    return test_summary();
}
