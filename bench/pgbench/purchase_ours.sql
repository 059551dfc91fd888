-- benchmark 11, ours: an order made elsewhere; :who is s (one of the 100,000 people
-- signed up: the first order converts them) or n (someone who never signed up)
\set g random(0, 99999)
\set n random(1, 1000000000000)
SELECT waitlist.record_purchase('sku-' || (:g % 1000 + 1), :who || :g || '@example.com', 'o' || :client_id || '.' || :n);
