#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ordo_err_set(ordo_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
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
    }
    return -1;
}
