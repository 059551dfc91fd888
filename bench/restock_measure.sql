/*
 * restock_measure.sql: one measurement of one restock variant, in a fresh
 * backend.  psql variables: variant (ours | ours_only | set | setmsg | loop), half (units to
 * restock on the hot SKU, id 1).  Environment: BENCH_MEM (file prefix for
 * the backend's /proc status before and after).  ours_only: ours without
 * the tick.
 *
 * 1. Warm up: the same statements on the 'warm' SKU (id 2) with 1 unit, so
 *    plans are prepared and catalogs cached before anything is measured.
 * 2. Reset the backend's peak RSS (echo 5 > /proc/PID/clear_refs: VmHWM
 *    becomes the current VmRSS) and save /proc/PID/status.
 * 3. Time BEGIN; <restock>; COMMIT with the server clock (round trips
 *    included), save /proc/PID/status again: VmHWM is the peak over the
 *    transaction.
 * 4. variant ours: time waitlist.tick(), which expands the committed batch into
 *    per-recipient messages, i.e. until every message is in the outbox.
 *
 * Prints: restock_ms  restock_plus_expand_ms  messages
 */
\set QUIET on
\pset format unaligned
\pset tuples_only on
SELECT pg_backend_pid() AS pid \gset
\setenv BENCH_PID :pid
SELECT :'variant' IN ('ours', 'ours_only') AS is_ours, :'variant' = 'loop' AS is_loop,
	   :'variant' = 'setmsg' AS is_setmsg, :'variant' = 'ours' AS do_tick \gset

\set sku_code warm
\set qty 1
\set phase warmup
\ir restock_txn.sql
\if :is_ours
SELECT waitlist.tick() AS warm_msgs \gset
\endif

\set sku_code hot
\set qty :half
\! echo 5 > /proc/$BENCH_PID/clear_refs && cat /proc/$BENCH_PID/status > $BENCH_MEM.before
SELECT extract(epoch FROM clock_timestamp()) AS t0 \gset
\ir restock_txn.sql
SELECT extract(epoch FROM clock_timestamp()) AS t1 \gset
\! cat /proc/$BENCH_PID/status > $BENCH_MEM.after

\if :do_tick
SELECT extract(epoch FROM clock_timestamp()) AS t2 \gset
SELECT waitlist.tick() AS msgs \gset
SELECT extract(epoch FROM clock_timestamp()) AS t3 \gset
\else
\set t2 0
\set t3 0
\set msgs 0
\endif
SELECT round((:t1 - :t0) * 1000, 3), round(((:t1 - :t0) + (:t3 - :t2)) * 1000, 3), :msgs;
