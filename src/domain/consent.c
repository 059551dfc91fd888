/*
 * consent.c
 *	  The rules of who may be messaged.  A provider's report about a
 *	  message (record_event) is kept once per event; a hard bounce, a
 *	  complaint or an unsubscribe suppresses the message's recipient; an
 *	  opt-out suppresses a contact on request; an opt-in lifts a contact's
 *	  own opt-out or unsubscribe, never a bounce or a complaint (the address
 *	  is bad, or its owner called the messages spam).  Every change is
 *	  logged with its source.  claim() enforces the list
 *	  (api/outbox_api.c).  SQL entry points: api/consent_api.c; storage:
 *	  store/suppression.c.  Callers are in SPI.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "domain/consent.h"
#include "store/now.h"
#include "store/suppression.h"
#include "waitlist.h"

/* How far a reported event time may be ahead of the clock (provider clocks). */
#define EVENT_SKEW_USECS	(INT64CONST(3600) * USECS_PER_SEC)

/* The events a provider may report, and the suppression each causes. */
static const struct
{
	const char *event;
	const char *suppresses;		/* reason, or NULL */
}			events[] = {
	{"delivered", NULL},
	{"opened", NULL},
	{"clicked", NULL},
	{"bounced", "bounced"},
	{"complained", "complained"},
	{"unsubscribed", "unsubscribed"},
};

/* The key of a stored recipient: an email address lower-cased, a phone as it is. */
static char *
recipient_key(const char *channel, const char *recipient)
{
	return wl_contact_key(recipient, strcmp(channel, "email") == 0);
}

/* The suppression reason an event causes (NULL: none); refuses unknown events. */
static const char *
event_suppresses(const char *event)
{
	for (size_t i = 0; i < lengthof(events); i++)
		if (strcmp(events[i].event, event) == 0)
			return events[i].suppresses;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown message event \"%s\"", event),
			 errhint("The events are delivered, opened, clicked, bounced (a hard bounce), complained and unsubscribed.")));
	return NULL;				/* keep the compiler quiet */
}

/* An event time must fall in the message's life (give or take the skew). */
static void
check_event_time(const WlMessage *m, TimestampTz at)
{
	TimestampTz now = DatumGetTimestampTz(wl_now());

	if (at > now + EVENT_SKEW_USECS || at < m->created_at - EVENT_SKEW_USECS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("event time %s is outside the message's life", timestamptz_to_str(at)),
				 errdetail("Message " INT64_FORMAT " was written at %s; an event may be at most an hour before that or after now.",
						   m->id, timestamptz_to_str(m->created_at))));
}

/* Suppress a contact and log it when it is new; false when it already was. */
static bool
suppress(const char *contact, const char *reason, const char *source, int64 message_id)
{
	if (!wl_suppress(contact, reason, source, message_id))
		return false;
	wl_log_consent(contact, "suppressed", reason, source, message_id);
	return true;
}

/*
 * Record a provider's report about a message; false when the event was
 * already recorded for it (then nothing changes).  A suppressing event
 * suppresses the recipient, the first time.
 */
bool
wl_record_event(const char *handle, const char *event, TimestampTz at, bool at_given)
{
	const char *reason = event_suppresses(event);
	WlMessage	m;

	if (!wl_find_message(handle, &m))
		ereport(ERROR,
				(errcode(WL_ERRCODE_UNKNOWN_MESSAGE),
				 errmsg("no message \"%s\"", handle),
				 errdetail("A message is named by its id or its idempotency key, on the node whose outbox holds it.")));
	if (strcmp(m.channel, "email") != 0 && strcmp(m.channel, "sms") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("events are recorded for email and SMS messages only"),
				 errdetail("Message " INT64_FORMAT " went to the %s channel.", m.id, m.channel)));
	if (!at_given)
		at = DatumGetTimestampTz(wl_now());
	check_event_time(&m, at);
	if (!wl_insert_event(m.id, event, at))
		return false;
	if (reason != NULL)
		suppress(recipient_key(m.channel, m.recipient), reason, "event", m.id);
	return true;
}

/*
 * Stop every message to a contact (its key: api/args.c wl_arg_contact);
 * false when it was suppressed already.
 */
bool
wl_opt_out(const char *contact, const char *source)
{
	return suppress(contact, "opted_out", source, 0);
}

/*
 * The contact consents again: lift its opt-out or unsubscribe.  False when
 * it was not suppressed; a bounce or complaint is refused (55000).
 */
bool
wl_opt_in(const char *contact, const char *source)
{
	char	   *reason = wl_suppression_reason(contact, true);

	if (reason == NULL)
		return false;
	if (strcmp(reason, "bounced") == 0 || strcmp(reason, "complained") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("contact is suppressed because its messages %s", reason),
				 errdetail("Only an opt-out or an unsubscribe is lifted by the contact's consent."),
				 errhint("A new address or number can sign up; this one stays suppressed.")));
	wl_unsuppress(contact);
	wl_log_consent(contact, "lifted", reason, source, 0);
	return true;
}

/* Why messages do not reach a contact, or NULL when they do. */
char *
wl_suppressed(const char *contact)
{
	return wl_suppression_reason(contact, false);
}
