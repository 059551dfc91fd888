/*
 * consent_api.c
 *	  SQL API for delivery events and consent: record_event, opt_out,
 *	  opt_in, suppressed.  Arguments are checked here; the rules are in
 *	  domain/consent.c.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "api/args.h"
#include "domain/consent.h"
#include "store/spi.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_record_event);
PG_FUNCTION_INFO_V1(waitlist_opt_out);
PG_FUNCTION_INFO_V1(waitlist_opt_in);
PG_FUNCTION_INFO_V1(waitlist_suppressed);

/* Longest message handle (an idempotency key) and event name accepted. */
#define MAX_HANDLE_LEN	1000
#define MAX_EVENT_LEN	40

/* The source of a consent change: required, not blank, at most 200 characters. */
static char *
arg_source(FunctionCallInfo fcinfo, int argno)
{
	char	   *s = wl_arg_text(fcinfo, argno, "source", WL_MAX_NAME_LEN, true);

	if (strspn(s, " \t\r\n") == strlen(s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source must not be blank"),
				 errdetail("Say where the change came from, for example \"preference center\" or \"SMS STOP\".")));
	return s;
}

/* The contact argument, as its key (lower-cased email or E.164 phone). */
static char *
arg_contact(FunctionCallInfo fcinfo)
{
	return wl_arg_contact(fcinfo, 0);
}

/* SQL: waitlist.record_event(message, event, at) */
Datum
waitlist_record_event(PG_FUNCTION_ARGS)
{
	char	   *handle = wl_arg_text(fcinfo, 0, "message", MAX_HANDLE_LEN, true);
	char	   *event = wl_arg_text(fcinfo, 1, "event", MAX_EVENT_LEN, true);
	TimestampTz at = 0;
	bool		recorded;

	if (!PG_ARGISNULL(2))
	{
		at = PG_GETARG_TIMESTAMPTZ(2);
		if (TIMESTAMP_NOT_FINITE(at))
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("at must be a finite time")));
	}
	wl_spi_connect();
	recorded = wl_record_event(handle, event, at, !PG_ARGISNULL(2));
	SPI_finish();
	PG_RETURN_BOOL(recorded);
}

/* opt_out and opt_in: one contact and a source in, whether anything changed out. */
static Datum
consent_change(FunctionCallInfo fcinfo, bool (*change) (const char *, const char *))
{
	char	   *contact = arg_contact(fcinfo);
	char	   *source = arg_source(fcinfo, 1);
	bool		done;

	wl_spi_connect();
	done = change(contact, source);
	SPI_finish();
	PG_RETURN_BOOL(done);
}

/* SQL: waitlist.opt_out(contact, source) */
Datum
waitlist_opt_out(PG_FUNCTION_ARGS)
{
	return consent_change(fcinfo, wl_opt_out);
}

/* SQL: waitlist.opt_in(contact, source) */
Datum
waitlist_opt_in(PG_FUNCTION_ARGS)
{
	return consent_change(fcinfo, wl_opt_in);
}

/* SQL: waitlist.suppressed(contact) */
Datum
waitlist_suppressed(PG_FUNCTION_ARGS)
{
	char	   *contact = arg_contact(fcinfo);
	char	   *reason;
	text	   *result = NULL;

	wl_spi_connect();
	reason = wl_suppressed(contact);
	if (reason != NULL)
	{
		size_t		len = strlen(reason);

		result = (text *) SPI_palloc(VARHDRSZ + len);
		SET_VARSIZE(result, VARHDRSZ + len);
		memcpy(VARDATA(result), reason, len);
	}
	SPI_finish();
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}
