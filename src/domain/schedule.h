/*
 * schedule.h
 *	  The messages time brings (status rounds, pre-order notes, passed
 *	  dates) and the merchant's production updates.
 */
#ifndef WAITLIST_SCHEDULE_H
#define WAITLIST_SCHEDULE_H

#include "postgres.h"

/*
 * The two moments of a pre-order line's notes, as a lateral subquery "m"
 * over the SKU row s: m.imminent_on (the date shipping_imminent is due: the
 * ship date less the SKU's imminent days, else the setting given as the
 * parameter days) and m.midwait_at (fraction of the way from created to
 * the ship date).  Both NULL for a ship date no timestamp holds (the CASE:
 * no cast of it is attempted).  Shared by the note planner and by the
 * confirmation, which plans a new pre-order's first note.
 */
#define WL_NOTE_MOMENTS(created, fraction, days) \
	" CROSS JOIN LATERAL (SELECT" \
	"    CASE WHEN s.ships_on BETWEEN '2000-01-01' AND '9999-12-31'" \
	"     THEN s.ships_on - coalesce(s.imminent_days, " days ") END AS imminent_on," \
	"    CASE WHEN s.ships_on BETWEEN '2000-01-01' AND '9999-12-31'" \
	"     THEN " created " + (s.ships_on::timestamptz - " created ")" \
	"      * coalesce(s.midwait_fraction::float8, " fraction ") END AS midwait_at) m"

extern int64 wl_schedule_run(bool rounds, bool notes, bool dates);
extern void wl_schedule_replan(const char *sku);
extern int64 wl_post_update(const char *sku, const char *text);

#endif
