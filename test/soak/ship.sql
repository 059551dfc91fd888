-- soak: ship one of the oldest fully allocated lines (WL004, WL005, WL009 on races)
\set s random(1, 6)
\set o random(0, 3)
SELECT soak.ship((ARRAY['B1', 'B2', 'B3', 'T1', 'P1', 'P2'])[:s], :o);
