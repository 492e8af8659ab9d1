/* main.c - `ordo SUBCOMMAND ...`: dispatch and top-level help. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"

#define ORDO_VERSION "0.1.0"

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} cli_command;

/* In the order a user meets them. */
static const cli_command commands[] = {
    {"init",     cli_init,     "create a project (a .ordo/ folder) in DIR or here"},
    {"scan",     cli_scan,     "classify photo folders into the project (incremental, resumable)"},
    {"status",   cli_status,   "counts, model, last scan, top predicted classes"},
    {"next",     cli_next,     "the next images to label, each with its reason (eval, uncertain, novel, diverse)"},
    {"label",    cli_label,    "record labels: IMAGE LABEL, or --import FILE.csv (path,label)"},
    {"labels",   cli_labels,   "list current labels (--history: every labeling event)"},
    {"train",    cli_train,    "retrain the classifier and sports filter on the labels"},
    {"audit",    cli_audit,    "label errors, near-duplicate groups and evaluation leaks"},
    {"eval",     cli_eval,     "accuracy of the newest model, with intervals, and whether to keep labeling"},
    {"export",   cli_export,   "labels, predictions, embeddings: CSV, JSON lines, .npy, Label Studio, folders"},
    {"import",   cli_import,   "another model's embeddings (.npy, CSV, JSON lines), or labels from folders, files, Label Studio"},
    {"simulate", cli_simulate, "compare labeling strategies and learners on images with known labels"},
    {"order",    cli_order,    "one shot: init + scan + rank a folder, printing the labeling order"},
    {"merge",    cli_merge,    "fold shard stores (ordo scan --shard I/N) into the project"},
    {"serve",    cli_serve,    "serve the labeling web page (127.0.0.1:8080 by default)"},
    {"user",     cli_user,     "add or list annotators (tokens for 'ordo serve') and their roles"},
    {"labelset", cli_labelset, "declare the project's labels (keys 1-5 of 'ordo serve' rank them)"},
    {"classify", cli_classify, "print the top ImageNet classes of images (no project needed)"},
    {"classes",  cli_classes,  "list the ImageNet classes, optionally under a WordNet synset"},
    {"weights",  cli_weights,  "install (verify) and list model weights"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "ordo %s - choose which photos to label next\n\n"
            "usage: ordo COMMAND [OPTIONS] [ARGS]\n\n"
            "commands:\n", ORDO_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'ordo COMMAND --help' describes a command's options.\n");
}

/* OpenBLAS 0.3.21 (Debian 12) does not recognise every AVX-512 CPU and then
 * runs its generic "Prescott" kernels: sgemm 3-5x slower (ordo train on
 * 4,000 labels: 17 s instead of 7 s on 2 cores). It picks its kernels when
 * the library loads, from OPENBLAS_CORETYPE, so when it fell back although
 * the CPU has AVX-512 (or AVX2) we name the core and re-exec once. */
/* Declared here too: with netlib's cblas.h (libblas-dev) chosen as the
 * cblas.h alternative this OpenBLAS extension is undeclared, and an implicit
 * int declaration truncates the pointer it returns. */
char *openblas_get_corename(void);

static void blas_kernels(char **argv)
{
#if defined(__x86_64__)
    if (getenv("OPENBLAS_CORETYPE")) return;
    const char *now = openblas_get_corename();
    if (!now || (strcasecmp(now, "prescott") && strcasecmp(now, "core2") &&
                 strcasecmp(now, "nehalem") && strcasecmp(now, "unknown")))
        return;
    __builtin_cpu_init();
    const char *core = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
                           ? "SkylakeX"
                       : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "Haswell"
                                                                                          : NULL;
    if (!core) return;
    setenv("OPENBLAS_CORETYPE", core, 1);
    execv("/proc/self/exe", argv); /* if that fails, carry on with the slow kernels */
#else
    (void)argv;
#endif
}

int main(int argc, char **argv)
{
    blas_kernels(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ordo %s\n", ORDO_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ordo: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
