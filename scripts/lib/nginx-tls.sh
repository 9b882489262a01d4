# Sourced by the bench scripts: nginx serving one file over TLS (HTTP/1.1 and HTTP/2) with
# kubeshard's bootstrap serving certificate, one worker per server CPU, pinned to them, so a
# bench can compare kubeshard with it on the same bytes and cores.
#
#   start_nginx_tls NGINX WORK PORT CPUS PKI NAME FILE
# serves FILE at https://127.0.0.1:PORT/NAME (config and temp files under WORK/nginx), waits
# until it answers, checks it serves FILE's bytes, sets NG_PID to the master's PID and adds
# it to the caller's `pids` (which its exit trap ends).
start_nginx_tls() {
  local nginx=$1 work=$2 port=$3 cpus=$4 pki=$5 name=$6 file=$7
  local workers mask
  workers=$(echo "$cpus" | tr ',' '\n' | wc -l)
  mask=$(python3 -c "print(format(sum(1<<int(c) for c in '$cpus'.split(',')), 'b'))")
  mkdir -p "$work/nginx/html"
  cp "$file" "$work/nginx/html/$name"
  cat >"$work/nginx/nginx.conf" <<CONF
worker_processes $workers;
worker_cpu_affinity auto $mask;
error_log $work/nginx/error.log warn;
pid $work/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:$port ssl http2 reuseport;
    ssl_certificate $pki/apiserver.crt;
    ssl_certificate_key $pki/apiserver.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /$name { root $work/nginx/html; default_type application/json; }
  }
}
CONF
  "$nginx" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
  NG_PID=$!
  pids+=("$NG_PID")
  local url="https://127.0.0.1:$port/$name"
  for _ in $(seq 50); do curl -sf -o /dev/null --cacert "$pki/ca.crt" "$url" && break; sleep 0.1; done
  curl -sf --cacert "$pki/ca.crt" "$url" >"$work/nginx.out" || true
  cmp -s "$work/nginx.out" "$file" \
    || { echo "nginx does not serve the same bytes" >&2; cat "$work/nginx/error.log" >&2; return 1; }
}
