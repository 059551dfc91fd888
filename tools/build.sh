#!/usr/bin/env bash
# Build and install the extension (and the relay) with warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
WFLAGS="-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror"
# The top-level make builds and installs the relay too (relay/Makefile:
# /usr/local/bin/waitlist-relay, on the PATH); WITHOUT_RELAY=1 skips it.
make -s PG_CFLAGS="$WFLAGS ${EXTRA_CFLAGS:-}" >/dev/null
# A bare make builds everything (a rule placed before PGXS's include once
# made it build src/module.o alone, and only make install built the rest).
built=(waitlist.so)
[ -n "${WITHOUT_RELAY:-}" ] || built+=(relay/waitlist-relay)
for f in "${built[@]}"; do
	[ -f "$f" ] || { echo "build: make did not build $f" >&2; exit 1; }
done
make -s install PG_CFLAGS="$WFLAGS ${EXTRA_CFLAGS:-}" >/dev/null
