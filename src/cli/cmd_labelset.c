/* cmd_labelset.c - `ordo labelset`: declare the project's label set. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "cli/cli.h"
#include "server/server.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ordo labelset [--project DIR] [--import FILE | --add 'NAME [= TIE]']\n"
            "                     [--closed | --open]\n"
            "Declares the labels the team works with; 'ordo serve' ranks them on keys\n"
            "1-5 and stores answers by these names. Prints the set (file format).\n\n"
            "  --import FILE  replace the set by FILE: one label per line, 'NAME' or\n"
            "                 'NAME = TIE'; an indented line is a child of the label above;\n"
            "                 TIE is a WordNet synset (n02802426, 'tennis ball', 'dog.n.01')\n"
            "                 whose ImageNet classes suggest the label before any answer\n"
            "                 (a NAME that is an unambiguous WordNet noun ties itself);\n"
            "                 '#' starts a comment; a line '!closed' closes the set\n"
            "  --add LINE     add one label (same syntax as a file line)\n"
            "  --closed       refuse answers outside the set (not-sports, unclear and\n"
            "                 skip stay allowed); --open allows new labels again\n");
}

int cli_labelset(int argc, char **argv)
{
    static const struct option opts[] = {
        {"project", required_argument, NULL, 'p'}, {"import", required_argument, NULL, 'i'},
        {"add", required_argument, NULL, 'a'},     {"closed", no_argument, NULL, 'c'},
        {"open", no_argument, NULL, 'o'},          {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *project = NULL, *import = NULL, *add = NULL;
    int closed = -1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:i:a:coh", opts, NULL)) != -1) {
        switch (c) {
        case 'p': project = optarg; break;
        case 'i': import = optarg; break;
        case 'a': add = optarg; break;
        case 'c': closed = 1; break;
        case 'o': closed = 0; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (import && add)) { usage(stderr); return 2; }
    ordo_store *s = cli_open_project("labelset", project, 0);
    if (!s) return 1;
    ordo_err err = {{0}};
    int rc = 1;
    ordo_wn *wn = ordo_wn_open(NULL, &err);
    ordo_srv_labelset *ls = NULL, *cur = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    if (!wn) goto out;
    if (import) {
        if (ordo_file_read(import, 1 << 24, &buf, &len, &err) < 0) goto out;
        if (!(ls = ordo_srv_labelset_parse(wn, (const char *)buf, len, import, &err))) goto out;
    } else if (add) {
        if (!(ls = ordo_srv_labelset_parse(wn, add, strlen(add), "--add", &err))) goto out;
    }
    if (ls || closed >= 0) {
        cur = ordo_srv_labelset_load(s, &err);
        if (!cur) goto out;
        if (!ls) {
            ls = calloc(1, sizeof *ls);
            if (!ls) { ordo_err_set(&err, "out of memory"); goto out; }
        }
        if (closed >= 0) ls->closed = closed;
        else if (!import) ls->closed = cur->closed;   /* --add keeps the set's state */
        if (ordo_srv_labelset_store(s, ls, import != NULL, &err) < 0) goto out;
        if (closed >= 0 && ordo_srv_labelset_close(s, closed, &err) < 0) goto out;
        ordo_srv_labelset_free(cur);
        cur = NULL;
    }
    cur = ordo_srv_labelset_load(s, &err);
    if (!cur) goto out;
    ordo_srv_labelset_write(stdout, cur);
    fprintf(stderr, "ordo labelset: %zu labels, %s\n", cur->n, cur->closed ? "closed" : "open");
    rc = 0;
out:
    if (rc) fprintf(stderr, "ordo labelset: %s\n", err.msg);
    free(buf);
    ordo_srv_labelset_free(ls);
    ordo_srv_labelset_free(cur);
    if (wn) ordo_wn_free(wn);
    ordo_store_close(s);
    return rc;
}
