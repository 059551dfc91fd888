-- Benchmark 6's baseline: the flowchart of waitlist.policy() (src/domain/flowchart.c)
-- as one plain SQL CASE expression over a waitlist.sku row and a
-- waitlist.channel row.  A scalar SQL function like this one is inlined by
-- the planner, so the benchmark query runs the bare CASE.  The thresholds
-- are the defaults of the waitlist.* settings (14 and 21 days, no demand or
-- capacity limit) unless the SKU overrides them.
CREATE SCHEMA IF NOT EXISTS bench;

CREATE FUNCTION bench.policy_case(s waitlist.sku, c waitlist.channel) RETURNS waitlist.policy_result
LANGUAGE sql STABLE AS $$
SELECT CASE
	WHEN s.status = 'discontinued'
		THEN ROW('out_of_stock', 'discontinued', NULL)::waitlist.policy_result
	WHEN s.channels IS NOT NULL AND NOT c.channel = ANY (s.channels)
		THEN ROW('out_of_stock', 'not listed on the channel', NULL)::waitlist.policy_result
	WHEN s.on_hand - s.allocated - s.paid_waiting > 0
		THEN ROW('in_stock', 'units in stock', NULL)::waitlist.policy_result
	WHEN s.status = 'upcoming' AND NOT s.preorders_open
		THEN ROW(CASE WHEN c.notify_me THEN 'notify_me' ELSE 'out_of_stock' END,
				 'not released yet, pre-orders not open', NULL)::waitlist.policy_result
	WHEN s.status = 'upcoming' AND coalesce(s.preorder_limit - s.preorder_accepted, 0) <= 0
		THEN ROW(CASE WHEN c.notify_me THEN 'notify_me' ELSE 'out_of_stock' END,
				 'pre-order limit reached', NULL)::waitlist.policy_result
	WHEN s.status = 'upcoming' AND c.preorders = 'no'
		THEN ROW('out_of_stock', 'the channel takes no pre-orders', NULL)::waitlist.policy_result
	WHEN s.status = 'upcoming' AND c.preorders = 'brand_registry' AND NOT c.brand_registry
		THEN ROW('out_of_stock', 'pre-orders on the channel need Brand Registry', NULL)::waitlist.policy_result
	WHEN s.status = 'upcoming' AND c.preorders = 'handling_time'
		 AND (s.ships_on IS NULL OR s.ships_on - current_date > coalesce(c.max_handling_days, 0))
		THEN ROW('out_of_stock', 'the ship date is beyond the channel''s handling time', NULL)::waitlist.policy_result
	WHEN s.status = 'upcoming'
		THEN ROW('preorder', 'pre-orders open with units left', s.ships_on)::waitlist.policy_result
	WHEN s.restock_date IS NULL OR NOT s.restock_confirmed
		THEN ROW(CASE WHEN c.notify_me THEN 'notify_me' ELSE 'out_of_stock' END,
				 'no confirmed restock date', NULL)::waitlist.policy_result
	WHEN s.restock_date < current_date
		THEN ROW(CASE WHEN c.notify_me THEN 'notify_me' ELSE 'out_of_stock' END,
				 'the confirmed restock date has passed', NULL)::waitlist.policy_result
	WHEN s.restock_date - current_date > coalesce(s.out_of_stock_days, 21)
		THEN ROW(CASE WHEN c.notify_me THEN 'notify_me' ELSE 'out_of_stock' END,
				 'restock beyond the out-of-stock horizon', NULL)::waitlist.policy_result
	WHEN s.restock_date - current_date > coalesce(s.backorder_days, 14)
		THEN ROW(CASE WHEN c.notify_me THEN 'notify_me' ELSE 'out_of_stock' END,
				 'restock beyond the backorder window', NULL)::waitlist.policy_result
	WHEN c.backorders = 'no'
		THEN ROW('out_of_stock', CASE WHEN c.marketplace
				 THEN 'marketplace without backorders; the own store takes them'
				 ELSE 'the channel takes no backorders' END, NULL)::waitlist.policy_result
	WHEN c.backorders = 'handling_time'
		 AND s.restock_date - current_date > coalesce(c.max_handling_days, 0)
		THEN ROW('out_of_stock', 'restock beyond the channel''s handling time', NULL)::waitlist.policy_result
	WHEN s.sub_waiting + s.paid_waiting < coalesce(s.min_demand, 0)
		THEN ROW(CASE WHEN c.notify_me THEN 'notify_me' ELSE 'out_of_stock' END,
				 'demand not proven yet', NULL)::waitlist.policy_result
	WHEN coalesce(s.max_backorder_units, 0) > 0 AND s.paid_waiting >= s.max_backorder_units
		THEN ROW(CASE WHEN c.notify_me THEN 'notify_me' ELSE 'out_of_stock' END,
				 'backorders at support capacity', NULL)::waitlist.policy_result
	ELSE ROW('backorder', 'restock confirmed within the backorder window', s.restock_date)::waitlist.policy_result
END
$$;
