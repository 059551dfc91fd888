-- benchmark 5, exactness: one unit at a time on the capped SKU; WL010 (limit
-- reached) is caught by bench.try_preorder and counts as a refusal
\set r random(1, 1000000000000)
SELECT bench.try_preorder('x' || :client_id || '.' || :r, 'capped', 1,
	'x' || :client_id || '.' || :r || '@example.com');
