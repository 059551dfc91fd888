/*
 * policy.h
 *	  The availability policy of a SKU on a sales channel: gathers the
 *	  flowchart's input from the sku row, the channel's rule and the
 *	  settings, and refuses orders the policy does not allow.
 */
#ifndef WAITLIST_POLICY_H
#define WAITLIST_POLICY_H

#include "postgres.h"

#include "domain/flowchart.h"
#include "store/sku_row.h"

extern void wl_policy_input(const WlSku *s, const char *channel, int64 qty, WlPolicyInput *in);
extern void wl_policy_of(const WlSku *s, const char *channel, int64 qty, WlPolicy *out);
extern void wl_policy_refuse(const char *sku, const char *channel, const char *what,
							 WlPolicy *p) pg_attribute_noreturn();
extern bool wl_preorder_channel_refusal(const WlSku *s, const char *channel, WlPolicy *out);
extern bool wl_listed_on(const WlSku *s, const char *channel);

#endif
