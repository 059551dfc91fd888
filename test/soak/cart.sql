-- soak: a cart of two backorder SKUs, half the time with a P1 pre-order line
-- (all or nothing: WL010 at the limit)
\set a random(1, 3)
\set b 1 + (:a + random(0, 1)) % 3
\set p random(0, 1)
\set r :client_id * 10000000000000 + random(1, 1000000000000)
SELECT soak.cart('B' || :a, 'B' || :b, :p = 1, :r);
