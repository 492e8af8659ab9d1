/* cli_util.c - option parsing helpers shared by the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/store.h"
#include "wordnet/wordnet.h"

int cli_parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "ordo: %s expects a whole number from %d to %d, not '%s'\n",
                opt, lo, hi, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

ordo_store *cli_open_project(const char *cmd, const char *flag, int flags)
{
    ordo_err err = {{0}};
    char dir[4096];
    ordo_store *s = NULL;
    if (ordo_store_find(flag, dir, sizeof dir, &err) == 0)
        s = ordo_store_open(dir, flags, &err);
    if (!s)
        fprintf(stderr, "ordo %s: %s\n", cmd, err.msg);
    return s;
}

int cli_colnames_open(ordo_store *s, cli_colnames *c, ordo_err *err)
{
    memset(c, 0, sizeof *c);
    if (ordo_store_class_names(s, &c->own, &c->nown, err)) return -1;
    if (!c->nown) {
        ordo_err wnerr;
        c->wn = ordo_wn_open(NULL, &wnerr);   /* without it: class indices only */
    }
    return 0;
}

const char *cli_class_name(const cli_colnames *c, int cls)
{
    if (c->nown) return cls >= 0 && cls < c->nown ? c->own[cls] : NULL;
    return c->wn && cls >= 0 && cls < ORDO_WN_CLASSES ? ordo_wn_class_name(c->wn, cls) : NULL;
}

const char *cli_class_wnid(const cli_colnames *c, int cls)
{
    if (c->nown || !c->wn || cls < 0 || cls >= ORDO_WN_CLASSES) return "";
    return ordo_wn_class_wnid(c->wn, cls);
}

void cli_colnames_close(cli_colnames *c)
{
    ordo_store_class_names_free(c->own, c->nown);
    ordo_wn_free(c->wn);
    memset(c, 0, sizeof *c);
}
