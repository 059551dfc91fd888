-- benchmark 3 (info), baseline: the plain INSERT of the same row for the same SKU
\set n random(1, 1000000000000)
INSERT INTO bench.subscriber (sku, email, pos)
VALUES ('sku-1001', 'h' || :client_id || '.' || :n || '@example.com', nextval('bench.subscriber_pos'));
