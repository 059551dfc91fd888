-- claim_wait(): a claim that waits in the database for a message.  Woken by
-- the NOTIFY signal of the session's LISTEN waitlist (shown through a second
-- session, over dblink), or when the next message falls due (a nack's retry).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;

SELECT (waitlist.upsert_sku('CW-1', 'Claim wait one')).sku;
SELECT (waitlist.upsert_sku('CW-2', 'Claim wait two')).sku;
SELECT waitlist.place_backorder('CW-ORDER-1', 'CW-1', 1, 'Ann', 'cw-ann@example.com') > 0 AS placed_1;
SELECT waitlist.place_backorder('CW-ORDER-2', 'CW-2', 1, 'Bob', 'cw-bob@example.com') > 0 AS placed_2;
-- what earlier files left due of this kind is taken first
SELECT count(*) >= 0 AS drained
  FROM waitlist.claim('cw-drain', 10000, '1 hour', ARRAY['ready_to_ship']);
-- and what they left leased is closed: a lease of theirs running out during
-- a wait below would be claimed in place of this file's message
-- (40_claim_index_scans leaves its messages leased for 30 seconds).
UPDATE waitlist.outbox SET state = 'delivered', delivered_at = now()
 WHERE kind = 'ready_to_ship' AND state = 'leased' AND lease_owner <> 'cw-drain';

-- Bad arguments: refused before anything is claimed.
SELECT try($$SELECT * FROM waitlist.claim_wait('cw', NULL)$$);
SELECT try($$SELECT * FROM waitlist.claim_wait('cw', '-1 second')$$);
SELECT try($$SELECT * FROM waitlist.claim_wait('cw', '61 seconds')$$);
SELECT try($$SELECT * FROM waitlist.claim_wait('cw', '1 month')$$);
SELECT try($$SELECT * FROM waitlist.claim_wait('cw', '1 second', 0)$$);
SELECT try($$SELECT * FROM waitlist.claim_wait(NULL, '1 second')$$);
SELECT try($$SELECT * FROM waitlist.claim_wait('cw', '1 second', 10, '0 seconds')$$);
SELECT try($$SELECT * FROM waitlist.claim_wait('cw', '1 second', 10, '30 seconds', ARRAY[NULL::text])$$);
-- A wait needs the session to LISTEN: nothing else would wake it.
SELECT try($$SELECT * FROM waitlist.claim_wait('cw', '1 second')$$);

-- A wait of 0 is claim(): no LISTEN needed, nothing due, nothing waited for.
SELECT count(*) AS claimed FROM waitlist.claim_wait('cw', '0', 10, '30 seconds', ARRAY['ready_to_ship']);

LISTEN waitlist;
-- A transaction snapshot would never see a new message.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT try($$SELECT * FROM waitlist.claim_wait('cw', '1 second')$$);
ROLLBACK;

-- Nothing due: the call waits its whole wait and returns nothing.
SELECT count(*) AS claimed, clock_timestamp() - statement_timestamp() >= '200 ms' AS waited_it_out
  FROM waitlist.claim_wait('cw', '200 ms', 10, '30 seconds', ARRAY['ready_to_ship']);

UNLISTEN *;

-- A message that falls due during the wait is claimed then: Ann's
-- ready_to_ship, nacked with a retry a second away (committed before this
-- session listens: no notification reaches it).  Without the wake at its
-- due time the 5-second wait would end empty (the last attempt is before it).
SELECT waitlist.restock('CW-1', 1);
SELECT waitlist.nack('cw', id, 'receiver down', '1 second')
  FROM waitlist.claim('cw', 10, '30 seconds', ARRAY['ready_to_ship']);
LISTEN waitlist;
SELECT count(*) AS claimed, min(sku) AS sku, min(attempts) AS attempts,
	   clock_timestamp() - statement_timestamp() < '4 seconds' AS before_the_wait_ran_out
  FROM waitlist.claim_wait('cw', '5 seconds', 10, '30 seconds', ARRAY['ready_to_ship']);
UNLISTEN *;

-- await_parked(consumer): returns once the dblink session's claim_wait for
-- consumer is waiting (wait event type Extension), at most 10 s.
CREATE FUNCTION pg_temp.await_parked(consumer text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1..1000 LOOP
		EXIT WHEN EXISTS (SELECT 1 FROM pg_stat_activity
						  WHERE query LIKE '%claim_wait(''' || consumer || '''%'
							AND pid <> pg_backend_pid() AND wait_event_type = 'Extension');
		PERFORM pg_sleep(0.01);
		PERFORM pg_stat_clear_snapshot();
	END LOOP;
END
$$;

-- Woken by a NOTIFY: a second session LISTENs and parks a 30-second
-- claim_wait; once it is seen waiting (wait event Extension), this session
-- restocks CW-2, and the parked call returns Bob's message.  Had the signal
-- not woken it, it would have returned nothing after 30 seconds.
SELECT dblink_connect('cw', format('host=%s port=%s dbname=%s',
	split_part(current_setting('unix_socket_directories'), ',', 1),
	current_setting('port'), current_database()));
SELECT dblink_exec('cw', 'LISTEN waitlist');
SELECT dblink_send_query('cw', $q$SELECT count(*), min(sku), min(recipient)
	FROM waitlist.claim_wait('cw-parked', '30 seconds', 10, '30 seconds', ARRAY['ready_to_ship'])$q$);
SELECT pg_temp.await_parked('cw-parked');
SELECT wait_event_type, wait_event FROM pg_stat_activity
 WHERE query LIKE '%claim_wait(''cw-parked''%' AND pid <> pg_backend_pid();
SELECT waitlist.restock('CW-2', 1);
SELECT * FROM dblink_get_result('cw') AS r(claimed bigint, sku text, recipient text);
SELECT count(*) AS no_more_results FROM dblink_get_result('cw') AS r(claimed bigint, sku text, recipient text);
SELECT clock_timestamp() - (SELECT created_at FROM waitlist.outbox
							 WHERE sku = 'CW-2' AND kind = 'ready_to_ship') < '20 seconds' AS woken_early;
SELECT state, lease_owner FROM waitlist.outbox WHERE sku = 'CW-2' AND kind = 'ready_to_ship';

-- A cancelled wait (a relay stopping) leases nothing and leaves the session usable.
SELECT dblink_send_query('cw', $q$SELECT count(*) FROM waitlist.claim_wait('cw-cancel', '30 seconds', 10, '30 seconds', ARRAY['ready_to_ship'])$q$);
SELECT pg_temp.await_parked('cw-cancel');
SELECT dblink_cancel_query('cw');
-- the remote 57014 (QUERY_CANCELED, which no EXCEPTION WHEN OTHERS catches)
SELECT * FROM dblink_get_result('cw') AS r(n bigint);
SELECT count(*) AS no_more_results FROM dblink_get_result('cw') AS r(n bigint);
SELECT count(*) AS leased_to_cancelled FROM waitlist.outbox WHERE lease_owner = 'cw-cancel';
SELECT * FROM dblink('cw', 'SELECT 1') AS t(one int);
SELECT dblink_disconnect('cw');
