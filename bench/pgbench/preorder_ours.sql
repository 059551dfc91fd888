-- benchmark 5, ours: one pre-order unit on the one hot SKU, a unique order per call
\set r random(1, 1000000000000)
SELECT waitlist.place_preorder('o' || :client_id || '.' || :r, 'hot', 1,
	email => 'c' || :client_id || '.' || :r || '@example.com',
	unit_price => 49.00, currency => 'USD');
