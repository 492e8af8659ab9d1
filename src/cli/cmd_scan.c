/* cmd_scan.c - `ordo scan PATH...`: classify folders of photos into the
 * project, incrementally and resumably (see src/scan/scan.h). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "dist/dist.h"
#include "nn/netlist.h"
#include "scan/scan.h"
#include "store/store.h"
#include "wordnet/sports.h"
#include "wordnet/wordnet.h"

#define MAX_REPORTED_FAILURES 20   /* then only counted, to keep stderr readable */

typedef struct scan_ui {
    int quiet, tty;
    double last_line;          /* elapsed time of the last plain line */
    int bar_shown;
    int64_t failures_shown, failures_hidden;
} scan_ui;

static volatile sig_atomic_t stop_flag;

static void on_sigint(int sig)
{
    (void)sig;
    stop_flag = 1;
    signal(SIGINT, SIG_DFL);   /* a second ^C ends the process at once */
    signal(SIGTERM, SIG_DFL);
}

/* File names may hold newlines and control characters: escape them so each
 * report stays one line. */
static void put_path(FILE *f, const char *p)
{
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
}

static void clear_bar(scan_ui *ui)
{
    if (ui->bar_shown) {
        fputs("\r\033[K", stderr);
        ui->bar_shown = 0;
    }
}

static void on_failed(const char *path, const char *kind, const char *msg, void *ctx)
{
    scan_ui *ui = ctx;
    if (ui->failures_shown >= MAX_REPORTED_FAILURES) {
        ui->failures_hidden++;
        return;
    }
    ui->failures_shown++;
    clear_bar(ui);
    fputs("ordo: ", stderr);
    put_path(stderr, path);
    fprintf(stderr, ": %s (%s)\n", msg, kind);
}

static void fmt_time(char *out, size_t cap, double s)
{
    if (s < 0 || s > 1e7) {
        snprintf(out, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, cap, "%ld:%02ld", t / 60, t % 60);
}

static void on_progress(const ordo_scan_progress *p, void *ctx)
{
    scan_ui *ui = ctx;
    if (ui->quiet)
        return;
    /* ETA from the overall pace over files (any outcome) and the counted total. */
    double pace = p->elapsed > 0 ? p->done / p->elapsed : 0;
    int64_t left = p->total > p->done ? p->total - p->done : 0;
    char eta[32];
    if (p->counting_done && pace > 0)
        fmt_time(eta, sizeof eta, left / pace);
    else
        snprintf(eta, sizeof eta, "?");
    if (ui->tty) {
        if (p->finished) {
            clear_bar(ui);
            return;
        }
        int width = 28;
        double frac = p->total > 0 ? (double)p->done / p->total : 0;
        if (frac > 1) frac = 1;
        int fill = (int)(frac * width);
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r\033[K[%s] %lld/%lld%s  %.1f img/s  ETA %s  errors %lld", bar,
                (long long)p->done, (long long)p->total, p->counting_done ? "" : "+",
                p->rate, eta, (long long)p->failed);
        fflush(stderr);
        ui->bar_shown = 1;
    } else if (!p->finished && p->elapsed - ui->last_line >= 10) {
        ui->last_line = p->elapsed;
        fprintf(stderr, "scan: %lld/%lld%s files, %.1f images/s, ETA %s, %lld errors\n",
                (long long)p->done, (long long)p->total, p->counting_done ? "" : "+",
                p->rate, eta, (long long)p->failed);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo scan [OPTIONS] PATH...\n"
            "Classifies every image under the PATHs (files or folders, recursively) into\n"
            "the project: path, size, mtime, content hash, pixel size, top-5 classes,\n"
            "max probability, margin, entropy, the embedding (1280 values per network)\n"
            "and the sports prior.\n"
            "Unchanged files are skipped, changed ones re-scanned, deleted ones marked\n"
            "missing. Interrupted (even by kill -9), it resumes where it stopped.\n\n"
            "  --project DIR       the project (default: $ORDO_PROJECT, else the current\n"
            "                      directory or its nearest parent holding .ordo/)\n"
            "  --model M           lite0, lite1 or lite2, or several joined by '+'\n"
            "                      (lite0+lite1+lite2: each photo decoded once and run\n"
            "                      through every network; embeddings side by side, the\n"
            "                      mean of their logits); default: the project's, else\n"
            "                      lite0+lite1+lite2 (lite0: 3.7x less CPU); a project\n"
            "                      never mixes models\n"
            "  --precision P       fp32 or int8 (default: the project's, else int8 on\n"
            "                      CPUs with AVX-512 VNNI, fp32 on others); a project\n"
            "                      never mixes precisions\n"
            "  --tta T             test-time augmentation, none or flip (the mean of the\n"
            "                      photo's and its mirror's outputs, twice the network\n"
            "                      time; default: the project's, else none); never mixed\n"
            "  --weights P         weights directory or .pth file\n"
            "  --threads N         network threads (default: all cores)\n"
            "  --decode-threads N  image decoding threads (default: all cores)\n"
            "  --batch N           images per network batch (default 16)\n"
            "  --sports-list F     synset list for the sports prior (see `ordo classes --sports`)\n"
            "  --no-sync           skip fsync per commit (still safe against kill -9,\n"
            "                      not against power loss)\n"
            "  --shard I/N         scan only shard I of N (by a hash of the path) into\n"
            "                      .ordo/shards/I-of-N/; `ordo merge` folds them in\n"
            "  --mpi               under mpirun: rank r scans shard r/P, rank 0 merges\n"
            "  --quiet             no progress and no summary\n");
}

int cli_scan(int argc, char **argv)
{
    const char *project = NULL, *sports_list = NULL;
    int shard_i = 0, shard_n = 0, use_mpi = 0;
    ordo_scan_opts so = {0};
    so.durable = 1;
    scan_ui ui = {0};
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"model", required_argument, NULL, 'm'},
        {"weights", required_argument, NULL, 'w'}, {"threads", required_argument, NULL, 't'},
        {"decode-threads", required_argument, NULL, 'd'},
        {"batch", required_argument, NULL, 'b'}, {"sports-list", required_argument, NULL, 's'},
        {"no-sync", no_argument, NULL, 'n'}, {"quiet", no_argument, NULL, 'q'},
        {"shard", required_argument, NULL, 'S'}, {"mpi", no_argument, NULL, 'M'},
        {"precision", required_argument, NULL, 'P'}, {"tta", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "p:m:w:t:d:b:s:nqh", opts, NULL)) != -1) {
        switch (o) {
        case 'p': project = optarg; break;
        case 'T': so.tta = optarg; break;
        case 'P': so.precision = optarg; break;
        case 'm': so.model = optarg; break;
        case 'w': so.weights = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &so.threads)) return 2; break;
        case 'd':
            if (cli_parse_int("--decode-threads", optarg, 1, 1024, &so.decode_threads)) return 2;
            break;
        case 'b': if (cli_parse_int("--batch", optarg, 1, 1024, &so.batch)) return 2; break;
        case 's': sports_list = optarg; break;
        case 'n': so.durable = 0; break;
        case 'q': ui.quiet = 1; break;
        case 'S': {
            ordo_err e = {{0}};
            if (ordo_dist_parse_shard(optarg, &shard_i, &shard_n, &e)) {
                fprintf(stderr, "ordo scan: --%s\n", e.msg);
                return 2;
            }
            break;
        }
        case 'M': use_mpi = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "ordo scan: no paths given\n");
        usage(stderr);
        return 2;
    }
    if (shard_n && use_mpi) {
        fprintf(stderr, "ordo scan: --shard and --mpi exclude each other (--mpi picks the shard)\n");
        return 2;
    }
    ordo_net_list nets;
    ordo_err merr;
    if (so.model && ordo_net_list_parse(so.model, &nets, &merr)) {
        fprintf(stderr, "ordo scan: %s\n", merr.msg);
        return 2;
    }
    if (so.tta && strcmp(so.tta, "none") && strcmp(so.tta, "flip")) {
        fprintf(stderr, "ordo scan: unknown test-time augmentation '%s' (none or flip)\n", so.tta);
        return 2;
    }
    if (so.precision && strcmp(so.precision, "fp32") && strcmp(so.precision, "int8")) {
        fprintf(stderr, "ordo scan: unknown precision '%s' (fp32 or int8)\n", so.precision);
        return 2;
    }
    ordo_err err = {{0}};
    char dir[4096];
    if (ordo_store_find(project, dir, sizeof dir, &err)) {
        fprintf(stderr, "ordo scan: %s\n", err.msg);
        return 1;
    }
    /* The sports prior needs WordNet; without it the scan still runs and
     * stores no prior (NULL), which later steps treat as unknown. */
    ordo_wn *wn = ordo_wn_open(NULL, &err);
    ordo_sports *sp = wn ? ordo_sports_new(wn, sports_list, &err) : NULL;
    if (!sp) {
        if (sports_list) {
            fprintf(stderr, "ordo scan: %s\n", err.msg);
            ordo_wn_free(wn);
            return 1;
        }
        fprintf(stderr, "ordo scan: warning: no sports prior: %s\n", err.msg);
    }
    so.sports = sp;
    ui.tty = isatty(STDERR_FILENO);
    so.progress = on_progress;
    so.progress_interval = ui.tty ? 0.2 : 1.0;
    so.on_failed = on_failed;
    so.ctx = &ui;
    so.stop = &stop_flag;
    stop_flag = 0;
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    ordo_scan_progress p = {0};
    int rc = shard_n || use_mpi
                 ? cli_scan_dist(dir, &argv[optind], argc - optind, &so, shard_i, shard_n,
                                 use_mpi, &ui.quiet, &p, &err)
                 : ordo_scan_run(dir, &argv[optind], argc - optind, &so, &p, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    clear_bar(&ui);
    ordo_sports_free(sp);
    ordo_wn_free(wn);
    if (ui.failures_hidden)
        fprintf(stderr, "ordo: ... and %lld more failed files (`ordo status` counts them)\n",
                (long long)ui.failures_hidden);
    if (!ui.quiet && (rc == 0 || stop_flag))
        fprintf(stderr,
                "scanned %lld files in %.1f s: %lld new images (%.1f/s), %lld duplicates, "
                "%lld unchanged, %lld failed, %lld not images, %lld now missing\n",
                (long long)p.done, p.elapsed, (long long)p.classified,
                p.elapsed > 0 ? (p.classified + p.duplicates) / p.elapsed : 0.0,
                (long long)p.duplicates, (long long)p.unchanged, (long long)p.failed,
                (long long)p.skipped, (long long)p.missing);
    if (rc) {
        fprintf(stderr, "ordo scan: %s\n", err.msg);
        return stop_flag ? 130 : 1;
    }
    return 0;
}
