/*
 * preorders.c
 *	  Pre-order rules: the plan and its cap, placement within the cap (and
 *	  a channel's own limit), the merchant's limit events, moved ship dates,
 *	  and the payment events of pre-order lines (authorize, capture, void,
 *	  refund, re-authorize).  SQL entry points: api/preorder_api.c.
 *
 * The cap: sku.preorder_accepted counts accepted units.  A placement is one
 * statement (wl_sku_place_preorder): it adds its quantity to the SKU row,
 * inserts the line with the FIFO positions the row hands out, and returns
 * the row, on which the limit, the channel and the plan are checked; a
 * refusal raises, which rolls the units and the line back.  Racing
 * placements queue on the row's lock and each one decides on the row it
 * finally updated, the latest committed state, so no interleaving lets one
 * unit past the limit.  Racing checkouts on one SKU first wait their turn
 * in the SKU's queue (txn/sku_queue.c).
 *
 * Locking: the SKU row, then its per-channel limit rows, then lines, the
 * order backorders.c and the allocator follow.  Callers are in SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/date.h"

#include "domain/policy.h"
#include "domain/preorders.h"
#include "domain/purchases.h"
#include "domain/schedule.h"
#include "store/channel_rules.h"
#include "store/json.h"
#include "store/now.h"
#include "store/outbox_writer.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/durability.h"
#include "txn/pending.h"
#include "waitlist.h"

/* ---------- the limit: reached, left, over ---------- */

/* Queue the merchant's preorder_limit_reached event from the row that reached it. */
static void
limit_reached_event(int64 sku_id, const WlSku *s)
{
	WlJson		j;
	char		key[80];
	char	   *sku = wl_sku_text(s, SKU_CODE);

	wl_json_init(&j);
	wl_json_str(&j, "sku", sku);
	wl_json_str(&j, "title", wl_sku_text(s, SKU_TITLE));
	wl_json_int(&j, "planned_production", wl_sku_int64(s, SKU_PLANNED_PRODUCTION));
	wl_json_int(&j, "preorder_limit", wl_sku_int64(s, SKU_PREORDER_LIMIT));
	wl_json_int(&j, "accepted", wl_sku_int64(s, SKU_PREORDER_ACCEPTED));
	wl_json_bool(&j, "signups_open", true);
	snprintf(key, sizeof(key), "sku:" INT64_FORMAT ":preorder_limit:" INT64_FORMAT,
			 sku_id, (int64) wl_sku_int32(s, SKU_PREORDER_LIMIT_HITS, 0));
	wl_queue_message("preorder_limit_reached", "merchant", NULL, sku,
					 wl_json_finish(&j), key);
}

/*
 * Record whether accepted units now fill the limit.  Reaching it queues
 * preorder_limit_reached (once per time it is reached); capacity given back
 * by a cancellation or a larger plan clears the mark.
 */
static void
sync_limit(const char *sku, bool was_at_limit, int64 accepted, int64 limit)
{
	bool		at_limit = accepted >= limit;
	WlSku		s;

	if (at_limit == was_at_limit)
		return;
	wl_sku_set_at_limit(sku, at_limit, &s);
	if (at_limit)
		limit_reached_event(wl_sku_int64(&s, SKU_ID), &s);
}

/* Warn the caller and the merchant that a smaller plan left units over. */
static void
report_over_limit(const char *sku, int64 sku_id, int64 accepted, int64 limit, int64 terms)
{
	WlJson		j;
	char		key[80];
	int64		over = accepted - limit;

	ereport(WARNING,
			(errmsg(INT64_FORMAT " accepted pre-order units of SKU \"%s\" are over the new limit of " INT64_FORMAT,
					over, sku, limit),
			 errdetail("No pre-order was cancelled; new pre-orders are refused until cancellations bring the total under the limit."),
			 errhint("Cancel lines with waitlist.cancel_line if production cannot cover them.")));
	wl_json_init(&j);
	wl_json_str(&j, "sku", sku);
	wl_json_int(&j, "preorder_limit", limit);
	wl_json_int(&j, "accepted", accepted);
	wl_json_int(&j, "over_limit", over);
	snprintf(key, sizeof(key), "sku:" INT64_FORMAT ":preorder_over:" INT64_FORMAT,
			 sku_id, terms);
	wl_queue_message("preorder_over_limit", "merchant", NULL, sku,
					 wl_json_finish(&j), key);
}


static WlQuery q_preorder_eta = {
	"WITH t AS ("
	"  SELECT l.id, l.order_ref, l.qty, l.email, l.phone, s.sku, s.title, s.ships_on,"
	"   s.production_date, s.preorder_terms"
	"  FROM waitlist.sku s"
	"  JOIN waitlist.line l ON l.sku = s.sku AND l.state = 'waiting'"
	"   AND l.pos_end > s.paid_served AND l.kind = 'preorder'"
	"  WHERE s.sku = $1),"
	" ins AS ("
	WL_CONTACT_MESSAGES(
		"SELECT 'eta_changed' AS kind, t.sku, t.email, t.phone,"
		" waitlist.payload_json('order_ref', t.order_ref, 'line_id', t.id, 'sku', t.sku,"
		"  'title', t.title, 'qty', t.qty, 'preorder', true,"
		"  'previous_date', to_char($2::date, 'YYYY-MM-DD'),"
		"  'expected_ship_date', to_char(t.ships_on, 'YYYY-MM-DD'),"
		"  'production_date', to_char(t.production_date, 'YYYY-MM-DD'),"
		"  'cancel_allowed', true) AS payload,"
		" 'line:' || t.id || ':eta:' || t.preorder_terms AS key"
		" FROM t")
	" RETURNING 1)"
	" SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM ins)",
	2, {TEXTOID, DATEOID}, NULL
};

/* Tell pre-orders still short of units that the ship date moved; lines told. */
static int64
tell_new_date(const char *sku, Datum previous)
{
	Datum		args[2] = {CStringGetTextDatum(sku), previous};

	wl_schedule_replan(sku);	/* mid-wait and imminent from the new date */
	wl_exec(&q_preorder_eta, args, NULL, SPI_OK_SELECT, 0);
	if (wl_get_int64(0, 2, NULL) > 0)
		wl_note_messages();
	return wl_get_int64(0, 1, NULL);
}

/* ---------- plans ---------- */

/* Lock the SKU by code (after its turn in the queue); unknown SKUs are refused. */
static void
lock_plan(const char *sku, WlSku *s)
{
	wl_sku_wait_turn(sku);
	wl_sku_lock(sku, s);
}

/* Refuse plan changes for SKUs that never had a plan. */
static void
require_plan(const char *sku, const WlSku *s)
{
	if (s->nulls[SKU_PLANNED_PRODUCTION])
		ereport(ERROR,
				(errcode(WL_ERRCODE_PREORDERS_NOT_OPEN),
				 errmsg("SKU \"%s\" has no pre-order plan", sku),
				 errhint("Open pre-orders with waitlist.open_preorders first.")));
}

/* Write the plan; returns the new terms number and sets *limit. */
static int64
store_plan(const WlPlan *a, const char *sku, int64 *limit)
{
	Datum		args[8];
	char		nulls[9] = "        ";
	WlSku		s;

	args[1] = Int64GetDatum(a->planned);
	args[2] = CStringGetTextDatum(a->cap);
	args[3] = DateADTGetDatum(a->production);
	args[4] = DateADTGetDatum(a->ships);
	args[5] = CStringGetTextDatum(a->payment);
	args[6] = wl_opt_text(a->deposit_pct);
	args[7] = wl_opt_text(a->deposit_amount);
	nulls[6] = a->deposit_pct ? ' ' : 'n';
	nulls[7] = a->deposit_amount ? ' ' : 'n';
	wl_sku_store_plan(sku, args, nulls, &s);
	*limit = wl_sku_int64(&s, SKU_PREORDER_LIMIT);
	if (*limit == 0)			/* the error undoes the UPDATE */
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("planned_production " INT64_FORMAT " capped at %s%% leaves no unit to pre-order",
						a->planned, a->cap),
				 errdetail("The limit is floor(planned_production * cap_pct / 100), with cap_pct cut to 2 decimals."),
				 errhint("Plan more units or a higher cap; waitlist.close_preorders stops pre-orders.")));
	return (int64) wl_sku_int32(&s, SKU_PREORDER_TERMS, 0);
}

/*
 * A pre-order ship date must not be in the past (the clock's today): a plan
 * cannot open or move to one, and a SKU whose date has passed takes no new
 * pre-orders until the merchant reschedules.
 */
static void
refuse_past_ship_date(const char *sku, DateADT ships, const char *what)
{
	if (ships >= wl_today())
		return;
	ereport(ERROR,
			(errcode(WL_ERRCODE_SHIP_DATE_PASSED),
			 errmsg("%s for SKU \"%s\": the ship date %s is in the past", what, sku,
					DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(ships)))),
			 errhint("Reschedule the pre-orders to a date not in the past (waitlist.reschedule_preorders).")));
}

/*
 * Open (or change) a SKU's pre-order plan; returns the SKU's id.  A smaller
 * plan that leaves accepted units over the limit warns and tells the
 * merchant; a moved ship date tells the waiting pre-orders.
 */
int64
wl_open_preorders(const WlPlan *a)
{
	WlSku		s;
	int64		id;
	char	   *sku;
	int64		accepted;
	int64		limit;
	int64		terms;
	DateADT		ships;
	bool		had_ships;

	lock_plan(a->sku, &s);
	if (wl_sku_text_is(&s, SKU_STATUS, "discontinued"))
		wl_error_discontinued(a->sku);
	refuse_past_ship_date(a->sku, a->ships, "cannot open pre-orders");
	id = wl_sku_int64(&s, SKU_ID);
	sku = wl_sku_text(&s, SKU_CODE);
	accepted = wl_sku_int64(&s, SKU_PREORDER_ACCEPTED);
	had_ships = wl_sku_date(&s, SKU_SHIPS_ON, &ships);
	terms = store_plan(a, sku, &limit);
	wl_touch_sku(sku);
	sync_limit(sku, wl_sku_bool(&s, SKU_PREORDER_AT_LIMIT), accepted, limit);
	if (accepted > limit)
		report_over_limit(a->sku, id, accepted, limit, terms);
	if (had_ships && ships != a->ships)
		tell_new_date(sku, DateADTGetDatum(ships));
	return id;
}

/* Stop taking pre-orders; false when they were not open. */
bool
wl_close_preorders(const char *sku)
{
	WlSku		s;
	bool		open;

	lock_plan(sku, &s);
	open = wl_sku_bool(&s, SKU_PREORDERS_OPEN);
	if (open)
	{
		wl_sku_close_preorders(wl_sku_text(&s, SKU_CODE));
		wl_touch_sku(wl_sku_text(&s, SKU_CODE));
	}
	return open;
}

/*
 * Move the plan's ship date (and the production date, when has_production);
 * returns the waiting pre-order lines told.
 */
int64
wl_reschedule_preorders(const char *sku, DateADT ships, bool has_production,
						DateADT production)
{
	WlSku		s;
	char	   *code;
	DateADT		old_ships;
	Datum		prod;

	lock_plan(sku, &s);
	require_plan(sku, &s);
	code = wl_sku_text(&s, SKU_CODE);
	(void) wl_sku_date(&s, SKU_SHIPS_ON, &old_ships);
	prod = has_production ? DateADTGetDatum(production) : s.values[SKU_PRODUCTION_DATE];
	if (ships < DatumGetDateADT(prod))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ships_on must not be before production_date")));
	refuse_past_ship_date(code, ships, "cannot reschedule pre-orders");
	wl_sku_reschedule(code, ships, prod);
	wl_touch_sku(code);
	if (old_ships != ships)
		return tell_new_date(code, DateADTGetDatum(old_ships));
	return 0;
}

static WlQuery q_channel_units = {
	"SELECT coalesce(sum(qty), 0)::bigint FROM waitlist.line"
	" WHERE sku = $1 AND kind = 'preorder' AND channel = $2 AND state <> 'cancelled'",
	2, {TEXTOID, TEXTOID}, NULL
};

static WlQuery q_channel_set = {
	"INSERT INTO waitlist.preorder_channel (sku, channel, max_units, accepted)"
	" VALUES ($1, $2, $3, $4) ON CONFLICT (sku, channel) DO UPDATE"
	" SET max_units = excluded.max_units, accepted = excluded.accepted",
	4, {TEXTOID, TEXTOID, INT8OID, INT8OID}, NULL
};

static WlQuery q_channel_drop = {
	"DELETE FROM waitlist.preorder_channel WHERE sku = $1 AND channel = $2",
	2, {TEXTOID, TEXTOID}, NULL
};

/*
 * A channel's own pre-order limit for the SKU (has_max false: none); returns
 * the channel's pre-order units already taken.  A limit below them warns.
 */
int64
wl_set_preorder_channel_limit(const char *sku, const char *channel, bool has_max, int64 max)
{
	WlSku		s;
	Datum		args[4];
	int64		used;

	wl_require_channel(channel);
	lock_plan(sku, &s);
	args[0] = s.values[SKU_CODE];
	args[1] = CStringGetTextDatum(channel);
	args[2] = Int64GetDatum(max);
	wl_exec(&q_channel_units, args, NULL, SPI_OK_SELECT, 1);
	used = wl_get_int64(0, 1, NULL);
	args[3] = Int64GetDatum(used);
	if (!has_max)
		wl_exec(&q_channel_drop, args, NULL, SPI_OK_DELETE, 0);
	else
		wl_exec(&q_channel_set, args, NULL, SPI_OK_INSERT, 0);
	wl_sku_refresh_channel_limits(wl_sku_text(&s, SKU_CODE));
	wl_touch_sku(wl_sku_text(&s, SKU_CODE));	/* the channel's policy may change */
	if (has_max && used > max)
		ereport(WARNING,
				(errmsg("channel \"%s\" already holds " INT64_FORMAT " pre-order units of SKU \"%s\", over its new limit of " INT64_FORMAT,
						channel, used, sku, max),
				 errdetail("No pre-order was cancelled; the channel takes no more until it is under the limit.")));
	return used;
}

/* ---------- placement ---------- */

static WlQuery q_same_order = {
	"SELECT id, qty, kind = 'preorder' FROM waitlist.line WHERE sku = $1 AND order_ref = $2",
	2, {TEXTOID, TEXTOID}, NULL
};

/*
 * An earlier line of the same order and SKU: give the units just taken
 * back (the SKU row is still locked, so nobody took positions after them)
 * and return its id, or refuse when it is another line.  0 when none.
 */
static int64
same_order(const WlPreorder *a, const char *sku)
{
	Datum		args[2] = {CStringGetTextDatum(sku), CStringGetTextDatum(a->o.order_ref)};
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
	wl_sku_give_back_preorder(sku, a->o.qty, true, NULL);
	return id;
}

/* The SKU refused the units: say why (not open, or the limit). */
static void
refuse_slot(const WlPreorder *a, const WlSku *s)
{
	int64		limit = wl_sku_int64(s, SKU_PREORDER_LIMIT);
	int64		taken = wl_sku_int64(s, SKU_PREORDER_ACCEPTED) - a->o.qty;

	wl_flush_seen();
	if (wl_sku_text_is(s, SKU_STATUS, "discontinued"))
		wl_error_discontinued(a->o.sku);
	if (!wl_sku_bool(s, SKU_PREORDERS_OPEN))
		ereport(ERROR,
				(errcode(WL_ERRCODE_PREORDERS_NOT_OPEN),
				 errmsg("SKU \"%s\" does not take pre-orders", a->o.sku),
				 errhint("Offer the back-in-stock sign-up (waitlist.subscribe) instead.")));
	ereport(ERROR,
			(errcode(WL_ERRCODE_PREORDER_LIMIT),
			 taken >= limit
			 ? errmsg("pre-order limit reached for SKU \"%s\"", a->o.sku)
			 : errmsg("only " INT64_FORMAT " pre-order units remain for SKU \"%s\", %d asked",
					  limit - taken, a->o.sku, a->o.qty),
			 errdetail(INT64_FORMAT " of " INT64_FORMAT " pre-order units are taken.",
					   taken, limit),
			 errhint("Offer the notify-me sign-up (waitlist.subscribe) for the demand beyond the limit.")));
}

/*
 * Refuse a pre-order the channel's rules do not allow (the SKU's own state,
 * the plan and its limit, is checked by place()).
 */
static void
require_preorder_channel(const WlPreorder *a, const WlSku *s)
{
	WlPolicy	p;

	if (wl_enforce_policy && wl_preorder_channel_refusal(s, a->o.channel, &p))
		wl_policy_refuse(a->o.sku, a->o.channel, "pre-orders", &p);
}

/*
 * Take the units and insert the line (locks the SKU row).  Returns true
 * with *id for a new line; false with *id for an earlier line of the same
 * order (the units given back).  Refusals raise.
 */
static bool
place(const WlPreorder *a, WlSku *s, int64 *id)
{
	Datum		v[11];
	char		nulls[12] = "           ";

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
	v[10] = wl_now();
	nulls[2] = a->o.customer ? ' ' : 'n';
	nulls[3] = a->o.email ? ' ' : 'n';
	nulls[4] = a->o.phone ? ' ' : 'n';
	if (!wl_sku_place_preorder(v, nulls, s, id))
		wl_error_unknown_sku(a->o.sku);
	if (*id != 0)
	{
		DateADT		ships;

		/* the row is locked: no reschedule can slip in between */
		if (wl_sku_date(s, SKU_SHIPS_ON, &ships))
			refuse_past_ship_date(a->o.sku, ships, "cannot take the pre-order");
		require_preorder_channel(a, s);
		return true;
	}
	/* a retry of an accepted order returns it, whatever the limit now */
	*id = same_order(a, wl_sku_text(s, SKU_CODE));
	if (*id == 0)
		refuse_slot(a, s);
	return false;
}

static WlQuery q_channel_take = {
	"UPDATE waitlist.preorder_channel SET accepted = accepted + $3"
	" WHERE sku = $1 AND channel = $2 AND accepted + $3 <= max_units",
	3, {TEXTOID, TEXTOID, INT8OID}, NULL
};

static WlQuery q_channel_row = {
	"SELECT max_units, accepted FROM waitlist.preorder_channel"
	" WHERE sku = $1 AND channel = $2",
	2, {TEXTOID, TEXTOID}, NULL
};

/*
 * Count the units against the channel's own limit, if it has one.  The SKU
 * row lock serializes placements, so the statement's snapshot already holds
 * every earlier committed placement on this channel.
 */
static void
take_channel_slot(const WlPreorder *a, const char *sku)
{
	Datum		args[3] = {CStringGetTextDatum(sku), CStringGetTextDatum(a->o.channel),
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

/*
 * Place a pre-order line within the cap (and the channel's own limit);
 * returns its id, or the id of the same order's earlier line.  Caller is in
 * SPI; the arguments are checked.
 */
int64
wl_place_preorder(const WlPreorder *a)
{
	WlSku		s;
	int64		id;
	char	   *sku;

	wl_require_channel(a->o.channel);
	wl_sku_wait_turn(a->o.sku);
	if (!place(a, &s, &id))
		return id;
	sku = wl_sku_text(&s, SKU_CODE);
	wl_order_purchased(&s, a->o.order_ref, a->o.email, a->o.phone);
	if (wl_sku_bool(&s, SKU_CHANNEL_LIMITS))
		take_channel_slot(a, sku);
	sync_limit(sku, wl_sku_bool(&s, SKU_PREORDER_AT_LIMIT),
			   wl_sku_int64(&s, SKU_PREORDER_ACCEPTED), wl_sku_int64(&s, SKU_PREORDER_LIMIT));
	if (wl_sku_free_units(&s) > 0 || !s.nulls[SKU_CHANNELS])
		wl_touch_sku(sku);	/* allocation, or the policy to publish */
	return id;
}

/* ---------- confirmations, payment events, re-authorization ---------- */


/*
 * What claim() and tick() do for lines that are due (line.action_at): a
 * new pre-order line gets preorder_confirmed (per contact) and its payment
 * event at order; an imported backorder line gets backorder_confirmed, as
 * place_backorder writes it, in stock when the allocator has served it by
 * now (api/import_api.c); an authorization about to lapse gets
 * payment_reauthorize and a new validity.  Afterwards action_at holds when
 * the authorization next needs renewing (NULL when nothing is left to do).
 * LINE_ACTIONS_WRITE does it for the lines of a CTE "due" (id, ctid,
 * was_pending, and note_at: the line's first note planned, or NULL to leave
 * next_note_at as it is) locked by the statement's head, in the versions the
 * statement's snapshot sees: a line a later commit changed after that
 * snapshot is locked in its new version, whose ctid the update then does
 * not match, so it is left due for a later claim or tick instead of being
 * written from a commit the snapshot cannot see (claim() relies on that: see
 * waitlist_claim); $3 is the authorization TTL and $4 the margin before it
 * lapses, in seconds; on_sku narrows the update to one SKU ("" for none);
 * once is WL_OUTBOX_ONCE to skip keys already in the outbox.  The bulk run
 * (q_line_actions) joins LINE_ACTIONS_UPDATE and LINE_ACTIONS_INSERT itself,
 * without it: its INSERT fails on such a key (see wl_expand_line_actions).
 */
#define LINE_ACTIONS_WRITE(on_sku, once) \
	LINE_ACTIONS_UPDATE(on_sku) " " LINE_ACTIONS_INSERT once
#define LINE_ACTIONS_UPDATE(on_sku) \
	" u AS (" \
	"  UPDATE waitlist.line l SET confirm_pending = false," \
	"   next_note_at = coalesce(due.note_at, l.next_note_at)," \
	"   authorized_until = CASE WHEN NOT due.was_pending AND l.payment_state = 'authorized'" \
	"    THEN waitlist.now() + make_interval(secs => $3) ELSE l.authorized_until END," \
	"   reauthorizations = l.reauthorizations" \
	"    + CASE WHEN due.was_pending THEN 0 ELSE 1 END," \
	"   action_at = CASE WHEN l.state = 'waiting' AND l.payment_state = 'authorized'" \
	"    THEN CASE WHEN due.was_pending THEN l.authorized_until" \
	"     ELSE waitlist.now() + make_interval(secs => $3) END - make_interval(secs => $4) END" \
	"  FROM due WHERE l.id = due.id AND l.ctid = due.ctid" on_sku \
	"  RETURNING l.*, due.was_pending)," \
	" x AS (SELECT u.*, s.sku AS code, s.title, s.product_url," \
	"   to_char(s.production_date, 'YYYY-MM-DD') AS production," \
	"   to_char(s.ships_on, 'YYYY-MM-DD') AS ships," \
	"   u.pos_end <= s.paid_served AS in_stock," \
	"   CASE WHEN s.restock_confirmed THEN to_char(s.restock_date, 'YYYY-MM-DD') END AS eta" \
	"  FROM u JOIN waitlist.sku s ON s.sku = u.sku ORDER BY u.id)"	/* messages in line order */
#define LINE_ACTIONS_INSERT \
	WL_OUTBOX_INSERT \
	WL_CONTACT_ROWS( \
		"SELECT 'backorder_confirmed' AS kind, x.code AS sku, x.email, x.phone," \
		" waitlist.payload_json('order_ref', x.order_ref, 'line_id', x.id, 'sku', x.code," \
		"  'title', x.title, 'qty', x.qty, 'in_stock', x.in_stock," \
		"  'expected_ship_date', CASE WHEN NOT x.in_stock THEN x.eta END," \
		"  'cancel_allowed', true, 'product_url', x.product_url) AS payload," \
		" 'line:' || x.id || ':confirmed' AS key" \
		" FROM x WHERE x.was_pending AND x.kind = 'backorder'" \
		" UNION ALL" \
		" SELECT 'preorder_confirmed' AS kind, x.code AS sku, x.email, x.phone," \
		" waitlist.payload_json('order_ref', x.order_ref, 'line_id', x.id, 'sku', x.code," \
		"  'title', x.title, 'qty', x.qty, 'channel', x.channel," \
		"  'production_date', x.production, 'expected_ship_date', x.ships," \
		"  'payment_mode', x.payment_mode, 'currency', x.currency, 'amount', x.amount," \
		"  'charged_now', x.captured, 'due_at_shipment', x.amount - x.captured," \
		"  'cancel_allowed', true, 'product_url', x.product_url) AS payload," \
		" 'line:' || x.id || ':confirmed' AS key" \
		" FROM x WHERE x.was_pending AND x.kind = 'preorder'") \
	" UNION ALL" \
	" SELECT CASE x.payment_mode WHEN 'authorize' THEN 'payment_authorize'" \
	"   ELSE 'payment_capture' END, 'payment', x.order_ref, x.code," \
	"  waitlist.payload_json('action', CASE x.payment_mode WHEN 'authorize' THEN 'authorize'" \
	"    ELSE 'capture' END, 'order_ref', x.order_ref, 'line_id', x.id, 'sku', x.code," \
	"   'qty', x.qty, 'amount', CASE x.payment_mode WHEN 'authorize' THEN x.amount" \
	"    ELSE x.captured END, 'currency', x.currency, 'payment_mode', x.payment_mode," \
	"   'reason', CASE x.payment_mode WHEN 'deposit' THEN 'deposit'" \
	"    ELSE 'preorder_placed' END)," \
	"  'line:' || x.id || ':pay:' || CASE x.payment_mode WHEN 'authorize' THEN 'authorize'" \
	"   ELSE 'capture' END || ':order'" \
	" FROM x WHERE x.was_pending AND x.kind = 'preorder'" \
	" UNION ALL" \
	" SELECT 'payment_reauthorize', 'payment', x.order_ref, x.code," \
	"  waitlist.payload_json('action', 'reauthorize', 'order_ref', x.order_ref," \
	"   'line_id', x.id, 'sku', x.code, 'qty', x.qty, 'amount', x.amount," \
	"   'currency', x.currency, 'payment_mode', x.payment_mode," \
	"   'reason', 'authorization_expiring'," \
	"   'valid_until', x.authorized_until)," \
	"  'line:' || x.id || ':pay:reauthorize:' || x.reauthorizations" \
	" FROM x WHERE NOT x.was_pending AND x.state = 'waiting'" \
	"  AND x.payment_state = 'authorized'"

/*
 * claim() and tick(): up to $1 lines that are due, or line $2 if it is.  A
 * new pre-order's confirmation also plans its first note (note_at: its
 * mid-wait moment or its imminent days, whichever comes first, as the note
 * planner of domain/schedule.c does for a replanned line; none for a line
 * already served, or whose ship date has passed or is no date the API
 * takes), so the tick does not write the new line a second time to plan
 * it; $6 is waitlist.midwait_fraction, $7 waitlist.imminent_days and $8
 * today ($5 is q_line_confirm's).
 */
#define LINE_ACTIONS_DUE \
	"WITH d AS (" \
	"  SELECT id, ctid, confirm_pending AS was_pending, sku, kind, state, pos_end," \
	"   created_at, next_note_at, action_at FROM waitlist.line" \
	"  WHERE action_at <= waitlist.now() AND ($2::bigint IS NULL OR id = $2)" \
	"   AND (action_at, id) > ($9, $10)" \
	"  ORDER BY action_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)," \
	" due AS (" \
	"  SELECT d.id, d.ctid, d.was_pending," \
	"   CASE WHEN d.was_pending AND d.kind = 'preorder' AND d.state = 'waiting'" \
	"     AND d.next_note_at IS NULL AND d.pos_end > s.paid_served" \
	"     AND m.imminent_on IS NOT NULL AND s.ships_on >= $8" \
	"    THEN least(m.midwait_at, m.imminent_on::timestamptz) END AS note_at" \
	"  FROM d JOIN waitlist.sku s ON s.sku = d.sku" \
	WL_NOTE_MOMENTS("d.created_at", "$6", "$7") "),"
#define LINE_ACTIONS_ARGS 10, {INT4OID, INT8OID, FLOAT8OID, FLOAT8OID, TEXTOID, FLOAT8OID, \
	INT4OID, DATEOID, TIMESTAMPTZOID, INT8OID}, NULL

/*
 * The bulk run also returns where it stopped, (action_at, id) of the last
 * line it wrote: the next chunk of the same run starts after it ($9, $10).
 * The lines it wrote have new index entries (a new action_at, or none), but
 * no scan can mark their old entries dead while this transaction is open,
 * and a chunk starting from the left would step over every one of them
 * again.  The last line is taken from the lines written, in the versions
 * the index scan read: a line that a later commit changed is locked in its
 * new version (its action_at may be later), is not written (see
 * LINE_ACTIONS_WRITE) and must not move the cursor past the lines between.
 * A line the cursor has passed (locked by another session, or moved back
 * by a commit) waits for the next tick or claim.
 */
static WlQuery q_line_actions = {
	LINE_ACTIONS_DUE LINE_ACTIONS_UPDATE("")
	", ins AS (" LINE_ACTIONS_INSERT " RETURNING 1)"
	" SELECT (SELECT count(*) FROM ins), last.action_at, last.id"
	" FROM (SELECT 1) one LEFT JOIN (SELECT d.action_at, d.id FROM d JOIN u ON u.id = d.id"
	"  ORDER BY d.action_at DESC, d.id DESC LIMIT 1) last ON true",
	LINE_ACTIONS_ARGS
};

static WlQuery q_line_actions_once = {
	LINE_ACTIONS_DUE LINE_ACTIONS_WRITE("", WL_OUTBOX_ONCE), LINE_ACTIONS_ARGS
};

/*
 * A line closing (cancelled or shipped; the caller locked it): line $2's
 * pending confirmation, due or not.  The closing transaction may have begun
 * before the placement or import committed, so its now() can come before
 * the line's action_at; the confirmation must still go out before the
 * closing messages.  The parameters are q_line_actions' ($1, the most
 * lines, is 1), and $5 the line's SKU: every statement names it.  The line
 * is closing: no note is planned.
 */
static WlQuery q_line_confirm = {
	"WITH due AS ("
	"  SELECT id, ctid, true AS was_pending, NULL::timestamptz AS note_at FROM waitlist.line"
	"  WHERE sku = $5 AND id = $2 AND confirm_pending AND $1 > 0 FOR UPDATE),"
	LINE_ACTIONS_WRITE(" AND l.sku = $5", WL_OUTBOX_ONCE),
	5, {INT4OID, INT8OID, FLOAT8OID, FLOAT8OID, TEXTOID}, NULL
};

/*
 * Run the due actions of up to max lines (or of one line); messages
 * written.  once: keys already in the outbox are skipped (else they raise).
 */
static int64
line_actions(int max, const char *sku, int64 line_id, bool pending_only, bool once,
			 WlLineCursor *after)
{
	double		ttl = wl_authorization_ttl_s;
	double		before = Min((double) wl_reauthorize_before_s, ttl / 2);
	Datum		args[10] = {Int32GetDatum(max), Int64GetDatum(line_id),
		Float8GetDatum(ttl), Float8GetDatum(before),
		sku ? CStringGetTextDatum(sku) : (Datum) 0,
		Float8GetDatum(wl_midwait_fraction), Int32GetDatum(wl_imminent_days),
		DateADTGetDatum(wl_today()),
		TimestampTzGetDatum(after ? after->at : DT_NOBEGIN),
	Int64GetDatum(after ? after->id : PG_INT64_MIN)};
	char		nulls[11] = {' ', line_id ? ' ' : 'n', ' ', ' ', sku ? ' ' : 'n',
	' ', ' ', ' ', ' ', ' ', '\0'};
	int64		n;

	if (after != NULL)
	{
		bool		isnull;
		Datum		at;

		wl_exec(&q_line_actions, args, nulls, SPI_OK_SELECT, 1);
		n = wl_get_int64(0, 1, NULL);
		at = wl_get_datum(0, 2, &isnull);
		if (!isnull)
		{
			after->at = DatumGetTimestampTz(at);
			after->id = wl_get_int64(0, 3, NULL);
		}
	}
	else
		n = (int64) wl_exec(pending_only ? &q_line_confirm : &q_line_actions_once,
							args, nulls, SPI_OK_INSERT, 0);
	if (n > 0)
		wl_note_messages();
	return n;
}

/*
 * claim()/tick(): confirmations and re-authorizations due, of lines after
 * *after in (action_at, id) order, which moves past the lines taken;
 * messages written (in SPI).  Its INSERT fails on a key already in the
 * outbox: the caller runs it in a subtransaction and, when it fails (a key already in the outbox, or a
 * line's bad data), goes line by line with wl_expand_line_action
 * (domain/expansion.c).
 */
int64
wl_expand_line_actions(int max, WlLineCursor *after)
{
	return line_actions(max, NULL, 0, false, false, after);
}

/* The same for one line, if it is due, skipping keys written already (in SPI). */
int64
wl_expand_line_action(int64 line_id)
{
	return line_actions(1, NULL, line_id, false, true, NULL);
}

static WlQuery q_channel_give_back = {
	"UPDATE waitlist.preorder_channel SET accepted = greatest(accepted - $3, 0)"
	" WHERE sku = $1 AND channel = $2",
	3, {TEXTOID, TEXTOID, INT8OID}, NULL
};

/*
 * Payment events after a transition: the payload and key are built from the
 * line's new state; $2 is the SKU code.  Shared by cancel and ship.
 */
#define PAYMENT_EVENT_INSERT \
	" " WL_OUTBOX_INSERT \
	" SELECT 'payment_' || u.action, 'payment', u.order_ref, $2," \
	"  waitlist.payload_json('action', u.action, 'order_ref', u.order_ref, 'line_id', u.id," \
	"   'sku', $2, 'qty', u.qty, 'amount', u.event_amount, 'currency', u.currency," \
	"   'payment_mode', u.payment_mode, 'reason', u.reason)," \
	"  'line:' || u.id || ':pay:' || u.action || ':' || u.reason" \
	" FROM u" WL_OUTBOX_ONCE

/* Cancelled: void an authorization, refund what was captured. */
static WlQuery q_pay_cancel = {
	"WITH u AS ("
	"  UPDATE waitlist.line l SET"
	"   payment_state = CASE o.payment_state WHEN 'authorized' THEN 'voided' ELSE 'refunded' END,"
	"   refunded = o.captured, authorized_until = NULL, action_at = NULL"
	"  FROM (SELECT id, payment_state, captured FROM waitlist.line WHERE sku = $2 AND id = $1) o"
	"  WHERE l.sku = $2 AND l.id = o.id"
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
	"  FROM (SELECT id, captured FROM waitlist.line WHERE sku = $2 AND id = $1"
	"        AND payment_state IN ('authorized', 'deposit_captured')) o"
	"  WHERE l.sku = $2 AND l.id = o.id"
	"  RETURNING l.id, l.order_ref, l.qty, l.currency, l.payment_mode,"
	"   'capture' AS action, l.amount - o.captured AS event_amount, 'shipment' AS reason)"
	PAYMENT_EVENT_INSERT,
	2, {INT8OID, TEXTOID}, NULL
};

/*
 * Queue a payment transition's event (the caller wrote any pending
 * confirmation first: wl_line_confirm_pending).
 */
static void
payment_transition(WlQuery *q, const char *sku, int64 line_id)
{
	Datum		args[2] = {Int64GetDatum(line_id), CStringGetTextDatum(sku)};

	if (wl_exec(q, args, NULL, SPI_OK_INSERT, 0) > 0)
		wl_note_messages();
}

/*
 * Before a line whose confirmation is pending (a pre-order, or an imported
 * backorder) is cancelled or shipped (it is locked): write its
 * confirmation, and a pre-order's payment event at order, if
 * claim()/tick() has not yet,
 * so the customer reads "confirmed" before "cancelled" or "shipped", and
 * the payment listener sees the authorization before its void or capture.
 */
void
wl_line_confirm_pending(const char *sku, int64 line_id)
{
	line_actions(1, sku, line_id, true, true, NULL);	/* not a re-authorization: the line is closing */
}

/*
 * A pre-order line was cancelled (the SKU and line are locked): its units
 * go back to the cap and its channel, and the payment is voided or refunded.
 */
void
wl_preorder_cancelled(const char *sku, int64 line_id, int32 qty, const char *channel)
{
	WlSku		s;

	wl_sku_give_back_preorder(sku, qty, false, &s);
	if (wl_sku_bool(&s, SKU_CHANNEL_LIMITS) && channel != NULL)
	{
		Datum		args[3] = {CStringGetTextDatum(sku), CStringGetTextDatum(channel),
		Int64GetDatum((int64) qty)};

		wl_exec(&q_channel_give_back, args, NULL, SPI_OK_UPDATE, 0);
	}
	sync_limit(sku, wl_sku_bool(&s, SKU_PREORDER_AT_LIMIT),
			   wl_sku_int64(&s, SKU_PREORDER_ACCEPTED), wl_sku_int64(&s, SKU_PREORDER_LIMIT));
	payment_transition(&q_pay_cancel, sku, line_id);
}

/* A pre-order line shipped: capture the rest of its amount. */
void
wl_preorder_shipped(const char *sku, int64 line_id)
{
	payment_transition(&q_pay_ship, sku, line_id);
}
