/*
 * json.c
 *	  The one JSON writer of message payloads.  Members are appended in
 *	  order; strings are escaped with PostgreSQL's escape_json, so every
 *	  payload is valid JSON whatever a customer typed.
 */
#include "postgres.h"

#include "utils/datetime.h"
#include "utils/json.h"

#include "store/json.h"

/* Start an object. */
void
wl_json_init(WlJson *j)
{
	initStringInfo(&j->buf);
	appendStringInfoChar(&j->buf, '{');
	j->empty = true;
}

/* Write "key": (shared by the typed adders). */
static void
json_key(WlJson *j, const char *key)
{
	if (!j->empty)
		appendStringInfoString(&j->buf, ", ");
	escape_json(&j->buf, key);
	appendStringInfoString(&j->buf, ": ");
	j->empty = false;
}

/* Add a string member (NULL becomes JSON null). */
void
wl_json_str(WlJson *j, const char *key, const char *val)
{
	json_key(j, key);
	if (val)
		escape_json(&j->buf, val);
	else
		appendStringInfoString(&j->buf, "null");
}

/* Add an integer member. */
void
wl_json_int(WlJson *j, const char *key, int64 val)
{
	json_key(j, key);
	appendStringInfo(&j->buf, INT64_FORMAT, val);
}

/* Add a number member from its text (already a JSON number); NULL is null. */
void
wl_json_number(WlJson *j, const char *key, const char *val)
{
	json_key(j, key);
	appendStringInfoString(&j->buf, val ? val : "null");
}

/* Add a boolean member. */
void
wl_json_bool(WlJson *j, const char *key, bool val)
{
	json_key(j, key);
	appendStringInfoString(&j->buf, val ? "true" : "false");
}

/* Close the object and return its text. */
char *
wl_json_finish(WlJson *j)
{
	appendStringInfoChar(&j->buf, '}');
	return j->buf.data;
}

/*
 * A date as YYYY-MM-DD, whatever the session's DateStyle; the infinities
 * (a date stored by hand: the API takes none) as infinity and -infinity.
 */
char *
wl_iso_date(DateADT d)
{
	int			year,
				month,
				day;

	if (DATE_IS_NOBEGIN(d))
		return pstrdup("-infinity");
	if (DATE_IS_NOEND(d))
		return pstrdup("infinity");
	j2date(d + POSTGRES_EPOCH_JDATE, &year, &month, &day);
	return psprintf("%04d-%02d-%02d", year, month, day);
}
