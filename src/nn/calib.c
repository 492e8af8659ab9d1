/* calib.c - written by tools/calibrate.sh: do not edit. The largest |x| of
 * every activation tensor the int8 networks quantize (layout: calib.h),
 * over 300 calibration photos (their list: tools/calibrate.sh). */
#include <string.h>

#include "nn/calib.h"

/* lite0: 300 photos */
static const float lite0_out[16] = {
    64.6856, 66.8297, 65.6407, 48.119, 52.5917, 38.2214,
    38.6635, 42.3496, 43.4145, 46.4017, 62.9651, 47.2848,
    45.8267, 47.5215, 54.1912, 18.8473
};
static const float lite0_dw[16] = {
    6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6,
    6, 6, 6, 6
};
#define lite0_EMBED 5.59543f

/* lite1: 300 photos */
static const float lite1_out[21] = {
    79.4299, 71.5598, 68.3712, 88.3518, 52.9096, 59.9779,
    65.6915, 42.0072, 41.976, 44.3043, 44.5677, 48.2726,
    50.3428, 52.7545, 64.6059, 41.7533, 41.8333, 45.0511,
    50.4155, 60.5373, 20.0492
};
static const float lite1_dw[21] = {
    6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6,
    6, 6, 6
};
#define lite1_EMBED 5.5846f

/* lite2: 300 photos */
static const float lite2_out[21] = {
    56.0353, 66.349, 64.1883, 83.5573, 49.7607, 52.4569,
    75.2424, 43.3733, 44.3718, 43.946, 46.1739, 48.0795,
    45.9992, 61.3368, 62.6071, 37.2761, 38.7276, 47.0691,
    59.9706, 62.4118, 23.5899
};
static const float lite2_dw[21] = {
    6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6,
    6, 6, 6
};
#define lite2_EMBED 4.39342f

static const ordo_net_calib tables[] = {
    { "lite0", (int)(sizeof lite0_out / sizeof lite0_out[0]), lite0_out, lite0_dw, lite0_EMBED },
    { "lite1", (int)(sizeof lite1_out / sizeof lite1_out[0]), lite1_out, lite1_dw, lite1_EMBED },
    { "lite2", (int)(sizeof lite2_out / sizeof lite2_out[0]), lite2_out, lite2_dw, lite2_EMBED },
};

const ordo_net_calib *ordo_net_calib_find(const char *model)
{
    for (size_t i = 0; model && i < sizeof tables / sizeof tables[0]; i++)
        if (!strcmp(tables[i].model, model)) return &tables[i];
    return NULL;
}
