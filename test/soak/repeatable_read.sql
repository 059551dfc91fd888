-- soak: a backorder and a sign-up on one SKU under REPEATABLE READ: a
-- concurrent change of the SKU raises 40001, which pgbench retries
\set s random(1, 3)
\set q random(1, 2)
\set r :client_id * 10000000000000 + random(1, 1000000000000)
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT soak.backorder('B' || :s, :q, 'dtc', :r);
SELECT soak.subscribe('B' || :s, :r);
COMMIT;
