#!/usr/bin/env bash
# Build and install Citus from a source tree, for test/citus.sh (which
# skips itself where Citus is not installed).  Citus is not in Debian's
# archive, and this script downloads nothing: give it a checkout of
# citusdata/citus at a tag that supports PostgreSQL 15 (tested: v13.2.2).
#
#   git -C citus checkout v13.2.2
#   tools/build_citus.sh citus          # needs root (apt, make install)
#
# The tree is built where it is (configure, make); the library goes into
# the PostgreSQL that pg_config names.  Citus 13.2.2 defines its own
# have_createdb_privilege() for PostgreSQL 15, which 15.20's headers now
# declare as well (a compile error): the script turns Citus's copy off when
# the server's headers declare it.  Keep the tree out of this repository.
set -euo pipefail
src="${1:?usage: tools/build_citus.sh CITUS_SOURCE_DIR}"
[ -f "$src/configure" ] && [ -f "$src/src/include/pg_version_compat.h" ] ||
	{ echo "build_citus: $src is not a Citus source tree" >&2; exit 1; }

# Citus's build dependencies, those missing.
pkgs=(build-essential autoconf flex bison libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev
      libssl-dev libxslt1-dev libselinux1-dev libpam0g-dev libreadline-dev postgresql-server-dev-15)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "build_citus: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

compat="$src/src/include/pg_version_compat.h"
if grep -q "have_createdb_privilege" "$(pg_config --includedir-server)/commands/dbcommands.h" &&
	grep -q "^have_createdb_privilege(void)" "$compat" &&
	! grep -q "waitlist: the server declares it" "$compat"; then
	python3 - "$compat" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
start = text.index("static inline bool\nhave_createdb_privilege(void)")
end = text.index("\n}\n", start) + 3
text = (text[:start] + "#if 0 /* waitlist: the server declares it */\n"
        + text[start:end] + "#endif\n" + text[end:])
open(path, "w").write(text)
PY
	echo "build_citus: turned off Citus's own have_createdb_privilege()" >&2
fi

cd "$src"
./configure PG_CONFIG="$(command -v pg_config)" >/dev/null
make -s -j"$(nproc)" >/dev/null
make -s install >/dev/null
echo "build_citus: installed $(pg_config --pkglibdir)/citus.so"
