/*
 * waitlist--0.1.0--0.2.0.sql: upgrade from 0.1.0 (ALTER EXTENSION waitlist UPDATE).
 *
 * Leaves the database exactly as a fresh install of 0.2.0 would: the same
 * objects, definitions, comments and privileges (test/upgrade.sh compares
 * the catalogs).  Every object is schema-qualified.
 */

\echo Use "ALTER EXTENSION waitlist UPDATE TO '0.2.0'" to load this file. \quit

/* ------------------------------------------------------------------------
 * Imports (0.2.0): a shop's existing backorders and sign-ups, set-based.
 *
 * Not SECURITY DEFINER: the source table is read with the caller's
 * privileges, and the C code writes waitlist's tables as the extension's
 * owner.  The SET pins search_path all the same.
 * ---------------------------------------------------------------------- */
CREATE FUNCTION waitlist.import_backorders(source regclass) RETURNS bigint
	AS 'MODULE_PATHNAME', 'waitlist_import_backorders'
	LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.import_backorders(regclass) IS
	'import backorder lines from a table (columns order_ref, sku, qty, customer, email, phone, channel; seq orders them) as place_backorder would place them one by one, in one pass; all or nothing; returns the lines imported';

CREATE FUNCTION waitlist.import_signups(source regclass) RETURNS bigint
	AS 'MODULE_PATHNAME', 'waitlist_import_signups'
	LANGUAGE C CALLED ON NULL INPUT VOLATILE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION waitlist.import_signups(regclass) IS
	'import back-in-stock sign-ups from a table (columns sku, email, phone, customer; seq orders them) as subscribe would take them one by one, in one pass; all or nothing; returns the new sign-ups';

/* Privileges as a fresh install leaves them: nothing for PUBLIC. */
REVOKE ALL ON FUNCTION waitlist.import_backorders(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.import_signups(regclass) FROM PUBLIC;

/* ------------------------------------------------------------------------
 * Roles (0.2.0): the three kinds of user, granted and revoked by function.
 *
 * waitlist.role_privileges() is the one list of what each kind may do;
 * grant_app, grant_relay and grant_admin grant a kind's list to a role the
 * caller names (a NOLOGIN group role whose members log in, or a login
 * role), and revoke_app, revoke_relay and revoke_admin take it back.  All
 * of them go through set_role_kind.  They run as the caller, not SECURITY
 * DEFINER: only a superuser or the extension's owner may call them, and
 * GRANT records the objects' owner as the grantor.
 *
 * No kind gets a table or view that holds contact details (line,
 * subscriber, outbox, subscriber_status): the app hands them to the
 * SECURITY DEFINER API, and the relay reads them through claim() only.
 * Every script revokes what it creates from PUBLIC, so an update never
 * widens a role by itself; grant_* again grants what a new version adds.
 * ---------------------------------------------------------------------- */
CREATE FUNCTION waitlist.role_privileges()
RETURNS TABLE (kind text, object_type text, object text, privilege text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT v.kind, v.object_type, v.object, v.privilege FROM (VALUES
		-- the app: sign up, order, cancel; read positions and availability
		('app', 'schema', 'waitlist', 'USAGE'),
		('app', 'function', 'waitlist.subscribe(text,text,text,text)', 'EXECUTE'),
		('app', 'function', 'waitlist.unsubscribe(bigint)', 'EXECUTE'),
		('app', 'function', 'waitlist.place_backorder(text,text,integer,text,text,text,text)', 'EXECUTE'),
		('app', 'function', 'waitlist.place_preorder(text,text,integer,text,text,text,text,numeric,text)', 'EXECUTE'),
		('app', 'function', 'waitlist.place_order(text,text,text,text,text,jsonb)', 'EXECUTE'),
		('app', 'function', 'waitlist.cancel_line(bigint)', 'EXECUTE'),
		('app', 'function', 'waitlist.queue_position(bigint)', 'EXECUTE'),
		('app', 'function', 'waitlist.waiting_count(text)', 'EXECUTE'),
		('app', 'function', 'waitlist.preorder_status(text)', 'EXECUTE'),
		('app', 'function', 'waitlist.policy(text,text)', 'EXECUTE'),
		-- the relay: claim, acknowledge, record delivery events, tick
		('relay', 'schema', 'waitlist', 'USAGE'),
		('relay', 'function', 'waitlist.claim(text,integer,interval,text[],text[])', 'EXECUTE'),
		('relay', 'function', 'waitlist.ack(text,bigint[])', 'EXECUTE'),
		('relay', 'function', 'waitlist.nack(text,bigint,text,interval)', 'EXECUTE'),
		('relay', 'function', 'waitlist.dead_letter(text,bigint,text)', 'EXECUTE'),
		('relay', 'function', 'waitlist.extend_lease(text,bigint[],interval)', 'EXECUTE'),
		('relay', 'function', 'waitlist.release(text,bigint[])', 'EXECUTE'),
		('relay', 'function', 'waitlist.next_due(text[],text[])', 'EXECUTE'),
		('relay', 'function', 'waitlist.tick()', 'EXECUTE'),
		-- the admin: SKUs, stock and shipping, pre-order plans, policy,
		-- channels and listings, imports, outbox upkeep; reads SKU state
		('admin', 'schema', 'waitlist', 'USAGE'),
		('admin', 'function', 'waitlist.upsert_sku(text,text,text,date,boolean,text,text,numeric,boolean,boolean)', 'EXECUTE'),
		('admin', 'function', 'waitlist.restock(text,bigint)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_on_hand(text,bigint)', 'EXECUTE'),
		('admin', 'function', 'waitlist.track_inventory(regclass,name,name)', 'EXECUTE'),
		('admin', 'function', 'waitlist.untrack_inventory(regclass)', 'EXECUTE'),
		('admin', 'function', 'waitlist.ship_line(bigint)', 'EXECUTE'),
		('admin', 'function', 'waitlist.open_preorders(text,bigint,numeric,date,date,text,numeric,numeric)', 'EXECUTE'),
		('admin', 'function', 'waitlist.close_preorders(text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.reschedule_preorders(text,date,date)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_preorder_channel_limit(text,text,bigint)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_policy(text,integer,integer,integer,bigint)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_channel(text,text,boolean,text,text,integer,boolean,boolean)', 'EXECUTE'),
		('admin', 'function', 'waitlist.set_listings(text,text[])', 'EXECUTE'),
		('admin', 'function', 'waitlist.import_backorders(regclass)', 'EXECUTE'),
		('admin', 'function', 'waitlist.import_signups(regclass)', 'EXECUTE'),
		('admin', 'function', 'waitlist.expand_batches(integer)', 'EXECUTE'),
		('admin', 'function', 'waitlist.outbox_metrics()', 'EXECUTE'),
		('admin', 'function', 'waitlist.purge_delivered(interval)', 'EXECUTE'),
		('admin', 'function', 'waitlist.waiting_count(text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.preorder_status(text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.policy(text,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.policy(waitlist.sku,text)', 'EXECUTE'),
		('admin', 'function', 'waitlist.policy_of(text,bigint,bigint,bigint,bigint,date,boolean,boolean,bigint,bigint,date,text[],integer,integer,integer,bigint,bigint,boolean,text)', 'EXECUTE'),
		('admin', 'table', 'waitlist.sku', 'SELECT'),
		('admin', 'table', 'waitlist.channel', 'SELECT'),
		('admin', 'table', 'waitlist.preorder_channel', 'SELECT'),
		('admin', 'table', 'waitlist.availability', 'SELECT'),
		('admin', 'table', 'waitlist.tracked_inventory', 'SELECT'))
	AS v (kind, object_type, object, privilege)
$$;
COMMENT ON FUNCTION waitlist.role_privileges() IS
	'what each kind of user (app, relay, admin) is granted: object type (schema, function, table), object and privilege; grant_app, grant_relay and grant_admin grant exactly these';

/*
 * The role's own ACL entries only (aclexplode), never what it inherits or
 * what PUBLIC has: revoking one kind keeps the privileges it shares with
 * another kind the role holds in full, the schema's USAGE included.
 */
CREATE FUNCTION waitlist.set_role_kind(role regrole, kind text, held boolean) RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	grantee name;
	p record;
BEGIN
	IF set_role_kind.role IS NULL THEN
		RAISE EXCEPTION 'role must not be null' USING ERRCODE = 'null_value_not_allowed';
	ELSIF set_role_kind.kind IS NULL THEN
		RAISE EXCEPTION 'kind must not be null' USING ERRCODE = 'null_value_not_allowed';
	ELSIF set_role_kind.held IS NULL THEN
		RAISE EXCEPTION 'held must not be null' USING ERRCODE = 'null_value_not_allowed';
	ELSIF set_role_kind.role::oid OPERATOR(pg_catalog.=) 0::oid THEN
		RAISE EXCEPTION 'PUBLIC cannot hold a waitlist role' USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Name a role; to give everyone a kind, grant it to a group role.';
	END IF;
	SELECT r.rolname INTO grantee FROM pg_catalog.pg_roles r
	 WHERE r.oid OPERATOR(pg_catalog.=) set_role_kind.role::oid;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'role with OID % does not exist', set_role_kind.role::oid
			USING ERRCODE = 'undefined_object';
	END IF;
	-- pg_has_role is true for superusers and for the owner's members.
	IF NOT pg_catalog.pg_has_role(CURRENT_USER,
			(SELECT x.extowner FROM pg_catalog.pg_extension x
			  WHERE x.extname OPERATOR(pg_catalog.=) 'waitlist'), 'USAGE') THEN
		RAISE EXCEPTION 'permission denied to change the waitlist privileges of role %', grantee
			USING ERRCODE = 'insufficient_privilege',
			DETAIL = 'Only a superuser or the owner of extension waitlist may grant and revoke its roles.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM waitlist.role_privileges() r
				    WHERE r.kind OPERATOR(pg_catalog.=) set_role_kind.kind) THEN
		RAISE EXCEPTION 'unknown kind of waitlist role: "%"', set_role_kind.kind
			USING ERRCODE = 'invalid_parameter_value', HINT = 'The kinds are app, relay and admin.';
	END IF;

	FOR p IN
		WITH own AS (
			SELECT l.kind, l.object_type, l.object, l.privilege,
				   EXISTS (SELECT 1 FROM pg_catalog.aclexplode(CASE l.object_type
							   WHEN 'schema' THEN (SELECT n.nspacl FROM pg_catalog.pg_namespace n
													WHERE n.nspname OPERATOR(pg_catalog.=) l.object)
							   WHEN 'function' THEN (SELECT f.proacl FROM pg_catalog.pg_proc f
													  WHERE f.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure(l.object))
							   ELSE (SELECT c.relacl FROM pg_catalog.pg_class c
									  WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(l.object)) END) a
						   WHERE a.grantee OPERATOR(pg_catalog.=) set_role_kind.role::oid
							 AND a.privilege_type OPERATOR(pg_catalog.=) l.privilege) AS holds
			  FROM waitlist.role_privileges() l),
		kept AS (
			SELECT o.kind FROM own o WHERE o.kind OPERATOR(pg_catalog.<>) set_role_kind.kind
			 GROUP BY o.kind HAVING pg_catalog.bool_and(o.holds))
		SELECT m.object_type, m.object, m.privilege FROM own m
		 WHERE m.kind OPERATOR(pg_catalog.=) set_role_kind.kind
		   AND (set_role_kind.held OR NOT EXISTS (
				SELECT 1 FROM own o JOIN kept k ON k.kind OPERATOR(pg_catalog.=) o.kind
				 WHERE o.object_type OPERATOR(pg_catalog.=) m.object_type
				   AND o.object OPERATOR(pg_catalog.=) m.object
				   AND o.privilege OPERATOR(pg_catalog.=) m.privilege))
	LOOP
		IF set_role_kind.held THEN
			EXECUTE pg_catalog.format('GRANT %s ON %s %s TO %I', p.privilege, p.object_type, p.object, grantee);
		ELSE
			EXECUTE pg_catalog.format('REVOKE %s ON %s %s FROM %I', p.privilege, p.object_type, p.object, grantee);
		END IF;
	END LOOP;
END
$$;
COMMENT ON FUNCTION waitlist.set_role_kind(regrole, text, boolean) IS
	'grant (held true) or revoke (false) the privileges of one kind of user (app, relay, admin) for a role; revoking keeps what another kind the role holds needs; only a superuser or the extension''s owner';

CREATE FUNCTION waitlist.grant_app(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'app', true) $$;
COMMENT ON FUNCTION waitlist.grant_app(regrole) IS
	'let the role sign up, order, cancel, and read queue positions and availability (the shop''s app); idempotent';

CREATE FUNCTION waitlist.grant_relay(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'relay', true) $$;
COMMENT ON FUNCTION waitlist.grant_relay(regrole) IS
	'let the role claim messages, acknowledge them, record delivery failures and tick (a relay or listener); idempotent';

CREATE FUNCTION waitlist.grant_admin(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'admin', true) $$;
COMMENT ON FUNCTION waitlist.grant_admin(regrole) IS
	'let the role change SKUs, stock, pre-order plans, policy and channels, ship, import and purge, and read SKU state; idempotent';

CREATE FUNCTION waitlist.revoke_app(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'app', false) $$;
COMMENT ON FUNCTION waitlist.revoke_app(regrole) IS
	'take back what grant_app granted, except what another kind the role holds needs';

CREATE FUNCTION waitlist.revoke_relay(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'relay', false) $$;
COMMENT ON FUNCTION waitlist.revoke_relay(regrole) IS
	'take back what grant_relay granted, except what another kind the role holds needs';

CREATE FUNCTION waitlist.revoke_admin(role regrole) RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT waitlist.set_role_kind(role, 'admin', false) $$;
COMMENT ON FUNCTION waitlist.revoke_admin(regrole) IS
	'take back what grant_admin granted, except what another kind the role holds needs';

/* Nothing for PUBLIC: only a superuser or the owner grants roles. */
REVOKE ALL ON FUNCTION waitlist.role_privileges() FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.set_role_kind(regrole, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.grant_app(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.grant_relay(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.grant_admin(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.revoke_app(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.revoke_relay(regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION waitlist.revoke_admin(regrole) FROM PUBLIC;
