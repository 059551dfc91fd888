-- benchmark 11, ours: a provider's report on a random message of 200,000
\set id random(1, 200000)
\set e random(1, 3)
SELECT waitlist.record_event(:id::text, (ARRAY['delivered', 'opened', 'clicked'])[:e]);
