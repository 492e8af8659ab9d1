/* store.c - the project store: SQLite + memory-mapped f16 matrices.
 * See store.h for the layout and the crash-safety argument. */
#include "store/store.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/db.h"
#include "base/f16.h"
#include "base/text.h"

#define SCHEMA_VERSION 1

enum {
    ST_FILE_GET, ST_FILE_GET_FULL, ST_IMG_BY_HASH, ST_IMG_INS, ST_FILE_INS,
    ST_FILE_UPD, ST_NFILES, ST_TOUCH, ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_FILE_GET] = "SELECT id, size, mtime_ns, state, coalesce(error_kind,'') "
                    "FROM files WHERE path = ?1",
    [ST_FILE_GET_FULL] = "SELECT id, image_id, state FROM files WHERE path = ?1",
    [ST_IMG_BY_HASH] = "SELECT id FROM images WHERE hash = ?1",
    [ST_IMG_INS] = "INSERT INTO images(hash, slot, width, height, format, "
                   "top_class0, top_class1, top_class2, top_class3, top_class4, "
                   "top_prob0, top_prob1, top_prob2, top_prob3, top_prob4, "
                   "max_prob, margin, entropy, sports, nfiles, scan_id) VALUES "
                   "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,1,?20)",
    [ST_FILE_INS] = "INSERT INTO files(path, size, mtime_ns, hash, image_id, state, "
                    "error_kind, error, seen_scan, scan_id) "
                    "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?9)",
    [ST_FILE_UPD] = "UPDATE files SET size=?2, mtime_ns=?3, hash=?4, image_id=?5, "
                    "state=?6, error_kind=?7, error=?8, seen_scan=?9, scan_id=?9 "
                    "WHERE id=?1",
    [ST_NFILES] = "UPDATE images SET nfiles = nfiles + ?2 WHERE id = ?1",
    [ST_TOUCH] = "UPDATE files SET seen_scan = ?2 WHERE id = ?1",
};

typedef struct store_map {
    void *addr;
    size_t len;
} store_map;

struct ordo_store {
    char *dir;
    sqlite3 *db;
    int flags;
    sqlite3_stmt *st[ST_COUNT];
    int in_txn;
    int64_t next_slot, committed_slot;   /* next_slot moves inside a txn */
    int dirty_rows;                       /* rows written since begin */
    int fd_embed, fd_logits;              /* -1 until the first write */
    int embed_dim, logits_dim;            /* the matrices' widths (meta) */
    uint16_t *scratch;                    /* one f16 row (max of both) */
    float *scratch_row;                   /* an embedding + a logit row (f32) */
    store_map map_embed, map_logits;
    /* ordo_store_copy_image: as the destination, the images columns it
     * copies and its insert; as the source, its select (built from the
     * destination's columns) and maps of its own, so a caller's map from
     * ordo_store_embeddings stays valid */
    char *copy_cols;
    int copy_ncols;
    sqlite3_stmt *copy_ins, *copy_sel;
    char *copy_sel_cols;
    store_map copy_embed, copy_logits;
    size_t copy_embed_rows, copy_logits_rows;
    uint16_t empty;                       /* what an empty map points to */
};

/* ---- scores ----------------------------------------------------------- */

void ordo_store_summarize(const float *logits, int n, ordo_store_scores *out, float *probs)
{
    /* Independent lanes for the max and the sums: a single accumulator makes
     * every step wait for the previous one (this runs once per image). */
    enum { L = 8 };
    float m[L];
    for (int j = 0; j < L; j++)
        m[j] = logits[0];
    int i = 0;
    for (; i + L <= n; i += L)
        for (int j = 0; j < L; j++)
            m[j] = logits[i + j] > m[j] ? logits[i + j] : m[j];
    for (; i < n; i++)
        m[0] = logits[i] > m[0] ? logits[i] : m[0];
    float mx = m[0];
    for (int j = 1; j < L; j++)
        mx = m[j] > mx ? m[j] : mx;
    /* Softmax with the max subtracted; entropy from the same sums:
     * H = ln Z - sum e_i (l_i - mx) / Z, with e_i = exp(l_i - mx). */
    float zs[L] = {0}, es[L] = {0};
    for (i = 0; i + L <= n; i += L)
        for (int j = 0; j < L; j++) {
            float d = logits[i + j] - mx, e = expf(d);
            zs[j] += e;
            es[j] += e * d;
        }
    for (; i < n; i++) {
        float d = logits[i] - mx, e = expf(d);
        zs[0] += e;
        es[0] += e * d;
    }
    double z = 0, ez = 0;
    for (int j = 0; j < L; j++) {
        z += zs[j];
        ez += es[j];
    }
    out->entropy = (float)(log(z) - ez / z);
    if (probs)
        for (i = 0; i < n; i++)
            probs[i] = (float)(expf(logits[i] - mx) / z);
    /* Top-K by insertion (K = 5): ties keep the lower class index first. */
    int k = n < ORDO_STORE_TOPK ? n : ORDO_STORE_TOPK;
    int idx[ORDO_STORE_TOPK];
    int have = 0;
    for (int i = 0; i < n; i++) {
        if (have == k && logits[i] <= logits[idx[k - 1]])
            continue;
        int j = have < k ? have++ : k - 1;
        while (j > 0 && logits[idx[j - 1]] < logits[i]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    for (int j = 0; j < ORDO_STORE_TOPK; j++) {
        out->top_class[j] = j < k ? idx[j] : -1;
        out->top_prob[j] = j < k ? (float)(expf(logits[idx[j]] - mx) / z) : 0.0f;
    }
    out->max_prob = out->top_prob[0];
    out->margin = out->top_prob[0] - out->top_prob[1];
}

/* ---- helpers -------------------------------------------------------------- */

static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

static int is_project(const char *dir)
{
    char *p = path_join(dir, ORDO_STORE_DIRNAME "/ordo.db");
    if (!p) return 0;
    struct stat st;
    int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return ok;
}

static int copy_out(char *out, size_t cap, const char *s, ordo_err *err)
{
    size_t n = strlen(s);
    if (n + 1 > cap)
        return ordo_err_set(err, "path too long: %s", s);
    memcpy(out, s, n + 1);
    return 0;
}

static int checked_project(const char *dir, const char *from, char *out, size_t cap,
                           ordo_err *err)
{
    char *abs = realpath(dir, NULL);
    if (!abs)
        return ordo_err_set(err, "%s (%s): %s", dir, from, strerror(errno));
    if (!is_project(abs)) {
        ordo_err_set(err, "%s (%s) is not an ordo project; create one with `ordo init %s`",
                     dir, from, dir);
        free(abs);
        return -1;
    }
    int rc = copy_out(out, cap, abs, err);
    free(abs);
    return rc;
}

int ordo_store_find(const char *flag, char *out, size_t cap, ordo_err *err)
{
    if (flag && *flag)
        return checked_project(flag, "--project", out, cap, err);
    const char *env = getenv("ORDO_PROJECT");
    if (env && *env)
        return checked_project(env, "$ORDO_PROJECT", out, cap, err);
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        return ordo_err_set(err, "current directory: %s", strerror(errno));
    /* Walk up like git: the nearest ancestor holding .ordo/ordo.db. */
    for (;;) {
        if (is_project(cwd)) {
            int rc = copy_out(out, cap, cwd, err);
            free(cwd);
            return rc;
        }
        char *slash = strrchr(cwd, '/');
        if (!slash || !strcmp(cwd, "/"))
            break;
        if (slash == cwd)
            cwd[1] = 0;   /* the parent is the root directory */
        else
            *slash = 0;
    }
    free(cwd);
    return ordo_err_set(err, "no ordo project here or in any parent directory; create one "
                             "with `ordo init [DIR]`, or name it with --project DIR or "
                             "$ORDO_PROJECT");
}

/* ---- schema ---------------------------------------------------------------- */

static const char schema_sql[] =
    "PRAGMA journal_mode=WAL;"
    "BEGIN;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE scans(id INTEGER PRIMARY KEY, started REAL NOT NULL, finished REAL,"
    " roots TEXT, model TEXT, seen INTEGER, processed INTEGER, failed INTEGER,"
    " missing INTEGER);"
    "CREATE TABLE images(id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,"
    " slot INTEGER NOT NULL UNIQUE, width INTEGER, height INTEGER, format TEXT,"
    " top_class0 INTEGER, top_class1 INTEGER, top_class2 INTEGER, top_class3 INTEGER,"
    " top_class4 INTEGER, top_prob0 REAL, top_prob1 REAL, top_prob2 REAL, top_prob3 REAL,"
    " top_prob4 REAL, max_prob REAL, margin REAL, entropy REAL, sports REAL,"
    " nfiles INTEGER NOT NULL DEFAULT 0, scan_id INTEGER);"
    "CREATE TABLE files(id INTEGER PRIMARY KEY, path BLOB NOT NULL UNIQUE,"
    " size INTEGER, mtime_ns INTEGER, hash BLOB, image_id INTEGER REFERENCES images(id),"
    " state INTEGER NOT NULL, error_kind TEXT, error TEXT, seen_scan INTEGER,"
    " scan_id INTEGER);"
    "CREATE INDEX files_image ON files(image_id);"
    "CREATE TABLE labels(id INTEGER PRIMARY KEY,"
    " image_id INTEGER NOT NULL REFERENCES images(id), label TEXT NOT NULL,"
    " annotator TEXT, source TEXT, reason TEXT, created REAL NOT NULL);"
    "CREATE INDEX labels_image ON labels(image_id, id);"
    "INSERT INTO meta VALUES('schema', 1), ('next_slot', 0), ('embed_dim', 1280),"
    " ('logits_dim', 1000), ('matrix_dtype', 'f16le');"
    "COMMIT;";

static int meta_set_text(ordo_store *s, const char *key, const char *val, ordo_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta VALUES(?1, ?2)", -1, &st,
                           NULL) != SQLITE_OK)
        return ordo_db_err(s->db, "meta", err);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ordo_db_err(s->db, "meta", err);
    sqlite3_finalize(st);
    return rc;
}

static int meta_set_int(ordo_store *s, const char *key, int64_t v, ordo_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta VALUES(?1, ?2)", -1, &st,
                           NULL) != SQLITE_OK)
        return ordo_db_err(s->db, "meta", err);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ordo_db_err(s->db, "meta", err);
    sqlite3_finalize(st);
    return rc;
}

/* Reads meta[key] as text into out ("" if absent). */
static int meta_get_text(ordo_store *s, const char *key, char *out, size_t cap, ordo_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return ordo_db_err(s->db, "meta", err);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    out[0] = 0;
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", v ? v : "");
    } else if (rc != SQLITE_DONE) {
        sqlite3_finalize(st);
        return ordo_db_err(s->db, "meta", err);
    }
    sqlite3_finalize(st);
    return 0;
}

static int meta_get_int(ordo_store *s, const char *key, int64_t *v, ordo_err *err)
{
    char buf[32];
    if (meta_get_text(s, key, buf, sizeof buf, err))
        return -1;
    char *end;
    errno = 0;
    long long x = strtoll(buf, &end, 10);
    if (!buf[0] || *end || errno)
        return ordo_err_set(err, "database: meta %s is missing or not a number", key);
    *v = x;
    return 0;
}

/* ordo's own networks, whose vectors `ordo scan` computes: one of lite0/1/2,
 * or several distinct ones joined by '+' (nn/netlist.h runs them). Returns
 * how many networks (each gives ORDO_STORE_EMBED embedding columns), 0 for
 * any other name. nn owns the networks; the store only needs the name's
 * rule to tell a scan's vectors from an import's and to size the rows. */
static int scan_model(const char *m)
{
    static const char *const nets[] = {"lite0", "lite1", "lite2"};
    if (!m)
        return 0;
    int n = 0, seen[3] = {0};
    for (const char *p = m;; n++) {
        size_t len = strcspn(p, "+");
        int hit = -1;
        for (int i = 0; i < 3; i++)
            if (len == strlen(nets[i]) && !strncmp(p, nets[i], len))
                hit = i;
        if (hit < 0 || seen[hit]++)
            return 0;
        if (!p[len])
            return n + 1;
        p += len + 1;
    }
}
#define SCAN_MODEL_RULE "lite0, lite1 or lite2, or several of them joined by '+'"

/* A scan model's embedding width: ORDO_STORE_EMBED per network. Written
 * into meta (embed_dim, and vector_dim for export) only when it is not the
 * schema's 1280, so a one-network project's database stays as it was. */
static int scan_width_set(ordo_store *s, const char *model, ordo_err *err)
{
    int w = scan_model(model) * ORDO_STORE_EMBED;
    if (w == ORDO_STORE_EMBED)
        return 0;
    return meta_set_int(s, "embed_dim", w, err) || meta_set_int(s, "vector_dim", w, err) ? -1 : 0;
}

/* Any model name: ordo's own ("lite0+lite1+lite2" too), or one whose vectors
 * were imported ("clip-vit-b32"): 1 to 63 bytes of letters, digits and
 * ._:-+ so it prints safely everywhere. */
static int valid_model(const char *m)
{
    size_t n = m ? strlen(m) : 0;
    if (n == 0 || n >= ORDO_STORE_MODEL_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)m[i]) && !strchr("._:-+", m[i])) return 0;
    return 1;
}

int ordo_store_init(const char *dir, const char *model, ordo_err *err)
{
    if (model && !scan_model(model))
        return ordo_err_set(err, "unknown model '%s' (" SCAN_MODEL_RULE ")", model);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return ordo_err_set(err, "%s: not a directory", dir);
    if (is_project(dir))
        return ordo_err_set(err, "%s is already an ordo project", dir);
    char *od = path_join(dir, ORDO_STORE_DIRNAME);
    if (!od)
        return ordo_err_set(err, "out of memory");
    if (mkdir(od, 0755) != 0 && errno != EEXIST) {
        ordo_err_set(err, "%s: %s", od, strerror(errno));
        free(od);
        return -1;
    }
    /* The database is created under a temporary name and renamed last, so a
     * crash during init never leaves a half-made project behind. */
    char *tmp = path_join(od, "ordo.db.init"), *final = path_join(od, "ordo.db");
    char *emb = path_join(od, "embed.f16"), *lg = path_join(od, "logits.f16");
    int rc = -1;
    ordo_store s = {.fd_embed = -1, .fd_logits = -1};
    if (!tmp || !final || !emb || !lg) {
        ordo_err_set(err, "out of memory");
        goto out;
    }
    unlink(tmp);
    for (int i = 0; i < 2; i++) {
        int fd = open(i ? lg : emb, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            ordo_err_set(err, "%s: %s", i ? lg : emb, strerror(errno));
            goto out;
        }
        close(fd);
    }
    if (sqlite3_open_v2(tmp, &s.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        ordo_err_set(err, "%s: %s", tmp, s.db ? sqlite3_errmsg(s.db) : "cannot open");
        goto out;
    }
    /* Initial schema in rollback-journal mode, then WAL after the rename;
     * WAL's -wal/-shm files are named after the database. */
    if (ordo_db_exec(s.db, schema_sql + strlen("PRAGMA journal_mode=WAL;"), err))
        goto out;
    if (meta_set_int(&s, "created", (int64_t)ordo_clock_unix(), err))
        goto out;
    if (model && (meta_set_text(&s, "model", model, err) || scan_width_set(&s, model, err)))
        goto out;
    sqlite3_close(s.db);
    s.db = NULL;
    if (rename(tmp, final) != 0) {
        ordo_err_set(err, "%s: %s", final, strerror(errno));
        goto out;
    }
    if (sqlite3_open_v2(final, &s.db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        ordo_db_exec(s.db, "PRAGMA journal_mode=WAL", err))
        goto out;
    rc = 0;
out:
    if (s.db)
        sqlite3_close(s.db);
    if (rc && tmp)
        unlink(tmp);
    free(od);
    free(tmp);
    free(final);
    free(emb);
    free(lg);
    return rc;
}

/* ---- open / close -------------------------------------------------------- */

static void unmap(store_map *m)
{
    if (m->addr)
        munmap(m->addr, m->len);
    m->addr = NULL;
    m->len = 0;
}

void ordo_store_close(ordo_store *s)
{
    if (!s)
        return;
    if (s->in_txn)
        ordo_store_rollback(s);
    /* every statement before the connection: sqlite3_close refuses (and
     * the connection leaks) while one is still prepared */
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_finalize(s->copy_ins);
    sqlite3_finalize(s->copy_sel);
    if (s->db)
        sqlite3_close(s->db);
    if (s->fd_embed >= 0) close(s->fd_embed);
    if (s->fd_logits >= 0) close(s->fd_logits);
    unmap(&s->map_embed);
    unmap(&s->map_logits);
    unmap(&s->copy_embed);
    unmap(&s->copy_logits);
    free(s->copy_cols);
    free(s->copy_sel_cols);
    free(s->scratch);
    free(s->scratch_row);
    free(s->dir);
    free(s);
}

/* Reads the matrices' widths from meta (a project made before they could
 * differ has 1280 and 1000) and sizes the row buffers for them. Called on
 * open, at every write transaction and every map, so a handle opened
 * before an import gave an empty project its width sees the new one. */
static int load_dims(ordo_store *s, ordo_err *err)
{
    char buf[32];
    int d[2];
    static const char *const key[2] = {"embed_dim", "logits_dim"};
    static const int dflt[2] = {ORDO_STORE_EMBED, ORDO_STORE_LOGITS};
    for (int i = 0; i < 2; i++) {
        if (meta_get_text(s, key[i], buf, sizeof buf, err))
            return -1;
        char *end;
        long v = buf[0] ? strtol(buf, &end, 10) : dflt[i];
        if (buf[0] && (*end || v < 1 || v > ORDO_STORE_DIM_MAX))
            return ordo_err_set(err, "database: meta %s '%s' is not a width of 1 to %d", key[i],
                                buf, ORDO_STORE_DIM_MAX);
        d[i] = (int)v;
    }
    if (s->scratch && d[0] == s->embed_dim && d[1] == s->logits_dim)
        return 0;
    int w = d[0] > d[1] ? d[0] : d[1];
    uint16_t *a = realloc(s->scratch, (size_t)w * sizeof *a);
    if (a) s->scratch = a;
    float *b = a ? realloc(s->scratch_row, (size_t)(d[0] + d[1]) * sizeof *b) : NULL;
    if (!b)
        return ordo_err_set(err, "out of memory");
    s->scratch_row = b;
    s->embed_dim = d[0];
    s->logits_dim = d[1];
    return 0;
}

/* The label views (store.h): the newest event per image, and per (image,
 * annotator) among the events a filter keeps. TEMP: they live in this
 * connection only, so read-only handles can create them and the database
 * file stays as it was. */
static int create_label_views(sqlite3 *db, ordo_err *err)
{
    static const char newest[] =
        "CREATE TEMP VIEW %s AS SELECT l.id, l.image_id, l.label, l.annotator, l.source,"
        " l.reason, l.created, t.n AS %s FROM labels l JOIN (SELECT MAX(id) AS m, %s AS n"
        " FROM labels %s GROUP BY %s) t ON l.id = t.m";
    static const char *const v[][5] = {
        {"current_labels", "events", "COUNT(*)", "", "image_id"},
        {"current_answers", "first", "MIN(id)", "WHERE source <> 'review'", "image_id, annotator"},
        {"current_ui_answers", "first", "MIN(id)", "WHERE source = 'ui'", "image_id, annotator"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char sql[512];
        snprintf(sql, sizeof sql, newest, v[i][0], v[i][1], v[i][2], v[i][3], v[i][4]);
        if (ordo_db_exec(db, sql, err))
            return -1;
    }
    return 0;
}

ordo_store *ordo_store_open(const char *dir, int flags, ordo_err *err)
{
    ordo_store *s = calloc(1, sizeof *s);
    if (!s) {
        ordo_err_set(err, "out of memory");
        return NULL;
    }
    s->fd_embed = s->fd_logits = -1;
    s->flags = flags;
    char *dbp = NULL;
    if (!(s->dir = realpath(dir, NULL))) {
        ordo_err_set(err, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    if (!is_project(s->dir)) {
        ordo_err_set(err, "%s is not an ordo project (run `ordo init %s`)", dir, dir);
        goto fail;
    }
    dbp = path_join(s->dir, ORDO_STORE_DIRNAME "/ordo.db");
    if (!dbp) {
        ordo_err_set(err, "out of memory");
        goto fail;
    }
    int oflags = (flags & ORDO_STORE_RDONLY) ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (sqlite3_open_v2(dbp, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        ordo_err_set(err, "%s: %s", dbp, s->db ? sqlite3_errmsg(s->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 60000);
    /* FULL makes each commit durable on power loss; NORMAL (FAST) is still
     * atomic and survives SIGKILL, which is what tests and benches need. */
    if (ordo_db_exec(s->db, (flags & ORDO_STORE_FAST) ? "PRAGMA synchronous=NORMAL"
                                          : "PRAGMA synchronous=FULL", err))
        goto fail;
    /* 64 MB of page cache (default 2 MB) keeps the hash and path indexes of
     * a million images in memory (random hash inserts otherwise go to the
     * OS for pages); bounded, so RSS stays flat. */
    if (ordo_db_exec(s->db, "PRAGMA cache_size=-65536", err))
        goto fail;
    /* TEMP: lives in this connection only, so read-only handles can create
     * it and the database file stays as it was. */
    if (create_label_views(s->db, err))
        goto fail;
    int64_t ver;
    if (meta_get_int(s, "schema", &ver, err))
        goto fail;
    if (ver != SCHEMA_VERSION) {
        ordo_err_set(err, "%s: database schema %lld, this ordo reads %d", dbp,
                     (long long)ver, SCHEMA_VERSION);
        goto fail;
    }
    if (load_dims(s, err))
        goto fail;
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            ordo_db_err(s->db, "prepare", err);
            goto fail;
        }
    free(dbp);
    return s;
fail:
    free(dbp);
    ordo_store_close(s);
    return NULL;
}

const char *ordo_store_dir(const ordo_store *s) { return s->dir; }
int ordo_store_embed_dim(const ordo_store *s) { return s->embed_dim; }
int ordo_store_logits_dim(const ordo_store *s) { return s->logits_dim; }
void *ordo_store_db(ordo_store *s) { return s->db; }

/* ---- model ------------------------------------------------------------------ */

int ordo_store_model(ordo_store *s, char *out, size_t cap, ordo_err *err)
{
    return meta_get_text(s, "model", out, cap, err);
}

int ordo_store_set_model(ordo_store *s, const char *model, ordo_err *err)
{
    if (!scan_model(model))
        return ordo_err_set(err, "unknown model '%s' (" SCAN_MODEL_RULE ")", model);
    if (ordo_db_exec(s->db, "BEGIN IMMEDIATE", err))
        return -1;
    char cur[ORDO_STORE_MODEL_MAX];
    if (meta_get_text(s, "model", cur, sizeof cur, err))
        goto fail;
    if (cur[0] && !scan_model(cur)) {
        ordo_err_set(err, "this project's vectors were imported from %s; `ordo scan` would mix "
                          "in %s vectors (import the new photos' %s vectors with `ordo import "
                          "embeddings`, or make a new project with `ordo init`)",
                     cur, model, cur);
        goto fail;
    }
    if (cur[0] && strcmp(cur, model)) {
        ordo_err_set(err, "this project was scanned with %s; refusing to mix in %s results "
                          "(scan with --model %s, or make a new project with `ordo init`)",
                     cur, model, cur);
        goto fail;
    }
    /* The first model fixes the rows' width (no image can be stored
     * without a model, so there is none yet). */
    if (!cur[0] && (meta_set_text(s, "model", model, err) || scan_width_set(s, model, err)))
        goto fail;
    if (ordo_db_exec(s->db, "COMMIT", err))
        return -1;
    return load_dims(s, err);
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int ordo_store_get_source(ordo_store *s, ordo_store_source *src, ordo_err *err)
{
    char buf[32];
    memset(src, 0, sizeof *src);
    if (meta_get_text(s, "model", src->model, sizeof src->model, err) ||
        meta_get_text(s, "vector_dim", buf, sizeof buf, err))
        return -1;
    /* Projects made before imports existed hold scans only. */
    src->dim = buf[0] ? atoi(buf) : ORDO_STORE_EMBED;
    if (meta_get_text(s, "vector_probs", buf, sizeof buf, err))
        return -1;
    src->probs = buf[0] ? atoi(buf) : 1;
    if (meta_get_text(s, "vector_classes", buf, sizeof buf, err))
        return -1;
    src->nclasses = buf[0] ? atoi(buf) : 0;
    return 0;
}

/* 1 when the project's table `classes` holds exactly these names in this
 * order. */
static int same_classes(ordo_store *s, const char *const *classes, int n, ordo_err *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, "SELECT name FROM classes ORDER BY idx", -1, &q, NULL) !=
        SQLITE_OK)
        return ordo_db_err(s->db, "classes", err);
    int i = 0, same = 1, rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(q, 0);
        if (i >= n || !v || strcmp(v, classes[i])) same = 0;
        i++;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return ordo_db_err(s->db, "classes", err);
    return same && i == n;
}

static int put_classes(ordo_store *s, const char *const *classes, int n, ordo_err *err)
{
    if (ordo_db_exec(s->db, "CREATE TABLE classes(idx INTEGER PRIMARY KEY,"
                            " name TEXT NOT NULL UNIQUE)", err))
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO classes VALUES(?1, ?2)", -1, &st, NULL) !=
        SQLITE_OK)
        return ordo_db_err(s->db, "classes", err);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        sqlite3_bind_int(st, 1, i);
        sqlite3_bind_text(st, 2, classes[i], -1, SQLITE_STATIC);
        rc = ordo_db_step_done(s->db, st, "class insert", err);
    }
    sqlite3_finalize(st);
    return rc;
}

int ordo_store_set_source(ordo_store *s, const char *model, int dim, int probs,
                          const char *const *classes, int nclasses, ordo_err *err)
{
    if (!s->in_txn)
        return ordo_err_set(err, "store: set_source outside a transaction");
    if (!valid_model(model))
        return ordo_err_set(err, "model name '%s': use 1 to %d letters, digits and ._:-+", model,
                            ORDO_STORE_MODEL_MAX - 1);
    if (dim < 1 || dim > ORDO_STORE_DIM_MAX)
        return ordo_err_set(err, "embeddings of %d values: ordo stores 1 to %d", dim,
                            ORDO_STORE_DIM_MAX);
    if (scan_model(model) && dim != scan_model(model) * ORDO_STORE_EMBED)
        return ordo_err_set(err, "%s embeddings have %d values, not %d", model,
                            scan_model(model) * ORDO_STORE_EMBED, dim);
    if (!classes) nclasses = 0;
    if (classes) {
        if (!probs)
            return ordo_err_set(err, "store: class names without probabilities");
        if (scan_model(model))
            return ordo_err_set(err, "%s's probabilities are over the 1000 ImageNet classes, "
                                     "not a class list of its own", model);
        if (nclasses < 2 || nclasses > ORDO_STORE_DIM_MAX)
            return ordo_err_set(err, "%d classes: a class list has 2 to %d names", nclasses,
                                ORDO_STORE_DIM_MAX);
        for (int i = 0; i < nclasses; i++)
            if (!ordo_store_label_ok(classes[i]))
                return ordo_err_set(err, "class %d: a class name is %s", i + 1,
                                    ORDO_STORE_LABEL_RULE);
    }
    ordo_store_source cur;
    int64_t images;
    if (ordo_store_get_source(s, &cur, err) ||
        ordo_db_i64(s->db, "SELECT count(*) FROM images", &images, err))
        return -1;
    if (!cur.model[0] && images == 0) {
        /* The first vectors fix the project's matrices: rows as wide as
         * the model's embeddings, logits over its classes (or ImageNet's). */
        if (meta_set_text(s, "model", model, err) || meta_set_int(s, "vector_dim", dim, err) ||
            meta_set_int(s, "vector_probs", probs ? 1 : 0, err) ||
            meta_set_int(s, "embed_dim", dim, err) ||
            meta_set_int(s, "logits_dim", classes ? nclasses : ORDO_STORE_LOGITS, err) ||
            (classes && (meta_set_int(s, "vector_classes", nclasses, err) ||
                         put_classes(s, classes, nclasses, err))))
            return -1;
        return load_dims(s, err);
    }
    if (strcmp(cur.model, model))
        return ordo_err_set(err, "this project's vectors come from %s; refusing to mix in %s "
                                 "vectors (a project holds one model's vectors: import into a "
                                 "new project made with `ordo init`)",
                            cur.model[0] ? cur.model : "(unknown)", model);
    if (cur.dim != dim)
        return ordo_err_set(err, "this project's %s embeddings have %d values, these have %d",
                            model, cur.dim, dim);
    if (cur.probs != (probs ? 1 : 0))
        return ordo_err_set(err, "this project's %s vectors %s probabilities; these %s",
                            model, cur.probs ? "have" : "have no", probs ? "do" : "do not");
    if (probs && (cur.nclasses > 0) != (classes != NULL))
        return ordo_err_set(err, "this project's %s probabilities are over %s; these are over "
                                 "%s (one project never mixes two class sets)",
                            model, cur.nclasses ? "the model's own classes" : "ImageNet's classes",
                            classes ? "a class list of their own" : "ImageNet's classes");
    if (classes) {
        int same = same_classes(s, classes, nclasses, err);
        if (same < 0)
            return -1;
        if (!same)
            return ordo_err_set(err, "this project's %s probabilities are over %d classes of "
                                     "its own; these name %d classes that differ in names or "
                                     "order (one project never mixes two class sets: see "
                                     "`ordo export --embeddings` for its class list)",
                                model, cur.nclasses, nclasses);
    }
    return 0;
}

int ordo_store_class_names(ordo_store *s, char ***names, int *n, ordo_err *err)
{
    *names = NULL;
    *n = 0;
    int64_t have;
    if (ordo_db_i64(s->db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
                           "name='classes'", &have, err))
        return -1;
    if (!have)
        return 0;
    int64_t k;
    if (ordo_db_i64(s->db, "SELECT count(*) FROM classes", &k, err))
        return -1;
    if (k == 0)
        return 0;
    char **v = calloc((size_t)k, sizeof *v);
    if (!v)
        return ordo_err_set(err, "out of memory");
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, "SELECT idx, name FROM classes ORDER BY idx", -1, &q, NULL) !=
        SQLITE_OK) {
        free(v);
        return ordo_db_err(s->db, "classes", err);
    }
    int i = 0, rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW && i < k) {
        const char *t = (const char *)sqlite3_column_text(q, 1);
        if (sqlite3_column_int64(q, 0) != i || !t || !(v[i] = strdup(t))) {
            rc = SQLITE_CORRUPT;
            break;
        }
        i++;
    }
    sqlite3_finalize(q);
    if ((rc != SQLITE_DONE && rc != SQLITE_ROW) || i != k) {
        ordo_store_class_names_free(v, (int)k);
        return ordo_err_set(err, "database: table classes is not 0..%lld in order",
                            (long long)k - 1);
    }
    *names = v;
    *n = (int)k;
    return 0;
}

void ordo_store_class_names_free(char **names, int n)
{
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
}

/* ---- precision ------------------------------------------------------------ */

int ordo_store_precision(ordo_store *s, char *out, ordo_err *err)
{
    char cur[16];
    if (meta_get_text(s, "precision", cur, sizeof cur, err))
        return -1;
    if (!cur[0]) {
        /* Scanned before the precision was recorded: the network was fp32.
         * (An import's record in scans names another model: no network.) */
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(s->db, "SELECT EXISTS(SELECT 1 FROM scans WHERE model IN ('lite0','lite1','lite2'))", -1, &q, NULL) !=
            SQLITE_OK)
            return ordo_err_set(err, "database: %s", sqlite3_errmsg(s->db));
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0))
            snprintf(cur, sizeof cur, "fp32");
        sqlite3_finalize(q);
    }
    snprintf(out, 8, "%.7s", cur);
    return 0;
}

int ordo_store_tta(ordo_store *s, char *out, ordo_err *err)
{
    char cur[16];
    if (meta_get_text(s, "tta", cur, sizeof cur, err))
        return -1;
    snprintf(out, 8, "%.7s", cur[0] ? cur : "none");   /* none recorded: never flipped */
    return 0;
}

/* The second half of choosing a setting that a project's stored results
 * depend on (test-time augmentation, precision), inside the caller's BEGIN
 * IMMEDIATE: a different value than `cur` is refused once `fixed` (results
 * exist that were computed with `cur`), else `want` is recorded and the
 * transaction committed; any refusal or failure rolls it back. */
static int setting_settle(ordo_store *s, const char *key, const char *cur, const char *want,
                          int fixed, const char *what, char *out, ordo_err *err)
{
    if (fixed && strcmp(cur, want)) {
        ordo_err_set(err, "this project's %s %s; refusing to mix in %s (scan with --%s %s, or "
                          "make a new project with `ordo init --%s %s`)",
                     what, cur, want, key, cur, key, want);
    } else if (!meta_set_text(s, key, want, err)) {
        snprintf(out, 8, "%.7s", want);
        return ordo_db_exec(s->db, "COMMIT", err);
    }
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int ordo_store_use_tta(ordo_store *s, const char *want, char *out, ordo_err *err)
{
    if (want && strcmp(want, "none") && strcmp(want, "flip"))
        return ordo_err_set(err, "unknown test-time augmentation '%s' (none or flip)", want);
    if (ordo_db_exec(s->db, "BEGIN IMMEDIATE", err))
        return -1;
    char cur[8];
    sqlite3_stmt *q;
    if (ordo_store_tta(s, cur, err))
        goto fail;
    if (sqlite3_prepare_v2(s->db, "SELECT EXISTS(SELECT 1 FROM images)", -1, &q, NULL) != SQLITE_OK) {
        ordo_err_set(err, "database: %s", sqlite3_errmsg(s->db));
        goto fail;
    }
    int scanned = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return setting_settle(s, "tta", cur, want ? want : cur, scanned,
                          "images were scanned with test-time augmentation", out, err);
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int ordo_store_use_precision(ordo_store *s, const char *want, const char *dflt, char *out,
                             ordo_err *err)
{
    if (!dflt) dflt = "fp32";
    if ((want && strcmp(want, "fp32") && strcmp(want, "int8")) ||
        (strcmp(dflt, "fp32") && strcmp(dflt, "int8")))
        return ordo_err_set(err, "unknown precision '%s' (fp32 or int8)", want ? want : dflt);
    if (ordo_db_exec(s->db, "BEGIN IMMEDIATE", err))
        return -1;
    char cur[8];
    if (ordo_store_precision(s, cur, err)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (!want) want = cur[0] ? cur : dflt;
    return setting_settle(s, "precision", cur, want, cur[0] != 0, "results were computed in",
                          out, err);
}

/* ---- transactions ------------------------------------------------------ */

int ordo_store_begin(ordo_store *s, ordo_err *err)
{
    if (s->flags & ORDO_STORE_RDONLY)
        return ordo_err_set(err, "store opened read-only");
    if (s->in_txn)
        return ordo_err_set(err, "store: transaction already open");
    if (ordo_db_exec(s->db, "BEGIN IMMEDIATE", err))
        return -1;
    /* Read under the write lock: concurrent writers never share a slot, and
     * the widths are the ones an import may just have given the project. */
    if (meta_get_int(s, "next_slot", &s->next_slot, err) || load_dims(s, err)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    s->committed_slot = s->next_slot;
    s->dirty_rows = 0;
    s->in_txn = 1;
    return 0;
}

int ordo_store_commit(ordo_store *s, ordo_err *err)
{
    if (!s->in_txn)
        return ordo_err_set(err, "store: no transaction open");
    if (s->dirty_rows && !(s->flags & ORDO_STORE_FAST)) {
        /* Matrix rows must be on disk before the rows that point at them. */
        if (fdatasync(s->fd_embed) != 0 || fdatasync(s->fd_logits) != 0) {
            ordo_err_set(err, "syncing matrices: %s", strerror(errno));
            ordo_store_rollback(s);
            return -1;
        }
    }
    if (s->next_slot != s->committed_slot &&
        meta_set_int(s, "next_slot", s->next_slot, err)) {
        ordo_store_rollback(s);
        return -1;
    }
    if (ordo_db_exec(s->db, "COMMIT", err)) {
        ordo_store_rollback(s);
        return -1;
    }
    s->in_txn = 0;
    return 0;
}

void ordo_store_rollback(ordo_store *s)
{
    if (!s->in_txn)
        return;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_txn = 0;
    s->next_slot = s->committed_slot;
}

/* ---- scans ----------------------------------------------------------------- */

int64_t ordo_store_scan_begin(ordo_store *s, const char *roots, const char *model,
                              ordo_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO scans(started, roots, model) VALUES(?1,?2,?3)",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(s->db, "scan", err);
    sqlite3_bind_double(st, 1, ordo_clock_unix());
    sqlite3_bind_text(st, 2, roots, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return ordo_db_err(s->db, "scan", err);
    return sqlite3_last_insert_rowid(s->db);
}

int ordo_store_scan_end(ordo_store *s, int64_t scan_id, const ordo_store_scan_counts *c,
                        ordo_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "UPDATE scans SET finished=?2, seen=?3, processed=?4, "
                                  "failed=?5, missing=?6 WHERE id=?1",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(s->db, "scan", err);
    sqlite3_bind_int64(st, 1, scan_id);
    sqlite3_bind_double(st, 2, ordo_clock_unix());
    sqlite3_bind_int64(st, 3, c->seen);
    sqlite3_bind_int64(st, 4, c->processed);
    sqlite3_bind_int64(st, 5, c->failed);
    sqlite3_bind_int64(st, 6, c->missing);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : ordo_db_err(s->db, "scan", err);
}

/* ---- files and images ------------------------------------------------------- */

int ordo_store_file_get(ordo_store *s, const char *path, ordo_store_file_info *info,
                        ordo_err *err)
{
    sqlite3_stmt *st = s->st[ST_FILE_GET];
    memset(info, 0, sizeof *info);
    sqlite3_bind_blob(st, 1, path, (int)strlen(path), SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        info->id = sqlite3_column_int64(st, 0);
        info->size = sqlite3_column_int64(st, 1);
        info->mtime_ns = sqlite3_column_int64(st, 2);
        info->state = sqlite3_column_int(st, 3);
        snprintf(info->error_kind, sizeof info->error_kind, "%s",
                 (const char *)sqlite3_column_text(st, 4));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ordo_db_err(s->db, "file lookup", err);
}

/* Looks up a path: *fid = 0 if unknown; *old_image = 0 if none / not ok. */
static int file_prev(ordo_store *s, const char *path, int64_t *fid, int64_t *old_image,
                     ordo_err *err)
{
    sqlite3_stmt *st = s->st[ST_FILE_GET_FULL];
    sqlite3_bind_blob(st, 1, path, (int)strlen(path), SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *fid = *old_image = 0;
    if (rc == SQLITE_ROW) {
        *fid = sqlite3_column_int64(st, 0);
        if (sqlite3_column_int(st, 2) == ORDO_STORE_OK)
            *old_image = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ordo_db_err(s->db, "file lookup", err);
}

static int nfiles_add(ordo_store *s, int64_t image, int d, ordo_err *err)
{
    sqlite3_stmt *st = s->st[ST_NFILES];
    sqlite3_bind_int64(st, 1, image);
    sqlite3_bind_int(st, 2, d);
    return ordo_db_step_done(s->db, st, "image count", err);
}

/* Inserts or updates the file row and keeps images.nfiles in step. A new
 * image was inserted with nfiles = 1 already (saves an UPDATE per image). */
static int file_write(ordo_store *s, const char *path, int64_t size, int64_t mtime_ns,
                      const unsigned char *hash, int64_t image, int image_new, int state,
                      const char *kind, const char *msg, int64_t scan_id, ordo_err *err)
{
    int64_t fid, old;
    if (file_prev(s, path, &fid, &old, err))
        return -1;
    sqlite3_stmt *st = s->st[fid ? ST_FILE_UPD : ST_FILE_INS];
    if (fid)
        sqlite3_bind_int64(st, 1, fid);
    else
        sqlite3_bind_blob(st, 1, path, (int)strlen(path), SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, size);
    sqlite3_bind_int64(st, 3, mtime_ns);
    if (hash)
        sqlite3_bind_blob(st, 4, hash, 16, SQLITE_STATIC);
    if (image)
        sqlite3_bind_int64(st, 5, image);
    sqlite3_bind_int(st, 6, state);
    if (kind)
        sqlite3_bind_text(st, 7, kind, -1, SQLITE_STATIC);
    if (msg)
        sqlite3_bind_text(st, 8, msg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, scan_id);
    if (ordo_db_step_done(s->db, st, "file write", err))
        return -1;
    if (old != image) {
        if (old && nfiles_add(s, old, -1, err))
            return -1;
        if (image && !image_new && nfiles_add(s, image, +1, err))
            return -1;
    }
    return 0;
}

static int64_t image_by_hash(ordo_store *s, const unsigned char hash[16], ordo_err *err)
{
    sqlite3_stmt *st = s->st[ST_IMG_BY_HASH];
    sqlite3_bind_blob(st, 1, hash, 16, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ordo_db_err(s->db, "hash lookup", err);
    return id;
}

int ordo_store_has_hash(ordo_store *s, const unsigned char hash[16], ordo_err *err)
{
    int64_t id = image_by_hash(s, hash, err);
    return id < 0 ? -1 : id > 0;
}

static int open_matrix(ordo_store *s, int *fd, const char *name, ordo_err *err)
{
    if (*fd >= 0)
        return 0;
    char *p = path_join(s->dir, name);
    if (!p)
        return ordo_err_set(err, "out of memory");
    *fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int rc = *fd < 0 ? ordo_err_set(err, "%s: %s", p, strerror(errno)) : 0;
    free(p);
    return rc;
}

static int pwrite_all(int fd, const void *buf, size_t bytes, off_t off, ordo_err *err)
{
    const char *p = buf;
    while (bytes) {
        ssize_t w = pwrite(fd, p, bytes, off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return ordo_err_set(err, "writing matrix row: %s", strerror(errno));
        }
        p += w;
        off += w;
        bytes -= (size_t)w;
    }
    return 0;
}

static int write_row(ordo_store *s, int fd, const float *v, size_t n, int64_t slot,
                     ordo_err *err)
{
    ordo_f16_from_f32(v, s->scratch, n);
    size_t bytes = n * sizeof(uint16_t);
    return pwrite_all(fd, s->scratch, bytes, (off_t)slot * (off_t)bytes, err);
}

int ordo_store_set_embeddings(ordo_store *s, const int64_t *slots, size_t n, const float *rows,
                              ordo_err *err)
{
    if (s->flags & ORDO_STORE_RDONLY)
        return ordo_err_set(err, "store: opened read-only");
    int64_t next = 0;
    if (meta_get_int(s, "next_slot", &next, err) ||
        open_matrix(s, &s->fd_embed, ORDO_STORE_DIRNAME "/embed.f16", err))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (slots[i] < 0 || slots[i] >= next)
            return ordo_err_set(err, "store: embedding slot %lld is not a committed row",
                                (long long)slots[i]);
        if (write_row(s, s->fd_embed, rows + i * ORDO_STORE_EMBED, ORDO_STORE_EMBED, slots[i], err))
            return -1;
    }
    if (!(s->flags & ORDO_STORE_FAST) && fdatasync(s->fd_embed) != 0)
        return ordo_err_set(err, "syncing embed.f16: %s", strerror(errno));
    return 0;
}

int ordo_store_put_image(ordo_store *s, const ordo_store_image_in *in, int64_t *image_id,
                         ordo_err *err)
{
    if (!s->in_txn)
        return ordo_err_set(err, "store: put outside a transaction");
    int64_t img = image_by_hash(s, in->hash, err);
    if (img < 0)
        return -1;
    int fresh = img == 0;
    const int E = s->embed_dim, L = s->logits_dim;
    int dim = in->embed_dim ? in->embed_dim : E;
    if (fresh && !in->embed)
        return ordo_err_set(err, "store: new content without an embedding");
    if (dim < 1 || dim > E)
        return ordo_err_set(err, "store: embedding width %d (this project's matrix: 1 to %d)",
                            dim, E);
    if (fresh) {
        if (open_matrix(s, &s->fd_embed, ORDO_STORE_DIRNAME "/embed.f16", err) ||
            open_matrix(s, &s->fd_logits, ORDO_STORE_DIRNAME "/logits.f16", err))
            return -1;
        int64_t slot = s->next_slot;
        /* lg: the logits as they will be read back (half floats). */
        float *row = s->scratch_row, *lg = s->scratch_row + E;
        memset(row, 0, (size_t)E * sizeof *row);
        memcpy(row, in->embed, (size_t)dim * sizeof *row);
        if (in->logits) {
            ordo_f16_from_f32(in->logits, s->scratch, (size_t)L);
            ordo_f16_to_f32(s->scratch, lg, (size_t)L);
        } else {
            memset(lg, 0, (size_t)L * sizeof *lg);
        }
        if (write_row(s, s->fd_embed, row, (size_t)E, slot, err) ||
            write_row(s, s->fd_logits, lg, (size_t)L, slot, err))
            return -1;
        s->next_slot++;
        s->dirty_rows++;
        ordo_store_scores sc;
        ordo_store_summarize(lg, L, &sc, NULL);
        sqlite3_stmt *st = s->st[ST_IMG_INS];
        sqlite3_bind_blob(st, 1, in->hash, 16, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, slot);
        sqlite3_bind_int(st, 3, in->width);
        sqlite3_bind_int(st, 4, in->height);
        sqlite3_bind_text(st, 5, in->format ? in->format : "", -1, SQLITE_STATIC);
        for (int k = 0; k < ORDO_STORE_TOPK; k++) {
            sqlite3_bind_int(st, 6 + k, sc.top_class[k]);
            sqlite3_bind_double(st, 11 + k, sc.top_prob[k]);
        }
        sqlite3_bind_double(st, 16, sc.max_prob);
        sqlite3_bind_double(st, 17, sc.margin);
        sqlite3_bind_double(st, 18, sc.entropy);
        if (!isnan(in->sports))
            sqlite3_bind_double(st, 19, in->sports);   /* NULL = not computed */
        sqlite3_bind_int64(st, 20, in->scan_id);
        if (ordo_db_step_done(s->db, st, "image insert", err))
            return -1;
        img = sqlite3_last_insert_rowid(s->db);
    }
    if (file_write(s, in->path, in->size, in->mtime_ns, in->hash, img, fresh, ORDO_STORE_OK,
                   NULL, NULL, in->scan_id, err))
        return -1;
    if (image_id)
        *image_id = img;
    return 0;
}

int ordo_store_put_failed(ordo_store *s, const char *path, int64_t size, int64_t mtime_ns,
                          const unsigned char *hash, const char *kind, const char *msg,
                          int64_t scan_id, ordo_err *err)
{
    if (!s->in_txn)
        return ordo_err_set(err, "store: put outside a transaction");
    return file_write(s, path, size, mtime_ns, hash, 0, 0, ORDO_STORE_FAILED, kind, msg,
                      scan_id, err);
}

int ordo_store_touch(ordo_store *s, int64_t file_id, int64_t scan_id, ordo_err *err)
{
    if (!s->in_txn)
        return ordo_err_set(err, "store: touch outside a transaction");
    sqlite3_stmt *st = s->st[ST_TOUCH];
    sqlite3_bind_int64(st, 1, file_id);
    sqlite3_bind_int64(st, 2, scan_id);
    return ordo_db_step_done(s->db, st, "touch", err);
}

int ordo_store_mark_missing(ordo_store *s, const char *root, int64_t scan_id, int64_t *n,
                            ordo_err *err)
{
    if (!s->in_txn)
        return ordo_err_set(err, "store: mark_missing outside a transaction");
    /* Paths under root are the byte range [root "/", root "0"): '0' follows
     * '/' in ASCII, so this is an index range scan over the BLOB keys. */
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    char *lo = malloc(rl + 2), *hi = malloc(rl + 2);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return ordo_err_set(err, "out of memory");
    }
    memcpy(lo, root, rl);
    memcpy(hi, root, rl);
    size_t pl = rl;
    if (!(rl == 1 && root[0] == '/')) {
        lo[pl] = '/';
        hi[pl] = '0';
        pl++;
    } else {
        hi[0] = '0';
    }
    static const char cond[] =
        " FROM files WHERE ((path >= ?1 AND path < ?2) OR path = ?3)"
        " AND state != 2 AND seen_scan IS NOT ?4";
    char sql1[512], sql2[512];
    snprintf(sql1, sizeof sql1,
             "UPDATE images SET nfiles = nfiles - (SELECT count(*) %s AND state = 0 "
             "AND image_id = images.id) WHERE id IN (SELECT image_id %s AND state = 0)",
             cond, cond);
    snprintf(sql2, sizeof sql2, "UPDATE files SET state = 2 WHERE id IN (SELECT id %s)", cond);
    int rc = 0;
    for (int q = 0; q < 2 && !rc; q++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, q ? sql2 : sql1, -1, &st, NULL) != SQLITE_OK) {
            rc = ordo_db_err(s->db, "mark missing", err);
            break;
        }
        sqlite3_bind_blob(st, 1, lo, (int)pl, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, hi, (int)pl, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, root, (int)rl, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, scan_id);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = ordo_db_err(s->db, "mark missing", err);
        else if (q && n)
            *n += sqlite3_changes(s->db);
        sqlite3_finalize(st);
    }
    free(lo);
    free(hi);
    return rc;
}

/* ---- reading back -------------------------------------------------------------- */

int ordo_store_items(ordo_store *s, ordo_store_item **items, size_t *n, ordo_err *err)
{
    *items = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, slot, top_class0, top_class1, top_class2, top_class3,"
                           " top_class4, top_prob0, top_prob1, top_prob2, top_prob3, top_prob4,"
                           " max_prob, margin, entropy, sports FROM images WHERE nfiles > 0"
                           " ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(s->db, "items", err);
    size_t cap = 0, cnt = 0;
    ordo_store_item *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            ordo_store_item *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                free(v);
                sqlite3_finalize(st);
                return ordo_err_set(err, "out of memory reading %zu images", cnt);
            }
            v = nv;
            cap = nc;
        }
        ordo_store_item *it = &v[cnt++];
        it->id = sqlite3_column_int64(st, 0);
        it->slot = sqlite3_column_int64(st, 1);
        for (int k = 0; k < ORDO_STORE_TOPK; k++) {
            it->s.top_class[k] = sqlite3_column_int(st, 2 + k);
            it->s.top_prob[k] = (float)sqlite3_column_double(st, 7 + k);
        }
        it->s.max_prob = (float)sqlite3_column_double(st, 12);
        it->s.margin = (float)sqlite3_column_double(st, 13);
        it->s.entropy = (float)sqlite3_column_double(st, 14);
        it->sports = sqlite3_column_type(st, 15) == SQLITE_NULL
                         ? NAN : (float)sqlite3_column_double(st, 15);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(v);
        return ordo_db_err(s->db, "items", err);
    }
    *items = v;
    *n = cnt;
    return 0;
}

static const uint16_t *map_matrix(ordo_store *s, store_map *m, const char *name, size_t dim,
                                  size_t *rows, ordo_err *err)
{
    unmap(m);
    *rows = 0;
    char *p = path_join(s->dir, name);
    if (!p) {
        ordo_err_set(err, "out of memory");
        return NULL;
    }
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        ordo_err_set(err, "%s: %s", p, strerror(errno));
        if (fd >= 0) close(fd);
        free(p);
        return NULL;
    }
    size_t rowb = dim * sizeof(uint16_t);
    size_t r = (size_t)st.st_size / rowb;
    if (r == 0) {
        close(fd);
        free(p);
        return &s->empty;
    }
    void *a = mmap(NULL, r * rowb, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (a == MAP_FAILED) {
        ordo_err_set(err, "%s: mmap: %s", p, strerror(errno));
        free(p);
        return NULL;
    }
    free(p);
    m->addr = a;
    m->len = r * rowb;
    *rows = r;
    return a;
}

const uint16_t *ordo_store_embeddings(ordo_store *s, size_t *rows, ordo_err *err)
{
    *rows = 0;
    if (!s->in_txn && load_dims(s, err))
        return NULL;
    return map_matrix(s, &s->map_embed, ORDO_STORE_DIRNAME "/embed.f16", (size_t)s->embed_dim,
                      rows, err);
}

const uint16_t *ordo_store_logits(ordo_store *s, size_t *rows, ordo_err *err)
{
    *rows = 0;
    if (!s->in_txn && load_dims(s, err))
        return NULL;
    return map_matrix(s, &s->map_logits, ORDO_STORE_DIRNAME "/logits.f16",
                      (size_t)s->logits_dim, rows, err);
}

/* ---- copying images between stores (the merge of shard stores) ----------- */

/* The destination's images columns a copy carries: all but the ones it
 * assigns itself (id, slot, nfiles, scan_id). Prepares its insert. */
static int copy_prepare_dst(ordo_store *d, ordo_err *err)
{
    if (d->copy_ins)
        return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, "SELECT name FROM pragma_table_info('images') ORDER BY cid",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(d->db, "images columns", err);
    size_t cap = 1024, len = 0;
    char *c = malloc(cap);
    int n = 0;
    if (!c) {
        sqlite3_finalize(st);
        return ordo_err_set(err, "out of memory");
    }
    c[0] = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (!name || !strcmp(name, "id") || !strcmp(name, "slot") || !strcmp(name, "nfiles") ||
            !strcmp(name, "scan_id"))
            continue;
        size_t nl = strlen(name);
        if (len + nl + 4 > cap) {
            char *g = realloc(c, cap = 2 * (cap + nl));
            if (!g) {
                free(c);
                sqlite3_finalize(st);
                return ordo_err_set(err, "out of memory");
            }
            c = g;
        }
        len += (size_t)sprintf(c + len, "%s\"%s\"", len ? "," : "", name);
        n++;
    }
    sqlite3_finalize(st);
    if (n == 0) {
        free(c);
        return ordo_err_set(err, "store has no images table");
    }
    /* nfiles starts at 0: ordo_store_put_image counts the files it links. */
    size_t qcap = len + 64 + 8 * (size_t)n;
    char *sql = malloc(qcap);
    if (!sql) {
        free(c);
        return ordo_err_set(err, "out of memory");
    }
    size_t q = (size_t)snprintf(sql, qcap, "INSERT INTO images(%s, slot, nfiles, scan_id) VALUES(",
                                c);
    for (int i = 0; i < n + 1; i++)
        q += (size_t)snprintf(sql + q, qcap - q, "%s?%d", i ? "," : "", i + 1);
    snprintf(sql + q, qcap - q, ",0,?%d)", n + 2);
    int rc = sqlite3_prepare_v2(d->db, sql, -1, &d->copy_ins, NULL);
    free(sql);
    if (rc != SQLITE_OK) {
        free(c);
        return ordo_db_err(d->db, "prepare image insert", err);
    }
    d->copy_cols = c;
    d->copy_ncols = n;
    return 0;
}

/* The source's select of those columns (and its slot), and its maps. */
static int copy_prepare_src(ordo_store *d, ordo_store *src, ordo_err *err)
{
    if (!src->copy_sel || strcmp(src->copy_sel_cols, d->copy_cols)) {
        sqlite3_finalize(src->copy_sel);
        src->copy_sel = NULL;
        free(src->copy_sel_cols);
        src->copy_sel_cols = strdup(d->copy_cols);
        size_t cap = strlen(d->copy_cols) + 64;
        char *sql = malloc(cap);
        if (!src->copy_sel_cols || !sql) {
            free(sql);
            return ordo_err_set(err, "out of memory");
        }
        snprintf(sql, cap, "SELECT %s, slot FROM images WHERE id = ?1", d->copy_cols);
        int rc = sqlite3_prepare_v2(src->db, sql, -1, &src->copy_sel, NULL);
        free(sql);
        if (rc != SQLITE_OK)
            return ordo_err_set(err, "%s: its images table differs from %s's: %s", src->dir,
                                d->dir, sqlite3_errmsg(src->db));
    }
    if (!src->copy_embed.addr && load_dims(src, err))
        return -1;
    if (src->embed_dim != d->embed_dim || src->logits_dim != d->logits_dim)
        return ordo_err_set(err, "%s holds %d-d embeddings and %d classes, %s %d-d and %d: "
                                 "their rows cannot be copied",
                            src->dir, src->embed_dim, src->logits_dim, d->dir, d->embed_dim,
                            d->logits_dim);
    if (!src->copy_embed.addr &&
        (!map_matrix(src, &src->copy_embed, ORDO_STORE_DIRNAME "/embed.f16",
                     (size_t)src->embed_dim, &src->copy_embed_rows, err) ||
         !map_matrix(src, &src->copy_logits, ORDO_STORE_DIRNAME "/logits.f16",
                     (size_t)src->logits_dim, &src->copy_logits_rows, err)))
        return -1;
    return 0;
}

int ordo_store_copy_image(ordo_store *d, ordo_store *src, int64_t image_id, int64_t scan_id,
                          ordo_err *err)
{
    if (!d->in_txn)
        return ordo_err_set(err, "store: copy outside a transaction");
    if (copy_prepare_dst(d, err) || copy_prepare_src(d, src, err) ||
        open_matrix(d, &d->fd_embed, ORDO_STORE_DIRNAME "/embed.f16", err) ||
        open_matrix(d, &d->fd_logits, ORDO_STORE_DIRNAME "/logits.f16", err))
        return -1;
    sqlite3_stmt *q = src->copy_sel;
    sqlite3_bind_int64(q, 1, image_id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(q);
        return rc == SQLITE_DONE ? ordo_err_set(err, "%s: a file row points at missing image %lld",
                                                src->dir, (long long)image_id)
                                 : ordo_db_err(src->db, "source image", err);
    }
    int n = d->copy_ncols;
    int64_t slot = sqlite3_column_int64(q, n);
    if (slot < 0 || (size_t)slot >= src->copy_embed_rows ||
        (size_t)slot >= src->copy_logits_rows) {
        sqlite3_reset(q);
        return ordo_err_set(err, "%s: image %lld has slot %lld past its matrices", src->dir,
                            (long long)image_id, (long long)slot);
    }
    /* The slot protocol (store.h): rows at the next slot, before the row
     * that points at them commits; ordo_store_commit syncs and raises
     * next_slot. The f16 rows are copied as they are (never re-rounded). */
    const uint16_t *e = (const uint16_t *)src->copy_embed.addr + (size_t)slot * (size_t)d->embed_dim;
    const uint16_t *l = (const uint16_t *)src->copy_logits.addr + (size_t)slot * (size_t)d->logits_dim;
    const size_t eb = (size_t)d->embed_dim * sizeof(uint16_t);
    const size_t lb = (size_t)d->logits_dim * sizeof(uint16_t);
    if (pwrite_all(d->fd_embed, e, eb, (off_t)d->next_slot * (off_t)eb, err) ||
        pwrite_all(d->fd_logits, l, lb, (off_t)d->next_slot * (off_t)lb, err)) {
        sqlite3_reset(q);
        return -1;
    }
    sqlite3_stmt *ins = d->copy_ins;
    for (int c = 0; c < n; c++)
        sqlite3_bind_value(ins, c + 1, sqlite3_column_value(q, c));
    sqlite3_bind_int64(ins, n + 1, d->next_slot);
    sqlite3_bind_int64(ins, n + 2, scan_id);
    rc = ordo_db_step_done(d->db, ins, "image insert", err);
    sqlite3_reset(q);
    if (rc)
        return -1;
    d->next_slot++;
    d->dirty_rows++;
    return 0;
}

/* ---- the scan lock ------------------------------------------------------------ */

int ordo_store_lock(const char *dir, const char *busy, ordo_err *err)
{
    char *p = path_join(dir, ORDO_STORE_DIRNAME "/scan.lock");
    if (!p)
        return ordo_err_set(err, "out of memory");
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        ordo_err_set(err, "%s: %s", p, strerror(errno));
        free(p);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            ordo_err_set(err, "%s", busy);
        else
            ordo_err_set(err, "%s: %s", p, strerror(e));
        free(p);
        return -1;
    }
    free(p);
    return fd;
}

void ordo_store_unlock(int fd)
{
    if (fd >= 0)
        close(fd);   /* closing the only descriptor releases the flock */
}

int ordo_store_image_path(ordo_store *s, int64_t image_id, char *out, size_t cap,
                          ordo_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT path FROM files WHERE image_id = ?1 AND state = 0 "
                                  "ORDER BY id LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(s->db, "image path", err);
    sqlite3_bind_int64(st, 1, image_id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE
                   ? ordo_err_set(err, "image %lld has no present file", (long long)image_id)
                   : ordo_db_err(s->db, "image path", err);
    }
    int len = sqlite3_column_bytes(st, 0);
    const void *b = sqlite3_column_blob(st, 0);
    if ((size_t)len + 1 > cap) {
        sqlite3_finalize(st);
        return ordo_err_set(err, "path of image %lld too long", (long long)image_id);
    }
    if (len)
        memcpy(out, b, (size_t)len);
    out[len] = 0;
    sqlite3_finalize(st);
    return 0;
}

/* ---- labels ------------------------------------------------------------ */


int ordo_store_label_ok(const char *label)
{
    size_t n = label ? strlen(label) : 0;
    if (n == 0 || n > ORDO_STORE_LABEL_MAX || !ordo_text_utf8_valid(label))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f)
            return 0;
    return 1;
}

/* ---- label events ------------------------------------------------------------ */

int ordo_store_image_for_path(ordo_store *s, const char *path, int64_t *image_id, ordo_err *err)
{
    sqlite3 *db = s->db;
    char abs[PATH_MAX];
    if (!realpath(path, abs)) return ordo_err_set(err, "%s: no such file", path);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT image_id FROM files WHERE path = ?1 AND state = 0 "
                               "AND image_id IS NOT NULL", -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(db, "image lookup", err);
    sqlite3_bind_blob(st, 1, abs, (int)strlen(abs), SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *image_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return ordo_err_set(err, "%s: not a scanned image of this project (run 'ordo scan')", abs);
    return 0;
}

int ordo_store_labels_add(ordo_store *s, const ordo_store_label_in *in, size_t n, ordo_err *err)
{
    sqlite3 *db = s->db;
    for (size_t i = 0; i < n; i++)
        if (!ordo_store_label_ok(in[i].label))
            return ordo_err_set(err, "label %zu: a label must be " ORDO_STORE_LABEL_RULE, i + 1);
    if (ordo_store_begin(s, err)) return -1;
    sqlite3_stmt *st = NULL, *chk = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO labels(image_id, label, annotator, source, reason, "
                               "created) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT 1 FROM images WHERE id = ?1", -1, &chk, NULL) != SQLITE_OK) {
        ordo_db_err(db, "label insert", err);
        goto fail;
    }
    double t = ordo_clock_unix();
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(chk, 1, in[i].image_id);
        int rc = sqlite3_step(chk);
        sqlite3_reset(chk);
        if (rc != SQLITE_ROW) {
            ordo_err_set(err, "label %zu: no image with id %lld", i + 1, (long long)in[i].image_id);
            goto fail;
        }
        sqlite3_bind_int64(st, 1, in[i].image_id);
        sqlite3_bind_text(st, 2, in[i].label, -1, SQLITE_STATIC);
        if (in[i].annotator) sqlite3_bind_text(st, 3, in[i].annotator, -1, SQLITE_STATIC);
        else sqlite3_bind_null(st, 3);
        sqlite3_bind_text(st, 4, in[i].source ? in[i].source : "cli", -1, SQLITE_STATIC);
        if (in[i].reason) sqlite3_bind_text(st, 5, in[i].reason, -1, SQLITE_STATIC);
        else sqlite3_bind_null(st, 5);
        sqlite3_bind_double(st, 6, in[i].created > 0 && isfinite(in[i].created) ? in[i].created : t);
        if (sqlite3_step(st) != SQLITE_DONE) {
            ordo_db_err(db, "label insert", err);
            goto fail;
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(chk);
    return ordo_store_commit(s, err);
fail:
    sqlite3_finalize(st);
    sqlite3_finalize(chk);
    ordo_store_rollback(s);
    return -1;
}

static char *dup_col(sqlite3_stmt *st, int c)
{
    const unsigned char *t = sqlite3_column_text(st, c);
    return strdup(t ? (const char *)t : "");
}

void ordo_store_labels_free(ordo_store_label_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].label);
        free(rows[i].annotator);
        free(rows[i].source);
        free(rows[i].reason);
    }
    free(rows);
}

int ordo_store_labels_read(ordo_store *s, int current, ordo_store_label_row **rows, size_t *n,
                           ordo_err *err)
{
    sqlite3 *db = s->db;
    const char *sql =
        current ? "SELECT id, image_id, label, annotator, source, reason, created, events "
                  "FROM current_labels ORDER BY image_id"
                : "SELECT id, image_id, label, annotator, source, reason, created, 1 FROM labels "
                  "ORDER BY id";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return ordo_db_err(db, "labels", err);
    size_t cap = 256, m = 0;
    ordo_store_label_row *r = malloc(cap * sizeof *r);
    int rc;
    while (r && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (m == cap) {
            ordo_store_label_row *q = realloc(r, 2 * cap * sizeof *r);
            if (!q) break;
            r = q;
            cap *= 2;
        }
        ordo_store_label_row *o = &r[m++];
        o->id = sqlite3_column_int64(st, 0);
        o->image_id = sqlite3_column_int64(st, 1);
        o->label = dup_col(st, 2);
        o->annotator = dup_col(st, 3);
        o->source = dup_col(st, 4);
        o->reason = dup_col(st, 5);
        o->created = sqlite3_column_double(st, 6);
        o->events = sqlite3_column_int64(st, 7);
        if (!o->label || !o->annotator || !o->source || !o->reason) { rc = SQLITE_NOMEM; break; }
    }
    sqlite3_finalize(st);
    if (!r || rc != SQLITE_DONE) {
        ordo_store_labels_free(r, m);
        return rc == SQLITE_NOMEM || !r ? ordo_err_set(err, "labels: out of memory")
                                        : ordo_db_err(db, "labels", err);
    }
    *rows = r;
    *n = m;
    return 0;
}

/* ---- the evaluation sample ---------------------------------------------------- */

int ordo_store_eval_read(ordo_store *s, int64_t **ids, double **keys, uint64_t *seed,
                         size_t *n, ordo_err *err)
{
    *ids = NULL;
    if (keys) *keys = NULL;
    if (seed) *seed = 0;
    *n = 0;
    int64_t have;
    if (ordo_db_i64(s->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                           " AND name = 'rank_eval'", &have, err))
        return -1;
    if (!have)
        return 0;   /* never drawn */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT image_id, key, seed FROM rank_eval ORDER BY image_id",
                           -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(s->db, "evaluation sample", err);
    size_t cap = 0, m = 0;
    int64_t *v = NULL;
    double *k = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (m == cap) {
            cap = cap ? 2 * cap : 1024;
            int64_t *nv = realloc(v, cap * sizeof *v);
            if (nv) v = nv;
            double *nk = keys && nv ? realloc(k, cap * sizeof *k) : k;
            if (nk) k = nk;
            if (!nv || (keys && !nk)) {
                rc = SQLITE_NOMEM;
                break;
            }
        }
        if (m == 0 && seed)
            *seed = (uint64_t)sqlite3_column_int64(st, 2);
        v[m] = sqlite3_column_int64(st, 0);
        if (keys)
            k[m] = sqlite3_column_double(st, 1);
        m++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(v);
        free(k);
        return rc == SQLITE_NOMEM ? ordo_err_set(err, "evaluation sample: out of memory")
                                  : ordo_db_err(s->db, "evaluation sample", err);
    }
    *ids = v;
    if (keys) *keys = k;
    *n = m;
    return 0;
}

int ordo_store_eval_add(ordo_store *s, const int64_t *ids, const double *keys, size_t n,
                        uint64_t seed, ordo_err *err)
{
    if (!s->in_txn)
        return ordo_err_set(err, "store: evaluation sample written outside a transaction");
    sqlite3_stmt *st = NULL;
    if (ordo_db_exec(s->db, "CREATE TABLE IF NOT EXISTS rank_eval(image_id INTEGER PRIMARY KEY,"
                            " key REAL NOT NULL, seed INTEGER NOT NULL, created REAL NOT NULL)",
                     err))
        return -1;
    if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO rank_eval VALUES(?1, ?2, ?3, ?4)", -1,
                           &st, NULL) != SQLITE_OK)
        return ordo_db_err(s->db, "evaluation sample", err);
    double now = ordo_clock_unix();
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_bind_int64(st, 1, ids[i]);
        sqlite3_bind_double(st, 2, keys[i]);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)seed);
        sqlite3_bind_double(st, 4, now);
        rc = ordo_db_step_done(s->db, st, "evaluation sample", err);
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- status -------------------------------------------------------------------- */

int ordo_store_get_status(ordo_store *s, ordo_store_status *o, ordo_err *err)
{
    memset(o, 0, sizeof *o);
    /* One read transaction so the counts agree with each other. */
    if (ordo_db_exec(s->db, "BEGIN", err))
        return -1;
    int rc = -1;
    if (meta_get_text(s, "model", o->model, sizeof o->model, err) ||
        ordo_db_i64(s->db, "SELECT count(*) FROM files WHERE state = 0", &o->ok, err) ||
        ordo_db_i64(s->db, "SELECT count(*) FROM files WHERE state = 1", &o->failed, err) ||
        ordo_db_i64(s->db, "SELECT count(*) FROM files WHERE state = 2", &o->missing, err) ||
        ordo_db_i64(s->db, "SELECT count(*) FROM images WHERE nfiles > 0", &o->images, err) ||
        ordo_db_i64(s->db, "SELECT coalesce(sum(nfiles - 1), 0) FROM images WHERE nfiles > 1",
                  &o->duplicates, err) ||
        ordo_db_i64(s->db, "SELECT count(*) FROM current_labels WHERE label NOT IN ('', 'skip')",
                  &o->labeled, err) ||
        ordo_db_i64(s->db, "SELECT count(*) FROM scans", &o->scans, err))
        goto out;
    o->files = o->ok + o->failed;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT max(finished) FROM scans", -1, &st, NULL) !=
        SQLITE_OK) {
        ordo_db_err(s->db, "status", err);
        goto out;
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        o->last_scan = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(error_kind, '?'), count(*) FROM files "
                                  "WHERE state = 1 GROUP BY 1 ORDER BY 2 DESC, 1",
                           -1, &st, NULL) != SQLITE_OK) {
        ordo_db_err(s->db, "status", err);
        goto out;
    }
    while (sqlite3_step(st) == SQLITE_ROW && o->nkinds < ORDO_STORE_STATUS_KINDS) {
        snprintf(o->failed_by[o->nkinds].kind, sizeof o->failed_by[0].kind, "%s",
                 (const char *)sqlite3_column_text(st, 0));
        o->failed_by[o->nkinds++].count = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(s->db, "SELECT top_class0, count(*) FROM images WHERE nfiles > 0 "
                                  "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        ordo_db_err(s->db, "status", err);
        goto out;
    }
    sqlite3_bind_int(st, 1, ORDO_STORE_STATUS_TOP);
    while (sqlite3_step(st) == SQLITE_ROW && o->ntop < ORDO_STORE_STATUS_TOP) {
        o->top[o->ntop].cls = sqlite3_column_int(st, 0);
        o->top[o->ntop++].count = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    rc = 0;
out:
    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}
