-- soak: one transaction restocks two backorder SKUs in a random order; two
-- of them in opposite orders deadlock (40P01), which pgbench retries
\set a random(1, 3)
\set b 1 + (:a + random(0, 1)) % 3
BEGIN;
SELECT waitlist.restock('B' || :a, 1);
SELECT waitlist.restock('B' || :b, 1);
COMMIT;
