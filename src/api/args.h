/*
 * args.h
 *	  Argument checks shared by the SQL-callable functions.
 */
#ifndef WAITLIST_ARGS_H
#define WAITLIST_ARGS_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/date.h"

#include "waitlist.h"

extern bool wl_email_ok(const char *s);
extern bool wl_phone_ok(const char *s);
extern char *wl_arg_text(FunctionCallInfo fcinfo, int argno, const char *name,
						 int maxlen, bool required);
extern char *wl_check_text(char *s, const char *name, int maxlen);
extern int64 wl_arg_int64(FunctionCallInfo fcinfo, int argno, const char *name);
extern int64 wl_arg_qty(FunctionCallInfo fcinfo, int argno, bool allow_zero);
extern int32 wl_arg_line_qty(FunctionCallInfo fcinfo, int argno);
extern void wl_arg_order(FunctionCallInfo fcinfo, WlOrderArgs *a, const char *what);
extern char *wl_arg_email(FunctionCallInfo fcinfo, int argno);
extern char *wl_arg_phone(FunctionCallInfo fcinfo, int argno);
extern char *wl_arg_contact(FunctionCallInfo fcinfo, int argno);
extern char *wl_arg_channel(FunctionCallInfo fcinfo, int argno);
extern char *wl_arg_amount(FunctionCallInfo fcinfo, int argno, const char *name,
						   bool required, double max);
extern void wl_check_date(DateADT d, const char *name);
extern char *wl_check_amount(Datum numeric, const char *name, double max);
extern char *wl_check_currency(char *s);
extern DateADT wl_arg_date(FunctionCallInfo fcinfo, int argno, const char *name);

#endif
