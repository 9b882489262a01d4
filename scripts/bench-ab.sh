#!/usr/bin/env bash
# A/B of server builds on the resource path: GET one ConfigMap (MODE=get, the default) or
# create ConfigMaps (MODE=create, CREATES per run) over TLS with the admin client certificate
# (HTTP/2), each build pinned to the same CPU, the load generator on another, runs alternated
# between builds. Prints each build's median req/s and the server's CPU time per
# request (utime+stime of the server process over the run / requests), the measure that does
# not depend on whether the load generator is the limit. While one build is loaded the
# others are stopped (SIGSTOP), so an idle server cannot tax the one measured.
#
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY     # e.g. a release build of main vs this tree
#   SERVER_CPUS=0 LOAD_CPUS=1 SECONDS_PER_RUN=10 RUNS=3 CONCURRENCY=64 scripts/bench-ab.sh A B
#   HTTP1=1 scripts/bench-ab.sh A B                 # HTTP/1.1 connections instead of HTTP/2
#   AS_USER=1 scripts/bench-ab.sh A B               # as an ordinary user (a bearer token bound
#                                                   # to cluster-admin), not system:masters: the
#                                                   # path RBAC and Priority and Fairness limit
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER_CPUS=${SERVER_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-1}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
RUNS=${RUNS:-3}
CONCURRENCY=${CONCURRENCY:-64}
MODE=${MODE:-get}
HTTP1=${HTTP1:-0}
AS_USER=${AS_USER:-0}
proto=(); [ "$HTTP1" = 1 ] && proto=(--http1)
CREATES=${CREATES:-20000}
[ $# -ge 2 ] || { echo "usage: $0 BINARY_A BINARY_B [...]" >&2; exit 2; }
cargo build --release --example get_load >/dev/null
LOAD=target/release/examples/get_load
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

user_args=(); load_auth=()
if [ "$AS_USER" = 1 ]; then
  echo "bench-token,bench,uid-bench" >"$work/tokens.csv"
  user_args=(--token-auth-file="$work/tokens.csv"); load_auth=(--token bench-token)
fi
declare -A port pid
i=0
for bin in "$@"; do
  p=$(free_port); d="$work/ks$i"
  "$bin" --bind-address=127.0.0.1 --secure-port="$p" --data-dir="$d" --cpus="$SERVER_CPUS" "${user_args[@]}" >"$work/ks$i.log" 2>&1 &
  pid[$i]=$!; pids+=($!); port[$i]=$p
  for _ in $(seq 100); do grep -q "serving on" "$work/ks$i.log" && break; sleep 0.1; done
  curl -sf --cacert "$d/pki/ca.crt" --cert "$d/pki/admin.crt" --key "$d/pki/admin.key" \
    -H 'content-type: application/json' -X POST \
    --data '{"metadata":{"name":"bench"},"data":{"k":"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"}}' \
    "https://127.0.0.1:$p/api/v1/namespaces/default/configmaps" >/dev/null
  if [ "$AS_USER" = 1 ]; then
    curl -sf --cacert "$d/pki/ca.crt" --cert "$d/pki/admin.crt" --key "$d/pki/admin.key" \
      -H 'content-type: application/json' -X POST \
      --data '{"metadata":{"name":"bench"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"bench"}]}' \
      "https://127.0.0.1:$p/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" >/dev/null
  fi
  i=$((i+1))
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A rps cpu errs
for run in $(seq "$RUNS"); do
  for j in $(seq 0 $((i-1))); do
    d="$work/ks$j"
    # The other servers are stopped (SIGSTOP) while this one is loaded: an idle server
    # pinned to the same CPU still wakes (timers, pollers) and would tax whichever runs.
    for k in $(seq 0 $((i-1))); do [ "$k" = "$j" ] || kill -STOP "${pid[$k]}"; done
    sleep 0.2
    before=$(cpu_ticks "${pid[$j]}")
    base="https://127.0.0.1:${port[$j]}/api/v1/namespaces/default/configmaps"
    if [ "$MODE" = create ]; then
      out=$(taskset -c "$LOAD_CPUS" "$LOAD" --url "$base" --pki "$d/pki" --concurrency "$CONCURRENCY" \
        --create "$CREATES" --bytes 500 --name-prefix "run$run" "${proto[@]}" "${load_auth[@]}")
    else
      out=$(taskset -c "$LOAD_CPUS" "$LOAD" --url "$base/bench" --pki "$d/pki" \
        --concurrency "$CONCURRENCY" --seconds "$SECONDS_PER_RUN" "${proto[@]}" "${load_auth[@]}")
    fi
    after=$(cpu_ticks "${pid[$j]}")
    for k in $(seq 0 $((i-1))); do [ "$k" = "$j" ] || kill -CONT "${pid[$k]}"; done
    n=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
    rps[$j]+="$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rps"])') "
    errs[$j]+="$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["errors"])') "
    cpu[$j]+="$(python3 -c "print(($after-$before)/$hz*1e6/max($n,1))") "
  done
done
echo "MODE=$MODE, HTTP1=$HTTP1, AS_USER=$AS_USER, server CPUs $SERVER_CPUS, load CPUs $LOAD_CPUS, concurrency $CONCURRENCY, $RUNS runs (median)"
printf '%-60s %10s %16s %8s\n' "build" "req/s" "server us/req" "errors"
for j in $(seq 0 $((i-1))); do
  bin=$(eval echo "\${$((j+1))}")
  printf '%-60s %10.0f %16.1f %8s\n' "$bin" "$(echo ${rps[$j]} | tr ' ' '\n' | median)" "$(echo ${cpu[$j]} | tr ' ' '\n' | median)" "$(python3 -c "print(sum(int(x) for x in '${errs[$j]}'.split()))")"
done
