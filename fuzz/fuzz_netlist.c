/* fuzz_netlist.c - libFuzzer target for the model-name parser
 * (ordo_net_list_parse, nn/netlist.h): any bytes as a name. Accepted names
 * must be exactly 1 to 3 distinct known networks joined by single '+' (the
 * parse joined back gives the input), with the widths and input sizes that
 * follow from them; refused names get a one-line reason.
 *
 *   make fuzz && fuzz/seed_netlist.sh DIR && build-fuzz/fuzz_netlist DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/netlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char spec[256];
    if (size >= sizeof spec) size = sizeof spec - 1;
    memcpy(spec, data, size);
    spec[size] = 0;   /* a NUL inside the input ends the name, as in argv */
    ordo_net_list l;
    ordo_err err = {{0}};
    if (ordo_net_list_parse(spec, &l, &err) != 0) {
        if (!err.msg[0] || strchr(err.msg, '\n')) abort();
        return 0;
    }
    if (l.n < 1 || l.n > ORDO_NET_LIST_MAX) abort();
    char back[64] = "";
    size_t in = 0;
    int widest = 0;
    for (int k = 0; k < l.n; k++) {
        if (ordo_net_model_size(l.model[k]) != l.size[k] || l.size[k] <= 0) abort();
        for (int j = 0; j < k; j++)
            if (!strcmp(l.model[j], l.model[k])) abort();
        if (ordo_net_list_in_offset(&l, k) != in) abort();
        in += (size_t)l.size[k] * l.size[k] * 3;
        if (l.size[k] > widest) widest = l.size[k];
        snprintf(back + strlen(back), sizeof back - strlen(back), "%s%s", k ? "+" : "",
                 l.model[k]);
    }
    if (strcmp(back, spec) || ordo_net_list_in_floats(&l) != in ||
        ordo_net_list_max_size(&l) != widest || ordo_net_list_embed(&l) != l.n * ORDO_NET_EMBED)
        abort();
    return 0;
}
