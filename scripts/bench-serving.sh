#!/usr/bin/env bash
# Serving benchmark: GET /version over TLS, kubeshard vs nginx serving the same bytes with the
# same certificate (ECDSA P-256 from kubeshard's bootstrap PKI), the server pinned to the same
# CPU(s), the load generator pinned elsewhere. Prints each pair's requests/s and their ratio.
#
#   scripts/bench-serving.sh            # 1 server CPU (0), load on CPU 1, 10 s per run, 3 runs
#   SERVER_CPUS=0 LOAD_CPUS=1 DURATION=10 RUNS=3 scripts/bench-serving.sh
#
# Needs: nginx, wrk, h2load (Debian: nginx-light wrk nghttp2-client; installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/nginx-tls.sh

SERVER_CPUS=${SERVER_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-1}
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
H1_CONNS=${H1_CONNS:-64}
H2_CONNS=${H2_CONNS:-16}
H2_STREAMS=${H2_STREAMS:-32}

missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
command -v h2load >/dev/null || missing+=(nghttp2-client)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release --bin kubeshard >/dev/null
work=$(mktemp -d)
chmod 755 "$work"   # nginx workers (www-data) read the served file
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KS_PORT=$(free_port)
NG_PORT=$(free_port)

target/release/kubeshard --bind-address=127.0.0.1 --secure-port="$KS_PORT" --data-dir="$work/ks" \
  --cpus="$SERVER_CPUS" >"$work/ks.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "serving on" "$work/ks.log" && break; sleep 0.1; done
PKI="$work/ks/pki"
curl -sf --cacert "$PKI/ca.crt" "https://127.0.0.1:$KS_PORT/version" >"$work/version.json"

start_nginx_tls "$NGINX" "$work" "$NG_PORT" "$SERVER_CPUS" "$PKI" version "$work/version.json"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
wrk_rps() { taskset -c "$LOAD_CPUS" wrk -t1 -c"$H1_CONNS" -d"${DURATION}s" "https://127.0.0.1:$1/version" | awk '/Requests\/sec/ {print $2}'; }
h2_rps() { taskset -c "$LOAD_CPUS" h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D "$DURATION" "https://127.0.0.1:$1/version" 2>/dev/null | awk '/^finished in/ {print $4}'; }

echo "GET /version ($(wc -c <"$work/version.json") bytes) over TLS; server CPUs $SERVER_CPUS, load CPUs $LOAD_CPUS, ${DURATION}s x $RUNS runs (median)"
printf '%-28s %14s %14s %8s\n' "protocol" "kubeshard r/s" "nginx r/s" "ratio"
for proto in h1 h2; do
  ks=(); ng=()
  for _ in $(seq "$RUNS"); do
    if [ $proto = h1 ]; then ks+=("$(wrk_rps "$KS_PORT")"); ng+=("$(wrk_rps "$NG_PORT")");
    else ks+=("$(h2_rps "$KS_PORT")"); ng+=("$(h2_rps "$NG_PORT")"); fi
  done
  k=$(printf '%s\n' "${ks[@]}" | median); n=$(printf '%s\n' "${ng[@]}" | median)
  label=$([ $proto = h1 ] && echo "HTTP/1.1 wrk -c$H1_CONNS" || echo "HTTP/2 h2load -c$H2_CONNS -m$H2_STREAMS")
  printf '%-28s %14.0f %14.0f %7.2fx\n' "$label" "$k" "$n" "$(python3 -c "print($k/$n if $n else 0)")"
done
