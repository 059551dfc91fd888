/*
 * config.h: the relay's settings.  One table of options drives the command
 * line, the --config file (key = value lines named like the long flags) and
 * --help, so the three never disagree.  Command-line values win over the
 * file; SIGHUP re-reads the file with the same command line.
 */
#ifndef RELAY_CONFIG_H
#define RELAY_CONFIG_H

#include "sign.h"
#include "util.h"

#define RELAY_VERSION "0.1.0"

typedef enum sink_type
{
	SINK_NONE = 0,
	SINK_STDOUT,
	SINK_EXEC,
	SINK_WEBHOOK
} sink_type;

typedef struct relay_config
{
	char	   *conninfo;		/* libpq connection string; NULL = PG* env */
	char	   *consumer;		/* lease owner name */
	sink_type	sink;
	char	   *target;			/* webhook URL or exec command */
	strlist		secrets;		/* webhook signing secrets, "whsec_..." */
	signer	   *signer;			/* built from secrets; NULL = unsigned */
	strlist		kinds;			/* claim filter; empty = all */
	strlist		channels;		/* claim filter; empty = all */
	long		in_flight;
	long		batch;
	double		lease;			/* seconds */
	double		poll_interval;
	double		claim_wait;		/* seconds an idle claim waits in the database; 0 = off */
	double		timeout;
	double		grace;
	double		max_retry_after;
	char	   *metrics;		/* "[ADDR:]PORT" or NULL */
	char	   *config_file;
	bool		async_commit;	/* synchronous_commit = off for the relay's session */
	bool		sync_claims;	/* claims wait for their own WAL flush */
	bool		verbose;
} relay_config;

/* What config_load decided. */
typedef enum config_result
{
	CONFIG_OK,
	CONFIG_ERROR,
	CONFIG_EXIT					/* --help or --version printed */
} config_result;

config_result config_load(relay_config *cfg, int argc, char **argv);
void		config_free(relay_config *cfg);
bool		config_same_claim(const relay_config *a, const relay_config *b);

#endif
