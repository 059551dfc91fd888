-- benchmark 11, baseline: the same purchase as a plain INSERT into a table of the same shape
\set g random(0, 99999)
\set n random(1, 1000000000000)
INSERT INTO bench.purchase (sku, order_ref, contact, at, source)
VALUES ('sku-' || (:g % 1000 + 1), 'o' || :client_id || '.' || :n, :who || :g || '@example.com', now(), 'external')
ON CONFLICT DO NOTHING;
