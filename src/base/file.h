/* file.h - reading a whole file into memory, with a size cap. */
#ifndef ORDO_FILE_H
#define ORDO_FILE_H

#include <stddef.h>

#include "base/err.h"

/* Reads path into a new buffer (*buf, owned by the caller; free()). Files
 * larger than max bytes are refused with a message (max 0: no cap). */
int ordo_file_read(const char *path, size_t max, unsigned char **buf, size_t *len,
                   ordo_err *err);

#endif
