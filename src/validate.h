/*
 * validate.h
 *	  Argument checks shared by the SQL-callable functions.
 */
#ifndef WAITLIST_VALIDATE_H
#define WAITLIST_VALIDATE_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/date.h"

extern bool wl_email_ok(const char *s);
extern bool wl_phone_ok(const char *s);
extern char *wl_arg_text(FunctionCallInfo fcinfo, int argno, const char *name,
						 int maxlen, bool required);
extern int64 wl_arg_int64(FunctionCallInfo fcinfo, int argno, const char *name);
extern int64 wl_arg_qty(FunctionCallInfo fcinfo, int argno, bool allow_zero);
extern int32 wl_arg_line_qty(FunctionCallInfo fcinfo, int argno);

/* The arguments every order line starts with (place_backorder, place_preorder). */
typedef struct WlOrderArgs
{
	char	   *order_ref;
	char	   *sku;
	int32		qty;
	char	   *customer;
	char	   *email;
	char	   *phone;
	char	   *channel;
} WlOrderArgs;

extern void wl_arg_order(FunctionCallInfo fcinfo, WlOrderArgs *a, const char *what);
extern char *wl_arg_email(FunctionCallInfo fcinfo, int argno);
extern char *wl_arg_phone(FunctionCallInfo fcinfo, int argno);
extern char *wl_arg_channel(FunctionCallInfo fcinfo, int argno);
extern char *wl_arg_amount(FunctionCallInfo fcinfo, int argno, const char *name,
						   bool required, double max);
extern void wl_check_date(DateADT d, const char *name);
extern DateADT wl_arg_date(FunctionCallInfo fcinfo, int argno, const char *name);
extern void wl_error_unknown_sku(const char *sku) pg_attribute_noreturn();
extern void wl_error_discontinued(const char *sku) pg_attribute_noreturn();

#endif
