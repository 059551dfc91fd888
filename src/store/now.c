/*
 * now.c
 *	  The extension's clock.
 *
 * Everything time-based reads one clock: waitlist.now() in SQL (column
 * defaults, the statements the C code runs, the views) and wl_now() /
 * wl_today() in C.  It is the transaction's start time, exactly what now()
 * returns, unless the superuser-only setting waitlist.test_now names a
 * moment: then that moment, for every statement of the session.  Tests use
 * it to walk a backorder through weeks of waiting without sleeping; nothing
 * else should.  The setting is parsed once, when it is set (a GUC check hook
 * that refuses what timestamptz input would not read as one moment), so
 * reading the clock costs a branch.
 *
 * The C code passes wl_now() as a bound parameter where Citus refuses a
 * function call in a statement on a distributed table (in a CASE, a COALESCE
 * or an ON CONFLICT DO UPDATE SET).
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "store/now.h"

static char *test_now_text = NULL;
static bool test_now_set = false;
static TimestampTz test_now = 0;
static bool moved_on = false;	/* wl_now_move_on: a later moment */
static TimestampTz moved_to = 0;

/* Accept '' (the real clock) or one finite timestamptz. */
static bool
check_test_now(char **newval, void **extra, GucSource source)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz;
	struct pg_tm tt;
	fsec_t		fsec;
	TimestampTz *parsed;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (ParseDateTime(*newval, workbuf, sizeof(workbuf), field, ftype,
					  MAXDATEFIELDS, &nf) != 0 ||
		DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz) != 0 ||
		dtype != DTK_DATE)
	{
		GUC_check_errdetail("waitlist.test_now takes one moment, e.g. '2027-01-08 09:00+00', or '' for the real clock.");
		return false;
	}
	parsed = malloc(sizeof(TimestampTz));
	if (parsed == NULL)
		return false;
	if (tm2timestamp(&tt, fsec, &tz, parsed) != 0 || !IS_VALID_TIMESTAMP(*parsed))
	{
		free(parsed);
		GUC_check_errdetail("waitlist.test_now is out of the timestamp range.");
		return false;
	}
	*extra = parsed;
	return true;
}

static void
assign_test_now(const char *newval, void *extra)
{
	test_now_set = extra != NULL;
	test_now = extra != NULL ? *(TimestampTz *) extra : 0;
}

void
wl_now_define_setting(void)
{
	DefineCustomStringVariable("waitlist.test_now",
							   "For tests only: the moment the extension reads as now instead of the transaction's start.",
							   "Empty (the default) is the real clock.  Scheduled messages, due times, holds and created_at columns all follow it.",
							   &test_now_text, "", PGC_SUSET, 0,
							   check_test_now, assign_test_now, NULL);
}

/* The clock as a Datum (timestamptz): the transaction's start, or the test's moment. */
Datum
wl_now(void)
{
	if (test_now_set)
		return TimestampTzGetDatum(test_now);
	if (moved_on)
		return TimestampTzGetDatum(moved_to);
	return TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
}

/*
 * For a statement that waits inside its transaction (claim_wait): from now
 * on the clock reads the current time instead of the transaction's start,
 * so what became due while it waited is due.  A test's moment still wins.
 * wl_now_move_back returns to the transaction's start; the caller calls it
 * however it ends, an error included.
 */
void
wl_now_move_on(void)
{
	moved_to = GetCurrentTimestamp();
	moved_on = true;
}

/* True while waitlist.test_now holds the clock still. */
bool
wl_now_is_test(void)
{
	return test_now_set;
}

void
wl_now_move_back(void)
{
	moved_on = false;
}

/* The clock's date in the session's time zone, as current_date is now()'s. */
DateADT
wl_today(void)
{
	if (!test_now_set && !moved_on)
		return GetSQLCurrentDate();
	return DatumGetDateADT(DirectFunctionCall1(timestamptz_date, wl_now()));
}
