/* dist.h - scale-out: sharded scans, merging shard stores, and the MPI glue.
 *
 * The foundation is the shard/merge form, which needs no MPI at all:
 *   ordo scan --shard I/N PATH...   walks every PATH but scans only the files
 *       whose absolute path hashes (XXH3-64 mod N) to shard I, into a shard
 *       store PROJECT/.ordo/shards/I-of-N/ that is itself an ordo project, so
 *       it is incremental and resumable (kill -9) exactly like a plain scan;
 *   ordo merge                      folds the N shard stores into the project
 *       store, walking all shards' files together in the walker's order.
 * MPI is a thin driver over it: rank r of P scans shard r/P, progress is
 * summed on rank 0, and rank 0 merges (see docs/cluster.md for why shards
 * and not "rank 0 writes everything").
 *
 * Merge result = single-process result. The walker visits files in a fixed
 * order (names sorted, depth first) and the single-process scan writes them
 * in that order; the merge replays the union of the shards' file rows in the
 * same order, so a fresh project gets the same file ids, image ids and matrix
 * slots (byte-identical embed.f16 / logits.f16) as a single-process scan of
 * the same root. Image rows (scores, sports prior) and f16 matrix rows are
 * copied, never recomputed. Content seen in several shards is stored once
 * (dedup by hash, the first file in walk order owns the image). Several
 * roots: the merge orders by path only, so ids match a single-process scan
 * when the roots are given in sorted order; contents match regardless.
 *
 * Idempotent and crash-safe: every change goes through the store's write
 * transactions (groups of rows); a file row already equal to the shard's is
 * left alone, so an interrupted merge is simply run again; a shard whose
 * newest scan was already merged is skipped (table dist_merged).
 */
#ifndef ORDO_DIST_H
#define ORDO_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "rank/rank.h"

#define ORDO_DIST_MAX_SHARDS 4096

/* ---- shards ---------------------------------------------------------------- */

/* Parses "I/N" (0 <= I < N <= ORDO_DIST_MAX_SHARDS). */
int ordo_dist_parse_shard(const char *s, int *index, int *count, ordo_err *err);

/* The shard in [0, count) of an absolute path: XXH3-64 of its bytes mod
 * count. Stable across runs and machines, so reruns hit the same shard. */
int ordo_dist_shard_of(const char *path, int count);

/* The walker's order of two paths under one root (raw bytes): component by
 * component, each compared like strcmp; i.e. bytewise with '/' lowest.
 * Returns <0, 0, >0. */
int ordo_dist_walk_cmp(const void *a, size_t na, const void *b, size_t nb);

/* Rows [*lo, *hi) of n that process r of P owns: contiguous, in rank
 * order, bounds at multiples of align (the last ends at n), as even as
 * whole blocks allow. */
void ordo_dist_part(size_t n, int P, int r, size_t align, size_t *lo, size_t *hi);

/* Writes PROJECT/.ordo/shards/I-of-N to out. */
int ordo_dist_shard_dir(const char *project, int index, int count, char *out, size_t cap,
                        ordo_err *err);

/* Prepares shard index/count of the project for a scan: records `model` in
 * the project (NULL: the project's, else ORDO_STORE_DEFAULT_MODEL; a different one is
 * refused as for a plain scan), creates the shard store if absent, and
 * writes the shard directory to out and the model used to model_out
 * (ORDO_STORE_MODEL_MAX bytes). */
int ordo_dist_shard_prepare(const char *project, int index, int count, const char *model,
                            char *out, size_t cap, char *model_out, ordo_err *err);

/* What a sharded scan keeps (plain data; fill with ordo_dist_filter_init). */
typedef struct ordo_dist_filter {
    int index, count;
    size_t skip_len;
    char skip[4200];   /* "PROJECT/.ordo/": never scanned (shards live there) */
} ordo_dist_filter;

int ordo_dist_filter_init(ordo_dist_filter *f, const char *project, int index, int count,
                          ordo_err *err);

/* ordo_scan_opts.keep for a filter: 1 if path is in the filter's shard.
 * Thread-safe (reads the filter only). */
int ordo_dist_keep(const char *path, void *filter);

/* Records that the shard store's newest scan completed (call after
 * ordo_scan_run succeeded on it). Only complete shards count as done. */
int ordo_dist_shard_complete(const char *shard_dir, ordo_err *err);

/* ---- merge ------------------------------------------------------------------- */

typedef struct ordo_dist_merge_stats {
    int count;             /* N */
    int merged;            /* shard stores read */
    int up_to_date;        /* shard stores unchanged since their last merge */
    int incomplete;        /* shards absent, or whose newest scan did not finish */
    char incomplete_list[256];   /* "2,5" (truncated with "...") */
    int64_t files;         /* shard file rows read */
    int64_t written;       /* project file rows changed */
    int64_t new_images;    /* image rows (with their matrix rows) copied */
    int64_t missing;       /* files newly marked missing */
    double seconds;
} ordo_dist_merge_stats;

/* Shard counts N with at least one shard store present, ascending; returns
 * how many (at most cap are written), or -1. */
int ordo_dist_shard_counts(const char *project, int *counts, int cap, ordo_err *err);

/* Merges the shard stores I-of-count (I = 0..count-1; absent ones are
 * counted as incomplete) into the project. durable: fsync per commit.
 * Holds the project's scan lock and each shard's for the whole merge.
 * Succeeds (0) even with incomplete shards: what is there is merged
 * consistently; the caller decides how to report st->incomplete. */
int ordo_dist_merge(const char *project, int count, int durable, ordo_dist_merge_stats *st,
                    ordo_err *err);

/* ---- MPI (dist_mpi.c) ------------------------------------------------------- *
 * Only code behind --mpi calls these; MPI_Init runs in ordo_dist_mpi_init. */

typedef struct ordo_dist_mpi ordo_dist_mpi;   /* opaque */

/* 0 when ordo was built without MPI (every other call then fails). */
int ordo_dist_mpi_available(void);

/* MPI_Init_thread (MPI_THREAD_SERIALIZED: one thread at a time calls MPI,
 * e.g. a scan's writer thread while the main thread waits in the scan). */
ordo_dist_mpi *ordo_dist_mpi_init(int *argc, char ***argv, ordo_err *err);
/* MPI_Finalize and free. */
void ordo_dist_mpi_finalize(ordo_dist_mpi *m);
/* MPI_Abort of the whole job (never returns). */
void ordo_dist_mpi_abort(ordo_dist_mpi *m, int code);

int ordo_dist_mpi_rank(const ordo_dist_mpi *m);
int ordo_dist_mpi_size(const ordo_dist_mpi *m);
/* Ranks on this node (shared memory), for the default thread count. */
int ordo_dist_mpi_local_size(const ordo_dist_mpi *m);

/* Seconds spent inside MPI communication calls so far (MPI_Wtime). */
double ordo_dist_mpi_comm_seconds(const ordo_dist_mpi *m);

/* Progress of one rank's work: counters that add up over ranks. */
#define ORDO_DIST_NCOUNTS 10
typedef struct ordo_dist_report {
    int64_t count[ORDO_DIST_NCOUNTS];
    int32_t finished;      /* the rank's last report */
    int32_t failed;        /* finished with an error (msg) */
    double elapsed;        /* seconds since the rank started; the sum holds the max */
    double rate;           /* recent items per second; adds up */
    char msg[ORDO_ERR_MAX];
} ordo_dist_report;

/* Rank != 0: sends this rank's report to rank 0 (a small message; never
 * waits for rank 0 to receive it). Rank 0: records its own report. */
int ordo_dist_mpi_report(ordo_dist_mpi *m, const ordo_dist_report *r, ordo_err *err);

/* Rank 0 only: receives every report pending (never blocks) and writes the
 * sum over the newest report of each rank to *sum, the number of ranks that
 * finished to *finished and the lowest failed rank to *failed_rank (-1 if
 * none; its message is in sum->msg). */
int ordo_dist_mpi_poll(ordo_dist_mpi *m, ordo_dist_report *sum, int *finished,
                       int *failed_rank, ordo_err *err);

/* The ranking executor over this job's ranks (rank.h: ordo_rank_exec),
 * owned by m: every rank passes the same pool to ordo_rank_compose and gets
 * the same batch as one process would, with the row passes split. Its
 * callbacks abort the job (MPI_Abort) if a collective fails: the ranks could
 * not agree on a batch any more. Time in its collectives counts in
 * ordo_dist_mpi_comm_seconds. */
const ordo_rank_exec *ordo_dist_mpi_rank_exec(ordo_dist_mpi *m);

/* Broadcast of one int from rank 0 that waits by polling with short sleeps
 * (a blocking MPI call would spin a core while rank 0 works, e.g. merges). */
int ordo_dist_mpi_bcast_int(ordo_dist_mpi *m, int *v, ordo_err *err);

#endif
