/*
 * module.c
 *	  Module initialisation: the waitlist.* settings, the transaction
 *	  callbacks, the commit hook (the allocator, then the availability
 *	  publication), the channel-rule cache's invalidation and, when the
 *	  library is preloaded, the clock (clock/).  The top of
 *	  the layers: api/ -> domain/ -> store/ -> txn/ (docs/architecture.md).
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/guc.h"

#include "clock/clock.h"
#include "domain/settle.h"
#include "store/channel_rules.h"
#include "store/now.h"
#include "txn/commit.h"
#include "waitlist.h"

PG_MODULE_MAGIC;

bool		wl_notify_enabled = true;
bool		wl_early_lock_release = true;
int			wl_max_attempts = 10;
int			wl_retry_base_ms = 30000;
int			wl_retry_max_ms = 3600000;
double		wl_notify_skip_usage = 0.5;
int			wl_authorization_ttl_s = 7 * 24 * 3600;
int			wl_reauthorize_before_s = 24 * 3600;
int			wl_backorder_days = 14;
int			wl_out_of_stock_days = 21;
int			wl_backorder_min_demand = 0;
int			wl_backorder_max_units = 0;
bool		wl_enforce_policy = true;
int			wl_node_id = 0;
int			wl_status_interval_s = 7 * 24 * 3600;
double		wl_midwait_fraction = 0.5;
int			wl_imminent_days = 4;
int			wl_email_delay_s = 30 * 60;
int			wl_repeat_after_s = 60 * 60;
int			wl_purchase_window_s = 30 * 24 * 60 * 60;
int			wl_signup_expiry_s = 90 * 24 * 60 * 60;
int			wl_last_chance_notice_setting = 7 * 24 * 60 * 60;
int			wl_reminder_after_s = 8 * 60 * 60;
int			wl_missed_note_after_s = 24 * 60 * 60;
bool		wl_eta_to_signups = true;

void		_PG_init(void);

/* Define the waitlist.* settings and register the commit-time work. */
void
_PG_init(void)
{
	DefineCustomBoolVariable("waitlist.notify",
							 "Send one NOTIFY on channel waitlist when a transaction queues messages.",
							 "Commits that NOTIFY are serialized cluster-wide; turn off to rely on polling.",
							 &wl_notify_enabled, true, PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("waitlist.early_lock_release",
							 "Release a transaction's SKU row locks before its commit's WAL flush; COMMIT still returns after the flush.",
							 "Racing checkouts on one SKU then queue behind each other's work, not behind each other's flushes; other sessions may see the commit up to one flush before it is durable.",
							 &wl_early_lock_release, true, PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.max_attempts",
							"Delivery attempts after which a message is dead.",
							NULL, &wl_max_attempts, 10, 1, 1000, PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.retry_base",
							"First retry delay after a failed delivery; doubles with each attempt.",
							NULL, &wl_retry_base_ms, 30000, 1, INT_MAX, PGC_SUSET,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.retry_max",
							"Longest retry delay after a failed delivery.",
							NULL, &wl_retry_max_ms, 3600000, 1, INT_MAX, PGC_SUSET,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomRealVariable("waitlist.notify_skip_usage",
							 "Notification queue usage above which the NOTIFY is skipped with a warning.",
							 "A full queue would roll back the committing transaction; the outbox keeps the messages either way.",
							 &wl_notify_skip_usage, 0.5, 0.0, 1.0, PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.authorization_ttl",
							"How long a pre-order's card authorization stays valid.",
							"Card networks let authorizations lapse after about 7 days.",
							&wl_authorization_ttl_s, 7 * 24 * 3600, 60, INT_MAX, PGC_SUSET,
							GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.reauthorize_before",
							"How long before an authorization lapses tick() queues a payment_reauthorize event.",
							"At most half of waitlist.authorization_ttl is used.",
							&wl_reauthorize_before_s, 24 * 3600, 0, INT_MAX, PGC_SUSET,
							GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.backorder_days",
							"Longest wait to a confirmed restock for which backorders are taken.",
							"Per SKU: waitlist.set_policy.", &wl_backorder_days, 14, 0, 365,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.out_of_stock_days",
							"Restocks further away than this many days are treated as uncertain.",
							"Per SKU: waitlist.set_policy.", &wl_out_of_stock_days, 21, 0, 365,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.backorder_min_demand",
							"People waiting (sign-ups and backordered units) before backorders open.",
							"Per SKU: waitlist.set_policy.", &wl_backorder_min_demand, 0, 0,
							INT_MAX, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.backorder_max_units",
							"Backordered units waiting for stock that support can carry per SKU (0: no limit).",
							"Per SKU: waitlist.set_policy.", &wl_backorder_max_units, 0, 0,
							INT_MAX, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("waitlist.enforce_policy",
							 "Refuse backorders and pre-orders the availability policy does not allow.",
							 "Off only for imports and tests that place orders by hand.",
							 &wl_enforce_policy, true, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.node_id",
							"This node's number, the top bits of every id it makes (waitlist.next_id).",
							"Give each node of a Citus cluster its own (coordinator and workers alike); a single node keeps 0.",
							&wl_node_id, 0, 0, 32767, PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.status_interval",
							"How often a waiting backorder is sent backorder_status, even when nothing changed.",
							"Per SKU: waitlist.set_schedule.", &wl_status_interval_s, 7 * 24 * 3600,
							3600, 365 * 24 * 3600, PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomRealVariable("waitlist.midwait_fraction",
							 "How far between a pre-order and its expected ship date preorder_midwait is sent (0.5: halfway).",
							 "Per SKU: waitlist.set_schedule.", &wl_midwait_fraction, 0.5, 0.05, 0.95,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.imminent_days",
							"Days before the expected ship date that shipping_imminent is sent.",
							"Per SKU: waitlist.set_schedule.", &wl_imminent_days, 4, 1, 30,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.email_delay",
							"How long after its SMS the email of a back_in_stock wave is due, for a sign-up with both (0: at once).",
							"Per SKU: waitlist.set_schedule.  Not sent when the person ordered the SKU in between.",
							&wl_email_delay_s, 30 * 60, 0, 7 * 24 * 3600, PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("waitlist.eta_to_signups",
							 "Tell the SKU's sign-ups, not only its backorders, when its restock date changes.",
							 "Per SKU: waitlist.set_schedule.", &wl_eta_to_signups, true, PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.repeat_after",
							"Shortest time between two wave messages of one kind for one SKU to one sign-up or line (0: no limit).",
							"Covers sold_out_again and still_waiting: a wave within this time of the last one of its kind leaves out whoever heard that one.",
							&wl_repeat_after_s, 60 * 60, 0, 30 * 24 * 3600, PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.purchase_window",
							"How long after buying a SKU a person gets no wave message for it (0: no window).",
							"Covers back_in_stock, sold_out_again and eta_changed to sign-ups; a purchase also converts the sign-ups made before it.",
							&wl_purchase_window_s, 30 * 24 * 60 * 60, 0, 365 * 24 * 60 * 60, PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.signup_expiry",
							"How long a sign-up stays on the list, from when it was made or renewed (0: for ever).",
							"waitlist.last_chance_notice before the end it hears one signup_expiring message; signing up again renews it.",
							&wl_signup_expiry_s, 90 * 24 * 60 * 60, 0, 3650 * 24 * 60 * 60, PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.last_chance_notice",
							"How long before a sign-up expires its last-chance message (signup_expiring) goes out.",
							"The sign-up expires this long after the message, however late the clock wrote it; capped by waitlist.signup_expiry.",
							&wl_last_chance_notice_setting, 7 * 24 * 60 * 60, 3600, 90 * 24 * 60 * 60, PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.reminder_after",
							"How long after a back_in_stock wave the people it told who did not open it hear back_in_stock_reminder, while stock remains (0: no reminder).",
							"Once per person and wave; an open or click recorded by record_event counts, and so does buying.",
							&wl_reminder_after_s, 8 * 60 * 60, 0, 72 * 60 * 60, PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.missed_note_after",
							"How long after a sell-out the people told who did not buy hear missed_out (0: no note).",
							"They keep their place for the next restock either way.",
							&wl_missed_note_after_s, 24 * 60 * 60, 0, 7 * 24 * 60 * 60, PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	wl_now_define_setting();
	wl_clock_define_settings();
	MarkGUCPrefixReserved("waitlist");
	wl_commit_init();
	wl_on_commit_sku(wl_settle_sku);
	wl_channel_rules_init();
	wl_clock_init();
}
