/* test_dist.c - the pure parts of src/dist: shard parsing and hashing, the
 * walk-order comparator the merge relies on (checked against ordo_walk on a
 * tree of awkward names), and row partitions. The MPI and merge paths are
 * tested end to end by tests/test_mpi.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/walk.h"
#include "dist/dist.h"
#include "test.h"

static void t_parse_shard(void)
{
    int i = -1, n = -1;
    ordo_err e;
    CHECK(ordo_dist_parse_shard("0/1", &i, &n, &e) == 0 && i == 0 && n == 1);
    CHECK(ordo_dist_parse_shard("7/16", &i, &n, &e) == 0 && i == 7 && n == 16);
    const char *bad[] = {"", "1", "1/", "/2", "2/2", "-1/3", "1/0", "a/3", "1/3x", "1 /3",
                         "0/4097", "99999999999999999999/3"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        CHECK_MSG(ordo_dist_parse_shard(bad[k], &i, &n, &e) == -1 && e.msg[0],
                  "'%s' accepted", bad[k]);
}

static void t_shard_of(void)
{
    /* Stable (rerun = same shard) and spread: 10,000 paths over 4 shards. */
    int count[4] = {0};
    char p[64];
    for (int k = 0; k < 10000; k++) {
        snprintf(p, sizeof p, "/photos/%05d.jpg", k);
        int s = ordo_dist_shard_of(p, 4);
        CHECK(s >= 0 && s < 4 && s == ordo_dist_shard_of(p, 4));
        count[s]++;
    }
    for (int s = 0; s < 4; s++)
        CHECK_MSG(count[s] > 2300 && count[s] < 2700, "shard %d got %d of 10000", s, count[s]);
    CHECK(ordo_dist_shard_of("/x", 1) == 0);
}

typedef struct seen {
    char **p;
    size_t n;
} seen;

static int collect(const char *path, const struct stat *st, void *ctx)
{
    (void)st;
    seen *s = ctx;
    s->p[s->n++] = strdup(path);
    return 0;
}

static void t_walk_order(void)
{
    char root[] = "/tmp/ordo_test_dist.XXXXXX";
    if (!mkdtemp(root))
        SKIP("no temp dir");
    /* Names where plain byte order of full paths and the walker's order
     * disagree ('/' vs ' ', '-', '.'), prefixes, high bytes. */
    const char *dirs[] = {"a", "a b", "a-b", "a.d", "a/z", "\xc3\xa9t\xc3\xa9", "b"};
    const char *files[] = {"a/1.jpg", "a/z/2.jpg", "a b/3.jpg", "a-b/4.jpg", "a.d/5.jpg",
                           "a.jpg", "a0.jpg", "\xc3\xa9t\xc3\xa9/6.jpg", "b/7.jpg", "B.jpg",
                           "a/z.jpg", "a/z-/x"};
    char p[512];
    for (size_t k = 0; k < sizeof dirs / sizeof *dirs; k++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[k]);
        mkdir(p, 0755);
    }
    snprintf(p, sizeof p, "%s/a/z-", root);
    mkdir(p, 0755);
    size_t nf = sizeof files / sizeof *files;
    for (size_t k = 0; k < nf; k++) {
        snprintf(p, sizeof p, "%s/%s", root, files[k]);
        FILE *f = fopen(p, "w");
        CHECK(f != NULL);
        if (f) fclose(f);
    }
    seen s = {calloc(64, sizeof(char *)), 0};
    char *roots[] = {root};
    ordo_err e;
    CHECK(ordo_walk(roots, 1, collect, NULL, &s, &e) == 0);
    CHECK(s.n == nf);
    for (size_t k = 1; k < s.n; k++)
        CHECK_MSG(ordo_dist_walk_cmp(s.p[k - 1], strlen(s.p[k - 1]), s.p[k], strlen(s.p[k])) < 0,
                  "walk visits %s before %s", s.p[k - 1], s.p[k]);
    for (size_t k = 0; k < s.n; k++) {
        CHECK(ordo_dist_walk_cmp(s.p[k], strlen(s.p[k]), s.p[k], strlen(s.p[k])) == 0);
        remove(s.p[k]);
        free(s.p[k]);
    }
    free(s.p);
    snprintf(p, sizeof p, "%s/a/z-", root);
    rmdir(p);
    for (size_t k = sizeof dirs / sizeof *dirs; k-- > 0;) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[k]);
        rmdir(p);
    }
    rmdir(root);
}

static void t_part(void)
{
    /* Parts tile [0, n) in rank order with bounds at multiples of align. */
    size_t ns[] = {0, 1, 2047, 2048, 2049, 10000, 1000000};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (int P = 1; P <= 5; P++) {
            size_t next = 0, n = ns[a];
            for (int r = 0; r < P; r++) {
                size_t lo, hi;
                ordo_dist_part(n, P, r, 2048, &lo, &hi);
                CHECK_MSG(lo == next && hi >= lo && hi <= n, "n=%zu P=%d r=%d: [%zu,%zu)", n,
                          P, r, lo, hi);
                CHECK(lo % 2048 == 0 && (hi % 2048 == 0 || hi == n));
                next = hi;
            }
            CHECK_MSG(next == n, "n=%zu P=%d: parts end at %zu", n, P, next);
        }
    size_t lo, hi;
    ordo_dist_part(1000000, 2, 0, 2048, &lo, &hi);
    CHECK(lo == 0 && hi > 400000 && hi < 600000);   /* even, to a block */
}

/* The Makefile compiles this test with the library's MPI flags, so it knows
 * which build it checks. Without mpirun nothing here may start MPI: the real
 * build is only checked to say so (tests/test_mpi.sh runs it under mpirun);
 * the stub must refuse --mpi with a message and act as one process. */
static void t_mpi_stub_or_real(void)
{
#ifdef ORDO_NO_MPI
    CHECK(ordo_dist_mpi_available() == 0);
    ordo_err err = {{0}};
    int argc = 1;
    char *args[] = {"ordo", NULL}, **argv = args;
    CHECK(ordo_dist_mpi_init(&argc, &argv, &err) == NULL);
    CHECK_MSG(strstr(err.msg, "without MPI") != NULL, "%s", err.msg);
    CHECK(ordo_dist_mpi_rank(NULL) == 0 && ordo_dist_mpi_size(NULL) == 1);
    int v = 7;
    CHECK(ordo_dist_mpi_bcast_int(NULL, &v, &err) == -1 && v == 7);
#else
    CHECK(ordo_dist_mpi_available() == 1);
#endif
}

int main(void)
{
    RUN(t_parse_shard);
    RUN(t_shard_of);
    RUN(t_walk_order);
    RUN(t_part);
    RUN(t_mpi_stub_or_real);
    return test_summary();
}
