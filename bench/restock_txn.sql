/*
 * restock_txn.sql: the measured transaction of each variant (included by
 * restock_measure.sql).  psql variables: is_ours, is_loop, sku_code,
 * qty.  Each variant adds qty units to the SKU and hands them to its waiting
 * paid lines FIFO by id, partial fills allowed, and commits.
 */
BEGIN;
\if :is_ours
SELECT waitlist.restock(:'sku_code', :qty) \gset r_
\elif :is_loop
SELECT bench.restock_loop(:'sku_code', :qty) \gset r_
\else
/*
 * Baseline (b): the best single set-based statement.  A running sum of the
 * units still missing, in id order, decides each line's share; lines whose
 * running sum starts below the free units get filled (the last partially);
 * the SKU's counters move in the same statement.
 */
WITH free AS (
	SELECT on_hand + :qty - allocated AS units
	  FROM bench.sku WHERE sku = :'sku_code' FOR UPDATE),
need AS (
	SELECT id, qty - allocated AS missing,
		   sum(qty - allocated) OVER (ORDER BY id) - (qty - allocated) AS before
	  FROM bench.line
	 WHERE sku = :'sku_code' AND state = 'waiting' AND allocated < qty),
fill AS (
	UPDATE bench.line l
	   SET allocated = l.allocated + least(n.missing, f.units - n.before)
	  FROM need n, free f
	 WHERE l.id = n.id AND n.before < f.units
	RETURNING least(n.missing, f.units - n.before) AS took)
UPDATE bench.sku
   SET on_hand = on_hand + :qty, updated_at = now(),
	   allocated = allocated + (SELECT coalesce(sum(took), 0) FROM fill)
 WHERE sku = :'sku_code';
\endif
COMMIT;
