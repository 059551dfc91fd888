-- soak: a back-in-stock sign-up on any of the six SKUs (WL012 on a
-- pre-order SKU with room); contacts repeat per client, keeping the place
\set s random(1, 6)
\set r :client_id * 1000000 + random(1, 400)
SELECT soak.subscribe((ARRAY['B1', 'B2', 'B3', 'T1', 'P1', 'P2'])[:s], :r);
