#!/usr/bin/env bash
# Two kubeshard processes on one etcd (tests/ha.rs) at full size: SERVICES Service creates
# spread across both servers (default 10,000; a quarter NodePort), checked for cluster IP and
# node port collisions, plus identity leases, the kubernetes endpoints, read-your-writes and a
# watch resumed across servers. Prints the test's summary line. Not run in CI (400 there).
# Usage: scripts/ha.sh [SERVICES]
set -euo pipefail
cd "$(dirname "$0")/.."
export KUBESHARD_HA_SERVICES="${1:-10000}"
command -v etcd >/dev/null || { echo "ha.sh: etcd is required (apt-get install etcd-server)" >&2; exit 1; }
log="$(mktemp -t kubeshard-ha.XXXXXX)"
echo "ha.sh: $KUBESHARD_HA_SERVICES Services across two servers; full output in $log"
if ! cargo test --release --test ha -- --nocapture >"$log" 2>&1; then
  grep -v '^\[kubeshard\]' "$log" | tail -40
  echo "ha.sh: FAILED (see $log)" >&2
  exit 1
fi
grep '^ha: ' "$log"
