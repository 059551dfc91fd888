-- soak: a restock, 1-20 units on a backorder SKU or 1-5 units of production
-- arriving for a pre-order SKU
\set s random(1, 8)
\set q random(1, 20)
SELECT waitlist.restock((ARRAY['B1', 'B2', 'B3', 'B1', 'B2', 'B3', 'P1', 'P2'])[:s],
	CASE WHEN :s > 6 THEN 1 + :q / 4 ELSE :q END);
