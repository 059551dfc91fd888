/*
 * now_api.c
 *	  SQL API for the extension's clock: waitlist.now() (store/now.c).
 */
#include "postgres.h"

#include "fmgr.h"

#include "store/now.h"

PG_FUNCTION_INFO_V1(waitlist_now);

/* SQL: waitlist.now() -- now(), or waitlist.test_now when a test set it */
Datum
waitlist_now(PG_FUNCTION_ARGS)
{
	return wl_now();
}
