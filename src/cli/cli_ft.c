/* cli_ft.c - the activation cache for the finetune learner (cli_ft.h). */
#include "cli/cli_ft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "nn/net.h"
#include "nn/netlist.h"
#include "nn/pth.h"
#include "nn/weights.h"
#include "scan/scan_cut.h"

static void fill_progress(size_t done, size_t todo, void *ctx)
{
    (void)ctx;
    if (done == todo || done % 512 < 16)
        fprintf(stderr, "\rcaching activations for fine-tuning: %zu / %zu images", done, todo);
    if (done == todo) fputc('\n', stderr);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int cli_ft_open(const char *dir, int quiet, int threads, cli_ft *f, ordo_err *err)
{
    memset(f, 0, sizeof *f);
    char model[ORDO_STORE_MODEL_MAX], wpath[4096];
    ordo_pth *pth = NULL;
    ordo_net *net = NULL;
    ordo_store_item *items = NULL;
    size_t ni = 0;
    unsigned char *have = NULL;
    if (!(f->rw = ordo_store_open(dir, 0, err))) return -1;
    if (ordo_store_model(f->rw, model, sizeof model, err)) goto fail;
    ordo_net_list nets;
    ordo_err pe;
    if (!ordo_net_list_parse(model, &nets, &pe) && nets.n > 1) {
        /* The fine-tune adapts one network's head from that network's
         * cached activations; a project of several networks would need a
         * cache and a head per member and a re-embedding of all of them. */
        ordo_err_set(err, "the finetune learner adapts one network; this project's %d-d "
                          "embeddings come from %d networks (%s): train it with --learner "
                          "propagate or linear, or fine-tune a project of one network (`ordo "
                          "init --model lite2`)",
                     ordo_net_list_embed(&nets), nets.n, model);
        goto fail;
    }
    if (!ordo_net_model_size(model)) {
        ordo_err_set(err, "the finetune learner needs a project scanned with ordo's own network "
                          "(lite0, lite1, lite2); this one's vectors come from '%s'",
                     model[0] ? model : "nowhere (not scanned)");
        goto fail;
    }
    if (ordo_weights_path(NULL, model, wpath, sizeof wpath, err) ||
        !(pth = ordo_pth_open(wpath, err)) ||
        !(net = ordo_net_create_prec(model, pth, threads, "fp32", err)))
        goto fail;
    f->P = ordo_net_cut_hw(net);
    f->C = ordo_net_cut_channels(net);
    f->D = ORDO_NET_EMBED;
    f->w0 = malloc((size_t)f->C * f->D * sizeof *f->w0);
    f->b0 = malloc((size_t)f->D * sizeof *f->b0);
    if (!f->w0 || !f->b0) { ordo_err_set(err, "out of memory"); goto fail; }
    if (ordo_net_head(net, f->w0, f->b0, err)) goto fail;
    if (!(f->cut = ordo_store_cut_open(f->rw, f->P, f->C, err))) goto fail;
    double t0 = ordo_clock_mono();
    ordo_scan_cut_report rep;
    if (ordo_scan_cut_fill(f->rw, f->cut, net, quiet ? NULL : fill_progress, NULL, &rep, err))
        goto fail;
    f->fill_seconds = ordo_clock_mono() - t0;
    f->filled = rep.computed;
    if (rep.failed && !quiet)
        fprintf(stderr, "%zu images could not be decoded again (file gone or changed): left "
                        "out of the fine-tune\n", rep.failed);
    ordo_net_free(net);
    net = NULL;
    ordo_pth_free(pth);
    pth = NULL;
    if (!(f->acts = ordo_store_cut_map(f->cut, &f->rows, err))) goto fail;
    if (ordo_store_items(f->rw, &items, &ni, err)) goto fail;
    f->ids = malloc((ni ? ni : 1) * sizeof *f->ids);
    f->slots = malloc((ni ? ni : 1) * sizeof *f->slots);
    have = malloc(ni ? ni : 1);
    int64_t *sl = malloc((ni ? ni : 1) * sizeof *sl);
    if (!f->ids || !f->slots || !have || !sl) { free(sl); ordo_err_set(err, "out of memory"); goto fail; }
    for (size_t i = 0; i < ni; i++) sl[i] = items[i].slot;
    if (ordo_store_cut_have(f->cut, sl, ni, have, err)) { free(sl); goto fail; }
    free(sl);
    for (size_t i = 0; i < ni; i++)   /* items come in id order */
        if (have[i] && (size_t)items[i].slot < f->rows) {
            f->ids[f->n] = items[i].id;
            f->slots[f->n++] = items[i].slot;
        }
    free(items);
    free(have);
    return 0;
fail:
    free(items);
    free(have);
    ordo_net_free(net);
    ordo_pth_free(pth);
    cli_ft_close(f);
    return -1;
}

int cli_ft_slots(const cli_ft *f, const int64_t *ids, size_t n, int64_t *slots, ordo_err *err)
{
    size_t miss = 0;
    for (size_t i = 0; i < n; i++) {
        const int64_t *p = bsearch(&ids[i], f->ids, f->n, sizeof *f->ids, cmp_i64);
        if (p) slots[i] = f->slots[p - f->ids];
        else { slots[i] = -1; miss++; }
    }
    if (miss)
        return ordo_err_set(err, "%zu of %zu images have no cached activations (their files "
                                 "could not be decoded again)", miss, n);
    return 0;
}

ordo_learn_ft_data cli_ft_data(const cli_ft *f, const int64_t *slot)
{
    return (ordo_learn_ft_data){.acts = f->acts, .slot = slot, .P = f->P, .C = f->C, .D = f->D,
                                .w0 = f->w0, .b0 = f->b0};
}

void cli_ft_close(cli_ft *f)
{
    ordo_store_cut_close(f->cut);
    ordo_store_close(f->rw);
    free(f->w0); free(f->b0); free(f->ids); free(f->slots);
    memset(f, 0, sizeof *f);
}

ordo_learn_model *cli_ft_fit(void *ctx, const int64_t *ids, size_t n, const int *y, int k,
                             const char *const *names, const ordo_learn_opts *o,
                             ordo_learn_report *rep, ordo_err *err)
{
    cli_ft_fit_ctx *c = ctx;
    const cli_ft *f = c->ft;
    ordo_learn_model *m = NULL;
    int64_t *slot = malloc((n ? n : 1) * sizeof *slot);
    float *w = malloc((size_t)f->C * f->D * sizeof *w), *b = malloc((size_t)f->D * sizeof *b);
    enum { CH = 4096 };
    float *e = malloc((size_t)CH * f->D * sizeof *e);
    if (!slot || !w || !b || !e) { ordo_err_set(err, "out of memory"); goto done; }
    if (cli_ft_slots(f, ids, n, slot, err)) goto done;
    ordo_learn_ft_data d = cli_ft_data(f, slot);
    double t0 = ordo_clock_mono();
    m = ordo_learn_ft_train(&d, n, y, k, names, o, c->fo, w, b, NULL, rep, &c->frep, err);
    c->train_seconds = ordo_clock_mono() - t0;
    if (!m) goto done;
    /* every cached image through the adapted head, into the store */
    t0 = ordo_clock_mono();
    for (size_t i0 = 0; i0 < f->n; i0 += CH) {
        size_t nb = f->n - i0 < CH ? f->n - i0 : CH;
        ordo_learn_ft_data all = cli_ft_data(f, f->slots + i0);
        if (ordo_learn_ft_embed(&all, nb, w, b, e, err) ||
            ordo_store_set_embeddings(c->s, f->slots + i0, nb, e, err)) {
            ordo_learn_model_free(m);
            m = NULL;
            goto done;
        }
        c->embedded += nb;
    }
    c->embed_seconds = ordo_clock_mono() - t0;
done:
    free(slot); free(w); free(b); free(e);
    return m;
}
