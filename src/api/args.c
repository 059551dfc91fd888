/*
 * args.c
 *	  Input checks: NULLs, lengths, quantities, email and E.164 phone.
 *
 * Every refusal is an ereport with a data-exception SQLSTATE and happens
 * before anything is written, so bad input changes nothing.
 */
#include "postgres.h"

#include <ctype.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"

#include "api/args.h"
#include "store/suppression.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_valid_email);
PG_FUNCTION_INFO_V1(waitlist_valid_phone);

/* Characters allowed in the local part of an address (RFC 5322 atext + dot). */
static bool
local_char_ok(char c)
{
	return isalnum((unsigned char) c) || strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL;
}

/* One domain label: 1-63 letters, digits or hyphens, no hyphen at an end. */
static bool
label_ok(const char *s, int len)
{
	if (len < 1 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (int i = 0; i < len; i++)
		if (!isalnum((unsigned char) s[i]) && s[i] != '-')
			return false;
	return true;
}

/* A domain of two or more labels whose last label is alphabetic. */
static bool
domain_ok(const char *d)
{
	const char *p = d;
	const char *last = d;
	int			labels = 0;

	for (;;)
	{
		const char *dot = strchr(p, '.');
		int			len = dot ? (int) (dot - p) : (int) strlen(p);

		if (!label_ok(p, len))
			return false;
		labels++;
		last = p;
		if (!dot)
			break;
		p = dot + 1;
	}
	if (labels < 2 || strlen(last) < 2)
		return false;
	for (const char *c = last; *c; c++)
		if (!isalpha((unsigned char) *c))
			return false;
	return true;
}

/* Plausible delivery address: local@domain.tld, at most 254 bytes. */
bool
wl_email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t		len = strlen(s);
	size_t		local_len;

	if (at == NULL || strchr(at + 1, '@') != NULL || len > 254)
		return false;
	local_len = at - s;
	if (local_len < 1 || local_len > 64 || s[0] == '.' || at[-1] == '.')
		return false;
	for (const char *c = s; c < at; c++)
		if (!local_char_ok(*c) || (c[0] == '.' && c[1] == '.'))
			return false;
	return domain_ok(at + 1);
}

/* E.164: '+', a non-zero digit, then 7 to 14 more digits. */
bool
wl_phone_ok(const char *s)
{
	size_t		digits;

	if (s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	for (digits = 0; s[1 + digits]; digits++)
		if (!isdigit((unsigned char) s[1 + digits]))
			return false;
	return digits >= 8 && digits <= 15;
}

/* True when an optional argument is NULL; a required one raises. */
static bool
arg_missing(FunctionCallInfo fcinfo, int argno, const char *name, bool required)
{
	if (!PG_ARGISNULL(argno))
		return false;
	if (required)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return true;
}

/* Text argument: NULL check, length check (characters), never empty. */
char *
wl_arg_text(FunctionCallInfo fcinfo, int argno, const char *name,
			int maxlen, bool required)
{
	if (arg_missing(fcinfo, argno, name, required))
		return NULL;
	return wl_check_text(text_to_cstring(PG_GETARG_TEXT_PP(argno)), name, maxlen);
}

/* A text value: at most maxlen characters, never empty. */
char *
wl_check_text(char *s, const char *name, int maxlen)
{
	if (pg_mbstrlen(s) > maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long", name),
				 errdetail("At most %d characters are accepted.", maxlen)));
	if (s[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", name)));
	return s;
}

/* Required bigint argument. */
int64
wl_arg_int64(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return PG_GETARG_INT64(argno);
}

/* Required quantity argument (bigint): positive, or non-negative. */
int64
wl_arg_qty(FunctionCallInfo fcinfo, int argno, bool allow_zero)
{
	int64		qty = wl_arg_int64(fcinfo, argno, "qty");

	if (qty < 0 || (qty == 0 && !allow_zero))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("qty must be %s, got " INT64_FORMAT,
						allow_zero ? "zero or more" : "positive", qty)));
	return qty;
}

/* Required order-line quantity argument (integer): positive. */
int32
wl_arg_line_qty(FunctionCallInfo fcinfo, int argno)
{
	int32		qty;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("qty must not be null")));
	qty = PG_GETARG_INT32(argno);
	if (qty <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("qty must be positive, got %d", qty)));
	return qty;
}

/*
 * Arguments 0-6 of an order line: order_ref, sku, qty, customer, email,
 * phone, channel; an email or a phone is required (what: the kind of order,
 * for the message).
 */
void
wl_arg_order(FunctionCallInfo fcinfo, WlOrderArgs *a, const char *what)
{
	a->order_ref = wl_arg_text(fcinfo, 0, "order_ref", WL_MAX_REF_LEN, true);
	a->sku = wl_arg_text(fcinfo, 1, "sku", WL_MAX_SKU_LEN, true);
	a->qty = wl_arg_line_qty(fcinfo, 2);
	a->customer = wl_arg_text(fcinfo, 3, "customer", WL_MAX_NAME_LEN, false);
	a->email = wl_arg_email(fcinfo, 4);
	a->phone = wl_arg_phone(fcinfo, 5);
	a->channel = wl_arg_channel(fcinfo, 6);
	if (!a->email && !a->phone)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an email address or a phone number is required"),
				 errdetail("The %s confirmation and the shipping notice need somewhere to go.", what)));
}

/* Optional email argument, validated and lower-cased in the domain. */
char *
wl_arg_email(FunctionCallInfo fcinfo, int argno)
{
	char	   *s = wl_arg_text(fcinfo, argno, "email", 254, false);

	if (s && !wl_email_ok(s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid email address"),
				 errdetail("\"%s\" is not of the form name@example.com.", s),
				 errdetail_log("The address is not written to the server log."),
				 errhidestmt(true)));
	return s;
}

/* Optional phone argument in E.164. */
char *
wl_arg_phone(FunctionCallInfo fcinfo, int argno)
{
	char	   *s = wl_arg_text(fcinfo, argno, "phone", 16, false);

	if (s && !wl_phone_ok(s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid phone number"),
				 errdetail("\"%s\" is not in E.164: a plus sign, the country code and the number, digits only, e.g. +14155550123.", s),
				 errdetail_log("The number is not written to the server log."),
				 errhidestmt(true)));
	return s;
}

/*
 * Required contact argument: an email address (returned lower-cased, the
 * key waitlist.suppression uses) or an E.164 phone number.
 */
char *
wl_arg_contact(FunctionCallInfo fcinfo, int argno)
{
	char	   *s = wl_arg_text(fcinfo, argno, "contact", 254, true);
	bool		email = strchr(s, '@') != NULL;

	if (email ? !wl_email_ok(s) : !wl_phone_ok(s))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s", email ? "email address" : "phone number"),
				 errdetail("A contact is an email address (name@example.com) or an E.164 phone number (+15551234567).")));
	return wl_contact_key(s, email);
}

/* SQL: waitlist.valid_email(text) */
Datum
waitlist_valid_email(PG_FUNCTION_ARGS)
{
	char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BOOL(wl_email_ok(s));
}

/* SQL: waitlist.valid_phone(text) */
Datum
waitlist_valid_phone(PG_FUNCTION_ARGS)
{
	char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BOOL(wl_phone_ok(s));
}

/* Optional sales channel name: 1-40 of a-z, 0-9, '_' and '-'; default dtc. */
char *
wl_arg_channel(FunctionCallInfo fcinfo, int argno)
{
	char	   *s = wl_arg_text(fcinfo, argno, "channel", WL_MAX_CHANNEL_LEN, false);

	if (s == NULL)
		return pstrdup("dtc");
	for (const char *c = s; *c; c++)
		if (!(*c >= 'a' && *c <= 'z') && !isdigit((unsigned char) *c) &&
			*c != '_' && *c != '-')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid channel name \"%s\"", s),
					 errhint("Channel names use lower-case letters, digits, \"_\" and \"-\", such as dtc or amazon.")));
	if (*s == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("channel must not be empty")));
	return s;
}

/*
 * A positive finite numeric argument below max, returned as its text form
 * (for SPI and JSON), or NULL when absent and not required.
 */
char *
wl_arg_amount(FunctionCallInfo fcinfo, int argno, const char *name,
			  bool required, double max)
{
	if (arg_missing(fcinfo, argno, name, required))
		return NULL;
	return wl_check_amount(PG_GETARG_DATUM(argno), name, max);
}

/* A numeric value: positive, finite, at most max; returned as its text. */
char *
wl_check_amount(Datum numeric, const char *name, double max)
{
	char	   *s = DatumGetCString(DirectFunctionCall1(numeric_out, numeric));
	double		v = strtod(s, NULL);

	if (!(v > 0.0) || !(v <= max))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be greater than 0 and at most %g, got %s", name, max, s)));
	return s;
}

/* A three-letter upper-case ISO 4217 code. */
char *
wl_check_currency(char *s)
{
	wl_check_text(s, "currency", 3);
	if (strlen(s) != 3 || !isupper((unsigned char) s[0]) ||
		!isupper((unsigned char) s[1]) || !isupper((unsigned char) s[2]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid currency \"%s\"", s),
				 errhint("Use a three-letter ISO 4217 code such as USD or EUR.")));
	return s;
}

/*
 * Dates the extension accepts: every date it stores ends up in a message,
 * and one past the timestamp range could not even be formatted.
 */
#define WL_MIN_DATE_TEXT "2000-01-01"
#define WL_MAX_DATE_TEXT "9999-12-31"

/* Refuse an infinite date or one outside WL_MIN_DATE_TEXT..WL_MAX_DATE_TEXT. */
void
wl_check_date(DateADT d, const char *name)
{
	DateADT		lo = date2j(2000, 1, 1) - POSTGRES_EPOCH_JDATE;
	DateADT		hi = date2j(9999, 12, 31) - POSTGRES_EPOCH_JDATE;

	if (DATE_NOT_FINITE(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite date", name)));
	if (d < lo || d > hi)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be between " WL_MIN_DATE_TEXT " and " WL_MAX_DATE_TEXT, name)));
}

/* A required date argument within the accepted range. */
DateADT
wl_arg_date(FunctionCallInfo fcinfo, int argno, const char *name)
{
	DateADT		d;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	d = PG_GETARG_DATEADT(argno);
	wl_check_date(d, name);
	return d;
}
