/*
 * outbox.h
 *	  Queueing messages and building their JSON payloads.
 */
#ifndef WAITLIST_OUTBOX_H
#define WAITLIST_OUTBOX_H

#include "postgres.h"
#include "lib/stringinfo.h"

typedef struct WlJson
{
	StringInfoData buf;
	bool		empty;
} WlJson;

extern void wl_json_init(WlJson *j);
extern void wl_json_str(WlJson *j, const char *key, const char *val);
extern void wl_json_int(WlJson *j, const char *key, int64 val);
extern void wl_json_bool(WlJson *j, const char *key, bool val);
extern char *wl_json_finish(WlJson *j);

extern int	wl_queue_contacts(const char *kind, const char *sku,
							  const char *email, const char *phone,
							  const char *payload, const char *key_prefix);
extern bool wl_queue_message(const char *kind, const char *channel,
							 const char *recipient, const char *sku,
							 const char *payload, const char *key);
extern void wl_json_raw(WlJson *j, const char *key, const char *val);
extern int64 wl_expand_batches(int max_batches);

#endif
