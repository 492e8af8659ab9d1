/* cli.h - the ordo subcommands. Each is `int cli_<name>(int argc, char **argv)`
 * with argv[0] the subcommand name; it returns the process exit status and is
 * the only layer that prints. Shared option parsing lives in cli_util.c. */
#ifndef ORDO_CLI_H
#define ORDO_CLI_H

int cli_classify(int argc, char **argv);
int cli_weights(int argc, char **argv);    /* cmd_weights.c: install, list */
int cli_classes(int argc, char **argv);    /* cmd_classes.c: list classes, --under SYNSET */
int cli_init(int argc, char **argv);       /* cmd_init.c: create a project */
int cli_scan(int argc, char **argv);       /* cmd_scan.c: scan folders into the project */
int cli_status(int argc, char **argv);     /* cmd_status.c: counts, model, top classes */
int cli_serve(int argc, char **argv);      /* cmd_serve.c: the labeling web server */
int cli_labelset(int argc, char **argv);   /* cmd_labelset.c: the project's label set */
int cli_user(int argc, char **argv);       /* cmd_user.c: annotators and their tokens */
int cli_next(int argc, char **argv);       /* cmd_next.c: the next images to label */
int cli_order(int argc, char **argv);      /* cmd_next.c: init + scan + rank a folder */
int cli_merge(int argc, char **argv);      /* cmd_merge.c: fold shard stores into the project */
int cli_label(int argc, char **argv);      /* cmd_label.c: record labels (one, or --import CSV) */
int cli_labels(int argc, char **argv);     /* cmd_labels.c: current labels or their history */
int cli_train(int argc, char **argv);      /* cmd_train.c: retrain classifier + sports filter */
int cli_eval(int argc, char **argv);       /* cmd_eval.c: accuracy on the evaluation sample */
int cli_simulate(int argc, char **argv);   /* cmd_simulate.c: replay labeling with known labels */
int cli_export(int argc, char **argv);     /* cmd_export.c: labels + predictions, label tree */
int cli_import(int argc, char **argv);     /* cmd_import.c: other models' vectors, label files */
int cli_audit(int argc, char **argv);      /* cmd_audit.c: label errors, near-duplicates, leaks */

/* cmd_merge.c: the sharded (--shard I/N) and MPI (--mpi) forms of `ordo
 * scan`, which cli_scan hands over after parsing its options. Like
 * ordo_scan_run: 0, or -1 with err; *final gets the (job-wide) progress;
 * sets *quiet on MPI ranks other than 0. */
struct ordo_scan_opts;
struct ordo_scan_progress;
struct ordo_err;
int cli_scan_dist(const char *project, char *const *paths, int npaths,
                  struct ordo_scan_opts *so, int shard_index, int shard_count, int use_mpi,
                  int *quiet, struct ordo_scan_progress *final, struct ordo_err *err);

/* cmd_export_fmt.c: `ordo export`'s formats for other tools (0 or -1 with err). */
struct ordo_store;
struct ordo_learn_model;
int cli_export_embeddings(struct ordo_store *s, const char *dir, struct ordo_err *err);
int cli_export_history(struct ordo_store *s, int jsonl, struct ordo_err *err);
int cli_export_label_studio(struct ordo_store *s, struct ordo_learn_model *m, long long version,
                            const char *root, struct ordo_err *err);

/* Helpers shared by the subcommands (cli_util.c). */

/* Parses a positive integer option value; prints an error and returns -1 on
 * bad input. */
int cli_parse_int(const char *opt, const char *s, int lo, int hi, int *out);

/* Finds the project (--project flag, $ORDO_PROJECT, or the current
 * directory upwards) and opens its store with ordo_store_open's flags;
 * prints "ordo CMD: reason" and returns NULL on failure. */
struct ordo_store;
struct ordo_store *cli_open_project(const char *cmd, const char *flag, int flags);

/* Number of online cores (at least 1): the default thread count. */
int cli_default_threads(void);

/* The names of a project's logit columns: the model's own classes when its
 * probabilities were imported over them (store's table `classes`), else the
 * 1000 ImageNet classes (wordnet/, opened here; wn stays NULL without it). */
struct ordo_wn;
typedef struct cli_colnames {
    struct ordo_wn *wn;
    char **own;
    int nown;
} cli_colnames;
int cli_colnames_open(struct ordo_store *s, cli_colnames *c, struct ordo_err *err);
/* Column cls's name, or NULL when unknown; its WordNet id ("" for own classes
 * or without WordNet). */
const char *cli_class_name(const cli_colnames *c, int cls);
const char *cli_class_wnid(const cli_colnames *c, int cls);
void cli_colnames_close(cli_colnames *c);

#endif
