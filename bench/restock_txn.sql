/*
 * restock_txn.sql: the measured transaction of each variant (included by
 * restock_measure.sql).  psql variables: is_ours, is_loop, is_setmsg, sku_code,
 * qty.  Each variant adds qty units to the SKU and hands them to its waiting
 * paid lines FIFO by id, partial fills allowed, and commits.
 */
BEGIN;
\if :is_ours
SELECT waitlist.restock(:'sku_code', :qty) \gset r_
\elif :is_loop
SELECT bench.restock_loop(:'sku_code', :qty) \gset r_
\elif :is_setmsg
/*
 * Baseline (c): baseline (b) that also writes, in the same statement, the
 * messages the extension's tick writes for this restock: allocated or
 * ready_to_ship to each line filled, and still_waiting (units ahead, units
 * arrived) to the lines left short that end within the first 10,000 positions past
 * the units (WL_BATCH_CHUNK: what the tick's first chunk covers), with
 * the same payload fields, into an outbox with the same columns, checks and
 * indexes.  The same work done set-based inside the restock.
 */
WITH free AS (
	SELECT on_hand + :qty - allocated AS units
	  FROM bench.sku WHERE sku = :'sku_code' FOR UPDATE),
need AS (
	SELECT id, order_ref, email, qty, qty - allocated AS missing,
		   sum(qty - allocated) OVER (ORDER BY id) - (qty - allocated) AS before
	  FROM bench.line
	 WHERE sku = :'sku_code' AND state = 'waiting' AND allocated < qty),
fill AS (
	UPDATE bench.line l
	   SET allocated = l.allocated + least(n.missing, f.units - n.before)
	  FROM need n, free f
	 WHERE l.id = n.id AND n.before < f.units
	RETURNING l.id, l.order_ref, l.email, l.qty, l.allocated, least(n.missing, f.units - n.before) AS took),
msgs AS (
	INSERT INTO bench.outbox (kind, channel, recipient, sku, payload, idempotency_key)
	SELECT CASE WHEN fl.allocated = fl.qty THEN 'ready_to_ship' ELSE 'allocated' END, 'email', fl.email,
		   s.sku,
		   json_build_object('order_ref', fl.order_ref, 'line_id', fl.id, 'sku', s.sku, 'title', s.title,
							 'qty', fl.qty, 'allocated', fl.allocated, 'product_url', s.product_url),
		   'line:' || fl.id || ':alloc:' || fl.allocated
	  FROM fill fl, bench.sku s WHERE s.sku = :'sku_code'
	UNION ALL
	SELECT 'still_waiting', 'email', n.email, s.sku,
		   json_build_object('order_ref', n.order_ref, 'line_id', n.id, 'sku', s.sku, 'title', s.title,
							 'qty', n.qty, 'units_ahead', n.before - f.units, 'units_arrived', :qty,
							 'expected_ship_date', NULL, 'cancel_allowed', true, 'product_url', s.product_url),
		   'line:' || n.id || ':waiting:' || :qty
	  FROM need n, free f, bench.sku s
	 WHERE s.sku = :'sku_code' AND n.before >= f.units AND n.before + n.missing - f.units <= 10000
	RETURNING 1)
UPDATE bench.sku
   SET on_hand = on_hand + :qty, updated_at = now(),
	   allocated = allocated + (SELECT coalesce(sum(took), 0) FROM fill)
 WHERE sku = :'sku_code';
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
