#!/usr/bin/env bash
# LIST memory and time: each build serves N ConfigMaps of about B bytes; C concurrent LISTs
# of all of them, R rounds. Prints the idle RSS, the peak RSS during the LISTs (VmHWM, reset
# just before), the peak's growth over idle, and the mean LIST time, per build.
#
#   scripts/bench-list.sh BINARY [BINARY...]
#   OBJECTS=10000 BYTES=1000 CONCURRENCY=10 ROUNDS=3 SERVER_CPUS=0 LOAD_CPUS=1 scripts/bench-list.sh A B
set -euo pipefail
cd "$(dirname "$0")/.."
OBJECTS=${OBJECTS:-10000}
BYTES=${BYTES:-1000}
CONCURRENCY=${CONCURRENCY:-10}
ROUNDS=${ROUNDS:-3}
SERVER_CPUS=${SERVER_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-1}
[ $# -ge 1 ] || { echo "usage: $0 BINARY [BINARY...]" >&2; exit 2; }
cargo build --release --example get_load >/dev/null
LOAD=target/release/examples/get_load
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

printf '%-44s %10s %10s %12s %14s\n' "build" "idle MiB" "peak MiB" "growth MiB" "LIST ms (mean)"
i=0
for bin in "$@"; do
  p=$(free_port); d="$work/ks$i"
  "$bin" --bind-address=127.0.0.1 --secure-port="$p" --data-dir="$d" --cpus="$SERVER_CPUS" >"$work/ks$i.log" 2>&1 &
  pid=$!; pids+=($pid)
  for _ in $(seq 100); do grep -q "serving on" "$work/ks$i.log" && break; sleep 0.1; done
  url="https://127.0.0.1:$p/api/v1/namespaces/default/configmaps"
  taskset -c "$LOAD_CPUS" "$LOAD" --url "$url" --pki "$d/pki" --concurrency 32 --create "$OBJECTS" --bytes "$BYTES" >/dev/null
  # One LIST first (builds any lazy state), then a quiet moment for the idle figure.
  taskset -c "$LOAD_CPUS" "$LOAD" --url "$url" --pki "$d/pki" --concurrency 1 --requests 1 >/dev/null
  sleep 2
  idle=$(kib "$pid" VmRSS)
  echo 5 > "/proc/$pid/clear_refs"
  out=$(taskset -c "$LOAD_CPUS" "$LOAD" --url "$url" --pki "$d/pki" --concurrency "$CONCURRENCY" \
    --requests $((CONCURRENCY * ROUNDS)))
  peak=$(kib "$pid" VmHWM)
  ms=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["latency_ms_mean"])')
  printf '%-44s %10.1f %10.1f %12.1f %14.1f\n' "$bin" "$(python3 -c "print($idle/1024)")" \
    "$(python3 -c "print($peak/1024)")" "$(python3 -c "print(($peak-$idle)/1024)")" "$ms"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  i=$((i+1))
done
