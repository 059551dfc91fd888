-- benchmark 3 (info), ours: every client signs up to the one SKU with a long list
\set n random(1, 1000000000000)
SELECT waitlist.subscribe('sku-1001', 'h' || :client_id || '.' || :n || '@example.com');
