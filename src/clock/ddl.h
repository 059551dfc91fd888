/*
 * ddl.h
 *	  The clock's view of DDL: pauses around exclusive database DDL,
 *	  wake-ups on CREATE EXTENSION and CREATE DATABASE.
 */
#ifndef WAITLIST_CLOCK_DDL_H
#define WAITLIST_CLOCK_DDL_H

extern void wl_clock_ddl_init(void);

#endif
