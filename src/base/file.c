#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

int ordo_file_read(const char *path, size_t max, unsigned char **buf, size_t *len,
                   ordo_err *err)
{
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ordo_err_set(err, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ordo_err_set(err, "not a regular file");
    }
    if (max && (unsigned long long)st.st_size > max) {
        close(fd);
        return ordo_err_set(err, "file too large (%lld bytes, limit %zu)",
                            (long long)st.st_size, max);
    }
    /* The size can change under us (a file being written): read until EOF
     * rather than trusting st_size, growing as needed up to the cap. */
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
    unsigned char *b = malloc(cap);
    if (!b) {
        close(fd);
        return ordo_err_set(err, "out of memory reading %zu bytes", cap);
    }
    for (;;) {
        if (n == cap) {
            if (max && cap > max) {
                free(b);
                close(fd);
                return ordo_err_set(err, "file too large (limit %zu bytes)", max);
            }
            unsigned char *nb = realloc(b, cap * 2);
            if (!nb) { free(b); close(fd); return ordo_err_set(err, "out of memory"); }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(b);
            close(fd);
            return ordo_err_set(err, "read error: %s", strerror(e));
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = n;
    return 0;
}

void ordo_file_hash(const void *buf, size_t len, unsigned char out[ORDO_FILE_HASH_BYTES])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(buf, len));
    memcpy(out, c.digest, ORDO_FILE_HASH_BYTES);
}
