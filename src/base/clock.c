/* clock.c - monotonic and wall-clock seconds. */
#include "base/clock.h"

#include <time.h>

static double seconds(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double ordo_clock_mono(void) { return seconds(CLOCK_MONOTONIC); }
double ordo_clock_unix(void) { return seconds(CLOCK_REALTIME); }
