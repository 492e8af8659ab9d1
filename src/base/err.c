#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The message is one line (err.h) whatever it quotes: a parser's error
 * text can hold the input's own line breaks (jansson's "near '...'" of a
 * JSON string with a raw newline, found by fuzz_vectors), and file names
 * may hold any byte but NUL. Control characters become '?', as ls shows
 * them; UTF-8 is left alone. */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

int ordo_err_set(ordo_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        one_line(err->msg);
    }
    return -1;
}

int ordo_err_wrap(ordo_err *err, const char *fmt, ...)
{
    if (err) {
        char old[ORDO_ERR_MAX];
        memcpy(old, err->msg, sizeof old);
        old[sizeof old - 1] = 0;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* Append ": old", truncating the old message if it does not fit. */
        size_t used = n < 0 ? 0 : (size_t)n < sizeof err->msg ? (size_t)n : sizeof err->msg - 1;
        size_t room = sizeof err->msg - 1 - used;
        if (room >= 2) {
            memcpy(err->msg + used, ": ", 2);
            used += 2;
            room -= 2;
            size_t ol = strlen(old);
            if (ol > room) ol = room;
            memcpy(err->msg + used, old, ol);
            used += ol;
        }
        err->msg[used] = 0;
        one_line(err->msg);
    }
    return -1;
}
