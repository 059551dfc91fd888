-- soak: units arrive at (up to 8) or leave (up to 3) one of T1's three
-- locations in the app's inventory table; the trigger moves T1's stock
-- (23514 when the location has fewer,
-- 22003 when T1 would go below zero)
\set l random(1, 3)
\set d random(-3, 8)
SELECT soak.move_stock(:l, :d);
