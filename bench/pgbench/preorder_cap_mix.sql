-- benchmark 5, exactness: 1 to 3 units at a time on the capped SKU; WL010
-- (limit reached) is caught by bench.try_preorder and counts as a refusal
\set r random(1, 1000000000000)
\set qty random(1, 3)
SELECT bench.try_preorder('m' || :client_id || '.' || :r, 'capped_mix', :qty,
	'm' || :client_id || '.' || :r || '@example.com');
