#!/usr/bin/env bash
# Install the Debian packages the build, the tests, the demo and the relay need
# (Node.js and npm for the relay's tests and benchmark and for the report's
# charting library; Chromium to test the report in a browser),
# but only those that are missing.  Needs root (or sudo) the first time.
set -euo pipefail

# libkrb5-dev: the server's libpq/libpq-be.h includes <gssapi/gssapi.h>
# (Debian's server is built with GSSAPI) and postgresql-server-dev-15 does
# not pull the header in.
PKGS=(build-essential postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
      libkrb5-dev
      libtap-parser-sourcehandler-pgtap-perl
      libpq-dev libcurl4-openssl-dev libssl-dev python3 chromium)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# The relay's tests verify webhooks with an npm library: Node.js and npm,
# from Debian unless the machine has them already (from any source).
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
