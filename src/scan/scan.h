/* scan.h - walk folders of photos into a project store.
 *
 * Pipeline (all in one process, memory bounded, independent of the number of
 * files):
 *   walker thread   lists files in a deterministic order (base/walk.h), asks
 *                   the store whether each is unchanged (path, size, mtime)
 *                   and queues it into a ring of work items;
 *   decode pool     reads, hashes (XXH3-128), sniffs and decodes files and
 *                   preprocesses them into the network's input (each
 *                   network's, from one decode, for a '+' list of networks);
 *   inference       runs the network(s) on batches, in walk order;
 *   writer          writes results in walk order, one transaction per group
 *                   of items, so a scan killed at any point and run again
 *                   ends with exactly the rows of an uninterrupted scan;
 *   counter thread  counts files ahead of the pipeline for the ETA.
 * Duplicated content (same hash) is stored once, and content the store
 * already has (a copy, a moved folder) is hashed but never decoded or run
 * through the network again; unchanged files are only touched; after a root's walk completes, files under it that the walk did
 * not see are marked missing (not if a directory under it was unreadable).
 *
 * Which files count: a file whose content is an image ordo reads is scanned,
 * whatever its name. A file that is not an image is skipped silently, unless
 * its name says it is one (.jpg, .png, ...): then it gets a failed row, as
 * does any file that cannot be read or decoded, a directory loop and an
 * unreadable directory. Failure kinds: empty, not_image, decode, unreadable,
 * vanished, too_large, loop, broken_link.
 */
#ifndef ORDO_SCAN_H
#define ORDO_SCAN_H

#include <signal.h>
#include <stdint.h>

#include "base/err.h"
#include "nn/net.h"
#include "wordnet/sports.h"

#define ORDO_SCAN_CROP_FRAC 0.875f   /* same as `ordo classify` */

typedef struct ordo_scan_progress {
    int64_t total;          /* files the counter found so far */
    int counting_done;      /* total is final */
    int64_t done;           /* files walked and written (any outcome) */
    int64_t unchanged;      /* skipped: same path, size and mtime */
    int64_t classified;     /* newly decoded and run through the network */
    int64_t duplicates;     /* new files whose content was already stored */
    int64_t failed;         /* failed rows written */
    int64_t skipped;        /* not images by content or name */
    int64_t missing;        /* marked missing */
    double elapsed;         /* seconds since the scan started */
    double rate;            /* classified images per second, recent */
    int finished;           /* last call */
} ordo_scan_progress;

typedef struct ordo_scan_opts {
    const char *model;          /* "lite0"..., or several joined by '+' ("lite0+lite1+lite2":
                                   each photo decoded once, every network run, the
                                   embeddings side by side and the logits' mean, see
                                   nn/netlist.h); NULL: the project's, else
                                   ORDO_STORE_DEFAULT_MODEL */
    const char *precision;      /* "fp32", "int8"; NULL: the project's, else
                                   ordo_net_default_precision (nn/net.h) */
    const char *weights;        /* --weights DIR or .pth file; NULL: default */
    int threads;                /* network threads; <= 0: all cores */
    int decode_threads;         /* decode pool; <= 0: all cores */
    int batch;                  /* images per forward pass; <= 0: 16 */
    int durable;                /* fsync every commit (power-loss safe) */
    const ordo_sports *sports;  /* sports prior; NULL stores none (NULL) */
    const char *tta;            /* test-time augmentation: "none", or "flip": the
                                   mean of the logits and embeddings of the
                                   image and its mirror image (twice the
                                   network time); NULL: the project's, else
                                   none. Recorded (ordo_store_use_tta): a
                                   project never mixes the two */
    /* Called from the writer thread after commits, at most every
     * progress_interval seconds (<= 0: 0.25), and once at the end. */
    void (*progress)(const ordo_scan_progress *p, void *ctx);
    double progress_interval;
    /* Called (writer thread) for every failed row written. */
    void (*on_failed)(const char *path, const char *kind, const char *msg, void *ctx);
    /* Called (walker thread) for every file listed, before it is read. */
    void (*on_found)(const char *path, void *ctx);
    void *ctx;
    /* Sharded scans (src/dist/): called (walker and counter threads, so it
     * must be thread-safe) for every file found; 0 leaves the file out as if
     * it were not there. NULL keeps all. Directory errors (loops, unreadable
     * folders) are never filtered: they decide, in every shard, whether a
     * root's walk was complete enough to mark files missing. */
    int (*keep)(const char *path, void *keep_ctx);
    void *keep_ctx;
    /* When *stop becomes non-zero (e.g. from a SIGINT handler) the walk ends,
     * work in flight is written, and ordo_scan_run fails with "interrupted". */
    const volatile sig_atomic_t *stop;
} ordo_scan_opts;

/* Scans paths (files or folders) into the project at project_dir. Records
 * the model in the project on first use and refuses a different one. Fills
 * *final (may be NULL) with the last progress. Fails only for reasons that
 * stop the whole scan (no project, no weights, another scan running, a path
 * that does not exist, database errors); per-file problems become rows. */
int ordo_scan_run(const char *project_dir, char *const *paths, int npaths,
                  const ordo_scan_opts *opts, ordo_scan_progress *final, ordo_err *err);

#endif
