-- benchmark 11, baseline: the same report as a plain INSERT into a table of the same shape
\set id random(1, 200000)
\set e random(1, 3)
INSERT INTO bench.message_event (message_id, event, at)
VALUES (:id, (ARRAY['delivered', 'opened', 'clicked'])[:e], now()) ON CONFLICT DO NOTHING;
