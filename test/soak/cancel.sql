-- soak: cancel a waiting line picked at random (WL004 if it went meanwhile)
\set s random(1, 6)
SELECT soak.cancel((ARRAY['B1', 'B2', 'B3', 'T1', 'P1', 'P2'])[:s], random());
