-- benchmark 4, baseline: the plain SKIP LOCKED claim and ack over bench.outbox
WITH c AS (
	SELECT id FROM bench.outbox
	 WHERE state IN ('pending', 'leased') AND due_at <= now()
	 ORDER BY due_at, id LIMIT 100 FOR UPDATE SKIP LOCKED),
u AS (
	UPDATE bench.outbox o
	   SET state = 'leased', lease_owner = 'c' || :client_id,
		   due_at = now() + interval '30 seconds', attempts = o.attempts + 1
	  FROM c WHERE o.id = c.id
	RETURNING o.id, o.kind, o.channel, o.recipient, o.sku, o.payload,
			  o.idempotency_key, o.attempts, o.created_at, o.due_at)
SELECT array_agg(id) AS ids FROM u \gset
UPDATE bench.outbox SET state = 'delivered', delivered_at = now()
 WHERE id = ANY (:ids::bigint[]) AND state = 'leased' AND lease_owner = 'c' || :client_id;
