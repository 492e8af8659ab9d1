/* fuzz_pth.c - libFuzzer target for the legacy .pth reader.
 *
 *   make fuzz && /usr/bin/python3 tools/make_pth_corpus.py CORPUS
 *   build-fuzz/fuzz_pth -max_total_time=60 CORPUS
 *
 * Every input must either parse into a consistent state_dict or be refused
 * with a message; ASan/UBSan (built in by `make fuzz`) catch the rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn/pth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ordo_err err = {{0}};
    ordo_pth *p = ordo_pth_parse(data, size, &err);
    if (!p) {
        if (!err.msg[0])
            abort();   /* every failure must say why */
        return 0;
    }
    /* Touch every tensor byte and check the invariants the net relies on. */
    volatile unsigned char sink = 0;
    for (int i = 0; i < ordo_pth_count(p); i++) {
        const ordo_pth_tensor *t = ordo_pth_at(p, i);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++)
            numel *= t->shape[d];
        if (numel != t->numel || ordo_pth_find(p, t->name) != t)
            abort();
        size_t bytes = (size_t)t->numel * (t->dtype == ORDO_PTH_F32 ? 4 : 8);
        const unsigned char *b = t->data;
        for (size_t k = 0; k < bytes; k++)
            sink ^= b[k];
    }
    (void)sink;
    ordo_pth_free(p);
    return 0;
}
