-- Shared helper for the regression tests: run a statement and show its
-- SQLSTATE and message instead of failing, so every error is visible with
-- its code.  Lives in the public schema of the test database.
CREATE FUNCTION public.try(stmt text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- Counts of waiting/allocated state, for compact assertions.
CREATE FUNCTION public.stock(p_sku text)
RETURNS TABLE (on_hand bigint, allocated bigint, free bigint, waiting bigint)
LANGUAGE sql AS $$
	SELECT s.on_hand, s.allocated, s.on_hand - s.allocated, waitlist.waiting_count(p_sku)
	  FROM waitlist.sku s WHERE s.sku = p_sku
$$;

-- tick() for the whole database; how many messages it wrote for the SKUs
-- whose code is LIKE p_sku (the other tests' SKUs keep their own schedules).
CREATE FUNCTION public.tick_for(p_sku text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
	SELECT count(*) INTO n FROM waitlist.outbox WHERE sku LIKE p_sku;
	PERFORM waitlist.tick();
	RETURN (SELECT count(*) FROM waitlist.outbox WHERE sku LIKE p_sku) - n;
END
$$;

SELECT extname, extversion FROM pg_extension WHERE extname = 'waitlist';
