#!/usr/bin/env bash
# Bounded memory under abuse (tests/abuse.rs) at the issue's sizes: 10,000 idle TLS
# connections, slowloris headers and bodies, 100 concurrent LISTs of 10,000 objects of 1.2 KB,
# and 50,000 watchers; prints the server's RSS after each. Not run in CI (a tenth there).
# Usage: scripts/abuse.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export KUBESHARD_ABUSE_FULL=1
log="$(mktemp -t kubeshard-abuse.XXXXXX)"
echo "abuse.sh: full sizes; output in $log"
if ! cargo test --release --test abuse -- --nocapture >"$log" 2>&1; then
  grep -v '^\[kubeshard\]' "$log" | tail -40
  echo "abuse.sh: FAILED (see $log)" >&2
  exit 1
fi
grep '^abuse: ' "$log"
