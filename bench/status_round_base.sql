/*
 * The baseline of benchmark 9: the messages of a weekly round for the SKU
 * :'code', hand-written as one set-based INSERT ... SELECT into
 * bench.outbox (the outbox's shape, indexes and defaults): every waiting
 * backorder still short of units, its place among the SKU's short lines,
 * the units ahead, one row per contact.  The same payload fields and keys
 * as waitlist's backorder_status (json_build_object for payload_json).
 */
INSERT INTO bench.outbox (kind, channel, recipient, sku, payload, idempotency_key)
SELECT 'backorder_status', c.channel, c.recipient, m.sku, m.payload, m.key || ':' || c.channel
  FROM (SELECT x.sku, x.email, x.phone,
			   json_build_object('order_ref', x.order_ref, 'line_id', x.id, 'sku', x.sku,
				   'title', x.title, 'qty', x.qty, 'allocated', x.held,
				   'expected_ship_date',
					CASE WHEN x.restock_confirmed THEN to_char(x.restock_date, 'YYYY-MM-DD') END,
				   'inbound_status', CASE WHEN NOT x.restock_confirmed OR x.restock_date IS NULL
					THEN 'awaiting_supplier_date' WHEN x.restock_date >= current_date THEN 'in_transit'
					ELSE 'date_passed' END,
				   'position', x.place, 'of', x.total, 'units_ahead', x.through - x.missing,
				   'units_waiting', x.units, 'round', 1, 'cancel_allowed', true,
				   'product_url', x.product_url) AS payload,
			   'line:' || x.id || ':status:1' AS key
		  FROM (SELECT l.id, l.order_ref, l.qty, l.kind, l.email, l.phone, s.sku, s.title,
					   s.product_url, s.restock_date, s.restock_confirmed,
					   row_number() OVER w AS place, count(*) OVER () AS total,
					   sum(l.pos_end - greatest(l.pos_start, s.paid_served)) OVER w AS through,
					   sum(l.pos_end - greatest(l.pos_start, s.paid_served)) OVER () AS units,
					   l.pos_end - greatest(l.pos_start, s.paid_served) AS missing,
					   greatest(s.paid_served - l.pos_start, 0) AS held
				  FROM waitlist.sku s
				  JOIN waitlist.line l ON l.sku = s.sku AND l.state = 'waiting'
				   AND l.pos_end > s.paid_served
				 WHERE s.sku = :'code'
				WINDOW w AS (ORDER BY l.pos_end ROWS UNBOUNDED PRECEDING)) x
		 WHERE x.kind = 'backorder') m
 CROSS JOIN LATERAL (VALUES ('email', m.email), ('sms', m.phone)) AS c (channel, recipient)
 WHERE c.recipient IS NOT NULL;
