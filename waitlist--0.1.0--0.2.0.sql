/*
 * waitlist--0.1.0--0.2.0.sql: upgrade from 0.1.0 (ALTER EXTENSION waitlist UPDATE).
 *
 * Leaves the database exactly as a fresh install of 0.2.0 would: the same
 * objects, definitions, comments and privileges (test/upgrade.sh compares
 * the catalogs).  Every object is schema-qualified.
 */

\echo Use "ALTER EXTENSION waitlist UPDATE TO '0.2.0'" to load this file. \quit

/* payload_json (0.2.0): dates and timestamps in ISO 8601 whatever DateStyle. */
COMMENT ON FUNCTION waitlist.payload_json(VARIADIC "any") IS
	'a JSON object from text keys and values (integers, numerics and booleans bare, dates as YYYY-MM-DD and timestamps in ISO 8601, timestamptz in UTC, whatever DateStyle and TimeZone, the rest as their text output in strings, NULL as null); builds message payloads';

/* ------------------------------------------------------------------------
 * The clock (0.2.0): now(), unless a test set waitlist.test_now.  Every
 * timestamp column's default and every time-based statement read it.
 * ---------------------------------------------------------------------- */
CREATE FUNCTION waitlist.now() RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'waitlist_now'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION waitlist.now() IS
	'the extension''s clock: now(), or the moment in waitlist.test_now (superuser, tests only) when set';
REVOKE ALL ON FUNCTION waitlist.now() FROM PUBLIC;
ALTER TABLE waitlist.sku ALTER COLUMN created_at SET DEFAULT waitlist.now();
ALTER TABLE waitlist.sku ALTER COLUMN updated_at SET DEFAULT waitlist.now();
ALTER TABLE waitlist.line ALTER COLUMN created_at SET DEFAULT waitlist.now();
ALTER TABLE waitlist.subscriber ALTER COLUMN created_at SET DEFAULT waitlist.now();
ALTER TABLE waitlist.batch ALTER COLUMN created_at SET DEFAULT waitlist.now();
ALTER TABLE waitlist.outbox ALTER COLUMN due_at SET DEFAULT waitlist.now();
ALTER TABLE waitlist.outbox ALTER COLUMN created_at SET DEFAULT waitlist.now();
ALTER TABLE waitlist.tracked_inventory ALTER COLUMN created_at SET DEFAULT waitlist.now();
ALTER TABLE waitlist.channel_rule ALTER COLUMN updated_at SET DEFAULT waitlist.now();
ALTER TABLE waitlist.availability ALTER COLUMN changed_at SET DEFAULT waitlist.now();
ALTER TABLE waitlist.availability ALTER COLUMN checked_on SET DEFAULT (waitlist.now())::date;

CREATE OR REPLACE FUNCTION waitlist.purge_delivered(older_than interval DEFAULT '7 days') RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH d AS (
		DELETE FROM waitlist.outbox o
		 WHERE (o.state OPERATOR(pg_catalog.=) 'delivered'
				AND o.delivered_at OPERATOR(pg_catalog.<) (waitlist.now() OPERATOR(pg_catalog.-) older_than))
			OR (o.state OPERATOR(pg_catalog.=) ANY (ARRAY['skipped', 'suppressed'])
				AND o.due_at OPERATOR(pg_catalog.<) (waitlist.now() OPERATOR(pg_catalog.-) older_than))
		RETURNING 1)
	SELECT pg_catalog.count(*) FROM d
$$;
/* ------------------------------------------------------------------------
 * Message schedules per SKU (0.2.0): NULL columns follow the waitlist.*
 * settings.
 * ---------------------------------------------------------------------- */
ALTER TABLE waitlist.sku ADD COLUMN status_interval interval;
ALTER TABLE waitlist.sku ADD COLUMN midwait_fraction numeric(3, 2);
ALTER TABLE waitlist.sku ADD COLUMN imminent_days integer;
ALTER TABLE waitlist.sku ADD COLUMN email_delay interval;
ALTER TABLE waitlist.sku ADD COLUMN eta_to_signups boolean;
COMMENT ON COLUMN waitlist.sku.status_interval IS 'schedule: how often a waiting backorder hears backorder_status (NULL: waitlist.status_interval)';
COMMENT ON COLUMN waitlist.sku.midwait_fraction IS 'schedule: where between order and expected ship date preorder_midwait goes out (NULL: waitlist.midwait_fraction)';
COMMENT ON COLUMN waitlist.sku.imminent_days IS 'schedule: days before the expected ship date that shipping_imminent goes out (NULL: waitlist.imminent_days)';
COMMENT ON COLUMN waitlist.sku.email_delay IS 'schedule: the email of a back_in_stock wave waits this long after the SMS, for a sign-up with both (NULL: waitlist.email_delay)';
COMMENT ON COLUMN waitlist.sku.eta_to_signups IS 'schedule: sign-ups hear restock date changes too (NULL: waitlist.eta_to_signups)';

CREATE FUNCTION waitlist.set_schedule(sku text, status_interval interval DEFAULT NULL,
									  midwait_fraction numeric DEFAULT NULL,
									  imminent_days integer DEFAULT NULL,
									  email_delay interval DEFAULT NULL,
									  eta_to_signups boolean DEFAULT NULL)
RETURNS waitlist.sku
AS 'MODULE_PATHNAME', 'waitlist_set_schedule'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.set_schedule(text, interval, numeric, integer, interval, boolean) IS
	'the SKU''s own message schedule (weekly status, mid-wait, shipping imminent, email after SMS, date changes to sign-ups); a NULL argument means the waitlist.* setting applies';
REVOKE ALL ON FUNCTION waitlist.set_schedule(text, interval, numeric, integer, interval, boolean) FROM PUBLIC;

CREATE FUNCTION waitlist.post_update(sku text, message text) RETURNS bigint
AS 'MODULE_PATHNAME', 'waitlist_post_update'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.post_update(text, text) IS
	'the merchant''s production news: one production_update message to every waiting line of the SKU (at most 2000 characters); returns the lines told';
REVOKE ALL ON FUNCTION waitlist.post_update(text, text) FROM PUBLIC;

/* ------------------------------------------------------------------------
 * Scheduled messages (0.2.0): weekly status rounds per SKU, the pre-order
 * lines' mid-wait and shipping-imminent notes, passed dates.
 * ---------------------------------------------------------------------- */
ALTER TABLE waitlist.sku ADD COLUMN status_round integer;
ALTER TABLE waitlist.sku ADD COLUMN next_status_at timestamptz;
ALTER TABLE waitlist.sku ADD COLUMN passed_restock date;
ALTER TABLE waitlist.sku ADD COLUMN passed_ships date;
ALTER TABLE waitlist.sku ADD COLUMN updates_posted integer;
COMMENT ON COLUMN waitlist.sku.status_round IS 'backorder_status rounds done (NULL: none yet): every waiting backorder hears one per round (keys the messages)';
COMMENT ON COLUMN waitlist.sku.next_status_at IS 'when the next backorder_status round is due; NULL while no backorder waits';
COMMENT ON COLUMN waitlist.sku.passed_restock IS 'the confirmed restock date whose passing tick() has handled (date_passed, date_slipped), so a date alerts once';
COMMENT ON COLUMN waitlist.sku.passed_ships IS 'the pre-order ship date whose passing tick() has handled, so a date alerts once';
COMMENT ON COLUMN waitlist.sku.updates_posted IS 'production updates posted (NULL: none yet; waitlist.post_update); keys the messages';
CREATE INDEX sku_status_due ON waitlist.sku (next_status_at) WHERE next_status_at IS NOT NULL;
/* The earliest date of each SKU still to watch (confirmed restock date, ship date). */
CREATE INDEX sku_date_watch ON waitlist.sku
	(LEAST(CASE WHEN restock_confirmed AND restock_date IS DISTINCT FROM passed_restock THEN restock_date END,
		   CASE WHEN ships_on IS DISTINCT FROM passed_ships THEN ships_on END))
	WHERE (restock_confirmed AND restock_date IS DISTINCT FROM passed_restock)
	   OR ships_on IS DISTINCT FROM passed_ships;
ALTER TABLE waitlist.line ADD COLUMN next_note_at timestamptz;
COMMENT ON COLUMN waitlist.line.next_note_at IS 'pre-orders: when tick() next looks at the line for preorder_midwait or shipping_imminent; NULL when none is left';
CREATE INDEX line_note ON waitlist.line (next_note_at) WHERE next_note_at IS NOT NULL;
/* Due lines are taken in (action_at, id) order, a chunk at a time, each after the last. */
DROP INDEX waitlist.line_action;
CREATE INDEX line_action ON waitlist.line (action_at, id) WHERE action_at IS NOT NULL;
/* Backorders already waiting get their first round a status interval from now. */
UPDATE waitlist.sku s SET next_status_at = pg_catalog.now() OPERATOR(pg_catalog.+) interval '7 days'
 WHERE EXISTS (SELECT 1 FROM waitlist.line l WHERE l.sku_id OPERATOR(pg_catalog.=) s.id
				 AND l.kind OPERATOR(pg_catalog.=) 'backorder' AND l.state OPERATOR(pg_catalog.=) 'waiting');

/* ------------------------------------------------------------------------
 * Batches that reach a whole queue (0.2.0): restock date changes to
 * sign-ups (eta_changed) and the lines a restock wave left unfilled
 * (still_waiting), expanded in chunks.
 * ---------------------------------------------------------------------- */
ALTER TABLE waitlist.batch DROP CONSTRAINT batch_kind_check;
ALTER TABLE waitlist.batch ADD CONSTRAINT batch_kind_check
	CHECK (kind OPERATOR(pg_catalog.=) ANY (ARRAY['allocated', 'back_in_stock', 'sold_out_again',
												  'eta_changed', 'still_waiting']));
ALTER TABLE waitlist.batch ADD COLUMN prev_date date;
ALTER TABLE waitlist.batch ADD COLUMN new_date date;
COMMENT ON COLUMN waitlist.batch.scan_lo IS 'where expansion resumes: eta_changed and still_waiting batches are expanded a chunk of positions at a time';
COMMENT ON COLUMN waitlist.batch.prev_date IS 'eta_changed: the confirmed restock date sign-ups knew before the change (NULL: none)';
COMMENT ON COLUMN waitlist.batch.new_date IS 'eta_changed: the confirmed restock date after the change (NULL: none any more)';

/* ------------------------------------------------------------------------
 * Shipments with tracking (0.2.0): ship_line takes the carrier, tracking
 * number and URL, kept on the line.  The id-only form gains the arguments
 * by replacement; the roles that could run the old one keep the right to
 * run the new one.
 * ---------------------------------------------------------------------- */
ALTER TABLE waitlist.line ADD COLUMN carrier text;
ALTER TABLE waitlist.line ADD COLUMN tracking_number text;
ALTER TABLE waitlist.line ADD COLUMN tracking_url text;
COMMENT ON COLUMN waitlist.line.carrier IS 'the carrier ship_line was given (NULL: none given)';
COMMENT ON COLUMN waitlist.line.tracking_number IS 'the tracking number ship_line was given';
COMMENT ON COLUMN waitlist.line.tracking_url IS 'the tracking page ship_line was given (http or https)';
SELECT pg_catalog.set_config('waitlist_upgrade.ship_line_grantees',
		coalesce(pg_catalog.string_agg(pg_catalog.quote_ident(a.grantee::regrole::text), ','), ''), true)
  FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
 WHERE p.oid OPERATOR(pg_catalog.=) 'waitlist.ship_line(bigint)'::pg_catalog.regprocedure
   AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
   AND a.grantee OPERATOR(pg_catalog.<>) 0
   AND a.grantee OPERATOR(pg_catalog.<>) p.proowner;
DROP FUNCTION waitlist.ship_line(bigint);
CREATE FUNCTION waitlist.ship_line(line_id bigint, carrier text DEFAULT NULL,
									tracking_number text DEFAULT NULL, tracking_url text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'waitlist_ship_line'
	LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.ship_line(bigint, text, text, text) IS
	'ship a fully allocated line: its units leave stock and a shipped message is queued with the carrier, tracking number and URL when given and how long the order waited';
REVOKE ALL ON FUNCTION waitlist.ship_line(bigint, text, text, text) FROM PUBLIC;
DO $$
DECLARE
	grantees text := pg_catalog.current_setting('waitlist_upgrade.ship_line_grantees');
BEGIN
	IF grantees OPERATOR(pg_catalog.<>) '' THEN
		EXECUTE 'GRANT EXECUTE ON FUNCTION waitlist.ship_line(bigint, text, text, text) TO ' OPERATOR(pg_catalog.||) grantees;
	END IF;
END
$$;

/* ------------------------------------------------------------------------
 * SMS first, email later (0.2.0): an order skips the back_in_stock
 * messages still pending for its email or phone (state 'skipped').
 * ---------------------------------------------------------------------- */
ALTER TABLE waitlist.outbox DROP CONSTRAINT outbox_state_check;
ALTER TABLE waitlist.outbox ADD CONSTRAINT outbox_state_check
	CHECK (state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'leased', 'delivered', 'dead', 'skipped', 'suppressed']));
/* The back_in_stock messages an order skips (its email or phone, on its SKU). */
CREATE INDEX outbox_waves_pending ON waitlist.outbox (sku, pg_catalog.lower(recipient))
	WHERE state OPERATOR(pg_catalog.=) 'pending'
	  AND kind OPERATOR(pg_catalog.=) ANY (ARRAY['back_in_stock', 'back_in_stock_reminder']);
COMMENT ON FUNCTION waitlist.purge_delivered(interval) IS
	'delete delivered messages older than the interval (and skipped and suppressed ones that were due before it); returns how many';

/* ------------------------------------------------------------------------
 * Keyed by the SKU code (0.2.0): the code is the key of every SKU table and
 * part of every primary and unique key, the foreign keys point at
 * sku(sku), so Citus can distribute and colocate the tables by it.  The
 * child tables' sku_id (the SKU's number) becomes the column sku (its
 * code), in place: the rows are rewritten once, with the code looked up
 * through the old key, and keep their order of columns.
 * ---------------------------------------------------------------------- */
CREATE FUNCTION waitlist.upgrade_sku_code(id bigint) RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$ SELECT s.sku FROM waitlist.sku s WHERE s.id OPERATOR(pg_catalog.=) upgrade_sku_code.id $$;

/* The views read sku_id: they join nothing while it changes (grants and comments stay). */
CREATE OR REPLACE VIEW waitlist.line_status AS
SELECT l.id, s.sku, l.kind, l.order_ref, l.customer, l.qty,
	   CASE l.state
		   WHEN 'shipped' THEN l.qty
		   WHEN 'cancelled' THEN 0
		   ELSE GREATEST(0, LEAST(l.qty::bigint,
					s.paid_served OPERATOR(pg_catalog.-) l.pos_start))
	   END AS allocated,
	   CASE
		   WHEN l.state OPERATOR(pg_catalog.<>) 'waiting' THEN l.state
		   WHEN s.paid_served OPERATOR(pg_catalog.>=) l.pos_end THEN 'allocated'
		   WHEN s.paid_served OPERATOR(pg_catalog.>) l.pos_start THEN 'partially_allocated'
		   ELSE 'waiting'
	   END AS status,
	   l.created_at, l.cancelled_at, l.shipped_at,
	   l.channel, l.payment_mode, l.payment_state, l.currency, l.amount, l.captured, l.refunded
  FROM waitlist.line l
  JOIN waitlist.sku s ON false;
CREATE OR REPLACE VIEW waitlist.subscriber_status AS
SELECT sub.id, s.sku, sub.email, sub.phone, sub.customer,
	   CASE
		   WHEN sub.state OPERATOR(pg_catalog.=) 'unsubscribed' THEN 'unsubscribed'
		   WHEN sub.pos OPERATOR(pg_catalog.<) s.sub_served THEN 'notified'
		   ELSE 'waiting'
	   END AS status,
	   sub.created_at, sub.unsubscribed_at
  FROM waitlist.subscriber sub
  JOIN waitlist.sku s ON false;

ALTER TABLE waitlist.line DROP CONSTRAINT line_sku_id_fkey;
ALTER TABLE waitlist.subscriber DROP CONSTRAINT subscriber_sku_id_fkey;
ALTER TABLE waitlist.batch DROP CONSTRAINT batch_sku_id_fkey;
ALTER TABLE waitlist.preorder_channel DROP CONSTRAINT preorder_channel_sku_id_fkey;
ALTER TABLE waitlist.availability DROP CONSTRAINT availability_sku_id_fkey;

ALTER TABLE waitlist.line ALTER COLUMN sku_id TYPE text USING waitlist.upgrade_sku_code(sku_id);
ALTER TABLE waitlist.line RENAME COLUMN sku_id TO sku;
ALTER TABLE waitlist.subscriber ALTER COLUMN sku_id TYPE text USING waitlist.upgrade_sku_code(sku_id);
ALTER TABLE waitlist.subscriber RENAME COLUMN sku_id TO sku;
ALTER TABLE waitlist.batch ALTER COLUMN sku_id TYPE text USING waitlist.upgrade_sku_code(sku_id);
ALTER TABLE waitlist.batch RENAME COLUMN sku_id TO sku;
ALTER TABLE waitlist.preorder_channel ALTER COLUMN sku_id TYPE text USING waitlist.upgrade_sku_code(sku_id);
ALTER TABLE waitlist.preorder_channel RENAME COLUMN sku_id TO sku;
ALTER TABLE waitlist.availability ALTER COLUMN sku_id TYPE text USING waitlist.upgrade_sku_code(sku_id);
ALTER TABLE waitlist.availability RENAME COLUMN sku_id TO sku;
DROP FUNCTION waitlist.upgrade_sku_code(bigint);

ALTER TABLE waitlist.line RENAME CONSTRAINT line_sku_id_order_ref_key TO line_sku_order_ref_key;
ALTER TABLE waitlist.subscriber RENAME CONSTRAINT subscriber_sku_id_pos_key TO subscriber_sku_pos_key;

ALTER TABLE waitlist.sku DROP CONSTRAINT sku_pkey;
ALTER TABLE waitlist.sku DROP CONSTRAINT sku_sku_key;
ALTER TABLE waitlist.sku ADD PRIMARY KEY (sku);
COMMENT ON COLUMN waitlist.sku.sku IS 'the SKU code: the key of every SKU table (their distribution column on Citus)';
COMMENT ON COLUMN waitlist.sku.id IS 'a number for the SKU (cluster-unique, waitlist.next_id), used in message keys; the tables are keyed by the code';
ALTER TABLE waitlist.line DROP CONSTRAINT line_pkey;
ALTER TABLE waitlist.line ADD PRIMARY KEY (id, sku);
ALTER TABLE waitlist.subscriber DROP CONSTRAINT subscriber_pkey;
ALTER TABLE waitlist.subscriber ADD PRIMARY KEY (id, sku);
ALTER TABLE waitlist.batch DROP CONSTRAINT batch_pkey;
ALTER TABLE waitlist.batch ADD PRIMARY KEY (id, sku);

ALTER TABLE waitlist.line ADD FOREIGN KEY (sku) REFERENCES waitlist.sku (sku);
ALTER TABLE waitlist.subscriber ADD FOREIGN KEY (sku) REFERENCES waitlist.sku (sku);
ALTER TABLE waitlist.batch ADD FOREIGN KEY (sku) REFERENCES waitlist.sku (sku);
ALTER TABLE waitlist.preorder_channel ADD FOREIGN KEY (sku) REFERENCES waitlist.sku (sku);
ALTER TABLE waitlist.availability ADD FOREIGN KEY (sku) REFERENCES waitlist.sku (sku);

CREATE OR REPLACE VIEW waitlist.line_status AS
SELECT l.id, s.sku, l.kind, l.order_ref, l.customer, l.qty,
	   CASE l.state
		   WHEN 'shipped' THEN l.qty
		   WHEN 'cancelled' THEN 0
		   ELSE GREATEST(0, LEAST(l.qty::bigint,
					s.paid_served OPERATOR(pg_catalog.-) l.pos_start))
	   END AS allocated,
	   CASE
		   WHEN l.state OPERATOR(pg_catalog.<>) 'waiting' THEN l.state
		   WHEN s.paid_served OPERATOR(pg_catalog.>=) l.pos_end THEN 'allocated'
		   WHEN s.paid_served OPERATOR(pg_catalog.>) l.pos_start THEN 'partially_allocated'
		   ELSE 'waiting'
	   END AS status,
	   l.created_at, l.cancelled_at, l.shipped_at,
	   l.channel, l.payment_mode, l.payment_state, l.currency, l.amount, l.captured, l.refunded
  FROM waitlist.line l
  JOIN waitlist.sku s ON s.sku OPERATOR(pg_catalog.=) l.sku;
CREATE OR REPLACE VIEW waitlist.subscriber_status AS
SELECT sub.id, s.sku, sub.email, sub.phone, sub.customer,
	   CASE
		   WHEN sub.state OPERATOR(pg_catalog.=) 'unsubscribed' THEN 'unsubscribed'
		   WHEN sub.pos OPERATOR(pg_catalog.<) s.sub_served THEN 'notified'
		   ELSE 'waiting'
	   END AS status,
	   sub.created_at, sub.unsubscribed_at
  FROM waitlist.subscriber sub
  JOIN waitlist.sku s ON s.sku OPERATOR(pg_catalog.=) sub.sku;

/* ------------------------------------------------------------------------
 * Cluster-unique ids (0.2.0): every id column's default is
 * waitlist.next_id(its sequence), the node's waitlist.node_id in the top
 * bits, so the nodes of a Citus cluster make ids that never collide
 * without asking each other.  Runs as the inserting role (the extension's
 * owner inside the API); granted to nobody.
 * ---------------------------------------------------------------------- */
CREATE FUNCTION waitlist.next_id(seq regclass) RETURNS bigint
	AS 'MODULE_PATHNAME', 'waitlist_next_id'
	LANGUAGE C CALLED ON NULL INPUT VOLATILE;
COMMENT ON FUNCTION waitlist.next_id(regclass) IS
	'the next id from a sequence, cluster-unique: waitlist.node_id * 2^48 + nextval(seq); the default of every id column';
ALTER TABLE waitlist.sku ALTER COLUMN id SET DEFAULT waitlist.next_id('waitlist.sku_id_seq'::regclass);
ALTER TABLE waitlist.line ALTER COLUMN id SET DEFAULT waitlist.next_id('waitlist.line_id_seq'::regclass);
ALTER TABLE waitlist.subscriber ALTER COLUMN id SET DEFAULT waitlist.next_id('waitlist.subscriber_id_seq'::regclass);
ALTER TABLE waitlist.batch ALTER COLUMN id SET DEFAULT waitlist.next_id('waitlist.batch_id_seq'::regclass);
ALTER TABLE waitlist.outbox ALTER COLUMN id SET DEFAULT waitlist.next_id('waitlist.outbox_id_seq'::regclass);
REVOKE ALL ON FUNCTION waitlist.next_id(regclass) FROM PUBLIC;

/*
 * The handles with their SKU (0.2.0): every statement they run names the
 * SKU, so on Citus they run on the one shard that holds it (distributed by
 * their sku argument).  The id-only forms find the SKU by the id.
 */
CREATE FUNCTION waitlist.unsubscribe(sku text, id bigint) RETURNS boolean
	AS 'MODULE_PATHNAME', 'waitlist_unsubscribe_sku'
	LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.unsubscribe(text, bigint) IS
	'leave the list (the sign-up named with its SKU); returns false when the sign-up had already left';

CREATE FUNCTION waitlist.cancel_line(sku text, line_id bigint) RETURNS integer
	AS 'MODULE_PATHNAME', 'waitlist_cancel_line_sku'
	LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.cancel_line(text, bigint) IS
	'cancel a line (named with its SKU) that has not shipped; the units it held go to the next in line at commit; returns those units';

CREATE FUNCTION waitlist.ship_line(sku text, line_id bigint, carrier text DEFAULT NULL,
									tracking_number text DEFAULT NULL, tracking_url text DEFAULT NULL)
RETURNS void
	AS 'MODULE_PATHNAME', 'waitlist_ship_line_sku'
	LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.ship_line(text, bigint, text, text, text) IS
	'ship a fully allocated line (named with its SKU): its units leave stock and a shipped message is queued with the carrier, tracking number and URL when given and how long the order waited';

CREATE FUNCTION waitlist.queue_position(sku text, line_id bigint, OUT "position" bigint, OUT total bigint)
	AS 'MODULE_PATHNAME', 'waitlist_queue_position_sku'
	LANGUAGE C CALLED ON NULL INPUT STABLE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.queue_position(text, bigint) IS
	'"position X of Y" of a line (named with its SKU) among the SKU''s paid lines still short of units; position is NULL once the line is allocated, shipped or cancelled';
REVOKE ALL ON FUNCTION waitlist.unsubscribe(text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.cancel_line(text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.ship_line(text, bigint, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.queue_position(text, bigint) FROM PUBLIC;

/* ------------------------------------------------------------------------
 * Citus (0.2.0): one call distributes the SKU tables by the SKU code,
 * colocated with waitlist.sku, makes the shop-wide tables reference
 * tables, and distributes every function that takes a sku argument by it,
 * so a call runs on the worker that holds the SKU.  The outbox stays a
 * local table on each node.  Runs as the caller (the extension's owner or
 * a superuser); granted to nobody.
 * ---------------------------------------------------------------------- */
CREATE FUNCTION waitlist.distribute() RETURNS SETOF text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t text;
	f regprocedure;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'citus') THEN
		RAISE EXCEPTION 'waitlist.distribute() needs the citus extension in this database'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'CREATE EXTENSION citus (its library preloaded), add the worker nodes, then call waitlist.distribute() again.';
	END IF;
	PERFORM pg_catalog.create_distributed_table('waitlist.sku', 'sku');
	RETURN NEXT 'distributed table waitlist.sku by sku';
	FOREACH t IN ARRAY ARRAY['waitlist.line', 'waitlist.subscriber', 'waitlist.unconfirmed_signup',
							 'waitlist.batch', 'waitlist.preorder_channel', 'waitlist.availability', 'waitlist.purchase',
							 'waitlist.hold', 'waitlist.page_view', 'waitlist.view_day',
							 'waitlist.sale_period'] LOOP
		PERFORM pg_catalog.create_distributed_table(t, 'sku', colocate_with => 'waitlist.sku');
		RETURN NEXT pg_catalog.format('distributed table %s by sku, colocated with waitlist.sku', t);
	END LOOP;
	-- channel_rule's statement trigger reloads every backend's rule cache
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	FOREACH t IN ARRAY ARRAY['waitlist.channel_rule', 'waitlist.tracked_inventory',
							 'waitlist.suppression', 'waitlist.consent_log', 'waitlist.view_day_done'] LOOP
		PERFORM pg_catalog.create_reference_table(t);
		RETURN NEXT pg_catalog.format('reference table %s', t);
	END LOOP;
	FOR f IN
		SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p
		 WHERE p.pronamespace OPERATOR(pg_catalog.=) 'waitlist'::pg_catalog.regnamespace
		   AND 'sku' OPERATOR(pg_catalog.=) ANY (p.proargnames)
		   AND p.proargtypes[pg_catalog.array_position(p.proargnames, 'sku') OPERATOR(pg_catalog.-) 1]
			   OPERATOR(pg_catalog.=) 'text'::pg_catalog.regtype
		 ORDER BY 1::text
	LOOP
		PERFORM pg_catalog.create_distributed_function(f, 'sku', colocate_with => 'waitlist.sku');
		RETURN NEXT pg_catalog.format('distributed function %s by sku', f);
	END LOOP;
END
$$;
COMMENT ON FUNCTION waitlist.distribute() IS
	'on Citus: distribute the SKU tables by sku (colocated with waitlist.sku), make channel_rule, tracked_inventory, suppression, consent_log and view_day_done reference tables, and distribute every function with a sku argument by it; returns what it did; refuses (55000) without Citus';
REVOKE ALL ON FUNCTION waitlist.distribute() FROM PUBLIC;

/* ------------------------------------------------------------------------
 * Imports (0.2.0): a shop's existing backorders and sign-ups, set-based.
 *
 * Not SECURITY DEFINER: the source table is read with the caller's
 * privileges, and the C code writes waitlist's tables as the extension's
 * owner.  The SET pins search_path all the same.
 * ---------------------------------------------------------------------- */
CREATE FUNCTION waitlist.import_backorders(source regclass) RETURNS bigint
	AS 'MODULE_PATHNAME', 'waitlist_import_backorders'
	LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.import_backorders(regclass) IS
	'import backorder lines from a table (columns order_ref, sku, qty, customer, email, phone, channel; seq orders them) as place_backorder would place them one by one, in one pass; all or nothing; returns the lines imported';

CREATE FUNCTION waitlist.import_signups(source regclass) RETURNS bigint
	AS 'MODULE_PATHNAME', 'waitlist_import_signups'
	LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.import_signups(regclass) IS
	'import back-in-stock sign-ups from a table (columns sku, email, phone, customer; seq orders them) as subscribe would take them one by one, in one pass; all or nothing; returns the new sign-ups';

/* Privileges as a fresh install leaves them: nothing for PUBLIC. */
REVOKE ALL ON FUNCTION waitlist.import_backorders(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.import_signups(regclass) FROM PUBLIC;

/*
 * claim_wait: a claim that waits inside the call for a message (0.2.0).
 */
CREATE FUNCTION waitlist.claim_wait(consumer text, wait interval, max integer DEFAULT 100,
									lease interval DEFAULT '30 seconds',
									kinds text[] DEFAULT NULL, channels text[] DEFAULT NULL)
RETURNS TABLE (id bigint, kind text, channel text, recipient text, sku text, payload json,
			   idempotency_key text, attempts integer, created_at timestamptz, lease_until timestamptz)
AS 'MODULE_PATHNAME', 'waitlist_claim_wait'
LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 100
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.claim_wait(text, interval, integer, interval, text[], text[]) IS
	'claim(), but when nothing is due wait up to wait (at most 60 s) inside the call for a message: woken by the NOTIFY signal of the session''s LISTEN waitlist, or when the next message falls due';
REVOKE ALL ON FUNCTION waitlist.claim_wait(text, interval, integer, interval, text[], text[]) FROM PUBLIC;

/* ------------------------------------------------------------------------
 * Roles (0.2.0): the three kinds of user, granted and revoked by function.
 *
 * waitlist.role_privileges() is the one list of what each kind may do;
 * grant_app, grant_relay and grant_admin grant a kind's list to a role the
 * caller names (a NOLOGIN group role whose members log in, or a login
 * role), and revoke_app, revoke_relay and revoke_admin take it back.  All
 * of them go through set_role_kind.  They run as the caller, not SECURITY
 * DEFINER: only a superuser or the extension's owner may call them, and
 * GRANT records the objects' owner as the grantor.
 *
 * No kind gets a table or view that holds contact details (line,
 * subscriber, outbox, subscriber_status): the app hands them to the
 * SECURITY DEFINER API, and the relay reads them through claim() only.
 * Every script revokes what it creates from PUBLIC, so an update never
 * widens a role by itself; grant_* again grants what a new version adds.
 * ---------------------------------------------------------------------- */
CREATE FUNCTION waitlist.role_privileges()
RETURNS TABLE (kind text, object_type text, object text, privilege text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT v.kind, v.object_type, v.object, v.privilege FROM (VALUES
		-- the app: sign up, order, cancel; read positions and availability
		('app', 'schema', 'waitlist', 'USAGE'),
		('app', 'function', 'waitlist.subscribe(text,text,text,text)', 'EXECUTE'),
		('app', 'function', 'waitlist.unsubscribe(bigint)', 'EXECUTE'),
		('app', 'function', 'waitlist.unsubscribe(text,bigint)', 'EXECUTE'),
		('app', 'function', 'waitlist.place_backorder(text,text,integer,text,text,text,text)', 'EXECUTE'),
		('app', 'function', 'waitlist.place_preorder(text,text,integer,text,text,text,text,numeric,text)', 'EXECUTE'),
		('app', 'function', 'waitlist.place_order(text,text,text,text,text,jsonb)', 'EXECUTE'),
		('app', 'function', 'waitlist.cancel_line(bigint)', 'EXECUTE'),
		('app', 'function', 'waitlist.cancel_line(text,bigint)', 'EXECUTE'),
		('app', 'function', 'waitlist.queue_position(bigint)', 'EXECUTE'),
		('app', 'function', 'waitlist.queue_position(text,bigint)', 'EXECUTE'),
		('app', 'function', 'waitlist.waiting_count(text)', 'EXECUTE'),
		('app', 'function', 'waitlist.preorder_status(text)', 'EXECUTE'),
		('app', 'function', 'waitlist.policy(text,text)', 'EXECUTE'),
		('app', 'function', 'waitlist.record_event(text,text,timestamp with time zone)', 'EXECUTE'),
		('app', 'function', 'waitlist.opt_out(text,text)', 'EXECUTE'),
		('app', 'function', 'waitlist.opt_in(text,text)', 'EXECUTE'),
		('app', 'function', 'waitlist.suppressed(text)', 'EXECUTE'),
		('app', 'function', 'waitlist.record_purchase(text,text,text,timestamp with time zone,integer,numeric)', 'EXECUTE'),
		('app', 'function', 'waitlist.claim_hold(text,text,text,text,text)', 'EXECUTE'),
		('app', 'function', 'waitlist.record_view(text,text,text)', 'EXECUTE'),
		-- the relay: claim, acknowledge, record delivery events, tick
		('relay', 'schema', 'waitlist', 'USAGE'),
		('relay', 'function', 'waitlist.claim(text,integer,interval,text[],text[])', 'EXECUTE'),
		('relay', 'function', 'waitlist.claim_wait(text,interval,integer,interval,text[],text[])', 'EXECUTE'),
		('relay', 'function', 'waitlist.ack(text,bigint[])', 'EXECUTE'),
		('relay', 'function', 'waitlist.nack(text,bigint,text,interval)', 'EXECUTE'),
		('relay', 'function', 'waitlist.dead_letter(text,bigint,text)', 'EXECUTE'),
		('relay', 'function', 'waitlist.extend_lease(text,bigint[],interval)', 'EXECUTE'),
		('relay', 'function', 'waitlist.release(text,bigint[])', 'EXECUTE'),
		('relay', 'function', 'waitlist.next_due(text[],text[])', 'EXECUTE'),
		('relay', 'function', 'waitlist.tick()', 'EXECUTE'),
		('relay', 'function', 'waitlist.record_event(text,text,timestamp with time zone)', 'EXECUTE'),
		('relay', 'function', 'waitlist.opt_out(text,text)', 'EXECUTE'),
		-- the admin: SKUs, stock and shipping, pre-order plans, policy,
		-- channels and listings, imports, outbox upkeep; reads SKU state
		('admin', 'schema', 'waitlist', 'USAGE'),
		('admin', 'function', 'waitlist.upsert_sku(text,text,text,date,boolean,text,text,numeric,boolean,boolean)', 'EXECUTE'),
		('admin', 'function', 'waitlist.restock(text,bigint)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_on_hand(text,bigint)', 'EXECUTE'),
		('admin', 'function', 'waitlist.track_inventory(regclass,name,name)', 'EXECUTE'),
		('admin', 'function', 'waitlist.untrack_inventory(regclass)', 'EXECUTE'),
		('admin', 'function', 'waitlist.ship_line(bigint,text,text,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.ship_line(text,bigint,text,text,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.open_preorders(text,bigint,numeric,date,date,text,numeric,numeric)', 'EXECUTE'),
		('admin', 'function', 'waitlist.close_preorders(text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.reschedule_preorders(text,date,date)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_preorder_channel_limit(text,text,bigint)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_policy(text,integer,integer,integer,bigint)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_schedule(text,interval,numeric,integer,interval,boolean)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_hold_window(text,interval)', 'EXECUTE'),
		('admin', 'function', 'waitlist.post_update(text,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_channel(text,text,boolean,text,text,integer,boolean,boolean)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_listings(text,text[])', 'EXECUTE'),
		('admin', 'function', 'waitlist.import_backorders(regclass)', 'EXECUTE'),
		('admin', 'function', 'waitlist.import_signups(regclass)', 'EXECUTE'),
		('admin', 'function', 'waitlist.expand_batches(integer)', 'EXECUTE'),
		('admin', 'function', 'waitlist.outbox_metrics()', 'EXECUTE'),
		('admin', 'function', 'waitlist.purge_delivered(interval)', 'EXECUTE'),
		('admin', 'function', 'waitlist.check_invariants()', 'EXECUTE'),
		('admin', 'function', 'waitlist.waiting_count(text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.preorder_status(text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.policy(text,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.policy(waitlist.sku,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.policy_of(text,bigint,bigint,bigint,bigint,date,boolean,boolean,bigint,bigint,date,text[],integer,integer,integer,bigint,bigint,boolean,text)', 'EXECUTE'),
		('admin', 'table', 'waitlist.sku', 'SELECT'),
		('admin', 'table', 'waitlist.channel', 'SELECT'),
		('admin', 'table', 'waitlist.preorder_channel', 'SELECT'),
		('admin', 'table', 'waitlist.availability', 'SELECT'),
		('admin', 'table', 'waitlist.tracked_inventory', 'SELECT'),
		('admin', 'function', 'waitlist.suppressed(text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.opt_out(text,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.opt_in(text,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.roll_up_views()', 'EXECUTE'),
		('admin', 'function', 'waitlist.views_by_day(date,date,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.metrics(date,date,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.bis_notified(date,date,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.demand(text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.signup_trend(date,date,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.fastest_sellouts(date,date,integer)', 'EXECUTE'),
		('admin', 'function', 'waitlist.repeat_oos_visitors(date,date,integer)', 'EXECUTE'),
		('admin', 'function', 'waitlist.message_outcomes(date,date,text)', 'EXECUTE'))
	AS v (kind, object_type, object, privilege)
$$;
COMMENT ON FUNCTION waitlist.role_privileges() IS
	'what each kind of user (app, relay, admin) is granted: object type (schema, function, table), object and privilege; grant_app, grant_relay and grant_admin grant exactly these';

/*
 * The role's own ACL entries only (aclexplode), never what it inherits or
 * what PUBLIC has: revoking one kind keeps the privileges it shares with
 * another kind the role holds in full, the schema's USAGE included.
 */
CREATE FUNCTION waitlist.set_role_kind(role regrole, kind text, held boolean) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	grantee name;
	p record;
BEGIN
	IF set_role_kind.role IS NULL THEN
		RAISE EXCEPTION 'role must not be null' USING ERRCODE = 'null_value_not_allowed';
	ELSIF set_role_kind.kind IS NULL THEN
		RAISE EXCEPTION 'kind must not be null' USING ERRCODE = 'null_value_not_allowed';
	ELSIF set_role_kind.held IS NULL THEN
		RAISE EXCEPTION 'held must not be null' USING ERRCODE = 'null_value_not_allowed';
	ELSIF set_role_kind.role::oid OPERATOR(pg_catalog.=) 0::oid THEN
		RAISE EXCEPTION 'PUBLIC cannot hold a waitlist role' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Name a role; to give everyone a kind, grant it to a group role.';
	END IF;
	SELECT r.rolname INTO grantee FROM pg_catalog.pg_roles r
	 WHERE r.oid OPERATOR(pg_catalog.=) set_role_kind.role::oid;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'role with OID % does not exist', set_role_kind.role::oid
			USING ERRCODE = 'undefined_object';
	END IF;
	-- pg_has_role is true for superusers and for the owner's members.
	IF NOT pg_catalog.pg_has_role(CURRENT_USER,
			(SELECT x.extowner FROM pg_catalog.pg_extension x
			  WHERE x.extname OPERATOR(pg_catalog.=) 'waitlist'), 'USAGE') THEN
		RAISE EXCEPTION 'permission denied to change the waitlist privileges of role %', grantee
			USING ERRCODE = 'insufficient_privilege',
			DETAIL = 'Only a superuser or the owner of extension waitlist may grant and revoke its roles.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM waitlist.role_privileges() r
				    WHERE r.kind OPERATOR(pg_catalog.=) set_role_kind.kind) THEN
		RAISE EXCEPTION 'unknown kind of waitlist role: "%"', set_role_kind.kind
			USING ERRCODE = 'invalid_parameter_value', HINT = 'The kinds are app, relay and admin.';
	END IF;

	FOR p IN
		WITH own AS (
			SELECT l.kind, l.object_type, l.object, l.privilege,
				   EXISTS (SELECT 1 FROM pg_catalog.aclexplode(CASE l.object_type
							   WHEN 'schema' THEN (SELECT n.nspacl FROM pg_catalog.pg_namespace n
													WHERE n.nspname OPERATOR(pg_catalog.=) l.object)
							   WHEN 'function' THEN (SELECT f.proacl FROM pg_catalog.pg_proc f
													  WHERE f.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure(l.object))
							   ELSE (SELECT c.relacl FROM pg_catalog.pg_class c
									  WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(l.object)) END) a
						   WHERE a.grantee OPERATOR(pg_catalog.=) set_role_kind.role::oid
							 AND a.privilege_type OPERATOR(pg_catalog.=) l.privilege) AS holds
			  FROM waitlist.role_privileges() l),
		kept AS (
			SELECT o.kind FROM own o WHERE o.kind OPERATOR(pg_catalog.<>) set_role_kind.kind
			 GROUP BY o.kind HAVING pg_catalog.bool_and(o.holds))
		SELECT m.object_type, m.object, m.privilege FROM own m
		 WHERE m.kind OPERATOR(pg_catalog.=) set_role_kind.kind
		   AND (set_role_kind.held OR NOT EXISTS (
				SELECT 1 FROM own o JOIN kept k ON k.kind OPERATOR(pg_catalog.=) o.kind
				 WHERE o.object_type OPERATOR(pg_catalog.=) m.object_type
				   AND o.object OPERATOR(pg_catalog.=) m.object
				   AND o.privilege OPERATOR(pg_catalog.=) m.privilege))
	LOOP
		IF set_role_kind.held THEN
			EXECUTE pg_catalog.format('GRANT %s ON %s %s TO %I', p.privilege, p.object_type, p.object, grantee);
		ELSE
			EXECUTE pg_catalog.format('REVOKE %s ON %s %s FROM %I', p.privilege, p.object_type, p.object, grantee);
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION waitlist.set_role_kind(regrole, text, boolean) IS
	'grant (held true) or revoke (false) the privileges of one kind of user (app, relay, admin) for a role; revoking keeps what another kind the role holds needs; only a superuser or the extension''s owner';

CREATE FUNCTION waitlist.grant_app(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'app', true) $$;
COMMENT ON FUNCTION waitlist.grant_app(regrole) IS
	'let the role sign up, order, cancel, and read queue positions and availability (the shop''s app); idempotent';

CREATE FUNCTION waitlist.grant_relay(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'relay', true) $$;
COMMENT ON FUNCTION waitlist.grant_relay(regrole) IS
	'let the role claim messages, acknowledge them, record delivery failures and tick (a relay or listener); idempotent';

CREATE FUNCTION waitlist.grant_admin(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'admin', true) $$;
COMMENT ON FUNCTION waitlist.grant_admin(regrole) IS
	'let the role change SKUs, stock, pre-order plans, policy and channels, ship, import and purge, and read SKU state; idempotent';

CREATE FUNCTION waitlist.revoke_app(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'app', false) $$;
COMMENT ON FUNCTION waitlist.revoke_app(regrole) IS
	'take back what grant_app granted, except what another kind the role holds needs';

CREATE FUNCTION waitlist.revoke_relay(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'relay', false) $$;
COMMENT ON FUNCTION waitlist.revoke_relay(regrole) IS
	'take back what grant_relay granted, except what another kind the role holds needs';

CREATE FUNCTION waitlist.revoke_admin(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'admin', false) $$;
COMMENT ON FUNCTION waitlist.revoke_admin(regrole) IS
	'take back what grant_admin granted, except what another kind the role holds needs';

/* Nothing for PUBLIC: only a superuser or the owner grants roles. */
REVOKE ALL ON FUNCTION waitlist.role_privileges() FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.set_role_kind(regrole, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.grant_app(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.grant_relay(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.grant_admin(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.revoke_app(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.revoke_relay(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.revoke_admin(regrole) FROM PUBLIC;

/* ------------------------------------------------------------------------
 * Invariants (0.2.0): check_invariants() reports every violation of the
 * design's invariants (docs/reference.md, "Checking the invariants") that
 * no table constraint already enforces, one row per violation.  Read-only;
 * for admins (nothing for PUBLIC).  Operators are schema-qualified like
 * everywhere else in this script, so the checks mean the same under any
 * search_path.
 * ---------------------------------------------------------------------- */
CREATE FUNCTION waitlist.check_invariants()
RETURNS TABLE (invariant text, sku text, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	here record;
	q text;
BEGIN
	/*
	 * On Citus (after waitlist.distribute()) the checks of the SKU tables run
	 * on this node's local shards, once per group of colocated shards, each
	 * "waitlist.<table>" naming the group's shard: the outbox is a local table
	 * on every node, which Citus does not join with distributed tables.  Run
	 * it on every node.  Elsewhere each check runs once, as written.
	 */
	FOR here IN EXECUTE CASE
		WHEN pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL
		THEN 'SELECT NULL::text[] AS tables, NULL::text[] AS shards'
		ELSE $h$WITH here AS (
		SELECT c.relname::text AS rel, s.shardminvalue AS lo,
			   pg_catalog.shard_name(s.logicalrelid, s.shardid)::text AS shard
		  FROM pg_catalog.pg_dist_shard s
		  JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid
		  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) s.logicalrelid
		 WHERE c.relnamespace OPERATOR(pg_catalog.=) 'waitlist'::pg_catalog.regnamespace
		   AND p.groupid OPERATOR(pg_catalog.=) (SELECT groupid FROM pg_catalog.pg_dist_local_group))$h$ OPERATOR(pg_catalog.||) $g$
		SELECT pg_catalog.array_agg(x.rel ORDER BY x.rel) AS tables,
			   pg_catalog.array_agg(x.shard ORDER BY x.rel) AS shards
		  FROM (SELECT h.lo, h.rel, h.shard FROM here h WHERE h.lo IS NOT NULL
				UNION ALL
				SELECT d.lo, r.rel, r.shard
				  FROM (SELECT DISTINCT h.lo FROM here h WHERE h.lo IS NOT NULL) d,
					   here r WHERE r.lo IS NULL) x
		 GROUP BY x.lo
		UNION ALL
		SELECT NULL, NULL WHERE NOT EXISTS (
			SELECT 1 FROM pg_catalog.pg_dist_partition
			 WHERE logicalrelid OPERATOR(pg_catalog.=) 'waitlist.sku'::pg_catalog.regclass)$g$ END
	LOOP
		FOREACH q IN ARRAY ARRAY[
			/*
			 * Per SKU, against the aggregates of its lines and sign-ups.  A line
			 * holds greatest(0, least(qty, paid_served - pos_start)) units while it
			 * waits (the derivation of waitlist.line_status).
			 */
			$q$WITH l AS (
				SELECT x.sku,
					   pg_catalog.sum(x.qty) FILTER (WHERE x.queued) AS queued,
					   pg_catalog.count(*) FILTER (WHERE x.queued AND x.pos_start OPERATOR(pg_catalog.<>) x.prev_end) AS gaps,
					   pg_catalog.sum(x.qty) FILTER (WHERE x.waiting) AS wanted,
					   pg_catalog.sum(x.held) FILTER (WHERE x.waiting) AS held,
					   pg_catalog.min(x.pos_start) FILTER (WHERE x.waiting AND x.held OPERATOR(pg_catalog.<) x.qty) AS first_short,
					   pg_catalog.max(x.pos_start) FILTER (WHERE x.waiting AND x.held OPERATOR(pg_catalog.>) 0) AS last_holding,
					   pg_catalog.sum(x.qty) FILTER (WHERE x.kind OPERATOR(pg_catalog.=) 'preorder'
													AND x.state OPERATOR(pg_catalog.<>) 'cancelled') AS preorders
				  FROM (SELECT ln.sku, ln.qty, ln.pos_start, ln.kind, ln.state,
							   ln.state OPERATOR(pg_catalog.=) 'waiting' AS waiting,
							   ln.pos_start OPERATOR(pg_catalog.>=) 0 AS queued,
							   pg_catalog.lag(ln.pos_end, 1, 0::bigint)
								   OVER (PARTITION BY ln.sku, ln.pos_start OPERATOR(pg_catalog.>=) 0
										 ORDER BY ln.pos_start) AS prev_end,
							   GREATEST(0, LEAST(ln.qty::bigint, k.paid_served OPERATOR(pg_catalog.-) ln.pos_start)) AS held
						  FROM waitlist.line ln
						  JOIN waitlist.sku k ON k.sku OPERATOR(pg_catalog.=) ln.sku) x
				 GROUP BY x.sku),
			u AS (
				SELECT sub.sku, pg_catalog.count(*) AS signups,
					   pg_catalog.min(sub.pos) AS first_pos, pg_catalog.max(sub.pos) AS last_pos,
					   pg_catalog.count(*) FILTER (WHERE sub.state OPERATOR(pg_catalog.=) 'waiting'
												   AND sub.pos OPERATOR(pg_catalog.>=) k.sub_served) AS waiting
				  FROM waitlist.subscriber sub
				  JOIN waitlist.sku k ON k.sku OPERATOR(pg_catalog.=) sub.sku
				 GROUP BY sub.sku),
			c AS (
				SELECT pc.sku, pg_catalog.count(*) AS limits
				  FROM waitlist.preorder_channel pc GROUP BY pc.sku),
			h AS (
				SELECT hd.sku, pg_catalog.sum(hd.units OPERATOR(pg_catalog.-) hd.claimed) AS open
				  FROM waitlist.hold hd WHERE hd.closed_at IS NULL GROUP BY hd.sku)
			SELECT v.invariant, s.sku, v.detail
			  FROM waitlist.sku s
			  LEFT JOIN l ON l.sku OPERATOR(pg_catalog.=) s.sku
			  LEFT JOIN u ON u.sku OPERATOR(pg_catalog.=) s.sku
			  LEFT JOIN c ON c.sku OPERATOR(pg_catalog.=) s.sku
			  LEFT JOIN h ON h.sku OPERATOR(pg_catalog.=) s.sku
			 CROSS JOIN LATERAL (VALUES
				-- allocated-and-unshipped units never exceed the units on hand
				('stock', (s.allocated OPERATOR(pg_catalog.+) s.held) OPERATOR(pg_catalog.>) s.on_hand,
				 pg_catalog.format('allocated %s, held %s, on hand %s', s.allocated, s.held, s.on_hand)),
				-- sku.held is what the open holds keep for the people they told
				('held', s.held OPERATOR(pg_catalog.<>) coalesce(h.open, 0)
						 OR s.held OPERATOR(pg_catalog.<) 0,
				 pg_catalog.format('held %s, open holds keep %s', s.held, coalesce(h.open, 0))),
				-- no counter goes negative, watermarks stay within their queues
				('watermarks', NOT (s.paid_served OPERATOR(pg_catalog.>=) 0
									AND s.paid_served OPERATOR(pg_catalog.<=) s.paid_tail
									AND s.sub_served OPERATOR(pg_catalog.>=) 0
									AND s.sub_served OPERATOR(pg_catalog.<=) s.sub_tail
									AND s.announced OPERATOR(pg_catalog.>=) 0),
				 pg_catalog.format('paid_served %s of paid_tail %s, sub_served %s of sub_tail %s, announced %s',
								   s.paid_served, s.paid_tail, s.sub_served, s.sub_tail, s.announced)),
				-- sku.allocated is what the waiting lines hold under the watermark
				('allocated', s.allocated OPERATOR(pg_catalog.<>) coalesce(l.held, 0),
				 pg_catalog.format('allocated %s, waiting lines hold %s', s.allocated, coalesce(l.held, 0))),
				-- after a commit no unit sits idle while a line waits
				('greedy', s.allocated OPERATOR(pg_catalog.<>) LEAST(s.on_hand OPERATOR(pg_catalog.-) s.held, coalesce(l.wanted, 0)),
				 pg_catalog.format('allocated %s, on hand %s, held %s, waiting lines want %s',
								   s.allocated, s.on_hand, s.held, coalesce(l.wanted, 0))),
				-- FIFO: no later waiting line holds a unit while an earlier one is short
				('fifo', l.first_short OPERATOR(pg_catalog.<) l.last_holding,
				 pg_catalog.format('the line at position %s is short while the line at position %s holds units',
								   l.first_short, l.last_holding)),
				-- the live-queue counters the policy reads
				('paid_waiting', s.paid_waiting OPERATOR(pg_catalog.<>)
					(coalesce(l.wanted, 0) OPERATOR(pg_catalog.-) coalesce(l.held, 0)),
				 pg_catalog.format('paid_waiting %s, waiting lines are short of %s', s.paid_waiting,
								   coalesce(l.wanted, 0) OPERATOR(pg_catalog.-) coalesce(l.held, 0))),
				('sub_waiting', s.sub_waiting OPERATOR(pg_catalog.<>) coalesce(u.waiting, 0),
				 pg_catalog.format('sub_waiting %s, sign-ups waiting at or above the watermark %s',
								   s.sub_waiting, coalesce(u.waiting, 0))),
				-- paid lines tile [0, paid_tail), sign-ups take 0 .. sub_tail - 1
				('paid_positions', s.paid_tail OPERATOR(pg_catalog.<>) coalesce(l.queued, 0)
								   OR coalesce(l.gaps, 0) OPERATOR(pg_catalog.>) 0,
				 pg_catalog.format('paid_tail %s, the lines'' units %s, gaps or overlaps %s',
								   s.paid_tail, coalesce(l.queued, 0), coalesce(l.gaps, 0))),
				('signup_positions', s.sub_tail OPERATOR(pg_catalog.<>) coalesce(u.signups, 0)
									 OR coalesce(u.first_pos, 0) OPERATOR(pg_catalog.<>) 0
									 OR coalesce(u.last_pos, -1) OPERATOR(pg_catalog.<>) (s.sub_tail OPERATOR(pg_catalog.-) 1),
				 pg_catalog.format('sub_tail %s, %s sign-ups at positions %s to %s',
								   s.sub_tail, coalesce(u.signups, 0), u.first_pos, u.last_pos)),
				-- after a commit free units are announced, and only those
				('wave', s.announced OPERATOR(pg_catalog.>) GREATEST(s.on_hand OPERATOR(pg_catalog.-) s.allocated OPERATOR(pg_catalog.-) s.held, 0)
						 OR (s.sub_waiting OPERATOR(pg_catalog.>) 0
							 AND (s.on_hand OPERATOR(pg_catalog.-) s.allocated OPERATOR(pg_catalog.-) s.held) OPERATOR(pg_catalog.>) s.announced),
				 pg_catalog.format('free units %s, announced %s, sign-ups still waiting %s',
								   s.on_hand OPERATOR(pg_catalog.-) s.allocated OPERATOR(pg_catalog.-) s.held, s.announced, s.sub_waiting)),
				-- accepted pre-order units are what the pre-order lines hold
				('preorder_accepted', s.preorder_accepted OPERATOR(pg_catalog.<>) coalesce(l.preorders, 0),
				 pg_catalog.format('preorder_accepted %s, pre-order lines not cancelled hold %s',
								   s.preorder_accepted, coalesce(l.preorders, 0))),
				-- accepted units never pass floor(planned_production * cap / 100),
				-- unless a smaller plan left them over.  Without history that is
				-- certain only while no plan change could explain them (the first
				-- plan: preorder_terms counts the changes), or when the change's own
				-- preorder_over_limit event counted fewer units than are accepted now
				-- (none may be taken while over; the event may have been purged)
				('preorder_cap', s.preorder_accepted OPERATOR(pg_catalog.>) coalesce(s.preorder_limit, 0)
					AND (s.preorder_terms OPERATOR(pg_catalog.<=) 1
						 OR EXISTS (SELECT 1 FROM waitlist.outbox o
									 WHERE o.idempotency_key OPERATOR(pg_catalog.=)
										   ('sku:' OPERATOR(pg_catalog.||) s.id OPERATOR(pg_catalog.||) ':preorder_over:'
											OPERATOR(pg_catalog.||) s.preorder_terms)
									   AND (o.payload OPERATOR(pg_catalog.->>) 'accepted')::bigint
										   OPERATOR(pg_catalog.<) s.preorder_accepted)),
				 pg_catalog.format('%s pre-order units accepted over a limit of %s, more than a smaller plan left over',
								   s.preorder_accepted, coalesce(s.preorder_limit, 0))),
				('preorder_at_limit', s.preorder_at_limit OPERATOR(pg_catalog.<>)
					coalesce(s.preorder_accepted OPERATOR(pg_catalog.>=) s.preorder_limit, false),
				 pg_catalog.format('preorder_at_limit %s, accepted %s of %s',
								   s.preorder_at_limit, s.preorder_accepted, s.preorder_limit)),
				-- a plan as open_preorders stores it
				('preorder_plan', CASE WHEN s.planned_production IS NULL
					THEN s.preorder_limit IS NOT NULL OR s.preorder_cap_pct IS NOT NULL OR s.preorders_open
					ELSE NOT coalesce(s.planned_production OPERATOR(pg_catalog.>=) 1
						AND s.planned_production OPERATOR(pg_catalog.<=) 1000000000000
						AND s.preorder_cap_pct OPERATOR(pg_catalog.>) 0
						AND s.preorder_cap_pct OPERATOR(pg_catalog.<=) 100
						AND s.preorder_limit OPERATOR(pg_catalog.>=) 1
						AND s.preorder_limit OPERATOR(pg_catalog.=) pg_catalog.floor(s.planned_production
							OPERATOR(pg_catalog.*) s.preorder_cap_pct OPERATOR(pg_catalog./) 100)::bigint
						AND s.ships_on OPERATOR(pg_catalog.>=) s.production_date
						AND s.payment_mode OPERATOR(pg_catalog.=) ANY (ARRAY['authorize', 'full', 'deposit'])
						AND CASE WHEN s.payment_mode OPERATOR(pg_catalog.=) 'deposit'
							THEN (s.deposit_pct IS NULL) OPERATOR(pg_catalog.<>) (s.deposit_amount IS NULL)
								 AND coalesce(s.deposit_pct OPERATOR(pg_catalog.>) 0
											  AND s.deposit_pct OPERATOR(pg_catalog.<) 100, true)
								 AND coalesce(s.deposit_amount OPERATOR(pg_catalog.>) 0, true)
							ELSE s.deposit_pct IS NULL AND s.deposit_amount IS NULL END, false)
					END
					OR (s.preorders_open AND s.status OPERATOR(pg_catalog.<>) 'upcoming'),
				 pg_catalog.format('status %s, open %s, planned %s, cap %s%%, limit %s, production %s, ships %s, payment %s, deposit %s%% / %s',
								   s.status, s.preorders_open, s.planned_production, s.preorder_cap_pct,
								   s.preorder_limit, s.production_date, s.ships_on, s.payment_mode,
								   s.deposit_pct, s.deposit_amount)),
				('channel_limits', s.channel_limits OPERATOR(pg_catalog.<>) (c.limits IS NOT NULL),
				 pg_catalog.format('channel_limits %s, channels with their own limit %s',
								   s.channel_limits, coalesce(c.limits, 0))),
				-- settings as the API checks them at the door
				('sku_settings', NOT coalesce(
						pg_catalog.char_length(s.sku) OPERATOR(pg_catalog.>=) 1
					AND pg_catalog.char_length(s.sku) OPERATOR(pg_catalog.<=) 128
					AND s.status OPERATOR(pg_catalog.=) ANY (ARRAY['active', 'upcoming', 'discontinued'])
					AND s.notify_ratio OPERATOR(pg_catalog.>=) 1 AND s.notify_ratio OPERATOR(pg_catalog.<=) 100
					AND coalesce(pg_catalog.char_length(s.title) OPERATOR(pg_catalog.<=) 500
								 AND s.title OPERATOR(pg_catalog.<>) '', true)
					AND coalesce(pg_catalog.char_length(s.product_url) OPERATOR(pg_catalog.<=) 2048
								 AND s.product_url OPERATOR(pg_catalog.<>) '', true)
					AND coalesce(pg_catalog.char_length(s.image_url) OPERATOR(pg_catalog.<=) 2048
								 AND s.image_url OPERATOR(pg_catalog.<>) '', true)
					AND coalesce(s.backorder_days OPERATOR(pg_catalog.>=) 0
								 AND s.backorder_days OPERATOR(pg_catalog.<=) 365, true)
					AND coalesce(s.out_of_stock_days OPERATOR(pg_catalog.>=) 0
								 AND s.out_of_stock_days OPERATOR(pg_catalog.<=) 365, true)
					AND coalesce(s.min_demand OPERATOR(pg_catalog.>=) 0, true)
					AND coalesce(s.max_backorder_units OPERATOR(pg_catalog.>=) 0, true), false),
				 pg_catalog.format('status %s, notify_ratio %s, policy days %s/%s, min_demand %s, max_backorder_units %s, lengths of sku, title and URLs %s/%s/%s/%s',
								   s.status, s.notify_ratio, s.backorder_days, s.out_of_stock_days, s.min_demand,
								   s.max_backorder_units, pg_catalog.char_length(s.sku),
								   pg_catalog.char_length(s.title), pg_catalog.char_length(s.product_url),
								   pg_catalog.char_length(s.image_url))),
				-- every date ends up in a message: 2000-01-01 to 9999-12-31
				('sku_dates', NOT coalesce(
						coalesce(s.restock_date OPERATOR(pg_catalog.>=) '2000-01-01'::date
								 AND s.restock_date OPERATOR(pg_catalog.<=) '9999-12-31'::date, true)
					AND coalesce(s.production_date OPERATOR(pg_catalog.>=) '2000-01-01'::date
								 AND s.production_date OPERATOR(pg_catalog.<=) '9999-12-31'::date, true)
					AND coalesce(s.ships_on OPERATOR(pg_catalog.>=) '2000-01-01'::date
								 AND s.ships_on OPERATOR(pg_catalog.<=) '9999-12-31'::date, true), false),
				 pg_catalog.format('restock_date %s, production_date %s, ships_on %s',
								   s.restock_date, s.production_date, s.ships_on)),
				-- listings: one dimension, at most 64 distinct well-formed channel names
				('listings', s.channels IS NOT NULL AND NOT coalesce(
						pg_catalog.cardinality(s.channels) OPERATOR(pg_catalog.<=) 64
					AND coalesce(pg_catalog.array_ndims(s.channels), 1) OPERATOR(pg_catalog.=) 1
					AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(s.channels) ch (name)
									 WHERE ch.name IS NULL
										OR ch.name OPERATOR(pg_catalog.!~) '^[a-z0-9_-]{1,40}$')
					AND (SELECT pg_catalog.count(DISTINCT ch.name) FROM pg_catalog.unnest(s.channels) ch (name))
						OPERATOR(pg_catalog.=) pg_catalog.cardinality(s.channels), false),
				 pg_catalog.format('%s channels in %s dimensions', pg_catalog.cardinality(s.channels),
								   pg_catalog.array_ndims(s.channels)))
				) v (invariant, broken, detail)
			 WHERE v.broken$q$,

			-- Pre-order channel limits count their channel's lines.
			$q$SELECT 'channel_accepted', s.sku,
				   pg_catalog.format('channel %s: accepted %s, its pre-order lines not cancelled hold %s',
									 pc.channel, pc.accepted, coalesce(n.units, 0))
			  FROM waitlist.preorder_channel pc
			  JOIN waitlist.sku s ON s.sku OPERATOR(pg_catalog.=) pc.sku
			  LEFT JOIN LATERAL (
				SELECT pg_catalog.sum(ln.qty) AS units FROM waitlist.line ln
				 WHERE ln.sku OPERATOR(pg_catalog.=) pc.sku
				   AND ln.channel OPERATOR(pg_catalog.=) pc.channel
				   AND ln.kind OPERATOR(pg_catalog.=) 'preorder'
				   AND ln.state OPERATOR(pg_catalog.<>) 'cancelled') n ON true
			 WHERE pc.accepted OPERATOR(pg_catalog.<>) coalesce(n.units, 0)$q$,

			-- A purchase names a SKU (no foreign key: its writers check it).
			$q$SELECT 'purchase_sku', p.sku,
				   pg_catalog.format('no such SKU, named by purchase rows: %s', pg_catalog.count(*))
			  FROM waitlist.purchase p
			 WHERE NOT EXISTS (SELECT 1 FROM waitlist.sku s WHERE s.sku OPERATOR(pg_catalog.=) p.sku)
			 GROUP BY p.sku$q$,

			/*
			 * Lines: states, contacts, payment.  Details name lines by id, never by
			 * contact.
			 */
			$q$SELECT v.invariant, s.sku, pg_catalog.format('line %s (%s, %s): %s', ln.id, ln.kind, ln.state, v.detail)
			  FROM waitlist.line ln
			  JOIN waitlist.sku s ON s.sku OPERATOR(pg_catalog.=) ln.sku
			 CROSS JOIN LATERAL (VALUES
				('line_state', NOT coalesce(
						ln.kind OPERATOR(pg_catalog.=) ANY (ARRAY['backorder', 'preorder'])
					AND ln.state OPERATOR(pg_catalog.=) ANY (ARRAY['waiting', 'shipped', 'cancelled'])
					AND (ln.shipped_at IS NOT NULL) OPERATOR(pg_catalog.=) (ln.state OPERATOR(pg_catalog.=) 'shipped')
					AND (ln.cancelled_at IS NOT NULL) OPERATOR(pg_catalog.=) (ln.state OPERATOR(pg_catalog.=) 'cancelled'),
					false),
				 pg_catalog.format('shipped_at %s, cancelled_at %s',
								   ln.shipped_at IS NOT NULL, ln.cancelled_at IS NOT NULL)),
				('line_contact', NOT coalesce(
						(ln.email IS NOT NULL OR ln.phone IS NOT NULL)
					AND coalesce(waitlist.valid_email(ln.email), true)
					AND coalesce(waitlist.valid_phone(ln.phone), true)
					AND pg_catalog.char_length(ln.order_ref) OPERATOR(pg_catalog.>=) 1
					AND pg_catalog.char_length(ln.order_ref) OPERATOR(pg_catalog.<=) 100
					AND coalesce(pg_catalog.char_length(ln.customer) OPERATOR(pg_catalog.>=) 1
								 AND pg_catalog.char_length(ln.customer) OPERATOR(pg_catalog.<=) 200, true)
					AND coalesce(ln.channel OPERATOR(pg_catalog.~) '^[a-z0-9_-]{1,40}$', true), false),
				 'a contact, order_ref, customer or channel the API would refuse'),
				('line_payment', NOT coalesce(CASE ln.kind
					WHEN 'backorder' THEN ln.payment_mode IS NULL AND ln.payment_state IS NULL
						AND ln.amount IS NULL AND ln.captured OPERATOR(pg_catalog.=) 0
						AND NOT ln.confirm_pending AND ln.action_at IS NULL
					ELSE ln.unit_price OPERATOR(pg_catalog.>) 0
						AND ln.unit_price OPERATOR(pg_catalog.<=) 1000000000
						AND ln.currency OPERATOR(pg_catalog.~) '^[A-Z]{3}$'
						AND ln.amount OPERATOR(pg_catalog.=) (ln.unit_price OPERATOR(pg_catalog.*) ln.qty)
						AND CASE ln.state
							WHEN 'waiting' THEN CASE ln.payment_state
								WHEN 'authorized' THEN ln.payment_mode OPERATOR(pg_catalog.=) 'authorize'
									AND ln.captured OPERATOR(pg_catalog.=) 0 AND ln.authorized_until IS NOT NULL
								-- a deposit is rounded to the price's scale: 0.01 % of 1.00 is 0.00
								WHEN 'deposit_captured' THEN ln.payment_mode OPERATOR(pg_catalog.=) 'deposit'
									AND ln.captured OPERATOR(pg_catalog.=) ln.deposit
									AND ln.deposit OPERATOR(pg_catalog.>=) 0
								WHEN 'captured' THEN ln.payment_mode OPERATOR(pg_catalog.=) 'full'
									AND ln.captured OPERATOR(pg_catalog.=) ln.amount
								ELSE false END
							WHEN 'shipped' THEN ln.payment_state OPERATOR(pg_catalog.=) 'captured'
								AND ln.captured OPERATOR(pg_catalog.=) ln.amount
							ELSE CASE ln.payment_state
								WHEN 'voided' THEN ln.payment_mode OPERATOR(pg_catalog.=) 'authorize'
									AND ln.captured OPERATOR(pg_catalog.=) 0
								WHEN 'refunded' THEN ln.refunded OPERATOR(pg_catalog.=) ln.captured
								ELSE false END
							END
						-- work left for claim()/tick(): only on waiting lines
						AND (NOT ln.confirm_pending OR ln.action_at IS NOT NULL)
						AND (ln.action_at IS NULL OR (ln.state OPERATOR(pg_catalog.=) 'waiting'
							AND (ln.confirm_pending OR ln.payment_state OPERATOR(pg_catalog.=) 'authorized')))
					END, false),
				 pg_catalog.format('payment %s %s, amount %s, captured %s, refunded %s, confirm_pending %s, action due %s',
								   ln.payment_mode, ln.payment_state, ln.amount, ln.captured, ln.refunded,
								   ln.confirm_pending, ln.action_at IS NOT NULL))
				) v (invariant, broken, detail)
			 WHERE v.broken$q$,

			-- Sign-ups: states, contacts, confirmations left to write (only
			-- for a waiting one: leaving the list takes it off the queue).
			$q$SELECT 'signup_state', s.sku,
				   pg_catalog.format('sign-up %s (%s): unsubscribed_at %s, confirmation queued %s, or a contact the API would refuse',
									 sub.id, sub.state, sub.unsubscribed_at IS NOT NULL, q.id IS NOT NULL)
			  FROM waitlist.subscriber sub
			  JOIN waitlist.sku s ON s.sku OPERATOR(pg_catalog.=) sub.sku
			  LEFT JOIN waitlist.unconfirmed_signup q
				ON q.sku OPERATOR(pg_catalog.=) sub.sku AND q.id OPERATOR(pg_catalog.=) sub.id
			 WHERE NOT coalesce(
					sub.state OPERATOR(pg_catalog.=) ANY (ARRAY['waiting', 'unsubscribed', 'converted', 'expired', 'lapsed'])
				AND (sub.unsubscribed_at IS NOT NULL) OPERATOR(pg_catalog.=) (sub.state OPERATOR(pg_catalog.<>) 'waiting')
				AND (q.id IS NULL OR sub.state OPERATOR(pg_catalog.=) 'waiting')
				AND coalesce(waitlist.valid_email(sub.email), true)
				AND coalesce(waitlist.valid_phone(sub.phone), true)
				AND coalesce(pg_catalog.char_length(sub.customer) OPERATOR(pg_catalog.>=) 1
							 AND pg_catalog.char_length(sub.customer) OPERATOR(pg_catalog.<=) 200, true), false)$q$,

			-- Batches: expanded once, within their queue.
			$q$SELECT 'batch', s.sku,
				   pg_catalog.format('batch %s (%s): positions %s to %s, scan %s to %s, units %s, expanded %s, messages %s',
									 b.id, b.kind, b.pos_from, b.pos_to, b.scan_lo, b.scan_hi, b.units,
									 b.expanded_at IS NOT NULL, b.messages)
			  FROM waitlist.batch b
			  JOIN waitlist.sku s ON s.sku OPERATOR(pg_catalog.=) b.sku
			 WHERE NOT ((b.expanded_at IS NULL OR b.messages IS NOT NULL)
						AND b.pos_from OPERATOR(pg_catalog.>=) 0
						AND b.pos_from OPERATOR(pg_catalog.<=) b.pos_to
						AND b.scan_lo OPERATOR(pg_catalog.<=) b.scan_hi
						AND b.units OPERATOR(pg_catalog.>) 0
						AND b.pos_to OPERATOR(pg_catalog.<=) CASE b.kind
							WHEN 'allocated' THEN s.paid_tail WHEN 'still_waiting' THEN s.paid_tail
							ELSE s.sub_tail END)$q$,

			-- Published availability: only for channels the SKU is listed on.
			$q$SELECT 'availability', s.sku,
				   pg_catalog.format('availability published for channel %s, which the SKU is not listed on', a.channel)
			  FROM waitlist.availability a
			  JOIN waitlist.sku s ON s.sku OPERATOR(pg_catalog.=) a.sku
			 WHERE NOT coalesce(a.channel OPERATOR(pg_catalog.=) ANY (s.channels), false)$q$
		] LOOP
			FOR i IN 1 .. coalesce(pg_catalog.array_length(here.tables, 1), 0) LOOP
				q := pg_catalog.regexp_replace(q, 'waitlist\.' OPERATOR(pg_catalog.||) here.tables[i]
					 OPERATOR(pg_catalog.||) '(?![a-z0-9_])', here.shards[i], 'g');
			END LOOP;
			RETURN QUERY EXECUTE q;
		END LOOP;
	END LOOP;

	-- Messages: one state at a time, leases held by someone, deliverable recipients.
	RETURN QUERY
	SELECT 'outbox', o.sku,
		   pg_catalog.format('message %s (%s on %s) is %s: lease_owner %s, attempts %s, delivered_at %s, or a recipient its channel cannot deliver to',
							 o.id, o.kind, o.channel, o.state, o.lease_owner IS NOT NULL,
							 o.attempts, o.delivered_at IS NOT NULL)
	  FROM waitlist.outbox o
	 WHERE NOT coalesce(
			o.attempts OPERATOR(pg_catalog.>=) 0
		AND (o.delivered_at IS NOT NULL) OPERATOR(pg_catalog.=) (o.state OPERATOR(pg_catalog.=) 'delivered')
		AND CASE o.state
			WHEN 'leased' THEN o.lease_owner IS NOT NULL AND o.attempts OPERATOR(pg_catalog.>=) 1
			WHEN 'delivered' THEN true
			ELSE o.lease_owner IS NULL END
		AND CASE o.channel
			WHEN 'email' THEN waitlist.valid_email(o.recipient)
			WHEN 'sms' THEN waitlist.valid_phone(o.recipient)
			WHEN 'merchant' THEN true
			ELSE o.recipient IS NOT NULL END, false);

	-- Tracked inventory tables: the trigger is attached, the columns exist.
	RETURN QUERY
	SELECT 'tracked_inventory', NULL::text,
		   pg_catalog.format('%s is tracked without its trigger or its columns %s and %s',
							 t.inventory, t.sku_column, t.quantity_column)
	  FROM waitlist.tracked_inventory t
	 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g
						WHERE g.tgrelid OPERATOR(pg_catalog.=) t.inventory
						  AND g.tgfoid OPERATOR(pg_catalog.=) 'waitlist.inventory_trigger()'::pg_catalog.regprocedure)
		OR (SELECT pg_catalog.count(*) FROM pg_catalog.pg_attribute a
			 WHERE a.attrelid OPERATOR(pg_catalog.=) t.inventory AND NOT a.attisdropped
			   AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY[t.sku_column, t.quantity_column]))
		   OPERATOR(pg_catalog.<>) 2;
END
$$;
COMMENT ON FUNCTION waitlist.check_invariants() IS
	'every violation of the design''s invariants that no constraint enforces, one row each (invariant, sku, detail); none when healthy; read-only, meant for committed state';
REVOKE ALL ON FUNCTION waitlist.check_invariants() FROM PUBLIC;

/* ------------------------------------------------------------------------
 * Consent and delivery events (0.2.0).
 *
 * waitlist.suppression is the shop's list of contacts no message may
 * reach: a hard bounce, a complaint or an unsubscribe reported for one of
 * its messages (waitlist.record_event), or an opt-out (waitlist.opt_out).
 * claim() checks it for every email and SMS it leases: a message to a
 * suppressed contact ends in state 'suppressed' instead of being handed to
 * a listener, whenever it was written.  Shop-wide: a reference table on
 * Citus, so every node's claim reads its own copy.
 *
 * waitlist.message_event keeps what the providers report about each
 * message, once per message and event; the relay's ack is the message's
 * delivery to the provider (outbox.delivered_at).  Node-local, like the
 * outbox its rows point to.
 * ---------------------------------------------------------------------- */
CREATE TABLE waitlist.suppression (
	contact			text PRIMARY KEY,
	reason			text NOT NULL
					CHECK (reason OPERATOR(pg_catalog.=) ANY (ARRAY['bounced', 'complained', 'unsubscribed', 'opted_out'])),
	source			text NOT NULL,
	message_id		bigint,
	created_at		timestamptz NOT NULL DEFAULT waitlist.now()
);
COMMENT ON TABLE waitlist.suppression IS 'contacts no message may reach (all SKUs): hard bounces, complaints, unsubscribes and opt-outs, with when and from where';
COMMENT ON COLUMN waitlist.suppression.contact IS 'a lower-cased email address or an E.164 phone number';
COMMENT ON COLUMN waitlist.suppression.source IS 'where it came from: the caller''s words for an opt-out (a preference center, an SMS STOP), "event" for a reported event';
COMMENT ON COLUMN waitlist.suppression.message_id IS 'the message whose event suppressed the contact (NULL for an opt-out)';

/* Every change of a contact's consent, kept: the proof of an opt-out or an opt-in. */
CREATE TABLE waitlist.consent_log (
	id				bigserial PRIMARY KEY,
	contact			text NOT NULL,
	action			text NOT NULL
					CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY['suppressed', 'lifted'])),
	reason			text NOT NULL,
	source			text NOT NULL,
	message_id		bigint,
	at				timestamptz NOT NULL DEFAULT waitlist.now()
);
COMMENT ON TABLE waitlist.consent_log IS 'every suppression and every lift of one, with its reason, source and time (append-only)';
CREATE INDEX consent_log_contact ON waitlist.consent_log (contact, at);
ALTER TABLE waitlist.consent_log ALTER COLUMN id SET DEFAULT waitlist.next_id('waitlist.consent_log_id_seq'::regclass);

CREATE TABLE waitlist.message_event (
	message_id		bigint NOT NULL,
	event			text NOT NULL
					CHECK (event OPERATOR(pg_catalog.=) ANY (ARRAY['delivered', 'opened', 'clicked', 'bounced',
																   'complained', 'unsubscribed'])),
	at				timestamptz NOT NULL,
	recorded_at		timestamptz NOT NULL DEFAULT waitlist.now(),
	PRIMARY KEY (message_id, event)
);
COMMENT ON TABLE waitlist.message_event IS 'what providers reported about a message (delivered, opened, clicked, bounced, complained, unsubscribed), the first report of each event kept';
COMMENT ON COLUMN waitlist.message_event.at IS 'when the event happened, as the provider reported it';
CREATE INDEX message_event_at ON waitlist.message_event USING brin (recorded_at);

SELECT pg_catalog.pg_extension_config_dump('waitlist.suppression', '');
SELECT pg_catalog.pg_extension_config_dump('waitlist.message_event', '');
SELECT pg_catalog.pg_extension_config_dump('waitlist.consent_log', '');
SELECT pg_catalog.pg_extension_config_dump('waitlist.consent_log_id_seq', '');

CREATE FUNCTION waitlist.record_event(message text, event text, at timestamptz DEFAULT NULL) RETURNS boolean
AS 'MODULE_PATHNAME', 'waitlist_record_event'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.record_event(text, text, timestamptz) IS
	'a provider''s report about an email or SMS message (its id or idempotency key): delivered, opened, clicked, bounced (hard), complained or unsubscribed; bounced, complained and unsubscribed suppress its recipient; false when the event was already recorded';
REVOKE ALL ON FUNCTION waitlist.record_event(text, text, timestamptz) FROM PUBLIC;

CREATE FUNCTION waitlist.opt_out(contact text, source text) RETURNS boolean
AS 'MODULE_PATHNAME', 'waitlist_opt_out'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.opt_out(text, text) IS
	'stop every message to an email address or phone number (all SKUs), recording when and the source; false when it was already suppressed';
REVOKE ALL ON FUNCTION waitlist.opt_out(text, text) FROM PUBLIC;

CREATE FUNCTION waitlist.opt_in(contact text, source text) RETURNS boolean
AS 'MODULE_PATHNAME', 'waitlist_opt_in'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.opt_in(text, text) IS
	'the contact consents again: lifts an opt-out or unsubscribe (never a bounce or complaint, 55000); false when it was not suppressed';
REVOKE ALL ON FUNCTION waitlist.opt_in(text, text) FROM PUBLIC;

CREATE FUNCTION waitlist.suppressed(contact text) RETURNS text
AS 'MODULE_PATHNAME', 'waitlist_suppressed'
LANGUAGE C CALLED ON NULL INPUT STABLE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.suppressed(text) IS
	'why no message reaches this email address or phone number (bounced, complained, unsubscribed, opted_out), or NULL when messages do';
REVOKE ALL ON FUNCTION waitlist.suppressed(text) FROM PUBLIC;

/* ------------------------------------------------------------------------
 * Purchases (0.2.0): who bought a SKU, wherever they bought it.
 *
 * waitlist.record_purchase reports an order made elsewhere (the shop's own
 * checkout, a marketplace); an order placed through the extension
 * (place_backorder, place_preorder, place_order) is recorded by it, once per
 * contact.  A purchase converts the buyer's sign-ups for the SKU made before
 * it (they leave the list, state 'converted'), skips the back_in_stock
 * messages still waiting for them, and for waitlist.purchase_window after it
 * no wave message (back_in_stock, sold_out_again, eta_changed) is written to
 * that contact for that SKU.  Keyed by the SKU (distributed with it on
 * Citus); granted to nobody (it holds contacts).
 * ---------------------------------------------------------------------- */
CREATE FUNCTION waitlist.purchase_ok(source text, qty integer, amount numeric) RETURNS boolean
	AS 'MODULE_PATHNAME', 'waitlist_purchase_ok'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION waitlist.purchase_ok(text, integer, numeric) IS
	'the CHECK of waitlist.purchase: source external or order, qty and amount (when given) above zero';
REVOKE ALL ON FUNCTION waitlist.purchase_ok(text, integer, numeric) FROM PUBLIC;
CREATE TABLE waitlist.purchase (
	/*
	 * No foreign key: record_purchase and the order paths check the SKU,
	 * and a key's check would lock the SKU row for every reported order.
	 */
	sku				text NOT NULL,
	order_ref		text NOT NULL,
	contact			text NOT NULL,
	at				timestamptz NOT NULL,
	source			text NOT NULL,
	converted		integer NOT NULL DEFAULT 0,
	qty				integer,
	amount			numeric,
	recorded_at		timestamptz NOT NULL DEFAULT waitlist.now(),
	PRIMARY KEY (sku, order_ref, contact),
	/*
	 * One C call (purchase_ok), as for sku and line: every placement
	 * writes a purchase row while its SKU's turn is held, and the three
	 * column CHECKs this replaces were read and prepared for each.
	 */
	CONSTRAINT purchase_ok CHECK (waitlist.purchase_ok(source, qty, amount))
);
COMMENT ON TABLE waitlist.purchase IS 'who bought a SKU (an order through the extension or one reported by record_purchase): converts their sign-ups and keeps wave messages from them for waitlist.purchase_window';
COMMENT ON COLUMN waitlist.purchase.contact IS 'a lower-cased email address or an E.164 phone number of the buyer';
COMMENT ON COLUMN waitlist.purchase.at IS 'when the order was made (record_purchase: as reported; an order through the extension: its placement)';
COMMENT ON COLUMN waitlist.purchase.source IS 'external: reported by record_purchase; order: placed through the extension';
COMMENT ON COLUMN waitlist.purchase.converted IS 'the sign-ups this purchase converted';
COMMENT ON COLUMN waitlist.purchase.qty IS 'units of the SKU the order bought, as record_purchase reported them (NULL for an order through the extension: its line has them)';
COMMENT ON COLUMN waitlist.purchase.amount IS 'what the order paid for those units, when reported (NULL: not given)';
CREATE INDEX purchase_contact ON waitlist.purchase (sku, contact, at);
SELECT pg_catalog.pg_extension_config_dump('waitlist.purchase', '');

CREATE FUNCTION waitlist.record_purchase(sku text, contact text, order_ref text, at timestamptz DEFAULT NULL,
										 qty integer DEFAULT 1, amount numeric DEFAULT NULL)
RETURNS integer
AS 'MODULE_PATHNAME', 'waitlist_record_purchase'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.record_purchase(text, text, text, timestamptz, integer, numeric) IS
	'an order of the SKU made outside the extension (qty units, amount paid when given), by an email address or phone number: converts the buyer''s earlier sign-ups for it and keeps wave messages from them; returns the sign-ups converted (0 when the purchase was already recorded)';
REVOKE ALL ON FUNCTION waitlist.record_purchase(text, text, text, timestamptz, integer, numeric) FROM PUBLIC;

/* A purchase converts sign-ups: their own status. */
CREATE OR REPLACE VIEW waitlist.subscriber_status AS
SELECT sub.id, s.sku, sub.email, sub.phone, sub.customer,
	   CASE
		   WHEN sub.state OPERATOR(pg_catalog.<>) 'waiting' THEN sub.state
		   WHEN sub.pos OPERATOR(pg_catalog.<) s.sub_served THEN 'notified'
		   ELSE 'waiting'
	   END AS status,
	   sub.created_at, sub.unsubscribed_at
  FROM waitlist.subscriber sub
  JOIN waitlist.sku s ON s.sku OPERATOR(pg_catalog.=) sub.sku;
COMMENT ON VIEW waitlist.subscriber_status IS 'sign-ups with their derived status (waiting, notified, unsubscribed, converted)';
COMMENT ON COLUMN waitlist.subscriber.unsubscribed_at IS 'when the sign-up left the list: unsubscribed, or converted by a purchase';

/* ------------------------------------------------------------------------
 * Exclusive holds: the columns (waitlist--0.2.0.sql has them in the tables).
 */
ALTER TABLE waitlist.sku ADD COLUMN hold_window interval;
ALTER TABLE waitlist.sku ADD COLUMN held bigint NOT NULL DEFAULT 0;
ALTER TABLE waitlist.sku ADD COLUMN in_stock_since timestamptz;
ALTER TABLE waitlist.sku ADD COLUMN last_sellout interval;
ALTER TABLE waitlist.batch ADD COLUMN hold_until timestamptz;
ALTER TABLE waitlist.sku DROP CONSTRAINT sku_counters_ok;
CREATE FUNCTION waitlist.sku_counters_ok(on_hand bigint, allocated bigint,
	preorder_accepted bigint, paid_waiting bigint, sub_waiting bigint, held bigint,
	hold_window interval) RETURNS boolean
	AS 'MODULE_PATHNAME', 'waitlist_sku_counters_ok'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION waitlist.sku_counters_ok(bigint, bigint, bigint, bigint, bigint, bigint, interval) IS
	'the CHECK of waitlist.sku: no counter below zero, a hold window (when set) from 1 minute to 24 hours';
REVOKE ALL ON FUNCTION waitlist.sku_counters_ok(bigint, bigint, bigint, bigint, bigint, bigint, interval) FROM PUBLIC;
ALTER TABLE waitlist.sku ADD CONSTRAINT sku_counters_ok CHECK (waitlist.sku_counters_ok(on_hand,
		allocated, preorder_accepted, paid_waiting, sub_waiting, held, hold_window));
-- line_ok as one C call too (waitlist--0.2.0.sql says why).
ALTER TABLE waitlist.line DROP CONSTRAINT line_ok;
CREATE FUNCTION waitlist.line_ok(qty integer, pos_start bigint, pos_end bigint,
	refunded numeric, captured numeric, amount numeric) RETURNS boolean
	AS 'MODULE_PATHNAME', 'waitlist_line_ok'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION waitlist.line_ok(integer, bigint, bigint, numeric, numeric, numeric) IS
	'the CHECK of waitlist.line: at least one unit, pos_end = pos_start + qty, 0 <= refunded <= captured <= amount (NULL amount: 0)';
REVOKE ALL ON FUNCTION waitlist.line_ok(integer, bigint, bigint, numeric, numeric, numeric) FROM PUBLIC;
ALTER TABLE waitlist.line ADD CONSTRAINT line_ok CHECK (waitlist.line_ok(qty, pos_start, pos_end,
		refunded, captured, amount));

/* ------------------------------------------------------------------------
 * Exclusive holds.  With a hold window set on a SKU, each sign-up a wave
 * tells gets one unit held for it until the window ends; nobody else can
 * take a held unit (the policy, orders, backorders and pre-orders count
 * sku.held as taken).  A wave of holds is one row, a range of sign-up
 * positions with one expiry, so the commit that makes it does not grow
 * with the queue.  claim_hold turns a held unit into an allocated line;
 * the clock closes a wave when its window ends, and its unclaimed units go
 * to the next people in line (a new wave, a new window), or, when nobody
 * is left, to anyone.
 */
COMMENT ON COLUMN waitlist.sku.hold_window IS 'how long each sign-up a wave tells has a unit held for it (NULL: no holds; 1 minute to 24 hours; waitlist.set_hold_window)';
COMMENT ON COLUMN waitlist.sku.held IS 'units the open holds keep for people told and not yet claimed: nobody else can take them';
COMMENT ON COLUMN waitlist.batch.hold_until IS 'back_in_stock: when the unit held for each person told ends (NULL: no hold)';

CREATE TABLE waitlist.hold (
	sku				text NOT NULL REFERENCES waitlist.sku (sku),
	wave			bigint NOT NULL,
	pos_from		bigint NOT NULL,
	pos_to			bigint NOT NULL,
	units			bigint NOT NULL,
	claimed			bigint NOT NULL DEFAULT 0,
	expires_at		timestamptz NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT waitlist.now(),
	closed_at		timestamptz,
	PRIMARY KEY (sku, wave),
	CONSTRAINT hold_ok CHECK (pos_to OPERATOR(pg_catalog.>) pos_from
		AND claimed OPERATOR(pg_catalog.>=) 0 AND claimed OPERATOR(pg_catalog.<=) units
		AND units OPERATOR(pg_catalog.<=) (pos_to OPERATOR(pg_catalog.-) pos_from))
);
COMMENT ON TABLE waitlist.hold IS 'waves of exclusive holds: the sign-ups at positions [pos_from, pos_to) each have one unit held until expires_at';
COMMENT ON COLUMN waitlist.hold.wave IS 'the id of the back_in_stock batch that told them';
COMMENT ON COLUMN waitlist.hold.units IS 'units held for the wave (one per person told; fewer when a stock count went down)';
COMMENT ON COLUMN waitlist.hold.claimed IS 'held units turned into lines by claim_hold';
COMMENT ON COLUMN waitlist.hold.closed_at IS 'when the wave ended (every unit claimed, or the window over: the rest went on); NULL while open';
CREATE INDEX hold_due ON waitlist.hold (expires_at) WHERE closed_at IS NULL;
SELECT pg_catalog.pg_extension_config_dump('waitlist.hold', '');

CREATE FUNCTION waitlist.set_hold_window(sku text, hold_window interval)
RETURNS interval
AS 'MODULE_PATHNAME', 'waitlist_set_hold_window'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.set_hold_window(text, interval) IS
	'turn exclusive holds on for the SKU (each sign-up a wave tells has one unit held for hold_window, 1 minute to 24 hours) or off (NULL; open holds run to their end); returns the window';
REVOKE ALL ON FUNCTION waitlist.set_hold_window(text, interval) FROM PUBLIC;

CREATE FUNCTION waitlist.claim_hold(sku text, contact text, order_ref text,
									customer text DEFAULT NULL, channel text DEFAULT 'dtc')
RETURNS bigint
AS 'MODULE_PATHNAME', 'waitlist_claim_hold'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.claim_hold(text, text, text, text, text) IS
	'the shop''s checkout takes the unit held for a sign-up (by its email address or phone number): returns a line of one unit, allocated at once (the same order_ref returns the same line); WL017 when the contact has no open hold on the SKU';
REVOKE ALL ON FUNCTION waitlist.claim_hold(text, text, text, text, text) FROM PUBLIC;

/* The row form of the policy counts held units as taken. */
CREATE OR REPLACE FUNCTION waitlist.policy(s waitlist.sku, channel text DEFAULT 'dtc')
RETURNS waitlist.policy_result
LANGUAGE sql STABLE PARALLEL RESTRICTED
AS $$
	SELECT waitlist.policy_of(s.status, s.on_hand, s.allocated OPERATOR(pg_catalog.+) s.held,
							  s.paid_waiting, s.sub_waiting,
							  s.restock_date, s.restock_confirmed,
							  s.preorders_open, s.preorder_accepted, s.preorder_limit, s.ships_on,
							  s.channels, s.backorder_days, s.out_of_stock_days, s.min_demand,
							  s.max_backorder_units, s.id, s.channel_limits, channel)
$$;

/* How fast a SKU sold out the last time: what back_in_stock can say. */
COMMENT ON COLUMN waitlist.sku.in_stock_since IS 'when units last went on sale (on hand and not allocated); NULL while none are';
COMMENT ON COLUMN waitlist.sku.last_sellout IS 'how long the SKU was on sale the last time before its last unit was allocated (back_in_stock says it); NULL: not known yet';

/* ------------------------------------------------------------------------
 * Sign-ups expire.  A sign-up still waiting waitlist.signup_expiry after it
 * was made (or renewed by signing up again) hears one last-chance message,
 * signup_expiring, waitlist.last_chance_notice before the end; signing up
 * again keeps the place and starts the period over; otherwise it leaves the
 * list (state expired) when the notice has run.  tick() does both, found
 * through the two partial indexes below.
 */
ALTER TABLE waitlist.subscriber ADD COLUMN renewed_at timestamptz;
ALTER TABLE waitlist.subscriber ADD COLUMN last_chance_at timestamptz;
COMMENT ON COLUMN waitlist.subscriber.renewed_at IS 'when the person last signed up again for the same SKU (their place kept): the expiry period starts over';
COMMENT ON COLUMN waitlist.subscriber.last_chance_at IS 'when the last-chance message (signup_expiring) was written; the sign-up expires waitlist.last_chance_notice later';
CREATE INDEX subscriber_last_chance ON waitlist.subscriber ((coalesce(renewed_at, created_at)))
	WHERE state OPERATOR(pg_catalog.=) 'waiting' AND last_chance_at IS NULL;
CREATE INDEX subscriber_expiring ON waitlist.subscriber (last_chance_at)
	WHERE state OPERATOR(pg_catalog.=) 'waiting' AND last_chance_at IS NOT NULL;
COMMENT ON VIEW waitlist.subscriber_status IS 'sign-ups with their derived status (waiting, notified, unsubscribed, converted, expired, lapsed)';

/* ------------------------------------------------------------------------
 * Follow-ups, each at most once per person and wave: a reminder to the
 * people a back_in_stock wave told who did not open it, while stock remains
 * (back_in_stock_reminder, batch.followup_at), and an honest note to those
 * told who did not buy before it sold out (missed_out, sku.missed_note_at),
 * who keep their place for the next restock, once (subscriber.kept_place):
 * those who kept it before, or let a held unit lapse, leave the list
 * (state lapsed) and are told so in the same note.
 */
ALTER TABLE waitlist.sku ADD COLUMN wave_start bigint;
ALTER TABLE waitlist.sku ADD COLUMN missed_note_at timestamptz;
ALTER TABLE waitlist.sku ADD COLUMN missed_from bigint;
ALTER TABLE waitlist.sku ADD COLUMN missed_to bigint;
ALTER TABLE waitlist.sku ADD COLUMN missed_since timestamptz;
ALTER TABLE waitlist.subscriber ADD COLUMN kept_place boolean NOT NULL DEFAULT false;
ALTER TABLE waitlist.batch ADD COLUMN followup_at timestamptz;
COMMENT ON COLUMN waitlist.batch.followup_at IS 'back_in_stock: when the people it told who did not open it hear back_in_stock_reminder, if stock remains (NULL: done or none)';
COMMENT ON COLUMN waitlist.sku.wave_start IS 'the sign-up watermark when units last went on sale: the people told since keep their place if it sells out before they buy';
COMMENT ON COLUMN waitlist.sku.missed_note_at IS 'when the people told who did not buy before the last sell-out hear missed_out (NULL: none due)';
COMMENT ON COLUMN waitlist.sku.missed_from IS 'missed_out goes to the sign-ups still waiting at positions [missed_from, missed_to) not told again since';
COMMENT ON COLUMN waitlist.sku.missed_to IS 'see missed_from';
COMMENT ON COLUMN waitlist.sku.missed_since IS 'the sell-out of the missed_out notes due: the sign-ups that lapsed at it (or after) hear it too';
COMMENT ON COLUMN waitlist.subscriber.kept_place IS 'kept its place at a sell-out after being told and not buying; at the next such sell-out it lapses (leaves the list)';
CREATE INDEX batch_followup ON waitlist.batch (followup_at) WHERE followup_at IS NOT NULL;
CREATE INDEX sku_missed_due ON waitlist.sku (missed_note_at) WHERE missed_note_at IS NOT NULL;

/* ------------------------------------------------------------------------
 * What the lists tell the merchant.  Product page views (record_view: the
 * SKU, the visitor and what the page showed), kept raw in page_view and
 * rolled up per SKU, day (UTC) and what was shown in view_day once a day
 * is over (roll_up_views); the date each line was promised
 * (line.promised_on); and metrics() over a range of days, which reads the
 * roll-up for the days it covers and the raw views for the others, so its
 * numbers are the same before and after a roll-up.
 */
CREATE TABLE waitlist.page_view (
	sku				text NOT NULL,	/* record_view checks it: no foreign key to pay per view */
	at				timestamptz NOT NULL DEFAULT waitlist.now(),
	visitor			text,
	shown			text NOT NULL
					CHECK (shown = ANY (ARRAY['in_stock', 'out_of_stock', 'notify_me',
																	'backorder', 'preorder']))
);
COMMENT ON TABLE waitlist.page_view IS 'product page views (record_view): what the page showed the visitor; rolled up per day into view_day';
COMMENT ON COLUMN waitlist.page_view.visitor IS 'the shop''s id for the visitor (a session or customer id; NULL: anonymous)';
COMMENT ON COLUMN waitlist.page_view.shown IS 'what the page offered: in_stock, out_of_stock (nothing to order), notify_me, backorder or preorder';
CREATE INDEX page_view_at ON waitlist.page_view USING brin (at);
CREATE INDEX page_view_sku ON waitlist.page_view (sku, at);
SELECT pg_catalog.pg_extension_config_dump('waitlist.page_view', '');

CREATE TABLE waitlist.view_day (
	sku				text NOT NULL REFERENCES waitlist.sku (sku),
	day				date NOT NULL,
	shown			text NOT NULL,
	views			bigint NOT NULL,
	visitors		bigint NOT NULL,
	PRIMARY KEY (sku, day, shown)
);
COMMENT ON TABLE waitlist.view_day IS 'page views per SKU, day (UTC) and what was shown, for the days roll_up_views has closed';
COMMENT ON COLUMN waitlist.view_day.visitors IS 'distinct visitors that day (anonymous views not counted)';
CREATE INDEX view_day_day ON waitlist.view_day (day);
SELECT pg_catalog.pg_extension_config_dump('waitlist.view_day', '');

CREATE TABLE waitlist.view_day_done (
	day				date PRIMARY KEY,
	rolled_at		timestamptz NOT NULL DEFAULT waitlist.now()
);
COMMENT ON TABLE waitlist.view_day_done IS 'the days whose page views are in view_day (all of them: a day is rolled up once it is over)';
SELECT pg_catalog.pg_extension_config_dump('waitlist.view_day_done', '');

/*
 * The sell-out history: each time a SKU's units went on sale (free units
 * after the waiting lines were served) and when the last of them was
 * allocated.  Written by the allocator at commit, one row per sale period;
 * what the SKU sold between, the stock-outs between periods, and its
 * launch (the first period) feed metrics() and fastest_sellouts().
 */
CREATE TABLE waitlist.sale_period (
	sku				text NOT NULL REFERENCES waitlist.sku (sku),
	on_sale_at		timestamptz NOT NULL,
	sold_out_at		timestamptz,
	PRIMARY KEY (sku, on_sale_at),
	CHECK (sold_out_at OPERATOR(pg_catalog.>=) on_sale_at)
);
COMMENT ON TABLE waitlist.sale_period IS 'the sell-out history: when each batch of a SKU''s units went on sale and when the last was allocated';
COMMENT ON COLUMN waitlist.sale_period.sold_out_at IS 'when the last free unit was allocated (NULL: still on sale)';
CREATE INDEX sale_period_sold_out ON waitlist.sale_period (sold_out_at);
SELECT pg_catalog.pg_extension_config_dump('waitlist.sale_period', '');
/*
 * 0.1.0 kept no history.  A SKU that has had stock gets one period from its
 * creation: open when units are on sale now (and on sale since then, as
 * in_stock_since says), else closed at once.  Its launch is then its
 * creation, so the pre-orders 0.1.0 took for a product already on sale are
 * not set against a later week; a SKU that never had stock launches with
 * its first units, as on a fresh install.
 */
UPDATE waitlist.sku SET in_stock_since = created_at WHERE on_hand > allocated;
INSERT INTO waitlist.sale_period (sku, on_sale_at, sold_out_at)
	SELECT s.sku, s.created_at, CASE WHEN s.on_hand > s.allocated THEN NULL ELSE s.created_at END
	  FROM waitlist.sku s
	 WHERE s.on_hand > 0 OR s.allocated > 0
		OR EXISTS (SELECT 1 FROM waitlist.line l WHERE l.sku = s.sku AND l.state = 'shipped');

ALTER TABLE waitlist.line ADD COLUMN promised_on date;
ALTER TABLE waitlist.line ADD COLUMN from_stock boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN waitlist.line.promised_on IS 'the ship date the customer was given when ordering: the SKU''s ship date for a pre-order, its confirmed restock date for a backorder not sold from stock (NULL: none given)';
COMMENT ON COLUMN waitlist.line.from_stock IS 'free units covered the line when it was placed: a sale from stock (place_order, a claimed hold), not a backorder; lines placed before 0.2.0 say false';

CREATE FUNCTION waitlist.record_view(sku text, visitor text, shown text) RETURNS void
AS 'MODULE_PATHNAME', 'waitlist_record_view'
LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.record_view(text, text, text) IS
	'a product page view: the SKU, the visitor (NULL: anonymous) and what the page showed (in_stock, out_of_stock, notify_me, backorder, preorder); the input of the sign-up and backorder conversion rates';
REVOKE ALL ON FUNCTION waitlist.record_view(text, text, text) FROM PUBLIC;

/*
 * Roll up the page views of every day that ended more than an hour ago
 * (UTC) and is not rolled up yet; returns the days rolled up.  A day is
 * rolled up once; the hour lets transactions that began before midnight
 * commit first.  A call goes on from the last day rolled up (the first
 * time from the first view), ten years of days at most.  Run by the report (and by hand or pg_cron); metrics()
 * does not need it, it only gets faster.
 */
CREATE FUNCTION waitlist.roll_up_views() RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	last_day date := ((waitlist.now() - interval '1 hour') AT TIME ZONE 'UTC')::date - 1;
	first_day date;
	d date;
	n integer := 0;
BEGIN
	-- after the last day rolled up (a view is recorded at the time it is
	-- made, so no earlier day gains one); the first time, from the first view
	SELECT max(x.day) + 1 INTO first_day FROM waitlist.view_day_done x;
	IF first_day IS NULL THEN
		SELECT (min(v.at) AT TIME ZONE 'UTC')::date INTO first_day FROM waitlist.page_view v;
	END IF;
	IF first_day IS NULL OR first_day > last_day THEN
		RETURN 0;
	END IF;
	-- ten years of days a call at most (a clock set far ahead waits for the next)
	last_day := least(last_day, first_day + 3660);
	FOR d IN SELECT g::date FROM generate_series(first_day, last_day, interval '1 day') g
	LOOP
		INSERT INTO waitlist.view_day_done (day) VALUES (d) ON CONFLICT (day) DO NOTHING;
		IF FOUND THEN
			INSERT INTO waitlist.view_day (sku, day, shown, views, visitors)
			SELECT v.sku, d, v.shown, count(*), count(DISTINCT v.visitor)
			  FROM waitlist.page_view v
			 WHERE v.at >= (d::timestamp AT TIME ZONE 'UTC')
			   AND v.at < ((d + 1)::timestamp AT TIME ZONE 'UTC')
			 GROUP BY v.sku, v.shown;
			n := n + 1;
		END IF;
	END LOOP;
	RETURN n;
END
$$;
COMMENT ON FUNCTION waitlist.roll_up_views() IS
	'roll up the page views of the days (UTC) that ended more than an hour ago into view_day, each day once; returns the days rolled up';
REVOKE ALL ON FUNCTION waitlist.roll_up_views() FROM PUBLIC;

/*
 * The day ranges the report functions take: both days given, finite, in
 * order, and at most ten years apart (a range is read a day at a time).
 */
CREATE FUNCTION waitlist.check_day_range(from_day date, to_day date) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF from_day IS NULL OR to_day IS NULL THEN
		RAISE EXCEPTION 'from_day and to_day must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT isfinite(from_day) OR NOT isfinite(to_day) THEN
		RAISE EXCEPTION 'from_day and to_day must be finite dates' USING ERRCODE = 'datetime_field_overflow';
	END IF;
	IF to_day < from_day THEN
		RAISE EXCEPTION 'to_day % is before from_day %', to_char(to_day, 'YYYY-MM-DD'), to_char(from_day, 'YYYY-MM-DD')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF to_day - from_day > 3660 THEN
		RAISE EXCEPTION 'a range of at most 3660 days (ten years) is read'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Ask for the years one at a time.';
	END IF;
END
$$;
COMMENT ON FUNCTION waitlist.check_day_range(date, date) IS
	'refuses a day range the report functions cannot read: NULL (22004), infinite (22008), reversed or over 3660 days (22023)';
REVOKE ALL ON FUNCTION waitlist.check_day_range(date, date) FROM PUBLIC;

/*
 * Page views per SKU, day and what was shown over the days [from_day,
 * to_day] (UTC), for one SKU or all: the roll-up for the days it has, the
 * raw views (by index, a day at a time) for the others.
 */
CREATE FUNCTION waitlist.views_by_day(from_day date, to_day date, for_sku text DEFAULT NULL)
RETURNS TABLE (sku text, day date, shown text, views bigint, visitors bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM waitlist.check_day_range(views_by_day.from_day, views_by_day.to_day);
	RETURN QUERY
		SELECT r.sku, r.day, r.shown, r.views, r.visitors
		  FROM waitlist.view_day r
		 WHERE r.day >= views_by_day.from_day
		   AND r.day <= views_by_day.to_day
		   AND (views_by_day.for_sku IS NULL OR r.sku = views_by_day.for_sku)
		   AND EXISTS (SELECT 1 FROM waitlist.view_day_done x WHERE x.day = r.day);
	-- only when a day of the range is not rolled up: a plan that may read
	-- page_view is costed high enough to be compiled (JIT), which the
	-- roll-up alone does not need
	IF NOT EXISTS (SELECT 1 FROM generate_series(views_by_day.from_day, views_by_day.to_day, interval '1 day') d
				   WHERE NOT EXISTS (SELECT 1 FROM waitlist.view_day_done x WHERE x.day = d::date)) THEN
		RETURN;
	END IF;
	RETURN QUERY
		-- the days not rolled up, each read by itself through the indexes on at
		SELECT v.sku, g.day, v.shown, count(*), count(DISTINCT v.visitor)
		  FROM (SELECT d::date AS day
				  FROM generate_series(views_by_day.from_day, views_by_day.to_day, interval '1 day') d
				 WHERE NOT EXISTS (SELECT 1 FROM waitlist.view_day_done x WHERE x.day = d::date)) g
		 CROSS JOIN LATERAL (
			SELECT p.sku, p.shown, p.visitor FROM waitlist.page_view p
			 WHERE p.at >= (g.day::timestamp AT TIME ZONE 'UTC')
			   AND p.at < ((g.day + 1)::timestamp AT TIME ZONE 'UTC')
			   AND (views_by_day.for_sku IS NULL OR p.sku = views_by_day.for_sku)) v
		 GROUP BY v.sku, g.day, v.shown;
END
$$;
COMMENT ON FUNCTION waitlist.views_by_day(date, date, text) IS
	'page views per SKU, day (UTC) and what was shown, over [from_day, to_day], for one SKU or all: the roll-up where it exists, the raw views otherwise';
REVOKE ALL ON FUNCTION waitlist.views_by_day(date, date, text) FROM PUBLIC;

/*
 * The people a back_in_stock wave made over [from_day, to_day] (UTC)
 * reached, for one SKU or all: on the list when the wave was made, within
 * its positions; each once, from the first wave that reached them; and
 * whether they bought the SKU (by their email or phone) within 48 hours
 * after, the 48th hour included.  metrics() and demand() count them.
 */
CREATE FUNCTION waitlist.bis_notified(from_day date, to_day date, for_sku text DEFAULT NULL)
RETURNS TABLE (sku text, told_at timestamptz, bought boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM waitlist.check_day_range(bis_notified.from_day, bis_notified.to_day);
	RETURN QUERY
		SELECT t.sku, t.told_at,
			   EXISTS (SELECT 1 FROM waitlist.purchase q
						WHERE q.sku = t.sku AND q.contact IN (lower(t.email), t.phone)
						  AND q.at >= t.told_at AND q.at <= t.told_at + interval '48 hours')
		  FROM (SELECT u.sku, u.email, u.phone, min(b.created_at) AS told_at
				  FROM waitlist.batch b
				  JOIN waitlist.subscriber u ON u.sku = b.sku AND u.pos >= b.pos_from AND u.pos < b.pos_to
				 WHERE b.kind = 'back_in_stock'
				   AND b.created_at >= (bis_notified.from_day::timestamp AT TIME ZONE 'UTC')
				   AND b.created_at < ((bis_notified.to_day + 1)::timestamp AT TIME ZONE 'UTC')
				   AND (bis_notified.for_sku IS NULL OR b.sku = bis_notified.for_sku)
				   AND u.created_at <= b.created_at
				   AND (u.unsubscribed_at IS NULL OR u.unsubscribed_at > b.created_at)
				 GROUP BY u.id, u.sku, u.email, u.phone) t;
END
$$;
COMMENT ON FUNCTION waitlist.bis_notified(date, date, text) IS
	'the people back_in_stock waves over [from_day, to_day] (UTC) reached, each once at the first, and whether they bought the SKU within 48 hours (the input of back_in_stock_conversion)';
REVOKE ALL ON FUNCTION waitlist.bis_notified(date, date, text) FROM PUBLIC;

/*
 * The seed's metrics over the days [from_day, to_day] (UTC), for one SKU or
 * all: one row each, its value a fraction (NULL when nothing was there to
 * count), numerator and denominator, the target band and where the value
 * falls (in_band, below, above, no_band, no_data).  Definitions in the
 * reference ("What the lists tell the merchant").
 */
CREATE FUNCTION waitlist.metrics(from_day date, to_day date, for_sku text DEFAULT NULL)
RETURNS TABLE (metric text, value numeric, numerator numeric, denominator numeric, target text, verdict text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM waitlist.check_day_range(metrics.from_day, metrics.to_day);
	RETURN QUERY
		WITH p AS (
			SELECT metrics.from_day::timestamp AT TIME ZONE 'UTC' AS s,
				   (metrics.to_day + 1)::timestamp AT TIME ZONE 'UTC' AS e, metrics.for_sku AS only,
				   waitlist.now() AS now
		), v AS (
			SELECT sum(views) FILTER (WHERE shown IN ('out_of_stock', 'notify_me')) AS oos,
				   sum(views) FILTER (WHERE shown = 'backorder') AS bo
			  FROM waitlist.views_by_day(metrics.from_day, metrics.to_day, metrics.for_sku)
		), signups AS (
			SELECT count(*) AS n FROM waitlist.subscriber u, p
			 WHERE u.created_at >= p.s AND u.created_at < p.e AND (p.only IS NULL OR u.sku = p.only)
		), bis AS (
			SELECT count(*) AS notified, count(*) FILTER (WHERE t.bought) AS bought
			  FROM waitlist.bis_notified(metrics.from_day, metrics.to_day, metrics.for_sku) t
		), bo AS (
			-- backorders placed in the period (sales from stock and claimed holds aside)
			SELECT count(*) AS placed, count(*) FILTER (WHERE l.state = 'cancelled') AS cancelled
			  FROM waitlist.line l, p
			 WHERE l.kind = 'backorder' AND NOT l.from_stock
			   AND l.created_at >= p.s AND l.created_at < p.e AND (p.only IS NULL OR l.sku = p.only)
		), pre AS (
			-- pre-orders shipped in the period that were given a ship date
			SELECT count(*) AS shipped,
				   count(*) FILTER (WHERE (l.shipped_at AT TIME ZONE 'UTC')::date <= l.promised_on) AS on_time
			  FROM waitlist.line l, p
			 WHERE l.kind = 'preorder' AND l.state = 'shipped' AND l.promised_on IS NOT NULL
			   AND l.shipped_at >= p.s AND l.shipped_at < p.e AND (p.only IS NULL OR l.sku = p.only)
		), periods AS (
			SELECT sp.sku, sp.on_sale_at, sp.sold_out_at,
				   lead(sp.on_sale_at) OVER (PARTITION BY sp.sku ORDER BY sp.on_sale_at) AS back_at
			  FROM waitlist.sale_period sp, p WHERE p.only IS NULL OR sp.sku = p.only
		), launch AS (
			-- a launch in the period: the SKU's first sale period, with the
			-- pre-orders placed before it (a launch without any is left out)
			SELECT f.sku, f.at,
				   sum(coalesce(l.amount, l.qty * l.unit_price)) AS pre_revenue,
				   sum(l.qty * l.unit_price) / nullif(sum(l.qty) FILTER (WHERE l.unit_price IS NOT NULL), 0) AS price
			  FROM (SELECT periods.sku, min(periods.on_sale_at) AS at FROM periods GROUP BY periods.sku) f
			  JOIN waitlist.line l ON l.sku = f.sku AND l.kind = 'preorder' AND l.state <> 'cancelled'
								  AND l.created_at < f.at
			 CROSS JOIN p
			 WHERE f.at >= p.s AND f.at < p.e
			 GROUP BY f.sku, f.at
		), launch_sales AS (
			-- what those SKUs sold in their first 7 days on sale: orders
			-- reported by record_purchase (once, from the row of the order's
			-- lowest contact; one the extension also has as a line is
			-- counted from the line), and every line not cancelled (from
			-- stock, backorders, later pre-orders); a sale without an amount
			-- at the SKU's average pre-order price.  UNION ALL of joins to
			-- the tables, each read by SKU through an index.
			SELECT la.pre_revenue AS pre, 0::numeric AS other FROM launch la
			UNION ALL
			SELECT 0, coalesce(q.amount, q.qty * la.price)
			  FROM launch la
			  JOIN waitlist.purchase q ON q.sku = la.sku AND q.source = 'external' AND q.qty IS NOT NULL
									  AND q.at >= la.at AND q.at < la.at + interval '7 days'
			  LEFT JOIN waitlist.line x ON x.sku = q.sku AND x.order_ref = q.order_ref
			  LEFT JOIN waitlist.purchase q2 ON q2.sku = q.sku AND q2.order_ref = q.order_ref
											AND q2.contact < q.contact AND q2.source = 'external'
			 WHERE x.sku IS NULL AND q2.sku IS NULL
			UNION ALL
			SELECT 0, coalesce(l.amount, l.qty * l.unit_price, l.qty * la.price)
			  FROM launch la
			  JOIN waitlist.line l ON l.sku = la.sku AND l.state <> 'cancelled'
								  AND l.created_at >= la.at AND l.created_at < la.at + interval '7 days'
		), launch_week AS (
			SELECT sum(pre) AS pre_revenue, sum(pre) + sum(other) AS revenue FROM launch_sales
		), outs AS (
			-- stock-outs overlapping the period: from a sell-out to the next
			-- sale period (or now), cut to the period; none for a SKU that is
			-- discontinued now
			SELECT pe.sku, pe.on_sale_at, pe.sold_out_at, greatest(pe.sold_out_at, p.s) AS f,
				   least(coalesce(pe.back_at, p.now), p.e, p.now) AS t
			  FROM periods pe
			  JOIN waitlist.sku k ON k.sku = pe.sku AND k.status <> 'discontinued'
			 CROSS JOIN p
			 WHERE pe.sold_out_at IS NOT NULL AND pe.sold_out_at < least(p.e, p.now)
			   AND coalesce(pe.back_at, p.now) > p.s
			   AND least(coalesce(pe.back_at, p.now), p.e, p.now) > greatest(pe.sold_out_at, p.s)
		), per_out AS (
			-- for each stock-out (a sale period's end): the units sold from
			-- stock in the 28 days up to it, the sale that emptied the shelf
			-- included; the days on sale in those 28 days; the units of the
			-- backorders and pre-orders placed during it (within the period),
			-- cancelled ones aside.  UNION ALL of joins to the tables, each
			-- read by SKU through an index, summed per stock-out below (no
			-- correlated subquery: Citus plans these).
			SELECT o.sku, o.on_sale_at, o.f, o.t, 0::numeric AS sold, 0::numeric AS days, 0::bigint AS ordered FROM outs o
			UNION ALL
			SELECT o.sku, o.on_sale_at, o.f, o.t, q.qty, 0, 0
			  FROM outs o
			  JOIN waitlist.purchase q ON q.sku = o.sku AND q.source = 'external' AND q.qty IS NOT NULL
									  AND q.at >= o.sold_out_at - interval '28 days' AND q.at <= o.sold_out_at
			  LEFT JOIN waitlist.line x ON x.sku = q.sku AND x.order_ref = q.order_ref
			  LEFT JOIN waitlist.purchase q2 ON q2.sku = q.sku AND q2.order_ref = q.order_ref
											AND q2.contact < q.contact AND q2.source = 'external'
			 WHERE x.sku IS NULL AND q2.sku IS NULL
			UNION ALL
			SELECT o.sku, o.on_sale_at, o.f, o.t, l.qty, 0, 0
			  FROM outs o
			  JOIN waitlist.line l ON l.sku = o.sku AND l.from_stock AND l.state <> 'cancelled'
								  AND l.created_at >= o.sold_out_at - interval '28 days'
								  AND l.created_at <= o.sold_out_at
			UNION ALL
			SELECT o.sku, o.on_sale_at, o.f, o.t, 0,
				   extract(epoch FROM least(pe.sold_out_at, o.sold_out_at)
									 - greatest(pe.on_sale_at, o.sold_out_at - interval '28 days')) / 86400.0, 0
			  FROM outs o
			  JOIN waitlist.sale_period pe ON pe.sku = o.sku AND pe.sold_out_at IS NOT NULL
										  AND pe.on_sale_at <= o.on_sale_at
										  AND pe.sold_out_at > o.sold_out_at - interval '28 days'
			UNION ALL
			SELECT o.sku, o.on_sale_at, o.f, o.t, 0, 0, l.qty
			  FROM outs o
			  JOIN waitlist.line l ON l.sku = o.sku AND NOT l.from_stock AND l.state <> 'cancelled'
								  AND l.created_at >= o.f AND l.created_at < o.t
		), capture AS (
			-- a stock-out counts when units were sold from stock before it:
			-- expected = units per day on sale (at least a day) x its days
			SELECT coalesce(sum(g.ordered), 0) AS captured,
				   round(sum(g.sold / greatest(g.days, 1.0) * extract(epoch FROM g.t - g.f) / 86400.0), 2) AS expected
			  FROM (SELECT x.sku, x.on_sale_at, x.f, x.t, sum(x.sold) AS sold, sum(x.days) AS days,
						   sum(x.ordered) AS ordered
					  FROM per_out x GROUP BY x.sku, x.on_sale_at, x.f, x.t) g
			 WHERE g.sold > 0
		), m (ord, metric, num, den, lo, hi, target) AS (
			SELECT 1, 'signup_rate', (SELECT n FROM signups)::numeric, (SELECT oos FROM v), 0.10, 0.20, '10-20%'
			UNION ALL
			SELECT 2, 'back_in_stock_conversion', bought::numeric, notified::numeric, 0.08, 0.15, '8-15%' FROM bis
			UNION ALL
			SELECT 3, 'preorder_revenue_share', round(pre_revenue, 2), round(revenue, 2), 0.20, 0.40, '20-40%'
			  FROM launch_week
			UNION ALL
			SELECT 4, 'backorder_conversion', (SELECT placed FROM bo)::numeric, (SELECT bo FROM v),
				   0.05, NULL, 'at least 5%'
			UNION ALL
			SELECT 5, 'backorder_cancellation', cancelled::numeric, placed::numeric, NULL, 0.15, 'at most 15%' FROM bo
			UNION ALL
			SELECT 6, 'preorder_on_time', on_time::numeric, shipped::numeric, 0.90, NULL, 'at least 90%' FROM pre
			UNION ALL
			SELECT 7, 'revenue_capture', captured::numeric, expected, NULL, NULL, 'no band (higher is better)'
			  FROM capture
		)
		SELECT m.metric,
			   round(m.num / nullif(m.den, 0), 4),
			   coalesce(m.num, 0), coalesce(m.den, 0), m.target,
			   CASE WHEN coalesce(m.den, 0) = 0 THEN 'no_data'
					WHEN m.lo IS NOT NULL AND m.num / m.den < m.lo THEN 'below'
					WHEN m.hi IS NOT NULL AND m.num / m.den > m.hi THEN 'above'
					WHEN m.lo IS NULL AND m.hi IS NULL THEN 'no_band'
					ELSE 'in_band' END
		  FROM m ORDER BY m.ord;
END
$$;
COMMENT ON FUNCTION waitlist.metrics(date, date, text) IS
	'the seed''s metrics over the days [from_day, to_day] (UTC), for one SKU or all: value (a fraction), numerator, denominator, target band and verdict (in_band, below, above, no_band, no_data)';
REVOKE ALL ON FUNCTION waitlist.metrics(date, date, text) FROM PUBLIC;

/* ------------------------------------------------------------------------
 * Demand signals: what is waiting per SKU (the figure for the supplier)
 * with a suggested reorder quantity, the sign-up trend, the SKUs that sold
 * out fastest, the shoppers who keep finding products out of stock, and
 * what became of the messages.
 */
CREATE FUNCTION waitlist.demand(for_sku text DEFAULT NULL)
RETURNS TABLE (sku text, title text, people_waiting bigint, paid_units_waiting bigint,
			   preorder_units_waiting bigint, free_units bigint, conversion numeric,
			   suggested_reorder bigint, restock_date date, last_sellout interval)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	RETURN QUERY
		SELECT s.sku, s.title, s.sub_waiting, coalesce(l.backorder_units, 0), coalesce(l.preorder_units, 0),
			   greatest(s.on_hand - s.allocated - s.held, 0), c.conv,
			   greatest(coalesce(l.backorder_units, 0) + ceil(s.sub_waiting * c.conv)::bigint
						- greatest(s.on_hand - s.allocated - s.held, 0), 0),
			   CASE WHEN s.restock_confirmed THEN s.restock_date END, s.last_sellout
		  FROM waitlist.sku s
		  -- the units of waiting lines not yet allocated (a line may be partly filled)
		  LEFT JOIN LATERAL (SELECT sum(l.pos_end - greatest(l.pos_start, s.paid_served))
									  FILTER (WHERE l.kind = 'backorder')::bigint AS backorder_units,
									sum(l.pos_end - greatest(l.pos_start, s.paid_served))
									  FILTER (WHERE l.kind = 'preorder')::bigint AS preorder_units
							   FROM waitlist.line l
							  WHERE l.sku = s.sku AND l.state = 'waiting' AND l.pos_end > s.paid_served) l ON true
		  -- the SKU's own back-in-stock conversion over the last 90 days when at
		  -- least 20 people were notified, else the seed's midpoint (every SKU
		  -- in one pass)
		  LEFT JOIN (SELECT n.sku, count(*) AS notified, count(*) FILTER (WHERE n.bought) AS bought
					   FROM waitlist.bis_notified(((waitlist.now() - interval '90 days') AT TIME ZONE 'UTC')::date,
												  (waitlist.now() AT TIME ZONE 'UTC')::date, demand.for_sku) n
					  GROUP BY n.sku) k ON k.sku = s.sku
		 CROSS JOIN LATERAL (SELECT CASE WHEN k.notified >= 20 THEN round(k.bought::numeric / k.notified, 4)
										 ELSE 0.115 END AS conv) c
		 WHERE (demand.for_sku IS NULL OR s.sku = demand.for_sku)
		   AND (s.sub_waiting > 0 OR l.backorder_units > 0 OR l.preorder_units > 0 OR demand.for_sku IS NOT NULL)
		 ORDER BY s.sub_waiting + coalesce(l.backorder_units, 0) + coalesce(l.preorder_units, 0) DESC, s.sku;
END
$$;
COMMENT ON FUNCTION waitlist.demand(text) IS
	'what waits per SKU, most first: people signed up and not yet told, backorder and pre-order units not yet allocated, free units, the conversion used and the suggested reorder quantity (backorder units + people x conversion - free units, at least 0)';
REVOKE ALL ON FUNCTION waitlist.demand(text) FROM PUBLIC;

CREATE FUNCTION waitlist.signup_trend(from_day date, to_day date, for_sku text DEFAULT NULL)
RETURNS TABLE (sku text, day date, signups bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM waitlist.check_day_range(signup_trend.from_day, signup_trend.to_day);
	RETURN QUERY
		SELECT k.sku, g.d::date, coalesce(n.signups, 0)
		  FROM (SELECT DISTINCT u.sku FROM waitlist.subscriber u
				 WHERE u.created_at >= (signup_trend.from_day::timestamp AT TIME ZONE 'UTC')
				   AND u.created_at < ((signup_trend.to_day + 1)::timestamp AT TIME ZONE 'UTC')
				   AND (signup_trend.for_sku IS NULL OR u.sku = signup_trend.for_sku)) k
		 CROSS JOIN generate_series(signup_trend.from_day, signup_trend.to_day, interval '1 day') g (d)
		  LEFT JOIN (SELECT u.sku, (u.created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS signups
					   FROM waitlist.subscriber u
					  WHERE u.created_at >= (signup_trend.from_day::timestamp AT TIME ZONE 'UTC')
						AND u.created_at < ((signup_trend.to_day + 1)::timestamp AT TIME ZONE 'UTC')
						AND (signup_trend.for_sku IS NULL OR u.sku = signup_trend.for_sku)
					  GROUP BY 1, 2) n ON n.sku = k.sku AND n.day = g.d::date
		 ORDER BY k.sku, g.d;
END
$$;
COMMENT ON FUNCTION waitlist.signup_trend(date, date, text) IS
	'sign-ups per SKU and day (UTC) over [from_day, to_day], every day of the range listed (0 when none), for the SKUs with a sign-up in it';
REVOKE ALL ON FUNCTION waitlist.signup_trend(date, date, text) FROM PUBLIC;

CREATE FUNCTION waitlist.fastest_sellouts(from_day date, to_day date, max_rows integer DEFAULT 10)
RETURNS TABLE (sku text, title text, sellouts bigint, fastest interval, typical interval,
			   last_sold_out_at timestamptz, people_waiting bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM waitlist.check_day_range(fastest_sellouts.from_day, fastest_sellouts.to_day);
	IF fastest_sellouts.max_rows IS NULL OR fastest_sellouts.max_rows < 1 THEN
		RAISE EXCEPTION 'max_rows must be at least 1' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
		SELECT h.sku, s.title, h.n, h.fastest, h.typical, h.last_at, s.sub_waiting
		  FROM (SELECT sp.sku, count(*) AS n, min(sp.sold_out_at - sp.on_sale_at) AS fastest,
					   percentile_disc(0.5) WITHIN GROUP (ORDER BY sp.sold_out_at - sp.on_sale_at) AS typical,
					   max(sp.sold_out_at) AS last_at
				  FROM waitlist.sale_period sp
				 WHERE sp.sold_out_at >= (fastest_sellouts.from_day::timestamp AT TIME ZONE 'UTC')
				   AND sp.sold_out_at < ((fastest_sellouts.to_day + 1)::timestamp AT TIME ZONE 'UTC')
				 GROUP BY sp.sku) h
		  JOIN waitlist.sku s ON s.sku = h.sku
		 ORDER BY h.typical, h.fastest, h.sku LIMIT fastest_sellouts.max_rows;
END
$$;
COMMENT ON FUNCTION waitlist.fastest_sellouts(date, date, integer) IS
	'the SKUs whose units sold out fastest after going on sale, from the sell-out history (sale_period): the sell-outs over [from_day, to_day] (UTC), the fastest and the typical (median) time from on sale to sold out, the last sell-out and the people waiting now; typical first';
REVOKE ALL ON FUNCTION waitlist.fastest_sellouts(date, date, integer) FROM PUBLIC;

CREATE FUNCTION waitlist.repeat_oos_visitors(from_day date, to_day date, min_views integer DEFAULT 3)
RETURNS TABLE (visitor text, views bigint, skus bigint, last_seen timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM waitlist.check_day_range(repeat_oos_visitors.from_day, repeat_oos_visitors.to_day);
	IF repeat_oos_visitors.min_views IS NULL OR repeat_oos_visitors.min_views < 1 THEN
		RAISE EXCEPTION 'min_views must be at least 1' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
		SELECT v.visitor, count(*), count(DISTINCT v.sku), max(v.at)
		  FROM waitlist.page_view v
		 WHERE v.at >= (repeat_oos_visitors.from_day::timestamp AT TIME ZONE 'UTC')
		   AND v.at < ((repeat_oos_visitors.to_day + 1)::timestamp AT TIME ZONE 'UTC')
		   AND v.visitor IS NOT NULL AND v.shown IN ('out_of_stock', 'notify_me')
		 GROUP BY v.visitor HAVING count(*) >= repeat_oos_visitors.min_views
		 ORDER BY 2 DESC, 1;
END
$$;
COMMENT ON FUNCTION waitlist.repeat_oos_visitors(date, date, integer) IS
	'the visitors who found products out of stock (out_of_stock or notify_me pages) at least min_views times over [from_day, to_day] (UTC): views, distinct SKUs, last seen; most first';
REVOKE ALL ON FUNCTION waitlist.repeat_oos_visitors(date, date, integer) FROM PUBLIC;

CREATE FUNCTION waitlist.message_outcomes(from_day date, to_day date, for_sku text DEFAULT NULL)
RETURNS TABLE (kind text, channel text, written bigint, delivered bigint, opened bigint, clicked bigint,
			   bounced bigint, complained bigint, unsubscribed bigint, not_sent bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
	PERFORM waitlist.check_day_range(message_outcomes.from_day, message_outcomes.to_day);
	RETURN QUERY
		SELECT o.kind, o.channel, count(*),
			   count(*) FILTER (WHERE (o.state = 'delivered' OR e.delivered) AND e.bounced IS NOT TRUE),
			   count(*) FILTER (WHERE e.opened), count(*) FILTER (WHERE e.clicked),
			   count(*) FILTER (WHERE e.bounced), count(*) FILTER (WHERE e.complained),
			   count(*) FILTER (WHERE e.unsubscribed),
			   count(*) FILTER (WHERE o.state IN ('dead', 'skipped', 'suppressed'))
		  FROM waitlist.outbox o
		  LEFT JOIN LATERAL (
			SELECT bool_or(x.event = 'delivered') AS delivered, bool_or(x.event = 'opened') AS opened,
				   bool_or(x.event = 'clicked') AS clicked, bool_or(x.event = 'bounced') AS bounced,
				   bool_or(x.event = 'complained') AS complained,
				   bool_or(x.event = 'unsubscribed') AS unsubscribed
			  FROM waitlist.message_event x WHERE x.message_id = o.id) e ON true
		 WHERE o.created_at >= (message_outcomes.from_day::timestamp AT TIME ZONE 'UTC')
		   AND o.created_at < ((message_outcomes.to_day + 1)::timestamp AT TIME ZONE 'UTC')
		   AND o.channel IN ('email', 'sms')
		   AND (message_outcomes.for_sku IS NULL OR o.sku = message_outcomes.for_sku)
		 GROUP BY o.kind, o.channel
		 ORDER BY o.kind, o.channel;
END
$$;
COMMENT ON FUNCTION waitlist.message_outcomes(date, date, text) IS
	'customer messages (email, SMS) written over [from_day, to_day] (UTC), for one SKU or all, per kind and channel, and what became of them: delivered (and not bounced), opened, clicked, bounced, complained, unsubscribed (as record_event reported), not sent (dead, skipped, suppressed); this node''s outbox, messages purged since not counted';
REVOKE ALL ON FUNCTION waitlist.message_outcomes(date, date, text) FROM PUBLIC;

/* ------------------------------------------------------------------------
 * Sign-up confirmations queue in a table of their own: writing one deletes
 * a small row instead of updating the sign-up (see the 0.2.0 script).  The
 * sign-ups still marked move over, then the flag and its index go.
 * ---------------------------------------------------------------------- */
CREATE TABLE waitlist.unconfirmed_signup (
	id				bigint NOT NULL,
	sku				text NOT NULL,
	PRIMARY KEY (id, sku)
);
COMMENT ON TABLE waitlist.unconfirmed_signup IS 'sign-ups (id, sku) whose waitlist_joined confirmation is still to be written (by claim or tick)';
INSERT INTO waitlist.unconfirmed_signup (id, sku)
SELECT id, sku FROM waitlist.subscriber WHERE confirm_pending;
DROP INDEX waitlist.subscriber_unconfirmed;
ALTER TABLE waitlist.subscriber DROP COLUMN confirm_pending;
SELECT pg_catalog.pg_extension_config_dump('waitlist.unconfirmed_signup', '');
REVOKE ALL ON waitlist.unconfirmed_signup FROM PUBLIC;
CREATE OR REPLACE FUNCTION waitlist.outbox_metrics()
RETURNS TABLE (state text, kind text, messages bigint, oldest_due_age interval,
			   notification_queue_usage double precision)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT o.state, o.kind, pg_catalog.count(*),
		   pg_catalog.max(CASE WHEN o.state OPERATOR(pg_catalog.=) 'pending'
									AND o.due_at OPERATOR(pg_catalog.<=) waitlist.now()
							   THEN waitlist.now() OPERATOR(pg_catalog.-) o.due_at END),
		   pg_catalog.pg_notification_queue_usage()
	  FROM waitlist.outbox o
	 GROUP BY o.state, o.kind
	UNION ALL
	SELECT 'unexpanded', b.kind, pg_catalog.count(*),
		   waitlist.now() OPERATOR(pg_catalog.-) pg_catalog.min(b.created_at),
		   pg_catalog.pg_notification_queue_usage()
	  FROM waitlist.batch b
	 WHERE b.expanded_at IS NULL
	 GROUP BY b.kind
	UNION ALL
	SELECT 'unexpanded', 'waitlist_joined', pg_catalog.count(*),
		   waitlist.now() OPERATOR(pg_catalog.-) pg_catalog.min(u.created_at),
		   pg_catalog.pg_notification_queue_usage()
	  FROM waitlist.unconfirmed_signup q
	  JOIN waitlist.subscriber u ON u.id OPERATOR(pg_catalog.=) q.id AND u.sku OPERATOR(pg_catalog.=) q.sku
	 WHERE u.state OPERATOR(pg_catalog.=) 'waiting'
	HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0
	UNION ALL
	SELECT 'unexpanded', 'preorder_confirmed', pg_catalog.count(*),
		   waitlist.now() OPERATOR(pg_catalog.-) pg_catalog.min(l.action_at),
		   pg_catalog.pg_notification_queue_usage()
	  FROM waitlist.line l
	 WHERE l.action_at IS NOT NULL AND l.confirm_pending
	HAVING pg_catalog.count(*) OPERATOR(pg_catalog.>) 0
	 ORDER BY 1, 2
$$;
