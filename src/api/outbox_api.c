/*
 * outbox_api.c
 *	  SQL API for listeners: claim, ack, nack, dead_letter, extend_lease,
 *	  release, next_due, and the time-based work (expand_batches, tick).
 *
 * Claims lease due messages with FOR UPDATE SKIP LOCKED; due_at holds the
 * deliver-after time while pending and the lease expiry while leased, so
 * one partial index serves both.  Before claiming, pending batches and
 * confirmations are expanded (domain/expansion.c).
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "funcapi.h"
#include "libpq/libpq-be.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"

#include "api/args.h"
#include "domain/availability.h"
#include "domain/expansion.h"
#include "domain/tick.h"
#include "store/now.h"
#include "store/shards.h"
#include "store/spi.h"
#include "txn/durability.h"
#include "txn/pending.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_expand_batches);
PG_FUNCTION_INFO_V1(waitlist_claim);
PG_FUNCTION_INFO_V1(waitlist_claim_wait);
PG_FUNCTION_INFO_V1(waitlist_ack);
PG_FUNCTION_INFO_V1(waitlist_nack);
PG_FUNCTION_INFO_V1(waitlist_dead_letter);
PG_FUNCTION_INFO_V1(waitlist_extend_lease);
PG_FUNCTION_INFO_V1(waitlist_release);
PG_FUNCTION_INFO_V1(waitlist_next_due);
PG_FUNCTION_INFO_V1(waitlist_tick);

static Datum claim_common(FunctionCallInfo fcinfo, int off, Interval *wait);
static bool next_due_compute(Datum *args, char *nulls, TimestampTz *at);
static TimestampTz wait_deadline(Interval *wait);
static bool sleep_for_work(TimestampTz deadline, Datum *filters, char *filter_nulls, int *due_now);

/* SQL: waitlist.expand_batches(max_batches) */
Datum
waitlist_expand_batches(PG_FUNCTION_ARGS)
{
	int32		max_batches = PG_GETARG_INT32(0);
	int64		n;

	if (max_batches <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_batches must be positive")));
	wl_spi_connect();
	n = wl_expand_batches(max_batches);
	SPI_finish();
	PG_RETURN_INT64(n);
}

/* SQL: waitlist.tick() */
Datum
waitlist_tick(PG_FUNCTION_ARGS)
{
	int64		n;

	wl_spi_connect();
	n = wl_tick();
	SPI_finish();
	PG_RETURN_INT64(n);
}

/* ---------- consumers ---------- */

/*
 * The locked rows go through an array, not a join: with LIMIT as a
 * parameter the generic plan would otherwise estimate thousands of rows and
 * hash-join a sequential scan of the whole outbox.  The array holds their
 * tuple ids, so the UPDATE fetches each row directly instead of descending
 * the primary key once per row.  A row that a concurrent transaction
 * changed and committed after this statement's snapshot is locked in its
 * new version, which the UPDATE's snapshot does not see: it is left
 * unclaimed this time (it stays due), never claimed twice.
 *
 * The plan is generic (built once): a custom plan per call cost a planner
 * run on every claim, about a tenth of its CPU (bench/run.sh claim).
 *
 * An email or SMS to a contact on waitlist.suppression is not leased but
 * ends in state 'suppressed' (its last column says so, and claim_into
 * leaves it out): checking here, when the message is handed over, covers
 * every message whenever it was written, including those a transaction
 * wrote while the contact opted out.  While nobody is suppressed this
 * costs one probe per claim (an InitPlan), not one per message.
 */
#define CLAIM_COLUMNS 10		/* claim()'s result columns */

static WlQuery q_claim = {
	"UPDATE waitlist.outbox o SET (state, lease_owner) = (SELECT"
	"  CASE WHEN z.suppressed THEN 'suppressed' ELSE 'leased' END,"
	"  CASE WHEN z.suppressed THEN NULL ELSE $1 END"
	"  FROM (SELECT o.channel IN ('email', 'sms')"
	"        AND (SELECT EXISTS (SELECT 1 FROM waitlist.suppression))"
	"        AND EXISTS (SELECT 1 FROM waitlist.suppression x"
	"        WHERE x.contact = CASE o.channel WHEN 'email' THEN lower(o.recipient)"
	"         ELSE o.recipient END) AS suppressed) z),"
	" due_at = waitlist.now() + $3, attempts = o.attempts + 1"
	" WHERE o.ctid = ANY (ARRAY(SELECT ctid FROM waitlist.outbox"
	"       WHERE state IN ('pending', 'leased') AND due_at <= waitlist.now()"
	"        AND ($4::text[] IS NULL OR kind = ANY ($4))"
	"        AND ($5::text[] IS NULL OR channel = ANY ($5))"
	"       ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED))"
	" RETURNING o.id, o.kind, o.channel, o.recipient, o.sku, o.payload,"
	"  o.idempotency_key, o.attempts, o.created_at, o.due_at, o.state = 'suppressed'",
	5, {TEXTOID, INT4OID, INTERVALOID, TEXTARRAYOID, TEXTARRAYOID}, NULL,
	CURSOR_OPT_GENERIC_PLAN
};

/* Consumer name argument: required, at most WL_MAX_CONSUMER_LEN. */
static char *
arg_consumer(FunctionCallInfo fcinfo)
{
	return wl_arg_text(fcinfo, 0, "consumer", WL_MAX_CONSUMER_LEN, true);
}

/* Interval argument that must be positive (or NULL when allowed). */
static Interval *
arg_interval(FunctionCallInfo fcinfo, int argno, const char *name, bool positive)
{
	Interval   *iv;
	Interval	zero = {0};

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	iv = PG_GETARG_INTERVAL_P(argno);
	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(iv),
										 IntervalPGetDatum(&zero))) ||
		(positive && DatumGetBool(DirectFunctionCall2(interval_eq,
													  IntervalPGetDatum(iv),
													  IntervalPGetDatum(&zero)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be %s", name, positive ? "positive" : "zero or more")));
	return iv;
}

/*
 * Run the claim (with the snapshot claim() pinned) and put its RETURNING
 * rows into the SRF's tuplestore; the column types match the result type.
 *
 * The claim reads outbox_due in index order, so it stops at its LIMIT and
 * marks the dead entries it steps over (the earlier versions of claimed,
 * acked and retried messages) for later scans to skip.  When the
 * statistics promise few due messages the planner prefers a bitmap scan and
 * a sort, which reads every entry due by now, dead or alive, on every
 * claim until VACUUM: after a few thousand deliveries that was most of a
 * claim's time.  So bitmap scans are off while the claim is planned and run,
 * and sequential scans too (see wl_index_scans).
 */
static int64
claim_into(ReturnSetInfo *rsinfo, Datum *args, const char *nulls)
{
	int			nest = wl_index_scans(true);
	uint64		n;
	Datum		values[CLAIM_COLUMNS + 1];
	bool		isnull[CLAIM_COLUMNS + 1];

	n = wl_exec(&q_claim, args, nulls, SPI_OK_UPDATE_RETURNING, 0);
	wl_scans_restore(nest);
	for (uint64 i = 0; i < n; i++)
	{
		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, isnull);
		if (!DatumGetBool(values[CLAIM_COLUMNS]))
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (int64) n;
}

/* Optional text[] filter argument: NULL (no filter) or without NULLs. */
static Datum
arg_filter(FunctionCallInfo fcinfo, int argno, const char *name, char *null)
{
	ArrayType  *a;

	*null = 'n';
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return (Datum) 0;
	a = PG_GETARG_ARRAYTYPE_P(argno);
	if (array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain nulls", name)));
	*null = ' ';
	return PointerGetDatum(a);
}

/* The claim's arguments, for claim_mapped (a wl_shards_run callback). */
static ReturnSetInfo *claim_rsinfo;
static Datum *claim_args;
static const char *claim_nulls;

static int64
claim_mapped(int64 unused)
{
	return claim_into(claim_rsinfo, claim_args, claim_nulls);
}

/*
 * Lease and return up to max due messages (expanding pending batches
 * first), every statement with snap, the caller's snapshot.  On Citus the
 * lease reads this node's placement of the suppression list (a reference
 * table: Citus does not join it with the local outbox).  *expanded is set
 * to the messages the expansion wrote.
 */
static int64
claim_with(Snapshot snap, ReturnSetInfo *rsinfo, Datum *args, const char *nulls,
		   int64 *expanded)
{
	volatile int64 claimed = 0;
	WlShardGroup refs;

	wl_spi_pin_snapshot(snap);
	PG_TRY();
	{
		*expanded = wl_expand_batches(INT_MAX);
		claim_rsinfo = rsinfo;
		claim_args = args;
		claim_nulls = nulls;
		claimed = wl_shards_run(wl_reference_shards(&refs) ? &refs : NULL, claim_mapped, 0);
	}
	PG_FINALLY();
	{
		wl_spi_pin_snapshot(NULL);
	}
	PG_END_TRY();
	return claimed;
}

/*
 * SQL: waitlist.claim(consumer, max, lease, kinds, channels)
 *
 * What a claim returns is durable before it returns, without the claim's
 * own commit waiting for its WAL flush (a relay commits its claims
 * asynchronously).  A restock released early (waitlist.early_lock_release)
 * is visible, and its NOTIFY out, before its commit record is flushed; a
 * message built on it must not reach a receiver before that flush, or a
 * crash could take back a restock the customer was already told about.
 *
 * So the claim takes the caller's snapshot, then reads the WAL insert
 * position (seen_upto), runs every statement with that one snapshot, and
 * flushes WAL up to seen_upto before returning any rows.  Why that covers
 * everything the rows rest on: a transaction becomes visible to a snapshot
 * only once it has left the ProcArray, which it does after inserting its
 * commit record (RecordTransactionCommit, then ProcArrayEndTransaction).
 * Every commit this snapshot sees therefore ended its commit record before
 * the snapshot was taken, hence before seen_upto was read (XLogFlush waits
 * for insertions still being copied below it).  Rows the claim writes
 * itself (expanded messages, the lease) come from its own statements over
 * the same snapshot.  The claim's own WAL is after seen_upto and is not
 * waited for: when the restock already flushed, this costs nothing.
 *
 * READ COMMITTED would give each statement a newer snapshot, which could
 * see a commit inserted after seen_upto; hence the pinned one.  What a
 * locking step finds changed by a later commit is not returned: the lease
 * re-reads the rows it locked by tuple id with the pinned snapshot, so a
 * newer version is skipped (left due for the next claim).
 *
 * The messages the claim's own expansion queues would NOTIFY at commit.  A
 * claim without filters that came back short of max has leased every
 * message due now that nobody else holds, those it expanded included, so
 * that NOTIFY would only wake the other listeners (and their claims) for
 * nothing: it is dropped, unless the transaction had queued messages before
 * the claim.  A filtered claim leaves the kinds and channels it skipped to
 * other listeners, and a full one may have left due messages: both notify.
 */
Datum
waitlist_claim(PG_FUNCTION_ARGS)
{
	return claim_common(fcinfo, 0, NULL);
}

/*
 * One attempt of a claim: a snapshot, the WAL insert position after it,
 * the expansion and the lease with that snapshot (see waitlist_claim).
 * Returns the rows leased (and suppressed); *seen_upto is what must be
 * flushed before they are returned, *expanded what the expansion wrote.
 */
static int64
claim_attempt(ReturnSetInfo *rsinfo, Datum *args, const char *nulls,
			  XLogRecPtr *seen_upto, int64 *expanded)
{
	Snapshot	snap = RegisterSnapshot(GetTransactionSnapshot());
	int64		claimed;

	*seen_upto = GetXLogInsertRecPtr();	/* after the snapshot: see above */
	wl_spi_connect();
	claimed = claim_with(snap, rsinfo, args, nulls, expanded);
	SPI_finish();
	UnregisterSnapshot(snap);
	return claimed;
}

/*
 * The attempts of a waiting claim after its first sleep: each with the
 * clock moved on to the moment it runs, until one leases or expands
 * something or sleep_for_work gives up.
 */
static int64
claim_rounds(ReturnSetInfo *rsinfo, Datum *args, char *nulls,
			 TimestampTz deadline, XLogRecPtr *seen_upto, int due_now)
{
	for (;;)
	{
		int64		expanded,
					claimed;

		ResetLatch(MyLatch);
		wl_now_move_on();
		claimed = claim_attempt(rsinfo, args, nulls, seen_upto, &expanded);
		if (claimed > 0 || expanded > 0 || !sleep_for_work(deadline, args + 3, nulls + 3, &due_now))
			return claimed;
	}
}

/* claim_rounds, the clock moved back however it ends. */
static int64
claim_after_waking(ReturnSetInfo *rsinfo, Datum *args, char *nulls,
				   TimestampTz deadline, XLogRecPtr *seen_upto, int due_now)
{
	int64		claimed = 0;

	PG_TRY();
	{
		claimed = claim_rounds(rsinfo, args, nulls, deadline, seen_upto, due_now);
	}
	PG_CATCH();
	{
		wl_now_move_back();
		PG_RE_THROW();
	}
	PG_END_TRY();
	wl_now_move_back();
	return claimed;
}

/*
 * claim() and claim_wait(): the arguments from off on are max, lease,
 * kinds, channels (claim_wait has its wait before them).  With a wait, an
 * attempt that found nothing to claim and wrote nothing sleeps on the
 * backend's latch until a NOTIFY signal sets it (the session LISTENs on
 * waitlist), the next message falls due, or the wait is over, then tries
 * again with a fresh snapshot and the clock moved on (wl_now_move_on).
 * It never sleeps holding a row lock: an attempt that expanded messages
 * returns, and the claim UPDATE that found no row locked none.
 */
static Datum
claim_common(FunctionCallInfo fcinfo, int off, Interval *wait)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *consumer = arg_consumer(fcinfo);
	Interval   *lease = arg_interval(fcinfo, off + 2, "lease", true);
	int32		max;
	Datum		args[5];
	char		nulls[6] = "     ";
	bool		noted_before = wl_messages_noted();
	XLogRecPtr	seen_upto;
	int64		claimed,
				expanded;
	TimestampTz deadline = 0;
	int			due_now = 0;

	if (PG_ARGISNULL(off + 1) || (max = PG_GETARG_INT32(off + 1)) < 1 || max > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be between 1 and 10000")));
	args[3] = arg_filter(fcinfo, off + 3, "kinds", &nulls[3]);
	args[4] = arg_filter(fcinfo, off + 4, "channels", &nulls[4]);
	args[0] = CStringGetTextDatum(consumer);
	args[1] = Int32GetDatum(max);
	args[2] = IntervalPGetDatum(lease);
	if (wait != NULL)
		deadline = wait_deadline(wait);
	InitMaterializedSRF(fcinfo, 0);
	if (deadline != 0)
		ResetLatch(MyLatch);	/* a signal from here on ends the sleep */
	claimed = claim_attempt(rsinfo, args, nulls, &seen_upto, &expanded);
	if (claimed == 0 && expanded == 0 && deadline != 0 &&
		sleep_for_work(deadline, args + 3, nulls + 3, &due_now))
		claimed = claim_after_waking(rsinfo, args, nulls, deadline, &seen_upto, due_now);
	if (!noted_before && claimed < max && nulls[3] == 'n' && nulls[4] == 'n')
		wl_unnote_messages();
	if (claimed > 0)
		wl_flush_upto(seen_upto);
	return (Datum) 0;
}

#define WL_CLAIM_WAIT_MAX_SECS 60	/* claim_wait's longest wait */

static WlQuery q_listening = {
	"SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_listening_channels() c"
	" WHERE c OPERATOR(pg_catalog.=) 'waitlist')",
	0, {0}, NULL
};

/*
 * When a claim_wait of wait gives up.  A wait needs a new snapshot per
 * attempt (READ COMMITTED) and a session that LISTENs on waitlist, whose
 * NOTIFY signal is what wakes it; without them it would sleep through
 * every new message, so both are refused rather than waited out.
 */
static TimestampTz
wait_deadline(Interval *wait)
{
	TimestampTz now = GetCurrentTimestamp();
	Interval	zero = {0};
	bool		listening;

	if (!DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(wait),
										  IntervalPGetDatum(&zero))))
		return now;
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("claim_wait cannot wait in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errhint("Its transaction snapshot would never see a new message: claim in READ COMMITTED, or pass wait => '0'.")));
	wl_spi_connect();
	wl_exec(&q_listening, NULL, NULL, SPI_OK_SELECT, 1);
	listening = wl_get_bool(0, 1);
	SPI_finish();
	if (!listening)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("claim_wait needs this session to LISTEN on channel waitlist"),
				 errhint("Run LISTEN waitlist first: its NOTIFY is what ends the wait when a message is written.")));
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(now),
												   IntervalPGetDatum(wait)));
}

/*
 * Sleep until the latch is set (a NOTIFY signal, or an interrupt), the next
 * message of these filters falls due, or the deadline; false, without
 * sleeping, when the deadline has passed.  When work is due already it
 * does not sleep: true the first time (a commit since the attempt's
 * snapshot: try again at once), false the second time in a row (what is
 * due is locked by another claimer: the caller returns what it has and
 * comes back later, as after a short claim).  *due_now counts those.  The
 * latch was reset before the attempt that found nothing, so a signal since
 * then ends the sleep at once.
 */
static bool
sleep_for_work(TimestampTz deadline, Datum *filters, char *filter_nulls, int *due_now)
{
	TimestampTz now = GetCurrentTimestamp(),
				due;
	long		ms;
	bool		any;

	if (now >= deadline)
		return false;
	ms = TimestampDifferenceMilliseconds(now, deadline);
	wl_spi_connect();
	any = next_due_compute(filters, filter_nulls, &due);
	SPI_finish();
	if (any)
	{
		if (due <= DatumGetTimestampTz(wl_now()))
			return ++(*due_now) < 2;
		if (!wl_now_is_test())	/* a test's moment does not move */
			ms = Min(ms, TimestampDifferenceMilliseconds(now, due) + 1);
	}
	/*
	 * The client's socket too: a relay killed while its claim waits must not
	 * leave the backend waiting out the rest of the wait (holding its
	 * snapshot and locks), so a closed connection ends the session as
	 * PostgreSQL's own connection check does.
	 */
	if (MyProcPort != NULL && MyProcPort->sock != PGINVALID_SOCKET)
	{
		int			rc = WaitLatchOrSocket(MyLatch,
										   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH |
										   WL_SOCKET_CLOSED,
										   MyProcPort->sock, Max(ms, 1), PG_WAIT_EXTENSION);

		if (rc & WL_SOCKET_CLOSED)
		{
			ClientConnectionLost = 1;
			InterruptPending = 1;
		}
	}
	else
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(ms, 1), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	*due_now = 0;
	return true;
}

/*
 * SQL: waitlist.claim_wait(consumer, wait, max, lease, kinds, channels):
 * claim(), but when nothing is due it waits up to wait (at most a minute)
 * for a message, inside the call.  A relay parked in it is woken by the
 * NOTIFY signal in the database and leases the message at once, without
 * the round trip of the notification to the client and its claim back.
 */
Datum
waitlist_claim_wait(PG_FUNCTION_ARGS)
{
	Interval   *wait = arg_interval(fcinfo, 1, "wait", false);
	Interval	most = {.time = WL_CLAIM_WAIT_MAX_SECS * USECS_PER_SEC};

	if (DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(wait),
										 IntervalPGetDatum(&most))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wait must be at most %d seconds", WL_CLAIM_WAIT_MAX_SECS)));
	return claim_common(fcinfo, 1, wait);
}

/*
 * ack, extend_lease and release find their rows by primary key, whatever
 * the ids: their plans are generic (the plan cache otherwise planned most
 * acks afresh, a custom plan per array of ids).
 */
static WlQuery q_ack = {
	"UPDATE waitlist.outbox SET state = 'delivered', delivered_at = waitlist.now()"
	" WHERE id = ANY ($2) AND state = 'leased' AND lease_owner = $1",
	2, {TEXTOID, INT8ARRAYOID}, NULL, CURSOR_OPT_GENERIC_PLAN
};

static WlQuery q_extend = {
	"UPDATE waitlist.outbox SET due_at = waitlist.now() + $3"
	" WHERE id = ANY ($2) AND state = 'leased' AND lease_owner = $1",
	3, {TEXTOID, INT8ARRAYOID, INTERVALOID}, NULL, CURSOR_OPT_GENERIC_PLAN
};

static WlQuery q_release = {
	"UPDATE waitlist.outbox SET state = 'pending', due_at = waitlist.now(),"
	" attempts = greatest(attempts - 1, 0), lease_owner = NULL"
	" WHERE id = ANY ($2) AND state = 'leased' AND lease_owner = $1",
	2, {TEXTOID, INT8ARRAYOID}, NULL, CURSOR_OPT_GENERIC_PLAN
};

/* ids argument: a non-null array without NULL elements. */
static Datum
arg_ids(FunctionCallInfo fcinfo, int argno)
{
	ArrayType  *a;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("ids must not be null")));
	a = PG_GETARG_ARRAYTYPE_P(argno);
	if (array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("ids must not contain nulls")));
	return PointerGetDatum(a);
}

/* Run an UPDATE over (consumer, ids[, lease]) and return the row count. */
static int32
update_leased(WlQuery *q, Datum *args)
{
	uint64		n;

	wl_spi_connect();
	n = wl_exec(q, args, NULL, SPI_OK_UPDATE, 0);
	SPI_finish();
	return (int32) n;
}

/* SQL: waitlist.ack(consumer, ids) */
Datum
waitlist_ack(PG_FUNCTION_ARGS)
{
	Datum		args[2];

	args[0] = CStringGetTextDatum(arg_consumer(fcinfo));
	args[1] = arg_ids(fcinfo, 1);
	PG_RETURN_INT32(update_leased(&q_ack, args));
}

/* SQL: waitlist.extend_lease(consumer, ids, lease) */
Datum
waitlist_extend_lease(PG_FUNCTION_ARGS)
{
	Datum		args[3];

	args[0] = CStringGetTextDatum(arg_consumer(fcinfo));
	args[1] = arg_ids(fcinfo, 1);
	args[2] = IntervalPGetDatum(arg_interval(fcinfo, 2, "lease", true));
	PG_RETURN_INT32(update_leased(&q_extend, args));
}

/* SQL: waitlist.release(consumer, ids) */
Datum
waitlist_release(PG_FUNCTION_ARGS)
{
	Datum		args[2];

	args[0] = CStringGetTextDatum(arg_consumer(fcinfo));
	args[1] = arg_ids(fcinfo, 1);
	PG_RETURN_INT32(update_leased(&q_release, args));
}

static WlQuery q_leased = {
	"SELECT attempts FROM waitlist.outbox"
	" WHERE id = $2 AND state = 'leased' AND lease_owner = $1 FOR UPDATE",
	2, {TEXTOID, INT8OID}, NULL
};

static WlQuery q_fail = {
	"UPDATE waitlist.outbox SET state = $2, last_error = $3,"
	" due_at = waitlist.now() + make_interval(secs => $4 / 1000.0), lease_owner = NULL"
	" WHERE id = $1",
	4, {INT8OID, TEXTOID, TEXTOID, FLOAT8OID}, NULL
};

/* Lock a message leased to consumer; returns its attempts or raises WL008. */
static int32
lock_leased(const char *consumer, int64 id)
{
	Datum		args[2] = {CStringGetTextDatum(consumer), Int64GetDatum(id)};

	if (wl_exec(&q_leased, args, NULL, SPI_OK_SELECT, 0) == 0)
		ereport(ERROR,
				(errcode(WL_ERRCODE_NOT_LEASE_HOLDER),
				 errmsg("message " INT64_FORMAT " is not leased to consumer \"%s\"",
						id, consumer),
				 errdetail("Its lease expired and it was claimed again, or it was never claimed by this consumer.")));
	return DatumGetInt32(wl_get_datum(0, 1, NULL));
}

/* Backoff for the given attempt: base * 2^(attempt-1), capped, equal jitter. */
static double
backoff_ms(int32 attempts)
{
	double		d = (double) wl_retry_base_ms * pow(2.0, Max(attempts - 1, 0));

	d = Min(d, (double) wl_retry_max_ms);
	return d / 2 + pg_prng_double(&pg_global_prng_state) * d / 2;
}

/* Interval to milliseconds. */
static double
interval_ms(Interval *iv)
{
	return (double) iv->time / 1000.0 +
		((double) iv->day + (double) iv->month * DAYS_PER_MONTH) * (double) USECS_PER_DAY / 1000.0;
}

/* Truncate an error text to something a row can hold. */
static char *
clip_error(FunctionCallInfo fcinfo, int argno)
{
	char	   *e;

	if (PG_ARGISNULL(argno))
		return pstrdup("(no error given)");
	e = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strlen(e) > WL_MAX_ERROR_LEN)
		e[pg_mbcliplen(e, strlen(e), WL_MAX_ERROR_LEN)] = '\0';
	return e;
}

/* Write the failure outcome. */
static void
store_failure(int64 id, const char *state, const char *error, double delay_ms)
{
	Datum		args[4];

	args[0] = Int64GetDatum(id);
	args[1] = CStringGetTextDatum(state);
	args[2] = CStringGetTextDatum(error);
	args[3] = Float8GetDatum(delay_ms);
	wl_exec(&q_fail, args, NULL, SPI_OK_UPDATE, 0);
}

/* SQL: waitlist.nack(consumer, id, error, retry_after) */
Datum
waitlist_nack(PG_FUNCTION_ARGS)
{
	char	   *consumer = arg_consumer(fcinfo);
	int64		id = wl_arg_int64(fcinfo, 1, "id");
	char	   *error = clip_error(fcinfo, 2);
	double		delay = -1;
	const char *state = "pending";
	int32		attempts;

	if (!PG_ARGISNULL(3))
		delay = interval_ms(arg_interval(fcinfo, 3, "retry_after", false));
	wl_spi_connect();
	attempts = lock_leased(consumer, id);
	if (attempts >= wl_max_attempts)
		state = "dead";
	else if (delay < 0)
		delay = backoff_ms(attempts);
	store_failure(id, state, error, Max(delay, 0));
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(state));
}

/* SQL: waitlist.dead_letter(consumer, id, error) */
Datum
waitlist_dead_letter(PG_FUNCTION_ARGS)
{
	char	   *consumer = arg_consumer(fcinfo);
	int64		id = wl_arg_int64(fcinfo, 1, "id");
	char	   *error = clip_error(fcinfo, 2);

	wl_spi_connect();
	(void) lock_leased(consumer, id);
	store_failure(id, "dead", error, 0);
	SPI_finish();
	PG_RETURN_BOOL(true);
}

/*
 * Generic plan: a custom one folds the NULL filters, so the plan cache kept
 * planning it afresh, about half a millisecond on every call, which the
 * relay makes after each short claim (relay/bench/run.sh latency).
 */
static WlQuery q_next_due = {
	"SELECT CASE WHEN EXISTS (SELECT 1 FROM waitlist.batch WHERE expanded_at IS NULL)"
	"  OR EXISTS (SELECT 1 FROM waitlist.unconfirmed_signup)"
	"  OR EXISTS (SELECT 1 FROM waitlist.line WHERE action_at <= waitlist.now())"
	" THEN waitlist.now() ELSE least((SELECT due_at FROM waitlist.outbox"
	"  WHERE state IN ('pending', 'leased')"
	"   AND ($1::text[] IS NULL OR kind = ANY ($1))"
	"   AND ($2::text[] IS NULL OR channel = ANY ($2))"
	"  ORDER BY due_at LIMIT 1),"
	"  (SELECT min(action_at) FROM waitlist.line WHERE action_at IS NOT NULL)) END",
	2, {TEXTARRAYOID, TEXTARRAYOID}, NULL, CURSOR_OPT_GENERIC_PLAN
};

/* The outbox part of q_next_due alone: a node that holds no shards. */
static WlQuery q_next_due_outbox = {
	"SELECT due_at FROM waitlist.outbox"
	" WHERE state IN ('pending', 'leased')"
	"  AND ($1::text[] IS NULL OR kind = ANY ($1))"
	"  AND ($2::text[] IS NULL OR channel = ANY ($2))"
	" ORDER BY due_at LIMIT 1",
	2, {TEXTARRAYOID, TEXTARRAYOID}, NULL
};

static Datum *next_due_args;
static char *next_due_nulls;
static TimestampTz next_due_at;
static bool next_due_none;

/* q_next_due on the tables (or shard group) it names; keeps the earliest. */
static int64
next_due_here(int64 outbox_only)
{
	bool		isnull = true;
	Datum		d;

	if (wl_exec(outbox_only ? &q_next_due_outbox : &q_next_due, next_due_args,
				next_due_nulls, SPI_OK_SELECT, 0) > 0)
		d = wl_get_datum(0, 1, &isnull);
	if (!isnull && (next_due_none || DatumGetTimestampTz(d) < next_due_at))
	{
		next_due_at = DatumGetTimestampTz(d);
		next_due_none = false;
	}
	return 0;
}

/*
 * The earliest due time of this node's work for the filters (args, nulls:
 * kinds, channels) into *at; false when nothing is pending.  SPI connected.
 */
static bool
next_due_compute(Datum *args, char *nulls, TimestampTz *at)
{
	WlLocalShards here;

	next_due_args = args;
	next_due_nulls = nulls;
	next_due_none = true;
	if (!wl_local_shards(&here))
		next_due_here(0);
	else if (here.ngroups == 0)
		next_due_here(1);
	else
		wl_shards_each(&here, next_due_here, 0);
	*at = next_due_at;
	return !next_due_none;
}

/*
 * SQL: waitlist.next_due(kinds, channels).  On Citus, this node's work:
 * its outbox and its local shards (store/shards.c), the earliest of them.
 */
Datum
waitlist_next_due(PG_FUNCTION_ARGS)
{
	Datum		args[2];
	char		nulls[3] = "  ";
	TimestampTz at;
	bool		any;

	args[0] = arg_filter(fcinfo, 0, "kinds", &nulls[0]);
	args[1] = arg_filter(fcinfo, 1, "channels", &nulls[1]);
	wl_spi_connect();
	any = next_due_compute(args, nulls, &at);
	SPI_finish();
	if (!any)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(at);
}
