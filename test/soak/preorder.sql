-- soak: a pre-order of 1-3 units against the limit (WL010 when full)
\set s random(1, 2)
\set q random(1, 3)
\set r :client_id * 10000000000000 + random(1, 1000000000000)
SELECT soak.preorder('P' || :s, :q, :r);
