-- soak: a waiting sign-up picked at random leaves the list
\set s random(1, 6)
SELECT soak.unsubscribe((ARRAY['B1', 'B2', 'B3', 'T1', 'P1', 'P2'])[:s], random());
