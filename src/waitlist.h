/*
 * waitlist.h
 *	  Declarations shared across the extension: SQLSTATEs, GUCs and limits.
 */
#ifndef WAITLIST_H
#define WAITLIST_H

#include "postgres.h"

/*
 * Business refusals have their own SQLSTATE class "WL" so that apps can
 * catch them; malformed input uses the standard data-exception codes.
 */
#define WL_ERRCODE_UNKNOWN_SKU			MAKE_SQLSTATE('W','L','0','0','1')
#define WL_ERRCODE_SKU_DISCONTINUED		MAKE_SQLSTATE('W','L','0','0','2')
#define WL_ERRCODE_UNKNOWN_LINE			MAKE_SQLSTATE('W','L','0','0','3')
#define WL_ERRCODE_LINE_CLOSED			MAKE_SQLSTATE('W','L','0','0','4')
#define WL_ERRCODE_LINE_NOT_ALLOCATED	MAKE_SQLSTATE('W','L','0','0','5')
#define WL_ERRCODE_DUPLICATE_ORDER		MAKE_SQLSTATE('W','L','0','0','6')
#define WL_ERRCODE_UNKNOWN_SUBSCRIPTION	MAKE_SQLSTATE('W','L','0','0','7')
#define WL_ERRCODE_NOT_LEASE_HOLDER		MAKE_SQLSTATE('W','L','0','0','8')
#define WL_ERRCODE_NOT_ENOUGH_STOCK		MAKE_SQLSTATE('W','L','0','0','9')
#define WL_ERRCODE_PREORDER_LIMIT		MAKE_SQLSTATE('W','L','0','1','0')
#define WL_ERRCODE_PREORDERS_NOT_OPEN	MAKE_SQLSTATE('W','L','0','1','1')
#define WL_ERRCODE_PREORDERS_OPEN		MAKE_SQLSTATE('W','L','0','1','2')
#define WL_ERRCODE_POLICY_REFUSED		MAKE_SQLSTATE('W','L','0','1','3')
#define WL_ERRCODE_UNKNOWN_CHANNEL		MAKE_SQLSTATE('W','L','0','1','4')
#define WL_ERRCODE_SHIP_DATE_PASSED		MAKE_SQLSTATE('W','L','0','1','5')
#define WL_ERRCODE_UNKNOWN_MESSAGE		MAKE_SQLSTATE('W','L','0','1','6')
#define WL_ERRCODE_NO_HOLD				MAKE_SQLSTATE('W','L','0','1','7')

/* Longest texts accepted (characters). */
#define WL_MAX_SKU_LEN		128
#define WL_MAX_REF_LEN		100
#define WL_MAX_NAME_LEN		200
#define WL_MAX_TITLE_LEN	500
#define WL_MAX_URL_LEN		2048
#define WL_MAX_ERROR_LEN	2000
#define WL_MAX_CONSUMER_LEN	200
#define WL_MAX_CHANNEL_LEN	40
#define WL_MAX_CARRIER_LEN	100

/* Bytes that hold any SKU code the API accepts, with its terminator. */
#define WL_SKU_KEY_BYTES	(WL_MAX_SKU_LEN * 4 + 1)

/* Most sales channels one SKU can be listed on. */
#define WL_MAX_LISTINGS		64

/* The arguments every order line starts with (place_backorder, place_preorder). */
typedef struct WlOrderArgs
{
	char	   *order_ref;
	char	   *sku;
	int32		qty;
	char	   *customer;
	char	   *email;
	char	   *phone;
	char	   *channel;
} WlOrderArgs;

/* GUCs (module.c) */
extern bool wl_notify_enabled;
extern int	wl_node_id;
extern bool wl_early_lock_release;
extern int	wl_max_attempts;
extern int	wl_retry_base_ms;
extern int	wl_retry_max_ms;
extern double wl_notify_skip_usage;
extern int	wl_authorization_ttl_s;
extern int	wl_reauthorize_before_s;
extern int	wl_backorder_days;
extern int	wl_out_of_stock_days;
extern int	wl_backorder_min_demand;
extern int	wl_backorder_max_units;
extern bool wl_enforce_policy;
extern int	wl_status_interval_s;
extern double wl_midwait_fraction;
extern int	wl_imminent_days;
extern int	wl_email_delay_s;
extern int	wl_repeat_after_s;
extern int	wl_purchase_window_s;
extern int	wl_signup_expiry_s;
extern int	wl_last_chance_notice_setting;
extern int	wl_reminder_after_s;
extern int	wl_missed_note_after_s;
extern bool wl_eta_to_signups;

#endif
