/* learn_internal.h - the model's layout, shared by the files of src/learn/
 * (training, prediction, serialization). Not part of the contract. */
#ifndef ORDO_LEARN_INTERNAL_H
#define ORDO_LEARN_INTERNAL_H

#include "learn/learn.h"

#define LEARN_KIND_LOGREG 1

struct ordo_learn_model {
    int kind;
    int d;                  /* input dimension */
    int k;                  /* classes (including ones absent from training) */
    int p;                  /* feature dimension after PCA (= d without PCA) */
    float *mean, *scale;    /* d: standardization z = (x - mean) * scale */
    float *pca;             /* p x d components, NULL without PCA */
    float *W;               /* k x p (zero rows for absent classes) */
    float *b;               /* k */
    unsigned char *present; /* k: 1 if the class had training examples */
    double temperature, l2;
    char **names;           /* k */
};

/* Allocates every array of a model with these dims (zeroed); NULL on OOM. */
ordo_learn_model *learn_model_alloc(int d, int k, int p, int with_pca);

#endif
