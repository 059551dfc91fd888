-- The claim's statements read their indexes, even when their plans are made
-- while the outbox and the batch table are empty: plans are kept for the
-- backend, and one made then used to read every message and batch on every
-- later claim until the next ANALYZE.
SET waitlist.enforce_policy = off;
DELETE FROM waitlist.outbox;
DELETE FROM waitlist.batch;
VACUUM ANALYZE waitlist.outbox, waitlist.batch;
SELECT (waitlist.upsert_sku('SCAN-1', 'Scan mug')).sku;
SELECT waitlist.place_backorder('SCAN-O1', 'SCAN-1', 1, 'Ann', 'ann@example.com') > 0 AS placed;
SELECT waitlist.restock('SCAN-1', 1);
-- The first claim of this session plans every statement of the claim.  The
-- session's scans not yet reported (the DELETEs') are counted before it.
BEGIN;
CREATE TEMP TABLE scans_before AS
SELECT relid, seq_scan FROM pg_stat_xact_user_tables WHERE schemaname = 'waitlist';
SELECT kind, sku FROM waitlist.claim('scan', 10) ORDER BY id;
SELECT t.relname, t.seq_scan - b.seq_scan AS sequential_scans
  FROM pg_stat_xact_user_tables t JOIN scans_before b USING (relid)
 WHERE t.seq_scan > b.seq_scan ORDER BY t.relname;
COMMIT;
DROP TABLE scans_before;
