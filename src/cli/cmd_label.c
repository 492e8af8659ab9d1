/* cmd_label.c - `ordo label IMAGE LABEL` and `ordo label --import FILE.csv`:
 * append label events (nothing is ever overwritten). */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "learn/learn_store.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo label IMAGE LABEL [--project DIR] [--annotator NAME] [--reason R]\n"
            "       ordo label --import FILE.csv [--project DIR] [--annotator NAME]\n"
            "Records a label for an image (a file scanned into the project). Labels are\n"
            "your own names ('tennis', 'motor racing'), ImageNet synsets, or the special\n"
            "answers not-sports, unclear and skip. Every label is kept: the newest one\n"
            "of an image is its current label.\n\n"
            "  --import FILE.csv  rows path,label (a header row 'path,label' is allowed);\n"
            "                     relative paths are taken from the current directory,\n"
            "                     else from the CSV's folder. All rows or none are stored.\n"
            "  --annotator NAME   who labeled (default: $USER)\n"
            "  --reason R         why the image was queued (eval, uncertain, ...)\n");
}

/* Absolute path of p, trying the CSV's folder when p is relative and not
 * found from the current directory. */
static int resolve(const char *p, const char *csvdir, char *out)
{
    if (realpath(p, out)) return 0;
    if (p[0] == '/' || !csvdir) return -1;
    char j[PATH_MAX * 2];
    snprintf(j, sizeof j, "%s/%s", csvdir, p);
    return realpath(j, out) ? 0 : -1;
}

int cli_label(int argc, char **argv)
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"annotator", required_argument, NULL, 'a'},
        {"reason", required_argument, NULL, 'r'}, {"import", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *project = NULL, *annotator = getenv("USER"), *reason = NULL, *import = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:a:r:i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': project = optarg; break;
        case 'a': annotator = optarg; break;
        case 'r': reason = optarg; break;
        case 'i': import = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if ((import && optind != argc) || (!import && optind + 2 != argc)) {
        usage(stderr);
        return 2;
    }
    ordo_err err = {{0}};
    char dir[4096];
    if (ordo_store_find(project, dir, sizeof dir, &err)) {
        fprintf(stderr, "ordo label: %s\n", err.msg);
        return 1;
    }
    ordo_store *s = ordo_store_open(dir, 0, &err);
    if (!s) {
        fprintf(stderr, "ordo label: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    ordo_learn_csv csv = {0};
    ordo_store_label_in *in = NULL;
    if (!import) {
        int64_t id;
        if (ordo_store_image_for_path(s, argv[optind], &id, &err)) goto fail;
        ordo_store_label_in one = {id, argv[optind + 1], annotator, "cli", reason};
        if (ordo_store_labels_add(s, &one, 1, &err)) goto fail;
        printf("labeled image %lld as '%s'\n", (long long)id, argv[optind + 1]);
        rc = 0;
        goto out;
    }
    if (ordo_learn_csv_read(import, &csv, &err)) goto fail;
    char csvdir[PATH_MAX];
    snprintf(csvdir, sizeof csvdir, "%s", import);
    char *cd = dirname(csvdir);
    in = calloc(csv.nrows ? csv.nrows : 1, sizeof *in);
    if (!in) { ordo_err_set(&err, "out of memory"); goto fail; }
    size_t n = 0;
    for (size_t i = 0; i < csv.nrows; i++) {
        ordo_learn_csv_row *r = &csv.rows[i];
        if (i == 0 && r->n >= 2 && !strcmp(r->f[0], "path") && !strcmp(r->f[1], "label")) continue;
        if (r->n < 2) {
            ordo_err_set(&err, "%s:%d: expected path,label", import, r->line);
            goto fail;
        }
        char abs[PATH_MAX];
        if (resolve(r->f[0], cd, abs)) {
            ordo_err_set(&err, "%s:%d: %s: no such file", import, r->line, r->f[0]);
            goto fail;
        }
        if (ordo_store_image_for_path(s, abs, &in[n].image_id, &err)) {
            ordo_err_wrap(&err, "%s:%d", import, r->line);
            goto fail;
        }
        in[n].label = r->f[1];
        in[n].annotator = annotator;
        in[n].source = "import";
        in[n].reason = r->n >= 3 && r->f[2][0] ? r->f[2] : reason;
        n++;
    }
    if (ordo_store_labels_add(s, in, n, &err)) goto fail;
    printf("imported %zu labels from %s\n", n, import);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "ordo label: %s\n", err.msg);
out:
    free(in);
    ordo_learn_csv_free(&csv);
    ordo_store_close(s);
    return rc;
}
