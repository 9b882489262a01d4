#!/usr/bin/env bash
# Whole-server crash loops (tests/server_crash.rs) at full length: writers create, update and
# delete over HTTPS while kubeshard is SIGKILLed at random moments, TRIALS times on one data dir,
# on the embedded store and on a real etcd; after each restart every acknowledged write is
# checked. Prints one summary line per backend. Not run in CI (the tests there run 4 kills).
# Usage: scripts/crash-loop.sh [TRIALS (default 100)] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
trials="${1:-100}"
export KUBESHARD_CRASH_TRIALS="$trials"
if [ -n "${2:-}" ]; then export KUBESHARD_CRASH_SEED="$2"; fi
command -v etcd >/dev/null || { echo "crash-loop.sh: etcd is required (apt-get install etcd-server)" >&2; exit 1; }
log="$(mktemp -t kubeshard-crash-loop.XXXXXX)"
echo "crash-loop.sh: $trials kills per backend; full output in $log"
if ! cargo test --release --test server_crash -- --nocapture --test-threads=1 >"$log" 2>&1; then
  grep -v '^\[kubeshard\]' "$log" | tail -40
  echo "crash-loop.sh: FAILED (see $log)" >&2
  exit 1
fi
grep '^crash-loop ' "$log"
