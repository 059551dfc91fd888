-- The handles with their SKU: cancel_line, ship_line, queue_position and
-- unsubscribe take (sku, id), so every statement they run names the SKU
-- (one shard on Citus).  The id-only forms keep working on a single node.
SELECT sku FROM waitlist.upsert_sku('HND-A', title => 'Handle A', confirm_signups => false);
SELECT sku FROM waitlist.upsert_sku('HND-B', title => 'Handle B', confirm_signups => false);
SELECT waitlist.place_backorder('H-1', 'HND-A', 2, 'Ann', 'ann@example.com') AS h1 \gset
SELECT waitlist.place_backorder('H-2', 'HND-A', 1, 'Bob', 'bob@example.com') AS h2 \gset
SELECT waitlist.place_backorder('H-3', 'HND-A', 1, 'Cy', 'cy@example.com') AS h3 \gset
SELECT waitlist.subscribe('HND-A', 'sub1@example.com') AS s1 \gset
SELECT waitlist.subscribe('HND-A', 'sub2@example.com') AS s2 \gset
-- queue_position: the same answer by either handle.
SELECT * FROM waitlist.queue_position('HND-A', :h2);
SELECT * FROM waitlist.queue_position(:h2);
-- A handle with another SKU, or none, is refused (ids shown as #): nothing changes.
SELECT regexp_replace(try(format('SELECT waitlist.queue_position(%L, %s)', 'HND-B', :h2)), ' [0-9]+ of ', ' # of ') AS refused;
SELECT regexp_replace(try(format('SELECT waitlist.cancel_line(%L, %s)', 'HND-B', :h2)), ' [0-9]+ of ', ' # of ') AS refused;
SELECT regexp_replace(try(format('SELECT waitlist.ship_line(%L, %s)', 'HND-B', :h2)), ' [0-9]+ of ', ' # of ') AS refused;
SELECT regexp_replace(try(format('SELECT waitlist.unsubscribe(%L, %s)', 'HND-B', :s1)), ' [0-9]+ of ', ' # of ') AS refused;
SELECT regexp_replace(try(format('SELECT waitlist.cancel_line(NULL, %s)', :h2)), ' [0-9]+ of ', ' # of ') AS refused;
SELECT regexp_replace(try(format('SELECT waitlist.unsubscribe(%L, NULL)', 'HND-A')), ' [0-9]+ of ', ' # of ') AS refused;
SELECT regexp_replace(try('SELECT waitlist.cancel_line(''NO-SUCH-SKU'', 1)'), ' [0-9]+ of ', ' # of ') AS refused;
SELECT order_ref, status FROM waitlist.line_status WHERE sku = 'HND-A' ORDER BY order_ref;
-- cancel_line(sku, id): H-2 leaves, H-3 moves up.
SELECT waitlist.cancel_line('HND-A', :h2) AS held;
SELECT * FROM waitlist.queue_position('HND-A', :h3);
-- ship_line(sku, id) once the line is allocated.
SELECT waitlist.restock('HND-A', 2);
SELECT waitlist.ship_line('HND-A', :h1);
SELECT order_ref, status FROM waitlist.line_status WHERE sku = 'HND-A' ORDER BY order_ref;
-- unsubscribe(sku, id): true once, then false.
SELECT waitlist.unsubscribe('HND-A', :s2) AS left_list;
SELECT waitlist.unsubscribe('HND-A', :s2) AS left_again;
SELECT status FROM waitlist.subscriber_status WHERE id = :s2;
SELECT * FROM waitlist.check_invariants() WHERE sku LIKE 'HND-%';
