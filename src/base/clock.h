/* clock.h - the two clocks ordo reads. */
#ifndef ORDO_CLOCK_H
#define ORDO_CLOCK_H

/* Seconds on the monotonic clock (durations: never jumps with the wall
 * clock; the origin is arbitrary). */
double ordo_clock_mono(void);

/* Seconds since the Unix epoch (timestamps stored in the project). */
double ordo_clock_unix(void);

#endif
