-- test/soak/setup.sql: the soak's SKUs and the wrappers its pgbench scripts
-- call (test/soak.sh runs it once, as a superuser, in a fresh database).
--
-- Six hot SKUs: B1-B3 take backorders (a confirmed restock a week away,
-- listed on the own store and Amazon, so availability_changed goes to the
-- feed), T1 too, its stock following the app's own inventory table
-- soak.stock (three locations, track_inventory), P1 and P2 take pre-orders against a small plan (limit 200 units;
-- P1 authorizes, P2 captures a 20 % deposit), so the limit is reached
-- within seconds and cancellations reopen it.
--
-- Every wrapper calls one waitlist function and catches only the refusals
-- the design documents for that call in that workload (the SQLSTATE is
-- recorded in soak.refusal, in the same transaction, so a transaction that
-- is rolled back or retried records nothing).  Any other error, including
-- 40001 and 40P01 (pgbench retries those), goes through to pgbench.

SELECT waitlist.upsert_sku(s, title => 'Soak ' || s, restock_date => current_date + 7,
						   restock_confirmed => true)
  FROM unnest(ARRAY['B1', 'B2', 'B3']) s;
SELECT waitlist.set_listings(s, ARRAY['dtc', 'amazon']) FROM unnest(ARRAY['B1', 'B2', 'B3']) s;
SELECT waitlist.restock(s, 20) FROM unnest(ARRAY['B1', 'B2', 'B3']) s;

SELECT waitlist.upsert_sku('T1', title => 'Soak T1', restock_date => current_date + 7,
						   restock_confirmed => true);
CREATE SCHEMA soak;
CREATE TABLE soak.stock (sku text NOT NULL, loc integer NOT NULL, qty integer NOT NULL CHECK (qty >= 0),
						 PRIMARY KEY (sku, loc));
INSERT INTO soak.stock SELECT 'T1', loc, 10 FROM generate_series(1, 3) loc;
SELECT waitlist.track_inventory('soak.stock', 'sku', 'qty');

SELECT waitlist.upsert_sku('P1', title => 'Soak P1');
SELECT waitlist.open_preorders('P1', 250, 80, current_date + 30, current_date + 35);
SELECT waitlist.upsert_sku('P2', title => 'Soak P2');
SELECT waitlist.open_preorders('P2', 250, 80, current_date + 30, current_date + 35,
							   payment => 'deposit', deposit_pct => 20);
SELECT waitlist.set_listings('P2', ARRAY['dtc']);
-- The soak drains every message: a wave's email goes out with its SMS, not
-- 30 minutes later (sql/32_sms_first tests the delay).  Orders still skip
-- the back_in_stock messages not yet claimed (check.sql: none of those is
-- ever delivered).
SELECT waitlist.set_schedule(s, email_delay => '0') FROM unnest(ARRAY['B1', 'B2', 'B3', 'T1', 'P1', 'P2']) s;

-- One row per expected refusal (op, SQLSTATE); unlogged, insert-only.
CREATE UNLOGGED TABLE soak.refusal (op text NOT NULL, code text NOT NULL);

-- refused(op): record the refusal being handled (call from a handler only)
CREATE FUNCTION soak.refused(p_op text, p_code text) RETURNS bigint
LANGUAGE sql AS $$
	INSERT INTO soak.refusal VALUES (p_op, p_code);
	SELECT 0::bigint;
$$;

-- A contact for call r: an email always, a phone for one call in four.
CREATE FUNCTION soak.email(r bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT 'c' || r || '@example.com'
$$;
CREATE FUNCTION soak.phone(r bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN r % 4 = 0 THEN '+1555' || lpad((r % 10000000)::text, 7, '0') END
$$;

-- A sign-up; WL012 while a pre-order SKU still has room.  r repeats (per
-- client, from a small range): signing up again keeps the place.
CREATE FUNCTION soak.subscribe(p_sku text, r bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	RETURN waitlist.subscribe(p_sku, soak.email(r), soak.phone(r), 'Customer ' || r);
EXCEPTION WHEN SQLSTATE 'WL012' THEN
	RETURN soak.refused('subscribe', SQLSTATE);
END $$;

-- A backorder; WL013 where the policy refuses it (Amazon takes no
-- backorders once the SKU is out of stock; a pre-order SKU at its limit),
-- WL012 on a pre-order SKU that still has room.
CREATE FUNCTION soak.backorder(p_sku text, p_qty integer, p_channel text, r bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	RETURN waitlist.place_backorder('o' || r, p_sku, p_qty, 'Customer ' || r,
									soak.email(r), soak.phone(r), p_channel);
EXCEPTION WHEN SQLSTATE 'WL012' OR SQLSTATE 'WL013' THEN
	RETURN soak.refused('backorder', SQLSTATE);
END $$;

-- A pre-order; WL010 at the limit.
CREATE FUNCTION soak.preorder(p_sku text, p_qty integer, r bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	RETURN waitlist.place_preorder('p' || r, p_sku, p_qty, 'Customer ' || r,
								   soak.email(r), soak.phone(r),
								   unit_price => 49.00, currency => 'USD');
EXCEPTION WHEN SQLSTATE 'WL010' THEN
	RETURN soak.refused('preorder', SQLSTATE);
END $$;

-- A cart of two backorder SKUs and, when with_preorder, a P1 pre-order:
-- WL010 (the pre-order line at the limit) or WL013 (the policy) refuse the
-- whole cart.
CREATE FUNCTION soak.cart(p_a text, p_b text, with_preorder boolean, r bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	lines jsonb := jsonb_build_array(jsonb_build_object('sku', p_a, 'qty', 1 + r % 2),
									 jsonb_build_object('sku', p_b, 'qty', 1));
BEGIN
	IF with_preorder THEN
		lines := lines || jsonb_build_array(jsonb_build_object('sku', 'P1', 'qty', 1,
			'unit_price', 49.00, 'currency', 'USD'));
	END IF;
	RETURN (SELECT count(*) FROM waitlist.place_order('k' || r, 'Customer ' || r, soak.email(r),
													  soak.phone(r), 'dtc', lines));
EXCEPTION WHEN SQLSTATE 'WL010' OR SQLSTATE 'WL013' THEN
	RETURN soak.refused('cart', SQLSTATE);
END $$;

-- Cancel a waiting line of the SKU picked at random (none: nothing to
-- do); WL004 when another client shipped or cancelled it first.
CREATE FUNCTION soak.cancel(p_sku text, r double precision) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	line_id bigint;
BEGIN
	SELECT l.id INTO line_id FROM waitlist.line l
	 WHERE l.sku = p_sku AND l.state = 'waiting'
	 ORDER BY l.pos_end
	OFFSET floor(r * (SELECT count(*) FROM waitlist.line w
					   WHERE w.sku = p_sku AND w.state = 'waiting')) LIMIT 1;
	IF line_id IS NULL THEN
		RETURN soak.refused('cancel', 'none');
	END IF;
	RETURN waitlist.cancel_line(p_sku, line_id);
EXCEPTION WHEN SQLSTATE 'WL004' THEN
	RETURN soak.refused('cancel', SQLSTATE);
END $$;

-- Ship one of the oldest fully allocated lines of the SKU; WL004 (another
-- client shipped or cancelled it), WL005 (a stock count took units back
-- meanwhile), WL009 (no stock left for it).
CREATE FUNCTION soak.ship(p_sku text, r integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	line_id bigint;
BEGIN
	SELECT l.id INTO line_id FROM waitlist.line l JOIN waitlist.sku s ON s.sku = l.sku
	 WHERE s.sku = p_sku AND l.state = 'waiting' AND l.pos_end <= s.paid_served
	 ORDER BY l.pos_end OFFSET r LIMIT 1;
	IF line_id IS NULL THEN
		RETURN soak.refused('ship', 'none');
	END IF;
	PERFORM waitlist.ship_line(p_sku, line_id);
	RETURN line_id;
EXCEPTION WHEN SQLSTATE 'WL004' OR SQLSTATE 'WL005' OR SQLSTATE 'WL009' THEN
	RETURN soak.refused('ship', SQLSTATE);
END $$;

-- Leave the list: a waiting sign-up of the SKU picked at random.
CREATE FUNCTION soak.unsubscribe(p_sku text, r double precision) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	sub_id bigint;
BEGIN
	SELECT u.id INTO sub_id FROM waitlist.subscriber u
	 WHERE u.sku = p_sku AND u.state = 'waiting' AND u.pos >= floor(r * (SELECT sub_tail FROM waitlist.sku WHERE sku = p_sku))
	 ORDER BY u.pos LIMIT 1;
	IF sub_id IS NULL THEN
		RETURN soak.refused('unsubscribe', 'none');
	END IF;
	IF NOT waitlist.unsubscribe(p_sku, sub_id) THEN
		RETURN soak.refused('unsubscribe', 'gone');
	END IF;
	RETURN sub_id;
END $$;

-- Units arrive at or leave a location of the app's inventory table (the
-- trigger moves T1's units on hand); 23514 when the location has fewer,
-- 22003 when that would take T1 below zero units on hand (shipments and
-- stock counts lower it too, without touching the table).
CREATE FUNCTION soak.move_stock(p_loc integer, delta integer) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE soak.stock SET qty = qty + delta WHERE sku = 'T1' AND loc = p_loc;
	RETURN delta;
EXCEPTION WHEN SQLSTATE '22003' OR SQLSTATE '23514' THEN
	RETURN soak.refused('move_stock', SQLSTATE);
END $$;

-- A stock count: the units on hand moved by delta (not below zero).  Below
-- the allocated units, the latest allocations give units back.
CREATE FUNCTION soak.count_stock(p_sku text, delta integer) RETURNS bigint
LANGUAGE sql AS $$
	SELECT waitlist.set_on_hand(p_sku, greatest(0, on_hand + delta))
	  FROM waitlist.sku WHERE sku = p_sku
$$;

-- The pgbench client backends (application_name pgbench): one of those in
-- the middle of a statement or a transaction, else any; terminated.
CREATE FUNCTION soak.terminate_client() RETURNS integer
LANGUAGE sql AS $$
	SELECT pid FROM (
		SELECT pid, pg_terminate_backend(pid) AS done FROM (
			SELECT pid FROM pg_stat_activity
			 WHERE application_name = 'pgbench' AND backend_type = 'client backend'
			   AND pid <> pg_backend_pid()
			 ORDER BY state = 'idle', random() LIMIT 1) c) t
	 WHERE done
$$;

-- A relay's connection (role soak_relay) picked at random: terminated.
CREATE FUNCTION soak.terminate_relay() RETURNS integer
LANGUAGE sql AS $$
	SELECT pid FROM (
		SELECT pid, pg_terminate_backend(pid) AS done FROM (
			SELECT pid FROM pg_stat_activity
			 WHERE usename = 'soak_relay' AND backend_type = 'client backend'
			 ORDER BY random() LIMIT 1) c) t
	 WHERE done
$$;
