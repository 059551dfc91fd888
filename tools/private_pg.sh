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
# The system's directories, also when this shell already evaluated the
# copy's environment (pg_config is then the copy's: take DIR off again).
system_dir() { local path="$1"; echo "${path#"$dir"}"; }
bindir=$(system_dir "$(pg_config --bindir)")
sharedir=$(system_dir "$(pg_config --sharedir)")
includedir=$(system_dir "$(pg_config --pkgincludedir)")
libroot=$(dirname "$bindir")
if [ ! -x "$dir$bindir/postgres" ]; then
	mkdir -p "$dir$(dirname "$libroot")" "$dir$(dirname "$sharedir")"
	cp -a "$libroot" "$dir$(dirname "$libroot")/"
	cp -a "$sharedir" "$dir$(dirname "$sharedir")/"
	mkdir -p "$dir/usr/local/bin"
fi
# The copy's pg_config names headers under DIR too (PGXS builds with them):
# they are the system's, linked.
if [ ! -e "$dir$includedir" ]; then
	mkdir -p "$dir$(dirname "$includedir")"
	ln -s "$includedir" "$dir$includedir"
fi
# The cluster runs as an unprivileged user, which must reach the copy.
chmod 755 "$dir"
# The relay installed under PREFIX comes first on the PATH: a copy that 0.1.0
# left in PostgreSQL's bindir (copied along with it) must not shadow it.
echo "export PATH='$dir/usr/local/bin:$dir$bindir':\"\$PATH\""
echo "export PREFIX='$dir/usr/local'"
