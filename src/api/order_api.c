/*
 * order_api.c
 *	  Mixed carts: place_order decides every line of a cart by the
 *	  availability policy (sell from stock, backorder, pre-order), places
 *	  each through the same C functions a single order uses
 *	  (domain/backorders.c, domain/preorders.c), groups the lines
 *	  into shipments and queues one order_confirmed message.  All or
 *	  nothing: the first line refused raises, and nothing of the cart stays.
 *
 * Locking: every SKU of the cart is locked first, in SKU id order (the order
 * the commit-time allocator uses), so two carts sharing SKUs never deadlock;
 * each line is then decided on the locked, committed state.
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "api/args.h"
#include "domain/backorders.h"
#include "domain/policy.h"
#include "domain/preorders.h"
#include "store/channel_rules.h"
#include "store/json.h"
#include "store/outbox_writer.h"
#include "store/sku_row.h"
#include "store/spi.h"
#include "txn/durability.h"
#include "waitlist.h"

PG_FUNCTION_INFO_V1(waitlist_place_order);

#define WL_MAX_CART_LINES 100

typedef struct CartLine
{
	int			line_no;		/* 1-based position in the cart */
	char	   *sku;
	int32		qty;
	char	   *price;			/* numeric text, or NULL */
	char	   *currency;
	char	   *code;			/* the SKU's code as stored (NULL: unknown SKU) */
	WlPolicy	policy;
	int64		line_id;
	int			shipment;
} CartLine;

typedef struct Cart
{
	char	   *order_ref;
	char	   *customer;
	char	   *email;
	char	   *phone;
	char	   *channel;
	int			n;
	CartLine   *lines;
} Cart;

/* ---------- reading the cart ---------- */

static WlQuery q_cart_lines = {
	"SELECT e.ord::int, jsonb_typeof(e.elem), e.elem->>'sku', e.elem->>'qty',"
	" e.elem->>'unit_price', e.elem->>'currency', s.sku"
	" FROM jsonb_array_elements($1) WITH ORDINALITY AS e (elem, ord)"
	" LEFT JOIN waitlist.sku s ON s.sku = e.elem->>'sku'"
	" ORDER BY e.ord",
	1, {JSONBOID}, NULL
};

static void bad_line(int line_no, const char *what) pg_attribute_noreturn();

/* Refuse a malformed cart line. */
static void
bad_line(int line_no, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cart line %d: %s", line_no, what),
			 errhint("Each line is an object such as {\"sku\": \"A-1\", \"qty\": 2, \"unit_price\": 49.00, \"currency\": \"USD\"}; the price is needed for pre-orders.")));
}

/* A positive whole quantity from its JSON text. */
static int32
line_qty(int line_no, const char *s)
{
	char	   *end;
	long		v;

	if (s == NULL)
		bad_line(line_no, "qty is missing");
	if (!isdigit((unsigned char) s[0]))	/* strtol would take " 1" and "+1" */
		bad_line(line_no, "qty must be a positive whole number");
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0 || v <= 0 || v > PG_INT32_MAX)
		bad_line(line_no, "qty must be a positive whole number");
	return (int32) v;
}

/* Read one result row of q_cart_lines into a cart line. */
static void
read_line(uint64 i, CartLine *l)
{
	l->line_no = DatumGetInt32(wl_get_datum(i, 1, NULL));
	if (strcmp(wl_get_text(i, 2), "object") != 0)
		bad_line(l->line_no, "not a JSON object");
	l->sku = wl_get_text(i, 3);
	if (l->sku == NULL || l->sku[0] == '\0')
		bad_line(l->line_no, "sku is missing");
	if (pg_mbstrlen(l->sku) > WL_MAX_SKU_LEN)	/* characters, as upsert_sku counts */
		bad_line(l->line_no, "sku is too long");
	l->qty = line_qty(l->line_no, wl_get_text(i, 4));
	l->price = wl_get_text(i, 5);
	l->currency = wl_get_text(i, 6);
	l->code = wl_get_text(i, 7);
	if (l->code == NULL)
		ereport(ERROR,
				(errcode(WL_ERRCODE_UNKNOWN_SKU),
				 errmsg("cart line %d: unknown SKU \"%s\"", l->line_no, l->sku)));
}

/* Parse and check the cart's lines (in SPI). */
static void
read_cart(Jsonb *lines, Cart *c)
{
	Datum		arg = JsonbPGetDatum(lines);
	uint64		n;

	if (!JB_ROOT_IS_ARRAY(lines) || JB_ROOT_IS_SCALAR(lines))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lines must be a JSON array of cart lines")));
	n = wl_exec(&q_cart_lines, &arg, NULL, SPI_OK_SELECT, 0);
	if (n == 0 || n > WL_MAX_CART_LINES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a cart has 1 to %d lines, got " UINT64_FORMAT, WL_MAX_CART_LINES, n)));
	c->n = (int) n;
	c->lines = palloc0(sizeof(CartLine) * n);
	for (uint64 i = 0; i < n; i++)
		read_line(i, &c->lines[i]);
	for (int i = 0; i < c->n; i++)
		for (int j = 0; j < i; j++)
			if (strcmp(c->lines[i].code, c->lines[j].code) == 0)
				bad_line(c->lines[i].line_no, "the SKU is already on another line of the cart");
}

/* Read and check place_order's arguments. */
static void
order_args(FunctionCallInfo fcinfo, Cart *c)
{
	c->order_ref = wl_arg_text(fcinfo, 0, "order_ref", WL_MAX_REF_LEN, true);
	c->customer = wl_arg_text(fcinfo, 1, "customer", WL_MAX_NAME_LEN, false);
	c->email = wl_arg_email(fcinfo, 2);
	c->phone = wl_arg_phone(fcinfo, 3);
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("channel must not be null")));
	c->channel = wl_arg_channel(fcinfo, 4);
	if (PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("lines must not be null")));
	if (!c->email && !c->phone)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an email address or a phone number is required"),
				 errdetail("The order confirmation and the shipping notices need somewhere to go.")));
}

/* ---------- deciding and placing ---------- */


/* Cart lines in SKU code order (the order the commit locks SKUs in). */
static int
cmp_sku_code(const void *a, const void *b)
{
	return strcmp((*(CartLine *const *) a)->code, (*(CartLine *const *) b)->code);
}

/* Lock every SKU of the cart in code order and decide each line on it. */
static void
decide_lines(Cart *c)
{
	CartLine  **byid = palloc(sizeof(CartLine *) * c->n);

	for (int i = 0; i < c->n; i++)
		byid[i] = &c->lines[i];
	qsort(byid, c->n, sizeof(CartLine *), cmp_sku_code);
	for (int i = 0; i < c->n; i++)
	{
		CartLine   *l = byid[i];
		WlSku		s;

		wl_sku_get(l->code, true, &s);
		wl_policy_of(&s, c->channel, l->qty, &l->policy);
	}
	pfree(byid);
}

/* Refuse the cart at its first line the policy does not sell. */
static void
require_sellable(Cart *c)
{
	for (int i = 0; i < c->n; i++)
	{
		CartLine   *l = &c->lines[i];

		if (l->policy.decision == WL_NOTIFY_ME || l->policy.decision == WL_OUT_OF_STOCK)
		{
			wl_flush_seen();
			ereport(ERROR,
					(errcode(WL_ERRCODE_POLICY_REFUSED),
					 errmsg("cart line %d: SKU \"%s\" cannot be ordered on channel \"%s\"",
							l->line_no, l->sku, c->channel),
					 errdetail("The policy says %s: %s. Nothing of order \"%s\" was placed.",
							   wl_decision_name(l->policy.decision), l->policy.reason,
							   c->order_ref),
					 l->policy.decision == WL_NOTIFY_ME
					 ? errhint("Remove the line and offer the notify-me sign-up (waitlist.subscribe).")
					 : 0));
		}
		if (l->policy.decision == WL_PREORDER && (l->price == NULL || l->currency == NULL))
			bad_line(l->line_no, "a pre-order line needs unit_price and currency");
	}
}

/* Error context: which cart line a nested refusal (a limit, say) is about. */
static void
line_context(void *arg)
{
	CartLine   *l = arg;

	errcontext("cart line %d (SKU \"%s\")", l->line_no, l->sku);
}

/*
 * Place one line as a backorder (in stock or backorder: a paid line,
 * allocated at commit when the units are there) or a pre-order, through
 * the functions place_backorder and place_preorder use.
 */
static void
place_line(Cart *c, CartLine *l)
{
	ErrorContextCallback ctx = {error_context_stack, line_context, l};
	WlPreorder	p;

	error_context_stack = &ctx;
	p.o.order_ref = c->order_ref;
	p.o.sku = l->sku;
	p.o.qty = l->qty;
	p.o.customer = c->customer;
	p.o.email = c->email;
	p.o.phone = c->phone;
	p.o.channel = c->channel;
	if (l->policy.decision == WL_PREORDER)
	{
		p.price = wl_check_amount(DirectFunctionCall3(numeric_in, CStringGetDatum(l->price),
													  ObjectIdGetDatum(InvalidOid),
													  Int32GetDatum(-1)),
								  "unit_price", 1e9);
		p.currency = wl_check_currency(l->currency);
		l->line_id = wl_place_preorder(&p);
	}
	else
		l->line_id = wl_place_backorder(&p.o);
	error_context_stack = ctx.previous;
}

/* ---------- shipments and the confirmation ---------- */

/* Shipment numbers: what is in stock ships first, then by date. */
static void
group_shipments(Cart *c)
{
	int			next = 1;
	bool		any_now = false;

	for (int i = 0; i < c->n; i++)
		if (c->lines[i].policy.decision == WL_IN_STOCK)
		{
			c->lines[i].shipment = 1;
			any_now = true;
		}
	next = any_now ? 2 : 1;
	for (;;)
	{
		DateADT		first = DATEVAL_NOEND;
		bool		found = false;

		for (int i = 0; i < c->n; i++)
			if (c->lines[i].shipment == 0 && c->lines[i].policy.ship_by <= first)
			{
				first = c->lines[i].policy.ship_by;
				found = true;
			}
		if (!found)
			break;
		for (int i = 0; i < c->n; i++)
			if (c->lines[i].shipment == 0 && c->lines[i].policy.ship_by == first)
				c->lines[i].shipment = next;
		next++;
	}
}

/* Queue order_confirmed: every line with its decision, shipment and date. */
static void
confirm_order(Cart *c)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"order_ref\": ");
	escape_json(&b, c->order_ref);
	appendStringInfoString(&b, ", \"channel\": ");
	escape_json(&b, c->channel);
	appendStringInfoString(&b, ", \"lines\": [");
	for (int i = 0; i < c->n; i++)
	{
		CartLine   *l = &c->lines[i];
		char	   *date = l->policy.has_ship_by ? wl_iso_date(l->policy.ship_by) : NULL;

		appendStringInfo(&b, "%s{\"line_no\": %d, \"sku\": ", i ? ", " : "", l->line_no);
		escape_json(&b, l->sku);
		appendStringInfo(&b, ", \"qty\": %d, \"decision\": \"%s\", \"line_id\": " INT64_FORMAT
						 ", \"shipment\": %d, \"ship_by\": ", l->qty,
						 wl_decision_name(l->policy.decision), l->line_id, l->shipment);
		if (date)
			escape_json(&b, date);
		else
			appendStringInfoString(&b, "null");
		appendStringInfoChar(&b, '}');
	}
	appendStringInfoString(&b, "]}");
	/* whole: order_ref is up to 100 characters, up to 400 bytes */
	wl_queue_contacts("order_confirmed", c->lines[0].sku, c->email, c->phone, b.data,
					  psprintf("order:%s:%s:confirmed", c->channel, c->order_ref));
}

/* SQL: waitlist.place_order(order_ref, customer, email, phone, channel, lines) */
Datum
waitlist_place_order(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Cart		c;

	order_args(fcinfo, &c);
	InitMaterializedSRF(fcinfo, 0);
	wl_spi_connect();
	wl_require_channel(c.channel);
	read_cart(PG_GETARG_JSONB_P(5), &c);
	decide_lines(&c);
	require_sellable(&c);
	for (int i = 0; i < c.n; i++)
		place_line(&c, &c.lines[i]);
	group_shipments(&c);
	confirm_order(&c);
	/* the rows go into the tuplestore (its own context) while SPI still holds the lines */
	for (int i = 0; i < c.n; i++)
	{
		CartLine   *l = &c.lines[i];
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, !l->policy.has_ship_by};

		values[0] = Int32GetDatum(l->line_no);
		values[1] = CStringGetTextDatum(l->sku);
		values[2] = Int32GetDatum(l->qty);
		values[3] = CStringGetTextDatum(wl_decision_name(l->policy.decision));
		values[4] = Int64GetDatum(l->line_id);
		values[5] = Int32GetDatum(l->shipment);
		values[6] = DateADTGetDatum(l->policy.ship_by);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
