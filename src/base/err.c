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
        char prefix[ORDO_ERR_MAX], old[ORDO_ERR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof old);
        snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    }
    return -1;
}
