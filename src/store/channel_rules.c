/*
 * channel_rules.c
 *	  The sales channels' rules: the one owner of waitlist.channel_rule,
 *	  and the per-backend cache the policy evaluates against.
 *
 * The rules are read once per backend and again after a change to
 * waitlist.channel_rule, which its statement trigger broadcasts as a
 * relcache invalidation (api/channel_api.c).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "store/channel_rules.h"
#include "store/spi.h"

static ChannelRule *rules = NULL;	/* TopMemoryContext */
static int	nrules = 0;
static bool rules_valid = false;
static uint64 rules_generation = 0;	/* bumped by every load */
static uint64 rules_invals = 0;	/* bumped by every invalidation */
static Oid	rules_relid = InvalidOid;	/* waitlist.channel_rule, once known */

/* Forget the cached rules. */
void
wl_channel_rules_reset(void)
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
wl_channel_rules_init(void)
{
	CacheRegisterRelcacheCallback(rules_inval, (Datum) 0);
}

/* A support value's enum (no: anything else). */
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
	int			nest = wl_spi_connect_pinned();

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
	wl_spi_finish_pinned(nest);
}

/* The rule of a channel, or NULL when the channel is unknown. */
ChannelRule *
wl_find_channel_rule(const char *channel)
{
	if (!rules_valid)
		load_rules();
	for (int i = 0; i < nrules; i++)
		if (strcmp(rules[i].name, channel) == 0)
			return &rules[i];
	return NULL;
}

/* The rule of a channel; unknown channels are refused. */
ChannelRule *
wl_channel_rule(const char *channel)
{
	ChannelRule *r = wl_find_channel_rule(channel);

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
	(void) wl_channel_rule(channel);
}

/* Store a merged rule (q_channel_merged's row). */
static WlQuery q_set_channel = {
	"INSERT INTO waitlist.channel_rule AS r (channel, title, marketplace, backorders, preorders,"
	"  max_handling_days, brand_registry, notify_me)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	" ON CONFLICT (channel) DO UPDATE SET title = excluded.title,"
	"  marketplace = excluded.marketplace, backorders = excluded.backorders,"
	"  preorders = excluded.preorders, max_handling_days = excluded.max_handling_days,"
	"  brand_registry = excluded.brand_registry, notify_me = excluded.notify_me,"
	"  updated_at = waitlist.now()",
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

/* Store a channel's rule: the arguments merged with its current one. */
void
wl_store_channel_rule(const char *channel, Datum *args, char *nulls)
{
	merge_channel_rule(channel, args, nulls);
	wl_exec(&q_set_channel, args, nulls, SPI_OK_INSERT, 1);
	wl_channel_rules_reset();
}

/* The channel's row of waitlist.channel, as a composite datum in the caller's context. */
Datum
wl_channel_row(const char *channel)
{
	Datum		arg = CStringGetTextDatum(channel);
	bool		isnull;

	wl_exec(&q_channel_row, &arg, NULL, SPI_OK_SELECT, 1);
	return SPI_datumTransfer(wl_get_datum(0, 1, &isnull), false, -1);
}

/* The rules table changed (its statement trigger): every backend reloads at commit. */
void
wl_channel_rules_changed(Relation rel)
{
	CacheInvalidateRelcache(rel);
	rules_valid = false;
}

/* Bumped by every load of the rules: a copy of a rule is current while it matches. */
uint64
wl_channel_rules_generation(void)
{
	if (!rules_valid)
		load_rules();
	return rules_generation;
}
