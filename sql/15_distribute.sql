-- waitlist.distribute() needs Citus (test/citus.sh distributes on Citus);
-- without it, a clear refusal and nothing changes.
SELECT count(*) > 0 AS citus_absent FROM (SELECT 1) x
 WHERE NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus');
SELECT try('SELECT waitlist.distribute()');
\set VERBOSITY default
SELECT waitlist.distribute();
