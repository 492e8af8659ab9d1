/* db.h - the SQLite helpers every module that owns tables uses.
 *
 * One argument order everywhere: the connection first, the ordo_err last.
 * Messages read "database: WHAT: SQLite's message". */
#ifndef ORDO_DB_H
#define ORDO_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "base/err.h"

/* Fills err with "database: what: <sqlite3_errmsg(db)>"; returns -1. */
int ordo_db_err(sqlite3 *db, const char *what, ordo_err *err);

/* Runs one or more statements without results (sqlite3_exec). */
int ordo_db_exec(sqlite3 *db, const char *sql, ordo_err *err);

/* The first column of the first row of sql as an integer (*v = 0 when there
 * is no row or it is NULL). */
int ordo_db_i64(sqlite3 *db, const char *sql, int64_t *v, ordo_err *err);

/* Steps a prepared statement that returns no row, then resets it and clears
 * its bindings for the next use; on failure fills err naming what. */
int ordo_db_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what, ordo_err *err);

#endif
