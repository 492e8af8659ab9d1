/* err.h - the one error convention of ordo.
 *
 * A function that can fail returns 0 on success and -1 on failure (or NULL
 * for constructors) and, on failure, fills the caller's ordo_err with a
 * one-line, human-readable reason. No errno-style globals, no printing from
 * library code: the caller decides what to show. */
#ifndef ORDO_ERR_H
#define ORDO_ERR_H

#include <stddef.h>

#define ORDO_ERR_MAX 512

typedef struct ordo_err {
    char msg[ORDO_ERR_MAX];
} ordo_err;

/* Sets err->msg (printf-style) and returns -1, so callers can write
 * `return ordo_err_set(err, "bad %s", x);`. err may be NULL. Control
 * characters in the result (a quoted file name's or parser's line
 * breaks) become '?', so the message stays one line; so in _wrap. */
int ordo_err_set(ordo_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to an existing message (adds context on the way up). */
int ordo_err_wrap(ordo_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
