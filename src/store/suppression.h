/*
 * suppression.h
 *	  The owner of waitlist.suppression (contacts no message may reach) and
 *	  waitlist.message_event (what providers reported about a message).
 */
#ifndef WAITLIST_SUPPRESSION_H
#define WAITLIST_SUPPRESSION_H

#include "postgres.h"

/* A message as record_event needs it. */
typedef struct WlMessage
{
	int64		id;
	char	   *channel;
	char	   *recipient;
	TimestampTz created_at;
} WlMessage;

extern char *wl_contact_key(const char *contact, bool email);
extern bool wl_find_message(const char *handle, WlMessage *m);
extern bool wl_insert_event(int64 message_id, const char *event, TimestampTz at);
extern bool wl_suppress(const char *contact, const char *reason,
						const char *source, int64 message_id);
extern char *wl_suppression_reason(const char *contact, bool lock);
extern void wl_unsuppress(const char *contact);
extern void wl_log_consent(const char *contact, const char *action, const char *reason,
						   const char *source, int64 message_id);

#endif
