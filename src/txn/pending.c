/*
 * pending.c
 *	  What the current transaction owes at commit.
 *
 * The SQL API records the SKUs whose supply or queues it changed, with the
 * subtransaction level that changed them, in a hash table living in
 * TopTransactionContext, and notes when it queued deliverable messages.  A
 * rolled-back savepoint forgets what it recorded; a released one hands it
 * to its parent.  commit.c takes the lot at pre-commit.  A SKU whose
 * supply changed (a restock, a stock count) is marked as well: the
 * allocator tells the lines a restock left unfilled, not those that only
 * moved up because another line was cancelled.
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "txn/durability.h"
#include "txn/pending.h"
#include "waitlist.h"

typedef struct TouchedSku
{
	char		sku[WL_SKU_KEY_BYTES];	/* hash key: the SKU code */
	int			level;			/* outermost nest level that touched it */
	int			supply_level;	/* same for its supply; 0: supply untouched */
} TouchedSku;

static HTAB *touched = NULL;	/* NULL when nothing is pending */
static int	messages_level = 0; /* 0: no messages queued in this xact */
static char **supplied = NULL;	/* at commit: codes whose supply changed, sorted */
static int	nsupplied = 0;

/* Create the per-transaction table on first touch. */
static void
ensure_touched(void)
{
	HASHCTL		ctl;

	if (touched != NULL)
		return;
	ctl.keysize = WL_SKU_KEY_BYTES;
	ctl.entrysize = sizeof(TouchedSku);
	ctl.hcxt = TopTransactionContext;
	touched = hash_create("waitlist touched SKUs", 64, &ctl,
						  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/* Remember that this (sub)transaction changed the SKU's supply or queue. */
void
wl_touch_sku(const char *sku)
{
	TouchedSku *t;
	bool		found;
	int			level = GetCurrentTransactionNestLevel();

	if (sku == NULL || strlen(sku) >= WL_SKU_KEY_BYTES)
		elog(ERROR, "waitlist: no SKU code to note, or one longer than a stored one");
	wl_note_sku_lock();
	ensure_touched();
	t = hash_search(touched, sku, HASH_ENTER, &found);
	if (!found)
		t->supply_level = 0;
	if (!found || level < t->level)
		t->level = level;
}

/* Remember that this (sub)transaction changed the SKU's units on hand. */
void
wl_touch_supply(const char *sku)
{
	TouchedSku *t;
	int			level = GetCurrentTransactionNestLevel();

	wl_touch_sku(sku);
	t = hash_search(touched, sku, HASH_FIND, NULL);
	if (t->supply_level == 0 || level < t->supply_level)
		t->supply_level = level;
}

/* Remember that deliverable messages were queued (for the NOTIFY). */
void
wl_note_messages(void)
{
	int			level = GetCurrentTransactionNestLevel();

	if (messages_level == 0 || level < messages_level)
		messages_level = level;
}

/* Has this transaction noted deliverable messages so far? */
bool
wl_messages_noted(void)
{
	return messages_level != 0;
}

/*
 * Take back the note of wl_note_messages: the caller knows that what it
 * queued since the transaction had no note is already in hand (a claim
 * leased every due message), so the NOTIFY would wake listeners for nothing.
 */
void
wl_unnote_messages(void)
{
	messages_level = 0;
}

/* Does the transaction owe anything at commit? */
bool
wl_pending_work(void)
{
	return touched != NULL || messages_level != 0;
}

/* qsort comparator for SKU codes (byte order: the same in every backend). */
static int
cmp_code(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * The touched SKU codes in code order (NULL when none); the table is
 * forgotten, and those whose supply changed are kept for
 * wl_supply_changed until the transaction ends.
 */
char	  **
wl_take_touched(int *n)
{
	HASH_SEQ_STATUS seq;
	TouchedSku *t;
	char	  **codes;
	int			i = 0;

	*n = touched ? (int) hash_get_num_entries(touched) : 0;
	nsupplied = 0;
	if (*n == 0)
	{
		touched = NULL;
		return NULL;
	}
	codes = MemoryContextAlloc(TopTransactionContext, sizeof(char *) * *n);
	supplied = MemoryContextAlloc(TopTransactionContext, sizeof(char *) * *n);
	hash_seq_init(&seq, touched);
	while ((t = hash_seq_search(&seq)) != NULL)
	{
		codes[i++] = MemoryContextStrdup(TopTransactionContext, t->sku);
		if (t->supply_level > 0)
			supplied[nsupplied++] = codes[i - 1];
	}
	touched = NULL;
	qsort(codes, *n, sizeof(char *), cmp_code);
	qsort(supplied, nsupplied, sizeof(char *), cmp_code);
	return codes;
}

/* Did the committing transaction change this SKU's supply (after wl_take_touched)? */
bool
wl_supply_changed(const char *sku)
{
	if (nsupplied == 0)
		return false;
	return bsearch(&sku, supplied, nsupplied, sizeof(char *), cmp_code) != NULL;
}

/* Were messages queued?  The note is forgotten. */
bool
wl_take_messages(void)
{
	bool		any = messages_level != 0;

	messages_level = 0;
	return any;
}

/* Subtransaction end: an abort forgets its notes, a commit hands them up. */
void
wl_pending_subxact(SubXactEvent event)
{
	int			level = GetCurrentTransactionNestLevel();
	HASH_SEQ_STATUS seq;
	TouchedSku *t;

	if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB)
		return;
	if (messages_level >= level)
		messages_level = (event == SUBXACT_EVENT_ABORT_SUB) ? 0 : level - 1;
	if (touched == NULL)
		return;
	hash_seq_init(&seq, touched);
	while ((t = hash_seq_search(&seq)) != NULL)
	{
		if (t->supply_level >= level)
			t->supply_level = (event == SUBXACT_EVENT_ABORT_SUB) ? 0 : level - 1;
		if (t->level < level)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			t->level = level - 1;
		else
			hash_search(touched, t->sku, HASH_REMOVE, NULL);
	}
}

/* Forget everything (end of transaction, either way). */
void
wl_pending_reset(void)
{
	touched = NULL;
	messages_level = 0;
	supplied = NULL;
	nsupplied = 0;
}
