-- SKUs: creation, updates that keep unspecified settings, and bad input.
-- The calendar dates below lie before the day the suite runs only if the
-- extension's clock is held still: the test clock stands at a moment
-- before all of them (sessions of their own, so nothing else sees it).
SET waitlist.test_now = '2026-11-20 09:00+00';
SELECT sku, title, status, on_hand, restock_date, restock_confirmed, notify_ratio,
       send_sold_out_again, confirm_signups
  FROM waitlist.upsert_sku('MUG-1', title => 'Enamel mug', restock_date => '2026-12-01',
                           restock_confirmed => true, product_url => 'https://shop.example/mug');
-- NULL keeps the current value; given values change it.
SELECT sku, title, status, restock_date, restock_confirmed, product_url
  FROM waitlist.upsert_sku('MUG-1', status => 'upcoming');
SELECT sku, title, status FROM waitlist.upsert_sku('MUG-1', status => 'active', title => 'Enamel mug, blue');

-- Bad input: a clear error with a SQLSTATE and nothing changed.
SELECT try($$SELECT waitlist.upsert_sku(NULL)$$);
SELECT try($$SELECT waitlist.upsert_sku('')$$);
SELECT try($$SELECT waitlist.upsert_sku(repeat('x', 129))$$);
SELECT try($$SELECT waitlist.upsert_sku('MUG-1', status => 'sold')$$);
SELECT try($$SELECT waitlist.upsert_sku('MUG-1', notify_ratio => 0.5)$$);
SELECT try($$SELECT waitlist.upsert_sku('MUG-1', notify_ratio => 101)$$);
SELECT try($$SELECT waitlist.upsert_sku('MUG-1', title => repeat('t', 501))$$);
SELECT try($$SELECT waitlist.upsert_sku('MUG-1', product_url => repeat('u', 2049))$$);
SELECT sku, title, status, notify_ratio FROM waitlist.sku WHERE sku = 'MUG-1';

-- Supply.
SELECT waitlist.restock('MUG-1', 5);
SELECT waitlist.restock('MUG-1', 3);
SELECT waitlist.set_on_hand('MUG-1', 2);
SELECT waitlist.set_on_hand('MUG-1', 0);
SELECT try($$SELECT waitlist.restock('NOPE', 1)$$);
SELECT try($$SELECT waitlist.restock('MUG-1', 0)$$);
SELECT try($$SELECT waitlist.restock('MUG-1', -4)$$);
SELECT try($$SELECT waitlist.restock('MUG-1', NULL)$$);
SELECT try($$SELECT waitlist.restock(NULL, 1)$$);
SELECT try($$SELECT waitlist.set_on_hand('MUG-1', -1)$$);
SELECT try($$SELECT waitlist.set_on_hand('NOPE', 1)$$);
SELECT waitlist.restock('MUG-1', 1);
SELECT try($$SELECT waitlist.restock('MUG-1', 9223372036854775807)$$);
SELECT waitlist.set_on_hand('MUG-1', 0);
SELECT try($$SELECT waitlist.waiting_count('NOPE')$$);
SELECT * FROM stock('MUG-1');
