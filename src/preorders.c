/*
 * preorders.c
 *	  Pre-orders: the plan and its cap (open_preorders, close_preorders,
 *	  reschedule_preorders, set_preorder_channel_limit), placement within
 *	  the cap (place_preorder), the tracking report (preorder_status) and
 *	  the payment events of pre-order lines (authorize, capture, void,
 *	  refund, re-authorize).
 *
 * The cap: sku.preorder_accepted counts accepted units.  A placement is one
 * statement (q_place): it adds its quantity to the SKU row, inserts the line
 * with the FIFO positions the row hands out, and returns the row, on which
 * the limit, the channel and the plan are checked; a refusal raises, which
 * rolls the units and the line back.  Racing placements queue on the row's
 * lock and each one decides on the row it finally updated, the latest
 * committed state, so no interleaving lets one unit past the limit.
 *
 * Racing checkouts on one SKU first wait their turn in the SKU's queue
 * (turn.c), which hands over to one at a time instead of waking them all.
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
#include "policy.h"
#include "preorders.h"
#include "spi_util.h"
#include "turn.h"
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

	wl_wait_turn(sku);
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
	"  preorder_accepted",
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
	if (p->limit == 0)			/* the error undoes the UPDATE */
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("planned_production " INT64_FORMAT " capped at %s%% leaves no unit to pre-order",
						a->planned, a->cap),
				 errdetail("The limit is floor(planned_production * cap_pct / 100), with cap_pct rounded to 2 decimals."),
				 errhint("Plan more units or a higher cap; waitlist.close_preorders stops pre-orders.")));
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
	wl_touch_sku(p.id);
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
		wl_touch_sku(p.id);
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
	wl_touch_sku(p.id);
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
	if (!PG_ARGISNULL(2) && PG_GETARG_INT64(2) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_units must be zero or more, got " INT64_FORMAT, PG_GETARG_INT64(2))));
	args[2] = Int64GetDatum(PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2));
	SPI_connect();
	wl_require_channel(channel);
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
	wl_touch_sku(p.id);			/* the channel's policy may change */
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
	WlOrderArgs o;				/* order_ref, sku, qty, contacts, channel */
	char	   *price;
	char	   *currency;
} PreorderArgs;

/* The SKU row after taking the units (under its lock). */
typedef struct Slot
{
	int64		sku_id;
	int64		accepted;
	int64		limit;
	int64		free_units;
	bool		channel_limits;
	bool		at_limit;
	bool		open;
	bool		discontinued;
	bool		listed;			/* on sales channels: publish availability at commit */
} Slot;

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
	wl_arg_order(fcinfo, &a->o, "pre-order");
	a->price = wl_arg_amount(fcinfo, 7, "unit_price", true, 1e9);
	a->currency = currency_arg(fcinfo, 8);
}

/*
 * One statement takes the units and inserts the line, so the SKU row lock
 * is held for as little as possible.  The units are taken unconditionally
 * and the limit is checked against the row updated: a conditional WHERE
 * would be judged on the snapshot and refuse at once, without waiting for
 * an in-flight cancellation that may free units, whereas taking the row
 * lock first means every placement is decided on the latest committed
 * state.  When the line is not inserted (a refusal, or an earlier line of
 * the same order), the caller raises, or gives the units back.  The money
 * is worked out from the SKU's payment terms as of the updated row; the
 * confirmation and payment event are written later, in bulk, by claim()
 * or tick(): the line is due for that at once (action_at = now()).
 */
static WlQuery q_place = {
	"WITH u AS ("
	"  UPDATE waitlist.sku SET preorder_accepted = preorder_accepted + $6,"
	"   paid_tail = paid_tail + $6, paid_waiting = paid_waiting + $6, updated_at = now()"
	"  WHERE sku = $1"
	"  RETURNING id, paid_tail - $6 AS pos, preorder_accepted, preorder_limit,"
	"   on_hand - allocated AS free_units, channel_limits, preorder_at_limit, preorders_open,"
	"   status = 'discontinued' AS gone, payment_mode, deposit_pct, deposit_amount,"
	"   ships_on, channels),"
	" i AS ("
	"  INSERT INTO waitlist.line (sku_id, kind, order_ref, customer, email, phone, qty,"
	"   pos_start, pos_end, channel, unit_price, currency, amount, deposit, captured,"
	"   payment_mode, payment_state, authorized_until, confirm_pending, action_at)"
	"  SELECT u.id, 'preorder', $2, $3, $4, $5, $6, u.pos, u.pos + $6, $7, $8::numeric, $9,"
	"   m.amount, CASE u.payment_mode WHEN 'deposit' THEN c.now END, c.now, u.payment_mode,"
	"   CASE u.payment_mode WHEN 'authorize' THEN 'authorized' WHEN 'full' THEN 'captured'"
	"    ELSE 'deposit_captured' END,"
	"   CASE u.payment_mode WHEN 'authorize' THEN now() + make_interval(secs => $10) END,"
	"   true, now()"
	"  FROM u"
	"  CROSS JOIN LATERAL (SELECT $8::numeric * $6 AS amount) m"
	"  CROSS JOIN LATERAL (SELECT CASE u.payment_mode WHEN 'full' THEN m.amount"
	"    WHEN 'deposit' THEN least(m.amount, coalesce("
	"     round(m.amount * u.deposit_pct / 100, greatest(scale($8::numeric), 2)),"
	"     u.deposit_amount * $6))"
	"    ELSE 0 END AS now) c"
	"  WHERE u.preorders_open AND NOT u.gone AND u.preorder_accepted <= u.preorder_limit"
	"  ON CONFLICT (sku_id, order_ref) DO NOTHING RETURNING id)"
	" SELECT u.id, u.pos, u.preorder_accepted, u.preorder_limit, u.free_units,"
	"  u.channel_limits, u.preorder_at_limit, u.preorders_open, u.gone, (SELECT id FROM i),"
	"  u.ships_on, u.channels"
	" FROM u",
	10, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID,
		FLOAT8OID}, NULL
};

static WlQuery q_give_back_units = {
	"UPDATE waitlist.sku SET preorder_accepted = preorder_accepted - $2,"
	" paid_tail = paid_tail - $2, paid_waiting = paid_waiting - $2 WHERE id = $1",
	2, {INT8OID, INT8OID}, NULL
};

static WlQuery q_same_order = {
	"SELECT id, qty, kind = 'preorder' FROM waitlist.line WHERE sku_id = $1 AND order_ref = $2",
	2, {INT8OID, TEXTOID}, NULL
};

/*
 * An earlier line of the same order and SKU: give the units just taken
 * back (the SKU row is still locked, so nobody took positions after them)
 * and return its id, or refuse when it is another line.  0 when none.
 */
static int64
same_order(PreorderArgs *a, Slot *s)
{
	Datum		args[2] = {Int64GetDatum(s->sku_id), CStringGetTextDatum(a->o.order_ref)};
	Datum		back[2] = {Int64GetDatum(s->sku_id), Int64GetDatum(a->o.qty)};
	int64		id;

	if (wl_exec(&q_same_order, args, NULL, SPI_OK_SELECT, 0) == 0)
		return 0;
	if (!wl_get_bool(0, 3) || DatumGetInt32(wl_get_datum(0, 2, NULL)) != a->o.qty)
		ereport(ERROR,
				(errcode(WL_ERRCODE_DUPLICATE_ORDER),
				 errmsg("order \"%s\" already has another line for SKU \"%s\"",
						a->o.order_ref, a->o.sku),
				 errdetail("Placing the same pre-order again returns the existing line; change it by cancelling and placing a new one.")));
	id = wl_get_int64(0, 1, NULL);
	wl_exec(&q_give_back_units, back, NULL, SPI_OK_UPDATE, 1);
	return id;
}

/* The SKU refused the units: say why (not open, or the limit). */
static void
refuse_slot(PreorderArgs *a, Slot *s)
{
	int64		taken = s->accepted - a->o.qty;

	wl_flush_seen();
	if (s->discontinued)
		wl_error_discontinued(a->o.sku);
	if (!s->open)
		ereport(ERROR,
				(errcode(WL_ERRCODE_PREORDERS_NOT_OPEN),
				 errmsg("SKU \"%s\" does not take pre-orders", a->o.sku),
				 errhint("Offer the back-in-stock sign-up (waitlist.subscribe) instead.")));
	ereport(ERROR,
			(errcode(WL_ERRCODE_PREORDER_LIMIT),
			 taken >= s->limit
			 ? errmsg("pre-order limit reached for SKU \"%s\"", a->o.sku)
			 : errmsg("only " INT64_FORMAT " pre-order units remain for SKU \"%s\", %d asked",
					  s->limit - taken, a->o.sku, a->o.qty),
			 errdetail(INT64_FORMAT " of " INT64_FORMAT " pre-order units are taken.",
					   taken, s->limit),
			 errhint("Offer the notify-me sign-up (waitlist.subscribe) for the demand beyond the limit.")));
}

/*
 * Refuse a pre-order the channel's rules do not allow (the SKU's own state,
 * the plan and its limit, is checked by place()).  Reads the ships_on and
 * channels columns of q_place's row, and notes whether the SKU is listed.
 */
static void
require_preorder_channel(PreorderArgs *a, Slot *s)
{
	WlPolicy	p;
	bool		no_date;
	bool		unlisted;
	Datum		ships_on = wl_get_datum(0, 11, &no_date);
	Datum		channels = wl_get_datum(0, 12, &unlisted);

	s->listed = !unlisted;
	if (!wl_enforce_policy ||
		!wl_preorder_channel_refusal(a->o.channel, ships_on, no_date, channels, unlisted, &p))
		return;
	wl_policy_refuse(a->o.sku, a->o.channel, "pre-orders", &p);
}

/*
 * Take the units and insert the line (locks the SKU row).  Returns true
 * with *id for a new line; false with *id for an earlier line of the same
 * order (the units given back).  Refusals raise.
 */
static bool
place(PreorderArgs *a, Slot *s, int64 *id)
{
	Datum		v[10];
	char		nulls[11] = "          ";
	bool		isnull;

	v[0] = CStringGetTextDatum(a->o.sku);
	v[1] = CStringGetTextDatum(a->o.order_ref);
	v[2] = wl_opt_text(a->o.customer);
	v[3] = wl_opt_text(a->o.email);
	v[4] = wl_opt_text(a->o.phone);
	v[5] = Int32GetDatum(a->o.qty);
	v[6] = CStringGetTextDatum(a->o.channel);
	v[7] = CStringGetTextDatum(a->price);
	v[8] = CStringGetTextDatum(a->currency);
	v[9] = Float8GetDatum((double) wl_authorization_ttl_s);
	nulls[2] = a->o.customer ? ' ' : 'n';
	nulls[3] = a->o.email ? ' ' : 'n';
	nulls[4] = a->o.phone ? ' ' : 'n';
	if (wl_exec(&q_place, v, nulls, SPI_OK_SELECT, 0) == 0)
		wl_error_unknown_sku(a->o.sku);
	s->sku_id = wl_get_int64(0, 1, NULL);
	s->accepted = wl_get_int64(0, 3, NULL);
	s->limit = wl_get_int64(0, 4, NULL);
	s->free_units = wl_get_int64(0, 5, NULL);
	s->channel_limits = wl_get_bool(0, 6);
	s->at_limit = wl_get_bool(0, 7);
	s->open = wl_get_bool(0, 8);
	s->discontinued = wl_get_bool(0, 9);
	*id = wl_get_int64(0, 10, &isnull);
	if (!isnull)
	{
		require_preorder_channel(a, s);
		return true;
	}
	/* a retry of an accepted order returns it, whatever the limit now */
	*id = same_order(a, s);
	if (*id == 0)
		refuse_slot(a, s);
	return false;
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

/*
 * Count the units against the channel's own limit, if it has one.  The SKU
 * row lock serializes placements, so the statement's snapshot already holds
 * every earlier committed placement on this channel.
 */
static void
take_channel_slot(PreorderArgs *a, Slot *s)
{
	Datum		args[3] = {Int64GetDatum(s->sku_id), CStringGetTextDatum(a->o.channel),
	Int64GetDatum(a->o.qty)};

	if (wl_exec(&q_channel_take, args, NULL, SPI_OK_UPDATE, 0) == 1 ||
		wl_exec(&q_channel_row, args, NULL, SPI_OK_SELECT, 0) == 0)
		return;
	wl_flush_seen();
	ereport(ERROR,
			(errcode(WL_ERRCODE_PREORDER_LIMIT),
			 errmsg("pre-order limit of channel \"%s\" reached for SKU \"%s\"",
					a->o.channel, a->o.sku),
			 errdetail(INT64_FORMAT " of the channel's " INT64_FORMAT " pre-order units are taken; %d asked.",
					   wl_get_int64(0, 2, NULL), wl_get_int64(0, 1, NULL), a->o.qty),
			 errhint("Take the pre-order on another channel; sign-ups open once the SKU's own limit is reached.")));
}

/* SQL: waitlist.place_preorder(order_ref, sku, qty, customer, email, phone, channel, unit_price, currency) */
Datum
waitlist_place_preorder(PG_FUNCTION_ARGS)
{
	PreorderArgs a;
	Slot		s;
	int64		id;

	preorder_args(fcinfo, &a);
	SPI_connect();
	wl_require_channel(a.o.channel);
	wl_wait_turn(a.o.sku);
	if (place(&a, &s, &id))
	{
		if (s.channel_limits)
			take_channel_slot(&a, &s);
		sync_limit(s.sku_id, s.at_limit, s.accepted, s.limit);
		if (s.free_units > 0 || s.listed)
			wl_touch_sku(s.sku_id);	/* allocation, or the policy to publish */
	}
	SPI_finish();
	PG_RETURN_INT64(id);
}

/* ---------- confirmations, payment events, re-authorization ---------- */

/*
 * What claim() and tick() do for pre-order lines that are due
 * (line.action_at): a new line gets preorder_confirmed (per contact) and
 * its payment event at order; an authorization about to lapse gets
 * payment_reauthorize and a new validity.  Afterwards action_at holds when
 * the authorization next needs renewing (NULL when nothing is left to do).
 * $1 limits the lines, $2 picks one line (NULL: any due), $3 is the
 * authorization TTL and $4 the margin before it lapses, in seconds.
 */
static WlQuery q_line_actions = {
	"WITH due AS ("
	"  SELECT id, confirm_pending AS was_pending FROM waitlist.line"
	"  WHERE action_at <= now() AND ($2::bigint IS NULL OR id = $2) AND (confirm_pending OR NOT $5)"
	"  ORDER BY action_at, id LIMIT $1 FOR UPDATE SKIP LOCKED),"
	" u AS ("
	"  UPDATE waitlist.line l SET confirm_pending = false,"
	"   authorized_until = CASE WHEN NOT due.was_pending AND l.payment_state = 'authorized'"
	"    THEN now() + make_interval(secs => $3) ELSE l.authorized_until END,"
	"   reauthorizations = l.reauthorizations"
	"    + CASE WHEN due.was_pending THEN 0 ELSE 1 END,"
	"   action_at = CASE WHEN l.state = 'waiting' AND l.payment_state = 'authorized'"
	"    THEN CASE WHEN due.was_pending THEN l.authorized_until"
	"     ELSE now() + make_interval(secs => $3) END - make_interval(secs => $4) END"
	"  FROM due WHERE l.id = due.id"
	"  RETURNING l.*, due.was_pending),"
	" x AS (SELECT u.*, s.sku AS code, s.title, s.product_url,"
	"   to_char(s.production_date, 'YYYY-MM-DD') AS production,"
	"   to_char(s.ships_on, 'YYYY-MM-DD') AS ships"
	"  FROM u JOIN waitlist.sku s ON s.id = u.sku_id)"
	" INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key)"
	" SELECT 'preorder_confirmed', c.channel, c.recipient, x.code,"
	"  waitlist.payload_json('order_ref', x.order_ref, 'line_id', x.id, 'sku', x.code,"
	"   'title', x.title, 'qty', x.qty, 'channel', x.channel,"
	"   'production_date', x.production, 'expected_ship_date', x.ships,"
	"   'payment_mode', x.payment_mode, 'currency', x.currency, 'amount', x.amount,"
	"   'charged_now', x.captured, 'due_at_shipment', x.amount - x.captured,"
	"   'cancel_allowed', true, 'product_url', x.product_url),"
	"  'line:' || x.id || ':confirmed:' || c.channel"
	" FROM x CROSS JOIN LATERAL (VALUES ('email', x.email), ('sms', x.phone))"
	"  AS c (channel, recipient)"
	" WHERE x.was_pending AND c.recipient IS NOT NULL"
	" UNION ALL"
	" SELECT CASE x.payment_mode WHEN 'authorize' THEN 'payment_authorize'"
	"   ELSE 'payment_capture' END, 'payment', x.order_ref, x.code,"
	"  waitlist.payload_json('action', CASE x.payment_mode WHEN 'authorize' THEN 'authorize'"
	"    ELSE 'capture' END, 'order_ref', x.order_ref, 'line_id', x.id, 'sku', x.code,"
	"   'qty', x.qty, 'amount', CASE x.payment_mode WHEN 'authorize' THEN x.amount"
	"    ELSE x.captured END, 'currency', x.currency, 'payment_mode', x.payment_mode,"
	"   'reason', CASE x.payment_mode WHEN 'deposit' THEN 'deposit'"
	"    ELSE 'preorder_placed' END),"
	"  'line:' || x.id || ':pay:' || CASE x.payment_mode WHEN 'authorize' THEN 'authorize'"
	"   ELSE 'capture' END || ':order'"
	" FROM x WHERE x.was_pending"
	" UNION ALL"
	" SELECT 'payment_reauthorize', 'payment', x.order_ref, x.code,"
	"  waitlist.payload_json('action', 'reauthorize', 'order_ref', x.order_ref,"
	"   'line_id', x.id, 'sku', x.code, 'qty', x.qty, 'amount', x.amount,"
	"   'currency', x.currency, 'payment_mode', x.payment_mode,"
	"   'reason', 'authorization_expiring',"
	"   'valid_until', to_char(x.authorized_until AT TIME ZONE 'UTC',"
	"    'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')),"
	"  'line:' || x.id || ':pay:reauthorize:' || x.reauthorizations"
	" FROM x WHERE NOT x.was_pending AND x.state = 'waiting'"
	"  AND x.payment_state = 'authorized'"
	" ON CONFLICT (idempotency_key) DO NOTHING",
	5, {INT4OID, INT8OID, FLOAT8OID, FLOAT8OID, BOOLOID}, NULL
};

/* Run the due actions of up to max lines (or of one line); messages written. */
static int64
line_actions(int max, int64 line_id, bool pending_only)
{
	double		ttl = wl_authorization_ttl_s;
	double		before = Min((double) wl_reauthorize_before_s, ttl / 2);
	Datum		args[5] = {Int32GetDatum(max), Int64GetDatum(line_id),
	Float8GetDatum(ttl), Float8GetDatum(before), BoolGetDatum(pending_only)};
	char		nulls[6] = {' ', line_id ? ' ' : 'n', ' ', ' ', ' ', '\0'};
	int64		n = (int64) wl_exec(&q_line_actions, args, nulls, SPI_OK_INSERT, 0);

	if (n > 0)
		wl_note_messages();
	return n;
}

/* claim()/tick(): confirmations and re-authorizations due; messages written (in SPI). */
int64
wl_expand_line_actions(int max)
{
	return line_actions(max, 0, false);
}

/* The same for one line, if it is due (in SPI). */
int64
wl_expand_line_action(int64 line_id)
{
	return line_actions(1, line_id, false);
}

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
	"   refunded = o.captured, authorized_until = NULL, action_at = NULL"
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
	"   authorized_until = NULL, action_at = NULL"
	"  FROM (SELECT id, captured FROM waitlist.line WHERE id = $1"
	"        AND payment_state IN ('authorized', 'deposit_captured')) o"
	"  WHERE l.id = o.id"
	"  RETURNING l.id, l.order_ref, l.qty, l.currency, l.payment_mode,"
	"   'capture' AS action, l.amount - o.captured AS event_amount, 'shipment' AS reason)"
	PAYMENT_EVENT_INSERT,
	2, {INT8OID, TEXTOID}, NULL
};

/*
 * Queue a payment transition's event (the caller wrote any pending
 * confirmation first: wl_preorder_confirm_pending).
 */
static void
payment_transition(WlQuery *q, const char *sku, int64 line_id)
{
	Datum		args[2] = {Int64GetDatum(line_id), CStringGetTextDatum(sku)};

	if (wl_exec(q, args, NULL, SPI_OK_INSERT, 0) > 0)
		wl_note_messages();
}

/*
 * Before a pre-order line is cancelled or shipped (it is locked): write its
 * confirmation and payment event at order if claim()/tick() has not yet,
 * so the customer reads "confirmed" before "cancelled" or "shipped", and
 * the payment listener sees the authorization before its void or capture.
 */
void
wl_preorder_confirm_pending(int64 line_id)
{
	line_actions(1, line_id, true);	/* not a re-authorization: the line is closing */
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
