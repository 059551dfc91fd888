# waitlist: PGXS build.  Warnings flags come from PG_CFLAGS (see tools/test.sh),
# the way pgvector's CI passes them, so a distribution build is not forced to -Werror.
EXTENSION = waitlist
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed -e "s/default_version[[:space:]]*=[[:space:]]*'\([^']*\)'/\1/")

MODULE_big = waitlist
# src/ is layered: api/ -> domain/ -> store/ -> txn/ (docs/architecture.md)
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c src/*/*.c))
DATA = $(wildcard waitlist--*.sql)

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=waitlist
ISOLATION = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
ISOLATION_OPTS = --load-extension=waitlist

# The regression and isolation suites test allocation, queues and messages,
# placing backorders on SKUs without restock dates; they run with the
# availability policy's enforcement off (the option comes from its one place,
# tools/harness.sh).  sql/07_policy turns it back on.
installcheck: export PGOPTIONS := $(PGOPTIONS) $(shell bash -c '. tools/harness.sh && echo "$$WL_POLICY_OFF"')

PG_CONFIG ?= pg_config
# Server headers are system headers: -Wextra then judges only our code.
PG_CPPFLAGS = -I$(srcdir)/src -isystem $(shell $(PG_CONFIG) --includedir-server)
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every object is rebuilt when any of
# the project's headers changes (a struct that grows must not leave an old
# object behind with the old size).  After the include: a rule before it
# would be make's default goal, and a bare "make" would build one object.
$(OBJS): $(wildcard src/*.h src/*/*.h)

# The relay (relay/) is built and installed with the extension, as a tool:
# /usr/local/bin/waitlist-relay (on the PATH), its man page, systemd unit and
# example configuration (relay/Makefile: PREFIX, BINDIR...).  A packager
# shipping it separately, or without libcurl, skips it with WITHOUT_RELAY=1.
ifndef WITHOUT_RELAY
all: relay-all
install: relay-install
uninstall: relay-uninstall
clean: relay-clean

relay-all:
	$(MAKE) -C relay all CFLAGS_EXTRA="$(PG_CFLAGS)"

relay-install: relay-all
	$(MAKE) -C relay install

relay-uninstall:
	$(MAKE) -C relay uninstall

relay-clean:
	$(MAKE) -C relay clean

.PHONY: relay-all relay-install relay-uninstall relay-clean
endif
