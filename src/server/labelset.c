/* labelset.c - the project's own label set (table srv_labelset).
 *
 * A team declares the labels it works with (`ordo labelset --import FILE`,
 * `ordo labelset --add`, or the page's settings), optionally in two levels
 * and optionally tied to a WordNet synset. Label events always store the
 * readable name; the synset a name stands for lives here, beside it, so a
 * WordNet pick and a typed label are one kind of label. An open set also
 * accepts any new name (the answers list it from then on; a WordNet pick is
 * added here with its synset); a closed set refuses answers outside it (the
 * special answers excepted).
 *
 * File format (ordo_srv_labelset_parse), one label per line:
 *     NAME [= TIE]          # comment
 *       NAME [= TIE]        # indented: a child of the last unindented label
 * TIE is anything ordo_wn_lookup accepts (n02802426, "tennis ball",
 * "dog.n.01"); without one, a NAME that is itself an unambiguous WordNet
 * lemma is tied to that synset. A line "!closed" closes the set. */
#include <ctype.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "base/db.h"
#include "base/text.h"
#include "server/srv_internal.h"


void ordo_srv_labelset_free(ordo_srv_labelset *ls)
{
    if (!ls) return;
    free(ls->v);
    free(ls);
}

int ordo_srv_labelset_find(const ordo_srv_labelset *ls, const char *name)
{
    for (size_t i = 0; ls && i < ls->n; i++)
        if (!strcmp(ls->v[i].name, name)) return (int)i;
    return -1;
}

static int ls_push(ordo_srv_labelset *ls, ordo_err *err)
{
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 32;
        ordo_srv_label *b = realloc(ls->v, cap * sizeof *b);
        if (!b) return ordo_err_set(err, "out of memory");
        ls->v = b;
        ls->cap = cap;
    }
    memset(&ls->v[ls->n], 0, sizeof ls->v[ls->n]);
    ls->v[ls->n].synset = -1;
    ls->n++;
    return 0;
}

/* Trims spaces at both ends in place; returns the start. */
static char *trim(char *s, char *end)
{
    while (s < end && isspace((unsigned char)*s)) s++;
    while (end > s && isspace((unsigned char)end[-1])) end--;
    *end = 0;
    return s;
}

ordo_srv_labelset *ordo_srv_labelset_parse(const ordo_wn *wn, const char *text, size_t len,
                                           const char *origin, ordo_err *err)
{
    ordo_srv_labelset *ls = calloc(1, sizeof *ls);
    char *buf = malloc(len + 1);
    if (!ls || !buf) {
        free(ls);
        free(buf);
        ordo_err_set(err, "out of memory");
        return NULL;
    }
    memcpy(buf, text, len);
    buf[len] = 0;
    if (memchr(text, 0, len)) {
        ordo_err_set(err, "%s: a NUL byte (not a text file)", origin);
        goto fail;
    }
    int lineno = 0, top = -1;
    char *p = buf;
    while (p < buf + len) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        char *end = nl ? nl : buf + len;
        lineno++;
        char *hash = memchr(p, '#', (size_t)(end - p));
        if (hash) end = hash;
        int indented = p < end && (*p == ' ' || *p == '\t');
        char *line = trim(p, end);
        p = nl ? nl + 1 : buf + len;
        if (!*line) continue;
        if (strlen(line) > 600) {
            ordo_err_set(err, "%s: line %d: too long", origin, lineno);
            goto fail;
        }
        if (!strcmp(line, "!closed")) { ls->closed = 1; continue; }
        char *eq = strstr(line, " = ");
        char *name = line, *tie = NULL;
        if (eq) {
            *eq = 0;
            name = trim(line, eq);
            tie = trim(eq + 3, eq + 3 + strlen(eq + 3));
        }
        if (!*name || strlen(name) > ORDO_STORE_LABEL_MAX || !ordo_store_label_ok(name)) {
            ordo_err_set(err, "%s: line %d: a label is 1 to %d bytes of UTF-8 text", origin,
                         lineno, ORDO_STORE_LABEL_MAX);
            goto fail;
        }
        if (srv_label_special(name) == 2) {   /* "skip" is not an answer to keep */
            ordo_err_set(err, "%s: line %d: '%s' is reserved", origin, lineno, name);
            goto fail;
        }
        if (ordo_srv_labelset_find(ls, name) >= 0) {
            ordo_err_set(err, "%s: line %d: '%s' is listed twice", origin, lineno, name);
            goto fail;
        }
        if (indented && top < 0) {
            ordo_err_set(err, "%s: line %d: an indented label needs a parent line above it",
                         origin, lineno);
            goto fail;
        }
        if (ls_push(ls, err) < 0) goto fail;
        ordo_srv_label *l = &ls->v[ls->n - 1];
        snprintf(l->name, sizeof l->name, "%s", name);
        if (indented) snprintf(l->parent, sizeof l->parent, "%s", ls->v[top].name);
        else top = (int)ls->n - 1;
        if (tie && *tie) {
            ordo_err e;
            l->synset = wn ? ordo_wn_lookup(wn, tie, &e) : -1;
            if (l->synset < 0) {
                ordo_err_set(err, "%s: line %d: %s", origin, lineno,
                             wn ? e.msg : "no WordNet to tie labels to");
                goto fail;
            }
        } else if (wn && ordo_wn_has_hierarchy(wn)) {
            ordo_err e;   /* an unambiguous lemma ties itself; otherwise none */
            l->synset = ordo_wn_lookup(wn, name, &e);
        }
    }
    free(buf);
    return ls;
fail:
    free(buf);
    ordo_srv_labelset_free(ls);
    return NULL;
}

int srv_labelset_init(ordo_store *s, ordo_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(ordo_store_db(s),
                     "CREATE TABLE IF NOT EXISTS srv_labelset("
                     " pos INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
                     " parent TEXT NOT NULL DEFAULT '', synset INTEGER);"
                     "CREATE TABLE IF NOT EXISTS srv_settings(key TEXT PRIMARY KEY, value TEXT)",
                     NULL, NULL, &msg) != SQLITE_OK) {
        ordo_err_set(err, "creating the label set table: %s", msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

ordo_srv_labelset *ordo_srv_labelset_load(ordo_store *s, ordo_err *err)
{
    if (srv_labelset_init(s, err) < 0) return NULL;
    ordo_srv_labelset *ls = calloc(1, sizeof *ls);
    if (!ls) {
        ordo_err_set(err, "out of memory");
        return NULL;
    }
    sqlite3 *db = ordo_store_db(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name, parent, synset FROM srv_labelset ORDER BY pos",
                           -1, &st, NULL) != SQLITE_OK) {
        ordo_db_err(db, "reading the label set", err);
        ordo_srv_labelset_free(ls);
        return NULL;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (ls_push(ls, err) < 0) break;
        ordo_srv_label *l = &ls->v[ls->n - 1];
        snprintf(l->name, sizeof l->name, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(l->parent, sizeof l->parent, "%s", (const char *)sqlite3_column_text(st, 1));
        l->synset = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        if (rc != SQLITE_ROW) ordo_db_err(db, "reading the label set", err);
        ordo_srv_labelset_free(ls);
        return NULL;
    }
    if (sqlite3_prepare_v2(db, "SELECT value FROM srv_settings WHERE key = 'labelset_closed'",
                           -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) ls->closed = sqlite3_column_int(st, 0) != 0;
        sqlite3_finalize(st);
    }
    return ls;
}

/* Inserts l (ignored when the name exists); caller holds a transaction. */
static int put_label(sqlite3 *db, const ordo_srv_label *l)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO srv_labelset(name, parent, synset)"
                                    " VALUES(?, ?, ?)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, l->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, l->parent, -1, SQLITE_STATIC);
        if (l->synset >= 0) sqlite3_bind_int64(st, 3, l->synset);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int ordo_srv_labelset_store(ordo_store *s, const ordo_srv_labelset *ls, int replace,
                            ordo_err *err)
{
    if (srv_labelset_init(s, err) < 0 || ordo_store_begin(s, err) < 0) return -1;
    sqlite3 *db = ordo_store_db(s);
    if (replace && sqlite3_exec(db, "DELETE FROM srv_labelset", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < ls->n; i++)
        if (put_label(db, &ls->v[i]) < 0) goto fail;
    if (replace || ls->closed) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO srv_settings VALUES('labelset_closed',"
                                  " %d)", ls->closed ? 1 : 0);
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) goto fail;
    }
    return ordo_store_commit(s, err);
fail:
    ordo_db_err(db, "writing the label set", err);
    ordo_store_rollback(s);
    return -1;
}

int ordo_srv_labelset_close(ordo_store *s, int closed, ordo_err *err)
{
    if (srv_labelset_init(s, err) < 0) return -1;
    char sql[96];
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO srv_settings VALUES('labelset_closed', %d)",
             closed ? 1 : 0);
    if (sqlite3_exec(ordo_store_db(s), sql, NULL, NULL, NULL) != SQLITE_OK)
        return ordo_db_err(ordo_store_db(s), "writing the label set", err);
    return 0;
}

int ordo_srv_labelset_write(FILE *f, const ordo_srv_labelset *ls)
{
    if (ls->closed) fputs("!closed\n", f);
    for (size_t i = 0; i < ls->n; i++) {
        const ordo_srv_label *l = &ls->v[i];
        fprintf(f, "%s%s", l->parent[0] ? "  " : "", l->name);
        if (l->synset >= 0) fprintf(f, " = n%08ld", l->synset);
        fputc('\n', f);
    }
    return 0;
}

/* ---- the server's copy ------------------------------------------------- */

int srv_labelset_open(ordo_srv *srv, ordo_store *s, ordo_err *err)
{
    ordo_srv_labelset *ls = ordo_srv_labelset_load(s, err);
    if (!ls) return -1;
    pthread_mutex_lock(&srv->ls_mu);
    ordo_srv_labelset *old = srv->ls;
    srv->ls = ls;
    srv->ls_gen++;
    pthread_mutex_unlock(&srv->ls_mu);
    ordo_srv_labelset_free(old);
    return 0;
}

/* The label an answer stores. A synset pick (synset >= 0) is stored under
 * its readable name: the set's label already tied to it, else its first
 * lemma (with the wnid appended when another synset has that name). A name
 * outside the set joins it, or is refused when the set is closed.
 * Returns 0, or -1 with err (and *closed = 1 when the set refused it). */
int srv_labelset_resolve(ordo_srv *srv, ordo_store *s, const char *label, long synset,
                         char *out, size_t cap, int *closed, ordo_err *err)
{
    *closed = 0;
    ordo_srv_label nl;
    memset(&nl, 0, sizeof nl);
    nl.synset = -1;
    if (synset >= 0) {
        const char *lemmas = ordo_wn_synset_name(srv->wn, synset);
        if (!lemmas || !*lemmas)
            return ordo_err_set(err, "n%08ld is not a WordNet noun synset", synset);
        size_t k = strcspn(lemmas, ",");
        snprintf(nl.name, sizeof nl.name, "%.*s", (int)k, lemmas);
        nl.synset = synset;
    } else {
        snprintf(nl.name, sizeof nl.name, "%s", label);
    }
    pthread_mutex_lock(&srv->ls_mu);
    ordo_srv_labelset *ls = srv->ls;
    int found = -1;
    if (synset >= 0)
        for (size_t i = 0; ls && i < ls->n && found < 0; i++)
            if (ls->v[i].synset == synset) found = (int)i;
    if (found < 0) {
        found = ordo_srv_labelset_find(ls, nl.name);
        if (found >= 0 && synset >= 0 && ls->v[found].synset >= 0 &&
            ls->v[found].synset != synset) {   /* same lemma, another sense */
            char tmp[ORDO_STORE_LABEL_MAX + 1];
            snprintf(tmp, sizeof tmp, "%.*s (n%08ld)", ORDO_STORE_LABEL_MAX - 12, nl.name,
                     synset % 100000000);   /* offsets have 8 digits */
            memcpy(nl.name, tmp, sizeof tmp);
            found = ordo_srv_labelset_find(ls, nl.name);
        }
    }
    int is_closed = ls && ls->closed;
    if (found >= 0) snprintf(out, cap, "%s", ls->v[found].name);
    pthread_mutex_unlock(&srv->ls_mu);
    if (found >= 0) return 0;
    snprintf(out, cap, "%s", nl.name);
    if (srv_label_special(nl.name)) return 0;   /* always allowed, never in the set */
    if (is_closed) {
        *closed = 1;
        return ordo_err_set(err, "the label set is closed: '%s' is not one of its labels",
                            nl.name);
    }
    /* A typed name needs no row: the answers themselves offer it next time
     * (the page's vocabulary and the per-answer model read them). A WordNet
     * pick joins the set, so its synset is kept beside its name. */
    if (synset < 0) return 0;
    ordo_srv_labelset one = {.v = &nl, .n = 1, .cap = 1};
    if (ordo_srv_labelset_store(s, &one, 0, err) < 0) return -1;
    return srv_labelset_open(srv, s, err);
}
