/*
 * outbox_writer.h
 *	  The one writer of waitlist.outbox rows: single messages from C, and
 *	  the one fan-out of a customer message to each of their contacts
 *	  (email, sms) for the bulk statements.
 */
#ifndef WAITLIST_OUTBOX_WRITER_H
#define WAITLIST_OUTBOX_WRITER_H

#include "postgres.h"

/*
 * The fan-out, as SQL text for the statements that write messages in bulk.
 * A source query names its columns kind, sku, email, phone, payload (json)
 * and key (the idempotency key without the channel): each row becomes one
 * message per contact it has, keyed key:channel.  WL_CONTACT_ROWS is the
 * SELECT alone (to UNION with other messages); WL_CONTACT_MESSAGES the
 * whole INSERT.  A message whose key exists is not written again.
 */
#define WL_OUTBOX_INSERT \
	"INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key) "
#define WL_CONTACT_ROWS(source) \
	"SELECT m.kind, c.channel, c.recipient, m.sku, m.payload, m.key || ':' || c.channel" \
	" FROM (" source ") m" \
	" CROSS JOIN LATERAL (VALUES ('email', m.email), ('sms', m.phone)) AS c (channel, recipient)" \
	" WHERE c.recipient IS NOT NULL"
#define WL_OUTBOX_ONCE " ON CONFLICT (idempotency_key) DO NOTHING"
#define WL_CONTACT_MESSAGES(source) WL_OUTBOX_INSERT WL_CONTACT_ROWS(source) WL_OUTBOX_ONCE

/*
 * SMS first, email later: the source also names email_delay (an interval);
 * the email of a row that has a phone too is due that long after the SMS.
 */
#define WL_OUTBOX_INSERT_DUE \
	"INSERT INTO waitlist.outbox (kind, channel, recipient, sku, payload, idempotency_key, due_at) "
#define WL_CONTACT_ROWS_SMS_FIRST(source) \
	"SELECT m.kind, c.channel, c.recipient, m.sku, m.payload, m.key || ':' || c.channel," \
	" waitlist.now() + CASE WHEN c.channel = 'email' AND m.phone IS NOT NULL" \
	"  THEN m.email_delay ELSE interval '0' END" \
	" FROM (" source ") m" \
	" CROSS JOIN LATERAL (VALUES ('email', m.email), ('sms', m.phone)) AS c (channel, recipient)" \
	" WHERE c.recipient IS NOT NULL"
#define WL_CONTACT_MESSAGES_SMS_FIRST(source) \
	WL_OUTBOX_INSERT_DUE WL_CONTACT_ROWS_SMS_FIRST(source) WL_OUTBOX_ONCE

extern bool wl_queue_message(const char *kind, const char *channel,
							 const char *recipient, const char *sku,
							 const char *payload, const char *key);
extern int	wl_queue_contacts(const char *kind, const char *sku,
							  const char *email, const char *phone,
							  const char *payload, const char *key);
extern void wl_queue_new_messages(const char *kind, Datum *arrays);
extern void wl_queue_failed(const char *sku, const char *unit, int64 id, const char *reason);
extern int64 wl_outbox_skip_back_in_stock(const char *sku, const char *email, const char *phone);
extern int64 wl_outbox_skip_signup(int64 signup_id);

#endif
