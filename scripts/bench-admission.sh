#!/usr/bin/env bash
# What admission webhooks cost on the create path, in one run on one server (release build):
# ConfigMap creates (about 500 bytes, HTTP/2, admin certificate) with no webhook configured,
# into a namespace no webhook matches once one is configured, and into a namespace one
# validating webhook on loopback matches (examples/admission_webhook.rs: HTTPS, answers at
# once); runs alternate between the last two; then into a namespace ten
# ValidatingAdmissionPolicies are bound to (one CEL validation each). Then the p99 of unrelated GETs while matched
# creates wait on a webhook that sleeps past its full timeoutSeconds, against the p99 of the
# same GETs without. Prints req/s and the server's CPU time per request (utime+stime / requests).
#
#   scripts/bench-admission.sh
#   SERVER_CPUS=0 LOAD_CPUS=1 CREATES=5000 RUNS=3 CONCURRENCY=32 SECONDS_PER_RUN=6 scripts/bench-admission.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER_CPUS=${SERVER_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-1}
CREATES=${CREATES:-5000}
RUNS=${RUNS:-3}
CONCURRENCY=${CONCURRENCY:-32}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-6}
cargo build --release --bin kubeshard --example get_load --example admission_webhook >/dev/null
BIN=target/release/kubeshard
LOAD=target/release/examples/get_load
HOOK=target/release/examples/admission_webhook
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

port=$(free_port); d="$work/data"
taskset -c "$SERVER_CPUS" "$BIN" --bind-address=127.0.0.1 --secure-port="$port" --data-dir="$d" \
  --cpus="$SERVER_CPUS" >"$work/ks.log" 2>&1 &
ks=$!; pids+=($ks)
for _ in $(seq 150); do grep -q "serving on" "$work/ks.log" && break; sleep 0.1; done
grep -q "serving on" "$work/ks.log" || { cat "$work/ks.log"; exit 1; }
taskset -c "$LOAD_CPUS" "$HOOK" --ca-out "$work/hook-ca.pem" --slow-ms 12000 >"$work/hook.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q "listening on" "$work/hook.log" && break; sleep 0.1; done
hook_port=$(awk '/listening on/ {print $3}' "$work/hook.log")
ca_bundle=$(base64 -w0 "$work/hook-ca.pem")
api() {
  curl -sf --cacert "$d/pki/ca.crt" --cert "$d/pki/admin.crt" --key "$d/pki/admin.key" \
    -H 'content-type: application/json' -X "$1" --data "$3" "https://127.0.0.1:$port$2" >/dev/null
}
for ns in none plain hooked slow policies; do
  api POST /api/v1/namespaces "{\"metadata\":{\"name\":\"$ns\",\"labels\":{\"bench\":\"$ns\"}}}"
done
api POST /api/v1/namespaces/plain/configmaps '{"metadata":{"name":"bench"},"data":{"k":"v"}}'

# One create run into namespace $1: "rps us_per_request errors".
creates() {
  local before after out n
  before=$(cpu_ticks "$ks")
  out=$(taskset -c "$LOAD_CPUS" "$LOAD" --url "https://127.0.0.1:$port/api/v1/namespaces/$1/configmaps" \
    --pki "$d/pki" --concurrency "$CONCURRENCY" --create "$CREATES" --bytes 500 --name-prefix "$1-$2")
  after=$(cpu_ticks "$ks")
  n=$(echo "$out" | field requests)
  echo "$(echo "$out" | field rps) $(python3 -c "print(($after-$before)/$hz*1e6/max($n,1))") $(echo "$out" | field errors)"
}
# One GET run: "rps p99_ms errors".
gets() {
  local out
  out=$(taskset -c "$LOAD_CPUS" "$LOAD" --url "https://127.0.0.1:$port/api/v1/namespaces/plain/configmaps/bench" \
    --pki "$d/pki" --concurrency "$CONCURRENCY" --seconds "$SECONDS_PER_RUN")
  echo "$(echo "$out" | field rps) $(echo "$out" | field latency_ms_p99) $(echo "$out" | field errors)"
}

declare -A rps cpu errs
for run in $(seq "$RUNS"); do
  read -r r c e < <(creates none "r$run"); rps[none]+="$r "; cpu[none]+="$c "; errs[none]+="$e "
done
webhook() { # name, path, namespace label, extra JSON fields
  echo "{\"name\":\"$1\",\"clientConfig\":{\"url\":\"https://127.0.0.1:$hook_port$2\",\"caBundle\":\"$ca_bundle\"},\"rules\":[{\"operations\":[\"CREATE\"],\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"resources\":[\"configmaps\"]}],\"namespaceSelector\":{\"matchLabels\":{\"bench\":\"$3\"}},\"sideEffects\":\"None\",\"admissionReviewVersions\":[\"v1\"]$4}"
}
api POST /apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations \
  "{\"metadata\":{\"name\":\"bench\"},\"webhooks\":[$(webhook fast.bench.kubeshard /fast hooked ''),$(webhook slow.bench.kubeshard /slow slow ',"timeoutSeconds":10,"failurePolicy":"Ignore"')]}"
sleep 1
for run in $(seq "$RUNS"); do
  for ns in plain hooked; do
    read -r r c e < <(creates "$ns" "r$run"); rps[$ns]+="$r "; cpu[$ns]+="$c "; errs[$ns]+="$e "
  done
done

# Ten policies, each bound (Deny) to the `policies` namespace.
for i in $(seq 10); do
  api POST /apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies \
    "{\"metadata\":{\"name\":\"bench-$i\"},\"spec\":{\"matchConstraints\":{\"resourceRules\":[{\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"operations\":[\"CREATE\"],\"resources\":[\"configmaps\"]}]},\"validations\":[{\"expression\":\"object.data.k.size() < 100000 + $i\"}]}}"
  api POST /apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings \
    "{\"metadata\":{\"name\":\"bench-$i\"},\"spec\":{\"policyName\":\"bench-$i\",\"validationActions\":[\"Deny\"],\"matchResources\":{\"namespaceSelector\":{\"matchLabels\":{\"bench\":\"policies\"}}}}}"
done
sleep 1
for run in $(seq "$RUNS"); do
  for ns in plain policies; do
    read -r r c e < <(creates "$ns" "p$run"); rps[$ns]+="$r "; cpu[$ns]+="$c "; errs[$ns]+="$e "
  done
done

# GETs alone, then GETs while 8 matched creates wait the slow webhook's full 10 s timeout.
read -r g_rps g_p99 g_err < <(gets)
for i in $(seq 8); do
  curl -s -o /dev/null --cacert "$d/pki/ca.crt" --cert "$d/pki/admin.crt" --key "$d/pki/admin.key" \
    -H 'content-type: application/json' -X POST --data "{\"metadata\":{\"name\":\"slow-$i\"}}" \
    "https://127.0.0.1:$port/api/v1/namespaces/slow/configmaps" &
  pids+=($!)
done
sleep 0.5
read -r s_rps s_p99 s_err < <(gets)

echo "server CPUs $SERVER_CPUS, load and webhook CPUs $LOAD_CPUS, concurrency $CONCURRENCY, $CREATES creates per run, $RUNS runs (median)"
printf '%-52s %10s %16s %8s\n' "ConfigMap creates" "req/s" "server us/req" "errors"
for k in none plain hooked policies; do
  case $k in
    none) label="no webhook or policy configured" ;;
    plain) label="configured, none matching" ;;
    hooked) label="one validating webhook matching" ;;
    policies) label="ten ValidatingAdmissionPolicies bound" ;;
  esac
  printf '%-52s %10.0f %16.1f %8s\n' "$label" "$(echo ${rps[$k]} | tr ' ' '\n' | median)" \
    "$(echo ${cpu[$k]} | tr ' ' '\n' | median)" "$(python3 -c "print(sum(int(x) for x in '${errs[$k]}'.split()))")"
done
printf '%-52s %10s %16s %8s\n' "GET of another object" "req/s" "p99 ms" "errors"
printf '%-52s %10.0f %16.2f %8s\n' "alone" "$g_rps" "$g_p99" "$g_err"
printf '%-52s %10.0f %16.2f %8s\n' "while 8 creates wait a 10 s webhook timeout" "$s_rps" "$s_p99" "$s_err"
