/* test_scan.c - the scan pipeline through its library API: a file deleted
 * between the walk and its read, an interrupted scan that resumes to the same
 * rows, tiny batches with many non-image files (ring and buffer recycling),
 * and the model lock. Needs the lite0 weights and $ORDO_DATA. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/weights.h"
#include "scan/scan.h"
#include "store/store.h"
#include "test.h"

static char tmpdir[256];
static char imgs[8][1400];
static int nimgs;

static int setup(void)
{
    char w[4096];
    ordo_err err;
    if (ordo_weights_path(NULL, "lite0", w, sizeof w, &err) != 0 || access(w, R_OK) != 0)
        return -1;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/datasets/imagenet-sample", test_data_dir());
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    nimgs = 0;
    /* readdir order is arbitrary: take the 8 smallest names. */
    char names[512][256];
    int n = 0;
    while ((e = readdir(d)) && n < 512)
        if (strstr(e->d_name, ".JPEG"))
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < n && nimgs < 8; i++) {
        int len = snprintf(imgs[nimgs], sizeof imgs[0], "%s/%s", dir, names[i]);
        if (len > 0 && (size_t)len < sizeof imgs[0])
            nimgs++;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ordo_test_scan_XXXXXX");
    return nimgs == 8 && mkdtemp(tmpdir) ? 0 : -1;
}

static void sh(const char *fmt, const char *a, const char *b)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd, fmt, a, b);
    if (n < 0 || (size_t)n >= sizeof cmd)
        printf("    command too long\n");
    else if (system(cmd) != 0)
        printf("    command failed: %s\n", cmd);
}

static int64_t q1(const char *proj, const char *sql)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/.ordo/ordo.db", proj);
    sqlite3 *db;
    int64_t v = -999;
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return v;
}

typedef struct hook {
    const char *victim;
    int found, stop_after;
    volatile sig_atomic_t stop;
    int failed_calls;
} hook;

static void on_found(const char *path, void *ctx)
{
    hook *h = ctx;
    h->found++;
    if (h->victim && strstr(path, h->victim))
        unlink(path);   /* listed by the walk, gone before a decoder reads it */
    if (h->stop_after && h->found >= h->stop_after)
        h->stop = 1;
}

static void on_failed(const char *path, const char *kind, const char *msg, void *ctx)
{
    (void)path;
    (void)kind;
    (void)msg;
    ((hook *)ctx)->failed_calls++;
}

static void t_vanished(void)
{
    char dir[512], proj[512];
    snprintf(dir, sizeof dir, "%s/v", tmpdir);
    snprintf(proj, sizeof proj, "%s/vp", tmpdir);
    sh("mkdir -p '%s' '%s'", dir, proj);
    for (int i = 0; i < 3; i++)
        sh("cp '%s' '%s'", imgs[i], dir);
    sh("cp '%s' '%s/victim.jpg'", imgs[3], dir);
    ordo_err err = {{0}};
    CHECK(ordo_store_init(proj, NULL, &err) == 0);
    hook h = {.victim = "victim.jpg"};
    ordo_scan_opts o = {.threads = 2, .batch = 2, .on_found = on_found, .on_failed = on_failed,
                        .ctx = &h};
    ordo_scan_progress p;
    char *paths[] = {dir};
    CHECK_MSG(ordo_scan_run(proj, paths, 1, &o, &p, &err) == 0, "%s", err.msg);
    CHECK(p.classified == 3 && p.failed == 1 && h.failed_calls == 1 && h.found == 4);
    CHECK(q1(proj, "SELECT count(*) FROM files WHERE state = 1 AND error_kind = 'vanished' "
                   "AND CAST(path AS TEXT) LIKE '%victim.jpg'") == 1);
    CHECK(q1(proj, "SELECT count(*) FROM images WHERE sports IS NULL") == 3);   /* no prior given */
    /* The next scan finds it gone for good: a failed row that no longer
     * exists is marked missing like any other. */
    h.victim = NULL;
    CHECK(ordo_scan_run(proj, paths, 1, &o, &p, &err) == 0);
    CHECK(p.unchanged == 3 && p.missing == 1);
    /* A different model is refused before anything is read. */
    o.model = "lite1";
    CHECK(ordo_scan_run(proj, paths, 1, &o, &p, &err) == -1);
    CHECK_MSG(strstr(err.msg, "lite0") && strstr(err.msg, "lite1"), "%s", err.msg);
    /* A path that does not exist stops the scan with its name. */
    o.model = NULL;
    char *nope[] = {"/nonexistent/ordo/path"};
    CHECK(ordo_scan_run(proj, nope, 1, &o, &p, &err) == -1 && strstr(err.msg, "/nonexistent"));
}

/* Many non-images between few images, batch 1 and 3, one decoder: the ring
 * and the buffer pool are recycled many times; a stop part-way and a rerun
 * give the rows of a single run. */
static void t_stop_resume(void)
{
    char dir[512], a[512], b[512];
    snprintf(dir, sizeof dir, "%s/s", tmpdir);
    snprintf(a, sizeof a, "%s/sa", tmpdir);
    snprintf(b, sizeof b, "%s/sb", tmpdir);
    sh("mkdir -p '%s' '%s'", dir, a);
    sh("mkdir -p '%s'", b, "");
    for (int i = 0; i < 8; i++) {
        char name[600];
        snprintf(name, sizeof name, "%s/img%d.jpg", dir, i);
        sh("cp '%s' '%s'", imgs[i], name);
    }
    sh("cp '%s' '%s/img_dup.jpg'", imgs[2], dir);
    /* 6,000 non-images, and 4,500 copies of a 1x1 GIF: more unchanged files
     * than the work ring holds (4,096) on the rescan below. */
    static const unsigned char gif[] = {
        'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0xff, 0xff, 0xff, 0, 0, 0,
        '!', 0xf9, 4, 1, 0, 0, 0, 0, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 'D', 1, 0, ';'};
    for (int i = 0; i < 10500; i++) {
        char name[700];
        snprintf(name, sizeof name, i < 6000 ? "%s/note%d.txt" : "%s/pix%d.gif", dir, i);
        FILE *f = fopen(name, "wb");
        if (!f)
            continue;
        if (i < 6000)
            fprintf(f, "%d\n", i);
        else
            fwrite(gif, 1, sizeof gif, f);
        fclose(f);
    }
    ordo_err err = {{0}};
    CHECK(ordo_store_init(a, "lite0", &err) == 0 && ordo_store_init(b, "lite0", &err) == 0);
    char *paths[] = {dir};
    ordo_scan_progress p;
    hook ha = {0};
    ordo_scan_opts o = {.threads = 1, .decode_threads = 1, .batch = 3, .ctx = &ha};
    CHECK_MSG(ordo_scan_run(a, paths, 1, &o, &p, &err) == 0, "%s", err.msg);
    CHECK_MSG(p.classified == 9 && p.duplicates == 4500 && p.skipped == 6000 && p.done == 10509,
              "classified %lld dup %lld skipped %lld done %lld", (long long)p.classified,
              (long long)p.duplicates, (long long)p.skipped, (long long)p.done);
    hook hb = {.stop_after = 3000};
    o.on_found = on_found;
    o.ctx = &hb;
    o.stop = &hb.stop;
    o.batch = 1;
    CHECK(ordo_scan_run(b, paths, 1, &o, &p, &err) == -1);
    CHECK_MSG(strstr(err.msg, "interrupted") != NULL, "%s", err.msg);
    CHECK(p.done < 10509);
    hb.stop_after = 0;
    hb.stop = 0;
    CHECK(ordo_scan_run(b, paths, 1, &o, &p, &err) == 0);
    const char *sql[] = {
        "SELECT count(*) FROM files",
        "SELECT count(*) FROM images",
        "SELECT sum(nfiles) FROM images",
        "SELECT sum(top_class0 * 7 + slot * 13 + width + height) FROM images",
        "SELECT CAST(sum(max_prob + margin + entropy) * 1000 AS INTEGER) FROM images",
        "SELECT value FROM meta WHERE key = 'next_slot'"};
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        int64_t va = q1(a, sql[i]), vb = q1(b, sql[i]);
        CHECK_MSG(va == vb, "%s: %lld vs %lld", sql[i], (long long)va, (long long)vb);
    }
    CHECK(q1(b, "SELECT count(*) FROM files") == 4509);
    /* Two new files among 4,509 unchanged ones and 6,000 non-images, with a
     * batch larger than the new work: the partial batch must be flushed
     * when the buffers or the ring run out, not wait forever. */
    char name[600];
    snprintf(name, sizeof name, "%s/note3000b.jpg", dir);
    sh("cp '%s' '%s'", imgs[7], name);   /* same content as img7: linked, not inferred */
    snprintf(name, sizeof name, "%s/note3000c.jpg", dir);
    sh("cp '%s' '%s'", imgs[6], name);
    sh("printf x >> '%s'%s", name, "");   /* trailing byte: new content, same picture */
    o.batch = 16;
    o.on_found = NULL;
    o.stop = NULL;
    CHECK_MSG(ordo_scan_run(a, paths, 1, &o, &p, &err) == 0, "%s", err.msg);
    CHECK_MSG(p.unchanged == 4509 && p.skipped == 6000 && p.duplicates == 1 && p.done == 10511,
              "unchanged %lld skipped %lld dup %lld done %lld", (long long)p.unchanged,
              (long long)p.skipped, (long long)p.duplicates, (long long)p.done);
    CHECK(p.classified == 1 && q1(a, "SELECT count(*) FROM images") == 10);
}

int main(void)
{
    if (setup() != 0) {
        printf("skip: needs lite0 weights and %s/datasets/imagenet-sample\n", test_data_dir());
        printf("0 passed, 0 failed, 1 skipped\n");
        return 0;
    }
    RUN(t_vanished);
    RUN(t_stop_resume);
    sh("rm -rf '%s'", tmpdir, "");
    return test_summary();
}
