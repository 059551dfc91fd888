/*
 * hold_rows.c
 *	  Every write of waitlist.hold: a new wave of holds and waves shrunk by
 *	  a stock count (the allocator, domain/allocator.c, which also puts
 *	  claimed lines back in the paid queue when even their units are gone),
 *	  a claim and the close of waves whose window ended (domain/holds.c,
 *	  where what a hold is and how it is claimed and expired is told).
 *	  Callers hold the SKU row lock and are in SPI.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "store/hold_rows.h"
#include "store/now.h"
#include "store/spi.h"

static WlQuery q_open = {
	"INSERT INTO waitlist.hold (sku, wave, pos_from, pos_to, units, expires_at)"
	" VALUES ($1, $2, $3, $4, $5, $6)",
	6, {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID}, NULL
};

/*
 * A wave (its back_in_stock batch's id) told the sign-ups at [pos_from,
 * pos_to): units of them (the live ones) each have one unit held until
 * until (wl_holds_until).
 */
void
wl_holds_open(Datum sku, int64 wave, int64 pos_from, int64 pos_to, int64 units, Datum until)
{
	Datum		args[6] = {sku, Int64GetDatum(wave), Int64GetDatum(pos_from),
		Int64GetDatum(pos_to), Int64GetDatum(units), until};

	wl_exec(&q_open, args, NULL, SPI_OK_INSERT, 0);
}

/* When a wave of holds made now with this window (an interval) ends. */
Datum
wl_holds_until(Datum window)
{
	return DirectFunctionCall2(timestamptz_pl_interval, wl_now(), window);
}

static WlQuery q_newest_open = {
	"SELECT wave, units - claimed FROM waitlist.hold"
	" WHERE sku = $1 AND closed_at IS NULL AND units > claimed"
	" ORDER BY wave DESC LIMIT 100",
	1, {TEXTOID}, NULL
};

/*
 * The time is a parameter ($4, wl_now()) in the statements that close a
 * wave: Citus refuses a STABLE function inside CASE in an UPDATE of a
 * distributed table.
 */
static WlQuery q_shrink = {
	"UPDATE waitlist.hold SET units = units - $3,"
	" closed_at = CASE WHEN units - $3 = claimed THEN $4 END"
	" WHERE sku = $1 AND wave = $2",
	4, {TEXTOID, INT8OID, INT8OID, TIMESTAMPTZOID}, NULL
};

/*
 * A stock count went below what is allocated and held: the newest open
 * waves hold up to `units` fewer (the people they told claim first come,
 * first served).  Returns the units no longer held.
 */
int64
wl_holds_shrink(Datum sku, int64 units)
{
	int64		taken = 0;

	while (taken < units)
	{
		uint64		n = wl_exec(&q_newest_open, &sku, NULL, SPI_OK_SELECT, 0);
		SPITupleTable *rows = SPI_tuptable;

		for (uint64 i = 0; i < n && taken < units; i++)
		{
			int64		wave;
			int64		take;
			Datum		args[4];

			SPI_tuptable = rows;
			wave = wl_get_int64(i, 1, NULL);
			take = Min(wl_get_int64(i, 2, NULL), units - taken);
			args[0] = sku;
			args[1] = Int64GetDatum(wave);
			args[2] = Int64GetDatum(take);
			args[3] = wl_now();
			wl_exec(&q_shrink, args, NULL, SPI_OK_UPDATE, 0);
			taken += take;
		}
		if (n < 100)
			break;
	}
	return taken;
}

static WlQuery q_requeue = {
	"UPDATE waitlist.line SET pos_start = $3 + r.n - 1, pos_end = $3 + r.n"
	" FROM (SELECT id, row_number() OVER (ORDER BY pos_start) AS n FROM waitlist.line"
	"       WHERE sku = $1 AND state = 'waiting' AND pos_start < 0"
	"       ORDER BY pos_start LIMIT $2) r"
	" WHERE line.sku = $1 AND line.id = r.id",
	3, {TEXTOID, INT8OID, INT8OID}, NULL
};

/*
 * The stock count is below even the claimed holds' units: up to `units`
 * claimed lines lose their unit and go to the end of the paid queue (from
 * paid_tail on), to be served like backorders.  Returns how many.
 */
int64
wl_holds_requeue_claimed(Datum sku, int64 units, int64 paid_tail)
{
	Datum		args[3] = {sku, Int64GetDatum(units), Int64GetDatum(paid_tail)};

	return (int64) wl_exec(&q_requeue, args, NULL, SPI_OK_UPDATE, 0);
}

static WlQuery q_claim = {
	"UPDATE waitlist.hold SET claimed = claimed + 1,"
	" closed_at = CASE WHEN claimed + 1 = units THEN $3 END"
	" WHERE sku = $1 AND wave = $2",
	3, {TEXTOID, INT8OID, TIMESTAMPTZOID}, NULL
};

/* One held unit of the wave was claimed; the wave closes with its last. */
void
wl_hold_claim(Datum sku, int64 wave)
{
	Datum		args[3] = {sku, Int64GetDatum(wave), wl_now()};

	wl_exec(&q_claim, args, NULL, SPI_OK_UPDATE, 0);
}

static WlQuery q_close_due = {
	"UPDATE waitlist.hold SET closed_at = waitlist.now()"
	" WHERE sku = $1 AND closed_at IS NULL AND expires_at <= waitlist.now()"
	" RETURNING units - claimed",
	1, {TEXTOID}, NULL
};

/* Close the SKU's waves whose window ended: how many; *released their unclaimed units. */
uint64
wl_holds_close_due(Datum sku, int64 *released)
{
	uint64		n = wl_exec(&q_close_due, &sku, NULL, SPI_OK_UPDATE_RETURNING, 0);

	*released = 0;
	for (uint64 i = 0; i < n; i++)
		*released += wl_get_int64(i, 1, NULL);
	return n;
}
