#!/usr/bin/env bash
# Build and install the extension (and the relay) with warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
WFLAGS="-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror"
make -s PG_CFLAGS="$WFLAGS ${EXTRA_CFLAGS:-}" >/dev/null
make -s install >/dev/null
if [ -f relay/Makefile ] && [ -z "${WL_SKIP_RELAY:-}" ]; then
	make -s -C relay CFLAGS_EXTRA="$WFLAGS" >/dev/null
	make -s -C relay install >/dev/null
fi
