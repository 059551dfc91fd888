/*
 * relay.h: the relay's event loop.  One thread, one database connection,
 * one poll over everything: LISTEN first, drain what is due, then sleep
 * until a notification, the next due time, the poll interval, a finished
 * delivery or a signal.
 */
#ifndef RELAY_RELAY_H
#define RELAY_RELAY_H

int			relay_main(int argc, char **argv);

#endif
