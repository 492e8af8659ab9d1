/* cmd_status.c - `ordo status [--json]`: what the project holds. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/text.h"
#include "cli/cli.h"
#include "store/store.h"
#include "wordnet/wordnet.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo status [--project DIR] [--json]\n"
            "Counts of files (ok, failed by reason, missing), distinct images, duplicates,\n"
            "labeled images, the model and its precision, the last scan and the most\n"
            "predicted classes.\n");
}

static void iso_time(char *out, size_t cap, double t)
{
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cli_status(int argc, char **argv)
{
    const char *project = NULL;
    int json = 0;
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "p:jh", opts, NULL)) != -1) {
        switch (o) {
        case 'p': project = optarg; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    ordo_err err = {{0}};
    char dir[4096];
    if (ordo_store_find(project, dir, sizeof dir, &err)) {
        fprintf(stderr, "ordo status: %s\n", err.msg);
        return 1;
    }
    ordo_store *s = ordo_store_open(dir, ORDO_STORE_RDONLY, &err);
    ordo_store_status st;
    if (!s || ordo_store_get_status(s, &st, &err)) {
        fprintf(stderr, "ordo status: %s\n", err.msg);
        ordo_store_close(s);
        return 1;
    }
    /* class names: ImageNet's (wnids without WordNet), or the imported
     * model's own */
    cli_colnames cn;
    char prec[8] = "", tta[8] = "";   /* "" until the first scan records them */
    int bad = ordo_store_precision(s, prec, &err) || ordo_store_tta(s, tta, &err) ||
              cli_colnames_open(s, &cn, &err);
    ordo_store_close(s);
    if (bad) {
        fprintf(stderr, "ordo status: %s\n", err.msg);
        return 1;
    }
    char when[64] = "";
    if (st.last_scan > 0)
        iso_time(when, sizeof when, st.last_scan);
    if (json) {
        printf("{\"project\":");
        ordo_text_json(stdout, dir);
        printf(",\"model\":");
        if (st.model[0])
            ordo_text_json(stdout, st.model);
        else
            printf("null");
        printf(",\"precision\":");
        if (prec[0]) ordo_text_json(stdout, prec);
        else printf("null");
        printf(",\"tta\":");
        if (tta[0]) ordo_text_json(stdout, tta);
        else printf("null");
        printf(",\"files\":%lld,\"images\":%lld,\"ok\":%lld,\"failed\":%lld,"
               "\"failed_by_reason\":{",
               (long long)st.files, (long long)st.images, (long long)st.ok,
               (long long)st.failed);
        for (int i = 0; i < st.nkinds; i++) {
            printf("%s", i ? "," : "");
            ordo_text_json(stdout, st.failed_by[i].kind);
            printf(":%lld", (long long)st.failed_by[i].count);
        }
        printf("},\"duplicates\":%lld,\"missing\":%lld,\"labeled\":%lld,\"scans\":%lld,"
               "\"last_scan\":",
               (long long)st.duplicates, (long long)st.missing, (long long)st.labeled,
               (long long)st.scans);
        if (when[0])
            printf("\"%s\"", when);
        else
            printf("null");
        printf(",\"top_classes\":[");
        for (int i = 0; i < st.ntop; i++) {
            int c = st.top[i].cls;
            const char *nm = cli_class_name(&cn, c);
            printf("%s{\"class\":%d,\"wnid\":", i ? "," : "", c);
            ordo_text_json(stdout, cli_class_wnid(&cn, c));
            printf(",\"name\":");
            ordo_text_json(stdout, nm ? nm : "");
            printf(",\"images\":%lld}", (long long)st.top[i].count);
        }
        printf("]}\n");
    } else {
        printf("project    %s\n", dir);
        printf("model      %s\n", st.model[0] ? st.model : "(none yet: set by the first scan)");
        if (prec[0])
            printf("precision  %s%s\n", prec, !strcmp(tta, "flip") ? ", flip test-time augmentation" : "");
        printf("files      %lld present: %lld ok, %lld failed; %lld missing\n",
               (long long)st.files, (long long)st.ok, (long long)st.failed,
               (long long)st.missing);
        printf("images     %lld distinct, %lld duplicate files\n", (long long)st.images,
               (long long)st.duplicates);
        printf("labeled    %lld\n", (long long)st.labeled);
        printf("last scan  %s (%lld scans)\n", when[0] ? when : "never", (long long)st.scans);
        if (st.nkinds) {
            printf("failed by reason:\n");
            for (int i = 0; i < st.nkinds; i++)
                printf("  %8lld  %s\n", (long long)st.failed_by[i].count, st.failed_by[i].kind);
        }
        if (st.ntop) {
            printf("top predicted classes:\n");
            for (int i = 0; i < st.ntop; i++) {
                int c = st.top[i].cls;
                const char *nm = cli_class_name(&cn, c), *id = cli_class_wnid(&cn, c);
                if (cn.nown)   /* the model's own classes have no WordNet id */
                    printf("  %8lld  %s\n", (long long)st.top[i].count, nm ? nm : "?");
                else
                    printf("  %8lld  %s  %s\n", (long long)st.top[i].count,
                           nm && id[0] ? id : "?", nm ? nm : "");
            }
        }
    }
    cli_colnames_close(&cn);
    return 0;
}
