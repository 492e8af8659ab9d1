/* bench_store.c - the store on its own: how fast scan results can be
 * written (images/s, with 1280-d embeddings and 1000 logits per image), and
 * how fast ranking can read everything back.
 *
 *   bench_store N [--group G] [--durable] [--keep DIR]
 *
 * Writes N synthetic images in transactions of G (default 2048, the scan's
 * largest group) through ordo_store_put_image, exactly as scan does, into a
 * fresh project (a temporary one, or DIR, which is kept: ranking benchmarks
 * can reuse it). Then reads back every item and converts every embedding to
 * float32. Reports peak RSS after each tenth of the writes: it must stay flat.
 * The synthetic data: embeddings from a mixture of 64 clusters, logits peaked
 * on a cluster-dependent class (see fill()). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "base/f16.h"
#include "bench_util.h"

static uint64_t rng(uint64_t *s)   /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float unif(uint64_t *s) { return (float)((rng(s) >> 40) * (1.0 / (1 << 24))); }

static void fill(int64_t k, const float *centres, float *logits, float *embed)
{
    uint64_t s = (uint64_t)k * 7919 + 1;
    int c = (int)(rng(&s) % 64);
    for (int i = 0; i < ORDO_STORE_EMBED; i++)
        embed[i] = centres[c * ORDO_STORE_EMBED + i] + 0.3f * (unif(&s) - 0.5f);
    for (int i = 0; i < ORDO_STORE_LOGITS; i++)
        logits[i] = 2 * unif(&s);
    logits[(c * 13 + (int)(rng(&s) % 3)) % 1000] += 6 + 4 * unif(&s);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_store N [--group G] [--durable] [--keep DIR]\n");
        return 2;
    }
    int64_t n = atoll(argv[1]);
    int group = 2048, durable = 0;
    const char *keep = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--group") && i + 1 < argc) group = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--durable")) durable = 1;
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc) keep = argv[++i];
        else { fprintf(stderr, "bench_store: unknown option %s\n", argv[i]); return 2; }
    }
    char dir[512];
    if (keep) {
        snprintf(dir, sizeof dir, "%s", keep);
        mkdir(dir, 0755);
    } else {
        snprintf(dir, sizeof dir, "/tmp/ordo_bench_store_XXXXXX");
        if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    }
    ordo_err err = {{0}};
    if (ordo_store_init(dir, "lite0", &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    ordo_store *s = ordo_store_open(dir, durable ? 0 : ORDO_STORE_FAST, &err);
    if (!s) { fprintf(stderr, "%s\n", err.msg); return 1; }
    float *centres = malloc(64 * ORDO_STORE_EMBED * sizeof(float));
    uint64_t seed = 42;
    for (int i = 0; i < 64 * ORDO_STORE_EMBED; i++)
        centres[i] = 2 * (unif(&seed) - 0.5f);
    /* A pool of synthetic rows made up front, so the timed loop measures the
     * store only (its cost does not depend on the values). */
    enum { POOL = 4096 };
    float *pl = malloc((size_t)POOL * ORDO_STORE_LOGITS * sizeof(float));
    float *pe = malloc((size_t)POOL * ORDO_STORE_EMBED * sizeof(float));
    if (!centres || !pl || !pe) { fprintf(stderr, "out of memory\n"); return 1; }
    for (int k = 0; k < POOL; k++)
        fill(k, centres, pl + (size_t)k * ORDO_STORE_LOGITS, pe + (size_t)k * ORDO_STORE_EMBED);
    int64_t scan = ordo_store_scan_begin(s, "/bench", "lite0", &err);
    printf("# bench_store: %lld images, transactions of %d, %s, into %s\n", (long long)n, group,
           durable ? "durable (fdatasync + synchronous=FULL)" : "fast (synchronous=NORMAL, no fdatasync)",
           dir);
    double t0 = bench_now_s(), c0 = bench_cpu_s();
    int64_t tenth = n / 10 > 0 ? n / 10 : 1;
    for (int64_t k = 0; k < n;) {
        if (ordo_store_begin(s, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        for (int g = 0; g < group && k < n; g++, k++) {
            char path[64];
            snprintf(path, sizeof path, "/bench/d%03lld/img%09lld.jpg", (long long)(k % 1000),
                     (long long)k);
            ordo_store_image_in in = {.path = path, .size = 100000 + k, .mtime_ns = k,
                                      .width = 640, .height = 480, .format = "jpeg",
                                      .logits = pl + (size_t)(k % POOL) * ORDO_STORE_LOGITS,
                                      .embed = pe + (size_t)(k % POOL) * ORDO_STORE_EMBED,
                                      .sports = (float)(k % 100) / 100, .scan_id = scan};
            uint64_t hs = (uint64_t)k + 1;
            uint64_t h1 = rng(&hs), h2 = rng(&hs);
            memcpy(in.hash, &h1, 8);
            memcpy(in.hash + 8, &h2, 8);
            if (ordo_store_put_image(s, &in, NULL, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
            if ((k + 1) % tenth == 0)
                printf("  written %9lld  peak RSS %6ld MB\n", (long long)(k + 1), bench_peak_rss_kb() / 1024);
        }
        if (ordo_store_commit(s, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    }
    double tw = bench_now_s() - t0, cw = bench_cpu_s() - c0;
    /* On a shared machine wall time includes waiting for a core (and, past
     * the page cache, for the disk: about 4.9 KB of matrices per image);
     * CPU time (user + system) is what the store itself costs. */
    printf("write: %.0f images/s wall, %.0f images per CPU-second (%.2f s wall, %.2f s CPU "
           "for %lld)\n", n / tw, n / cw, tw, cw, (long long)n);
    ordo_store_close(s);

    /* Read back as ranking would: every item, every embedding in float32. */
    s = ordo_store_open(dir, ORDO_STORE_RDONLY, &err);
    double t1 = bench_now_s();
    ordo_store_item *items;
    size_t cnt, rows;
    if (!s || ordo_store_items(s, &items, &cnt, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double t2 = bench_now_s();
    const uint16_t *E = ordo_store_embeddings(s, &rows, &err);
    if (!E) { fprintf(stderr, "%s\n", err.msg); return 1; }
    double sum = 0;
    float row[ORDO_STORE_EMBED];
    for (size_t i = 0; i < cnt; i++) {
        ordo_f16_to_f32(E + (size_t)items[i].slot * ORDO_STORE_EMBED, row, ORDO_STORE_EMBED);
        sum += row[0] + row[ORDO_STORE_EMBED - 1];
    }
    double t3 = bench_now_s();
    printf("read: %zu items in %.2f s, %zu embeddings to float32 in %.2f s (checksum %.3f)\n",
           cnt, t2 - t1, cnt, t3 - t2, sum);
    printf("peak RSS %ld MB (the read-back holds %zu items of %zu bytes and maps the matrix)\n",
           bench_peak_rss_kb() / 1024, cnt, sizeof *items);
    struct stat st;
    char p[600];
    snprintf(p, sizeof p, "%s/.ordo/ordo.db", dir);
    if (stat(p, &st) == 0)
        printf("database %.1f MB, embed.f16 %.1f MB\n", st.st_size / 1e6, rows * 2560 / 1e6);
    free(items);
    ordo_store_close(s);
    free(centres);
    free(pl);
    free(pe);
    if (!keep) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return 0;
}
