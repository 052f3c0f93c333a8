/* The clocks, read in one place (lib/clock.c): monotonic for intervals, wall for what is shown. */
#ifndef LAUNDROMAT_CLOCK_H
#define LAUNDROMAT_CLOCK_H

#include <stdint.h>

/*
 * Code that decides something from the time (admission, rate limits, credit, expiry) takes
 * `now` as an argument rather than reading a clock, so that tests can choose the instant; only
 * the loops that drive it call these.
 */

/* Nanoseconds of CLOCK_MONOTONIC: intervals, deadlines, rates. Never steps; its origin is
 * arbitrary (boot), so it is never shown, stored or sent. */
uint64_t lm_now_ns(void);
/* Nanoseconds since the Unix epoch (CLOCK_REALTIME): times shown, stored or sent. It may step
 * when the system's clock is set. */
uint64_t lm_wall_ns(void);
/* Unix time in whole seconds (lm_wall_ns() / 10^9): token lifetimes, wire timestamps. */
uint64_t lm_now(void);

#endif
