-- An error that is not about a unit's data (here a trigger of the shop's
-- on the outbox) stops the expansion, and the session goes on: the next
-- statement runs, and a ROLLBACK outside a transaction only warns.  Before,
-- the expansion's subtransaction stayed open: every command was refused
-- until a ROLLBACK that ended the session with a FATAL error.
SELECT sku FROM waitlist.upsert_sku('EXP-ERR', confirm_signups => false);
SELECT waitlist.subscribe('EXP-ERR', 'exp@example.com') > 0 AS subscribed;
SELECT waitlist.restock('EXP-ERR', 1);
CREATE FUNCTION public.outbox_refuses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the outbox is closed' USING ERRCODE = 'P0001';
END $$;
CREATE TRIGGER outbox_refuses BEFORE INSERT ON waitlist.outbox
	FOR EACH ROW EXECUTE FUNCTION public.outbox_refuses();
\set VERBOSITY terse
SELECT waitlist.tick();
SELECT 1 AS the_session_goes_on;
ROLLBACK;
SELECT 2 AS still_connected;
DROP TRIGGER outbox_refuses ON waitlist.outbox;
DROP FUNCTION public.outbox_refuses();
SELECT waitlist.tick() > 0 AS expanded_after;
SELECT kind, recipient FROM waitlist.outbox WHERE sku = 'EXP-ERR' ORDER BY id;
SELECT * FROM waitlist.check_invariants() WHERE sku = 'EXP-ERR';
