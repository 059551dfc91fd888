-- benchmark 3, ours: a back-in-stock sign-up with a unique email on a random SKU
\set sku random(1, 1000)
\set n random(1, 1000000000000)
SELECT waitlist.subscribe('sku-' || :sku, 'u' || :client_id || '.' || :n || '@example.com');
