/*
 * status_round_measure.sql: one timed weekly round, in a fresh backend.
 * psql variable side: ours (BEGIN; SELECT waitlist.tick(); COMMIT, with the
 * SKU 'round' due) or base (BEGIN; the hand-written INSERT ... SELECT of
 * the same messages into bench.outbox; COMMIT).  A warm-up first: the same
 * statements for the SKU 'warm' (10 lines), so plans are prepared and
 * catalogs cached.  Prints: milliseconds (server clock, round trips
 * included) and messages written.
 */
\set QUIET on
\pset format unaligned
\pset tuples_only on
SELECT :'side' = 'ours' AS is_ours \gset

\set code warm
\if :is_ours
UPDATE waitlist.sku SET next_status_at = now() - interval '1 minute' WHERE sku = 'warm';
BEGIN;
SELECT waitlist.tick() AS warm_msgs \gset
COMMIT;
\else
BEGIN;
\ir status_round_base.sql
COMMIT;
\endif

\set code round
\if :is_ours
UPDATE waitlist.sku SET next_status_at = now() - interval '1 minute' WHERE sku = 'round';
\endif
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
\if :is_ours
BEGIN;
SELECT waitlist.tick() AS msgs \gset
COMMIT;
\else
BEGIN;
\ir status_round_base.sql
COMMIT;
\endif
SELECT extract(epoch FROM clock_timestamp()) AS t1 \gset
\if :is_ours
SELECT count(*) AS msgs FROM waitlist.outbox WHERE sku = 'round' \gset
\else
SELECT count(*) AS msgs FROM bench.outbox WHERE sku = 'round' \gset
\endif
SELECT round(((:t1 - :t0) * 1000)::numeric, 1), :msgs;
