/* file.h - reading a whole file into memory, with a size cap; the content
 * hash that names a photo's content in a project. */
#ifndef ORDO_FILE_H
#define ORDO_FILE_H

#include <stddef.h>

#include "base/err.h"

/* Reads path into a new buffer (*buf, owned by the caller; free()). Files
 * larger than max bytes are refused with a message (max 0: no cap). */
int ordo_file_read(const char *path, size_t max, unsigned char **buf, size_t *len,
                   ordo_err *err);

/* The content hash of a file's bytes, as every writer of a project's
 * images computes it (scan, import): XXH3-128, canonical (big-endian)
 * bytes. Two files with the same hash are one image. */
#define ORDO_FILE_HASH_BYTES 16
void ordo_file_hash(const void *buf, size_t len, unsigned char out[ORDO_FILE_HASH_BYTES]);

#endif
