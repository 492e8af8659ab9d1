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
int cli_user(int argc, char **argv);       /* cmd_user.c: annotators and their tokens */

/* Helpers shared by the subcommands (cli_util.c). */

/* Parses a positive integer option value; prints an error and returns -1 on
 * bad input. */
int cli_parse_int(const char *opt, const char *s, int lo, int hi, int *out);

/* Number of online cores (at least 1): the default thread count. */
int cli_default_threads(void);

#endif
