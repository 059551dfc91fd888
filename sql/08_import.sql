-- Bulk imports: import_backorders and import_signups read a staging table
-- (filled with COPY) in order, check every row as place_backorder and
-- subscribe do, continue each SKU's queue in FIFO order, write what the
-- per-call functions write, and change nothing on bad input.
-- The calendar dates below lie before the day the suite runs only if the
-- extension's clock is held still: the test clock stands at a moment
-- before all of them (sessions of their own, so nothing else sees it).
SET waitlist.test_now = '2026-11-20 09:00+00';
\set VERBOSITY terse

-- An error with its SQLSTATE and the source row the context line names.
CREATE FUNCTION public.try_import(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	c text;
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS c = PG_EXCEPTION_CONTEXT;
	RETURN SQLSTATE || ': ' || SQLERRM
		|| coalesce(' | ' || substring(c from 'source row [0-9]+(?: \(order_ref "[^"]*"\))?'), '');
END
$$;

-- What an import must leave true (the invariants of test/invariants.sql):
-- positions tile each queue, the live counters match the rows, FIFO.
CREATE FUNCTION public.import_invariants() RETURNS TABLE (sku text, problem text)
LANGUAGE sql AS $$
	SELECT s.sku, 'paid positions do not tile [0, paid_tail)'
	  FROM waitlist.sku s
	 WHERE s.paid_tail <> (SELECT coalesce(sum(qty), 0) FROM waitlist.line WHERE sku = s.sku)
		OR EXISTS (SELECT 1 FROM (SELECT pos_start, lag(pos_end, 1, 0::bigint) OVER (ORDER BY pos_start) AS prev
									FROM waitlist.line WHERE sku = s.sku) x WHERE x.pos_start <> x.prev)
	UNION ALL
	SELECT s.sku, 'sign-up positions are not 0 .. sub_tail - 1'
	  FROM waitlist.sku s
	 WHERE s.sub_tail <> (SELECT count(DISTINCT pos) FROM waitlist.subscriber WHERE sku = s.sku)
		OR s.sub_tail - 1 <> (SELECT coalesce(max(pos), -1) FROM waitlist.subscriber WHERE sku = s.sku)
	UNION ALL
	SELECT s.sku, 'paid_waiting is not the units of waiting lines short of stock'
	  FROM waitlist.sku s
	 WHERE s.paid_waiting <> (SELECT coalesce(sum(l.qty - ls.allocated), 0) FROM waitlist.line l
							   JOIN waitlist.line_status ls ON ls.id = l.id
							  WHERE l.sku = s.sku AND l.state = 'waiting')
	UNION ALL
	SELECT s.sku, 'sub_waiting is not the waiting sign-ups above the watermark'
	  FROM waitlist.sku s
	 WHERE s.sub_waiting <> (SELECT count(*) FROM waitlist.subscriber u
							  WHERE u.sku = s.sku AND u.state = 'waiting' AND u.pos >= s.sub_served)
	UNION ALL
	SELECT s.sku, 'allocation is not min(on hand, units wanted), or exceeds on hand'
	  FROM waitlist.sku s
	 WHERE s.allocated > s.on_hand
		OR s.allocated <> least(s.on_hand, (SELECT coalesce(sum(qty), 0) FROM waitlist.line
											 WHERE sku = s.sku AND state = 'waiting'))
	UNION ALL
	SELECT s.sku, format('line %s is short while a later line holds units', a.id)
	  FROM waitlist.line a JOIN waitlist.line_status la ON la.id = a.id
	  JOIN waitlist.line b ON b.sku = a.sku AND b.state = 'waiting' AND b.pos_start > a.pos_start
	  JOIN waitlist.line_status lb ON lb.id = b.id
	  JOIN waitlist.sku s ON s.sku = a.sku
	 WHERE a.state = 'waiting' AND la.allocated < a.qty AND lb.allocated > 0
	ORDER BY 1, 2
$$;

SELECT sku FROM waitlist.upsert_sku('IMP-A', title => 'Import kettle', restock_date => '2026-12-20',
                                    restock_confirmed => true, product_url => 'https://shop.example/imp-a');
SELECT sku FROM waitlist.upsert_sku('IMP-B', title => 'Import grinder');
SELECT sku FROM waitlist.upsert_sku('IMP-C', title => 'Import kettle', restock_date => '2026-12-20',
                                    restock_confirmed => true, product_url => 'https://shop.example/imp-a');
-- A line placed before the import: imported lines queue behind it.
SELECT waitlist.place_backorder('OLD-1', 'IMP-A', 2, 'Olga', 'olga@example.com') > 0 AS placed;

-- ------------------------------------------------------------ backorders
-- The staging table: seq orders the rows (they arrive shuffled); any other
-- column (here "note") is ignored; channel may be left NULL (dtc).
CREATE TABLE public.imp_lines (seq int, order_ref text, sku text, qty int, customer text,
                               email text, phone text, channel text, note text);
COPY public.imp_lines FROM stdin;
3	R-3	IMP-A	2	Cy	cy@example.com	+14155550103	dtc	third
1	R-1	IMP-A	1	Ann	ann@example.com	\N	\N	first
2	R-2	IMP-B	3	Ben	\N	+14155550102	dtc	second
4	R-4	IMP-A	1	Dee	Dee@Example.com	\N	dtc	fourth
\.
SELECT waitlist.import_backorders('public.imp_lines') AS imported;
SELECT s.sku, l.order_ref, l.kind, l.qty, l.pos_start, l.pos_end, l.state, l.channel, l.customer
  FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku WHERE s.sku LIKE 'IMP-%' ORDER BY s.sku, l.pos_start;
SELECT sku, paid_tail, paid_waiting, on_hand, allocated FROM waitlist.sku WHERE sku LIKE 'IMP-%' ORDER BY sku;
-- Lines short of stock are confirmed by claim() or tick(), in chunks, as
-- sign-ups are: the import's transaction writes none of their messages.
SELECT l.order_ref, l.confirm_pending, l.action_at IS NOT NULL AS due,
       (SELECT count(*) FROM waitlist.outbox o WHERE o.payload->>'line_id' = l.id::text) AS messages
  FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku WHERE s.sku LIKE 'IMP-%' ORDER BY l.id;
SELECT waitlist.tick() > 0 AS written;
SELECT count(*) FILTER (WHERE confirm_pending OR action_at IS NOT NULL) AS still_pending
  FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku WHERE s.sku LIKE 'IMP-%';
-- One backorder_confirmed per contact, as place_backorder writes them.
SELECT o.channel, o.recipient, o.payload->>'order_ref' AS order_ref, o.payload->>'qty' AS qty,
       o.payload->>'in_stock' AS in_stock, o.payload->>'expected_ship_date' AS ship_date,
       o.idempotency_key = 'line:' || (o.payload->>'line_id') || ':confirmed:' || o.channel AS key_ok
  FROM waitlist.outbox o WHERE o.kind = 'backorder_confirmed' AND o.sku LIKE 'IMP-%' ORDER BY o.id;
SELECT * FROM waitlist.queue_position((SELECT id FROM waitlist.line WHERE order_ref = 'R-4'));

-- The same lines placed one call at a time on IMP-C write the same
-- messages (payloads equal but for the line id and the SKU).
SELECT count(*) AS placed FROM (
	SELECT waitlist.place_backorder(order_ref, 'IMP-C', qty, customer, email, phone, channel)
	  FROM public.imp_lines WHERE sku = 'IMP-A' ORDER BY seq) x;
SELECT count(*) AS payloads_differ
  FROM (SELECT row_number() OVER (ORDER BY id) AS n, o.channel, o.recipient,
               (o.payload::jsonb - 'line_id' - 'sku') AS p
          FROM waitlist.outbox o WHERE o.sku = 'IMP-A' AND o.payload->>'order_ref' <> 'OLD-1') a
  FULL JOIN (SELECT row_number() OVER (ORDER BY id) AS n, o.channel, o.recipient,
                    (o.payload::jsonb - 'line_id' - 'sku') AS p
               FROM waitlist.outbox o WHERE o.sku = 'IMP-C') b USING (n)
 WHERE a.p IS DISTINCT FROM b.p OR a.recipient IS DISTINCT FROM b.recipient;

-- Stock arrives: imported lines are served FIFO at commit, behind OLD-1.
SELECT waitlist.restock('IMP-A', 4);
SELECT order_ref, qty, allocated, status FROM waitlist.line_status WHERE sku = 'IMP-A' ORDER BY id;

-- With free units, a line is confirmed in stock; physical order without seq.
SELECT sku FROM waitlist.upsert_sku('IMP-S', title => 'In stock');
SELECT waitlist.restock('IMP-S', 3);
CREATE TABLE public.imp_stock (order_ref text, sku text, qty int, email text);
COPY public.imp_stock FROM stdin;
S-1	IMP-S	2	s1@example.com
S-2	IMP-S	2	s2@example.com
\.
SELECT waitlist.import_backorders('public.imp_stock') AS imported;
-- S-1 is served at this commit: its confirmation is written by the import,
-- before the ready_to_ship its wave brings; S-2 waits for the next claim.
SELECT kind, payload->>'order_ref' AS order_ref, payload->>'in_stock' AS in_stock
  FROM waitlist.outbox WHERE sku = 'IMP-S' ORDER BY id;
SELECT waitlist.tick() > 0 AS written;
SELECT kind, payload->>'order_ref' AS order_ref, payload->>'in_stock' AS in_stock,
       payload->>'expected_ship_date' AS ship_date
  FROM waitlist.outbox WHERE sku = 'IMP-S' ORDER BY id;

-- A line cancelled (or shipped) before claim() or tick() confirmed it is
-- confirmed first: the customer reads "confirmed", then "cancelled".
SELECT sku FROM waitlist.upsert_sku('IMP-X', title => 'Cancelled early', restock_date => '2026-12-20',
                                    restock_confirmed => true);
CREATE TABLE public.imp_cancel (order_ref text, sku text, qty int, email text);
INSERT INTO public.imp_cancel VALUES ('X-9', 'IMP-X', 1, 'x9@example.com');
SELECT waitlist.import_backorders('public.imp_cancel') AS imported;
SELECT waitlist.cancel_line((SELECT id FROM waitlist.line WHERE order_ref = 'X-9'));
SELECT kind, payload->>'in_stock' AS in_stock, payload->>'expected_ship_date' AS ship_date
  FROM waitlist.outbox WHERE sku = 'IMP-X' ORDER BY id;
SELECT confirm_pending, action_at FROM waitlist.line WHERE order_ref = 'X-9';
SELECT order_ref, allocated, status FROM waitlist.line_status WHERE sku = 'IMP-S' ORDER BY id;

-- An empty source imports nothing.
CREATE TABLE public.imp_empty (order_ref text, sku text, qty int, email text);
SELECT waitlist.import_backorders('public.imp_empty') AS imported;

-- ------------------------------------------------------ backorder errors
-- Each error names the first bad row; nothing of the import is written.
SELECT sku FROM waitlist.upsert_sku('IMP-OLD', status => 'discontinued');
SELECT sku FROM waitlist.upsert_sku('IMP-PRE', title => 'Pre-order only');
SELECT status FROM waitlist.open_preorders('IMP-PRE', 100, 80, '2027-01-10', '2027-01-20');
CREATE TABLE public.imp_bad (order_ref text, sku text, qty bigint, customer text, email text,
                             phone text, channel text);
CREATE FUNCTION public.bad_line(order_ref text, sku text, qty bigint, customer text, email text,
                                phone text, channel text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	TRUNCATE public.imp_bad;
	INSERT INTO public.imp_bad VALUES ('G-1', 'IMP-B', 1, NULL, 'g1@example.com', NULL, NULL),
		(order_ref, sku, qty, customer, email, phone, channel);
	RETURN public.try_import($q$SELECT waitlist.import_backorders('public.imp_bad')$q$);
END
$$;
SELECT count(*) AS lines_before, (SELECT count(*) FROM waitlist.outbox WHERE sku LIKE 'IMP-%') AS messages_before
  FROM waitlist.line_status WHERE sku LIKE 'IMP-%';
SELECT bad_line('X-1', 'NOPE', 1, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line('X-1', 'IMP-OLD', 1, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line('X-1', 'IMP-PRE', 1, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line('X-1', 'IMP-B', 0, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line('X-1', 'IMP-B', -3, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line('X-1', 'IMP-B', NULL, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line('X-1', 'IMP-B', 3000000000, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line(NULL, 'IMP-B', 1, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line('', 'IMP-B', 1, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line(repeat('r', 101), 'IMP-B', 1, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line('X-1', NULL, 1, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line('X-1', repeat('s', 129), 1, NULL, 'x@example.com', NULL, NULL);
SELECT bad_line('X-1', 'IMP-B', 1, repeat('c', 201), 'x@example.com', NULL, NULL);
SELECT bad_line('X-1', 'IMP-B', 1, NULL, 'not-an-address', NULL, NULL);
SELECT bad_line('X-1', 'IMP-B', 1, NULL, NULL, '0800 123', NULL);
SELECT bad_line('X-1', 'IMP-B', 1, 'Nobody', NULL, NULL, NULL);
SELECT bad_line('X-1', 'IMP-B', 1, NULL, 'x@example.com', NULL, 'Amazon!');
SELECT bad_line('X-1', 'IMP-B', 1, NULL, 'x@example.com', NULL, 'nosuchchannel');
-- The same order line twice in the source, or already in waitlist.line.
SELECT bad_line('G-1', 'IMP-B', 1, NULL, 'g1@example.com', NULL, NULL);
SELECT bad_line('R-2', 'IMP-B', 3, NULL, 'x@example.com', NULL, NULL);
-- A duplicate found in a later chunk (20,000 rows each) still names its row.
TRUNCATE public.imp_bad;
INSERT INTO public.imp_bad SELECT 'N-' || g, 'IMP-B', 1, NULL, 'n@example.com', NULL, NULL
  FROM generate_series(1, 25000) g;
INSERT INTO public.imp_bad VALUES ('N-17', 'IMP-B', 1, NULL, 'n@example.com', NULL, NULL);
SELECT try_import($$SELECT waitlist.import_backorders('public.imp_bad')$$);
-- The policy, when enforced, refuses as place_backorder does (IMP-B has no restock date).
SET waitlist.enforce_policy = on;
SELECT bad_line('X-1', 'IMP-B', 1, NULL, 'x@example.com', NULL, NULL);
SELECT try($$SELECT waitlist.place_backorder('X-1', 'IMP-B', 1, NULL, 'x@example.com')$$);
-- ... and follows it row by row: IMP-P takes backorders up to 7 units
-- (max_backorder_units), which the per-call API reaches at the third line.
SELECT sku FROM waitlist.upsert_sku('IMP-P', title => 'Capped', restock_date => '2026-11-27',
                                    restock_confirmed => true);
SELECT sku FROM waitlist.set_policy('IMP-P', max_backorder_units => 7);
CREATE TABLE public.imp_cap (seq int, order_ref text, sku text, qty int, email text);
INSERT INTO public.imp_cap VALUES (1, 'CAP-1', 'IMP-P', 3, 'c1@example.com'),
	(2, 'CAP-2', 'IMP-P', 4, 'c2@example.com'), (3, 'CAP-3', 'IMP-P', 1, 'c3@example.com');
SELECT try_import($$SELECT waitlist.import_backorders('public.imp_cap')$$);
DELETE FROM public.imp_cap WHERE seq = 3;
SELECT waitlist.import_backorders('public.imp_cap') AS imported;
SELECT try($$SELECT waitlist.place_backorder('CAP-3', 'IMP-P', 1, NULL, 'c3@example.com')$$);
RESET waitlist.enforce_policy;
SELECT waitlist.tick() > 0 AS confirmed;	-- the two IMP-P lines' confirmations
SELECT count(*) AS lines_after, (SELECT count(*) FROM waitlist.outbox WHERE sku LIKE 'IMP-%') AS messages_after
  FROM waitlist.line_status WHERE sku LIKE 'IMP-%';
-- The source itself.
SELECT try_import($$SELECT waitlist.import_backorders(NULL)$$);
CREATE TABLE public.imp_nocol (order_ref text, sku text, email text);
SELECT try_import($$SELECT waitlist.import_backorders('public.imp_nocol')$$);
CREATE VIEW public.imp_view AS SELECT order_ref, sku, qty, email FROM public.imp_stock;
SELECT try_import($$SELECT waitlist.import_backorders('public.imp_view')$$);

-- ------------------------------------------------------------- sign-ups
SELECT waitlist.subscribe('IMP-B', 'early@example.com') > 0 AS signed_up;
CREATE TABLE public.imp_signups (sku text, email text, phone text, customer text);
COPY public.imp_signups FROM stdin;
IMP-B	una@example.com	\N	Una
IMP-B	EARLY@example.com	+14155550200	Early again
IMP-B	\N	+14155550201	Vic
IMP-B	vic@example.com	+14155550201	Vic again
IMP-B	\N	+14155550200	Early by phone
IMP-S	una@example.com	\N	Una elsewhere
IMP-B	wes@example.com	\N	Wes
\.
SELECT waitlist.import_signups('public.imp_signups') AS new_signups;
SELECT s.sku, u.pos, u.email, u.phone, u.customer,
       EXISTS (SELECT 1 FROM waitlist.unconfirmed_signup q WHERE q.id = u.id AND q.sku = u.sku) AS confirm_pending
  FROM waitlist.subscriber u JOIN waitlist.sku s ON s.sku = u.sku WHERE s.sku LIKE 'IMP-%' ORDER BY s.sku, u.pos;
SELECT sku, sub_tail, sub_waiting FROM waitlist.sku WHERE sku IN ('IMP-B', 'IMP-S') ORDER BY sku;
-- Importing the same sign-ups again keeps every place.
SELECT waitlist.import_signups('public.imp_signups') AS new_signups;
SELECT sku, sub_tail, sub_waiting FROM waitlist.sku WHERE sku IN ('IMP-B', 'IMP-S') ORDER BY sku;
-- The confirmations are written by the next claim or tick, as for subscribe.
SELECT waitlist.tick() > 0 AS confirmations_written;
SELECT sku, channel, recipient FROM waitlist.outbox WHERE kind = 'waitlist_joined' AND sku LIKE 'IMP-%'
 ORDER BY sku, recipient, channel;
-- A SKU with free units nobody was told about: the allocator runs at the
-- import's commit and the first two of three new sign-ups hear.
SELECT sku FROM waitlist.upsert_sku('IMP-F', title => 'Two spare');
SELECT waitlist.restock('IMP-F', 2);
CREATE TABLE public.imp_signups_f (seq bigint, sku text, email text);
INSERT INTO public.imp_signups_f VALUES (2, 'IMP-F', 'f2@example.com'), (1, 'IMP-F', 'f1@example.com'),
	(3, 'IMP-F', 'f3@example.com');
SELECT waitlist.import_signups('public.imp_signups_f') AS new_signups;
SELECT email, status FROM waitlist.subscriber_status WHERE sku = 'IMP-F' ORDER BY id;

-- ------------------------------------------------------- sign-up errors
CREATE TABLE public.imp_bad_signups (sku text, email text, phone text, customer text);
CREATE FUNCTION public.bad_signup(sku text, email text, phone text, customer text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	TRUNCATE public.imp_bad_signups;
	INSERT INTO public.imp_bad_signups VALUES ('IMP-B', 'ok1@example.com', NULL, NULL),
		(sku, email, phone, customer);
	RETURN public.try_import($q$SELECT waitlist.import_signups('public.imp_bad_signups')$q$);
END
$$;
SELECT count(*) AS signups_before FROM waitlist.subscriber_status WHERE sku LIKE 'IMP-%';
SELECT bad_signup('NOPE', 'x@example.com', NULL, NULL);
SELECT bad_signup('IMP-OLD', 'x@example.com', NULL, NULL);
SELECT bad_signup('IMP-PRE', 'x@example.com', NULL, NULL);
SELECT bad_signup(NULL, 'x@example.com', NULL, NULL);
SELECT bad_signup('IMP-B', NULL, NULL, 'Nobody');
SELECT bad_signup('IMP-B', 'x@@example.com', NULL, NULL);
SELECT bad_signup('IMP-B', NULL, '+0123456789', NULL);
SELECT bad_signup('IMP-B', NULL, '+1415555010012345', NULL);
SELECT bad_signup('IMP-B', 'x@example.com', NULL, repeat('n', 201));
SELECT count(*) AS signups_after FROM waitlist.subscriber_status WHERE sku LIKE 'IMP-%';
CREATE TABLE public.imp_nosku (email text);
SELECT try_import($$SELECT waitlist.import_signups('public.imp_nosku')$$);

SELECT * FROM import_invariants() WHERE sku LIKE 'IMP-%';
