/* walk.h - deterministic recursive file listing.
 *
 * Visits every regular file under the given paths: a file path is visited
 * as is, a directory is walked recursively with entries sorted by name (so
 * runs are reproducible), symlinks to directories are followed but a
 * directory already on the current path (same device and inode) is never
 * entered twice, so symlink loops end. Unreadable directories are reported
 * through on_error and the walk goes on. */
#ifndef ORDO_WALK_H
#define ORDO_WALK_H

#include <sys/stat.h>

#include "base/err.h"

/* Return non-zero to stop the walk (ordo_walk then returns that value). */
typedef int (*ordo_walk_file_fn)(const char *path, const struct stat *st, void *ctx);
typedef void (*ordo_walk_error_fn)(const char *path, const char *reason, void *ctx);

/* Returns 0 when the walk completed, the callback's value if it stopped the
 * walk, or -1 with err set when a top-level path does not exist. on_error
 * may be NULL. */
int ordo_walk(char *const *paths, int npaths, ordo_walk_file_fn on_file,
              ordo_walk_error_fn on_error, void *ctx, ordo_err *err);

#endif
