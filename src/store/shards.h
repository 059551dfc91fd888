/*
 * shards.h
 *	  This node's local shards on Citus: the per-node work (expansion,
 *	  tick, next_due) runs once per local shard group, its statements
 *	  naming the group's shards instead of the distributed tables.
 */
#ifndef WAITLIST_SHARDS_H
#define WAITLIST_SHARDS_H

#include "postgres.h"

/* One group of colocated shards held by this node: table -> shard name. */
typedef struct WlShardGroup
{
	int			ntables;
	char	  **tables;			/* "sku", "line", ..., reference tables too */
	char	  **shards;			/* "waitlist.sku_102008", ... */
} WlShardGroup;

/* This node's groups; distributed is false on a node without Citus tables. */
typedef struct WlLocalShards
{
	bool		distributed;
	int			ngroups;
	WlShardGroup *groups;
} WlLocalShards;

extern bool wl_local_shards(WlLocalShards *out);
extern bool wl_shards_in_group(void);
extern void wl_shards_use(const WlShardGroup *group);
extern int64 wl_shards_each(const WlLocalShards *here, int64 (*fn) (int64), int64 arg);
extern bool wl_reference_shards(WlShardGroup *out);
extern int64 wl_shards_run(const WlShardGroup *group, int64 (*fn) (int64), int64 arg);

#endif
