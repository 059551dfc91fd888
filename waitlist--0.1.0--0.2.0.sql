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
