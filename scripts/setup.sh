#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running demo: installs the packages the
# build needs, builds stepd, and starts the chat example on http://localhost:3000.
#   scripts/setup.sh [--no-run]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -j"$(nproc)" build/stepd
echo
echo "stepd built: build/stepd"
[ "${1:-}" = "--no-run" ] && exit 0
cat <<'MSG'
Starting examples/chat on http://localhost:3000 (Ctrl-C stops it). Try, in another shell:
  curl -s -X POST localhost:3000/ai/chat -H 'authorization: Bearer demo-ann' \
       -H 'content-type: application/json' -d '{"message":"hello"}'
  curl -s localhost:3000/ai/chat/<chatId> -H 'authorization: Bearer demo-ann'
MSG
exec build/stepd dev examples/chat
