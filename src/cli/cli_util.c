/* cli_util.c - option parsing helpers shared by the subcommands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "store/store.h"

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
