-- benchmark 4, ours: lease up to 100 due messages, then acknowledge them
SELECT array_agg(id) AS ids FROM waitlist.claim('c' || :client_id, 100) \gset
SELECT waitlist.ack('c' || :client_id, :ids);
