#include "base/walk.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* The chain of directories from the walk root to the current one; a
 * directory whose (dev, ino) is already on it is a symlink loop. */
typedef struct walk_frame {
    dev_t dev;
    ino_t ino;
    const struct walk_frame *up;
} walk_frame;

typedef struct walk_ctx {
    ordo_walk_file_fn on_file;
    ordo_walk_error_fn on_error;
    void *ctx;
} walk_ctx;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void report(const walk_ctx *w, const char *path, const char *reason)
{
    if (w->on_error)
        w->on_error(path, reason, w->ctx);
}

static int walk_path(const walk_ctx *w, const char *path, const walk_frame *up);

static int walk_dir(const walk_ctx *w, const char *path, const struct stat *st,
                    const walk_frame *up)
{
    for (const walk_frame *f = up; f; f = f->up)
        if (f->dev == st->st_dev && f->ino == st->st_ino) {
            report(w, path, "directory loop (symlink to an ancestor), skipped");
            return 0;
        }
    walk_frame here = {st->st_dev, st->st_ino, up};

    DIR *d = opendir(path);
    if (!d) {
        report(w, path, strerror(errno));
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) { rc = -1; break; }
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = strdup(e->d_name))) { rc = -1; break; }
        n++;
    }
    closedir(d);
    if (rc) {
        report(w, path, "out of memory listing directory");
        rc = 0;
    } else {
        qsort(names, n, sizeof *names, cmp_names);
        size_t plen = strlen(path);
        for (size_t i = 0; i < n && !rc; i++) {
            size_t len = plen + 1 + strlen(names[i]) + 1;
            char *child = malloc(len);
            if (!child) { report(w, path, "out of memory"); break; }
            snprintf(child, len, "%s%s%s", path,
                     plen && path[plen - 1] == '/' ? "" : "/", names[i]);
            rc = walk_path(w, child, &here);
            free(child);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int walk_path(const walk_ctx *w, const char *path, const walk_frame *up)
{
    struct stat st;
    if (stat(path, &st) != 0) {   /* follows symlinks; dangling ones fail here */
        report(w, path, strerror(errno));
        return 0;
    }
    if (S_ISDIR(st.st_mode))
        return walk_dir(w, path, &st, up);
    if (S_ISREG(st.st_mode))
        return w->on_file(path, &st, w->ctx);
    return 0;   /* sockets, fifos, devices: not images */
}

int ordo_walk(char *const *paths, int npaths, ordo_walk_file_fn on_file,
              ordo_walk_error_fn on_error, void *ctx, ordo_err *err)
{
    walk_ctx w = {on_file, on_error, ctx};
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0)
            return ordo_err_set(err, "%s: %s", paths[i], strerror(errno));
    }
    for (int i = 0; i < npaths; i++) {
        int rc = walk_path(&w, paths[i], NULL);
        if (rc)
            return rc;
    }
    return 0;
}
