/*
 * log.h: the relay's log lines on stderr, one event per line, in logfmt
 * (key=value) after a UTC timestamp and a level.
 */
#ifndef RELAY_LOG_H
#define RELAY_LOG_H

#include <stdbool.h>

extern bool log_verbose;

void		log_flush(void);
void		log_msg(const char *level, const char *fmt,...) __attribute__((format(printf, 2, 3)));
char	   *log_quote(const char *s);

#define log_info(...)	log_msg("info", __VA_ARGS__)
#define log_warn(...)	log_msg("warning", __VA_ARGS__)
#define log_error(...)	log_msg("error", __VA_ARGS__)
#define log_debug(...)	do { if (log_verbose) log_msg("debug", __VA_ARGS__); } while (0)

#endif
