-- ship_line with the carrier, tracking number and URL, and the wait: the
-- shipped message says how long the order waited (on the test clock).
SET TimeZone = 'UTC';
SET waitlist.test_now = '2030-06-01 10:00+00';
SELECT sku FROM waitlist.upsert_sku('SHIP-1', 'Boots');
SELECT waitlist.place_backorder('SHIP-O1', 'SHIP-1', 2, 'Ann', 'ann@example.com', '+14155550100') > 0 AS placed;
-- Stock arrives ten days later; the line is allocated at commit.
SET waitlist.test_now = '2030-06-11 15:00+00';
SELECT waitlist.restock('SHIP-1', 3);
-- Bad tracking refuses, and the line stays unshipped.
SELECT try($$SELECT waitlist.ship_line('SHIP-1', (SELECT id FROM waitlist.line WHERE order_ref = 'SHIP-O1'), 'UPS', '1Z999', 'ftp://example.com/t')$$);
SELECT try($$SELECT waitlist.ship_line('SHIP-1', (SELECT id FROM waitlist.line WHERE order_ref = 'SHIP-O1'), 'UPS', '1Z999', 'https://example.com/t?n=1 2')$$);
SELECT try($$SELECT waitlist.ship_line('SHIP-1', (SELECT id FROM waitlist.line WHERE order_ref = 'SHIP-O1'), repeat('c', 101))$$);
SELECT try($$SELECT waitlist.ship_line('SHIP-1', (SELECT id FROM waitlist.line WHERE order_ref = 'SHIP-O1'), '')$$);
SELECT try($$SELECT waitlist.ship_line((SELECT id FROM waitlist.line WHERE order_ref = 'SHIP-O1'), tracking_url => 'https://' || repeat('x', 2050))$$);
SELECT state FROM waitlist.line WHERE order_ref = 'SHIP-O1';
SELECT waitlist.ship_line('SHIP-1', (SELECT id FROM waitlist.line WHERE order_ref = 'SHIP-O1'),
						  'UPS', '1Z999AA10123456784', 'https://www.ups.com/track?tracknum=1Z999AA10123456784');
SELECT state, carrier, tracking_number, tracking_url FROM waitlist.line WHERE order_ref = 'SHIP-O1';
SELECT o.channel, o.recipient, payload->>'carrier' AS carrier, payload->>'tracking_number' AS tracking,
	   payload->>'tracking_url' AS url, payload->>'placed_on' AS placed_on,
	   payload->>'waited_days' AS waited_days, payload->>'waited' AS waited
  FROM waitlist.outbox o JOIN waitlist.line l ON o.idempotency_key LIKE 'line:' || l.id || ':shipped:%'
 WHERE l.order_ref = 'SHIP-O1' ORDER BY o.channel;
-- Bought from stock and shipped the same day, without tracking: it did not wait.
SELECT waitlist.place_backorder('SHIP-O2', 'SHIP-1', 1, 'Bob', 'bob@example.com') > 0 AS placed;
SELECT waitlist.ship_line((SELECT id FROM waitlist.line WHERE order_ref = 'SHIP-O2'));
SELECT payload->>'carrier' AS carrier, payload->>'tracking_url' AS url,
	   payload->>'waited_days' AS waited_days, payload->>'waited' AS waited
  FROM waitlist.outbox o JOIN waitlist.line l ON o.idempotency_key LIKE 'line:' || l.id || ':shipped:%'
 WHERE l.order_ref = 'SHIP-O2';
RESET waitlist.test_now;
