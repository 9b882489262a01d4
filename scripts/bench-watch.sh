#!/usr/bin/env bash
# Watch fan-out benchmark: a release kubeshard on the embedded store, N watches over C HTTP/2
# connections, M writes; prints delivery latency p50/p99, events delivered per second, and the
# server's RSS with the watches open. Client and server share this machine's cores.
#
#   scripts/bench-watch.sh                               # 10000 watchers, 20 conns, 200 writes
#   WATCHERS=1000 CONNECTIONS=10 WRITES=500 scripts/bench-watch.sh
#   IN_FLIGHT=1 INTERVAL_MS=100 WRITES=50 scripts/bench-watch.sh   # latency of one event to all
set -euo pipefail
cd "$(dirname "$0")/.."
WATCHERS=${WATCHERS:-10000}
CONNECTIONS=${CONNECTIONS:-20}
WRITES=${WRITES:-200}
IN_FLIGHT=${IN_FLIGHT:-4}      # concurrent writers
INTERVAL_MS=${INTERVAL_MS:-0}  # pause between a writer's writes (IN_FLIGHT=1 INTERVAL_MS=100: one event at a time)
cargo build --release --bin kubeshard --example watch_load >/dev/null 2>&1 || cargo build --release --bin kubeshard --example watch_load
work=$(mktemp -d -p "$PWD/target" bench-watch.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/kubeshard --bind-address=127.0.0.1 --secure-port="$port" --data-dir="$work/data" >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "serving on" "$work/log" && break; sleep 0.1; done
rss() { awk '/VmRSS/ {print $2/1024 " MiB"}' /proc/"$pid"/status; }
echo "server RSS idle: $(rss)"
target/release/examples/watch_load --url "https://127.0.0.1:$port" --pki "$work/data/pki" \
  --watchers "$WATCHERS" --connections "$CONNECTIONS" --writes "$WRITES" --in-flight "$IN_FLIGHT" --interval-ms "$INTERVAL_MS" | while IFS= read -r line; do
  if [ "$line" = "watchers-open" ]; then echo "server RSS with $WATCHERS watches open: $(rss)"; else echo "$line"; fi
done
echo "server RSS after: $(rss)"
