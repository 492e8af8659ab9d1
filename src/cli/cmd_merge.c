/* cmd_merge.c - `ordo merge` (fold shard stores into the project) and the
 * sharded / MPI forms of `ordo scan` (--shard I/N, --mpi), which cmd_scan.c
 * hands over to cli_scan_dist. See src/dist/dist.h and docs/cluster.md. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/clock.h"
#include "dist/dist.h"
#include "scan/scan.h"
#include "store/store.h"

/* Slots of ordo_dist_report.count[] for a scan. */
enum {
    C_DONE, C_TOTAL, C_UNCHANGED, C_CLASSIFIED, C_DUPLICATES, C_FAILED, C_SKIPPED,
    C_MISSING, C_COUNTING_DONE
};

static void merge_line(const ordo_dist_merge_stats *st)
{
    fprintf(stderr,
            "merged %d of %d shard stores in %.1f s: %lld file rows read, %lld written, "
            "%lld new images, %lld now missing%s\n",
            st->merged, st->count, st->seconds, (long long)st->files, (long long)st->written,
            (long long)st->new_images, (long long)st->missing,
            st->up_to_date ? " (the others were merged already)" : "");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo merge [OPTIONS]\n"
            "Folds the shard stores written by `ordo scan --shard I/N` (in\n"
            "PROJECT/.ordo/shards/I-of-N/) into the project, as if one process had\n"
            "scanned everything. Safe to run again at any time: only what changed is\n"
            "written. Fails (exit 1, after merging what is there) while a shard is\n"
            "absent or its last scan did not finish.\n\n"
            "  --project DIR   the project (default: $ORDO_PROJECT, else the current\n"
            "                  directory or its nearest parent holding .ordo/)\n"
            "  --shards N      merge the shards I-of-N (default: the only N present)\n"
            "  --no-sync       skip fsync per commit (still safe against kill -9)\n"
            "  --quiet         no summary\n");
}

int cli_merge(int argc, char **argv)
{
    const char *project = NULL;
    int count = 0, durable = 1, quiet = 0;
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"shards", required_argument, NULL, 'n'},
        {"no-sync", no_argument, NULL, 's'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "p:n:sqh", opts, NULL)) != -1) {
        switch (o) {
        case 'p': project = optarg; break;
        case 'n':
            if (cli_parse_int("--shards", optarg, 1, ORDO_DIST_MAX_SHARDS, &count)) return 2;
            break;
        case 's': durable = 0; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ordo merge: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    ordo_err err = {{0}};
    char dir[4096];
    if (ordo_store_find(project, dir, sizeof dir, &err)) {
        fprintf(stderr, "ordo merge: %s\n", err.msg);
        return 1;
    }
    if (!count) {
        int counts[16];
        int n = ordo_dist_shard_counts(dir, counts, 16, &err);
        if (n < 0) {
            fprintf(stderr, "ordo merge: %s\n", err.msg);
            return 1;
        }
        if (n == 0) {
            fprintf(stderr, "ordo merge: no shard stores in %s/.ordo/shards (make them with "
                            "`ordo scan --shard I/N PATH...`)\n", dir);
            return 1;
        }
        if (n > 1) {
            fprintf(stderr, "ordo merge: shard stores of several sizes are present (");
            for (int i = 0; i < n; i++)
                fprintf(stderr, "%s%d", i ? ", " : "", counts[i]);
            fprintf(stderr, "); choose one with --shards N\n");
            return 2;
        }
        count = counts[0];
    }
    ordo_dist_merge_stats st;
    if (ordo_dist_merge(dir, count, durable, &st, &err)) {
        fprintf(stderr, "ordo merge: %s\n", err.msg);
        return 1;
    }
    if (!quiet) {
        if (st.merged == 0 && !st.incomplete)
            fprintf(stderr, "all %d shard stores are merged already; nothing to do\n", count);
        else if (st.merged > 0)
            merge_line(&st);
    }
    if (st.incomplete) {
        fprintf(stderr, "ordo merge: shard%s %s of %d %s not finished (absent, or the last scan "
                        "was interrupted); rerun `ordo scan --shard I/%d` for %s, then merge "
                        "again\n",
                st.incomplete > 1 ? "s" : "", st.incomplete_list, count,
                st.incomplete > 1 ? "are" : "is", count, st.incomplete > 1 ? "them" : "it");
        return 1;
    }
    return 0;
}

/* ---- sharded and MPI scans ------------------------------------------------------ */

typedef struct dist_scan {
    ordo_dist_mpi *mpi;           /* NULL: a single --shard I/N */
    const ordo_scan_opts *orig;   /* the caller's callbacks (progress UI) */
    ordo_dist_report own;
    ordo_err err;                 /* first MPI error seen in a callback */
    int comm_failed;
} dist_scan;

static void fill_report(ordo_dist_report *r, const ordo_scan_progress *p)
{
    int64_t *c = r->count;
    c[C_DONE] = p->done;
    c[C_TOTAL] = p->total;
    c[C_UNCHANGED] = p->unchanged;
    c[C_CLASSIFIED] = p->classified;
    c[C_DUPLICATES] = p->duplicates;
    c[C_FAILED] = p->failed;
    c[C_SKIPPED] = p->skipped;
    c[C_MISSING] = p->missing;
    c[C_COUNTING_DONE] = p->counting_done;
    r->elapsed = p->elapsed;
    r->rate = p->rate;
}

static void to_progress(const ordo_dist_report *r, int nranks, ordo_scan_progress *p)
{
    const int64_t *c = r->count;
    memset(p, 0, sizeof *p);
    p->done = c[C_DONE];
    p->total = c[C_TOTAL];
    p->unchanged = c[C_UNCHANGED];
    p->classified = c[C_CLASSIFIED];
    p->duplicates = c[C_DUPLICATES];
    p->failed = c[C_FAILED];
    p->skipped = c[C_SKIPPED];
    p->missing = c[C_MISSING];
    p->counting_done = c[C_COUNTING_DONE] == nranks;
    p->elapsed = r->elapsed;
    p->rate = r->rate;
}

/* The scan's progress callback on every rank: ranks > 0 send their counts
 * to rank 0 (one small message per interval), rank 0 shows the sum. */
static void dist_progress(const ordo_scan_progress *p, void *ctx)
{
    dist_scan *d = ctx;
    if (!d->mpi) {
        if (d->orig->progress)
            d->orig->progress(p, d->orig->ctx);
        return;
    }
    if (p->finished || d->comm_failed)
        return;   /* the final report is sent after the scan returns */
    fill_report(&d->own, p);
    if (ordo_dist_mpi_report(d->mpi, &d->own, &d->err)) {
        d->comm_failed = 1;
        return;
    }
    if (ordo_dist_mpi_rank(d->mpi) == 0 && d->orig->progress) {
        ordo_dist_report sum;
        int fin, bad;
        if (ordo_dist_mpi_poll(d->mpi, &sum, &fin, &bad, &d->err)) {
            d->comm_failed = 1;
            return;
        }
        ordo_scan_progress all;
        to_progress(&sum, ordo_dist_mpi_size(d->mpi), &all);
        d->orig->progress(&all, d->orig->ctx);
    }
}

static void dist_failed(const char *path, const char *kind, const char *msg, void *ctx)
{
    dist_scan *d = ctx;
    if (d->orig->on_failed)
        d->orig->on_failed(path, kind, msg, d->orig->ctx);
}

static void dist_found(const char *path, void *ctx)
{
    dist_scan *d = ctx;
    if (d->orig->on_found)
        d->orig->on_found(path, d->orig->ctx);
}

/* Scans shard index/count of the project; returns 0 or -1 with err. */
static int scan_shard(const char *project, char *const *paths, int npaths,
                      const ordo_scan_opts *so, dist_scan *d, int index, int count,
                      ordo_scan_progress *final, ordo_err *err)
{
    char sdir[4200], model[ORDO_STORE_MODEL_MAX];
    ordo_dist_filter *f = malloc(sizeof *f);
    if (!f)
        return ordo_err_set(err, "out of memory");
    int rc = -1;
    char prec[8], tta[8];
    ordo_store *ps = ordo_store_open(project, 0, err);
    if (!ps || ordo_store_use_precision(ps, so->precision, ordo_net_default_precision(), prec, err) ||
        ordo_store_use_tta(ps, so->tta, tta, err)) {
        ordo_store_close(ps);
        goto out;
    }
    ordo_store_close(ps);
    if (ordo_dist_shard_prepare(project, index, count, so->model, sdir, sizeof sdir, model,
                                err) ||
        ordo_dist_filter_init(f, project, index, count, err))
        goto out;
    ordo_scan_opts o = *so;
    o.model = model;
    o.precision = prec;
    o.tta = tta;
    o.keep = ordo_dist_keep;
    o.keep_ctx = f;
    o.progress = dist_progress;
    o.on_failed = so->on_failed ? dist_failed : NULL;
    o.on_found = so->on_found ? dist_found : NULL;
    o.ctx = d;
    if (ordo_scan_run(sdir, paths, npaths, &o, final, err))
        goto out;
    rc = ordo_dist_shard_complete(sdir, err);
out:
    free(f);
    return rc;
}

int cli_scan_dist(const char *project, char *const *paths, int npaths, ordo_scan_opts *so,
                  int shard_index, int shard_count, int use_mpi, int *quiet,
                  ordo_scan_progress *final, ordo_err *err)
{
    dist_scan d = {.orig = so};
    if (!use_mpi) {
        if (scan_shard(project, paths, npaths, so, &d, shard_index, shard_count, final, err))
            return ordo_err_wrap(err, "shard %d/%d", shard_index, shard_count);
        if (!*quiet)
            fprintf(stderr, "shard %d/%d is done; when all %d are, run `ordo merge`\n",
                    shard_index, shard_count, shard_count);
        return 0;
    }

    double t0 = ordo_clock_mono();
    ordo_dist_mpi *m = ordo_dist_mpi_init(NULL, NULL, err);
    if (!m)
        return -1;
    d.mpi = m;
    int rank = ordo_dist_mpi_rank(m), P = ordo_dist_mpi_size(m);
    if (rank != 0)
        *quiet = 1;   /* rank 0 speaks for the job */
    /* The ranks on one machine share its cores. */
    int per = cli_default_threads() / ordo_dist_mpi_local_size(m);
    if (per < 1)
        per = 1;
    if (so->threads <= 0)
        so->threads = per;
    if (so->decode_threads <= 0)
        so->decode_threads = per;
    if (rank == 0 && !*quiet)
        fprintf(stderr, "scan: %d MPI ranks, shard r/%d each, %d network thread%s per rank\n",
                P, P, so->threads, so->threads > 1 ? "s" : "");

    ordo_scan_progress mine = {0};
    ordo_err serr = {{0}};
    double t_scan = ordo_clock_mono();
    int src = scan_shard(project, paths, npaths, so, &d, rank, P, &mine, &serr);
    t_scan = ordo_clock_mono() - t_scan;
    fill_report(&d.own, &mine);
    d.own.finished = 1;
    d.own.failed = src != 0;
    d.own.elapsed = ordo_clock_mono() - t0;
    snprintf(d.own.msg, sizeof d.own.msg, "%s", src ? serr.msg : "");
    if (ordo_dist_mpi_report(m, &d.own, err)) {
        fprintf(stderr, "ordo scan: rank %d of %d: %s\n", rank, P, err->msg);
        ordo_dist_mpi_abort(m, 1);
    }

    int status = 0;
    double t_wait = 0, t_merge = 0;
    if (rank == 0) {
        t_wait = ordo_clock_mono();
        /* Wait for every rank's final report, still showing progress. */
        ordo_dist_report sum;
        int fin = 0, bad = -1;
        double last = 0;
        for (;;) {
            if (ordo_dist_mpi_poll(m, &sum, &fin, &bad, err)) {
                fprintf(stderr, "ordo scan: %s\n", err->msg);
                ordo_dist_mpi_abort(m, 1);
            }
            if (fin == P)
                break;
            double t = ordo_clock_mono() - t0;
            if (so->progress && t - last >= (so->progress_interval > 0 ? so->progress_interval
                                                                        : 0.25)) {
                ordo_scan_progress all;
                to_progress(&sum, P, &all);
                all.elapsed = t;
                so->progress(&all, so->ctx);
                last = t;
            }
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        t_wait = ordo_clock_mono() - t_wait;
        to_progress(&sum, P, final);
        final->elapsed = ordo_clock_mono() - t0;
        if (bad >= 0) {
            ordo_err_set(err, "rank %d of %d failed: %s; nothing merged (the other shards "
                              "are kept: rerun the same command to resume)",
                         bad, P, sum.msg);
            status = 1;
        } else {
            if (so->progress) {
                ordo_scan_progress all = *final;
                all.finished = 1;
                so->progress(&all, so->ctx);
            }
            ordo_dist_merge_stats st;
            t_merge = ordo_clock_mono();
            int mrc = ordo_dist_merge(project, P, so->durable, &st, err);
            t_merge = ordo_clock_mono() - t_merge;
            if (mrc) {
                ordo_err_wrap(err, "merging the %d shards", P);
                status = 1;
            } else {
                /* Content found in several shards is one image after the merge. */
                int64_t seen = final->classified + final->duplicates;
                final->classified = st.new_images < seen ? st.new_images : seen;
                final->duplicates = seen - final->classified;
                final->elapsed = ordo_clock_mono() - t0;
                if (!*quiet)
                    merge_line(&st);
            }
        }
        /* Where rank 0's time went: its own shard, waiting for the slower
         * ranks (load imbalance), the merge, and MPI calls themselves. */
        if (!*quiet)
            fprintf(stderr, "mpi: rank 0 scanned its shard in %.1f s, waited %.1f s for the "
                            "other ranks, merged in %.1f s; %.3f s in MPI calls (%.2f %% of "
                            "%.1f s)\n",
                    t_scan, t_wait, t_merge, ordo_dist_mpi_comm_seconds(m),
                    100.0 * ordo_dist_mpi_comm_seconds(m) / (ordo_clock_mono() - t0), ordo_clock_mono() - t0);
    } else if (src) {
        ordo_err_set(err, "rank %d of %d: %s", rank, P, serr.msg);
        status = 1;
    }
    ordo_err berr = {{0}};
    if (ordo_dist_mpi_bcast_int(m, &status, &berr)) {
        fprintf(stderr, "ordo scan: rank %d of %d: %s\n", rank, P, berr.msg);
        ordo_dist_mpi_abort(m, 1);
    }
    if (status && rank != 0 && !src)
        ordo_err_set(err, "rank %d of %d: the job failed (rank 0 says why)", rank, P);
    ordo_dist_mpi_finalize(m);
    return status ? -1 : 0;
}
