/*
 * db.c: connects with libpq, LISTENs on the waitlist channel, and wraps the
 * extension's outbox functions (claim, ack, nack, dead_letter, extend_lease,
 * release, next_due, tick).  Values always travel as parameters.  A failed
 * statement on a dead connection drops the connection; the caller
 * reconnects.  Every statement runs in autocommit mode.
 */
#include "db.h"
#include "log.h"
#include "util.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parameter types (pg_type OIDs), so unused or NULL parameters are fine. */
#define TEXTOID 25
#define INT4OID 23
#define INT8OID 20
#define TEXTARRAYOID 1009

/* What a claim returns: routing fields, then the JSON body sinks deliver. */
#define CLAIM_COLUMNS \
	"c.id, c.kind, c.channel, c.idempotency_key, c.attempts, " \
	"pg_catalog.json_build_object('id', c.id, 'kind', c.kind, 'channel', c.channel, " \
	"'recipient', c.recipient, 'sku', c.sku, 'payload', c.payload, " \
	"'idempotency_key', c.idempotency_key, 'attempts', c.attempts, " \
	"'created_at', c.created_at)::text"

/*
 * $1 consumer, $2 max, $3 lease, $4 kinds or NULL, $5 channels or NULL.
 *
 * By default the claim's transaction commits without waiting for its own
 * WAL flush: waitlist.claim() itself flushes WAL up to every commit its
 * rows rest on before it returns them (a restock that released its locks
 * early included), so a message never goes out ahead of the restock that
 * made it.  What a crash can forget is the lease: the messages claimed
 * just before it are claimed and delivered again after it (at least once
 * holds; the receiver sees the same webhook-id twice).  --sync-claims
 * makes claims wait for their flush as before.  The set_config is a
 * one-time filter, run before the claim; its is_local value ends with the
 * transaction.
 */
#define CLAIM_SQL(args, local) \
	"WITH c AS (SELECT * FROM waitlist.claim(" args ")) " \
	"SELECT " CLAIM_COLUMNS " FROM c" local " ORDER BY c.id"
#define CLAIM_PLAIN_ARGS "$1, $2, $3::interval"
#define CLAIM_FILTERED_ARGS "$1, $2, $3::interval, $4, $5"
#define NO_FLUSH_WAIT \
	" WHERE (SELECT pg_catalog.set_config('synchronous_commit', 'off', true)) = 'off'"

static const char *const claim_sql[2][2] = {	/* [filtered][sync] */
	{CLAIM_SQL(CLAIM_PLAIN_ARGS, NO_FLUSH_WAIT), CLAIM_SQL(CLAIM_PLAIN_ARGS, "")},
	{CLAIM_SQL(CLAIM_FILTERED_ARGS, NO_FLUSH_WAIT), CLAIM_SQL(CLAIM_FILTERED_ARGS, "")},
};

/*
 * The same claims through waitlist.claim_wait, which waits in the database
 * up to $6 for a message when nothing is due (the relay parks one there
 * while it has nothing in flight: a NOTIFY's signal wakes it in the server,
 * and the message comes back without a round trip from the relay).
 */
#define CLAIM_WAIT_SQL(args, local) \
	"WITH c AS (SELECT * FROM waitlist.claim_wait(" args ")) " \
	"SELECT " CLAIM_COLUMNS " FROM c" local " ORDER BY c.id"
#define WAIT_PLAIN_ARGS "$1, $6::interval, $2, $3::interval"
#define WAIT_FILTERED_ARGS "$1, $6::interval, $2, $3::interval, $4, $5"

static const char *const claim_wait_sql[2][2] = {	/* [filtered][sync] */
	{CLAIM_WAIT_SQL(WAIT_PLAIN_ARGS, NO_FLUSH_WAIT), CLAIM_WAIT_SQL(WAIT_PLAIN_ARGS, "")},
	{CLAIM_WAIT_SQL(WAIT_FILTERED_ARGS, NO_FLUSH_WAIT), CLAIM_WAIT_SQL(WAIT_FILTERED_ARGS, "")},
};

/* Whether this role may call claim_wait (an extension older than 0.2.0 has none). */
static const char *const can_wait_sql =
"SELECT coalesce(pg_catalog.has_function_privilege(pg_catalog.to_regprocedure("
"'waitlist.claim_wait(text,interval,integer,interval,text[],text[])'), 'EXECUTE'), false)";

/* Seconds from now to the next claimable message (NULL = none pending). */
static const char *const next_due_plain_sql =
"SELECT EXTRACT(epoch FROM waitlist.next_due() - pg_catalog.clock_timestamp())";

/* The same, limited to the relay's filters. */
static const char *const next_due_filtered_sql =
"SELECT EXTRACT(epoch FROM waitlist.next_due($1::text[], $2::text[]) - pg_catalog.clock_timestamp())";

#define MAX_PREPARED 16

struct db
{
	PGconn	   *conn;
	char		sqlstate[6];	/* of the last failed statement, "" if none */
	const char *prepared[MAX_PREPARED];	/* statement "wlN" is prepared[N]'s text */
	int			nprepared;
	db_async	sent;			/* the asynchronous statement in flight, if any */
	int			sent_count;		/* ids it acks */
	bool		have_result;	/* result holds a finished one not yet taken */
	bool		can_wait;		/* claim_wait is there and ours to call */
	bool		cancelling;		/* a cancel was sent for the statement in flight */
	db_result	result;
};

/* A fresh, unconnected handle. */
db *
db_new(void)
{
	return xcalloc(1, sizeof(db));
}

/* Close and free. */
void
db_free(db *d)
{
	db_disconnect(d);
	free(d);
}

/* Whether a usable connection is open. */
bool
db_connected(const db *d)
{
	return d->conn != NULL && PQstatus(d->conn) == CONNECTION_OK;
}

/* Close the connection, if any; a statement in flight ends as failed. */
void
db_disconnect(db *d)
{
	if (d->conn != NULL)
		PQfinish(d->conn);
	d->conn = NULL;
	d->nprepared = 0;			/* prepared statements die with the session */
	d->cancelling = false;
	if (d->sent != DB_ASYNC_NONE)
	{
		memset(&d->result, 0, sizeof(d->result));
		d->result.kind = d->sent;
		d->result.n = d->sent_count;
		d->have_result = true;
		d->sent = DB_ASYNC_NONE;
	}
}

/* Whether the last statement failed with this SQLSTATE. */
bool
db_failed_with(const db *d, const char *sqlstate)
{
	return strcmp(d->sqlstate, sqlstate) == 0;
}

/* The socket to wait on, or -1. */
int
db_socket(const db *d)
{
	return db_connected(d) ? PQsocket(d->conn) : -1;
}

/* The server's error text on one line, without the trailing newline. */
static char *
error_text(const char *raw)
{
	char	   *s = log_quote(raw ? raw : "unknown error");
	size_t		n = strlen(s);

	while (n > 2 && (s[n - 2] == ' ' || s[n - 2] == '\n'))
	{
		s[n - 2] = '"';
		s[--n] = '\0';
	}
	return s;
}

/* Log a failed statement; drop the connection if it is gone. */
static void
statement_failed(db *d, const char *what, PGresult *res)
{
	char	   *err = error_text(res ? PQresultErrorMessage(res) : PQerrorMessage(d->conn));
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	snprintf(d->sqlstate, sizeof(d->sqlstate), "%s", state ? state : "");
	if (d->cancelling && strcmp(d->sqlstate, "57014") == 0)
		log_debug("msg=\"waiting claim cancelled\" statement=%s", what);
	else
		log_error("msg=\"statement failed\" statement=%s sqlstate=%s error=%s",
			  what, d->sqlstate[0] ? d->sqlstate : "none", err);
	free(err);
	if (PQstatus(d->conn) != CONNECTION_OK)
	{
		log_warn("msg=\"database connection lost\"");
		db_disconnect(d);
	}
}

/*
 * The name of sql (one of the constant statements of this file, known by
 * its address) prepared on this connection, preparing it the first time;
 * NULL (logged) if that failed, "" to run it unprepared.  Planning the claim's CTE on every call
 * cost more than running it.
 */
static const char *
prepared_name(db *d, const char *what, const char *sql, int nparams, const unsigned int *types,
			  char *name, size_t len)
{
	int			i = 0;
	PGresult   *res;

	while (i < d->nprepared && d->prepared[i] != sql)
		i++;
	if (i == MAX_PREPARED)
		return "";				/* never (this file has fewer): run it unnamed */
	snprintf(name, len, "wl%d", i);
	if (i < d->nprepared)
		return name;
	res = PQprepare(d->conn, name, sql, nparams, types);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		statement_failed(d, what, res);
		PQclear(res);
		return NULL;
	}
	PQclear(res);
	d->prepared[d->nprepared++] = sql;
	return name;
}

static bool finish_sent(db *d, bool wait);

/* Run a statement with text parameters; NULL (logged) unless it returned rows. */
static PGresult *
run(db *d, const char *what, const char *sql, int nparams, const unsigned int *types,
	const char *const *values)
{
	PGresult   *res;
	char		name[16];
	const char *stmt;

	if (d->sent != DB_ASYNC_NONE)
		finish_sent(d, true);	/* one statement at a time: its result waits to be taken */
	d->sqlstate[0] = '\0';
	if (!db_connected(d))
		return NULL;
	stmt = prepared_name(d, what, sql, nparams, types, name, sizeof(name));
	if (stmt == NULL)
		return NULL;
	res = *stmt ? PQexecPrepared(d->conn, stmt, nparams, values, NULL, NULL, 0)
		: PQexecParams(d->conn, sql, nparams, types, values, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK)
		return res;
	statement_failed(d, what, res);
	PQclear(res);
	return NULL;
}

/* Run a parameterless statement and discard its result. */
static bool
run_simple(db *d, const char *what, const char *sql)
{
	PGresult   *res = run(d, what, sql, 0, NULL, NULL);

	PQclear(res);
	return res != NULL;
}

/* Connect (PG* env, then conninfo), set UTC, LISTEN; false when it failed. */
bool
db_connect(db *d, const relay_config *cfg)
{
	const char *keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval",
	"keepalives_count", "dbname", "fallback_application_name", NULL};
	const char *vals[] = {getenv("PGCONNECT_TIMEOUT") ? NULL : "10", "30", "10", "3",
	cfg->conninfo, "waitlist-relay", NULL};
	PGresult   *res;

	db_disconnect(d);
	d->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(d->conn) != CONNECTION_OK)
	{
		char	   *err = error_text(PQerrorMessage(d->conn));

		log_error("msg=\"cannot connect to the database\" error=%s", err);
		free(err);
		db_disconnect(d);
		return false;
	}
	/*
	 * With --async-commit the relay's other transactions (nacks, releases,
	 * lease renewals, ticks) do not wait for their WAL flush either, as
	 * claims (without --sync-claims) and acks never do: a server crash can
	 * forget the last of them (a retry's delay, a release), which hands
	 * those messages out again or later than asked (at least once holds).
	 */
	if (!run_simple(d, "set timezone", "SET TimeZone = 'UTC'") ||
		(cfg->async_commit && !run_simple(d, "set synchronous_commit", "SET synchronous_commit = off")) ||
		!run_simple(d, "listen", "LISTEN waitlist"))
	{
		db_disconnect(d);
		return false;
	}
	res = run(d, "check claim_wait", can_wait_sql, 0, NULL, NULL);
	if (res == NULL)
	{
		db_disconnect(d);
		return false;
	}
	d->can_wait = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (cfg->claim_wait > 0 && !d->can_wait)
		log_warn("msg=\"waitlist.claim_wait is missing or not granted; claims do not wait in the database\"");
	return true;
}

/* Read what the server sent; true if another session's NOTIFY arrived since the last call. */
bool
db_take_notifications(db *d)
{
	PGnotify   *n;
	bool		any = false;

	if (!db_connected(d))
		return false;
	if (!PQconsumeInput(d->conn) || PQstatus(d->conn) != CONNECTION_OK)
	{
		char	   *err = error_text(PQerrorMessage(d->conn));

		log_warn("msg=\"database connection lost\" error=%s", err);
		free(err);
		db_disconnect(d);
		return false;
	}
	while ((n = PQnotifies(d->conn)) != NULL)
	{
		/*
		 * Our own claim or tick expanded messages: the claim already took
		 * what it could, and one that came back short is followed by
		 * next_due, which sees anything left.
		 */
		if (n->be_pid != PQbackendPID(d->conn))
			any = true;
		PQfreemem(n);
	}
	return any;
}

/* A text[] literal for the list, or NULL for an empty list (no filter). */
static char *
text_array(const strlist *l)
{
	size_t		cap = 3;
	char	   *buf,
			   *p;

	if (l->n == 0)
		return NULL;
	for (int i = 0; i < l->n; i++)
		cap += strlen(l->items[i]) * 2 + 3;
	p = buf = xmalloc(cap);
	*p++ = '{';
	for (int i = 0; i < l->n; i++)
	{
		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		for (const char *s = l->items[i]; *s; s++)
		{
			if (*s == '"' || *s == '\\')
				*p++ = '\\';
			*p++ = *s;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return buf;
}

/* A bigint[] literal for ids. */
static char *
bigint_array(const long long *ids, int n)
{
	char	   *buf = xmalloc((size_t) n * 21 + 3);
	size_t		len = 0;

	buf[len++] = '{';
	for (int i = 0; i < n; i++)
		len += sprintf(buf + len, "%s%lld", i ? "," : "", ids[i]);
	buf[len++] = '}';
	buf[len] = '\0';
	return buf;
}

/* A PostgreSQL interval literal for a number of seconds. */
static void
interval_text(char *buf, size_t len, double seconds)
{
	snprintf(buf, len, "%.3f seconds", seconds);
}

/* One result row as a relay_msg. */
static void
row_to_msg(PGresult *res, int row, relay_msg *m)
{
	m->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	m->kind = xstrdup(PQgetvalue(res, row, 1));
	m->channel = xstrdup(PQgetvalue(res, row, 2));
	m->idempotency_key = xstrdup(PQgetvalue(res, row, 3));
	m->attempts = atoi(PQgetvalue(res, row, 4));
	m->body = xstrdup(PQgetvalue(res, row, 5));
}

/* The claim's parameters (kinds and channels are freed by the caller). */
static const char *
claim_params(const relay_config *cfg, int max, char *maxs, char *lease, const char **values)
{
	bool		filtered = cfg->kinds.n > 0 || cfg->channels.n > 0;

	snprintf(maxs, 16, "%d", max);
	interval_text(lease, 48, cfg->lease);
	values[0] = cfg->consumer;
	values[1] = maxs;
	values[2] = lease;
	values[3] = text_array(&cfg->kinds);
	values[4] = text_array(&cfg->channels);
	return claim_sql[filtered][cfg->sync_claims];
}

/* The claimed rows of res as relay_msgs. */
static int
read_claim(PGresult *res, relay_msg **out)
{
	int			n = PQntuples(res);

	*out = xcalloc(n, sizeof(relay_msg));
	for (int i = 0; i < n; i++)
		row_to_msg(res, i, &(*out)[i]);
	return n;
}

/* Lease up to max due messages; *out gets an array of them.  -1 on failure. */
int
db_claim(db *d, const relay_config *cfg, int max, relay_msg **out)
{
	const unsigned int types[] = {TEXTOID, INT4OID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
	char		maxs[16],
				lease[48];
	const char *values[5];
	const char *sql = claim_params(cfg, max, maxs, lease, values);
	PGresult   *res = run(d, "claim", sql, 5, types, values);
	int			n = res != NULL ? read_claim(res, out) : -1;

	PQclear(res);
	free((char *) values[3]);
	free((char *) values[4]);
	return n;
}

/* Free the strings a relay_msg owns. */
void
relay_msg_free(relay_msg *m)
{
	free(m->kind);
	free(m->channel);
	free(m->idempotency_key);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

/* Seconds until the next message is claimable (negative = overdue); *none when nothing waits. */
bool
db_next_due(db *d, const relay_config *cfg, double *seconds, bool *none)
{
	bool		filtered = cfg->kinds.n > 0 || cfg->channels.n > 0;
	const unsigned int types[] = {TEXTARRAYOID, TEXTARRAYOID};
	char	   *kinds = text_array(&cfg->kinds),
			   *channels = text_array(&cfg->channels);
	const char *values[] = {kinds, channels};
	PGresult   *res;

	res = filtered ? run(d, "next_due", next_due_filtered_sql, 2, types, values)
		: run(d, "next_due", next_due_plain_sql, 0, NULL, NULL);
	free(kinds);
	free(channels);
	if (res == NULL)
		return false;
	*none = PQgetisnull(res, 0, 0);
	*seconds = *none ? 0 : strtod(PQgetvalue(res, 0, 0), NULL);
	PQclear(res);
	return true;
}

/* Let the extension do its time-based work. */
bool
db_tick(db *d)
{
	return run_simple(d, "tick", "SELECT waitlist.tick()");
}

/* Run a one-row, one-column statement over (consumer, ids[], extra) and read an int. */
static bool
run_ids(db *d, const char *what, const char *sql, const char *consumer,
		const long long *ids, int n, const char *extra, int *result)
{
	const unsigned int types[] = {TEXTOID, TEXTOID, TEXTOID};
	char	   *arr = bigint_array(ids, n);
	const char *values[] = {consumer, arr, extra};
	PGresult   *res = run(d, what, sql, extra ? 3 : 2, types, values);

	free(arr);
	if (res == NULL)
		return false;
	*result = PQgetisnull(res, 0, 0) ? 0 : atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

/*
 * Mark ids delivered; *counted = how many were still ours.  The ack's own
 * transaction commits without waiting for its WAL flush (set_config's
 * is_local ends with that transaction): a server crash can forget it, which
 * only hands the messages out again once their lease has run out, never
 * while this relay may still be delivering them.  So acks do not take a
 * flush from the claims and restocks committing beside them.
 */
static const char *const ack_sql =
"SELECT waitlist.ack($1, $2::bigint[]) FROM pg_catalog.set_config('synchronous_commit', 'off', true)";

bool
db_ack(db *d, const char *consumer, const long long *ids, int n, int *counted)
{
	return run_ids(d, "ack", ack_sql, consumer, ids, n, NULL, counted);
}

/* Renew the lease on ids; *held = how many are still ours. */
bool
db_extend_lease(db *d, const char *consumer, const long long *ids, int n,
				double lease, int *held)
{
	char		iv[48];

	interval_text(iv, sizeof(iv), lease);
	return run_ids(d, "extend_lease", "SELECT waitlist.extend_lease($1, $2::bigint[], $3::interval)",
				   consumer, ids, n, iv, held);
}

/* Hand ids back undelivered; *released = how many were ours. */
bool
db_release(db *d, const char *consumer, const long long *ids, int n, int *released)
{
	return run_ids(d, "release", "SELECT waitlist.release($1, $2::bigint[])",
				   consumer, ids, n, NULL, released);
}

/* A failed delivery: retry after retry_after seconds (<0: the extension's backoff). */
bool
db_nack(db *d, const char *consumer, long long id, const char *error,
		double retry_after, char *state, int state_len)
{
	const unsigned int types[] = {TEXTOID, INT8OID, TEXTOID, TEXTOID};
	char		ids[24],
				iv[48];
	const char *values[] = {consumer, ids, error, retry_after < 0 ? NULL : iv};
	PGresult   *res;

	snprintf(ids, sizeof(ids), "%lld", id);
	interval_text(iv, sizeof(iv), retry_after);
	res = run(d, "nack", "SELECT waitlist.nack($1, $2, $3, $4::interval)", 4, types, values);
	if (res == NULL)
		return false;
	snprintf(state, state_len, "%s", PQgetisnull(res, 0, 0) ? "unknown" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

/* Give up on a message at once. */
bool
db_dead_letter(db *d, const char *consumer, long long id, const char *error)
{
	const unsigned int types[] = {TEXTOID, INT8OID, TEXTOID};
	char		ids[24];
	const char *values[] = {consumer, ids, error};
	PGresult   *res;

	snprintf(ids, sizeof(ids), "%lld", id);
	res = run(d, "dead_letter", "SELECT waitlist.dead_letter($1, $2, $3)", 3, types, values);
	PQclear(res);
	return res != NULL;
}

/*
 * Asynchronous claims and acks.  The relay's loop sends one of them and
 * goes on delivering while the server works (a claim may wait for a WAL
 * flush); the result is read when the socket says it is there.  Any other
 * statement first waits for the one in flight (run), whose result then
 * waits in d->result for db_take_result.
 */

/* Whether an asynchronous statement is in flight, or its result not yet taken. */
bool
db_busy(const db *d)
{
	return d->sent != DB_ASYNC_NONE || d->have_result;
}

/* Send a prepared statement without waiting for it; false (logged) if it could not go. */
static bool
send_prepared(db *d, db_async kind, const char *what, const char *sql, int nparams,
			  const unsigned int *types, const char *const *values)
{
	char		name[16];
	const char *stmt;

	d->sqlstate[0] = '\0';
	if (!db_connected(d) || d->sent != DB_ASYNC_NONE || d->have_result)
		return false;
	stmt = prepared_name(d, what, sql, nparams, types, name, sizeof(name));
	if (stmt == NULL || *stmt == '\0')
		return false;
	if (!PQsendQueryPrepared(d->conn, stmt, nparams, values, NULL, NULL, 0))
	{
		statement_failed(d, what, NULL);
		return false;
	}
	d->sent = kind;
	return true;
}

/*
 * Send a claim of up to max messages; its result comes from db_take_result.
 * With wait_seconds > 0 (and claim_wait there) it waits in the database up
 * to that long for a message when none is due; db_cancel ends the wait.
 */
bool
db_send_claim(db *d, const relay_config *cfg, int max, double wait_seconds)
{
	const unsigned int types[] = {TEXTOID, INT4OID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTOID};
	char		maxs[16],
				lease[48],
				wait[48];
	const char *values[6];
	const char *sql = claim_params(cfg, max, maxs, lease, values);
	bool		waits = wait_seconds > 0 && d->can_wait,
				ok;

	if (waits)
	{
		interval_text(wait, sizeof(wait), wait_seconds);
		values[5] = wait;
		sql = claim_wait_sql[cfg->kinds.n > 0 || cfg->channels.n > 0][cfg->sync_claims];
	}
	ok = send_prepared(d, DB_ASYNC_CLAIM, waits ? "claim_wait" : "claim", sql, waits ? 6 : 5,
					   types, values);
	free((char *) values[3]);
	free((char *) values[4]);
	return ok;
}

/* Whether claims may wait in the database on this connection. */
bool
db_can_wait(const db *d)
{
	return db_connected(d) && d->can_wait;
}

/*
 * Ask the server to end the statement in flight (a waiting claim): it
 * fails with 57014 and leases nothing.  Its result still comes from
 * db_take_result.
 */
void
db_cancel(db *d)
{
	PGcancel   *c;
	char		err[256];

	if (!db_connected(d) || d->sent == DB_ASYNC_NONE || d->cancelling)
		return;
	c = PQgetCancel(d->conn);
	if (c != NULL && PQcancel(c, err, sizeof(err)))
		d->cancelling = true;
	PQfreeCancel(c);
}

/* Send an ack of ids; its result comes from db_take_result. */
bool
db_send_ack(db *d, const char *consumer, const long long *ids, int n)
{
	const unsigned int types[] = {TEXTOID, TEXTOID};
	char	   *arr = bigint_array(ids, n);
	const char *values[] = {consumer, arr};
	bool		ok = send_prepared(d, DB_ASYNC_ACK, "ack", ack_sql, 2, types, values);

	free(arr);
	if (ok)
		d->sent_count = n;
	return ok;
}

/* Turn the statement's result into d->result. */
static void
keep_result(db *d, PGresult *res)
{
	bool		ok = PQresultStatus(res) == PGRES_TUPLES_OK;

	memset(&d->result, 0, sizeof(d->result));
	d->result.kind = d->sent;
	d->result.n = d->sent_count;
	d->result.ok = ok;
	if (!ok)
		statement_failed(d, d->sent == DB_ASYNC_CLAIM ? "claim" : "ack", res);
	else if (d->sent == DB_ASYNC_CLAIM)
		d->result.n = read_claim(res, &d->result.msgs);
	else
		d->result.counted = PQgetisnull(res, 0, 0) ? 0 : atoi(PQgetvalue(res, 0, 0));
	d->have_result = true;
}

/*
 * Read the result of the statement in flight if it has arrived (or, with
 * wait, once it has) into d->result; false while it has not.
 */
static bool
finish_sent(db *d, bool wait)
{
	PGresult   *res,
			   *next;
	db_async	kind = d->sent;

	if (!wait && (!PQconsumeInput(d->conn) || PQisBusy(d->conn)))
	{
		if (PQstatus(d->conn) != CONNECTION_OK)
		{
			log_warn("msg=\"database connection lost\"");
			db_disconnect(d);	/* the statement fails */
			return true;
		}
		return false;
	}
	/*
	 * Read up to the end of the statement.  The rows come before the
	 * commit (at Sync, extended protocol): an error after them means the
	 * transaction rolled back, and a claim then leased nothing.  That error
	 * is the statement's result.
	 */
	res = PQgetResult(d->conn);
	while ((next = PQgetResult(d->conn)) != NULL)
	{
		if (PQresultStatus(next) == PGRES_FATAL_ERROR && PQresultStatus(res) != PGRES_FATAL_ERROR)
		{
			PQclear(res);
			res = next;
		}
		else
			PQclear(next);
	}
	if (res == NULL)
		res = PQmakeEmptyPGresult(d->conn, PGRES_FATAL_ERROR);
	keep_result(d, res);
	PQclear(res);
	if (d->conn != NULL && d->sent == kind)
		d->sent = DB_ASYNC_NONE;
	d->cancelling = false;
	if (PQstatus(d->conn) != CONNECTION_OK)
		db_disconnect(d);
	return true;
}

/*
 * The result of the last asynchronous statement, once it is there (with
 * wait, waiting for it); true when *out was filled.  A failed statement or
 * a lost connection gives ok = false.
 */
bool
db_take_result(db *d, bool wait, db_result *out)
{
	if (!d->have_result && d->sent != DB_ASYNC_NONE && d->conn != NULL)
		finish_sent(d, wait);
	if (!d->have_result)
		return false;
	*out = d->result;
	memset(&d->result, 0, sizeof(d->result));
	d->have_result = false;
	return true;
}
