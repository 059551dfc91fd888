-- Cluster-unique ids: every id column defaults to waitlist.next_id(seq),
-- waitlist.node_id * 2^48 + nextval(seq).  A single node keeps node_id 0.
SELECT sku FROM waitlist.upsert_sku('IDS-0');
SHOW waitlist.node_id;
SELECT id < 2 ^ 48 AS local_id FROM waitlist.sku WHERE sku = 'IDS-0';
-- Node 3 (a superuser's setting): its ids carry 3 in the top bits.
SET waitlist.node_id = 3;
SELECT sku FROM waitlist.upsert_sku('IDS-3');
SELECT id >> 48 AS node FROM waitlist.sku WHERE sku = 'IDS-3';
SELECT waitlist.place_backorder('IDS-1', 'IDS-3', 1, 'Ann', 'ann@example.com') >> 48 AS line_node;
SELECT waitlist.subscribe('IDS-3', 'ids@example.com') >> 48 AS signup_node;
SELECT waitlist.restock('IDS-3', 2);
SELECT DISTINCT id >> 48 AS batch_node FROM waitlist.batch b
 WHERE b.sku = 'IDS-3';
SELECT waitlist.tick() > 0 AS expanded;
SELECT DISTINCT id >> 48 AS outbox_node FROM waitlist.outbox WHERE sku = 'IDS-3';
-- The low 48 bits are the sequence's value.
SELECT waitlist.next_id('waitlist.sku_id_seq') = (3::bigint << 48) + currval('waitlist.sku_id_seq') AS prefixed;
RESET waitlist.node_id;
-- Out of range, or not a superuser: refused.
SELECT try($$SET waitlist.node_id = 32768$$);
SELECT try($$SET waitlist.node_id = -1$$);
CREATE ROLE wl_ids_nobody;
SET ROLE wl_ids_nobody;
SELECT try($$SET waitlist.node_id = 1$$);
RESET ROLE;
DROP ROLE wl_ids_nobody;
-- next_id of something that is not a sequence, or of nothing.
SELECT try($$SELECT waitlist.next_id('waitlist.sku')$$);
SELECT try($$SELECT waitlist.next_id(0)$$);
SELECT try($$SELECT waitlist.next_id(NULL)$$);
-- A sequence past 2^48 - 1 would spill into the node bits: refused.
CREATE SEQUENCE public.ids_big START 281474976710655;
SELECT waitlist.next_id('public.ids_big') = 281474976710655 AS last_local_id;
SELECT try($$SELECT waitlist.next_id('public.ids_big')$$);
DROP SEQUENCE public.ids_big;
SELECT * FROM waitlist.check_invariants() WHERE sku LIKE 'IDS-%';
