/* store.h - the ordo project: one SQLite database plus two matrix side files.
 *
 * Layout of a project rooted at DIR:
 *   DIR/.ordo/ordo.db       SQLite (WAL mode): every table below
 *   DIR/.ordo/embed.f16     embeddings: row `slot` = embed_dim IEEE half floats
 *                           (LE); 1280 per network for ordo's own (3,840
 *                           for lite0+lite1+lite2), the imported width for
 *                           another model's vectors
 *   DIR/.ordo/logits.f16    logits: row `slot` = logits_dim half floats (LE);
 *                           the 1000 ImageNet classes, or an imported model's
 *                           own classes (table `classes`)
 * The matrices are raw rows with no header so they can be memory-mapped and
 * read at disk speed; their widths are in the `meta` table (embed_dim,
 * logits_dim), fixed before the first image is stored, and only the store
 * knows them: every reader asks ordo_store_embed_dim / ordo_store_logits_dim.
 *
 * Crash safety (SIGKILL or power loss at any moment): SQLite is the truth.
 * Matrix rows are written (pwrite, then fdatasync when durable) *before* the
 * transaction that references them commits, at slots >= the committed
 * `next_slot`. A crash leaves at most unreferenced garbage past next_slot,
 * which the next writer overwrites. A committed row never changes its slot:
 * re-scanning a changed file writes a new slot (copy on write).
 *
 * Tables (schema version 1; other modules add their own tables with their
 * prefix through ordo_store_db(), and must write inside ordo_store_begin /
 * ordo_store_commit so they share the one write transaction discipline):
 *   meta(key TEXT PRIMARY KEY, value)        model, schema, next_slot, dims
 *   scans(id, started, finished, roots, model, seen, processed, failed, missing)
 *   images(id, hash BLOB UNIQUE, slot, width, height, format,
 *          top_class0..4, top_prob0..4, max_prob, margin, entropy,
 *          sports, nfiles, created_scan)
 *       One row per distinct content (XXH3-128 of the file bytes) that was
 *       decoded and classified. `nfiles` = files currently present with this
 *       content (0 = every copy is missing; its labels are kept).
 *   files(id, path BLOB UNIQUE, size, mtime_ns, hash, image_id, state,
 *         error_kind, error, seen_scan, scan_id)
 *       One row per path seen. path is the raw bytes of the absolute path
 *       (names may be invalid UTF-8). state: 0 ok, 1 failed (error_kind and
 *       error say why), 2 missing (was there, gone at a later full walk).
 *   labels(id, image_id, label, annotator, source, reason, created)
 *       Append-only label events; the current label of an image is its
 *       newest event ("skip" or "" = not labeled). Written only through
 *       ordo_store_labels_add (the CLI, imports, the page); every reader of
 *       *current* labels selects from the views below, never from its own
 *       GROUP BY.
 *   current_labels(id, image_id, label, annotator, source, reason, created,
 *                  events)
 *       A TEMP VIEW every handle creates on open (so the database file is
 *       unchanged): the newest event of every image that has one, and how
 *       many events that image has. The one place the "newest event per
 *       image" query is written.
 *   current_answers(id, image_id, label, annotator, source, reason, created,
 *                   first)
 *       The same per (image, annotator): each annotator's newest answer,
 *       reviews (source 'review') left out; first = the id of that
 *       annotator's first answer to the image (agreement, review queue).
 *   current_ui_answers(...)  the same over the page's answers (source 'ui')
 *       only (double annotation).
 *
 *   classes(idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)
 *       Only in a project whose imported probabilities are over the model's
 *       own classes: the name of each logit column (ordo_store_class_names).
 *       Absent: the columns are the 1000 ImageNet classes (wordnet/).
 *
 *   rank_eval(image_id INTEGER PRIMARY KEY, key REAL, seed INTEGER, created REAL)
 *       The evaluation sample (created by its first draw; the name is from
 *       when rank owned it): a fixed uniform random sample of images whose
 *       labels only ever measure models, never train them. rank draws and
 *       extends it (ordo_loop_pool_eval), learn evaluates on it; both go
 *       through ordo_store_eval_read / ordo_store_eval_add.
 *
 * Threads: an ordo_store handle is used by one thread at a time; open one
 * handle per thread (SQLite WAL lets readers run beside the one writer).
 */
#ifndef ORDO_STORE_H
#define ORDO_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/f16.h"

typedef struct ordo_store ordo_store;   /* opaque */

#define ORDO_STORE_DIRNAME ".ordo"
/* The widths of ordo's own networks (lite0/1/2) and of a new project's
 * matrices. A project's actual widths: ordo_store_embed_dim / _logits_dim. */
#define ORDO_STORE_EMBED 1280
#define ORDO_STORE_LOGITS 1000
#define ORDO_STORE_DIM_MAX 65536   /* widest matrix a project may have */
#define ORDO_STORE_TOPK 5
#define ORDO_STORE_MODEL_MAX 64   /* model names are shorter than this */

/* ---- finding, creating, opening a project ------------------------------ */

/* Resolves the project directory: `flag` (--project) if non-NULL, else
 * $ORDO_PROJECT, else the current directory or its nearest ancestor holding
 * a .ordo/ folder (like git). Writes the absolute directory to out. Fails
 * with a message naming `ordo init` when none is found. */
int ordo_store_find(const char *flag, char *out, size_t cap, ordo_err *err);

/* The model of a project whose first scan names none (`ordo init` without
 * --model, then `ordo scan`): the three networks side by side, because on
 * sports100 they buy +4.9 accuracy points at 1,000 labels and +3.4 with
 * every label over lite0 (docs/learn.md), worth far more than the 3.7x scan
 * CPU when labels are the expensive part; lite0 stays the documented fast
 * choice (`--model lite0`). */
#define ORDO_STORE_DEFAULT_MODEL "lite0+lite1+lite2"

/* Creates DIR/.ordo and its database (DIR must exist). model may be NULL
 * (recorded at the first scan) or a scan model: "lite0"/"lite1"/"lite2", or
 * several distinct ones joined by '+' ("lite0+lite1+lite2", nn/netlist.h),
 * whose embedding rows are 1280 values per network. Fails if a project
 * already exists there, or for any other model name, writing nothing. */
int ordo_store_init(const char *dir, const char *model, ordo_err *err);

enum {
    ORDO_STORE_RDONLY = 1,    /* never write (status, rank, readers) */
    ORDO_STORE_FAST = 2       /* skip fdatasync of side files (benchmarks,
                                 tests); still SIGKILL-safe, not power-safe */
};

/* Opens the project at dir (the folder holding .ordo/). */
ordo_store *ordo_store_open(const char *dir, int flags, ordo_err *err);
void ordo_store_close(ordo_store *s);

const char *ordo_store_dir(const ordo_store *s);   /* the project root */

/* The widths of this project's matrices (values per row): embeddings and
 * logits. As read at open, at the last ordo_store_begin, or at the last
 * ordo_store_embeddings / ordo_store_logits map (an import into an empty
 * project sets them once). 1280 per network and 1000 for a scanned project. */
int ordo_store_embed_dim(const ordo_store *s);
int ordo_store_logits_dim(const ordo_store *s);

/* The raw SQLite connection (sqlite3 *), for modules that own tables. */
void *ordo_store_db(ordo_store *s);

/* ---- the model --------------------------------------------------------- */

/* The network's precision, "fp32" or "int8" (see nn/net.h): recorded like
 * the model (meta key "precision"), so a project's embeddings and
 * probabilities never mix precisions. want: the precision asked for, or
 * NULL for the project's, else dflt (the caller's default: the scan's is
 * nn's ordo_net_default_precision; NULL: "fp32"). Records it if none is
 * recorded, refuses a different one with a clear message, and copies the
 * result into out (8 bytes). A project scanned before precisions were
 * recorded counts as fp32. */
int ordo_store_use_precision(ordo_store *s, const char *want, const char *dflt, char *out,
                             ordo_err *err);
/* The recorded precision ("" if none yet; "fp32" for a project scanned
 * before precisions were recorded) into out (8 bytes), without a
 * transaction of its own (so a caller's transaction may be open). */
int ordo_store_precision(ordo_store *s, char *out, ordo_err *err);

/* Test-time augmentation of the scan, "none" or "flip" (the mean of the
 * network's outputs for the image and its mirror, see scan.h): recorded
 * like the precision (meta key "tta"), so a project's vectors never mix
 * the two. ordo_store_tta: the recorded one ("none" when nothing is
 * recorded) into out (8 bytes). ordo_store_use_tta: want ("none", "flip",
 * or NULL: the recorded one) is recorded and copied to out, or refused
 * with a message when the project holds images scanned the other way. */
int ordo_store_tta(ordo_store *s, char *out, ordo_err *err);
int ordo_store_use_tta(ordo_store *s, const char *want, char *out, ordo_err *err);

/* Copies the recorded model ("" if none yet) into out. */
int ordo_store_model(ordo_store *s, char *out, size_t cap, ordo_err *err);

/* Records model (a scan model, see ordo_store_init) if none is recorded,
 * fixing the embedding rows' width (1280 per network); fails with a clear
 * message if a different one is, or if the project's vectors were
 * imported. */
int ordo_store_set_model(ordo_store *s, const char *model, ordo_err *err);

/* ---- imported vectors ----------------------------------------------------
 * A project's vectors come from one model only. `ordo scan` records
 * lite0/1/2 (1280-d embeddings, ImageNet logits) or a '+' list of them
 * (1280 columns per network, the mean of their logits); an import records any
 * model name with its embedding width `dim` (1 to ORDO_STORE_DIM_MAX),
 * which becomes the embedding matrix's width, and whether it brought
 * probabilities: over the 1000 ImageNet classes, or over the model's own
 * classes (their names go in table `classes`, their number is the logit
 * matrix's width). (Projects imported before widths were per project hold
 * narrower vectors zero-padded to 1280: zeros change no dot product,
 * distance or norm.) Without probabilities the logit row is zero (uniform:
 * no opinion) until `ordo train` gives the project its own classifier. */
typedef struct ordo_store_source {
    char model[ORDO_STORE_MODEL_MAX];   /* "" when nothing is recorded yet */
    int dim;                            /* meaningful embedding columns */
    int probs;                          /* 1: logits are real (scan, or imported
                                           probabilities) */
    int nclasses;                       /* > 0: the probabilities are over the
                                           model's own classes (this many);
                                           0: ImageNet's (or none) */
} ordo_store_source;

int ordo_store_get_source(ordo_store *s, ordo_store_source *src, ordo_err *err);

/* Inside a write transaction: records (model, dim, probs, classes) when the
 * project has no model and no image yet (fixing the matrices' widths), else
 * checks they are the recorded ones and fails with a message saying why two
 * models or two class sets are never mixed. classes = NULL: the
 * probabilities (if probs) are over ImageNet's 1000 classes; else nclasses
 * (2 to ORDO_STORE_DIM_MAX) distinct names, each following
 * ORDO_STORE_LABEL_RULE, in the order of the probability columns. */
int ordo_store_set_source(ordo_store *s, const char *model, int dim, int probs,
                          const char *const *classes, int nclasses, ordo_err *err);

/* The names of the project's own classes (logit columns) when its
 * probabilities were imported over a model's own classes: *names malloc'd
 * (free with ordo_store_class_names_free), *n of them. *n = 0 and *names =
 * NULL when the columns are ImageNet's (ask wordnet/ for their names). */
int ordo_store_class_names(ordo_store *s, char ***names, int *n, ordo_err *err);
void ordo_store_class_names_free(char **names, int n);

/* ---- write transactions ------------------------------------------------ */

/* BEGIN IMMEDIATE (waits for other writers) / COMMIT (after syncing the
 * side files) / ROLLBACK. Every ordo_store_put_* call must be inside. */
int ordo_store_begin(ordo_store *s, ordo_err *err);
int ordo_store_commit(ordo_store *s, ordo_err *err);
void ordo_store_rollback(ordo_store *s);

/* ---- scans --------------------------------------------------------------- */

/* Starts a scan record (one statement: its own transaction, or part of an
 * open write transaction, as an import's record is); returns its id (> 0)
 * or -1. roots and model are what the record names: the scanned folders and
 * the network, or the imported file and the model its vectors come from. */
int64_t ordo_store_scan_begin(ordo_store *s, const char *roots, const char *model,
                              ordo_err *err);

typedef struct ordo_store_scan_counts {
    int64_t seen, processed, failed, missing;
} ordo_store_scan_counts;

/* Closes a scan record with its counts (like ordo_store_scan_begin, inside
 * an open write transaction when there is one). */
int ordo_store_scan_end(ordo_store *s, int64_t scan_id,
                        const ordo_store_scan_counts *c, ordo_err *err);

/* ---- files and images (the scan's writes) ------------------------------ */

/* What a walker needs to decide whether a path must be (re)scanned. */
typedef struct ordo_store_file_info {
    int64_t id;            /* 0 if the path is unknown */
    int64_t size, mtime_ns;
    int state;             /* ORDO_STORE_OK / FAILED / MISSING */
    char error_kind[32];   /* for failed files */
} ordo_store_file_info;

enum { ORDO_STORE_OK = 0, ORDO_STORE_FAILED = 1, ORDO_STORE_MISSING = 2 };

/* Looks a path up (no transaction needed). info->id = 0 if unknown. */
int ordo_store_file_get(ordo_store *s, const char *path, ordo_store_file_info *info,
                        ordo_err *err);

/* The summary of one image's 1000 logits that ranking needs. */
typedef struct ordo_store_scores {
    int top_class[ORDO_STORE_TOPK];   /* class indices, most probable first */
    float top_prob[ORDO_STORE_TOPK];
    float max_prob;                   /* = top_prob[0] */
    float margin;                     /* top_prob[0] - top_prob[1] */
    float entropy;                    /* -sum p ln p over 1000 classes (nats) */
} ordo_store_scores;

/* Softmax of n logits (n >= 2) summarised. probs (n floats) may be NULL;
 * otherwise it receives the softmax. */
void ordo_store_summarize(const float *logits, int n, ordo_store_scores *out,
                          float *probs);

/* One scanned file, decoded and classified. */
typedef struct ordo_store_image_in {
    const char *path;          /* absolute; raw bytes */
    int64_t size, mtime_ns;
    unsigned char hash[16];    /* XXH3-128 of the content, canonical (BE) */
    int width, height;         /* original pixel size (orientation applied) */
    const char *format;        /* "jpeg", ... */
    const float *logits;       /* ordo_store_logits_dim; NULL (imports without probabilities):
                                  a zero row */
    const float *embed;        /* embed_dim (0 means the matrix width) */
    int embed_dim;
    float sports;              /* sports prior in [0,1], or NAN if unknown */
    int64_t scan_id;
} ordo_store_image_in;

/* Records an ok file. If an image with the same hash exists, the file is
 * linked to it (a duplicate; logits/embed are ignored and may be NULL), else
 * a new image row and matrix slot are written. A path already known is updated. Writes the
 * image id to *image_id if non-NULL. The summary columns are computed from
 * the logits as stored (rounded to half floats), so a project exported and
 * imported again has exactly the same scores. */
int ordo_store_put_image(ordo_store *s, const ordo_store_image_in *in,
                         int64_t *image_id, ordo_err *err);

/* Checks whether content with this hash is already stored as an image. */
int ordo_store_has_hash(ordo_store *s, const unsigned char hash[16], ordo_err *err);

/* Records a failed file. kind is a short category ("decode", "not_image",
 * "empty", "unreadable", "vanished", "loop", "too_large", ...); msg the
 * one-line reason. hash may be NULL. */
int ordo_store_put_failed(ordo_store *s, const char *path, int64_t size,
                          int64_t mtime_ns, const unsigned char *hash,
                          const char *kind, const char *msg, int64_t scan_id,
                          ordo_err *err);

/* Marks an unchanged file as seen by this scan (state unchanged). */
int ordo_store_touch(ordo_store *s, int64_t file_id, int64_t scan_id, ordo_err *err);

/* After a complete walk of root (a directory or file, absolute): marks every
 * file under it not seen by scan_id as missing. Adds the number to *n. */
int ordo_store_mark_missing(ordo_store *s, const char *root, int64_t scan_id,
                            int64_t *n, ordo_err *err);

/* ---- the scan lock and copies between stores ---------------------------- */

/* Takes DIR/.ordo/scan.lock (flock, exclusive, not waiting): held by whoever
 * walks files into a store, a scan or a merge into or out of it, so two of
 * them never do the work twice. busy is the message when another process
 * holds it. Returns a descriptor for ordo_store_unlock, or -1 and err. */
int ordo_store_lock(const char *dir, const char *busy, ordo_err *err);
void ordo_store_unlock(int fd);

/* Copies image image_id of store src into dst inside dst's open write
 * transaction: every images column but the ones dst assigns (a new id, the
 * next slot, nfiles = 0 until ordo_store_put_image links a file, scan_id),
 * and its embedding and logit rows byte for byte (the f16 rows the source
 * holds, never recomputed). Follows the slot protocol above; the caller
 * checks first that dst has no image with that hash. Fails if src's images
 * table lacks one of dst's columns or the slot is past src's matrices. */
int ordo_store_copy_image(ordo_store *dst, ordo_store *src, int64_t image_id, int64_t scan_id,
                          ordo_err *err);

/* ---- reading back (ranking, learning, server) -------------------------- */

/* One distinct, successfully classified image with at least one present
 * file: what ranking iterates over. */
typedef struct ordo_store_item {
    int64_t id;                /* images.id */
    int64_t slot;              /* row in the embedding / logit matrices */
    ordo_store_scores s;
    float sports;              /* NAN if not computed */
} ordo_store_item;

/* Every such image in id order, in one read transaction. *items is malloc'd
 * (free() it). 1M images read in about a second. */
int ordo_store_items(ordo_store *s, ordo_store_item **items, size_t *n, ordo_err *err);

/* Read-only maps of the matrices: rows [0, *rows) are addressable; every
 * slot returned by ordo_store_items before this call is < *rows. Valid until
 * the next call of the same function or ordo_store_close. Half floats;
 * convert with ordo_f16_to_f32 (base/f16.h). */
const uint16_t *ordo_store_embeddings(ordo_store *s, size_t *rows, ordo_err *err);
const uint16_t *ordo_store_logits(ordo_store *s, size_t *rows, ordo_err *err);

/* Replaces the embedding rows at slots[0..n) with rows (n x 1280 floats),
 * in place: the one exception to "a committed row never changes", made for
 * the fine-tuned network's re-embedding of the collection (cli_ft.c), so
 * ranking, the grid's neighbours and the sports filter use the adapted
 * features. Each row is replaced whole (one pwrite); a reader may see some
 * rows old and some new until the call returns. Synced unless
 * ORDO_STORE_FAST. The logits and everything in SQLite stay as they are. */
int ordo_store_set_embeddings(ordo_store *s, const int64_t *slots, size_t n, const float *rows,
                              ordo_err *err);

/* A path of the image (the present file with the lowest id); out gets the
 * raw bytes NUL-terminated. Fails if the image has no present file. */
int ordo_store_image_path(ordo_store *s, int64_t image_id, char *out, size_t cap,
                          ordo_err *err);

/* ---- labels ------------------------------------------------------------ */

/* The special answers; every other label is the team's own name. "skip"
 * (an undo appends it) means "not labeled"; "unclear" is kept but never
 * trained on; "not-sports" trains the sports filter. */
#define ORDO_STORE_LABEL_NOT_SPORTS "not-sports"
#define ORDO_STORE_LABEL_UNCLEAR "unclear"
#define ORDO_STORE_LABEL_SKIP "skip"

/* The one rule for a label, whoever writes it (CLI, import, server). */
#define ORDO_STORE_LABEL_MAX 200   /* bytes */
#define ORDO_STORE_LABEL_RULE "1 to 200 bytes of UTF-8 without control characters"

/* 1 if label follows ORDO_STORE_LABEL_RULE (control: bytes < 0x20 and DEL,
 * which would break CSV rows and terminals), else 0. NULL is refused. */
int ordo_store_label_ok(const char *label);

/* ---- label events (table labels) ----------------------------------------- */

/* The image of a file path (made absolute); fails naming the path if the
 * project has no classified image there. */
int ordo_store_image_for_path(ordo_store *s, const char *path, int64_t *image_id, ordo_err *err);

typedef struct ordo_store_label_in {
    int64_t image_id;
    const char *label;     /* ordo_store_label_ok (ORDO_STORE_LABEL_RULE) */
    const char *annotator; /* may be NULL */
    const char *source;    /* "ui", "cli", "import" */
    const char *reason;    /* why the image was queued; may be NULL */
    double created;        /* unix time of the event; 0: now (imports keep
                              the time other tools recorded) */
} ordo_store_label_in;

/* Appends n label events in one transaction: all or none, durable once it
 * returns 0. */
int ordo_store_labels_add(ordo_store *s, const ordo_store_label_in *in, size_t n, ordo_err *err);

typedef struct ordo_store_label_row {
    int64_t id, image_id;
    char *label, *annotator, *source, *reason; /* "" when NULL in the table */
    double created;
    int64_t events;        /* current rows: how many events the image has */
} ordo_store_label_row;

/* current != 0: the newest event of every labeled image (image id order);
 * else every event in id order. Free with ordo_store_labels_free. */
int ordo_store_labels_read(ordo_store *s, int current, ordo_store_label_row **rows, size_t *n,
                           ordo_err *err);
void ordo_store_labels_free(ordo_store_label_row *rows, size_t n);

/* ---- the evaluation sample (table rank_eval) ---------------------------- */

/* The sample in image id order: *ids (and *keys, each image's sampling key,
 * when keys is non-NULL) malloc'd (free() them), *seed the seed it was drawn
 * with (when non-NULL). *n = 0 (and NULL arrays) before the first draw. */
int ordo_store_eval_read(ordo_store *s, int64_t **ids, double **keys, uint64_t *seed,
                         size_t *n, ordo_err *err);

/* Adds n images to the sample (ids already in it are left alone), inside an
 * open write transaction; creates the table on the first draw. */
int ordo_store_eval_add(ordo_store *s, const int64_t *ids, const double *keys, size_t n,
                        uint64_t seed, ordo_err *err);

/* ---- status -------------------------------------------------------------- */

#define ORDO_STORE_STATUS_KINDS 16
#define ORDO_STORE_STATUS_TOP 10

typedef struct ordo_store_status {
    char model[ORDO_STORE_MODEL_MAX];
    int64_t files;        /* present files (ok + failed) */
    int64_t ok;           /* present files classified */
    int64_t failed;       /* present files that failed */
    int64_t images;       /* distinct classified contents with a present file */
    int64_t duplicates;   /* present ok files whose content another file has */
    int64_t missing;      /* files gone since a scan saw them */
    int64_t labeled;      /* images whose newest label event is a label
                             (not "skip" or empty: "skip" means unlabeled) */
    int64_t scans;
    double last_scan;     /* unix time the newest finished scan ended, 0 if none */
    int nkinds;
    struct { char kind[32]; int64_t count; } failed_by[ORDO_STORE_STATUS_KINDS];
    int ntop;             /* top-1 classes over present images, most first
                             (logit columns: ImageNet's, or the project's own
                             classes, see ordo_store_class_names) */
    struct { int cls; int64_t count; } top[ORDO_STORE_STATUS_TOP];
} ordo_store_status;

int ordo_store_get_status(ordo_store *s, ordo_store_status *st, ordo_err *err);

#endif
