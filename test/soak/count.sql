-- soak: a stock count, the units on hand off by -4 to +3 (below the
-- allocated units the latest allocations give units back)
\set s random(1, 6)
\set d random(-4, 3)
SELECT soak.count_stock((ARRAY['B1', 'B2', 'B3', 'T1', 'P1', 'P2'])[:s], :d);
