-- A new restock date reaches the people signed up, not only the backorders:
-- once per real change of the confirmed date they know, with the previous
-- and the new date, written after the commit from one eta_changed batch.
SET TimeZone = 'UTC';
SET waitlist.test_now = '2027-03-01 09:00+00';
SELECT sku FROM waitlist.upsert_sku('ETA-1', 'Rain jacket', confirm_signups => false);
SELECT count(waitlist.subscribe('ETA-1', 'eta' || g || '@example.com',
								CASE WHEN g = 1 THEN '+15550000001' END, NULL))
  FROM generate_series(1, 3) g;
SELECT waitlist.place_backorder('ETA-B1', 'ETA-1', 1, 'Bo', 'bo@example.com') > 0 AS placed;

-- An unconfirmed date is the shop's guess: sign-ups are not told it.
SELECT sku FROM waitlist.upsert_sku('ETA-1', restock_date => '2027-04-01');
SELECT count(*) AS batches FROM waitlist.batch WHERE sku = 'ETA-1' AND kind = 'eta_changed';

-- Confirmed: the first date they hear (no previous date).
SELECT sku FROM waitlist.upsert_sku('ETA-1', restock_confirmed => true);
SELECT kind, pos_from, pos_to, units, prev_date, new_date, expanded_at IS NULL AS pending
  FROM waitlist.batch WHERE sku = 'ETA-1' AND kind = 'eta_changed' ORDER BY id;
-- Nothing per sign-up was written in the upsert: the batch is expanded later.
SELECT count(*) AS messages_yet FROM waitlist.outbox WHERE sku = 'ETA-1' AND kind = 'eta_changed';
SELECT waitlist.expand_batches() > 0 AS expanded;
SELECT channel, recipient, payload::jsonb - 'subscription_id' AS payload
  FROM waitlist.outbox WHERE sku = 'ETA-1' AND kind = 'eta_changed' ORDER BY id;

-- The same date again tells nobody; neither does a title change.
SELECT sku FROM waitlist.upsert_sku('ETA-1', restock_date => '2027-04-01', restock_confirmed => true,
									title => 'Rain jacket, green');
SELECT count(*) AS batches FROM waitlist.batch WHERE sku = 'ETA-1' AND kind = 'eta_changed';

-- The date moves: sign-ups and the backorder hear the old and the new date.
SET waitlist.test_now = '2027-03-10 09:00+00';
SELECT sku FROM waitlist.upsert_sku('ETA-1', restock_date => '2027-04-20');
SELECT waitlist.expand_batches() > 0 AS expanded;
SELECT kind, recipient,
	   payload->>'previous_date' AS previous, payload->>'expected_restock_date' AS expected,
	   payload->>'expected_ship_date' AS ship, payload->>'confirmed' AS confirmed
  FROM waitlist.outbox WHERE sku = 'ETA-1' AND kind = 'eta_changed' AND channel = 'email'
 ORDER BY id;
-- One message per sign-up, contact and change: keys name the sign-up and the batch.
SELECT count(*) AS messages, count(DISTINCT idempotency_key) AS keys
  FROM waitlist.outbox WHERE sku = 'ETA-1' AND kind = 'eta_changed' AND payload->>'subscription_id' IS NOT NULL;
-- Expanding again writes nothing more.
SELECT waitlist.expand_batches() AS more;

-- A sign-up who left the list hears nothing of the next change.
SELECT waitlist.unsubscribe(id) FROM waitlist.subscriber WHERE sku = 'ETA-1' AND email = 'eta2@example.com';
SELECT sku FROM waitlist.upsert_sku('ETA-1', restock_date => '2027-04-25');
SELECT waitlist.expand_batches() > 0 AS expanded;
SELECT recipient FROM waitlist.outbox
 WHERE sku = 'ETA-1' AND kind = 'eta_changed' AND payload->>'expected_restock_date' = '2027-04-25'
   AND payload->>'subscription_id' IS NOT NULL ORDER BY id;

-- The supplier takes the confirmation back: sign-ups hear there is no date now.
SELECT sku FROM waitlist.upsert_sku('ETA-1', restock_confirmed => false);
SELECT waitlist.expand_batches() > 0 AS expanded;
SELECT recipient, payload->>'previous_date' AS previous,
	   payload->>'expected_restock_date' AS expected, payload->>'confirmed' AS confirmed
  FROM waitlist.outbox WHERE sku = 'ETA-1' AND kind = 'eta_changed'
   AND payload->>'previous_date' = '2027-04-25' ORDER BY id;

-- A rolled-back change tells nobody.
BEGIN;
SELECT sku FROM waitlist.upsert_sku('ETA-1', restock_date => '2027-05-01', restock_confirmed => true);
ROLLBACK;
SELECT waitlist.expand_batches() AS after_rollback;

-- Per SKU off: nobody signed up hears it (backorders still do).
SELECT eta_to_signups FROM waitlist.set_schedule('ETA-1', eta_to_signups => false);
SELECT sku FROM waitlist.upsert_sku('ETA-1', restock_date => '2027-05-01', restock_confirmed => true);
SELECT count(*) AS batches_off FROM waitlist.batch
 WHERE sku = 'ETA-1' AND kind = 'eta_changed' AND new_date = '2027-05-01';
SELECT waitlist.expand_batches() AS expanded_off;
SELECT count(*) FILTER (WHERE payload->>'line_id' IS NOT NULL) AS backorder_told,
	   count(*) FILTER (WHERE payload->>'subscription_id' IS NOT NULL) AS signups_told
  FROM waitlist.outbox WHERE sku = 'ETA-1' AND kind = 'eta_changed'
   AND (payload->>'expected_restock_date' = '2027-05-01' OR payload->>'expected_ship_date' = '2027-05-01');
-- Back on (NULL: the setting waitlist.eta_to_signups, on by default).
SELECT eta_to_signups FROM waitlist.set_schedule('ETA-1');

-- Sign-ups already told back_in_stock are no longer waiting: the wave's
-- sign-ups hear nothing of a later date.
SELECT waitlist.restock('ETA-1', 2);
SELECT waitlist.expand_batches() > 0 AS expanded;
SELECT sku FROM waitlist.upsert_sku('ETA-1', restock_date => '2027-05-15');
SELECT pos_from, pos_to, units FROM waitlist.batch
 WHERE sku = 'ETA-1' AND kind = 'eta_changed' AND new_date = '2027-05-15';
SELECT waitlist.expand_batches() > 0 AS expanded;
SELECT recipient FROM waitlist.outbox
 WHERE sku = 'ETA-1' AND kind = 'eta_changed' AND payload->>'expected_restock_date' = '2027-05-15'
 ORDER BY id;

-- A huge list goes out in chunks of 10,000 positions, one chunk per batch
-- and call, each committed with the batch's cursor.
SELECT sku FROM waitlist.upsert_sku('ETA-BIG', 'Big list', confirm_signups => false,
									restock_date => '2027-06-01', restock_confirmed => true);
SELECT count(waitlist.subscribe('ETA-BIG', 'big' || g || '@example.com', NULL, NULL))
  FROM generate_series(1, 12500) g;
SELECT sku FROM waitlist.upsert_sku('ETA-BIG', restock_date => '2027-06-08');
SELECT waitlist.expand_batches() AS first_call;
SELECT scan_lo, scan_hi, messages, expanded_at IS NULL AS pending
  FROM waitlist.batch WHERE sku = 'ETA-BIG' AND kind = 'eta_changed';
SELECT count(*) AS check_invariants_mid FROM waitlist.check_invariants() WHERE sku LIKE 'ETA-%';
-- A sign-up in the second chunk who leaves before it is written hears nothing.
SELECT waitlist.unsubscribe(id) FROM waitlist.subscriber WHERE sku = 'ETA-BIG' AND email = 'big12000@example.com';
SELECT waitlist.expand_batches() AS second_call;
SELECT scan_lo, scan_hi, messages, expanded_at IS NULL AS pending
  FROM waitlist.batch WHERE sku = 'ETA-BIG' AND kind = 'eta_changed';
SELECT count(*) AS messages, count(DISTINCT recipient) AS people,
	   count(*) FILTER (WHERE recipient = 'big12000@example.com') AS left_list
  FROM waitlist.outbox WHERE sku = 'ETA-BIG' AND kind = 'eta_changed';
SELECT waitlist.expand_batches() AS third_call;
SELECT * FROM waitlist.check_invariants() WHERE sku LIKE 'ETA-%';
RESET waitlist.test_now;
