/*
 * clock.h
 *	  The clock: a launcher and one worker per database that has the
 *	  extension, each running tick() every waitlist.tick_interval.  Started
 *	  only when the library is in shared_preload_libraries.
 */
#ifndef WAITLIST_CLOCK_H
#define WAITLIST_CLOCK_H

#include "postgres.h"

extern bool wl_clock_enabled;
extern int	wl_tick_interval_ms;

extern void wl_clock_define_settings(void);
extern void wl_clock_init(void);

/* Entry points named in the background worker registrations */
extern PGDLLEXPORT void wl_clock_launcher_main(Datum arg);
extern PGDLLEXPORT void wl_clock_worker_main(Datum arg);

#endif
