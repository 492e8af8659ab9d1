/* netlist.h - a model made of several of ordo's networks: "lite0+lite1+lite2".
 *
 * Each photo goes through every member (each at its own input size, the
 * same preprocessing as one network); the embedding is the members'
 * embeddings side by side in the order named (1280 values each, so 3,840
 * for three), and the ImageNet logits are the mean of the members' logits.
 *
 * Why the mean of logits: softmax(mean_k z_k) is the renormalised geometric
 * mean of the members' probabilities (a product of experts, Hinton 2002),
 * the usual way to combine classifiers whose outputs are kept as logits;
 * the store keeps one logit row per photo and derives every score from it,
 * so the ensemble's row must itself be logits. Measured on the 200 ImageNet
 * photos and sports100 in docs/learn.md.
 *
 * A single name ("lite0") is a list of one member: its forward pass is
 * exactly ordo_net_forward_each's, so a one-network scan is unchanged.
 */
#ifndef ORDO_NETLIST_H
#define ORDO_NETLIST_H

#include <stddef.h>

#include "base/err.h"
#include "nn/net.h"

/* ordo has three networks and a list names each at most once. */
#define ORDO_NET_LIST_MAX 3

typedef struct ordo_net_list {
    int n;                                /* members, 1 to ORDO_NET_LIST_MAX */
    char model[ORDO_NET_LIST_MAX][8];     /* "lite0"... in the order named */
    int size[ORDO_NET_LIST_MAX];          /* their input sides (224, 240, 260) */
} ordo_net_list;

/* Parses a model name: one network, or several distinct ones joined by '+'.
 * Refuses an unknown, repeated or empty member (naming it). */
int ordo_net_list_parse(const char *spec, ordo_net_list *l, ordo_err *err);

/* Embedding width of the list's vectors: n x ORDO_NET_EMBED. */
int ordo_net_list_embed(const ordo_net_list *l);
/* The largest input side (what a photo must be decoded for). */
int ordo_net_list_max_size(const ordo_net_list *l);
/* Floats of one photo's inputs, the members' S x S x 3 one after the other. */
size_t ordo_net_list_in_floats(const ordo_net_list *l);
/* Offset of member k's input inside those floats. */
size_t ordo_net_list_in_offset(const ordo_net_list *l, int k);

/* Resolves every member's weights file (nn/weights.h: dir_or_file is --weights
 * DIR, or NULL for the default directory) into paths[k] (cap bytes each).
 * A missing file fails with the message naming that member; a single .pth
 * file is accepted only for a one-network list (it holds one network). */
int ordo_net_list_weights(const ordo_net_list *l, const char *dir_or_file,
                          char (*paths)[4096], ordo_err *err);

/* The members built: each network with its own threads (they run one
 * after the other, so only one pool is busy at a time). */
typedef struct ordo_net_ens ordo_net_ens;

/* Builds every member from paths (ordo_net_list_weights) in a precision
 * ("fp32", "int8": nn/net.h), which applies to every member. */
ordo_net_ens *ordo_net_ens_create(const ordo_net_list *l, char (*paths)[4096], int threads,
                                  const char *precision, ordo_err *err);
void ordo_net_ens_free(ordo_net_ens *e);

const ordo_net_list *ordo_net_ens_list(const ordo_net_ens *e);
ordo_net *ordo_net_ens_member(ordo_net_ens *e, int k);

/* Runs n photos. in[i * l->n + k]: photo i's input for member k (its S x S
 * x 3 floats, preprocessed as for that network alone). logits: n x 1000,
 * the members' mean; embed: n x ordo_net_list_embed, member k's 1280 values
 * at columns [1280 k, 1280 (k + 1)), or NULL. */
int ordo_net_ens_forward(ordo_net_ens *e, const float *const *in, int n, float *logits,
                         float *embed, ordo_err *err);

#endif
