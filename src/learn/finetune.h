/* finetune.h - the "finetune" learner: trains the network's head (the 1x1
 * convolution to 1280 channels, batch norm folded in, ReLU6, global average
 * pool) and a classifier on top of it, from activations cached at the cut
 * (the head's input, 7 x 7 x 320 for lite0, half floats, one row per image
 * slot: see store_cut in store.h). Pure arrays in, arrays out, like the
 * rest of learn/: the caller brings the pretrained head (nn/net.h,
 * ordo_net_head) and the cache rows.
 *
 * The math, for one image with cut activations X (P pixels x C channels):
 *   A  = X W + 1 b^T          (P x D)   the head's pre-activation
 *   H  = relu6(A)              (P x D)
 *   e  = H^T q                 (D)       the embedding (what the store keeps);
 *                                        q_p = 1/P, or a crop window's weights
 *   z  = V^T e + c             (K)       the classifier's logits
 *   L  = -log softmax(z)_y
 * plus L2-SP (Li, Grandvalet, Davoine 2018): beta/2 |W - W0|^2 + beta/2
 * |b - b0|^2 keeps the head near the pretrained one, and gamma/2 |V|^2.
 * Backward (mean over a batch of B images):
 *   dz = (softmax(z) - onehot(y)) / B
 *   dV = e dz^T,  dc = dz,  de = V dz
 *   dA = q de^T  masked by 0 < A < 6 (ReLU6's derivative)
 *   dW = X^T dA,  db = 1^T dA
 * Both 1x1 convolutions are one sgemm over the batch's B*P pixels.
 */
#ifndef ORDO_LEARN_FINETUNE_H
#define ORDO_LEARN_FINETUNE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "learn/learn.h"

/* The cached activations and the pretrained head. */
typedef struct ordo_learn_ft_data {
    const uint16_t *acts;   /* cache rows of P*C half floats, [pixel][channel] */
    const int64_t *slot;    /* n: the cache row of each training row */
    int P, C, D;            /* pixels (49), channels (320), head width (1280) */
    const float *w0, *b0;   /* pretrained head: C x D, D */
} ordo_learn_ft_data;

typedef struct ordo_learn_ft_opts {
    int max_epochs;       /* 30 */
    int patience;         /* stop after this many epochs without a better
                           * held-out loss (4) */
    int batch;            /* images per step (64) */
    double lr;            /* Adam step for the head (3e-4) */
    double lr_cls;        /* Adam step for the classifier (1e-3) */
    double beta;          /* L2-SP strength (1e-3) */
    double gamma;         /* classifier L2 (1e-4) */
    double val_frac;      /* held-out share for early stopping (0.2) */
    int crop;             /* augmentation: pool each training image over a random
                           * s x s window of the map, s from crop to the map's
                           * side (5 of 7); 0: off. (A mirrored map would change
                           * nothing: 1x1 conv + global pool ignore position.) */
    int full;             /* 1: after early stopping, train the head again on every
                           * label for the best epoch count; 0: keep the head of
                           * the best held-out epoch (half the time) (1) */
    uint64_t seed;        /* 1 */
} ordo_learn_ft_opts;

void ordo_learn_ft_default(ordo_learn_ft_opts *o);

typedef struct ordo_learn_ft_report {
    int best_epoch;       /* epochs of the final fit (from the held-out fold) */
    int epochs_tried;     /* epochs run on the held-out split */
    double val_loss0, val_loss;   /* held-out loss before and at the best epoch */
    double val_acc0, val_acc;     /* held-out accuracy before and at the best epoch */
    double train_loss0, train_loss; /* final fit: first and last epoch's mean loss */
} ordo_learn_ft_report;

/* Loss and gradients of one batch (the formulas above; rows idx[0..B) of
 * data, y their labels; pool_w (B x P) replaces the mean's 1/P by a weight
 * per pixel, the crop augmentation's window; NULL: the mean).
 * Any gradient pointer may be NULL. Exposed for the finite-difference test. */
double ordo_learn_ft_loss(const ordo_learn_ft_data *data, const size_t *idx, size_t B,
                          const int *y, const float *pool_w, int K,
                          const float *W, const float *b, const float *V, const float *c,
                          double beta, double gamma, float *gW, float *gb, float *gV,
                          float *gc, ordo_err *err);

/* Embeddings e (n x D) of rows of data under the head (w, b). */
int ordo_learn_ft_embed(const ordo_learn_ft_data *data, size_t n, const float *w,
                        const float *b, float *e, ordo_err *err);

/* The learner. Rows with y >= 0 train. Picks the epoch count on a held-out
 * stratified share (early stopping; with fewer than 10 held-out rows no
 * epoch is run: the head stays pretrained), then trains on every labeled row for
 * that many epochs, writes the head into w_out (C x D) and b_out (D), and
 * returns ordo_learn_train's model (opts) fitted on the new embeddings of
 * the labeled rows: an ordinary linear model over the adapted embeddings. */
ordo_learn_model *ordo_learn_ft_train(const ordo_learn_ft_data *data, size_t n, const int *y,
                                      int k, const char *const *class_names,
                                      const ordo_learn_opts *opts,
                                      const ordo_learn_ft_opts *fo, float *w_out, float *b_out,
                                      float *oof_probs, ordo_learn_report *report,
                                      ordo_learn_ft_report *frep, ordo_err *err);

#endif
