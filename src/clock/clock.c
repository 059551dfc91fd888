/*
 * clock.c
 *	  The clock's settings and its start: with the library in
 *	  shared_preload_libraries, _PG_init (module.c) registers the launcher
 *	  (launcher.c), the shared memory (shared.c) and the DDL hook (ddl.c).
 *	  Loaded any other way, only the settings exist and tick() is called
 *	  by hand, by pg_cron or by the relay.
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "clock/clock.h"
#include "clock/ddl.h"
#include "clock/shared.h"

bool		wl_clock_enabled = true;
int			wl_tick_interval_ms = 1000;

static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

/* Define waitlist.clock and waitlist.tick_interval. */
void
wl_clock_define_settings(void)
{
	DefineCustomBoolVariable("waitlist.clock",
							 "Run tick() in every database that has the extension, from a background worker.",
							 "Needs waitlist in shared_preload_libraries; off stops the workers.",
							 &wl_clock_enabled, true, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("waitlist.tick_interval",
							"How often the background worker runs tick() in each database.",
							NULL, &wl_tick_interval_ms, 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
}

/* shmem_request_hook */
static void
clock_shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	wl_clock_shmem_request();
}

/* shmem_startup_hook */
static void
clock_shmem_startup(void)
{
	if (prev_shmem_startup)
		prev_shmem_startup();
	wl_clock_shmem_startup();
}

/* Register the launcher. */
static void
register_launcher(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 10;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "waitlist");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "wl_clock_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "waitlist clock launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "waitlist clock launcher");
	RegisterBackgroundWorker(&bgw);
}

/* Start the clock when the library is being preloaded; nothing otherwise. */
void
wl_clock_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = clock_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = clock_shmem_startup;
	wl_clock_ddl_init();
	register_launcher();
}
