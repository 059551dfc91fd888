/*
 * now.h
 *	  The extension's clock: the transaction's start time, as now() reads
 *	  it, unless a test has set waitlist.test_now.
 */
#ifndef WAITLIST_NOW_H
#define WAITLIST_NOW_H

#include "postgres.h"
#include "utils/date.h"

extern void wl_now_define_setting(void);
extern Datum wl_now(void);
extern DateADT wl_today(void);
extern void wl_now_move_on(void);
extern void wl_now_move_back(void);
extern bool wl_now_is_test(void);

#endif
