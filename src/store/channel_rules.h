/*
 * channel_rules.h
 *	  Sales channels' rules (waitlist.channel_rule and the view
 *	  waitlist.channel): the one owner of the table, and a per-backend cache
 *	  of the rules, reloaded after every change.
 */
#ifndef WAITLIST_CHANNEL_RULES_H
#define WAITLIST_CHANNEL_RULES_H

#include "postgres.h"
#include "utils/rel.h"
#include "waitlist.h"

typedef enum Support
{
	SUPPORT_YES,
	SUPPORT_HANDLING_TIME,
	SUPPORT_BRAND_REGISTRY,
	SUPPORT_NO
} Support;

typedef struct ChannelRule
{
	char		name[WL_MAX_CHANNEL_LEN + 1];
	bool		marketplace;
	Support		backorders;
	Support		preorders;
	int			max_handling_days;	/* 0: none */
	bool		brand_registry;
	bool		notify_me;
} ChannelRule;

extern ChannelRule *wl_find_channel_rule(const char *channel);
extern ChannelRule *wl_channel_rule(const char *channel);
extern void wl_require_channel(const char *channel);
extern uint64 wl_channel_rules_generation(void);
extern void wl_channel_rules_reset(void);
extern void wl_channel_rules_changed(Relation rel);
extern void wl_channel_rules_init(void);
extern void wl_store_channel_rule(const char *channel, Datum *args, char *nulls);
extern Datum wl_channel_row(const char *channel);

#endif
