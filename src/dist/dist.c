/* dist.c - sharded scans and the merge of shard stores (see dist.h).
 *
 * The merge writes the project only through the store: its transactions,
 * its file API (ordo_store_put_image / put_failed keep images.nfiles right)
 * and ordo_store_copy_image for new contents, which copies the shard's image
 * row and f16 matrix rows as they are (ordo_store_put_image would recompute
 * the scores from f16-rounded logits, while the shard holds the exact ones
 * the network produced). The slot protocol and the scan lock are the
 * store's. */
#include "dist/dist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/clock.h"
#include "base/db.h"
#include "store/store.h"

#define MERGE_GROUP 4096   /* shard file rows per project transaction */

/* ---- shards ---------------------------------------------------------------- */

int ordo_dist_parse_shard(const char *s, int *index, int *count, ordo_err *err)
{
    char *end;
    errno = 0;
    long i = strtol(s, &end, 10);
    if (errno || end == s || *end != '/')
        return ordo_err_set(err, "shard '%s': expected I/N, e.g. 0/4", s);
    const char *q = end + 1;
    long n = strtol(q, &end, 10);
    if (errno || end == q || *end)
        return ordo_err_set(err, "shard '%s': expected I/N, e.g. 0/4", s);
    if (n < 1 || n > ORDO_DIST_MAX_SHARDS)
        return ordo_err_set(err, "shard '%s': N must be 1..%d", s, ORDO_DIST_MAX_SHARDS);
    if (i < 0 || i >= n)
        return ordo_err_set(err, "shard '%s': I must be 0..N-1", s);
    *index = (int)i;
    *count = (int)n;
    return 0;
}

int ordo_dist_shard_of(const char *path, int count)
{
    if (count <= 1)
        return 0;
    return (int)(XXH3_64bits(path, strlen(path)) % (uint64_t)count);
}

int ordo_dist_walk_cmp(const void *a, size_t na, const void *b, size_t nb)
{
    const unsigned char *x = a, *y = b;
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) {
            /* '/' ends a component: it sorts before any byte of a longer name. */
            int cx = x[i] == '/' ? -1 : x[i], cy = y[i] == '/' ? -1 : y[i];
            return cx < cy ? -1 : 1;
        }
    return na < nb ? -1 : na > nb;
}

static int walk_collate(void *ctx, int na, const void *a, int nb, const void *b)
{
    (void)ctx;
    return ordo_dist_walk_cmp(a, (size_t)na, b, (size_t)nb);
}

void ordo_dist_part(size_t n, int P, int r, size_t align, size_t *lo, size_t *hi)
{
    if (align < 1)
        align = 1;
    if (P < 1)
        P = 1;
    size_t blocks = (n + align - 1) / align;
    size_t b0 = blocks * (size_t)r / (size_t)P, b1 = blocks * (size_t)(r + 1) / (size_t)P;
    *lo = b0 * align < n ? b0 * align : n;
    *hi = b1 * align < n ? b1 * align : n;
}

int ordo_dist_shard_dir(const char *project, int index, int count, char *out, size_t cap,
                        ordo_err *err)
{
    int n = snprintf(out, cap, "%s/%s/shards/%d-of-%d", project, ORDO_STORE_DIRNAME, index,
                     count);
    if (n < 0 || (size_t)n >= cap)
        return ordo_err_set(err, "project path too long: %s", project);
    return 0;
}

static int mkdir_one(const char *p, ordo_err *err)
{
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        return ordo_err_set(err, "%s: %s", p, strerror(errno));
    return 0;
}

static int is_store(const char *dir)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s/ordo.db", dir, ORDO_STORE_DIRNAME);
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int ordo_dist_shard_prepare(const char *project, int index, int count, const char *model,
                            char *out, size_t cap, char *model_out, ordo_err *err)
{
    ordo_store *ps = ordo_store_open(project, 0, err);
    if (!ps)
        return -1;
    char cur[ORDO_STORE_MODEL_MAX];
    int rc = ordo_store_model(ps, cur, sizeof cur, err);
    const char *want = model ? model : cur[0] ? cur : ORDO_STORE_DEFAULT_MODEL;
    if (!rc)
        rc = ordo_store_set_model(ps, want, err);
    if (!rc)
        snprintf(model_out, ORDO_STORE_MODEL_MAX, "%s", want);
    ordo_store_close(ps);
    if (rc)
        return -1;
    char p[4200];
    snprintf(p, sizeof p, "%s/%s/shards", project, ORDO_STORE_DIRNAME);
    if (mkdir_one(p, err) || ordo_dist_shard_dir(project, index, count, out, cap, err) ||
        mkdir_one(out, err))
        return -1;
    if (!is_store(out) && ordo_store_init(out, model_out, err))
        return ordo_err_wrap(err, "creating shard store %s", out);
    /* An existing shard store with another model is refused by the scan. */
    return 0;
}

int ordo_dist_filter_init(ordo_dist_filter *f, const char *project, int index, int count,
                          ordo_err *err)
{
    memset(f, 0, sizeof *f);
    f->index = index;
    f->count = count;
    int n = snprintf(f->skip, sizeof f->skip, "%s/%s/", project, ORDO_STORE_DIRNAME);
    if (n < 0 || (size_t)n >= sizeof f->skip)
        return ordo_err_set(err, "project path too long: %s", project);
    f->skip_len = (size_t)n;
    return 0;
}

int ordo_dist_keep(const char *path, void *filter)
{
    const ordo_dist_filter *f = filter;
    if (!strncmp(path, f->skip, f->skip_len))
        return 0;
    return ordo_dist_shard_of(path, f->count) == f->index;
}

int ordo_dist_shard_complete(const char *shard_dir, ordo_err *err)
{
    ordo_store *s = ordo_store_open(shard_dir, 0, err);
    if (!s)
        return -1;
    sqlite3 *db = ordo_store_db(s);
    int rc = ordo_store_begin(s, err);
    if (!rc &&
        (ordo_db_exec(db, "CREATE TABLE IF NOT EXISTS dist_shard(key TEXT PRIMARY KEY, value)",
                  err) ||
         ordo_db_exec(db, "INSERT OR REPLACE INTO dist_shard VALUES('complete_scan', "
                      "(SELECT max(id) FROM scans))",
                  err)))
        rc = -1;
    if (!rc)
        rc = ordo_store_commit(s, err);
    else
        ordo_store_rollback(s);
    ordo_store_close(s);
    return rc;
}

/* ---- listing shard stores ---------------------------------------------------- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int ordo_dist_shard_counts(const char *project, int *counts, int cap, ordo_err *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s/shards", project, ORDO_STORE_DIRNAME);
    DIR *d = opendir(p);
    if (!d) {
        if (errno == ENOENT)
            return 0;
        return ordo_err_set(err, "%s: %s", p, strerror(errno));
    }
    int n = 0, have[64], nh = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int i, c, used = 0;
        if (sscanf(e->d_name, "%d-of-%d%n", &i, &c, &used) != 2 || e->d_name[used] ||
            c < 1 || c > ORDO_DIST_MAX_SHARDS || i < 0 || i >= c)
            continue;
        int seen = 0;
        for (int k = 0; k < nh; k++)
            seen |= have[k] == c;
        if (!seen && nh < 64)
            have[nh++] = c;
    }
    closedir(d);
    qsort(have, (size_t)nh, sizeof *have, cmp_int);
    for (int k = 0; k < nh; k++) {
        if (n < cap)
            counts[n] = have[k];
        n++;
    }
    return n < cap ? n : cap;
}

/* ---- merge ------------------------------------------------------------------ */

typedef struct msrc {
    int index;
    char dir[4200];
    ordo_store *st;
    sqlite3 *db;
    sqlite3_stmt *cur;       /* its file rows in walk order */
    int lockfd;
    int64_t last_scan;
    int valid;               /* cur is on a row */
} msrc;

typedef struct merger {
    ordo_store *ps;
    sqlite3 *db;
    int64_t scan_id;
    sqlite3_stmt *get_file, *miss1, *miss2;
    ordo_dist_merge_stats *st;
    int64_t failed_written;
    char *pathbuf;
    size_t pathcap;
} merger;

static int open_src(msrc *s, ordo_err *err)
{
    char busy[4300];
    snprintf(busy, sizeof busy, "shard %s is being scanned right now; merge when it is done",
             s->dir);
    if ((s->lockfd = ordo_store_lock(s->dir, busy, err)) < 0)
        return -1;
    if (!(s->st = ordo_store_open(s->dir, ORDO_STORE_RDONLY, err)))
        return -1;
    s->db = ordo_store_db(s->st);
    if (sqlite3_create_collation(s->db, "ordo_walk", SQLITE_UTF8, NULL, walk_collate) !=
        SQLITE_OK)
        return ordo_db_err(s->db, "collation", err);
    /* One read transaction: a consistent snapshot for the whole merge. */
    if (ordo_db_exec(s->db, "BEGIN", err) ||
        ordo_db_i64(s->db, "SELECT coalesce(max(id), 0) FROM scans", &s->last_scan, err))
        return -1;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT path, size, mtime_ns, hash, state, error_kind, error, "
                           "image_id FROM files ORDER BY CAST(path AS TEXT) COLLATE ordo_walk",
                           -1, &s->cur, NULL) != SQLITE_OK)
        return ordo_db_err(s->db, "shard files", err);
    return 0;
}

static void close_src(msrc *s)
{
    sqlite3_finalize(s->cur);
    if (s->db)
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    ordo_store_close(s->st);
    ordo_store_unlock(s->lockfd);
}

static int step_src(msrc *s, ordo_err *err)
{
    int rc = sqlite3_step(s->cur);
    if (rc == SQLITE_ROW) {
        s->valid = 1;
        return 0;
    }
    s->valid = 0;
    return rc == SQLITE_DONE ? 0 : ordo_db_err(s->db, "reading shard files", err);
}

static int blob_eq(const void *a, int na, const void *b, int nb)
{
    return na == nb && (na == 0 || !memcmp(a, b, (size_t)na));
}

static int text_eq(const unsigned char *a, const unsigned char *b)
{
    return !strcmp(a ? (const char *)a : "", b ? (const char *)b : "");
}

/* Applies the current row of s to the project. */
static int merge_row(merger *m, msrc *s, ordo_err *err)
{
    sqlite3_stmt *c = s->cur;
    int plen = sqlite3_column_bytes(c, 0);
    const void *pb = sqlite3_column_blob(c, 0);
    if ((size_t)plen + 1 > m->pathcap) {
        size_t nc = (size_t)plen + 256;
        char *np = realloc(m->pathbuf, nc);
        if (!np)
            return ordo_err_set(err, "out of memory");
        m->pathbuf = np;
        m->pathcap = nc;
    }
    if (plen)
        memcpy(m->pathbuf, pb, (size_t)plen);
    m->pathbuf[plen] = 0;
    if (memchr(m->pathbuf, 0, (size_t)plen))
        return ordo_err_set(err, "shard %s: a path holds a NUL byte", s->dir);
    const char *path = m->pathbuf;
    int64_t size = sqlite3_column_int64(c, 1), mtime = sqlite3_column_int64(c, 2);
    int hlen = sqlite3_column_bytes(c, 3);
    const void *hash = sqlite3_column_blob(c, 3);
    int state = sqlite3_column_int(c, 4);
    const unsigned char *kind = sqlite3_column_text(c, 5), *msg = sqlite3_column_text(c, 6);
    int64_t image = sqlite3_column_type(c, 7) == SQLITE_NULL ? 0 : sqlite3_column_int64(c, 7);
    if (hash && hlen != 16)
        return ordo_err_set(err, "shard %s: bad hash for a file", s->dir);
    /* A missing file keeps what it was: ok (it has an image) or failed. */
    int base = state == ORDO_STORE_MISSING ? (image ? ORDO_STORE_OK : ORDO_STORE_FAILED) : state;
    if (base == ORDO_STORE_OK && (!image || !hash))
        return ordo_err_set(err, "shard %s: ok file without image", s->dir);
    m->st->files++;

    sqlite3_stmt *g = m->get_file;
    sqlite3_bind_blob(g, 1, path, plen, SQLITE_STATIC);
    int rc = sqlite3_step(g);
    int known = rc == SQLITE_ROW, same = 0, mstate = -1;
    if (known) {
        mstate = sqlite3_column_int(g, 3);
        int mbase = mstate == ORDO_STORE_MISSING
                        ? (sqlite3_column_type(g, 6) != SQLITE_NULL ? ORDO_STORE_OK
                                                                     : ORDO_STORE_FAILED)
                        : mstate;
        same = sqlite3_column_int64(g, 0) == size && sqlite3_column_int64(g, 1) == mtime &&
               blob_eq(sqlite3_column_blob(g, 2), sqlite3_column_bytes(g, 2), hash,
                       hash ? hlen : 0) &&
               mbase == base && text_eq(sqlite3_column_text(g, 4), kind) &&
               text_eq(sqlite3_column_text(g, 5), msg);
    }
    sqlite3_reset(g);
    sqlite3_clear_bindings(g);
    if (!known && rc != SQLITE_DONE)
        return ordo_db_err(m->db, "file lookup", err);
    if (same && mstate == state)
        return 0;   /* already merged */
    if (!same || mstate == ORDO_STORE_MISSING) {
        /* (Re)write the row as the shard last saw the file; a missing file
         * below is written first as what it was, then marked missing, as a
         * single-process scan would have left it. */
        if (base == ORDO_STORE_OK) {
            int have = ordo_store_has_hash(m->ps, hash, err);
            if (have < 0 || (!have && ordo_store_copy_image(m->ps, s->st, image, m->scan_id, err)))
                return -1;
            m->st->new_images += !have;
            ordo_store_image_in in = {.path = path, .size = size, .mtime_ns = mtime,
                                      .sports = NAN, .scan_id = m->scan_id};
            memcpy(in.hash, hash, 16);
            if (ordo_store_put_image(m->ps, &in, NULL, err))
                return -1;
        } else {
            if (ordo_store_put_failed(m->ps, path, size, mtime, hash,
                                      kind ? (const char *)kind : "unknown",
                                      msg ? (const char *)msg : "", m->scan_id, err))
                return -1;
            m->failed_written++;
        }
        m->st->written++;
    }
    if (state == ORDO_STORE_MISSING) {
        for (int q = 0; q < 2; q++) {
            sqlite3_stmt *u = q ? m->miss2 : m->miss1;
            sqlite3_bind_blob(u, 1, path, plen, SQLITE_STATIC);
            int r = sqlite3_step(u);
            sqlite3_reset(u);
            sqlite3_clear_bindings(u);
            if (r != SQLITE_DONE)
                return ordo_db_err(m->db, "mark missing", err);
        }
        m->st->missing++;
    }
    return 0;
}

/* The shard's newest roots (for the merge's scan record). */
static void shard_roots(msrc *s, char *out, size_t cap)
{
    sqlite3_stmt *st;
    out[0] = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT roots FROM scans ORDER BY id DESC LIMIT 1", -1, &st,
                           NULL) != SQLITE_OK)
        return;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* The shard scan id recorded by the last merge of `key` (-1: none). */
static int merged_scan(sqlite3 *db, const char *key, int64_t *scan, ordo_err *err)
{
    sqlite3_stmt *q;
    *scan = -1;
    if (sqlite3_prepare_v2(db, "SELECT scan_id FROM dist_merged WHERE shard = ?1", -1, &q,
                           NULL) != SQLITE_OK)
        return ordo_db_err(db, "dist_merged", err);
    sqlite3_bind_text(q, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *scan = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ordo_db_err(db, "dist_merged", err);
}

/* Heap order: the current rows' walk order, then the shard index. */
static int src_before(const msrc *a, const msrc *b)
{
    int c = ordo_dist_walk_cmp(sqlite3_column_blob(a->cur, 0),
                               (size_t)sqlite3_column_bytes(a->cur, 0),
                               sqlite3_column_blob(b->cur, 0),
                               (size_t)sqlite3_column_bytes(b->cur, 0));
    return c < 0 || (c == 0 && a->index < b->index);
}

static void heap_up(msrc **h, int i)
{
    while (i > 0 && src_before(h[i], h[(i - 1) / 2])) {
        msrc *t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static void heap_down(msrc **h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, b = i;
        if (l < n && src_before(h[l], h[b])) b = l;
        if (r < n && src_before(h[r], h[b])) b = r;
        if (b == i)
            return;
        msrc *t = h[i];
        h[i] = h[b];
        h[b] = t;
        i = b;
    }
}

static void note_incomplete(ordo_dist_merge_stats *st, int i)
{
    size_t len = strlen(st->incomplete_list);
    if (len + 16 < sizeof st->incomplete_list)
        snprintf(st->incomplete_list + len, sizeof st->incomplete_list - len, "%s%d",
                 len ? "," : "", i);
    else if (!strstr(st->incomplete_list, "..."))
        snprintf(st->incomplete_list + len, sizeof st->incomplete_list - len, ",...");
    st->incomplete++;
}

int ordo_dist_merge(const char *project, int count, int durable, ordo_dist_merge_stats *st,
                    ordo_err *err)
{
    ordo_dist_merge_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    st->count = count;
    if (count < 1 || count > ORDO_DIST_MAX_SHARDS)
        return ordo_err_set(err, "shard count %d out of range", count);
    double t0 = ordo_clock_mono();
    merger m = {.st = st};
    msrc *src = calloc((size_t)count, sizeof *src);
    int nsrc = 0, lockfd = -1, rc = -1, in_txn = 0, nheap = 0;
    msrc **heap = NULL;
    char *roots = NULL;
    if (!src)
        return ordo_err_set(err, "out of memory");
    for (int i = 0; i < count; i++)
        src[i].lockfd = -1;
    if ((lockfd = ordo_store_lock(project,
                                  "an `ordo scan` or `ordo merge` is running on this project",
                                  err)) < 0)
        goto out;
    if (!(m.ps = ordo_store_open(project, durable ? 0 : ORDO_STORE_FAST, err)))
        goto out;
    m.db = ordo_store_db(m.ps);
    if (ordo_db_exec(m.db, "CREATE TABLE IF NOT EXISTS dist_merged(shard TEXT PRIMARY KEY,"
                       " scan_id INTEGER NOT NULL, merged REAL NOT NULL)", err))
        goto out;
    char pmodel[ORDO_STORE_MODEL_MAX];
    if (ordo_store_model(m.ps, pmodel, sizeof pmodel, err))
        goto out;

    /* Which shards changed since their last merge. */
    size_t rootcap = 4096, rootlen = 0;
    if (!(roots = malloc(rootcap))) {
        ordo_err_set(err, "out of memory");
        goto out;
    }
    roots[0] = 0;
    for (int i = 0; i < count; i++) {
        msrc *s = &src[nsrc];
        s->index = i;
        if (ordo_dist_shard_dir(project, i, count, s->dir, sizeof s->dir, err))
            goto out;
        if (!is_store(s->dir)) {
            note_incomplete(st, i);
            continue;
        }
        nsrc++;
        if (open_src(s, err))
            goto out;
        char smodel[ORDO_STORE_MODEL_MAX];
        if (ordo_store_model(s->st, smodel, sizeof smodel, err))
            goto out;
        if (smodel[0] && pmodel[0] && strcmp(smodel, pmodel)) {
            ordo_err_set(err, "shard %d-of-%d was scanned with %s, the project with %s", i,
                         count, smodel, pmodel);
            goto out;
        }
        /* Nor precisions: the shard's (recorded by its scan) must be the
         * project's (recorded before any shard scan, by cli_scan_dist). */
        char sprec[8], pprec[8];
        if (ordo_store_precision(s->st, sprec, err) || ordo_store_precision(m.ps, pprec, err))
            goto out;
        if (sprec[0] && pprec[0] && strcmp(sprec, pprec)) {
            ordo_err_set(err, "shard %d-of-%d was computed in %s, the project in %s", i, count,
                         sprec, pprec);
            goto out;
        }
        /* Nor test-time augmentations (the same rule) */
        char stta[8], ptta[8];
        if (ordo_store_tta(s->st, stta, err) || ordo_store_tta(m.ps, ptta, err))
            goto out;
        if (strcmp(stta, ptta)) {
            ordo_err_set(err, "shard %d-of-%d was scanned with test-time augmentation %s, the "
                              "project with %s", i, count, stta, ptta);
            goto out;
        }
        if (smodel[0] && !pmodel[0]) {
            if (ordo_store_set_model(m.ps, smodel, err))
                goto out;
            snprintf(pmodel, sizeof pmodel, "%s", smodel);
        }
        int64_t done = -1, merged = -1;
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(s->db, "SELECT value FROM dist_shard WHERE key='complete_scan'",
                               -1, &q, NULL) == SQLITE_OK) {
            if (sqlite3_step(q) == SQLITE_ROW)
                done = sqlite3_column_int64(q, 0);
            sqlite3_finalize(q);
        }
        if (done != s->last_scan || s->last_scan == 0)
            note_incomplete(st, i);
        char key[64];
        snprintf(key, sizeof key, "%d-of-%d", i, count);
        if (s->last_scan == 0)
            merged = 0;   /* never scanned: nothing to merge */
        else if (merged_scan(m.db, key, &merged, err))
            goto out;
        if (merged == s->last_scan) {
            st->up_to_date += s->last_scan > 0;
            close_src(s);
            memset(s, 0, sizeof *s);
            s->lockfd = -1;
            nsrc--;
            continue;
        }
        char r[4096];
        shard_roots(s, r, sizeof r);
        if (r[0] && !strstr(roots, r)) {
            size_t rl = strlen(r);
            if (rootlen + rl + 2 > rootcap) {
                char *nr = realloc(roots, rootcap = 2 * (rootcap + rl));
                if (!nr) {
                    ordo_err_set(err, "out of memory");
                    goto out;
                }
                roots = nr;
            }
            rootlen += (size_t)sprintf(roots + rootlen, "%s%s", rootlen ? "\n" : "", r);
        }
    }
    st->merged = nsrc;
    if (nsrc == 0) {
        rc = 0;
        goto out;
    }

    if (sqlite3_prepare_v2(m.db,
                           "SELECT size, mtime_ns, hash, state, error_kind, error, image_id "
                           "FROM files WHERE path = ?1",
                           -1, &m.get_file, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(m.db,
                           "UPDATE images SET nfiles = nfiles - 1 WHERE id = "
                           "(SELECT image_id FROM files WHERE path = ?1 AND state = 0)",
                           -1, &m.miss1, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(m.db, "UPDATE files SET state = 2 WHERE path = ?1 AND state != 2",
                           -1, &m.miss2, NULL) != SQLITE_OK) {
        ordo_db_err(m.db, "prepare", err);
        goto out;
    }
    if ((m.scan_id = ordo_store_scan_begin(m.ps, roots, pmodel, err)) < 0)
        goto out;

    /* k-way merge of the shards' rows in walk order: a binary heap of the
     * shards by their current row (O(log N) per row for many shards). */
    if (!(heap = malloc((size_t)nsrc * sizeof *heap))) {
        ordo_err_set(err, "out of memory");
        goto out;
    }
    for (int i = 0; i < nsrc; i++) {
        if (step_src(&src[i], err))
            goto out;
        if (src[i].valid) {
            heap[nheap] = &src[i];
            heap_up(heap, nheap++);
        }
    }
    int64_t group = 0;
    while (nheap > 0) {
        msrc *best = heap[0];
        if (!in_txn) {
            if (ordo_store_begin(m.ps, err))
                goto out;
            in_txn = 1;
        }
        if (merge_row(&m, best, err) || step_src(best, err))
            goto out;
        if (!best->valid)
            heap[0] = heap[--nheap];
        heap_down(heap, nheap, 0);
        if (++group >= MERGE_GROUP) {
            in_txn = 0;
            group = 0;
            if (ordo_store_commit(m.ps, err))
                goto out;
        }
    }
    /* Last group + the record of what was merged, in one transaction. */
    if (!in_txn) {
        if (ordo_store_begin(m.ps, err))
            goto out;
        in_txn = 1;
    }
    for (int i = 0; i < nsrc; i++) {
        sqlite3_stmt *q;
        char key[64];
        snprintf(key, sizeof key, "%d-of-%d", src[i].index, count);
        if (sqlite3_prepare_v2(m.db, "INSERT OR REPLACE INTO dist_merged VALUES(?1, ?2, "
                                     "strftime('%s','now'))",
                               -1, &q, NULL) != SQLITE_OK) {
            ordo_db_err(m.db, "dist_merged", err);
            goto out;
        }
        sqlite3_bind_text(q, 1, key, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 2, src[i].last_scan);
        int r = sqlite3_step(q);
        sqlite3_finalize(q);
        if (r != SQLITE_DONE) {
            ordo_db_err(m.db, "dist_merged", err);
            goto out;
        }
    }
    in_txn = 0;
    if (ordo_store_commit(m.ps, err))
        goto out;
    ordo_store_scan_counts sc = {st->files, st->new_images, m.failed_written, st->missing};
    if (ordo_store_scan_end(m.ps, m.scan_id, &sc, err))
        goto out;
    rc = 0;
out:
    if (in_txn)
        ordo_store_rollback(m.ps);
    for (int i = 0; i < count; i++)
        if (src[i].st || src[i].lockfd >= 0)
            close_src(&src[i]);
    free(heap);
    free(src);
    free(roots);
    sqlite3_finalize(m.get_file);
    sqlite3_finalize(m.miss1);
    sqlite3_finalize(m.miss2);
    free(m.pathbuf);
    ordo_store_close(m.ps);
    ordo_store_unlock(lockfd);
    st->seconds = ordo_clock_mono() - t0;
    return rc;
}
