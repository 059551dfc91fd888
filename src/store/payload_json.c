/*
 * payload_json.c
 *	  waitlist.payload_json(VARIADIC "any"): a JSON object from key/value
 *	  pairs, built for the batch expansions that write one payload per row,
 *	  with the same writer as the C messages (json.c).
 *
 * json_build_object() looks up every argument's type category on every
 * call; this function resolves each argument's kind and output function
 * once per query (cached in fn_extra) and then only formats values.
 * Integers, numerics and booleans are written bare, dates as YYYY-MM-DD
 * and timestamps as YYYY-MM-DDTHH:MI:SS (with Z, in UTC, for timestamptz),
 * whatever the session's DateStyle and TimeZone (a payload is read by a
 * listener, not by the session that happened to write it), other values
 * as JSON strings of their text output, NULL as null.  Keys must be text.
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "store/json.h"

PG_FUNCTION_INFO_V1(waitlist_payload_json);

typedef enum ArgKind
{
	ARG_INT,
	ARG_BOOL,
	ARG_TEXT,
	ARG_CSTRING,				/* an untyped literal */
	ARG_NUMERIC,
	ARG_DATE,
	ARG_TIMESTAMP,
	ARG_TIMESTAMPTZ,
	ARG_OTHER
} ArgKind;

typedef struct ArgInfo
{
	ArgKind		kind;
	FmgrInfo	out;
} ArgInfo;

/* How to write a value of this type. */
static ArgKind
arg_kind(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return ARG_INT;
		case BOOLOID:
			return ARG_BOOL;
		case NUMERICOID:
			return ARG_NUMERIC;
		case TEXTOID:
		case VARCHAROID:
			return ARG_TEXT;
		case UNKNOWNOID:
			return ARG_CSTRING;
		case DATEOID:
			return ARG_DATE;
		case TIMESTAMPOID:
			return ARG_TIMESTAMP;
		case TIMESTAMPTZOID:
			return ARG_TIMESTAMPTZ;
		default:
			return ARG_OTHER;
	}
}

/* Per-query cache of argument kinds and output functions. */
static ArgInfo *
arg_info(FunctionCallInfo fcinfo, int nargs)
{
	ArgInfo    *info = fcinfo->flinfo->fn_extra;

	if (info != NULL)
		return info;
	info = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ArgInfo) * nargs);
	for (int i = 0; i < nargs; i++)
	{
		Oid			type = get_fn_expr_argtype(fcinfo->flinfo, i);
		Oid			outfn;
		bool		varlena;

		if (!OidIsValid(type))
			elog(ERROR, "waitlist.payload_json: could not determine argument %d's type", i + 1);
		if (i % 2 == 0 && type != TEXTOID && type != UNKNOWNOID)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("waitlist.payload_json: key %d must be text", i / 2 + 1)));
		info[i].kind = arg_kind(type);
		getTypeOutputInfo(type, &outfn, &varlena);
		fmgr_info_cxt(outfn, &info[i].out, fcinfo->flinfo->fn_mcxt);
	}
	fcinfo->flinfo->fn_extra = info;
	return info;
}

/*
 * A timestamp (UTC for a timestamptz) to the second, ISO 8601; NULL when it
 * is infinite (the caller writes the type's output then).
 */
static char *
iso_timestamp(Timestamp ts, bool utc)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) || timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		return NULL;
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d%s", tm.tm_year, tm.tm_mon, tm.tm_mday,
					tm.tm_hour, tm.tm_min, tm.tm_sec, utc ? "Z" : "");
}

/* Add the member key: value, written as its kind says. */
static void
add_member(WlJson *j, const char *key, ArgInfo *a, Datum value)
{
	char	   *n;

	switch (a->kind)
	{
		case ARG_BOOL:
			wl_json_bool(j, key, DatumGetBool(value));
			break;
		case ARG_INT:
			wl_json_number(j, key, OutputFunctionCall(&a->out, value));
			break;
		case ARG_TEXT:
			wl_json_str(j, key, TextDatumGetCString(value));
			break;
		case ARG_CSTRING:
			wl_json_str(j, key, DatumGetCString(value));
			break;
		case ARG_NUMERIC:
			n = OutputFunctionCall(&a->out, value);
			/* NaN and the infinities are not JSON numbers */
			if (isdigit((unsigned char) n[strlen(n) - 1]))
				wl_json_number(j, key, n);
			else
				wl_json_str(j, key, n);
			break;
		case ARG_DATE:
			wl_json_str(j, key, wl_iso_date(DatumGetDateADT(value)));
			break;
		case ARG_TIMESTAMP:
		case ARG_TIMESTAMPTZ:
			n = iso_timestamp(DatumGetTimestamp(value), a->kind == ARG_TIMESTAMPTZ);
			wl_json_str(j, key, n ? n : OutputFunctionCall(&a->out, value));
			break;
		default:
			wl_json_str(j, key, OutputFunctionCall(&a->out, value));
			break;
	}
}

/* A key argument as a C string (text or an untyped literal). */
static char *
key_text(ArgInfo *a, Datum value)
{
	return a->kind == ARG_CSTRING ? DatumGetCString(value) : TextDatumGetCString(value);
}

/* SQL: waitlist.payload_json(VARIADIC "any") RETURNS json */
Datum
waitlist_payload_json(PG_FUNCTION_ARGS)
{
	int			nargs = PG_NARGS();
	ArgInfo    *info;
	WlJson		j;

	if (get_fn_expr_variadic(fcinfo->flinfo))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("waitlist.payload_json takes its pairs as separate arguments")));
	if (nargs % 2 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("waitlist.payload_json needs key/value pairs")));
	info = arg_info(fcinfo, nargs);
	wl_json_init(&j);
	for (int i = 0; i < nargs; i += 2)
	{
		char	   *key;

		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("waitlist.payload_json: key %d is null", i / 2 + 1)));
		key = key_text(&info[i], PG_GETARG_DATUM(i));
		if (PG_ARGISNULL(i + 1))
			wl_json_str(&j, key, NULL);
		else
			add_member(&j, key, &info[i + 1], PG_GETARG_DATUM(i + 1));
	}
	PG_RETURN_TEXT_P(cstring_to_text(wl_json_finish(&j)));
}
