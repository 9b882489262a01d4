#!/usr/bin/env bash
# What authentication and RBAC cost on the resource path: GET one ConfigMap over TLS (h2load,
# HTTP/2, bearer tokens), in one run, as
#   - a token-file user in system:masters (authorization short-circuits: the baseline),
#   - a token-file user allowed by a RoleBinding (RBAC lookup, no JWT),
#   - a ServiceAccount token allowed by a RoleBinding (JWT + bound-object checks + RBAC),
# with BINDINGS other RoleBindings/ClusterRoleBindings in the cluster, and nginx serving the same
# bytes with the same certificate on the same CPUs. Prints req/s, the server's CPU time per
# request (utime+stime over the run / requests), and each row against the baseline and nginx.
#
#   scripts/bench-rbac.sh
#   SERVER_CPUS=0 LOAD_CPUS=1 DURATION=8 RUNS=3 BINDINGS=200 scripts/bench-rbac.sh
#
# Needs: nginx, h2load (Debian: nginx-light nghttp2-client; installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/nginx-tls.sh

SERVER_CPUS=${SERVER_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-1}
DURATION=${DURATION:-8}
RUNS=${RUNS:-3}
BINDINGS=${BINDINGS:-200}
H2_CONNS=${H2_CONNS:-16}
H2_STREAMS=${H2_STREAMS:-32}
KUBESHARD=${KUBESHARD:-target/release/kubeshard}

missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v h2load >/dev/null || missing+=(nghttp2-client)
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

[ "$KUBESHARD" != target/release/kubeshard ] || cargo build --release --bin kubeshard >/dev/null
work=$(mktemp -d)
chmod 755 "$work"   # nginx workers read the served file
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

ADMIN_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
READER_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
printf '%s,bench-admin,uid-admin,"system:masters"\n%s,bench-reader,uid-reader\n' \
  "$ADMIN_TOKEN" "$READER_TOKEN" >"$work/tokens.csv"

KS_PORT=$(free_port)
NG_PORT=$(free_port)
"$KUBESHARD" --bind-address=127.0.0.1 --secure-port="$KS_PORT" --data-dir="$work/ks" \
  --cpus="$SERVER_CPUS" --token-auth-file="$work/tokens.csv" >"$work/ks.log" 2>&1 &
KS_PID=$!
pids+=($KS_PID)
for _ in $(seq 100); do grep -q "serving on" "$work/ks.log" && break; sleep 0.1; done
PKI="$work/ks/pki"
BASE="https://127.0.0.1:$KS_PORT"
admin() { curl -sf --cacert "$PKI/ca.crt" -H "authorization: Bearer $ADMIN_TOKEN" -H 'content-type: application/json' "$@"; }

admin -X POST "$BASE/api/v1/namespaces" -d '{"metadata":{"name":"bench"}}' >/dev/null
admin -X POST "$BASE/api/v1/namespaces/bench/serviceaccounts" -d '{"metadata":{"name":"bot"}}' >/dev/null
admin -X POST "$BASE/apis/rbac.authorization.k8s.io/v1/namespaces/bench/roles" \
  -d '{"metadata":{"name":"cm-reader"},"rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get","list","watch"]}]}' >/dev/null
admin -X POST "$BASE/apis/rbac.authorization.k8s.io/v1/namespaces/bench/rolebindings" \
  -d '{"metadata":{"name":"readers"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"cm-reader"},"subjects":[{"kind":"ServiceAccount","name":"bot","namespace":"bench"},{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"bench-reader"}]}' >/dev/null
# The other bindings a real cluster has: to other users, groups and ServiceAccounts.
for i in $(seq "$BINDINGS"); do
  if [ $((i % 2)) = 0 ]; then
    admin -X POST "$BASE/apis/rbac.authorization.k8s.io/v1/namespaces/bench/rolebindings" \
      -d "{\"metadata\":{\"name\":\"other-$i\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"view\"},\"subjects\":[{\"kind\":\"User\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"user-$i\"},{\"kind\":\"ServiceAccount\",\"name\":\"sa-$i\",\"namespace\":\"bench\"}]}" >/dev/null
  else
    admin -X POST "$BASE/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" \
      -d "{\"metadata\":{\"name\":\"other-$i\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"edit\"},\"subjects\":[{\"kind\":\"Group\",\"apiGroup\":\"rbac.authorization.k8s.io\",\"name\":\"group-$i\"}]}" >/dev/null
  fi
done
admin -X POST "$BASE/api/v1/namespaces/bench/configmaps" \
  -d "{\"metadata\":{\"name\":\"bench\"},\"data\":{\"k\":\"$(printf 'v%.0s' $(seq 200))\"}}" >/dev/null
SA_TOKEN=$(admin -X POST "$BASE/api/v1/namespaces/bench/serviceaccounts/bot/token" \
  -d '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":86400}}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["token"])')
URL="$BASE/api/v1/namespaces/bench/configmaps/bench"
for t in "$ADMIN_TOKEN" "$READER_TOKEN" "$SA_TOKEN"; do
  for _ in $(seq 50); do
    curl -sf -o /dev/null --cacert "$PKI/ca.crt" -H "authorization: Bearer $t" "$URL" && break
    sleep 0.1
  done
  curl -sf -o /dev/null --cacert "$PKI/ca.crt" -H "authorization: Bearer $t" "$URL" \
    || { echo "a token cannot read the ConfigMap" >&2; exit 1; }
done
curl -sf --cacert "$PKI/ca.crt" -H "authorization: Bearer $SA_TOKEN" "$URL" >"$work/cm.json"

start_nginx_tls "$NGINX" "$work" "$NG_PORT" "$SERVER_CPUS" "$PKI" bench "$work/cm.json"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# One h2load run: prints "req/s requests".
h2() {
  local url=$1 token=$2 out
  out=$(taskset -c "$LOAD_CPUS" h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D "$DURATION" \
    ${token:+-H "authorization: Bearer $token"} "$url" 2>/dev/null)
  echo "$out" | grep -q '^status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx' \
    || { echo "non-2xx answers from $url:" >&2; echo "$out" | grep -E '^(requests|status codes)' >&2; }
  echo "$out" | awk '/^finished in/ {r=$4} /^requests:/ {n=$8} END {print r, n}'
}
# Nginx workers are children of the master: sum their CPU.
nginx_ticks() { local t=0; for p in $NG_PID $(pgrep -P "$NG_PID"); do t=$((t + $(cpu_ticks "$p"))); done; echo $t; }

declare -A rps cpu
rows=(masters reader serviceaccount nginx)
for run in $(seq "$RUNS"); do
  for row in "${rows[@]}"; do
    case $row in
      masters) url=$URL; tok=$ADMIN_TOKEN ;;
      reader) url=$URL; tok=$READER_TOKEN ;;
      serviceaccount) url=$URL; tok=$SA_TOKEN ;;
      nginx) url="https://127.0.0.1:$NG_PORT/bench"; tok="" ;;
    esac
    if [ "$row" = nginx ]; then before=$(nginx_ticks); else before=$(cpu_ticks "$KS_PID"); fi
    read -r r n < <(h2 "$url" "$tok")
    if [ "$row" = nginx ]; then after=$(nginx_ticks); else after=$(cpu_ticks "$KS_PID"); fi
    rps[$row]+="$r "
    cpu[$row]+="$(python3 -c "print(($after-$before)/$hz/max($n,1)*1e6)") "
  done
done

echo "GET one ConfigMap ($(wc -c <"$work/cm.json") bytes) over TLS, HTTP/2 h2load -c$H2_CONNS -m$H2_STREAMS, bearer tokens;"
echo "$BINDINGS other bindings; server CPUs $SERVER_CPUS, load CPUs $LOAD_CPUS; ${DURATION}s x $RUNS runs (median)"
printf '%-44s %10s %12s %10s %9s\n' "row" "req/s" "CPU us/req" "vs masters" "vs nginx"
m=$(printf '%s\n' ${rps[masters]} | median)
ng=$(printf '%s\n' ${rps[nginx]} | median)
for row in "${rows[@]}"; do
  r=$(printf '%s\n' ${rps[$row]} | median)
  c=$(printf '%s\n' ${cpu[$row]} | median)
  case $row in
    masters) label="token-file user in system:masters" ;;
    reader) label="token-file user, RBAC RoleBinding" ;;
    serviceaccount) label="ServiceAccount JWT, RBAC RoleBinding" ;;
    nginx) label="nginx, same bytes" ;;
  esac
  printf '%-44s %10.0f %12.1f %9.2fx %8.2fx\n' "$label" "$r" "$c" \
    "$(python3 -c "print($r/$m if $m else 0)")" "$(python3 -c "print($r/$ng if $ng else 0)")"
done
