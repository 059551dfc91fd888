-- soak: a backorder of 1-3 units, mostly on the own store, one in eight on
-- Amazon (WL013 when out of stock), one in ten on a pre-order SKU (WL012/WL013)
\set s random(1, 10)
\set c random(1, 8)
\set q random(1, 3)
\set r :client_id * 10000000000000 + random(1, 1000000000000)
SELECT soak.backorder((ARRAY['B1', 'B2', 'B3', 'T1', 'B1', 'B2', 'B3', 'T1', 'B3', 'P1'])[:s], :q,
	CASE WHEN :c = 1 THEN 'amazon' ELSE 'dtc' END, :r);
