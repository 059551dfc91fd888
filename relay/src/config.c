/*
 * config.c: parses the command line and the --config file into a
 * relay_config, checks it, and prints --help.  Nothing here touches the
 * database or the network.
 */
#include "config.h"
#include "log.h"

#include <ctype.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>


typedef enum opt_type
{
	OPT_STRING,
	OPT_LONG,
	OPT_DURATION,
	OPT_LIST,
	OPT_BOOL,
	OPT_SINK,
	OPT_ACTION					/* --help, --version: command line only */
} opt_type;

typedef struct opt_def
{
	const char *name;
	int			short_name;
	opt_type	type;
	size_t		offset;			/* into relay_config */
	const char *arg;			/* placeholder in --help; NULL = no argument */
	const char *help;
} opt_def;

#define OFF(f) offsetof(relay_config, f)

static const opt_def options[] = {
	{"dbname", 'd', OPT_STRING, OFF(conninfo), "CONNINFO",
	"libpq connection string or URI (default: the PG* environment variables)"},
	{"consumer", 0, OPT_STRING, OFF(consumer), "NAME",
	"lease owner name, unique per running relay (default: HOST:PID)"},
	{"stdout", 0, OPT_SINK, SINK_STDOUT, NULL,
	"sink: write each message as one JSON line on stdout"},
	{"exec", 0, OPT_SINK, SINK_EXEC, "COMMAND",
	"sink: run COMMAND with /bin/sh per message, JSON on its stdin; exit 0 = delivered, 100 = give up (dead letter), other = retry"},
	{"webhook", 0, OPT_SINK, SINK_WEBHOOK, "URL",
	"sink: POST the JSON to URL; 2xx = delivered, 4xx except 408/429 = dead letter, else retry"},
	{"secret", 0, OPT_LIST, OFF(secrets), "SECRET",
	"webhook signing secret, whsec_<base64> (Standard Webhooks); repeat to sign with several while rotating (prefer env WAITLIST_RELAY_SECRET or the config file)"},
	{"kind", 0, OPT_LIST, OFF(kinds), "KIND",
	"claim only messages of this kind (repeatable)"},
	{"channel", 0, OPT_LIST, OFF(channels), "CHANNEL",
	"claim only this channel: email, sms, merchant, payment or feed (repeatable)"},
	{"in-flight", 'n', OPT_LONG, OFF(in_flight), "N",
	"deliveries running at once (default 8)"},
	{"batch", 0, OPT_LONG, OFF(batch), "N",
	"most messages claimed per statement (default 100)"},
	{"lease", 0, OPT_DURATION, OFF(lease), "DURATION",
	"lease taken on claimed messages, renewed while they are delivered (default 30s)"},
	{"poll-interval", 0, OPT_DURATION, OFF(poll_interval), "DURATION",
	"longest sleep without a notification; waitlist.tick() runs this often (default 5s)"},
	{"claim-wait", 0, OPT_DURATION, OFF(claim_wait), "DURATION",
	"while nothing is in flight, the claim waits this long in the database for a message (waitlist.claim_wait; at most 60s, 0 = off; default 1s)"},
	{"timeout", 0, OPT_DURATION, OFF(timeout), "DURATION",
	"time allowed for one delivery (default 10s)"},
	{"grace", 0, OPT_DURATION, OFF(grace), "DURATION",
	"on SIGTERM, time to finish in-flight deliveries before releasing them (default 10s)"},
	{"max-retry-after", 0, OPT_DURATION, OFF(max_retry_after), "DURATION",
	"cap on a webhook's Retry-After (default 1h)"},
	{"metrics", 0, OPT_STRING, OFF(metrics), "[ADDR:]PORT",
	"serve Prometheus text at GET /metrics (ADDR defaults to 127.0.0.1)"},
	{"async-commit", 0, OPT_BOOL, OFF(async_commit), NULL,
	"synchronous_commit = off for nacks, releases and the rest too (claims and acks always): a server crash may forget a retry's delay or a release"},
	{"sync-claims", 0, OPT_BOOL, OFF(sync_claims), NULL,
	"claims wait for their own WAL flush, so a server crash never hands a message out again while it is being delivered (slower)"},
	{"config", 'c', OPT_STRING, OFF(config_file), "FILE",
	"read key = value lines named like the long flags; SIGHUP re-reads it"},
	{"verbose", 'v', OPT_BOOL, OFF(verbose), NULL,
	"log claims, notifications and lease renewals too"},
	{"check", 0, OPT_ACTION, 0, NULL, "check the configuration (flags, --config file, secrets) and exit"},
	{"help", 'h', OPT_ACTION, 0, NULL, "show this help and exit"},
	{"version", 'V', OPT_ACTION, 0, NULL, "show the version and exit"},
};

#define NOPTIONS ((int) (sizeof(options) / sizeof(options[0])))

static const char *const valid_channels[] = {"email", "sms", "merchant", "payment", "feed"};

/* Where one option's value lives inside cfg. */
static void *
opt_field(relay_config *cfg, const opt_def *o)
{
	return (char *) cfg + o->offset;
}

/* The option called name, or NULL. */
static const opt_def *
opt_find(const char *name)
{
	for (int i = 0; i < NOPTIONS; i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

/* Lists given in one source replace those of the previous source. */
typedef struct apply_state
{
	const char *source;			/* "command line" or the file name */
	bool		list_reset[NOPTIONS];
	bool		sink_set;
} apply_state;

/* Store a sink choice; two sinks from the same source are an error. */
static bool
apply_sink(relay_config *cfg, const opt_def *o, const char *value, apply_state *st)
{
	bool		on = true;

	if (o->arg == NULL && value != NULL && !parse_bool(value, &on))
	{
		log_error("msg=\"%s: %s takes yes or no\"", st->source, o->name);
		return false;
	}
	if (!on)
		return true;			/* "stdout = no": not chosen */
	if (o->arg == NULL)
		value = NULL;
	if (st->sink_set && cfg->sink != (sink_type) o->offset)
	{
		log_error("msg=\"%s: choose one sink: --stdout, --exec or --webhook\"", st->source);
		return false;
	}
	st->sink_set = true;
	cfg->sink = (sink_type) o->offset;
	free(cfg->target);
	cfg->target = xstrdup(value);
	return true;
}

/* Store a numeric option, reporting a bad value. */
static bool
apply_number(relay_config *cfg, const opt_def *o, const char *value, const char *source)
{
	bool		ok;

	if (o->type == OPT_LONG)
		ok = parse_long(value, 1, 100000, (long *) opt_field(cfg, o));
	else
		ok = parse_duration(value, (double *) opt_field(cfg, o));
	if (!ok)
		log_error("msg=\"%s: invalid value for %s: %s\"", source, o->name, value);
	return ok;
}

/* Store one option's value into cfg. */
static bool
apply_option(relay_config *cfg, const opt_def *o, const char *value, apply_state *st)
{
	int			idx = (int) (o - options);

	switch (o->type)
	{
		case OPT_STRING:
			free(*(char **) opt_field(cfg, o));
			*(char **) opt_field(cfg, o) = xstrdup(value);
			return true;
		case OPT_LONG:
		case OPT_DURATION:
			return apply_number(cfg, o, value, st->source);
		case OPT_LIST:
			if (!st->list_reset[idx])
				strlist_clear((strlist *) opt_field(cfg, o));
			st->list_reset[idx] = true;
			strlist_add((strlist *) opt_field(cfg, o), value);
			return true;
		case OPT_BOOL:
			if (value == NULL || parse_bool(value, (bool *) opt_field(cfg, o)))
			{
				if (value == NULL)
					*(bool *) opt_field(cfg, o) = true;
				return true;
			}
			log_error("msg=\"%s: %s takes yes or no\"", st->source, o->name);
			return false;
		case OPT_SINK:
			return apply_sink(cfg, o, value, st);
		case OPT_ACTION:
			break;
	}
	log_error("msg=\"%s: %s cannot be set here\"", st->source, o->name);
	return false;
}

/* Strip leading and trailing blanks in place. */
static char *
trim(char *s)
{
	char	   *end;

	while (isspace((unsigned char) *s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char) end[-1]))
		*--end = '\0';
	return s;
}

/* Apply one "key = value" line of the config file. */
static bool
apply_file_line(relay_config *cfg, char *line, int lineno, apply_state *st)
{
	char	   *eq,
			   *key,
			   *value = NULL;
	const opt_def *o;

	line = trim(line);
	if (*line == '\0' || *line == '#')
		return true;
	eq = strchr(line, '=');
	if (eq != NULL)
	{
		*eq = '\0';
		value = trim(eq + 1);
	}
	key = trim(line);
	o = opt_find(key);
	if (o == NULL || o->type == OPT_ACTION || strcmp(key, "config") == 0 ||
		(value == NULL && o->arg != NULL))
	{
		log_error("msg=\"%s:%d: unknown setting or missing value: %s\"", st->source, lineno, key);
		return false;
	}
	return apply_option(cfg, o, value, st);
}

/* Read the config file into cfg. */
static bool
load_file(relay_config *cfg, const char *path)
{
	FILE	   *f = fopen(path, "r");
	char		line[4096];
	int			lineno = 0;
	bool		ok = true;
	apply_state st = {.source = path};

	if (f == NULL)
	{
		log_error("msg=\"cannot read config file %s: %m\"", path);
		return false;
	}
	while (ok && fgets(line, sizeof(line), f) != NULL)
		ok = apply_file_line(cfg, line, ++lineno, &st);
	fclose(f);
	return ok;
}

/* Print --help, generated from the option table. */
static void
print_help(void)
{
	printf("waitlist-relay delivers the waitlist extension's outbox, at least once.\n\n"
		   "Usage: waitlist-relay [OPTION]... (--stdout | --exec COMMAND | --webhook URL)\n\n"
		   "Options:\n");
	for (int i = 0; i < NOPTIONS; i++)
	{
		const opt_def *o = &options[i];
		char		flag[64];

		snprintf(flag, sizeof(flag), "%c%c%c --%s%s%s",
				 o->short_name ? '-' : ' ', o->short_name ? o->short_name : ' ',
				 o->short_name ? ',' : ' ', o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		printf("  %-32s %s\n", flag, o->help);
	}
	printf("\nDurations take a unit: 500ms, 30s, 2m, 1h (none = seconds).\n"
		   "Environment: PGHOST, PGPORT, PGDATABASE, PGUSER... (libpq), WAITLIST_RELAY_SECRET.\n"
		   "Signals: SIGTERM/SIGINT finish or release in-flight deliveries and exit 0; SIGHUP reloads --config.\n"
		   "See waitlist-relay(1).\n");
}

/* Fill the getopt_long tables from the option table. */
static void
build_getopt(struct option *longopts, char *shortopts)
{
	for (int i = 0; i < NOPTIONS; i++)
	{
		longopts[i].name = options[i].name;
		longopts[i].has_arg = options[i].arg ? required_argument : no_argument;
		longopts[i].flag = NULL;
		longopts[i].val = 256 + i;
		if (options[i].short_name)
		{
			*shortopts++ = (char) options[i].short_name;
			if (options[i].arg)
				*shortopts++ = ':';
		}
	}
	memset(&longopts[NOPTIONS], 0, sizeof(struct option));
	*shortopts = '\0';
}

/* The option a getopt_long return value stands for, or NULL. */
static const opt_def *
opt_from_getopt(int c)
{
	if (c >= 256 && c < 256 + NOPTIONS)
		return &options[c - 256];
	for (int i = 0; i < NOPTIONS; i++)
		if (options[i].short_name == c)
			return &options[i];
	return NULL;
}

/* Parse argv into cfg; *action is set for --help/--version. */
static bool
load_argv(relay_config *cfg, int argc, char **argv, const char **action)
{
	struct option longopts[NOPTIONS + 1];
	char		shortopts[2 * NOPTIONS + 2];
	apply_state st = {.source = "command line"};
	int			c;

	build_getopt(longopts, shortopts);
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
	{
		const opt_def *o = opt_from_getopt(c);

		if (o == NULL)
			return false;		/* getopt already printed why */
		if (o->type == OPT_ACTION)
			*action = o->name;
		else if (!apply_option(cfg, o, optarg, &st))
			return false;
	}
	if (optind < argc)
	{
		log_error("msg=\"unexpected argument: %s\"", argv[optind]);
		return false;
	}
	return true;
}

/* Built-in defaults. */
static void
set_defaults(relay_config *cfg)
{
	char		host[256] = "relay";

	memset(cfg, 0, sizeof(*cfg));
	gethostname(host, sizeof(host) - 1);
	cfg->consumer = xasprintf("%s:%d", host, (int) getpid());
	cfg->in_flight = 8;
	cfg->batch = 100;
	cfg->lease = 30;
	cfg->poll_interval = 5;
	cfg->claim_wait = 1;
	cfg->timeout = 10;
	cfg->grace = 10;
	cfg->max_retry_after = 3600;
}

/* Check that every channel filter is one the outbox knows. */
static bool
check_channels(const relay_config *cfg)
{
	for (int i = 0; i < cfg->channels.n; i++)
	{
		bool		known = false;

		for (size_t j = 0; j < sizeof(valid_channels) / sizeof(valid_channels[0]); j++)
			known |= strcmp(cfg->channels.items[i], valid_channels[j]) == 0;
		if (!known)
		{
			log_error("msg=\"unknown channel %s: use email, sms, merchant, payment or feed\"",
					  cfg->channels.items[i]);
			return false;
		}
	}
	return true;
}

/*
 * The webhook sink's secrets: --secret or the file's, else
 * WAITLIST_RELAY_SECRET (several separated by blanks).  Each must be a
 * Standard Webhooks secret; the signer is built once here.
 */
static bool
load_secrets(relay_config *cfg)
{
	const char *env = getenv("WAITLIST_RELAY_SECRET");
	char		why[200];

	if (cfg->secrets.n == 0 && env != NULL)
	{
		char	   *copy = xstrdup(env),
				   *save = NULL;

		for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
			strlist_add(&cfg->secrets, t);
		free(copy);
	}
	for (int i = 0; i < cfg->secrets.n; i++)
		if (!secret_check(cfg->secrets.items[i], why, sizeof(why)))
		{
			log_error("msg=\"invalid webhook secret number %d: %s\"", i + 1, why);
			return false;
		}
	cfg->signer = signer_new(&cfg->secrets);
	if (cfg->secrets.n > 0 && cfg->signer == NULL)
	{
		log_error("msg=\"cannot set up HMAC-SHA256 signing (OpenSSL)\"");
		return false;
	}
	return true;
}

/* Cross-field checks once every source is applied. */
static bool
validate(relay_config *cfg)
{
	if (cfg->sink == SINK_NONE)
	{
		log_error("msg=\"no sink: give --stdout, --exec COMMAND or --webhook URL (see --help)\"");
		return false;
	}
	if (cfg->lease < 1 || cfg->poll_interval < 0.05 || cfg->timeout < 0.05 || cfg->in_flight > 1024)
	{
		log_error("msg=\"out of range: --lease at least 1s, --poll-interval and --timeout at least 50ms, --in-flight at most 1024\"");
		return false;
	}
	if (cfg->claim_wait < 0 || cfg->claim_wait > 60)
	{
		log_error("msg=\"out of range: --claim-wait 0 (off) to 60s\"");
		return false;
	}
	if (cfg->batch > 10000 || strlen(cfg->consumer) > 200 || *cfg->consumer == '\0')
	{
		log_error("msg=\"out of range: --batch at most 10000, --consumer 1 to 200 characters\"");
		return false;
	}
	if (cfg->sync_claims && cfg->async_commit)
	{
		log_error("msg=\"--sync-claims and --async-commit contradict each other: --async-commit commits claims without a flush too\"");
		return false;
	}
	if (cfg->sink == SINK_WEBHOOK && !load_secrets(cfg))
		return false;
	if (cfg->sink == SINK_WEBHOOK && strncasecmp(cfg->target, "http://", 7) != 0 &&
		strncasecmp(cfg->target, "https://", 8) != 0)
	{
		log_error("msg=\"--webhook takes an http:// or https:// URL\"");
		return false;
	}
	if (cfg->sink == SINK_WEBHOOK && cfg->signer == NULL)
		log_warn("msg=\"no --secret: webhook requests will not be signed\"");
	log_verbose = cfg->verbose;
	return check_channels(cfg);
}

/* Find --config (or -c) on the command line without applying anything else. */
static const char *
find_config_arg(int argc, char **argv)
{
	const char *found = NULL;

	for (int i = 1; i < argc; i++)
	{
		if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc)
			found = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			found = argv[i] + 9;
	}
	return found;
}

/* Defaults, then the config file, then the command line. */
config_result
config_load(relay_config *cfg, int argc, char **argv)
{
	const char *file = find_config_arg(argc, argv);
	const char *action = NULL;

	set_defaults(cfg);
	if (file != NULL && !load_file(cfg, file))
		return CONFIG_ERROR;
	if (!load_argv(cfg, argc, argv, &action))
		return CONFIG_ERROR;
	if (action != NULL && strcmp(action, "check") == 0)
	{
		if (!validate(cfg))
			return CONFIG_ERROR;
		printf("waitlist-relay: configuration ok\n");
	}
	else if (action != NULL && strcmp(action, "help") == 0)
		print_help();
	else if (action != NULL)
		printf("waitlist-relay %s\n", RELAY_VERSION);
	if (action != NULL)
		return CONFIG_EXIT;
	return validate(cfg) ? CONFIG_OK : CONFIG_ERROR;
}

/* Free everything cfg owns. */
void
config_free(relay_config *cfg)
{
	free(cfg->conninfo);
	free(cfg->consumer);
	free(cfg->target);
	signer_free(cfg->signer);
	strlist_clear(&cfg->secrets);
	free(cfg->metrics);
	free(cfg->config_file);
	strlist_clear(&cfg->kinds);
	strlist_clear(&cfg->channels);
	memset(cfg, 0, sizeof(*cfg));
}

/* Whether two strings (either may be NULL) are equal. */
static bool
same_str(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

/* Whether a and b connect to the same database as the same consumer. */
bool
config_same_claim(const relay_config *a, const relay_config *b)
{
	return same_str(a->conninfo, b->conninfo) && same_str(a->consumer, b->consumer) &&
		a->async_commit == b->async_commit;
}
