#!/usr/bin/env bash
# Storage benchmark: creates/s with the same concurrency on the same disk, for
#   - the embedded store through the storage thread,
#   - the etcd backend through the storage thread,
#   - raw etcd puts (etcd-client, no kubeshard in the way): the baseline.
# Prints each line and the ratios against raw etcd.
#
#   scripts/bench-storage.sh                       # 64 in flight, 20000 creates each
#   CONCURRENCY=64 COUNT=20000 scripts/bench-storage.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CONCURRENCY=${CONCURRENCY:-64}
COUNT=${COUNT:-20000}
VALUE_BYTES=${VALUE_BYTES:-560}

command -v etcd >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null; }
cargo build --release --example storage_load >/dev/null 2>&1 || cargo build --release --example storage_load
bin=target/release/examples/storage_load

# Same disk for everyone: a scratch dir under the repo's target/.
work=$(mktemp -d -p "$PWD/target" bench-storage.XXXXXX)
etcd_pid=""
cleanup() { [ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(port); pport=$(port)
etcd --name bench --data-dir "$work/etcd" \
  --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
  --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
  --initial-cluster "bench=http://127.0.0.1:$pport" >"$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$cport/health" >/dev/null && break; sleep 0.1; done

common=(--concurrency "$CONCURRENCY" --count "$COUNT" --value-bytes "$VALUE_BYTES")
raw=$("$bin" --backend raw-etcd --endpoint "http://127.0.0.1:$cport" "${common[@]}")
etcdb=$("$bin" --backend etcd --endpoint "http://127.0.0.1:$cport" "${common[@]}")
emb=$("$bin" --backend embedded --dir "$work/embedded" "${common[@]}")
echo "$raw"; echo "$etcdb"; echo "$emb"
rate() { sed -E 's/.*rate=([0-9]+).*/\1/' <<<"$1"; }
python3 - "$(rate "$raw")" "$(rate "$etcdb")" "$(rate "$emb")" <<'PY'
import sys
raw, etcdb, emb = map(float, sys.argv[1:])
print(f"ratio embedded/raw-etcd     = {emb/raw:.2f}x   (design goal >= 3x)")
print(f"ratio etcd-backend/raw-etcd = {etcdb/raw:.2f}x   (design goal >= 0.9x)")
PY
