/*
 * policy.c
 *	  The availability policy: what a SKU's page shows on a sales channel
 *	  and why (policy()), the channel rules (set_channel), the listings and
 *	  per-SKU thresholds (set_listings, set_policy), and the publication of
 *	  every change of decision as an availability_changed event.
 *
 * The decision follows the playbook's flowchart: discontinued -> out of
 * stock; units free -> in stock; an upcoming SKU -> pre-order while the
 * plan has units left and the channel takes pre-orders, else notify-me; no
 * confirmed restock date, a date passed, or one beyond the out-of-stock
 * horizon (21 days) or the backorder window (14 days) -> notify-me; a
 * channel without backorders (marketplaces) -> out of stock there; too
 * little proven demand or a backorder queue at support capacity ->
 * notify-me; otherwise backorders, to ship by the restock date.  Channels
 * that cannot show a notify-me sign-up show out of stock instead.
 *
 * Evaluation is pure C over a sku row and a cached channel rule, so a
 * catalog query pays no SPI per row.  The channel rules are read once per
 * backend and again after a change to waitlist.channel_rule, which its
 * statement trigger broadcasts as a relcache invalidation.  Publication runs at commit
 * for every SKU the transaction touched that is listed somewhere (commit.c)
 * and once a day from tick(), since dates move on their own.
 *
 * Locking: set_listings and set_policy lock the SKU row; publication runs
 * under the lock the commit-time allocator holds.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "commit.h"
#include "outbox.h"
#include "policy.h"
#include "spi_util.h"
#include "turn.h"
#include "validate.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_policy);
PG_FUNCTION_INFO_V1(waitlist_policy_of);
PG_FUNCTION_INFO_V1(waitlist_set_channel);
PG_FUNCTION_INFO_V1(waitlist_set_listings);
PG_FUNCTION_INFO_V1(waitlist_set_policy);

/* ---------- channel rules ---------- */

typedef enum Support
{
	SUPPORT_YES,
	SUPPORT_HANDLING_TIME,
	SUPPORT_BRAND_REGISTRY,
	SUPPORT_NO
} Support;

typedef struct ChannelRule
{
	char		name[WL_MAX_CHANNEL_LEN + 1];
	bool		marketplace;
	Support		backorders;
	Support		preorders;
	int			max_handling_days;	/* 0: none */
	bool		brand_registry;
	bool		notify_me;
} ChannelRule;

static ChannelRule *rules = NULL;	/* TopMemoryContext */
static int	nrules = 0;
static bool rules_valid = false;
static uint64 rules_generation = 0;	/* bumped by every load */
static uint64 rules_invals = 0;	/* bumped by every invalidation */
static Oid	rules_relid = InvalidOid;	/* waitlist.channel_rule, once known */

/* Forget the cached rules. */
void
wl_policy_reset_cache(void)
{
	rules_valid = false;
}

/*
 * Relcache callback: a change to waitlist.channel_rule (its statement
 * trigger broadcasts one, see waitlist_channel_rule_changed) or a full
 * reset invalidates the cached rules in every backend.
 */
static void
rules_inval(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid || relid == rules_relid)
	{
		rules_valid = false;
		rules_invals++;
	}
}

/* Register the invalidation callback (from _PG_init). */
void
wl_policy_init(void)
{
	CacheRegisterRelcacheCallback(rules_inval, (Datum) 0);
}

PG_FUNCTION_INFO_V1(waitlist_channel_rule_changed);

/* Statement trigger on waitlist.channel_rule: tell every backend at commit. */
Datum
waitlist_channel_rule_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trig = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(trig->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("channel_rule_changed must be called as a statement trigger")));
	CacheInvalidateRelcache(trig->tg_relation);
	rules_valid = false;
	return PointerGetDatum(NULL);
}

static Support
support_of(const char *s)
{
	if (strcmp(s, "yes") == 0)
		return SUPPORT_YES;
	if (strcmp(s, "handling_time") == 0)
		return SUPPORT_HANDLING_TIME;
	if (strcmp(s, "brand_registry") == 0)
		return SUPPORT_BRAND_REGISTRY;
	return SUPPORT_NO;
}

static WlQuery q_rules = {
	"SELECT channel, marketplace, backorders, preorders, coalesce(max_handling_days, 0),"
	" brand_registry, notify_me FROM waitlist.channel",
	0, {0}, NULL
};

/* The rules query, read with the latest snapshot: the cache outlives the transaction. */
static uint64
query_rules(void)
{
	int			rc;

	wl_prepare(&q_rules);
	rc = SPI_execute_snapshot(q_rules.plan, NULL, NULL, GetLatestSnapshot(),
							  InvalidSnapshot, true, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "waitlist: reading the channel rules failed: %s",
			 SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * Read every channel rule into the cache.  The new array is built before
 * the old one is freed; the cache counts as valid only if no invalidation
 * arrived while it was read.
 */
static void
load_rules(void)
{
	uint64		n;
	ChannelRule *fresh;
	uint64		invals = rules_invals;

	SPI_connect();
	n = query_rules();
	fresh = MemoryContextAllocZero(TopMemoryContext, sizeof(ChannelRule) * Max(n, 1));
	for (uint64 i = 0; i < n; i++)
	{
		ChannelRule *r = &fresh[i];

		strlcpy(r->name, wl_get_text(i, 1), sizeof(r->name));
		r->marketplace = wl_get_bool(i, 2);
		r->backorders = support_of(wl_get_text(i, 3));
		r->preorders = support_of(wl_get_text(i, 4));
		r->max_handling_days = DatumGetInt32(wl_get_datum(i, 5, NULL));
		r->brand_registry = wl_get_bool(i, 6);
		r->notify_me = wl_get_bool(i, 7);
	}
	if (rules)
		pfree(rules);
	rules = fresh;
	nrules = (int) n;
	rules_generation++;
	rules_valid = (rules_invals == invals);
	rules_relid = get_relname_relid("channel_rule", get_namespace_oid("waitlist", false));
	SPI_finish();
}

/* The rule of a channel, or NULL when the channel is unknown. */
static ChannelRule *
find_rule(const char *channel)
{
	if (!rules_valid)
		load_rules();
	for (int i = 0; i < nrules; i++)
		if (strcmp(rules[i].name, channel) == 0)
			return &rules[i];
	return NULL;
}

/* The rule of a channel; unknown channels are refused. */
static ChannelRule *
channel_rule(const char *channel)
{
	ChannelRule *r = find_rule(channel);

	if (r == NULL)
		ereport(ERROR,
				(errcode(WL_ERRCODE_UNKNOWN_CHANNEL),
				 errmsg("unknown sales channel \"%s\"", channel),
				 errhint("The channels are listed in waitlist.channel; add one with waitlist.set_channel.")));
	return r;
}

/* Refuse unknown channels (callers that evaluate later). */
void
wl_require_channel(const char *channel)
{
	(void) channel_rule(channel);
}

/* ---------- the SKU's side ---------- */

typedef struct PolicyInput
{
	bool		discontinued;
	bool		upcoming;
	int64		free_units;
	bool		has_restock;	/* a confirmed restock date */
	DateADT		restock_date;
	bool		preorders_open;
	int64		preorder_room;
	int64		channel_room;	/* the channel's own pre-order room, -1: no limit */
	bool		has_ships_on;
	DateADT		ships_on;
	bool		listed;			/* on the channel asked about */
	int64		demand;			/* people and units waiting, from the counters */
	int64		open_backorder_units;
	int			backorder_days;
	int			out_of_stock_days;
	int			min_demand;
	int64		max_backorder_units;
} PolicyInput;

/* Attribute numbers of the sku columns the policy reads. */
typedef struct SkuAtts
{
	int			id, status, on_hand, allocated, paid_waiting, sub_waiting, channel_limits;
	int			restock_date, restock_confirmed, preorders_open, preorder_accepted;
	int			preorder_limit, ships_on, channels, backorder_days, out_of_stock_days;
	int			min_demand, max_backorder_units;
} SkuAtts;

/* Resolve the attribute numbers by name (works for any sku row layout). */
static void
map_atts(TupleDesc desc, SkuAtts *m)
{
	m->id = SPI_fnumber(desc, "id");
	m->status = SPI_fnumber(desc, "status");
	m->channel_limits = SPI_fnumber(desc, "channel_limits");
	m->on_hand = SPI_fnumber(desc, "on_hand");
	m->allocated = SPI_fnumber(desc, "allocated");
	m->paid_waiting = SPI_fnumber(desc, "paid_waiting");
	m->sub_waiting = SPI_fnumber(desc, "sub_waiting");
	m->restock_date = SPI_fnumber(desc, "restock_date");
	m->restock_confirmed = SPI_fnumber(desc, "restock_confirmed");
	m->preorders_open = SPI_fnumber(desc, "preorders_open");
	m->preorder_accepted = SPI_fnumber(desc, "preorder_accepted");
	m->preorder_limit = SPI_fnumber(desc, "preorder_limit");
	m->ships_on = SPI_fnumber(desc, "ships_on");
	m->channels = SPI_fnumber(desc, "channels");
	m->backorder_days = SPI_fnumber(desc, "backorder_days");
	m->out_of_stock_days = SPI_fnumber(desc, "out_of_stock_days");
	m->min_demand = SPI_fnumber(desc, "min_demand");
	m->max_backorder_units = SPI_fnumber(desc, "max_backorder_units");
	if (m->status <= 0 || m->channels <= 0 || m->max_backorder_units <= 0 || m->id <= 0 ||
		m->channel_limits <= 0)
		elog(ERROR, "waitlist: the row is not a waitlist.sku row");
}

/* Does a text datum hold exactly the C string s (no copy)? */
static bool
text_is(Datum d, const char *s)
{
	text	   *t = DatumGetTextPP(d);
	size_t		len = VARSIZE_ANY_EXHDR(t);

	return strlen(s) == len && memcmp(VARDATA_ANY(t), s, len) == 0;
}

/*
 * Is channel one of the listed channels (a text[] without NULLs, as
 * set_listings writes it); NULL lists every channel.  Walks the array in
 * place: this runs once per row of a catalog query.
 */
static bool
listed_on(Datum channels, bool isnull, const char *channel)
{
	ArrayType  *arr;
	char	   *p;
	int			n;

	if (isnull)
		return true;
	arr = DatumGetArrayTypeP(channels);
	if (ARR_NDIM(arr) != 1 || ARR_HASNULL(arr))
		return false;
	n = ARR_DIMS(arr)[0];
	p = ARR_DATA_PTR(arr);
	for (int i = 0; i < n; i++)
	{
		if (text_is(PointerGetDatum(p), channel))
			return true;
		p = att_addlength_pointer(p, -1, p);
		p = (char *) att_align_nominal(p, TYPALIGN_INT);
	}
	return false;
}

static WlQuery q_channel_room = {
	"SELECT max_units - accepted FROM waitlist.preorder_channel WHERE sku_id = $1 AND channel = $2",
	2, {INT8OID, TEXTOID}, NULL
};

/*
 * The pre-order units the channel's own limit leaves, or -1 when it has
 * none.  Only SKUs with channel limits (sku.channel_limits) pay for the
 * lookup; it runs in a nested SPI connection, so any caller may use it.
 */
static int64
channel_room(int64 sku_id, const char *channel)
{
	Datum		args[2] = {Int64GetDatum(sku_id), CStringGetTextDatum(channel)};
	int64		room = -1;

	SPI_connect();
	if (wl_exec(&q_channel_room, args, NULL, SPI_OK_SELECT, 0) == 1)
		room = Max(wl_get_int64(0, 1, NULL), 0);
	SPI_finish();
	return room;
}

#define I64(a)	DatumGetInt64(v[(a) - 1])
#define OPT_INT(a, dflt) (n[(a) - 1] ? (dflt) : DatumGetInt32(v[(a) - 1]))

/*
 * Fill the input from deformed sku columns.  qty is what the caller wants:
 * fewer free units than that is not "in stock" for it.
 */
static void
read_input(Datum *v, bool *n, SkuAtts *m, const char *channel, int64 qty, PolicyInput *in)
{
	in->discontinued = text_is(v[m->status - 1], "discontinued");
	in->upcoming = !in->discontinued && text_is(v[m->status - 1], "upcoming");
	in->open_backorder_units = I64(m->paid_waiting);
	/* units the allocator owes waiting lines at commit are not for sale */
	in->free_units = I64(m->on_hand) - I64(m->allocated) - in->open_backorder_units;
	if (in->free_units < qty)
		in->free_units = 0;
	in->has_restock = !n[m->restock_date - 1] && DatumGetBool(v[m->restock_confirmed - 1]);
	in->restock_date = in->has_restock ? DatumGetDateADT(v[m->restock_date - 1]) : 0;
	in->preorders_open = DatumGetBool(v[m->preorders_open - 1]);
	in->preorder_room = n[m->preorder_limit - 1] ? 0
		: I64(m->preorder_limit) - I64(m->preorder_accepted);
	in->channel_room = -1;
	if (in->upcoming && in->preorders_open && in->preorder_room > 0 &&
		DatumGetBool(v[m->channel_limits - 1]))
		in->channel_room = channel_room(I64(m->id), channel);
	in->has_ships_on = !n[m->ships_on - 1];
	in->ships_on = in->has_ships_on ? DatumGetDateADT(v[m->ships_on - 1]) : 0;
	in->listed = listed_on(v[m->channels - 1], n[m->channels - 1], channel);
	in->demand = I64(m->sub_waiting) + in->open_backorder_units;
	in->backorder_days = OPT_INT(m->backorder_days, wl_backorder_days);
	in->out_of_stock_days = OPT_INT(m->out_of_stock_days, wl_out_of_stock_days);
	in->min_demand = OPT_INT(m->min_demand, wl_backorder_min_demand);
	in->max_backorder_units = n[m->max_backorder_units - 1] ? wl_backorder_max_units
		: I64(m->max_backorder_units);
}

/* ---------- the flowchart ---------- */

static void
decide(WlPolicy *p, WlDecision d, const char *reason)
{
	p->decision = d;
	p->reason = reason;
}

/* Out of stock, with the notify-me sign-up where the channel can show it. */
static void
notify_or_out(WlPolicy *p, ChannelRule *ch, const char *reason)
{
	decide(p, ch->notify_me ? WL_NOTIFY_ME : WL_OUT_OF_STOCK, reason);
}

/* Not on the channel's terms: out of stock there (the own store may differ). */
static void
channel_refuses(WlPolicy *p, const char *reason)
{
	decide(p, WL_OUT_OF_STOCK, reason);
	p->channel_refusal = true;
}

/* An upcoming SKU: pre-orders while the plan has room and the channel takes them. */
static void
decide_upcoming(PolicyInput *in, ChannelRule *ch, DateADT today, WlPolicy *p)
{
	if (!in->preorders_open)
		return notify_or_out(p, ch, "not released yet, pre-orders not open");
	if (in->preorder_room <= 0)
		return notify_or_out(p, ch, "pre-order limit reached");
	if (ch->preorders == SUPPORT_NO)
		return channel_refuses(p, "the channel takes no pre-orders");
	if (ch->preorders == SUPPORT_BRAND_REGISTRY && !ch->brand_registry)
		return channel_refuses(p, "pre-orders on the channel need Brand Registry");
	if (ch->preorders == SUPPORT_HANDLING_TIME &&
		(!in->has_ships_on || in->ships_on - today > ch->max_handling_days))
		return channel_refuses(p, "the ship date is beyond the channel's handling time");
	if (in->channel_room == 0)	/* the other channels still take them */
		return channel_refuses(p, "the channel's own pre-order limit is reached");
	decide(p, WL_PREORDER, "pre-orders open with units left");
	p->has_ship_by = in->has_ships_on;
	p->ship_by = in->ships_on;
}

/* Sold out: backorders only with a confirmed restock soon enough, and room. */
static void
decide_restock(PolicyInput *in, ChannelRule *ch, DateADT today, WlPolicy *p)
{
	int			days;

	if (!in->has_restock)
		return notify_or_out(p, ch, "no confirmed restock date");
	days = in->restock_date - today;
	if (days < 0)
		return notify_or_out(p, ch, "the confirmed restock date has passed");
	if (days > in->out_of_stock_days)
		return notify_or_out(p, ch, "restock beyond the out-of-stock horizon");
	if (days > in->backorder_days)
		return notify_or_out(p, ch, "restock beyond the backorder window");
	if (ch->backorders == SUPPORT_NO)
		return channel_refuses(p, ch->marketplace
							   ? "marketplace without backorders; the own store takes them"
							   : "the channel takes no backorders");
	if (ch->backorders == SUPPORT_HANDLING_TIME && days > ch->max_handling_days)
		return channel_refuses(p, "restock beyond the channel's handling time");
	if (in->demand < in->min_demand)
		return notify_or_out(p, ch, "demand not proven yet");
	if (in->max_backorder_units > 0 && in->open_backorder_units >= in->max_backorder_units)
		return notify_or_out(p, ch, "backorders at support capacity");
	decide(p, WL_BACKORDER, "restock confirmed within the backorder window");
	p->has_ship_by = true;
	p->ship_by = in->restock_date;
}

/* The whole flowchart for one SKU on one channel. */
static void
evaluate(PolicyInput *in, ChannelRule *ch, DateADT today, WlPolicy *p)
{
	memset(p, 0, sizeof(*p));
	if (in->discontinued)
		return decide(p, WL_OUT_OF_STOCK, "discontinued");
	if (!in->listed)
		return channel_refuses(p, "not listed on the channel");
	if (in->free_units > 0)
		return decide(p, WL_IN_STOCK, "units in stock");
	if (in->upcoming)
		return decide_upcoming(in, ch, today, p);
	decide_restock(in, ch, today, p);
}

const char *
wl_decision_name(WlDecision d)
{
	static const char *const names[] = {
		"in_stock", "backorder", "preorder", "notify_me", "out_of_stock"
	};

	return names[d];
}

/* The policy for a sku row (any layout that has the sku columns), for qty units. */
void
wl_policy_of_tuple(HeapTuple tup, TupleDesc desc, const char *channel, int64 qty,
				   WlPolicy *out)
{
	SkuAtts		m;
	PolicyInput in;
	Datum	   *v = palloc(sizeof(Datum) * desc->natts);
	bool	   *n = palloc(sizeof(bool) * desc->natts);
	ChannelRule *ch = channel_rule(channel);

	map_atts(desc, &m);
	heap_deform_tuple(tup, desc, v, n);
	read_input(v, n, &m, channel, qty, &in);
	evaluate(&in, ch, GetSQLCurrentDate(), out);
	pfree(v);
	pfree(n);
}

static WlQuery q_sku_by_id = {
	"SELECT * FROM waitlist.sku WHERE id = $1", 1, {INT8OID}, NULL
};

static WlQuery q_sku_by_code = {
	"SELECT * FROM waitlist.sku WHERE sku = $1", 1, {TEXTOID}, NULL
};

/* The policy for qty units of a SKU by id (caller is in SPI). */
void
wl_policy_of_sku(int64 sku_id, const char *channel, int64 qty, WlPolicy *out)
{
	Datum		arg = Int64GetDatum(sku_id);

	wl_exec(&q_sku_by_id, &arg, NULL, SPI_OK_SELECT, 1);
	wl_policy_of_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, channel, qty, out);
}

/* Refuse an order the policy does not allow (WL013, the reason in the detail). */
void
wl_policy_refuse(const char *sku, const char *channel, const char *what, WlPolicy *p)
{
	wl_flush_seen();
	ereport(ERROR,
			(errcode(WL_ERRCODE_POLICY_REFUSED),
			 errmsg("SKU \"%s\" takes no %s on channel \"%s\"", sku, what, channel),
			 errdetail("The policy says %s: %s.", wl_decision_name(p->decision), p->reason),
			 p->decision == WL_NOTIFY_ME
			 ? errhint("Offer the notify-me sign-up (waitlist.subscribe).") : 0));
}

/*
 * The channel's side of a pre-order: listed there, and pre-orders on its
 * terms.  True (with the refusal in *out) when the channel refuses.
 */
bool
wl_preorder_channel_refusal(const char *channel, Datum ships_on, bool no_date,
							Datum channels, bool unlisted, WlPolicy *out)
{
	PolicyInput in;
	ChannelRule *ch = channel_rule(channel);

	memset(&in, 0, sizeof(in));
	in.upcoming = true;
	in.preorders_open = true;
	in.preorder_room = 1;
	in.channel_room = -1;			/* checked by take_channel_slot */
	in.has_ships_on = !no_date;
	in.ships_on = no_date ? 0 : DatumGetDateADT(ships_on);
	in.listed = listed_on(channels, unlisted, channel);
	evaluate(&in, ch, GetSQLCurrentDate(), out);
	return out->channel_refusal;
}

/* ---------- SQL: policy() ---------- */

/*
 * The decision names and reasons are a few constant strings: their text
 * datums are made once per backend, not once per row of a catalog query.
 */
static Datum
constant_text(const char *s)
{
	static const char *keys[32];
	static text *values[32];
	static int	n = 0;

	for (int i = 0; i < n; i++)
		if (keys[i] == s)
			return PointerGetDatum(values[i]);
	if (n == lengthof(keys))
		return CStringGetTextDatum(s);
	keys[n] = s;
	values[n] = (text *) MemoryContextAlloc(TopMemoryContext, VARHDRSZ + strlen(s));
	SET_VARSIZE(values[n], VARHDRSZ + strlen(s));
	memcpy(VARDATA(values[n]), s, strlen(s));
	return PointerGetDatum(values[n++]);
}

/* Build the (decision, reason, ship_by) result. */
static Datum
policy_result(FunctionCallInfo fcinfo, TupleDesc *cache, WlPolicy *p)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, !p->has_ship_by};

	if (*cache == NULL)
	{
		TupleDesc	desc;
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "waitlist: policy must return a composite type");
		*cache = BlessTupleDesc(CreateTupleDescCopy(desc));
		MemoryContextSwitchTo(old);
	}
	values[0] = constant_text(wl_decision_name(p->decision));
	values[1] = constant_text(p->reason);
	values[2] = DateADTGetDatum(p->ship_by);
	return HeapTupleGetDatum(heap_form_tuple(*cache, values, nulls));
}

/* SQL: waitlist.policy(sku text, channel text) */
Datum
waitlist_policy(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	char	   *channel = PG_ARGISNULL(1) ? NULL : wl_arg_channel(fcinfo, 1);
	Datum		arg = CStringGetTextDatum(sku);
	WlPolicy	p;
	TupleDesc  *desc;

	if (channel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("channel must not be null")));
	SPI_connect();
	if (wl_exec(&q_sku_by_code, &arg, NULL, SPI_OK_SELECT, 0) == 0)
		wl_error_unknown_sku(sku);
	wl_policy_of_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, channel, 1, &p);
	SPI_finish();
	/* the result descriptor is kept for the query, in fn_extra */
	if (fcinfo->flinfo->fn_extra == NULL)
		fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
														  sizeof(TupleDesc));
	desc = fcinfo->flinfo->fn_extra;
	PG_RETURN_DATUM(policy_result(fcinfo, desc, &p));
}

/* The arguments of policy_of(), in the places of the sku columns. */
static const SkuAtts of_args = {
	.status = 1, .on_hand = 2, .allocated = 3, .paid_waiting = 4, .sub_waiting = 5,
	.restock_date = 6, .restock_confirmed = 7, .preorders_open = 8, .preorder_accepted = 9,
	.preorder_limit = 10, .ships_on = 11, .channels = 12, .backorder_days = 13,
	.out_of_stock_days = 14, .min_demand = 15, .max_backorder_units = 16, .id = 17,
	.channel_limits = 18
};
#define OF_CHANNEL 18			/* 0-based argument number of channel */

/* What policy_of() keeps between the rows of one query. */
typedef struct OfCache
{
	char		channel[WL_MAX_CHANNEL_LEN + 1];
	ChannelRule rule;
	uint64		generation;		/* of the rules the copy came from */
	TimestampTz xact_start;
	DateADT		today;
	TupleDesc	result;
} OfCache;

/* The channel's rule and today's date, once per query (or channel). */
static OfCache *
of_cache(FunctionCallInfo fcinfo)
{
	OfCache    *c = fcinfo->flinfo->fn_extra;
	Datum		arg = fcinfo->args[OF_CHANNEL].value;

	if (c == NULL)
		c = fcinfo->flinfo->fn_extra =
			MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(OfCache));
	if (!rules_valid || c->generation != rules_generation || c->channel[0] == '\0' ||
		!text_is(arg, c->channel) || c->xact_start != GetCurrentTransactionStartTimestamp())
	{
		char	   *channel = text_to_cstring(DatumGetTextPP(arg));

		c->rule = *channel_rule(channel);
		c->generation = rules_generation;
		strlcpy(c->channel, channel, sizeof(c->channel));
		c->xact_start = GetCurrentTransactionStartTimestamp();
		c->today = GetSQLCurrentDate();
	}
	return c;
}

/* SQL: waitlist.policy_of(status, on_hand, ..., max_backorder_units, channel) */
Datum
waitlist_policy_of(PG_FUNCTION_ARGS)
{
	Datum		v[OF_CHANNEL];
	bool		n[OF_CHANNEL];
	OfCache    *c;
	PolicyInput in;
	WlPolicy	p;

	for (int i = 0; i < OF_CHANNEL; i++)
	{
		v[i] = fcinfo->args[i].value;
		n[i] = fcinfo->args[i].isnull;
	}
	if (PG_ARGISNULL(OF_CHANNEL))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("channel must not be null")));
	if (n[0] || n[1] || n[2] || n[3] || n[4] || n[6] || n[7] || n[8] || n[16] || n[17])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the SKU's status, counters and flags must not be null")));
	c = of_cache(fcinfo);
	read_input(v, n, (SkuAtts *) &of_args, c->channel, 1, &in);
	evaluate(&in, &c->rule, c->today, &p);
	PG_RETURN_DATUM(policy_result(fcinfo, &c->result, &p));
}

/* ---------- publication: availability_changed ---------- */

static WlQuery q_published = {
	"SELECT channel, decision, checked_on < current_date FROM waitlist.availability"
	" WHERE sku_id = $1",
	1, {INT8OID}, NULL
};

static WlQuery q_publish = {
	"INSERT INTO waitlist.availability AS a (sku_id, channel, decision, reason, ship_by)"
	" VALUES ($1, $2, $3, $4, $5)"
	" ON CONFLICT (sku_id, channel) DO UPDATE SET decision = excluded.decision,"
	"  reason = excluded.reason, ship_by = excluded.ship_by,"
	"  changes = a.changes + CASE WHEN a.decision = excluded.decision THEN 0 ELSE 1 END,"
	"  changed_at = CASE WHEN a.decision = excluded.decision THEN a.changed_at ELSE now() END,"
	"  checked_on = current_date"
	" RETURNING changes",
	5, {INT8OID, TEXTOID, TEXTOID, TEXTOID, DATEOID}, NULL
};

static WlQuery q_unlisted = {
	"DELETE FROM waitlist.availability a WHERE a.sku_id = $1"
	" AND ($2::text[] IS NULL OR NOT a.channel = ANY ($2)"
	"  OR NOT EXISTS (SELECT 1 FROM waitlist.channel c WHERE c.channel = a.channel))"
	" RETURNING a.channel, a.decision, a.changes + 1",
	2, {INT8OID, TEXTARRAYOID}, NULL
};

static void announce(int64 sku_id, const char *sku, const char *channel,
					 const char *previous, WlPolicy *p, int64 changes);

/*
 * Channels the SKU left (unlisted, or the channel was removed): their rows
 * go, and a feed that showed something else hears it is out of stock there.
 */
static void
drop_unlisted(int64 sku_id, const char *sku, Datum channels, bool unlisted)
{
	Datum		args[2] = {Int64GetDatum(sku_id), channels};
	char		nulls[3] = {' ', unlisted ? 'n' : ' ', '\0'};
	uint64		n = wl_exec(&q_unlisted, args, nulls, SPI_OK_DELETE_RETURNING, 0);
	SPITupleTable *t = SPI_tuptable;
	WlPolicy	gone = {WL_OUT_OF_STOCK, "not listed on the channel", false, 0, true};

	for (uint64 i = 0; i < n; i++)
	{
		char	   *channel = SPI_getvalue(t->vals[i], t->tupdesc, 1);
		char	   *was = SPI_getvalue(t->vals[i], t->tupdesc, 2);
		bool		isnull;

		if (strcmp(was, wl_decision_name(WL_OUT_OF_STOCK)) != 0)
			announce(sku_id, sku, channel, was, &gone,
					 DatumGetInt32(SPI_getbinval(t->vals[i], t->tupdesc, 3, &isnull)));
	}
}

/* Is the text datum d among the first n of elems (no copies)? */
static bool
listed_before(Datum *elems, int n, Datum d)
{
	text	   *t = DatumGetTextPP(d);
	size_t		len = VARSIZE_ANY_EXHDR(t);

	for (int i = 0; i < n; i++)
	{
		text	   *e = DatumGetTextPP(elems[i]);

		if (VARSIZE_ANY_EXHDR(e) == len && memcmp(VARDATA_ANY(e), VARDATA_ANY(t), len) == 0)
			return true;
	}
	return false;
}

/* What was published for one channel, from q_published's result. */
typedef struct Published
{
	char	   *channel;
	char	   *decision;		/* NULL: nothing yet */
	bool		stale;
} Published;

/* q_published's rows, read once (one row per channel the SKU is listed on). */
static Published *
read_published(SPITupleTable *t, uint64 n)
{
	Published  *r = palloc(sizeof(Published) * (n + 1));

	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		r[i].channel = SPI_getvalue(t->vals[i], t->tupdesc, 1);
		r[i].decision = SPI_getvalue(t->vals[i], t->tupdesc, 2);
		r[i].stale = DatumGetBool(SPI_getbinval(t->vals[i], t->tupdesc, 3, &isnull));
	}
	return r;
}

/* The row published for channel, or one that says nothing was yet. */
static Published
published_for(Published *pub, uint64 n, const char *channel)
{
	Published	none = {NULL, NULL, false};

	for (uint64 i = 0; i < n; i++)
		if (strcmp(pub[i].channel, channel) == 0)
			return pub[i];
	return none;
}

/* Queue availability_changed for the storefront cache or marketplace feed. */
static void
announce(int64 sku_id, const char *sku, const char *channel, const char *previous,
		 WlPolicy *p, int64 changes)
{
	WlJson		j;
	char		key[128];

	wl_json_init(&j);
	wl_json_str(&j, "sku", sku);
	wl_json_str(&j, "channel", channel);
	wl_json_str(&j, "decision", wl_decision_name(p->decision));
	wl_json_str(&j, "previous", previous);
	wl_json_str(&j, "reason", p->reason);
	wl_json_str(&j, "ship_by", p->has_ship_by
				? DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(p->ship_by)))
				: NULL);
	snprintf(key, sizeof(key), "sku:" INT64_FORMAT ":avail:%s:" INT64_FORMAT ":%u",
			 sku_id, channel, changes, GetTopTransactionId());
	wl_queue_message("availability_changed", "feed", channel, sku, wl_json_finish(&j), key);
}

/* Publish one listed channel: write and announce a new decision. */
static void
publish_channel(int64 sku_id, const char *sku, const char *channel, Published *was,
				HeapTuple tup, TupleDesc desc)
{
	WlPolicy	p;
	Datum		args[5];
	char		nulls[6] = "     ";
	const char *now;

	if (find_rule(channel) == NULL)
		return;					/* a channel removed: drop_unlisted dropped it */
	wl_policy_of_tuple(tup, desc, channel, 1, &p);
	now = wl_decision_name(p.decision);
	if (was->decision && strcmp(was->decision, now) == 0 && !was->stale)
		return;
	args[0] = Int64GetDatum(sku_id);
	args[1] = CStringGetTextDatum(channel);
	args[2] = CStringGetTextDatum(now);
	args[3] = CStringGetTextDatum(p.reason);
	args[4] = DateADTGetDatum(p.ship_by);
	nulls[4] = p.has_ship_by ? ' ' : 'n';
	wl_exec(&q_publish, args, nulls, SPI_OK_INSERT_RETURNING, 0);
	if (was->decision == NULL || strcmp(was->decision, now) != 0)
		announce(sku_id, sku, channel, was->decision, &p, wl_get_int64(0, 1, NULL));
}

/*
 * Re-evaluate a SKU on every channel it is listed on and announce each
 * decision that changed (caller is in SPI and holds the SKU row lock).
 */
void
wl_publish_availability(int64 sku_id)
{
	Datum		arg = Int64GetDatum(sku_id);
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		channels;
	char	   *sku;
	Published  *pub;
	uint64		npub;
	int			distinct = 0;
	Datum	   *elems;
	int			nelems;

	wl_exec(&q_sku_by_id, &arg, NULL, SPI_OK_SELECT, 1);
	tup = SPI_copytuple(SPI_tuptable->vals[0]);
	desc = CreateTupleDescCopy(SPI_tuptable->tupdesc);
	sku = SPI_getvalue(tup, desc, SPI_fnumber(desc, "sku"));
	channels = SPI_getbinval(tup, desc, SPI_fnumber(desc, "channels"), &isnull);
	drop_unlisted(sku_id, sku, channels, isnull);
	if (isnull)
		return;
	npub = wl_exec(&q_published, &arg, NULL, SPI_OK_SELECT, 0);
	pub = read_published(SPI_tuptable, npub);
	deconstruct_array(DatumGetArrayTypeP(channels), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, NULL, &nelems);
	for (int i = 0; i < nelems; i++)
	{
		char	   *channel;
		Published	was;

		/* listings stored before they were de-duplicated may repeat */
		if (listed_before(elems, distinct, elems[i]))
			continue;
		elems[distinct++] = elems[i];
		channel = TextDatumGetCString(elems[i]);
		was = published_for(pub, npub, channel);
		publish_channel(sku_id, sku, channel, &was, tup, desc);
	}
}

static WlQuery q_stale = {
	"SELECT s.id FROM waitlist.sku s"
	" WHERE s.id IN (SELECT DISTINCT a.sku_id FROM waitlist.availability a"
	"  WHERE a.checked_on < current_date ORDER BY 1 LIMIT $1)"
	" ORDER BY s.id FOR UPDATE SKIP LOCKED",
	1, {INT4OID}, NULL
};

/*
 * Dates move on their own: once a day re-evaluate the listed SKUs (up to
 * max), from tick().  Returns the SKUs looked at.  Caller is in SPI.
 */
int64
wl_availability_tick(int max)
{
	Datum		arg = Int32GetDatum(max);
	uint64		n = wl_exec(&q_stale, &arg, NULL, SPI_OK_SELECT, 0);
	SPITupleTable *t = SPI_tuptable;

	for (uint64 i = 0; i < n; i++)
	{
		bool		isnull;

		wl_publish_availability(DatumGetInt64(SPI_getbinval(t->vals[i], t->tupdesc, 1, &isnull)));
	}
	return (int64) n;
}

/* ---------- SQL: set_channel, set_listings, set_policy ---------- */

/* Store a merged rule (q_channel_merged's row). */
static WlQuery q_set_channel = {
	"INSERT INTO waitlist.channel_rule AS r (channel, title, marketplace, backorders, preorders,"
	"  max_handling_days, brand_registry, notify_me)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	" ON CONFLICT (channel) DO UPDATE SET title = excluded.title,"
	"  marketplace = excluded.marketplace, backorders = excluded.backorders,"
	"  preorders = excluded.preorders, max_handling_days = excluded.max_handling_days,"
	"  brand_registry = excluded.brand_registry, notify_me = excluded.notify_me,"
	"  updated_at = now()",
	8, {TEXTOID, TEXTOID, BOOLOID, TEXTOID, TEXTOID, INT4OID, BOOLOID, BOOLOID}, NULL
};

/*
 * set_channel's arguments merged with the channel's current rule (NULL
 * keeps a value, max_handling_days 0 clears it; defaults for a new channel),
 * in q_set_channel's order.
 */
static WlQuery q_channel_merged = {
	"SELECT $1, coalesce($2, c.title, $1), coalesce($3, c.marketplace, true),"
	"  coalesce($4, c.backorders, 'no'), coalesce($5, c.preorders, 'no'),"
	"  CASE WHEN $6 IS NOT NULL THEN nullif($6, 0) ELSE c.max_handling_days END,"
	"  coalesce($7, c.brand_registry, false), coalesce($8, c.notify_me, false)"
	" FROM (SELECT 1) one LEFT JOIN waitlist.channel c ON c.channel = $1",
	8, {TEXTOID, TEXTOID, BOOLOID, TEXTOID, TEXTOID, INT4OID, BOOLOID, BOOLOID}, NULL
};

static WlQuery q_channel_row = {
	"SELECT c FROM waitlist.channel c WHERE c.channel = $1", 1, {TEXTOID}, NULL
};

static WlQuery q_listed_skus = {
	"SELECT id FROM waitlist.sku WHERE $1 = ANY (channels) ORDER BY id",
	1, {TEXTOID}, NULL
};

/* A support value: yes, no, handling_time (and brand_registry for pre-orders). */
static void
check_support(FunctionCallInfo fcinfo, int argno, const char *name, bool registry)
{
	char	   *s;

	if (PG_ARGISNULL(argno))
		return;
	s = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strcmp(s, "yes") != 0 && strcmp(s, "no") != 0 && strcmp(s, "handling_time") != 0 &&
		!(registry && strcmp(s, "brand_registry") == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s support \"%s\"", name, s),
				 errhint("Use yes, no or handling_time%s.", registry ? " or brand_registry" : "")));
}

/*
 * Merge the arguments into the channel's rule (args and nulls are replaced
 * by the merged values).  A channel that takes orders "by handling time"
 * needs its maximum: without one it would silently take nothing.  Checked
 * on the merged rule, so keeping or clearing a value is checked too.  (The
 * table's CHECK catches a concurrent change in between, with a plainer
 * message.)
 */
static void
merge_channel_rule(const char *channel, Datum *args, char *nulls)
{
	char	   *backorders;
	char	   *preorders;
	bool		no_days;
	const char *what;

	wl_exec(&q_channel_merged, args, nulls, SPI_OK_SELECT, 1);
	for (int i = 0; i < 8; i++)
	{
		bool		isnull;

		args[i] = wl_get_datum(0, i + 1, &isnull);
		nulls[i] = isnull ? 'n' : ' ';
	}
	backorders = wl_get_text(0, 4);
	preorders = wl_get_text(0, 5);
	no_days = nulls[5] == 'n';

	if (!no_days)
		return;
	if (strcmp(backorders, "handling_time") == 0)
		what = "backorders";
	else if (strcmp(preorders, "handling_time") == 0)
		what = "pre-orders";
	else
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("channel \"%s\" takes %s by handling time but has no max_handling_days", channel, what),
			 errhint("Give max_handling_days (1 to 365), or set %s to yes or no.",
					 strcmp(what, "backorders") == 0 ? "backorders" : "preorders")));
}

/* SQL: waitlist.set_channel(channel, title, marketplace, backorders, preorders, ...) */
Datum
waitlist_set_channel(PG_FUNCTION_ARGS)
{
	Datum		args[8];
	char		nulls[9] = "        ";
	char	   *channel;
	uint64		n;
	Datum		row;
	bool		isnull;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("channel must not be null")));
	channel = wl_arg_channel(fcinfo, 0);
	check_support(fcinfo, 3, "backorder", false);
	check_support(fcinfo, 4, "pre-order", true);
	if (!PG_ARGISNULL(5) && (PG_GETARG_INT32(5) < 0 || PG_GETARG_INT32(5) > 365))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_handling_days must be between 0 (none) and 365, got %d",
						PG_GETARG_INT32(5))));
	for (int i = 1; i < 8; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	args[0] = CStringGetTextDatum(channel);
	if (!PG_ARGISNULL(1))
		args[1] = CStringGetTextDatum(wl_arg_text(fcinfo, 1, "title", WL_MAX_NAME_LEN, false));
	SPI_connect();
	merge_channel_rule(channel, args, nulls);
	wl_exec(&q_set_channel, args, nulls, SPI_OK_INSERT, 1);
	wl_policy_reset_cache();
	n = wl_exec(&q_listed_skus, args, NULL, SPI_OK_SELECT, 0);
	for (uint64 i = 0; i < n; i++)
		wl_touch_sku(wl_get_int64(i, 1, NULL));
	wl_exec(&q_channel_row, args, NULL, SPI_OK_SELECT, 1);
	row = SPI_datumTransfer(wl_get_datum(0, 1, &isnull), false, -1);
	SPI_finish();
	PG_RETURN_DATUM(row);
}

static WlQuery q_set_listings = {
	"UPDATE waitlist.sku SET channels = $2, updated_at = now() WHERE sku = $1"
	" RETURNING id, channels",
	2, {TEXTOID, TEXTARRAYOID}, NULL
};

/*
 * A listing argument, checked and normalised: one dimension, no NULLs,
 * every channel known, each channel once (first mention kept), at most
 * WL_MAX_LISTINGS channels.  Returns the array to store (or NULL).
 */
static Datum
listing_arg(FunctionCallInfo fcinfo, int argno, bool *isnull)
{
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			kept = 0;

	*isnull = PG_ARGISNULL(argno);
	if (*isnull)
		return (Datum) 0;
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("channels must be a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("channels must not contain NULL")));
		if (listed_before(elems, kept, elems[i]))
			continue;
		if (kept == WL_MAX_LISTINGS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("a SKU can be listed on at most %d channels", WL_MAX_LISTINGS)));
		wl_require_channel(TextDatumGetCString(elems[i]));
		elems[kept++] = elems[i];
	}
	return PointerGetDatum(construct_array(elems, kept, TEXTOID, -1, false, TYPALIGN_INT));
}

/* SQL: waitlist.set_listings(sku, channels) */
Datum
waitlist_set_listings(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	Datum		args[2];
	char		nulls[3] = "  ";
	bool		isnull;
	Datum		result;

	args[0] = CStringGetTextDatum(sku);
	args[1] = listing_arg(fcinfo, 1, &isnull);
	nulls[1] = isnull ? 'n' : ' ';
	SPI_connect();
	wl_wait_turn(sku);
	if (wl_exec(&q_set_listings, args, nulls, SPI_OK_UPDATE_RETURNING, 0) == 0)
		wl_error_unknown_sku(sku);
	if (isnull)
		wl_publish_availability(wl_get_int64(0, 1, NULL));	/* the feeds hear it now */
	else
		wl_touch_sku(wl_get_int64(0, 1, NULL));
	result = isnull ? (Datum) 0 : SPI_datumTransfer(wl_get_datum(0, 2, NULL), false, -1);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

static WlQuery q_set_policy = {
	"UPDATE waitlist.sku AS k SET backorder_days = $2, out_of_stock_days = $3, min_demand = $4,"
	" max_backorder_units = $5, updated_at = now() WHERE sku = $1 RETURNING k.*",
	5, {TEXTOID, INT4OID, INT4OID, INT4OID, INT8OID}, NULL
};

/* A threshold argument: NULL or within [0, max]. */
static void
check_threshold(FunctionCallInfo fcinfo, int argno, const char *name, int64 max)
{
	int64		v;

	if (PG_ARGISNULL(argno))
		return;
	v = argno == 4 ? PG_GETARG_INT64(argno) : PG_GETARG_INT32(argno);
	if (v < 0 || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between 0 and " INT64_FORMAT ", got " INT64_FORMAT,
						name, max, v)));
}

/* SQL: waitlist.set_policy(sku, backorder_days, out_of_stock_days, min_demand, max_backorder_units) */
Datum
waitlist_set_policy(PG_FUNCTION_ARGS)
{
	char	   *sku = wl_arg_text(fcinfo, 0, "sku", WL_MAX_SKU_LEN, true);
	Datum		args[5];
	char		nulls[6] = "     ";
	TupleDesc	tupdesc;
	HeapTuple	row;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "waitlist: set_policy must return a composite type");
	check_threshold(fcinfo, 1, "backorder_days", 365);
	check_threshold(fcinfo, 2, "out_of_stock_days", 365);
	check_threshold(fcinfo, 3, "min_demand", INT_MAX);
	check_threshold(fcinfo, 4, "max_backorder_units", INT64CONST(1000000000000));
	args[0] = CStringGetTextDatum(sku);
	for (int i = 1; i < 5; i++)
	{
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
	}
	SPI_connect();
	wl_wait_turn(sku);
	if (wl_exec(&q_set_policy, args, nulls, SPI_OK_UPDATE_RETURNING, 0) == 0)
		wl_error_unknown_sku(sku);
	row = SPI_copytuple(SPI_tuptable->vals[0]);
	wl_touch_sku(wl_get_int64(0, 1, NULL));
	SPI_finish();
	PG_RETURN_DATUM(heap_copy_tuple_as_datum(row, tupdesc));
}
