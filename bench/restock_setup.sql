/*
 * restock_setup.sql: the data for the restock benchmark (psql variable n =
 * waiting paid lines on the hot SKU) and the two baselines.
 *
 * SKUs: 1 'hot' (n lines), 2 'warm' (1,000 one-unit lines, used only to warm
 * up plans and caches before a measurement), 3..52 'noise-NN' (n/10 lines in
 * all, interleaved with the hot SKU's lines in id order).  Quantities are 1-3,
 * pseudo-random but deterministic (hashint8 of the line id).
 *
 * Lines are written straight into waitlist.line with what place_backorder()
 * writes (src/domain/backorders.c): kind 'backorder', state 'waiting', an order_ref unique
 * per SKU, a contact email, qty, pos_start = the SKU's paid_tail before the
 * line (the running sum of earlier quantities, starting at 0), pos_end =
 * pos_start + qty; then sku.paid_tail = sku.paid_waiting = the sum of the SKU's
 * quantities (nothing allocated yet).
 * The backorder_confirmed outbox rows place_backorder() also queues are left
 * out: the benchmark does not need them.
 */
SET work_mem = '512MB';
SET maintenance_work_mem = '1GB';

INSERT INTO waitlist.sku (id, sku, title)
SELECT i, CASE i WHEN 1 THEN 'hot' WHEN 2 THEN 'warm' ELSE 'noise-' || lpad((i - 2)::text, 2, '0') END,
	   'Bench product ' || i
  FROM generate_series(1, 52) i;
SELECT setval('waitlist.sku_id_seq', 52);

INSERT INTO waitlist.line (id, sku, kind, order_ref, email, qty, pos_start, pos_end)
SELECT g, CASE sku_no WHEN 1 THEN 'hot' WHEN 2 THEN 'warm' ELSE 'noise-' || lpad((sku_no - 2)::text, 2, '0') END,
	   'backorder', 'order-' || g, 'line' || g || '@example.com', qty,
	   sum(qty) OVER w - qty, sum(qty) OVER w
  FROM (SELECT g,
			   CASE WHEN g > :n + :n / 10 THEN 2
					WHEN g % 11 = 0 THEN 3 + (g / 11) % 50
					ELSE 1 END AS sku_no,
			   CASE WHEN g > :n + :n / 10 THEN 1
					ELSE 1 + (hashint8(g) & 2147483647) % 3 END AS qty
		  FROM generate_series(1, :n + :n / 10 + 1000) g) s
WINDOW w AS (PARTITION BY sku_no ORDER BY g)
 ORDER BY g;
SELECT setval('waitlist.line_id_seq', :n + :n / 10 + 1000);

UPDATE waitlist.sku s SET paid_tail = t.units, paid_waiting = t.units
  FROM (SELECT sku, sum(qty) AS units FROM waitlist.line GROUP BY sku) t
 WHERE s.sku = t.sku;

/*
 * Baselines: the same SKUs and lines in schema bench, plus an "allocated"
 * column per line, which the baselines update one row per line.  The line
 * table keeps every column and CHECK of waitlist.line, its primary key, its
 * unique (sku, order_ref) and its foreign key; instead of the two pos_end
 * indexes it has the one index a FIFO-by-id allocator needs.  So it carries
 * one index fewer than waitlist.line: if anything, the baselines are favoured.
 */
CREATE SCHEMA bench;
CREATE TABLE bench.sku (LIKE waitlist.sku INCLUDING ALL);
INSERT INTO bench.sku SELECT * FROM waitlist.sku;

CREATE FUNCTION bench.copy_lines() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	DROP TABLE IF EXISTS bench.line;
	CREATE TABLE bench.line (
		LIKE waitlist.line INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
		allocated integer NOT NULL DEFAULT 0,
		PRIMARY KEY (id),
		UNIQUE (sku, order_ref),
		FOREIGN KEY (sku) REFERENCES bench.sku (sku));
	CREATE INDEX line_fifo ON bench.line (sku, id) WHERE state = 'waiting';
	INSERT INTO bench.line SELECT l.*, 0 FROM waitlist.line l ORDER BY l.id;
	-- baseline (c)'s messages: an outbox with waitlist.outbox's columns,
	-- checks and indexes
	DROP TABLE IF EXISTS bench.outbox;
	CREATE TABLE bench.outbox (LIKE waitlist.outbox INCLUDING DEFAULTS INCLUDING CONSTRAINTS
							   INCLUDING INDEXES);
	UPDATE bench.sku SET on_hand = 0, allocated = 0, paid_served = 0, paid_waiting = paid_tail;
END
$$;

/*
 * Baseline (a): the hand-written loop.  FIFO by id, partial fills allowed;
 * each line's allocated column is updated as it is filled, the SKU's
 * counters once at the end (the cheapest honest variant: the SKU row lock
 * taken by the first UPDATE serializes allocators, so lines are not locked
 * twice with FOR UPDATE).
 */
CREATE FUNCTION bench.restock_loop(p_sku text, p_qty bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_free		bigint;
	v_take		integer;
	v_given		bigint := 0;
	r			record;
BEGIN
	UPDATE bench.sku SET on_hand = on_hand + p_qty, updated_at = now()
	 WHERE sku = p_sku RETURNING on_hand - allocated INTO v_free;
	FOR r IN SELECT id, qty, allocated FROM bench.line
			  WHERE sku = p_sku AND state = 'waiting' AND allocated < qty
			  ORDER BY id
	LOOP
		EXIT WHEN v_free <= 0;
		v_take := least(r.qty - r.allocated, v_free);
		UPDATE bench.line SET allocated = allocated + v_take WHERE id = r.id;
		v_free := v_free - v_take;
		v_given := v_given + v_take;
	END LOOP;
	UPDATE bench.sku SET allocated = allocated + v_given WHERE sku = p_sku;
	RETURN v_given;
END
$$;
