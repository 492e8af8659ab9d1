/* dist_mpi.c - the MPI glue (Open MPI). The only file that includes mpi.h;
 * built with mpicc's flags (Makefile) or, without MPI, as a stub whose
 * calls fail with a clear message. */
#include "dist/dist.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef ORDO_NO_MPI
#include <mpi.h>

#define TAG_REPORT 7301

struct ordo_dist_mpi {
    int rank, size, local_size;
    double comm;                 /* seconds inside communication calls */
    ordo_dist_report *latest;    /* rank 0: newest report of every rank */
    ordo_rank_exec exec;         /* ranking executor over the ranks */
};

int ordo_dist_mpi_available(void) { return 1; }

static int mpi_fail(ordo_err *err, const char *what, int code)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "error %d", code);
    return ordo_err_set(err, "MPI: %s: %s", what, msg);
}

/* ---- the ranking executor ------------------------------------------------------
 * Row passes: rank r computes rows ordo_dist_part(n, P, r), then an in-place
 * MPI_Allgatherv of whole rows (a contiguous datatype, so counts stay small
 * integers) gives every rank all rows. Candidates: an MPI_Allgather of one
 * 24-byte record per rank, decided the same way on every rank. */

static void exec_part(void *ctx, size_t n, size_t align, size_t *lo, size_t *hi)
{
    const ordo_dist_mpi *m = ctx;
    ordo_dist_part(n, m->size, m->rank, align, lo, hi);
}

static void exec_fail(ordo_dist_mpi *m, ordo_err *err, const char *what, int code)
{
    mpi_fail(err, what, code);
    (void)m;
    /* A rank that left a collective would leave the others waiting forever. */
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static int exec_gather(void *ctx, void *rows, size_t n, size_t row_bytes, size_t align,
                       ordo_err *err)
{
    ordo_dist_mpi *m = ctx;
    if (row_bytes > INT_MAX || n > INT_MAX)
        return ordo_err_set(err, "MPI: %zu rows of %zu bytes are too many to exchange", n,
                            row_bytes);
    int *cnt = malloc(2 * (size_t)m->size * sizeof *cnt);
    if (!cnt)
        return ordo_err_set(err, "out of memory");
    int *disp = cnt + m->size;
    for (int r = 0; r < m->size; r++) {
        size_t lo, hi;
        ordo_dist_part(n, m->size, r, align, &lo, &hi);
        cnt[r] = (int)(hi - lo);
        disp[r] = (int)lo;
    }
    double t = MPI_Wtime();
    MPI_Datatype row;
    int rc = MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row);
    if (rc == MPI_SUCCESS && (rc = MPI_Type_commit(&row)) == MPI_SUCCESS) {
        rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rows, cnt, disp, row,
                            MPI_COMM_WORLD);
        MPI_Type_free(&row);
    }
    m->comm += MPI_Wtime() - t;
    free(cnt);
    if (rc != MPI_SUCCESS)
        exec_fail(m, err, "exchanging rows", rc);
    return 0;
}

/* Variable-size pieces (the near-duplicate join's pairs): an MPI_Allgather
 * of the byte counts, then an MPI_Allgatherv of the bytes. MPI counts are
 * int, so one process's piece and the total stay under 2 GiB. */
static int exec_concat(void *ctx, const void *mine, size_t bytes, void **out, size_t *out_bytes,
                       ordo_err *err)
{
    ordo_dist_mpi *m = ctx;
    *out = NULL;
    *out_bytes = 0;
    uint64_t own = bytes, *all = malloc((size_t)m->size * sizeof *all);
    int *cnt = malloc(2 * (size_t)m->size * sizeof *cnt);
    if (!all || !cnt) {
        free(all); free(cnt);
        return ordo_err_set(err, "out of memory");
    }
    double t = MPI_Wtime();
    int rc = MPI_Allgather(&own, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
    m->comm += MPI_Wtime() - t;
    if (rc != MPI_SUCCESS) {
        free(all); free(cnt);
        exec_fail(m, err, "exchanging sizes", rc);
        return -1;
    }
    uint64_t tot = 0;
    for (int r = 0; r < m->size; r++) tot += all[r];
    if (tot > INT_MAX) {
        free(all); free(cnt);
        /* every rank sees the same total, so all of them stop here */
        return ordo_err_set(err, "MPI: %llu bytes of results are too many to exchange",
                            (unsigned long long)tot);
    }
    int *disp = cnt + m->size;
    for (int r = 0, off = 0; r < m->size; r++) {
        cnt[r] = (int)all[r];
        disp[r] = off;
        off += cnt[r];
    }
    char *buf = malloc(tot ? tot : 1);
    if (!buf) {
        free(all); free(cnt);
        exec_fail(m, err, "out of memory for the results", MPI_ERR_NO_MEM);
        return -1;
    }
    t = MPI_Wtime();
    rc = MPI_Allgatherv(mine, (int)bytes, MPI_BYTE, buf, cnt, disp, MPI_BYTE, MPI_COMM_WORLD);
    m->comm += MPI_Wtime() - t;
    free(all); free(cnt);
    if (rc != MPI_SUCCESS) {
        free(buf);
        exec_fail(m, err, "exchanging results", rc);
        return -1;
    }
    *out = buf;
    *out_bytes = tot;
    return 0;
}

typedef struct cand {
    int32_t found;
    float value, aux;
    int32_t pad;
    uint64_t row;
} cand;

static int exec_best(void *ctx, int *found, float *value, size_t *row, float *aux,
                     ordo_err *err)
{
    ordo_dist_mpi *m = ctx;
    cand mine = {*found != 0, *value, *aux, 0, (uint64_t)*row};
    cand *all = malloc((size_t)m->size * sizeof *all);
    if (!all)
        return ordo_err_set(err, "out of memory");
    double t = MPI_Wtime();
    int rc = MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE,
                           MPI_COMM_WORLD);
    m->comm += MPI_Wtime() - t;
    if (rc != MPI_SUCCESS) {
        free(all);
        exec_fail(m, err, "choosing the best candidate", rc);
        return -1;
    }
    /* Largest value, ties the lower row: what one pass over all rows picks. */
    int b = -1;
    for (int r = 0; r < m->size; r++) {
        if (!all[r].found)
            continue;
        if (b < 0 || all[r].value > all[b].value ||
            (all[r].value == all[b].value && all[r].row < all[b].row))
            b = r;
    }
    *found = b >= 0;
    if (b >= 0) {
        *value = all[b].value;
        *row = (size_t)all[b].row;
        *aux = all[b].aux;
    }
    free(all);
    return 0;
}

const ordo_rank_exec *ordo_dist_mpi_rank_exec(ordo_dist_mpi *m) { return &m->exec; }

ordo_dist_mpi *ordo_dist_mpi_init(int *argc, char ***argv, ordo_err *err)
{
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    if (inited) {
        ordo_err_set(err, "MPI already initialised");
        return NULL;
    }
    int rc = MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) {
        ordo_err_set(err, "MPI_Init_thread failed (error %d); start ordo with mpirun", rc);
        return NULL;
    }
    if (provided < MPI_THREAD_SERIALIZED) {
        MPI_Finalize();
        ordo_err_set(err, "this MPI library offers thread level %d; ordo needs "
                          "MPI_THREAD_SERIALIZED", provided);
        return NULL;
    }
    /* Errors come back as codes; ordo decides (and aborts the job itself). */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    ordo_dist_mpi *m = calloc(1, sizeof *m);
    if (!m) {
        MPI_Finalize();
        ordo_err_set(err, "out of memory");
        return NULL;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    MPI_Comm local;
    m->local_size = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, m->rank, MPI_INFO_NULL,
                            &local) == MPI_SUCCESS) {
        MPI_Comm_size(local, &m->local_size);
        MPI_Comm_free(&local);
    }
    m->exec = (ordo_rank_exec){exec_part, exec_gather, exec_best, m, exec_concat};
    if (!(m->latest = calloc((size_t)m->size, sizeof *m->latest))) {
        free(m);
        MPI_Finalize();
        ordo_err_set(err, "out of memory");
        return NULL;
    }
    return m;
}

void ordo_dist_mpi_finalize(ordo_dist_mpi *m)
{
    if (!m)
        return;
    MPI_Finalize();
    free(m->latest);
    free(m);
}

void ordo_dist_mpi_abort(ordo_dist_mpi *m, int code)
{
    (void)m;
    MPI_Abort(MPI_COMM_WORLD, code);
    abort();   /* MPI_Abort does not return; keep the compiler sure of it */
}

int ordo_dist_mpi_rank(const ordo_dist_mpi *m) { return m->rank; }
int ordo_dist_mpi_size(const ordo_dist_mpi *m) { return m->size; }
int ordo_dist_mpi_local_size(const ordo_dist_mpi *m) { return m->local_size; }
double ordo_dist_mpi_comm_seconds(const ordo_dist_mpi *m) { return m->comm; }

int ordo_dist_mpi_report(ordo_dist_mpi *m, const ordo_dist_report *r, ordo_err *err)
{
    if (m->rank == 0) {
        m->latest[0] = *r;
        return 0;
    }
    /* About 600 bytes: below every transport's eager limit, so MPI_Send
     * returns at once whether or not rank 0 is receiving. */
    double t = MPI_Wtime();
    int rc = MPI_Send(r, (int)sizeof *r, MPI_BYTE, 0, TAG_REPORT, MPI_COMM_WORLD);
    m->comm += MPI_Wtime() - t;
    return rc == MPI_SUCCESS ? 0 : mpi_fail(err, "sending progress", rc);
}

int ordo_dist_mpi_poll(ordo_dist_mpi *m, ordo_dist_report *sum, int *finished,
                       int *failed_rank, ordo_err *err)
{
    if (m->rank != 0)
        return ordo_err_set(err, "progress is collected on rank 0 only");
    double t = MPI_Wtime();
    for (;;) {
        int flag = 0;
        MPI_Status stt;
        int rc = MPI_Iprobe(MPI_ANY_SOURCE, TAG_REPORT, MPI_COMM_WORLD, &flag, &stt);
        if (rc != MPI_SUCCESS) {
            m->comm += MPI_Wtime() - t;
            return mpi_fail(err, "waiting for progress", rc);
        }
        if (!flag)
            break;
        int src = stt.MPI_SOURCE, bytes = 0;
        MPI_Get_count(&stt, MPI_BYTE, &bytes);
        ordo_dist_report r;
        rc = MPI_Recv(&r, (int)sizeof r, MPI_BYTE, src, TAG_REPORT, MPI_COMM_WORLD,
                      MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) {
            m->comm += MPI_Wtime() - t;
            return mpi_fail(err, "receiving progress", rc);
        }
        if (bytes == (int)sizeof r && src > 0 && src < m->size) {
            r.msg[sizeof r.msg - 1] = 0;
            m->latest[src] = r;
        }
    }
    m->comm += MPI_Wtime() - t;
    memset(sum, 0, sizeof *sum);
    *finished = 0;
    *failed_rank = -1;
    for (int i = 0; i < m->size; i++) {
        const ordo_dist_report *r = &m->latest[i];
        for (int k = 0; k < ORDO_DIST_NCOUNTS; k++)
            sum->count[k] += r->count[k];
        if (r->elapsed > sum->elapsed)
            sum->elapsed = r->elapsed;
        sum->rate += r->rate;
        *finished += r->finished != 0;
        if (r->failed && *failed_rank < 0) {
            *failed_rank = i;
            memcpy(sum->msg, r->msg, sizeof sum->msg);
            sum->failed = 1;
        }
    }
    sum->finished = *finished == m->size;
    return 0;
}

int ordo_dist_mpi_bcast_int(ordo_dist_mpi *m, int *v, ordo_err *err)
{
    double t = MPI_Wtime();
    MPI_Request req;
    int rc = MPI_Ibcast(v, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    while (rc == MPI_SUCCESS) {
        int done = 0;
        rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (done)
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    m->comm += MPI_Wtime() - t;
    return rc == MPI_SUCCESS ? 0 : mpi_fail(err, "broadcast", rc);
}

#else /* ORDO_NO_MPI: the stub */

struct ordo_dist_mpi {
    int unused;
};

int ordo_dist_mpi_available(void) { return 0; }

ordo_dist_mpi *ordo_dist_mpi_init(int *argc, char ***argv, ordo_err *err)
{
    (void)argc;
    (void)argv;
    ordo_err_set(err, "this ordo was built without MPI (install libopenmpi-dev and rebuild)");
    return NULL;
}
void ordo_dist_mpi_finalize(ordo_dist_mpi *m) { (void)m; }
void ordo_dist_mpi_abort(ordo_dist_mpi *m, int code)
{
    (void)m;
    exit(code);
}
int ordo_dist_mpi_rank(const ordo_dist_mpi *m) { (void)m; return 0; }
int ordo_dist_mpi_size(const ordo_dist_mpi *m) { (void)m; return 1; }
int ordo_dist_mpi_local_size(const ordo_dist_mpi *m) { (void)m; return 1; }
double ordo_dist_mpi_comm_seconds(const ordo_dist_mpi *m) { (void)m; return 0; }
int ordo_dist_mpi_report(ordo_dist_mpi *m, const ordo_dist_report *r, ordo_err *err)
{
    (void)m;
    (void)r;
    return ordo_err_set(err, "built without MPI");
}
int ordo_dist_mpi_poll(ordo_dist_mpi *m, ordo_dist_report *sum, int *finished,
                       int *failed_rank, ordo_err *err)
{
    (void)m;
    (void)sum;
    (void)finished;
    (void)failed_rank;
    return ordo_err_set(err, "built without MPI");
}
int ordo_dist_mpi_bcast_int(ordo_dist_mpi *m, int *v, ordo_err *err)
{
    (void)m;
    (void)v;
    return ordo_err_set(err, "built without MPI");
}
const ordo_rank_exec *ordo_dist_mpi_rank_exec(ordo_dist_mpi *m)
{
    (void)m;
    return NULL;
}

#endif
