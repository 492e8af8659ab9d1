/* db.c - SQLite helpers (see db.h). */
#include "base/db.h"

int ordo_db_err(sqlite3 *db, const char *what, ordo_err *err)
{
    return ordo_err_set(err, "database: %s: %s", what, sqlite3_errmsg(db));
}

int ordo_db_exec(sqlite3 *db, const char *sql, ordo_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        ordo_err_set(err, "database: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int ordo_db_i64(sqlite3 *db, const char *sql, int64_t *v, ordo_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return ordo_db_err(db, "query", err);
    int rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ordo_db_err(db, "query", err);
}

int ordo_db_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what, ordo_err *err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : ordo_db_err(db, what, err);
}
