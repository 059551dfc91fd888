/*
 * preorders.c
 *	  Pre-orders: the plan and its cap (open_preorders, close_preorders,
 *	  reschedule_preorders, set_preorder_channel_limit), placement within
 *	  the cap (place_preorder), the tracking report (preorder_status) and
 *	  the payment events of pre-order lines (authorize, capture, void,
 *	  refund, re-authorize).
 *
 * The cap: sku.preorder_accepted counts accepted units, and a placement adds
 * its quantity with one conditional UPDATE of the SKU row
 * ("... WHERE preorder_accepted + qty <= preorder_limit").  Racing
 * placements queue on that row's lock and each re-checks the condition
 * against the row it finally updates, so no interleaving lets one unit
 * past the limit.  Everything that does not need the lock (validation,
 * reading the terms, queueing the confirmation and the payment event)
 * happens before that UPDATE, which keeps the hot row's lock short; the
 * terms read unlocked are checked against sku.preorder_terms under it.
 *
 * Locking: the SKU row, then its per-channel limit rows, then lines, the
 * order lines.c and the allocator follow.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "commit.h"
#include "outbox.h"
#include "preorders.h"
#include "spi_util.h"
#include "validate.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_open_preorders);
PG_FUNCTION_INFO_V1(waitlist_close_preorders);
PG_FUNCTION_INFO_V1(waitlist_reschedule_preorders);
PG_FUNCTION_INFO_V1(waitlist_set_preorder_channel_limit);
PG_FUNCTION_INFO_V1(waitlist_place_preorder);
PG_FUNCTION_INFO_V1(waitlist_preorder_status);

/* A SKU's pre-order state, read under its row lock. */
typedef struct PlanSku
{
	int64		id;
	bool		discontinued;
	bool		has_plan;
	bool		open;
	bool		at_limit;
	int64		limit;
	int64		accepted;
	Datum		ships_on;
	bool		ships_null;
	Datum		production;
} PlanSku;

static WlQuery q_plan_lock = {
	"SELECT id, status = 'discontinued', planned_production IS NOT NULL, preorders_open,"
	" preorder_at_limit, preorder_limit, preorder_accepted, ships_on, production_date"
	" FROM waitlist.sku WHERE sku = $1 FOR UPDATE",
	1, {TEXTOID}, NULL
};

/* Lock the SKU by code and read its plan; unknown SKUs are refused. */
static void
lock_plan(const char *sku, PlanSku *p)
{
	Datum		arg = CStringGetTextDatum(sku);
	bool		isnull;

	if (wl_exec(&q_plan_lock, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		wl_error_unknown_sku(sku);
	p->id = wl_get_int64(0, 1, NULL);
	p->discontinued = wl_get_bool(0, 2);
	p->has_plan = wl_get_bool(0, 3);
	p->open = wl_get_bool(0, 4);
	p->at_limit = wl_get_bool(0, 5);
	p->limit = wl_get_int64(0, 6, NULL);
	p->accepted = wl_get_int64(0, 7, NULL);
	p->ships_on = wl_get_datum(0, 8, &p->ships_null);
	p->production = wl_get_datum(0, 9, &isnull);
}

/* Refuse plan changes for SKUs that never had a plan. */
static void
require_plan(const char *sku, PlanSku *p)
{
	if (!p->has_plan)
		ereport(ERROR,
				(errcode(WL_ERRCODE_PREORDERS_NOT_OPEN),
				 errmsg("SKU \"%s\" has no pre-order plan", sku),
				 errhint("Open pre-orders with waitlist.open_preorders first.")));
}

/* ---------- the limit: reached, left, over ---------- */

static WlQuery q_set_at_limit = {
	"UPDATE waitlist.sku SET preorder_at_limit = $2,"
	" preorder_limit_hits = preorder_limit_hits + CASE WHEN $2 THEN 1 ELSE 0 END"
	" WHERE id = $1"
	" RETURNING preorder_limit_hits, sku, title, planned_production, preorder_limit,"
	"  preorder_accepted, sub_tail - sub_served",
	2, {INT8OID, BOOLOID}, NULL
};

/* Queue the merchant's preorder_limit_reached event from q_set_at_limit's row. */
static void
limit_reached_event(int64 sku_id)
{
	WlJson		j;
	char		key[80];
	char	   *sku = wl_get_text(0, 2);

	wl_json_init(&j);
	wl_json_str(&j, "sku", sku);
	wl_json_str(&j, "title", wl_get_text(0, 3));
	wl_json_int(&j, "planned_production", wl_get_int64(0, 4, NULL));
	wl_json_int(&j, "preorder_limit", wl_get_int64(0, 5, NULL));
	wl_json_int(&j, "accepted", wl_get_int64(0, 6, NULL));
	wl_json_bool(&j, "signups_open", true);
	snprintf(key, sizeof(key), "sku:" INT64_FORMAT ":preorder_limit:" INT64_FORMAT,
			 sku_id, wl_get_int64(0, 1, NULL));
	wl_queue_message("preorder_limit_reached", "merchant", NULL, sku,
					 wl_json_finish(&j), key);
}

/*
 * Record whether accepted units now fill the limit.  Reaching it queues
 * preorder_limit_reached (once per time it is reached); capacity given back
 * by a cancellation or a larger plan clears the mark.
 */
static void
sync_limit(int64 sku_id, bool was_at_limit, int64 accepted, int64 limit)
{
	bool		at_limit = accepted >= limit;
	Datum		args[2] = {Int64GetDatum(sku_id), BoolGetDatum(at_limit)};

	if (at_limit == was_at_limit)
		return;
	wl_exec(&q_set_at_limit, args, NULL, SPI_OK_UPDATE_RETURNING, 0);
	if (at_limit)
		limit_reached_event(sku_id);
}

/* Warn the caller and the merchant that a smaller plan left units over. */
static void
report_over_limit(const char *sku, PlanSku *p, int64 terms)
{
	WlJson		j;
	char		key[80];
	int64		over = p->accepted - p->limit;

	ereport(WARNING,
			(errmsg(INT64_FORMAT " accepted pre-order units of SKU \"%s\" are over the new limit of " INT64_FORMAT,
					over, sku, p->limit),
			 errdetail("No pre-order was cancelled; new pre-orders are refused until cancellations bring the total under the limit."),
			 errhint("Cancel lines with waitlist.cancel_line if production cannot cover them.")));
	wl_json_init(&j);
	wl_json_str(&j, "sku", sku);
	wl_json_int(&j, "preorder_limit", p->limit);
	wl_json_int(&j, "accepted", p->accepted);
	wl_json_int(&j, "over_limit", over);
	snprintf(key, sizeof(key), "sku:" INT64_FORMAT ":preorder_over:" INT64_FORMAT,
			 p->id, terms);
	wl_queue_message("preorder_over_limit", "merchant", NULL, sku,
					 wl_json_finish(&j), key);
}

/* ---------- moved ship dates ---------- */

static WlQuery q_preorder_eta = {
	"WITH t AS ("
	"  SELECT l.id, l.order_ref, l.qty, l.email, l.phone, s.sku, s.title, s.ships_on,"
	"   s.production_date, s.preorder_terms"
	"  FROM waitlist.sku s"
	"  JOIN waitlist.line l ON l.sku_id = s.id AND l.state = 'waiting'"
	"   AND l.pos_end > s.paid_served AND l.kind = 'preorder'"
	"  WHERE s.id = $1),"
	" ins AS ("
	"  INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)"
	"  SELECT 'eta_changed', c.channel, c.recipient, t.sku,"
	"   waitlist.payload_json('order_ref', t.order_ref, 'line_id', t.id, 'sku', t.sku,"
	"    'title', t.title, 'qty', t.qty, 'preorder', true,"
	"    'previous_date', to_char($2::date, 'YYYY-MM-DD'),"
	"    'expected_ship_date', to_char(t.ships_on, 'YYYY-MM-DD'),"
	"    'production_date', to_char(t.production_date, 'YYYY-MM-DD'),"
	"    'cancel_allowed', true),"
	"   'line:' || t.id || ':eta:' || t.preorder_terms || ':' || c.channel"
	"  FROM t CROSS JOIN LATERAL (VALUES ('email', t.email), ('sms', t.phone))"
	"   AS c (channel, recipient)"
	"  WHERE c.recipient IS NOT NULL"
	"  ON CONFLICT (idempotency_key) DO NOTHING RETURNING 1)"
	" SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM ins)",
	2, {INT8OID, DATEOID}, NULL
};

/* Tell pre-orders still short of units that the ship date moved; lines told. */
static int64
tell_new_date(int64 sku_id, Datum previous)
{
	Datum		args[2] = {Int64GetDatum(sku_id), previous};

	wl_exec(&q_preorder_eta, args, NULL, SPI_OK_SELECT, 0);
	if (wl_get_int64(0, 2, NULL) > 0)
		wl_note_messages();
	return wl_get_int64(0, 1, NULL);
}

/* ---------- preorder_status ---------- */

/* The tracking block; the layout of waitlist.preorder_report. */
static WlQuery q_status = {
	"SELECT s.sku, st.status, s.planned_production, s.preorder_cap_pct::numeric,"
	"  s.preorder_limit, s.preorder_accepted,"
	"  greatest(s.preorder_limit - s.preorder_accepted, 0),"
	"  greatest(s.preorder_accepted - s.preorder_limit, 0),"
	"  s.production_date, s.ships_on,"
	"  s.payment_mode || CASE WHEN s.deposit_pct IS NOT NULL"
	"   THEN ' ' || trim_scale(s.deposit_pct) || '%'"
	"   WHEN s.deposit_amount IS NOT NULL THEN ' ' || s.deposit_amount || ' per unit'"
	"   ELSE '' END,"
	"  CASE WHEN s.planned_production IS NULL"
	"   THEN 'No pre-order plan for ' || s.sku || '.'"
	"   ELSE 'Total planned production: ' || s.planned_production || ' units' || E'\\n'"
	"    || 'Preorder limit (' || trim_scale(s.preorder_cap_pct) || '%): '"
	"    || s.preorder_limit || ' units' || E'\\n'"
	"    || 'Preorders received: ' || s.preorder_accepted || ' units' || E'\\n'"
	"    || 'Remaining preorder capacity: '"
	"    || greatest(s.preorder_limit - s.preorder_accepted, 0) || ' units' || E'\\n'"
	"    || 'Expected production date: ' || to_char(s.production_date, 'FMMonth FMDD, YYYY')"
	"    || E'\\n' || 'Expected ship date: ' || to_char(s.ships_on, 'FMMonth FMDD, YYYY')"
	"    || E'\\n' || 'Status: ' || st.status END"
	" FROM waitlist.sku s"
	" CROSS JOIN LATERAL (SELECT CASE"
	"   WHEN s.planned_production IS NULL THEN 'NO PREORDER PLAN'"
	"   WHEN s.preorder_accepted > s.preorder_limit THEN"
	"    'LIMIT REACHED (' || s.preorder_accepted - s.preorder_limit || ' over)'"
	"   WHEN s.preorder_accepted = s.preorder_limit THEN 'LIMIT REACHED'"
	"   WHEN NOT s.preorders_open THEN 'CLOSED'"
	"   ELSE 'ACCEPTING PREORDERS (' || s.preorder_limit - s.preorder_accepted"
	"    || ' remaining)' END AS status) st"
	" WHERE CASE WHEN $1 IS NULL THEN s.planned_production IS NOT NULL ELSE s.sku = $1 END"
	" ORDER BY s.sku",
	1, {TEXTOID}, NULL
};

/* SQL: waitlist.preorder_status(sku) -> SETOF preorder_report */
Datum
waitlist_preorder_status(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, false);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		arg = wl_opt_text(sku);
	uint64		n;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	n = wl_exec(&q_status, &arg, sku ? NULL : "n", SPI_OK_SELECT, 0);
	if (n == 0 && sku)
		wl_error_unknown_sku(sku);
	for (uint64 i = 0; i < n; i++)
	{
		Datum		values[12];
		bool		nulls[12];

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/* The report row of one SKU as the function's composite result (in SPI). */
static HeapTuple
status_row(int64 sku_id)
{
	static WlQuery q_code = {
		"SELECT sku FROM waitlist.sku WHERE id = $1", 1, {INT8OID}, NULL
	};
	Datum		arg = Int64GetDatum(sku_id);
	Datum		code;

	wl_exec(&q_code, &arg, NULL, SPI_OK_SELECT, 1);
	code = wl_get_datum(0, 1, NULL);
	wl_exec(&q_status, &code, NULL, SPI_OK_SELECT, 1);
	return SPI_copytuple(SPI_tuptable->vals[0]);
}

/* ---------- open_preorders ---------- */

typedef struct PlanArgs
{
	char	   *sku;
	int64		planned;
	char	   *cap;
	DateADT		production;
	DateADT		ships;
	char	   *payment;
	char	   *deposit_pct;
	char	   *deposit_amount;
} PlanArgs;

/* Check the payment mode and that a deposit is given exactly when needed. */
static void
check_payment(PlanArgs *a)
{
	bool		deposit = strcmp(a->payment, "deposit") == 0;

	if (!deposit && strcmp(a->payment, "authorize") != 0 &&
		strcmp(a->payment, "full") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid payment mode \"%s\"", a->payment),
				 errhint("Use authorize (capture at shipment), full (capture at order) or deposit.")));
	if (deposit && (a->deposit_pct == NULL) == (a->deposit_amount == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("payment mode deposit needs exactly one of deposit_pct and deposit_amount")));
	if (!deposit && (a->deposit_pct || a->deposit_amount))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a deposit only applies to payment mode deposit, not %s", a->payment)));
}

/* Read and check open_preorders' arguments. */
static void
plan_args(FunctionCallInfo fcinfo, PlanArgs *a)
{
	a->sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	a->planned = wl_arg_int64(fcinfo, 1, "planned_production");
	if (a->planned <= 0 || a->planned > INT64CONST(1000000000000))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("planned_production must be between 1 and 1000000000000, got " INT64_FORMAT,
						a->planned)));
	a->cap = wl_arg_amount(fcinfo, 2, "cap_pct", true, 100.0);
	a->production = wl_arg_date(fcinfo, 3, "production_date");
	a->ships = wl_arg_date(fcinfo, 4, "ships_on");
	if (a->ships < a->production)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ships_on must not be before production_date")));
	a->payment = wl_arg_text(fcinfo, 5, "payment", 20, true);
	a->deposit_pct = wl_arg_amount(fcinfo, 6, "deposit_pct", false, 99.99);
	a->deposit_amount = wl_arg_amount(fcinfo, 7, "deposit_amount", false, 1e12);
	check_payment(a);
}

static WlQuery q_set_plan = {
	"UPDATE waitlist.sku SET status = 'upcoming', planned_production = $2,"
	" preorder_cap_pct = round($3::numeric, 2),"
	" preorder_limit = floor($2 * round($3::numeric, 2) / 100)::bigint,"
	" preorders_open = true, production_date = $4, ships_on = $5, payment_mode = $6,"
	" deposit_pct = $7::numeric, deposit_amount = $8::numeric,"
	" preorder_terms = preorder_terms + 1, updated_at = now()"
	" WHERE id = $1 RETURNING preorder_limit, preorder_terms",
	8, {INT8OID, INT8OID, TEXTOID, DATEOID, DATEOID, TEXTOID, TEXTOID, TEXTOID}, NULL
};

/* Write the plan; returns the new terms number and sets p->limit. */
static int64
store_plan(PlanArgs *a, PlanSku *p)
{
	Datum		args[8];
	char		nulls[9] = "        ";

	args[0] = Int64GetDatum(p->id);
	args[1] = Int64GetDatum(a->planned);
	args[2] = CStringGetTextDatum(a->cap);
	args[3] = DateADTGetDatum(a->production);
	args[4] = DateADTGetDatum(a->ships);
	args[5] = CStringGetTextDatum(a->payment);
	args[6] = wl_opt_text(a->deposit_pct);
	args[7] = wl_opt_text(a->deposit_amount);
	nulls[6] = a->deposit_pct ? ' ' : 'n';
	nulls[7] = a->deposit_amount ? ' ' : 'n';
	wl_exec(&q_set_plan, args, nulls, SPI_OK_UPDATE_RETURNING, 0);
	p->limit = wl_get_int64(0, 1, NULL);
	return wl_get_int64(0, 2, NULL);
}

/* SQL: waitlist.open_preorders(sku, planned_production, cap_pct, ...) */
Datum
waitlist_open_preorders(PG_FUNCTION_ARGS)
{
	PlanArgs	a;
	PlanSku		p;
	TupleDesc	tupdesc;
	HeapTuple	row;
	int64		terms;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "waitlist: open_preorders must return a composite type");
	plan_args(fcinfo, &a);
	SPI_connect();
	lock_plan(a.sku, &p);
	if (p.discontinued)
		wl_error_discontinued(a.sku);
	terms = store_plan(&a, &p);
	sync_limit(p.id, p.at_limit, p.accepted, p.limit);
	if (p.accepted > p.limit)
		report_over_limit(a.sku, &p, terms);
	if (!p.ships_null && DatumGetDateADT(p.ships_on) != a.ships)
		tell_new_date(p.id, p.ships_on);
	row = status_row(p.id);
	SPI_finish();
	PG_RETURN_DATUM(heap_copy_tuple_as_datum(row, tupdesc));
}

/* ---------- close_preorders, reschedule_preorders ---------- */

static WlQuery q_close = {
	"UPDATE waitlist.sku SET preorders_open = false, preorder_terms = preorder_terms + 1,"
	" updated_at = now() WHERE id = $1",
	1, {INT8OID}, NULL
};

/* SQL: waitlist.close_preorders(sku) */
Datum
waitlist_close_preorders(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	PlanSku		p;
	Datum		arg;

	SPI_connect();
	lock_plan(sku, &p);
	if (p.open)
	{
		arg = Int64GetDatum(p.id);
		wl_exec(&q_close, &arg, NULL, SPI_OK_UPDATE, 0);
	}
	SPI_finish();
	PG_RETURN_BOOL(p.open);
}

static WlQuery q_reschedule = {
	"UPDATE waitlist.sku SET ships_on = $2, production_date = $3,"
	" preorder_terms = preorder_terms + 1, updated_at = now() WHERE id = $1",
	3, {INT8OID, DATEOID, DATEOID}, NULL
};

/* SQL: waitlist.reschedule_preorders(sku, ships_on, production_date) */
Datum
waitlist_reschedule_preorders(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	DateADT		ships = wl_arg_date(fcinfo, 1, "ships_on");
	PlanSku		p;
	Datum		args[3];
	int64		told = 0;

	SPI_connect();
	lock_plan(sku, &p);
	require_plan(sku, &p);
	args[0] = Int64GetDatum(p.id);
	args[1] = DateADTGetDatum(ships);
	args[2] = PG_ARGISNULL(2) ? p.production
		: DateADTGetDatum(wl_arg_date(fcinfo, 2, "production_date"));
	if (ships < DatumGetDateADT(args[2]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ships_on must not be before production_date")));
	wl_exec(&q_reschedule, args, NULL, SPI_OK_UPDATE, 0);
	if (DatumGetDateADT(p.ships_on) != ships)
		told = tell_new_date(p.id, p.ships_on);
	SPI_finish();
	PG_RETURN_INT32((int32) told);
}

/* ---------- set_preorder_channel_limit ---------- */

static WlQuery q_channel_units = {
	"SELECT coalesce(sum(qty), 0)::bigint FROM waitlist.line"
	" WHERE sku_id = $1 AND kind = 'preorder' AND channel = $2 AND state <> 'cancelled'",
	2, {INT8OID, TEXTOID}, NULL
};

static WlQuery q_channel_set = {
	"INSERT INTO waitlist.preorder_channel (sku_id, channel, max_units, accepted)"
	" VALUES ($1, $2, $3, $4) ON CONFLICT (sku_id, channel) DO UPDATE"
	" SET max_units = excluded.max_units, accepted = excluded.accepted",
	4, {INT8OID, TEXTOID, INT8OID, INT8OID}, NULL
};

static WlQuery q_channel_drop = {
	"DELETE FROM waitlist.preorder_channel WHERE sku_id = $1 AND channel = $2",
	2, {INT8OID, TEXTOID}, NULL
};

static WlQuery q_channel_flag = {
	"UPDATE waitlist.sku SET channel_limits = EXISTS"
	" (SELECT 1 FROM waitlist.preorder_channel c WHERE c.sku_id = $1) WHERE id = $1",
	1, {INT8OID}, NULL
};

/* SQL: waitlist.set_preorder_channel_limit(sku, channel, max_units) */
Datum
waitlist_set_preorder_channel_limit(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	char	   *channel;
	PlanSku		p;
	Datum		args[4];
	int64		used;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("channel must not be null")));
	channel = wl_arg_channel(fcinfo, 1);
	args[2] = Int64GetDatum(PG_ARGISNULL(2) ? 0 : wl_arg_qty(fcinfo, 2, true));
	SPI_connect();
	lock_plan(sku, &p);
	args[0] = Int64GetDatum(p.id);
	args[1] = CStringGetTextDatum(channel);
	wl_exec(&q_channel_units, args, NULL, SPI_OK_SELECT, 1);
	used = wl_get_int64(0, 1, NULL);
	args[3] = Int64GetDatum(used);
	if (PG_ARGISNULL(2))
		wl_exec(&q_channel_drop, args, NULL, SPI_OK_DELETE, 0);
	else
		wl_exec(&q_channel_set, args, NULL, SPI_OK_INSERT, 0);
	wl_exec(&q_channel_flag, args, NULL, SPI_OK_UPDATE, 0);
	if (!PG_ARGISNULL(2) && used > DatumGetInt64(args[2]))
		ereport(WARNING,
				(errmsg("channel \"%s\" already holds " INT64_FORMAT " pre-order units of SKU \"%s\", over its new limit of " INT64_FORMAT,
						channel, used, sku, DatumGetInt64(args[2])),
				 errdetail("No pre-order was cancelled; the channel takes no more until it is under the limit.")));
	SPI_finish();
	PG_RETURN_INT64(used);
}

/* ---------- place_preorder ---------- */

typedef struct PreorderArgs
{
	char	   *order_ref;
	char	   *sku;
	int32		qty;
	char	   *customer;
	char	   *email;
	char	   *phone;
	char	   *channel;
	char	   *price;
	char	   *currency;
} PreorderArgs;

/* What a placement reads before it locks anything. */
typedef struct Terms
{
	int64		sku_id;
	char	   *title;
	char	   *url;
	bool		discontinued;
	bool		open;
	int64		terms;
	char	   *mode;
	char	   *production;
	char	   *ships;
	char	   *amount;			/* qty * unit_price */
	char	   *now;			/* charged at order: 0, the deposit or all */
	char	   *balance;		/* charged at shipment */
	int64		line_id;		/* id for the new line */
	int64		existing_id;	/* an earlier line of the same order, or 0 */
	int32		existing_qty;
	bool		existing_preorder;
} Terms;

/* A three-letter upper-case ISO 4217 code. */
static char *
currency_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *s = wl_arg_text(fcinfo, argno, "currency", 3, true);

	if (strlen(s) != 3 || !isupper((unsigned char) s[0]) ||
		!isupper((unsigned char) s[1]) || !isupper((unsigned char) s[2]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid currency \"%s\"", s),
				 errhint("Use a three-letter ISO 4217 code such as USD or EUR.")));
	return s;
}

/* Read and check place_preorder's arguments. */
static void
preorder_args(FunctionCallInfo fcinfo, PreorderArgs *a)
{
	a->order_ref = wl_arg_text(fcinfo, 0, "order_ref", WL_MAX_REF_LEN, true);
	a->sku = wl_arg_text(fcinfo, 1, "sku", WL_MAX_SKU_LEN, true);
	a->qty = wl_arg_line_qty(fcinfo, 2);
	a->customer = wl_arg_text(fcinfo, 3, "customer", WL_MAX_NAME_LEN, false);
	a->email = wl_arg_email(fcinfo, 4);
	a->phone = wl_arg_phone(fcinfo, 5);
	a->channel = wl_arg_channel(fcinfo, 6);
	a->price = wl_arg_amount(fcinfo, 7, "unit_price", true, 1e9);
	a->currency = currency_arg(fcinfo, 8);
	if (!a->email && !a->phone)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an email address or a phone number is required"),
				 errdetail("The pre-order confirmation and the shipping notice need somewhere to go.")));
}

static WlQuery q_terms = {
	"SELECT s.id, s.title, s.product_url, s.status = 'discontinued', s.preorders_open,"
	"  s.preorder_terms::bigint, s.payment_mode,"
	"  to_char(s.production_date, 'YYYY-MM-DD'), to_char(s.ships_on, 'YYYY-MM-DD'),"
	"  m.amount::text, c.now::text, (m.amount - c.now)::text,"
	"  nextval('waitlist.line_id_seq'), l.id, l.qty, l.kind = 'preorder'"
	" FROM waitlist.sku s"
	" CROSS JOIN LATERAL (SELECT $3::numeric * $2 AS amount) m"
	" CROSS JOIN LATERAL (SELECT CASE s.payment_mode WHEN 'full' THEN m.amount"
	"   WHEN 'deposit' THEN least(m.amount, coalesce("
	"    round(m.amount * s.deposit_pct / 100, greatest(scale($3::numeric), 2)),"
	"    s.deposit_amount * $2))"
	"   ELSE 0 END AS now) c"
	" LEFT JOIN waitlist.line l ON l.sku_id = s.id AND l.order_ref = $4"
	" WHERE s.sku = $1",
	4, {TEXTOID, INT4OID, TEXTOID, TEXTOID}, NULL
};

/* Read the SKU's terms and any earlier line of the same order. */
static void
read_terms(PreorderArgs *a, Terms *t)
{
	Datum		args[4] = {CStringGetTextDatum(a->sku), Int32GetDatum(a->qty),
	CStringGetTextDatum(a->price), CStringGetTextDatum(a->order_ref)};
	bool		isnull;

	if (wl_exec(&q_terms, args, NULL, SPI_OK_SELECT, 0) == 0)
		wl_error_unknown_sku(a->sku);
	t->sku_id = wl_get_int64(0, 1, NULL);
	t->title = wl_get_text(0, 2);
	t->url = wl_get_text(0, 3);
	t->discontinued = wl_get_bool(0, 4);
	t->open = wl_get_bool(0, 5);
	t->terms = wl_get_int64(0, 6, NULL);
	t->mode = wl_get_text(0, 7);
	t->production = wl_get_text(0, 8);
	t->ships = wl_get_text(0, 9);
	t->amount = wl_get_text(0, 10);
	t->now = wl_get_text(0, 11);
	t->balance = wl_get_text(0, 12);
	t->line_id = wl_get_int64(0, 13, NULL);
	t->existing_id = wl_get_int64(0, 14, &isnull);
	t->existing_qty = isnull ? 0 : DatumGetInt32(wl_get_datum(0, 15, NULL));
	t->existing_preorder = wl_get_bool(0, 16);
}

/* An earlier line of the same order: its id when it is this pre-order, or an error. */
static int64
same_preorder(PreorderArgs *a, Terms *t)
{
	if (t->existing_id == 0)
		return 0;
	if (!t->existing_preorder || t->existing_qty != a->qty)
		ereport(ERROR,
				(errcode(WL_ERRCODE_DUPLICATE_ORDER),
				 errmsg("order \"%s\" already has another line for SKU \"%s\"",
						a->order_ref, a->sku),
				 errdetail("Placing the same pre-order again returns the existing line; change it by cancelling and placing a new one.")));
	return t->existing_id;
}

/* Refuse placements the SKU does not take, before anything is written. */
static void
require_open(PreorderArgs *a, Terms *t)
{
	if (t->discontinued)
		wl_error_discontinued(a->sku);
	if (!t->open)
		ereport(ERROR,
				(errcode(WL_ERRCODE_PREORDERS_NOT_OPEN),
				 errmsg("SKU \"%s\" does not take pre-orders", a->sku),
				 errhint("Offer the back-in-stock sign-up (waitlist.subscribe) instead.")));
}

/* Queue preorder_confirmed to the customer: ship date, payment, cancel option. */
static void
queue_confirmation(PreorderArgs *a, Terms *t)
{
	WlJson		j;
	char		key[64];

	wl_json_init(&j);
	wl_json_str(&j, "order_ref", a->order_ref);
	wl_json_int(&j, "line_id", t->line_id);
	wl_json_str(&j, "sku", a->sku);
	wl_json_str(&j, "title", t->title);
	wl_json_int(&j, "qty", a->qty);
	wl_json_str(&j, "channel", a->channel);
	wl_json_str(&j, "production_date", t->production);
	wl_json_str(&j, "expected_ship_date", t->ships);
	wl_json_str(&j, "payment_mode", t->mode);
	wl_json_str(&j, "currency", a->currency);
	wl_json_raw(&j, "amount", t->amount);
	wl_json_raw(&j, "charged_now", t->now);
	wl_json_raw(&j, "due_at_shipment", t->balance);
	wl_json_bool(&j, "cancel_allowed", true);
	wl_json_str(&j, "product_url", t->url);
	snprintf(key, sizeof(key), "line:" INT64_FORMAT ":confirmed", t->line_id);
	wl_queue_contacts("preorder_confirmed", a->sku, a->email, a->phone,
					  wl_json_finish(&j), key);
}

/* Queue the payment event at order: authorize, or capture all or the deposit. */
static void
queue_order_payment(PreorderArgs *a, Terms *t)
{
	WlJson		j;
	char		key[64];
	bool		authorize = strcmp(t->mode, "authorize") == 0;
	const char *action = authorize ? "authorize" : "capture";

	wl_json_init(&j);
	wl_json_str(&j, "action", action);
	wl_json_str(&j, "order_ref", a->order_ref);
	wl_json_int(&j, "line_id", t->line_id);
	wl_json_str(&j, "sku", a->sku);
	wl_json_int(&j, "qty", a->qty);
	wl_json_raw(&j, "amount", authorize ? t->amount : t->now);
	wl_json_str(&j, "currency", a->currency);
	wl_json_str(&j, "payment_mode", t->mode);
	wl_json_str(&j, "reason", strcmp(t->mode, "deposit") == 0 ? "deposit" : "preorder_placed");
	snprintf(key, sizeof(key), "line:" INT64_FORMAT ":pay:%s:order", t->line_id, action);
	wl_queue_message(authorize ? "payment_authorize" : "payment_capture", "payment",
					 a->order_ref, a->sku, wl_json_finish(&j), key);
}

/* The SKU row after taking the slot. */
typedef struct Slot
{
	int64		pos_start;
	int64		accepted;
	int64		limit;
	int64		free_units;
	bool		channel_limits;
	int64		terms;
	bool		at_limit;
	bool		open;
} Slot;

/*
 * The slot is taken unconditionally and checked afterwards: a conditional
 * WHERE would be judged on the snapshot and refuse at once, without waiting
 * for an in-flight cancellation that may free the units.  Taking the row
 * lock first means every placement is decided on the latest committed
 * state; a refusal raises an error, which rolls the increment back.
 */
static WlQuery q_take_slot = {
	"UPDATE waitlist.sku SET preorder_accepted = preorder_accepted + $2,"
	" paid_tail = paid_tail + $2, updated_at = now()"
	" WHERE id = $1"
	" RETURNING paid_tail - $2, preorder_accepted, preorder_limit, on_hand - allocated,"
	"  channel_limits, preorder_terms::bigint, preorder_at_limit, preorders_open",
	2, {INT8OID, INT8OID}, NULL
};

/* The SKU refused the slot: say why (closed meanwhile, or the limit). */
static void
refuse_slot(PreorderArgs *a, Terms *t, Slot *s)
{
	int64		taken = s->accepted - a->qty;

	if (!s->open)
	{
		t->open = false;
		require_open(a, t);
	}
	ereport(ERROR,
			(errcode(WL_ERRCODE_PREORDER_LIMIT),
			 taken >= s->limit
			 ? errmsg("pre-order limit reached for SKU \"%s\"", a->sku)
			 : errmsg("only " INT64_FORMAT " pre-order units remain for SKU \"%s\", %d asked",
					  s->limit - taken, a->sku, a->qty),
			 errdetail(INT64_FORMAT " of " INT64_FORMAT " pre-order units are taken.",
					   taken, s->limit),
			 errhint("Offer the notify-me sign-up (waitlist.subscribe) for the demand beyond the limit.")));
}

/* Take the units under the SKU's limit (locks the SKU row). */
static void
take_slot(PreorderArgs *a, Terms *t, Slot *s)
{
	Datum		args[2] = {Int64GetDatum(t->sku_id), Int64GetDatum(a->qty)};

	wl_exec(&q_take_slot, args, NULL, SPI_OK_UPDATE_RETURNING, 1);
	s->pos_start = wl_get_int64(0, 1, NULL);
	s->accepted = wl_get_int64(0, 2, NULL);
	s->limit = wl_get_int64(0, 3, NULL);
	s->free_units = wl_get_int64(0, 4, NULL);
	s->channel_limits = wl_get_bool(0, 5);
	s->terms = wl_get_int64(0, 6, NULL);
	s->at_limit = wl_get_bool(0, 7);
	s->open = wl_get_bool(0, 8);
	if (s->terms != t->terms && s->open)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("pre-order terms of SKU \"%s\" changed while the pre-order was placed", a->sku),
				 errhint("Retry the transaction; it will use the new terms.")));
	if (!s->open || s->accepted > s->limit)
		refuse_slot(a, t, s);
}

static WlQuery q_channel_take = {
	"UPDATE waitlist.preorder_channel SET accepted = accepted + $3"
	" WHERE sku_id = $1 AND channel = $2 AND accepted + $3 <= max_units",
	3, {INT8OID, TEXTOID, INT8OID}, NULL
};

static WlQuery q_channel_row = {
	"SELECT max_units, accepted FROM waitlist.preorder_channel"
	" WHERE sku_id = $1 AND channel = $2",
	2, {INT8OID, TEXTOID}, NULL
};

/* Count the units against the channel's own limit, if it has one. */
static void
take_channel_slot(PreorderArgs *a, Terms *t)
{
	Datum		args[3] = {Int64GetDatum(t->sku_id), CStringGetTextDatum(a->channel),
	Int64GetDatum(a->qty)};

	if (wl_exec(&q_channel_take, args, NULL, SPI_OK_UPDATE, 0) == 1 ||
		wl_exec(&q_channel_row, args, NULL, SPI_OK_SELECT, 0) == 0)
		return;
	ereport(ERROR,
			(errcode(WL_ERRCODE_PREORDER_LIMIT),
			 errmsg("pre-order limit of channel \"%s\" reached for SKU \"%s\"",
					a->channel, a->sku),
			 errdetail(INT64_FORMAT " of the channel's " INT64_FORMAT " pre-order units are taken; %d asked.",
					   wl_get_int64(0, 2, NULL), wl_get_int64(0, 1, NULL), a->qty),
			 errhint("Offer the notify-me sign-up (waitlist.subscribe), or take the pre-order on another channel.")));
}

static WlQuery q_insert_preorder = {
	"INSERT INTO waitlist.line (id, sku_id, kind, order_ref, customer, email, phone, qty,"
	"  pos_start, pos_end, channel, unit_price, currency, amount, deposit, captured,"
	"  payment_mode, payment_state, authorized_until)"
	" VALUES ($1, $2, 'preorder', $3, $4, $5, $6, $7, $8, $8 + $7, $9, $10::numeric, $11,"
	"  $12::numeric, CASE $14 WHEN 'deposit' THEN $13::numeric END, $13::numeric, $14,"
	"  CASE $14 WHEN 'authorize' THEN 'authorized' WHEN 'full' THEN 'captured'"
	"   ELSE 'deposit_captured' END,"
	"  CASE $14 WHEN 'authorize' THEN now() + make_interval(secs => $15) END)"
	" ON CONFLICT (sku_id, order_ref) DO NOTHING",
	15, {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INT8OID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID}, NULL
};

/* Insert the line at its positions; a racing twin of the order is a conflict. */
static void
insert_preorder(PreorderArgs *a, Terms *t, Slot *s)
{
	Datum		v[15];
	char		nulls[16] = "               ";

	v[0] = Int64GetDatum(t->line_id);
	v[1] = Int64GetDatum(t->sku_id);
	v[2] = CStringGetTextDatum(a->order_ref);
	v[3] = wl_opt_text(a->customer);
	v[4] = wl_opt_text(a->email);
	v[5] = wl_opt_text(a->phone);
	v[6] = Int32GetDatum(a->qty);
	v[7] = Int64GetDatum(s->pos_start);
	v[8] = CStringGetTextDatum(a->channel);
	v[9] = CStringGetTextDatum(a->price);
	v[10] = CStringGetTextDatum(a->currency);
	v[11] = CStringGetTextDatum(t->amount);
	v[12] = CStringGetTextDatum(t->now);
	v[13] = CStringGetTextDatum(t->mode);
	v[14] = Float8GetDatum((double) wl_authorization_ttl_s);
	nulls[3] = a->customer ? ' ' : 'n';
	nulls[4] = a->email ? ' ' : 'n';
	nulls[5] = a->phone ? ' ' : 'n';
	if (wl_exec(&q_insert_preorder, v, nulls, SPI_OK_INSERT, 0) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("order \"%s\" was placed for SKU \"%s\" by another transaction at the same time",
						a->order_ref, a->sku),
				 errhint("Retry the transaction; it returns the line already placed.")));
}

/* SQL: waitlist.place_preorder(order_ref, sku, qty, customer, email, phone, channel, unit_price, currency) */
Datum
waitlist_place_preorder(PG_FUNCTION_ARGS)
{
	PreorderArgs a;
	Terms		t;
	Slot		s;
	int64		id;

	preorder_args(fcinfo, &a);
	SPI_connect();
	read_terms(&a, &t);
	id = same_preorder(&a, &t);
	if (id == 0)
	{
		require_open(&a, &t);
		queue_confirmation(&a, &t);
		queue_order_payment(&a, &t);
		take_slot(&a, &t, &s);
		if (s.channel_limits)
			take_channel_slot(&a, &t);
		insert_preorder(&a, &t, &s);
		sync_limit(t.sku_id, s.at_limit, s.accepted, s.limit);
		if (s.free_units > 0)
			wl_touch_sku(t.sku_id);
		id = t.line_id;
	}
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* ---------- payment events of pre-order lines ---------- */

static WlQuery q_give_back_slot = {
	"UPDATE waitlist.sku s SET preorder_accepted = s.preorder_accepted - l.qty"
	" FROM waitlist.line l WHERE l.id = $1 AND s.id = l.sku_id"
	" RETURNING s.preorder_accepted, s.preorder_limit, s.preorder_at_limit, s.channel_limits,"
	"  l.channel, l.qty",
	1, {INT8OID}, NULL
};

static WlQuery q_channel_give_back = {
	"UPDATE waitlist.preorder_channel SET accepted = greatest(accepted - $3, 0)"
	" WHERE sku_id = $1 AND channel = $2",
	3, {INT8OID, TEXTOID, INT8OID}, NULL
};

/*
 * Payment events after a transition: the payload and key are built from the
 * line's new state; $2 is the SKU code.  Shared by cancel and ship.
 */
#define PAYMENT_EVENT_INSERT \
	" INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)" \
	" SELECT 'payment_' || u.action, 'payment', u.order_ref, $2," \
	"  waitlist.payload_json('action', u.action, 'order_ref', u.order_ref, 'line_id', u.id," \
	"   'sku', $2, 'qty', u.qty, 'amount', u.event_amount, 'currency', u.currency," \
	"   'payment_mode', u.payment_mode, 'reason', u.reason)," \
	"  'line:' || u.id || ':pay:' || u.action || ':' || u.reason" \
	" FROM u ON CONFLICT (idempotency_key) DO NOTHING"

/* Cancelled: void an authorization, refund what was captured. */
static WlQuery q_pay_cancel = {
	"WITH u AS ("
	"  UPDATE waitlist.line l SET"
	"   payment_state = CASE o.payment_state WHEN 'authorized' THEN 'voided' ELSE 'refunded' END,"
	"   refunded = o.captured, authorized_until = NULL"
	"  FROM (SELECT id, payment_state, captured FROM waitlist.line WHERE id = $1) o"
	"  WHERE l.id = o.id"
	"   AND o.payment_state IN ('authorized', 'captured', 'deposit_captured')"
	"  RETURNING l.id, l.order_ref, l.qty, l.currency, l.payment_mode,"
	"   CASE o.payment_state WHEN 'authorized' THEN 'void' ELSE 'refund' END AS action,"
	"   CASE o.payment_state WHEN 'authorized' THEN l.amount ELSE o.captured END AS event_amount,"
	"   'cancelled' AS reason)"
	PAYMENT_EVENT_INSERT,
	2, {INT8OID, TEXTOID}, NULL
};

/* Shipped: capture what was authorized, or the balance after a deposit. */
static WlQuery q_pay_ship = {
	"WITH u AS ("
	"  UPDATE waitlist.line l SET payment_state = 'captured', captured = l.amount,"
	"   authorized_until = NULL"
	"  FROM (SELECT id, captured FROM waitlist.line WHERE id = $1"
	"        AND payment_state IN ('authorized', 'deposit_captured')) o"
	"  WHERE l.id = o.id"
	"  RETURNING l.id, l.order_ref, l.qty, l.currency, l.payment_mode,"
	"   'capture' AS action, l.amount - o.captured AS event_amount, 'shipment' AS reason)"
	PAYMENT_EVENT_INSERT,
	2, {INT8OID, TEXTOID}, NULL
};

/* Queue a payment transition's event; notes the NOTIFY when one was written. */
static void
payment_transition(WlQuery *q, const char *sku, int64 line_id)
{
	Datum		args[2] = {Int64GetDatum(line_id), CStringGetTextDatum(sku)};

	if (wl_exec(q, args, NULL, SPI_OK_INSERT, 0) > 0)
		wl_note_messages();
}

/*
 * A pre-order line was cancelled (the SKU and line are locked): its units
 * go back to the cap and its channel, and the payment is voided or refunded.
 */
void
wl_preorder_cancelled(int64 sku_id, const char *sku, int64 line_id)
{
	Datum		arg = Int64GetDatum(line_id);
	int64		accepted;
	int64		limit;
	bool		at_limit;

	wl_exec(&q_give_back_slot, &arg, NULL, SPI_OK_UPDATE_RETURNING, 1);
	accepted = wl_get_int64(0, 1, NULL);
	limit = wl_get_int64(0, 2, NULL);
	at_limit = wl_get_bool(0, 3);
	if (wl_get_bool(0, 4))
	{
		Datum		args[3] = {Int64GetDatum(sku_id), wl_get_datum(0, 5, NULL),
		Int64GetDatum((int64) DatumGetInt32(wl_get_datum(0, 6, NULL)))};

		wl_exec(&q_channel_give_back, args, NULL, SPI_OK_UPDATE, 0);
	}
	sync_limit(sku_id, at_limit, accepted, limit);
	payment_transition(&q_pay_cancel, sku, line_id);
}

/* A pre-order line shipped: capture the rest of its amount. */
void
wl_preorder_shipped(const char *sku, int64 line_id)
{
	payment_transition(&q_pay_ship, sku, line_id);
}

/*
 * Authorizations about to lapse: extend each by waitlist.authorization_ttl
 * and queue a payment_reauthorize event for the shop's payment listener.
 * Runs from tick(); SKIP LOCKED keeps concurrent ticks apart.
 */
static WlQuery q_reauthorize = {
	"WITH u AS ("
	"  UPDATE waitlist.line l SET authorized_until = now() + make_interval(secs => $1),"
	"   reauthorizations = l.reauthorizations + 1"
	"  FROM waitlist.sku s"
	"  WHERE s.id = l.sku_id AND l.id IN (SELECT x.id FROM waitlist.line x"
	"   WHERE x.state = 'waiting' AND x.payment_state = 'authorized'"
	"    AND x.authorized_until <= now() + make_interval(secs => $2)"
	"   ORDER BY x.authorized_until LIMIT 10000 FOR UPDATE SKIP LOCKED)"
	"  RETURNING l.*, s.sku)"
	" INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)"
	" SELECT 'payment_reauthorize', 'payment', u.order_ref, u.sku,"
	"  waitlist.payload_json('action', 'reauthorize', 'order_ref', u.order_ref,"
	"   'line_id', u.id, 'sku', u.sku, 'qty', u.qty, 'amount', u.amount,"
	"   'currency', u.currency, 'payment_mode', u.payment_mode,"
	"   'reason', 'authorization_expiring',"
	"   'valid_until', to_char(u.authorized_until AT TIME ZONE 'UTC',"
	"    'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')),"
	"  'line:' || u.id || ':pay:reauthorize:' || u.reauthorizations"
	" FROM u ON CONFLICT (idempotency_key) DO NOTHING",
	2, {FLOAT8OID, FLOAT8OID}, NULL
};

/* Queue re-authorizations that are due; returns the events written (in SPI). */
int64
wl_reauthorize_due(void)
{
	double		ttl = wl_authorization_ttl_s;
	double		before = Min((double) wl_reauthorize_before_s, ttl / 2);
	Datum		args[2] = {Float8GetDatum(ttl), Float8GetDatum(before)};

	return (int64) wl_exec(&q_reauthorize, args, NULL, SPI_OK_INSERT, 0);
}
