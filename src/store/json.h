/*
 * json.h
 *	  The one JSON writer of message payloads: an object built member by
 *	  member, used by the C message writers and by payload_json() for the
 *	  bulk statements.
 */
#ifndef WAITLIST_JSON_H
#define WAITLIST_JSON_H

#include "postgres.h"
#include "lib/stringinfo.h"
#include "utils/date.h"

typedef struct WlJson
{
	StringInfoData buf;
	bool		empty;
} WlJson;

extern void wl_json_init(WlJson *j);
extern void wl_json_str(WlJson *j, const char *key, const char *val);
extern void wl_json_int(WlJson *j, const char *key, int64 val);
extern void wl_json_number(WlJson *j, const char *key, const char *val);
extern void wl_json_bool(WlJson *j, const char *key, bool val);
extern char *wl_iso_date(DateADT d);
extern char *wl_json_finish(WlJson *j);

#endif
