/* store_cut.c - the fine-tune activation cache (store_cut.h). */
#include "store/store_cut.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/db.h"
#include "base/f16.h"

struct ordo_store_cut {
    ordo_store *s;
    sqlite3 *db;
    int P, C;
    size_t rowlen;        /* halfs */
    int fd;               /* -1 until the first write */
    uint16_t *scratch;
    void *map;
    size_t maplen;
    char *path;
};

static int meta_int(sqlite3 *db, const char *key, int64_t *v, ordo_err *err)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT value FROM meta WHERE key = '%s'", key);
    return ordo_db_i64(db, sql, v, err);
}

ordo_store_cut *ordo_store_cut_open(ordo_store *s, int P, int C, ordo_err *err)
{
    if (!s || P < 1 || C < 1) {
        ordo_err_set(err, "activation cache: bad shape %d x %d", P, C);
        return NULL;
    }
    ordo_store_cut *c = calloc(1, sizeof *c);
    if (!c) { ordo_err_set(err, "out of memory"); return NULL; }
    c->s = s;
    c->db = ordo_store_db(s);
    c->P = P;
    c->C = C;
    c->rowlen = (size_t)P * C;
    c->fd = -1;
    size_t dl = strlen(ordo_store_dir(s)) + 32;
    c->path = malloc(dl);
    c->scratch = malloc(c->rowlen * sizeof *c->scratch);
    if (!c->path || !c->scratch) { ordo_err_set(err, "out of memory"); goto fail; }
    snprintf(c->path, dl, "%s/" ORDO_STORE_DIRNAME "/cut.f16", ordo_store_dir(s));
    int64_t p0 = 0, c0 = 0;
    if (meta_int(c->db, "cut_p", &p0, err) || meta_int(c->db, "cut_c", &c0, err)) goto fail;
    if (p0 && (p0 != P || c0 != C)) {
        ordo_err_set(err, "activation cache %s holds %lld x %lld activations, this network "
                     "gives %d x %d (delete it to rebuild)", c->path, (long long)p0,
                     (long long)c0, P, C);
        goto fail;
    }
    if (!p0 && !sqlite3_db_readonly(c->db, "main")) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "CREATE TABLE IF NOT EXISTS cut_rows(slot INTEGER PRIMARY KEY);"
                 "INSERT OR REPLACE INTO meta(key, value) VALUES('cut_p', %d), ('cut_c', %d);",
                 P, C);
        if (ordo_store_begin(s, err)) goto fail;
        if (ordo_db_exec(c->db, sql, err)) { ordo_store_rollback(s); goto fail; }
        if (ordo_store_commit(s, err)) goto fail;
    }
    return c;
fail:
    ordo_store_cut_close(c);
    return NULL;
}

void ordo_store_cut_close(ordo_store_cut *c)
{
    if (!c) return;
    if (c->map) munmap(c->map, c->maplen);
    if (c->fd >= 0) close(c->fd);
    free(c->scratch);
    free(c->path);
    free(c);
}

int ordo_store_cut_have(ordo_store_cut *c, const int64_t *slots, size_t n, unsigned char *have,
                        ordo_err *err)
{
    memset(have, 0, n);
    int64_t exists = 0;
    if (ordo_db_i64(c->db, "SELECT count(*) FROM sqlite_master WHERE name = 'cut_rows'",
                    &exists, err))
        return -1;
    if (!exists) return 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "SELECT 1 FROM cut_rows WHERE slot = ?", -1, &st, NULL))
        return ordo_db_err(c->db, "cut_rows", err);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, slots[i]);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) have[i] = 1;
        else if (rc != SQLITE_DONE) { sqlite3_finalize(st); return ordo_db_err(c->db, "cut_rows", err); }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return 0;
}

int ordo_store_cut_put(ordo_store_cut *c, int64_t slot, const float *row, ordo_err *err)
{
    if (slot < 0) return ordo_err_set(err, "activation cache: slot %lld", (long long)slot);
    if (c->fd < 0 && (c->fd = open(c->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
        return ordo_err_set(err, "%s: %s", c->path, strerror(errno));
    ordo_f16_from_f32(row, c->scratch, c->rowlen);
    const size_t bytes = c->rowlen * sizeof(uint16_t);
    const char *p = (const char *)c->scratch;
    off_t off = (off_t)slot * (off_t)bytes;
    for (size_t left = bytes; left;) {
        ssize_t w = pwrite(c->fd, p, left, off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return ordo_err_set(err, "%s: %s", c->path, strerror(errno));
        }
        p += w;
        off += w;
        left -= (size_t)w;
    }
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO cut_rows(slot) VALUES(%lld)", (long long)slot);
    return ordo_db_exec(c->db, sql, err);
}

int ordo_store_cut_commit(ordo_store_cut *c, ordo_err *err)
{
    /* rows reach the disk before the transaction listing them commits */
    if (c->fd >= 0 && fdatasync(c->fd) != 0) {
        ordo_store_rollback(c->s);
        return ordo_err_set(err, "%s: %s", c->path, strerror(errno));
    }
    return ordo_store_commit(c->s, err);
}

const uint16_t *ordo_store_cut_map(ordo_store_cut *c, size_t *rows, ordo_err *err)
{
    if (c->map) { munmap(c->map, c->maplen); c->map = NULL; }
    *rows = 0;
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        ordo_err_set(err, "no activation cache (%s: %s): it is built by `ordo train --learner "
                     "finetune` or `ordo simulate --learners finetune`", c->path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    size_t rowb = c->rowlen * sizeof(uint16_t), r = (size_t)st.st_size / rowb;
    if (!r) { close(fd); ordo_err_set(err, "%s is empty", c->path); return NULL; }
    void *a = mmap(NULL, r * rowb, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (a == MAP_FAILED) { ordo_err_set(err, "%s: mmap: %s", c->path, strerror(errno)); return NULL; }
    c->map = a;
    c->maplen = r * rowb;
    *rows = r;
    return a;
}
