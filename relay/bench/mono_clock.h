/*
 * mono_clock.h: the one clock the latency helpers compare.  restock_driver
 * subtracts the times listen_floor and hook_receiver write, so all three
 * must read CLOCK_MONOTONIC the same way.
 */
#ifndef MONO_CLOCK_H
#define MONO_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
