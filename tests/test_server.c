/* test_server.c - the labeling server's C-level checks, and the fixture the
 * HTTP and browser tests use.
 *
 *   test_server                       runs the tests below
 *   test_server --make-project DIR N  creates an ordo project in DIR with N
 *                                     synthetic photos (DIR/photos/imgNNNN.jpg) in
 *                                     6 look-alike groups, stored with made-up
 *                                     logits and embeddings (no network needed)
 *   test_server --add-images DIR N    adds N more such photos to that project
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <jpeglib.h>
#include <math.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "server/server.h"
#include "store/store.h"
#include "test.h"

/* ---- the fixture -------------------------------------------------------- */

static uint64_t rng_state = 0x1234567;
static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double nrand(void)
{
    double u = urand() + 1e-12, v = urand();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static int write_jpeg(const char *path, int w, int h, int group, int i)
{
    static const unsigned char col[6][3] = {{200, 40, 40}, {40, 160, 60}, {40, 60, 200},
                                            {220, 200, 40}, {160, 60, 200}, {40, 200, 200}};
    unsigned char *rgb = malloc((size_t)w * h * 3);
    if (!rgb) return -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = rgb + ((size_t)y * w + x) * 3;
            int stripe = ((x + i * 7) / (8 + group * 3) + y / 16) & 1;
            for (int c = 0; c < 3; c++) p[c] = (unsigned char)(stripe ? col[group][c] : col[group][c] / 3 + i % 50);
        }
    FILE *f = fopen(path, "wb");
    if (!f) { free(rgb); return -1; }
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 85, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = rgb + (size_t)c.next_scanline * w * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(rgb);
    return 0;
}

/* add: images go into an existing project (numbered after its images). */
static int make_project(const char *dir, int n, int add)
{
    ordo_err err = {{0}};
    char photos[4096], path[4200];
    mkdir(dir, 0755);
    snprintf(photos, sizeof photos, "%s/photos", dir);
    mkdir(photos, 0755);
    if (!add && ordo_store_init(dir, "lite0", &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
    ordo_store *s = ordo_store_open(dir, ORDO_STORE_FAST, &err);
    if (!s) { fprintf(stderr, "%s\n", err.msg); return 1; }
    int first = 0;
    if (add) {
        ordo_store_status stt;
        if (ordo_store_get_status(s, &stt, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
        first = (int)stt.images;
    }
    int64_t scan = ordo_store_scan_begin(s, photos, "lite0", &err);
    if (scan < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
    static float center[6][ORDO_STORE_EMBED];
    for (int g = 0; g < 6; g++)
        for (int d = 0; d < ORDO_STORE_EMBED; d++) center[g][d] = (float)(nrand() * 1.0);
    float *logits = malloc(ORDO_STORE_LOGITS * sizeof *logits);
    float *embed = malloc(ORDO_STORE_EMBED * sizeof *embed);
    if (ordo_store_begin(s, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
    /* tennis ball, soccer ball, basketball, golf ball, racket, ski */
    static const int cls[6] = {852, 805, 430, 574, 752, 795};
    for (int i = first; i < first + n; i++) {
        int g = i % 6;
        snprintf(path, sizeof path, "%s/img%04d.jpg", photos, i);
        if (write_jpeg(path, 320 + (i % 3) * 40, 240, g, i) < 0) return 1;
        char *real = realpath(path, NULL);
        FILE *f = fopen(real, "rb");
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        unsigned char *buf = malloc((size_t)len);
        if (fread(buf, 1, (size_t)len, f) != (size_t)len) return 1;
        fclose(f);
        XXH128_canonical_t h;
        XXH128_canonicalFromHash(&h, XXH3_128bits(buf, (size_t)len));
        free(buf);
        for (int k = 0; k < ORDO_STORE_LOGITS; k++) logits[k] = (float)(nrand() * 0.5);
        logits[cls[g]] += 3.0f + (float)(urand() * 4);
        logits[(cls[g] + 1 + i % 7) % 1000] += 2.5f;
        for (int d = 0; d < ORDO_STORE_EMBED; d++)
            embed[d] = center[g][d] + (float)(nrand() * 0.3);
        ordo_store_image_in in = {0};
        in.path = real;
        in.size = len;
        in.mtime_ns = 1;
        memcpy(in.hash, h.digest, 16);
        in.width = 320 + (i % 3) * 40;
        in.height = 240;
        in.format = "jpeg";
        in.logits = logits;
        in.embed = embed;
        in.sports = (float)urand();
        in.scan_id = scan;
        if (ordo_store_put_image(s, &in, NULL, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
        free(real);
    }
    if (ordo_store_commit(s, &err) < 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
    ordo_store_scan_counts cnt = {n, n, 0, 0};
    ordo_store_scan_end(s, scan, &cnt, &err);
    ordo_store_close(s);
    free(logits);
    free(embed);
    return 0;
}

/* ---- tests -------------------------------------------------------------- */

static char tmpdir[256];

static void insert_label(ordo_store *s, int64_t img, const char *label, const char *who)
{
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO labels(image_id,label,annotator,source,created)"
                           " VALUES(?,?,?,'ui',0)", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, img);
    sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, who, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_finalize(st);
}

static void t_users(void)
{
    ordo_err err = {{0}};
    ordo_store *s = ordo_store_open(tmpdir, ORDO_STORE_FAST, &err);
    CHECK_MSG(s, "%s", err.msg);
    if (!s) return;
    char tok[ORDO_SRV_TOKEN_LEN + 1], tok2[ORDO_SRV_TOKEN_LEN + 1];
    CHECK(ordo_srv_user_add(s, "alice", 0, tok, sizeof tok, &err) == 0);
    CHECK(strlen(tok) == ORDO_SRV_TOKEN_LEN);
    CHECK(ordo_srv_user_add(s, "alice", 0, tok2, sizeof tok2, &err) < 0);   /* exists */
    CHECK(strstr(err.msg, "exists") != NULL);
    CHECK(ordo_srv_user_add(s, "bad name", 0, tok2, sizeof tok2, &err) < 0);
    CHECK(ordo_srv_user_add(s, "<x>", 0, tok2, sizeof tok2, &err) < 0);
    CHECK(ordo_srv_user_add(s, "alice", 1, tok2, sizeof tok2, &err) == 0);  /* reset */
    CHECK(strcmp(tok, tok2) != 0);
    /* only the hash is stored */
    sqlite3_stmt *st;
    sqlite3_prepare_v2(ordo_store_db(s), "SELECT COUNT(*) FROM srv_annotators WHERE"
                       " instr(CAST(token_sha256 AS TEXT), ?) > 0", -1, &st, NULL);
    sqlite3_bind_text(st, 1, tok2, -1, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0);
    sqlite3_finalize(st);
    ordo_store_close(s);
}

static void t_kappa(void)
{
    ordo_err err = {{0}};
    ordo_store *s = ordo_store_open(tmpdir, ORDO_STORE_FAST, &err);
    if (!s) { CHECK_MSG(0, "%s", err.msg); return; }
    CHECK(ordo_store_begin(s, &err) == 0);
    /* 10 images answered by a and b: 4 x (x,x), 4 x (y,y), 1 (x,y), 1 (y,x).
     * p_o = 0.8, p_e = 0.5*0.5 + 0.5*0.5 = 0.5, kappa = 0.6 (Cohen 1960). */
    const char *A[10] = {"x", "x", "x", "x", "y", "y", "y", "y", "x", "y"};
    const char *B[10] = {"x", "x", "x", "x", "y", "y", "y", "y", "y", "x"};
    for (int i = 0; i < 10; i++) {
        insert_label(s, i + 1, A[i], "a");
        insert_label(s, i + 1, B[i], "b");
    }
    insert_label(s, 11, "x", "a");        /* single answers do not count */
    insert_label(s, 12, "x", "a");
    insert_label(s, 12, "skip", "b");     /* skips do not count */
    CHECK(ordo_store_commit(s, &err) == 0);
    double k;
    int64_t pairs;
    ordo_srv_kappa *per;
    size_t n;
    CHECK(ordo_srv_agreement(s, &k, &pairs, &per, &n, &err) == 0);
    CHECK_MSG(pairs == 10, "pairs %lld", (long long)pairs);
    CHECK_MSG(fabs(k - 0.6) < 1e-9, "kappa %f", k);
    CHECK(n == 2);
    for (size_t i = 0; i < n; i++)   /* two categories: one-vs-rest equals overall */
        CHECK_MSG(fabs(per[i].kappa - 0.6) < 1e-9, "%s %f", per[i].label, per[i].kappa);
    free(per);
    ordo_store_close(s);
}

/* A minimal HTTP exchange with an in-process server. */
static int http(int port, const char *req, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { close(fd); return -1; }
    if (write(fd, req, strlen(req)) < 0) { close(fd); return -1; }
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(fd, out + n, cap - 1 - n)) > 0) n += (size_t)k;
    out[n] = 0;
    close(fd);
    return (int)n;
}

static void t_serve(void)
{
    ordo_err err = {{0}};
    ordo_srv_opts o = {0};
    o.project = tmpdir;
    o.double_share = 0;
    o.store_flags = ORDO_STORE_FAST;
    ordo_srv *srv = ordo_srv_start(&o, &err);
    CHECK_MSG(srv, "%s", err.msg);
    if (!srv) return;
    CHECK(!ordo_srv_requires_token(srv));
    int port = ordo_srv_port(srv);
    CHECK(port > 0);
    static char buf[1 << 20];
    char req[512];
    snprintf(req, sizeof req, "GET / HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", port);
    CHECK(http(port, req, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "200 OK") && strstr(buf, "<!doctype html>"));
    CHECK(strstr(buf, "Content-Security-Policy"));
    snprintf(req, sizeof req, "GET /api/next?n=3 HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", port);
    http(port, req, buf, sizeof buf);
    CHECK_MSG(strstr(buf, "\"items\":[{\"id\":"), "%.300s", buf);
    /* a foreign Host (DNS rebinding) is refused in loopback mode */
    snprintf(req, sizeof req, "GET /api/next HTTP/1.0\r\nHost: evil.example:%d\r\n\r\n", port);
    http(port, req, buf, sizeof buf);
    CHECK_MSG(strstr(buf, " 421 "), "%.200s", buf);
    /* POST without the CSRF header */
    snprintf(req, sizeof req, "POST /api/label HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\n\r\nid=1&label=xyz", port);
    http(port, req, buf, sizeof buf);
    CHECK_MSG(strstr(buf, " 403 "), "%.200s", buf);
    /* a thumbnail is a JPEG and lands in the cache */
    snprintf(req, sizeof req, "GET /api/thumb/3 HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", port);
    int n = http(port, req, buf, sizeof buf);
    char *body = strstr(buf, "\r\n\r\n");
    CHECK(n > 0 && body && (unsigned char)body[4] == 0xFF && (unsigned char)body[5] == 0xD8);
    char cached[512];
    snprintf(cached, sizeof cached, "%s/.ordo/cache/256/3.jpg", tmpdir);
    CHECK(access(cached, R_OK) == 0);
    ordo_srv_stop(srv);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--make-project")) return make_project(argv[2], atoi(argv[3]), 0);
    if (argc == 4 && !strcmp(argv[1], "--add-images")) return make_project(argv[2], atoi(argv[3]), 1);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ordo-test-server-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    if (make_project(tmpdir, 24, 0) != 0) {
        printf("fixture failed\n");
        return 1;
    }
    RUN(t_users);
    RUN(t_kappa);
    RUN(t_serve);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("could not remove %s\n", tmpdir);
    return test_summary();
}
