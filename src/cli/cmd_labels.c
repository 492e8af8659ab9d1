/* cmd_labels.c - `ordo labels [--csv] [--history]`: the current label of
 * every labeled image, or every labeling event. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/text.h"
#include "cli/cli.h"
#include "learn/learn_store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo labels [--project DIR] [--csv] [--history]\n"
            "Lists the current label of every labeled image (its newest event), or with\n"
            "--history every labeling event in the order it happened.\n"
            "  --csv   image_id,path,label,annotator,source,reason,created,events\n");
}

int cli_labels(int argc, char **argv)
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"csv", no_argument, NULL, 'c'},
        {"history", no_argument, NULL, 'H'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *project = NULL;
    int csv = 0, history = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:cHh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': project = optarg; break;
        case 'c': csv = 1; break;
        case 'H': history = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) { usage(stderr); return 2; }
    ordo_err err = {{0}};
    ordo_store *s = cli_open_project("labels", project, ORDO_STORE_RDONLY);
    if (!s) return 1;
    ordo_store_label_row *rows = NULL;
    size_t n = 0;
    if (ordo_store_labels_read(s, !history, &rows, &n, &err)) {
        fprintf(stderr, "ordo labels: %s\n", err.msg);
        ordo_store_close(s);
        return 1;
    }
    if (csv) printf("image_id,path,label,annotator,source,reason,created,events\n");
    char path[8192], when[32];
    for (size_t i = 0; i < n; i++) {
        const ordo_store_label_row *r = &rows[i];
        ordo_err pe;
        if (ordo_store_image_path(s, r->image_id, path, sizeof path, &pe)) snprintf(path, sizeof path, "(missing)");
        time_t t = (time_t)r->created;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (csv) {
            printf("%lld,", (long long)r->image_id);
            ordo_text_csv_fields(stdout, (const char *const[]){path, r->label, r->annotator,
                                                                 r->source, r->reason}, 5);
            printf(",%s,%lld\n", when, (long long)r->events);
        } else {
            /* paths may hold control characters: print them CSV-quoted */
            printf("%-20s %-8s %-10s ", when, r->source, r->annotator);
            ordo_text_csv(stdout, r->label);
            printf("  ");
            ordo_text_csv(stdout, path);
            putchar('\n');
        }
    }
    if (!csv) printf("%zu %s\n", n, history ? "label events" : "labeled images");
    ordo_store_labels_free(rows, n);
    ordo_store_close(s);
    return fflush(stdout) == 0 ? 0 : 1;
}
