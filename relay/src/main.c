/*
 * main.c: waitlist-relay's entry point; everything else starts in relay.c.
 */
#include "relay.h"

int
main(int argc, char **argv)
{
	return relay_main(argc, argv);
}
