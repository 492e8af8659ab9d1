/* netlist.c - several networks as one model (netlist.h). */
#include "nn/netlist.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nn/pth.h"
#include "nn/weights.h"

int ordo_net_list_parse(const char *spec, ordo_net_list *l, ordo_err *err)
{
    memset(l, 0, sizeof *l);
    if (!spec || !*spec)
        return ordo_err_set(err, "empty model name (lite0, lite1, lite2, or several joined by "
                                 "'+', e.g. lite0+lite1+lite2)");
    /* Messages quote the name: one with control or non-ASCII bytes is
     * refused without quoting it, so a message stays one printable line. */
    for (const unsigned char *c = (const unsigned char *)spec; *c; c++)
        if (*c < 0x20 || *c >= 0x7f)
            return ordo_err_set(err, "model name with a byte that is not printable ASCII "
                                     "(lite0, lite1, lite2, or several joined by '+')");
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, '+');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            return ordo_err_set(err, "model '%s': empty network name (join lite0, lite1, "
                                     "lite2 with single '+')", spec);
        char name[8];
        int size = 0;
        if (len < sizeof name) {
            memcpy(name, p, len);
            name[len] = 0;
            size = ordo_net_model_size(name);
        }
        if (!size)
            return ordo_err_set(err, "model '%s': unknown network '%.*s' (lite0, lite1 or "
                                     "lite2, alone or joined by '+')",
                                spec, (int)(len > 32 ? 32 : len), p);
        for (int k = 0; k < l->n; k++)
            if (!strcmp(l->model[k], name))
                return ordo_err_set(err, "model '%s': %s is named twice (its embedding "
                                         "would only be repeated)", spec, name);
        if (l->n == ORDO_NET_LIST_MAX)   /* unreachable with distinct names; kept for safety */
            return ordo_err_set(err, "model '%s': more than %d networks", spec,
                                ORDO_NET_LIST_MAX);
        memcpy(l->model[l->n], name, len + 1);
        l->size[l->n++] = size;
        if (!end)
            return 0;
        p = end + 1;
    }
}

int ordo_net_list_embed(const ordo_net_list *l) { return l->n * ORDO_NET_EMBED; }

int ordo_net_list_max_size(const ordo_net_list *l)
{
    int m = 0;
    for (int k = 0; k < l->n; k++)
        if (l->size[k] > m) m = l->size[k];
    return m;
}

size_t ordo_net_list_in_offset(const ordo_net_list *l, int k)
{
    size_t off = 0;
    for (int j = 0; j < k && j < l->n; j++)
        off += (size_t)l->size[j] * l->size[j] * 3;
    return off;
}

size_t ordo_net_list_in_floats(const ordo_net_list *l)
{
    return ordo_net_list_in_offset(l, l->n);
}

int ordo_net_list_weights(const ordo_net_list *l, const char *dir_or_file,
                          char (*paths)[4096], ordo_err *err)
{
    struct stat sb;
    if (l->n > 1 && dir_or_file && stat(dir_or_file, &sb) == 0 && S_ISREG(sb.st_mode))
        return ordo_err_set(err, "--weights %s is one network's file; a model of %d networks "
                                 "needs the directory holding %s.pth, %s.pth%s%s%s",
                            dir_or_file, l->n, l->model[0], l->model[1], l->n > 2 ? ", " : "",
                            l->n > 2 ? l->model[2] : "", l->n > 2 ? ".pth" : "");
    for (int k = 0; k < l->n; k++)
        if (ordo_weights_path(dir_or_file, l->model[k], paths[k], 4096, err)) {
            /* the message names the file and how to install it; say which
             * member of the model it is */
            if (l->n > 1)
                ordo_err_wrap(err, "model %s%s%s%s%s runs %s", l->model[0], l->n > 1 ? "+" : "",
                              l->n > 1 ? l->model[1] : "", l->n > 2 ? "+" : "",
                              l->n > 2 ? l->model[2] : "", l->model[k]);
            return -1;
        }
    return 0;
}

struct ordo_net_ens {
    ordo_net_list l;
    ordo_net *net[ORDO_NET_LIST_MAX];
    int cap;                  /* photos the scratch below holds */
    const float **in;         /* cap: one member's inputs */
    float *lg, *em;           /* cap x 1000, cap x 1280: one member's outputs */
};

ordo_net_ens *ordo_net_ens_create(const ordo_net_list *l, char (*paths)[4096], int threads,
                                  const char *precision, ordo_err *err)
{
    ordo_net_ens *e = calloc(1, sizeof *e);
    if (!e) {
        ordo_err_set(err, "out of memory");
        return NULL;
    }
    e->l = *l;
    for (int k = 0; k < l->n; k++) {
        ordo_pth *pth = ordo_pth_open(paths[k], err);
        if (!pth) {
            ordo_net_ens_free(e);
            return NULL;
        }
        e->net[k] = ordo_net_create_prec(l->model[k], pth, threads, precision, err);
        ordo_pth_free(pth);
        if (!e->net[k]) {
            if (l->n > 1) ordo_err_wrap(err, "%s", l->model[k]);
            ordo_net_ens_free(e);
            return NULL;
        }
        if (ordo_net_input_size(e->net[k]) != l->size[k]) {   /* ordo_net_model_size disagrees */
            ordo_err_set(err, "%s: unexpected input size", l->model[k]);
            ordo_net_ens_free(e);
            return NULL;
        }
    }
    return e;
}

void ordo_net_ens_free(ordo_net_ens *e)
{
    if (!e) return;
    for (int k = 0; k < e->l.n; k++) ordo_net_free(e->net[k]);
    free(e->in);
    free(e->lg);
    free(e->em);
    free(e);
}

const ordo_net_list *ordo_net_ens_list(const ordo_net_ens *e) { return &e->l; }
ordo_net *ordo_net_ens_member(ordo_net_ens *e, int k)
{
    return k >= 0 && k < e->l.n ? e->net[k] : NULL;
}

int ordo_net_ens_forward(ordo_net_ens *e, const float *const *in, int n, float *logits,
                         float *embed, ordo_err *err)
{
    const int K = e->l.n;
    if (K == 1)   /* one network: its own pass, unchanged */
        return ordo_net_forward_each(e->net[0], in, n, logits, embed, err);
    if (n > e->cap) {
        const float **ni = realloc(e->in, (size_t)n * sizeof *ni);
        if (ni) e->in = ni;
        float *nl = ni ? realloc(e->lg, (size_t)n * ORDO_NET_CLASSES * sizeof *nl) : NULL;
        if (nl) e->lg = nl;
        float *ne = nl ? realloc(e->em, (size_t)n * ORDO_NET_EMBED * sizeof *ne) : NULL;
        if (!ne)
            return ordo_err_set(err, "out of memory for a batch of %d photos", n);
        e->em = ne;
        e->cap = n;
    }
    const size_t W = (size_t)K * ORDO_NET_EMBED;
    for (int k = 0; k < K; k++) {
        for (int i = 0; i < n; i++)
            e->in[i] = in[(size_t)i * K + k];
        if (ordo_net_forward_each(e->net[k], e->in, n, e->lg, e->em, err))
            return ordo_err_wrap(err, "%s", e->l.model[k]);
        for (int i = 0; i < n; i++) {
            if (embed)
                memcpy(embed + (size_t)i * W + (size_t)k * ORDO_NET_EMBED,
                       e->em + (size_t)i * ORDO_NET_EMBED, ORDO_NET_EMBED * sizeof *embed);
            float *o = logits + (size_t)i * ORDO_NET_CLASSES;
            const float *z = e->lg + (size_t)i * ORDO_NET_CLASSES;
            /* running sum, divided once at the end: the mean of the K logits */
            if (k == 0)
                memcpy(o, z, ORDO_NET_CLASSES * sizeof *o);
            else
                for (int c = 0; c < ORDO_NET_CLASSES; c++) o[c] += z[c];
        }
    }
    for (size_t j = 0; j < (size_t)n * ORDO_NET_CLASSES; j++) logits[j] /= (float)K;
    return 0;
}
