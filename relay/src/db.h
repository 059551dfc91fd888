/*
 * db.h: the relay's one database connection and every statement it runs.
 * All statements are autocommit: the relay never opens a transaction, so it
 * never sleeps inside one (which would stall NOTIFY for the whole cluster).
 */
#ifndef RELAY_DB_H
#define RELAY_DB_H

#include "config.h"

#include <stdbool.h>

/* One claimed message, ready for a sink. */
typedef struct relay_msg
{
	long long	id;
	char	   *kind;
	char	   *channel;
	char	   *idempotency_key;
	int			attempts;
	char	   *body;			/* the JSON document a sink delivers */
} relay_msg;

typedef struct db db;

/* The asynchronous statements: the claim and the ack, one at a time. */
typedef enum db_async
{
	DB_ASYNC_NONE = 0,
	DB_ASYNC_CLAIM,
	DB_ASYNC_ACK
} db_async;

/* What one of them returned. */
typedef struct db_result
{
	db_async	kind;
	bool		ok;				/* false: failed, or the connection was lost */
	int			n;				/* claim: messages claimed; ack: ids sent */
	relay_msg  *msgs;			/* claim: the messages (the taker owns them) */
	int			counted;		/* ack: how many were still ours */
} db_result;

/* The extension's SQLSTATE for "this message is not leased to you". */
#define SQLSTATE_NOT_LEASE_HOLDER "WL008"

db		   *db_new(void);
void		db_free(db *d);
bool		db_connected(const db *d);
bool		db_connect(db *d, const relay_config *cfg);
void		db_disconnect(db *d);
int			db_socket(const db *d);
bool		db_failed_with(const db *d, const char *sqlstate);
bool		db_take_notifications(db *d);

int			db_claim(db *d, const relay_config *cfg, int max, relay_msg **out);
void		relay_msg_free(relay_msg *m);
bool		db_next_due(db *d, const relay_config *cfg, double *seconds, bool *none);
bool		db_tick(db *d);
bool		db_ack(db *d, const char *consumer, const long long *ids, int n, int *counted);
bool		db_nack(db *d, const char *consumer, long long id, const char *error,
					double retry_after, char *state, int state_len);
bool		db_dead_letter(db *d, const char *consumer, long long id, const char *error);
bool		db_extend_lease(db *d, const char *consumer, const long long *ids, int n,
							double lease, int *held);
bool		db_release(db *d, const char *consumer, const long long *ids, int n, int *released);

bool		db_busy(const db *d);
bool		db_send_claim(db *d, const relay_config *cfg, int max, double wait_seconds);
bool		db_can_wait(const db *d);
void		db_cancel(db *d);
bool		db_send_ack(db *d, const char *consumer, const long long *ids, int n);
bool		db_take_result(db *d, bool wait, db_result *out);

#endif
