-- benchmark 3, baseline: a plain INSERT of the same row into bench.subscriber
\set sku random(1, 1000)
\set n random(1, 1000000000000)
INSERT INTO bench.subscriber (sku, email, pos)
VALUES ('sku-' || :sku, 'u' || :client_id || '.' || :n || '@example.com', nextval('bench.subscriber_pos'));
