#!/usr/bin/env bash
# A private, relocated copy of the system's PostgreSQL installation, so that
# two checkouts (two branches, a benchmark and a test run) can each install
# their own build of the extension without replacing the other's.
#
#   eval "$(tools/private_pg.sh /tmp/pg-mybranch)"
#   tools/test.sh            # builds, installs and tests into the copy
#
# PostgreSQL finds its share and lib directories relative to its binaries, so
# the copy keeps the same layout under DIR; pg_config then reports the copy's
# directories and PGXS installs there.  The relay's PREFIX goes there too.
# Prints the environment to evaluate; creates the copy once.
set -euo pipefail
dir="${1:?usage: tools/private_pg.sh DIR}"
bindir=$(pg_config --bindir)
sharedir=$(pg_config --sharedir)
libroot=$(dirname "$bindir")
includedir=$(pg_config --pkgincludedir)
if [ ! -x "$dir$bindir/postgres" ]; then
	mkdir -p "$dir$(dirname "$libroot")" "$dir$(dirname "$sharedir")"
	cp -a "$libroot" "$dir$(dirname "$libroot")/"
	cp -a "$sharedir" "$dir$(dirname "$sharedir")/"
	mkdir -p "$dir/usr/local/bin"
fi
# pg_config in the copy reports the headers under DIR too (PGXS compiles
# against them): link the system's, which no build writes to.
if [ ! -e "$dir$includedir" ]; then
	mkdir -p "$dir$(dirname "$includedir")"
	ln -s "$includedir" "$dir$includedir"
fi
# The cluster runs as an unprivileged user, which must reach the copy.
chmod 755 "$dir"
# The relay installs as a tool into PREFIX/bin, which comes first: a
# waitlist-relay an old release left in PostgreSQL's bindir (copied with it)
# must not shadow the one just built.
echo "export PATH='$dir/usr/local/bin:$dir$bindir':\"\$PATH\""
echo "export PREFIX='$dir/usr/local'"
