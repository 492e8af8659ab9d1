/* cmd_init.c - `ordo init [--model M] [--precision P] [--tta T] [DIR]`: create a project. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "nn/netlist.h"
#include "store/store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo init [--model M] [--precision P] [--tta T] [DIR]\n"
            "Creates an ordo project in DIR (made if missing; default: --project DIR, $ORDO_PROJECT, or the\n"
            "current directory): DIR/.ordo/ holds the database (ordo.db) and the\n"
            "embedding and logit matrices (embed.f16, logits.f16).\n\n"
            "  --model M       lite0, lite1 or lite2, or several joined by '+';\n"
            "                  otherwise the first scan's model, else lite0+lite1+lite2\n"
            "                  (every photo through the three networks, their embeddings\n"
            "                  side by side, 3,840 values: the most accuracy per label);\n"
            "                  lite0 is the fast choice (3.7x less scan CPU; see\n"
            "                  docs/learn.md)\n"
            "  --precision P   the network's precision, fp32 or int8 (int8: the 1x1, stem\n"
            "                  and most depthwise layers in int8, photos near a top-1 tie\n"
            "                  re-checked in fp32; 2.1-2.6x fp32's images/s and over 99 %% the\n"
            "                  same top-1 class on CPUs with AVX-512 VNNI; see\n"
            "                  docs/scan.md); otherwise the first scan's, else int8 on\n"
            "                  CPUs with AVX-512 VNNI and fp32 on others\n"
            "  --tta T         test-time augmentation of every scan: none, or flip (the\n"
            "                  mean of the photo's and its mirror's outputs: twice the\n"
            "                  scan's network time; see docs/learn.md); otherwise none\n"
            "  --project DIR   same as giving DIR\n");
}

int cli_init(int argc, char **argv)
{
    const char *model = NULL, *dir = NULL, *prec = NULL, *tta = NULL;
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"project", required_argument, NULL, 'p'},
        {"precision", required_argument, NULL, 'P'}, {"tta", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:p:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': model = optarg; break;
        case 'P': prec = optarg; break;
        case 'T': tta = optarg; break;
        case 'p': dir = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc)
        dir = argv[optind++];
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (!dir) {
        const char *env = getenv("ORDO_PROJECT");
        dir = env && *env ? env : ".";
    }
    ordo_err err = {{0}};
    ordo_net_list nets;
    /* Checked before anything is made: a refused model leaves no folder. */
    if (model && ordo_net_list_parse(model, &nets, &err)) {
        fprintf(stderr, "ordo init: %s\n", err.msg);
        return 2;
    }
    if (prec && strcmp(prec, "fp32") && strcmp(prec, "int8")) {
        fprintf(stderr, "ordo init: unknown precision '%s' (fp32 or int8)\n", prec);
        return 2;
    }
    if (tta && strcmp(tta, "none") && strcmp(tta, "flip")) {
        fprintf(stderr, "ordo init: unknown test-time augmentation '%s' (none or flip)\n", tta);
        return 2;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {   /* like `git init DIR` */
        fprintf(stderr, "ordo init: %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (ordo_store_init(dir, model, &err)) {
        fprintf(stderr, "ordo init: %s\n", err.msg);
        return 1;
    }
    if (prec || tta) {
        char got[8];
        ordo_store *s = ordo_store_open(dir, 0, &err);
        int rc = s ? 0 : -1;
        if (!rc && prec) rc = ordo_store_use_precision(s, prec, NULL, got, &err);
        if (!rc && tta) rc = ordo_store_use_tta(s, tta, got, &err);
        ordo_store_close(s);
        if (rc) {
            fprintf(stderr, "ordo init: %s\n", err.msg);
            return 1;
        }
    }
    printf("created ordo project in %s/%s%s%s%s%s%s%s\n", dir, ORDO_STORE_DIRNAME,
           model ? " for model " : "", model ? model : "", prec ? ", precision " : "",
           prec ? prec : "", tta ? ", test-time augmentation " : "", tta ? tta : "");
    return 0;
}
