//! The kubelet-backed subresources and the proxies, end to end: `kubectl logs` and `kubectl
//! exec` (WebSocket, v5.channel.k8s.io) reach a kubelet-like HTTPS server through kubeshard,
//! which presents `--kubelet-client-certificate` and verifies the kubelet with
//! `--kubelet-certificate-authority`; `nodes/proxy` reaches the kubelet's own paths; and
//! upstream's errors when a request cannot be placed (no host, no container, an address not
//! allowed, no endpoints, nothing listening, no upgrade).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{json, Value};
use support::etcd::EtcdTls;
use support::rt;
use support::server::Kubeshard;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// One request the fake kubelet saw: its request line and headers (names lower-cased).
#[derive(Clone, Debug)]
struct Seen {
    target: String,
    headers: HashMap<String, String>,
}

/// A kubelet-like HTTPS server on loopback: it wants a client certificate from the test CA,
/// serves `/containerLogs/...` (echoing the query), `/healthz`, `/` and WebSocket
/// `/exec/...` (stdout "ran: <command>", then a Success status on the error channel).
struct FakeKubelet {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    tls: EtcdTls,
    _dir: tempfile::TempDir,
}

fn query_values(query: &str, key: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| {
            let v = v.replace('+', " ");
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' && i + 2 < b.len() {
                    if let Ok(n) = u8::from_str_radix(&v[i + 1..i + 3], 16) {
                        out.push(n);
                        i += 3;
                        continue;
                    }
                }
                out.push(b[i]);
                i += 1;
            }
            String::from_utf8_lossy(&out).into_owned()
        })
        .collect()
}

/// One unmasked WebSocket binary frame (server to client).
fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    if payload.len() < 126 {
        f.push(payload.len() as u8);
    } else {
        f.push(126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut conn: S, seen: Arc<Mutex<Vec<Seen>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = conn.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let target = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    seen.lock().unwrap().push(Seen {
        target: target.clone(),
        headers: headers.clone(),
    });
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let plain = |code: &str, body: String| {
        format!(
            "HTTP/1.1 {code}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let resp = if let Some(rest) = path.strip_prefix("/containerLogs/") {
        let container = rest.rsplit('/').next().unwrap_or_default();
        plain(
            "200 OK",
            format!("log line 1 of {container}\nquery={query}\n"),
        )
    } else if path == "/healthz" {
        plain("200 OK", "ok".into())
    } else if path == "/" {
        plain("200 OK", "kubelet root".into())
    } else if path.starts_with("/exec/")
        && headers
            .get("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
    {
        let key = headers
            .get("sec-websocket-key")
            .cloned()
            .unwrap_or_default();
        let offered = headers
            .get("sec-websocket-protocol")
            .cloned()
            .unwrap_or_default();
        let protocol = ["v5.channel.k8s.io", "v4.channel.k8s.io"]
            .into_iter()
            .find(|p| offered.split(',').any(|o| o.trim() == *p));
        let Some(protocol) = protocol else {
            let _ = conn
                .write_all(plain("400 Bad Request", "no protocol".into()).as_bytes())
                .await;
            return;
        };
        let digest = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes(),
        );
        let accept = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
        let switch = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: {accept}\r\nsec-websocket-protocol: {protocol}\r\n\r\n"
        );
        let command = query_values(query, "command").join(" ");
        let mut out = switch.into_bytes();
        let mut stdout = vec![1u8];
        stdout.extend_from_slice(format!("ran: {command}\n").as_bytes());
        out.extend(ws_frame(0x2, &stdout));
        let mut status = vec![3u8];
        status.extend_from_slice(br#"{"metadata":{},"status":"Success"}"#);
        out.extend(ws_frame(0x2, &status));
        out.extend(ws_frame(0x8, &1000u16.to_be_bytes()));
        if conn.write_all(&out).await.is_err() {
            return;
        }
        let _ = conn.flush().await;
        // Wait (bounded) for the client's close, then end the connection.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while let Ok(n) = conn.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        let _ = conn.shutdown().await;
        return;
    } else {
        plain("404 Not Found", "404 page not found".into())
    };
    let _ = conn.write_all(resp.as_bytes()).await;
    let _ = conn.shutdown().await;
}

impl FakeKubelet {
    fn start() -> Self {
        use rustls::pki_types::pem::PemObject;
        let dir = tempfile::tempdir().unwrap();
        let tls = EtcdTls::generate(&dir.path().join("tls"));
        let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_file_iter(&tls.server_cert_file)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&tls.server_key_file).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::CertificateDer::pem_file_iter(&tls.ca_file).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let clients = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::clone(&provider),
        )
        .build()
        .unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(clients)
            .with_single_cert(certs, key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen_in = Arc::clone(&seen);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let (acceptor, seen) = (acceptor.clone(), Arc::clone(&seen_in));
                    tokio::spawn(async move {
                        if let Ok(conn) = acceptor.accept(tcp).await {
                            answer(conn, seen).await;
                        }
                    });
                }
            });
        });
        FakeKubelet {
            port,
            seen,
            tls,
            _dir: dir,
        }
    }

    fn last(&self, prefix: &str) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|s| s.target.starts_with(prefix))
            .cloned()
            .unwrap_or_else(|| panic!("the kubelet saw no request for {prefix}"))
    }
}

async fn send(
    ks: &Kubeshard,
    c: &reqwest::Client,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let mut req = c.request(method.parse().unwrap(), ks.url(path));
    if let Some(b) = body {
        let ct = if method == "PATCH" {
            "application/merge-patch+json"
        } else {
            "application/json"
        };
        req = req.header("content-type", ct).body(b.to_string());
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::String(text.to_string()))
}

async fn node(ks: &Kubeshard, c: &reqwest::Client, name: &str, port: u16) {
    let (code, body) = send(
        ks,
        c,
        "POST",
        "/api/v1/nodes",
        Some(json!({"metadata": {"name": name}})),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    let status = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
    }});
    let (code, body) = send(
        ks,
        c,
        "PATCH",
        &format!("/api/v1/nodes/{name}/status"),
        Some(status),
    )
    .await;
    assert_eq!(code, 200, "{body}");
}

async fn pod(
    ks: &Kubeshard,
    c: &reqwest::Client,
    name: &str,
    node: Option<&str>,
    containers: &[&str],
) {
    let containers: Vec<Value> = containers
        .iter()
        .map(|n| json!({"name": n, "image": "busybox"}))
        .collect();
    let mut spec = json!({"containers": containers});
    if let Some(n) = node {
        spec["nodeName"] = json!(n);
    }
    let (code, body) = send(
        ks,
        c,
        "POST",
        "/api/v1/namespaces/apps/pods",
        Some(json!({"metadata": {"name": name}, "spec": spec})),
    )
    .await;
    assert_eq!(code, 201, "{body}");
}

fn kubectl(ks: &Kubeshard, args: &[&str]) -> (bool, String, String) {
    support::kubectl_bin("/usr/bin/kubectl", ks, args)
}

#[test]
fn logs_exec_and_node_proxy_reach_the_kubelet() {
    let kubelet = FakeKubelet::start();
    let ca = format!(
        "--kubelet-certificate-authority={}",
        kubelet.tls.ca_file.display()
    );
    let cert = format!(
        "--kubelet-client-certificate={}",
        kubelet.tls.client_cert_file.display()
    );
    let key = format!(
        "--kubelet-client-key={}",
        kubelet.tls.client_key_file.display()
    );
    // Loopback addresses only: InternalIP first, so the certificate's 127.0.0.1 SAN matches.
    let ks = Kubeshard::start(&[
        &ca,
        &cert,
        &key,
        "--kubelet-preferred-address-types=InternalIP,Hostname",
    ]);
    rt().block_on(async {
        let c = ks.client(true, false);
        let (code, body) = send(&ks, &c, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "apps"}}))).await;
        assert_eq!(code, 201, "{body}");
        support::namespace_defaults(&ks, "apps").await;
        node(&ks, &c, "n1", kubelet.port).await;
        pod(&ks, &c, "web", Some("n1"), &["app"]).await;

        // kubectl logs: the kubelet's container log, the options forwarded as its query.
        let (ok, out, err) = kubectl(&ks, &["-n", "apps", "logs", "web", "--tail=3", "--timestamps"]);
        assert!(ok, "{err}");
        assert_eq!(out, "log line 1 of app\nquery=tailLines=3&timestamps=true\n");
        let seen = kubelet.last("/containerLogs/apps/web/app");
        assert!(!seen.headers.contains_key("authorization"), "credentials leaked: {seen:?}");

        // kubectl exec over WebSocket, spliced through kubeshard to the kubelet.
        let (ok, out, err) = kubectl(&ks, &["-n", "apps", "exec", "web", "--", "echo", "hello world"]);
        assert!(ok, "{err}");
        assert_eq!(out, "ran: echo hello world\n");
        let seen = kubelet.last("/exec/apps/web/app");
        assert_eq!(seen.target, "/exec/apps/web/app?command=echo&command=hello+world&stderr=1&stdout=1");
        assert_eq!(seen.headers.get("upgrade").map(String::as_str), Some("websocket"));

        // nodes/proxy: the kubelet's own paths; the bare path is redirected to `proxy/`.
        let (code, body) = send(&ks, &c, "GET", "/api/v1/nodes/n1/proxy/healthz", None).await;
        assert_eq!((code, body.as_str()), (200, "ok"));
        let r = ks
            .no_redirect_client().get(ks.url("/api/v1/nodes/n1/proxy")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 301);
        assert_eq!(r.headers()["location"], "/api/v1/nodes/n1/proxy/");
        let (code, body) = send(&ks, &c, "GET", "/api/v1/nodes/n1/proxy/", None).await;
        assert_eq!((code, body.as_str()), (200, "kubelet root"));

        // An exec that does not upgrade.
        let (code, body) = send(&ks, &c, "POST", "/api/v1/namespaces/apps/pods/web/exec?command=ls&stdout=true", None).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(json_of(&body)["message"], "Upgrade request required");

        // A pod not yet scheduled: an empty log, and no exec.
        pod(&ks, &c, "pending", None, &["app"]).await;
        let (code, body) = send(&ks, &c, "GET", "/api/v1/namespaces/apps/pods/pending/log", None).await;
        assert_eq!((code, body.as_str()), (200, ""));
        let (code, body) = send(&ks, &c, "GET", "/api/v1/namespaces/apps/pods/pending/exec?command=ls&stdout=1", None).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(json_of(&body)["message"], "pod pending does not have a host assigned");

        // Which container: upstream's messages.
        pod(&ks, &c, "two", Some("n1"), &["a", "b"]).await;
        let (code, body) = send(&ks, &c, "GET", "/api/v1/namespaces/apps/pods/two/log", None).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(json_of(&body)["message"], "a container name must be specified for pod two, choose one of: [a b]");
        let (code, body) = send(&ks, &c, "GET", "/api/v1/namespaces/apps/pods/two/log?container=zz", None).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(json_of(&body)["message"], "container zz is not valid for pod two");
        let (code, body) = send(&ks, &c, "GET", "/api/v1/namespaces/apps/pods/two/log?container=b&tailLines=-1", None).await;
        assert_eq!(code, 422, "{body}");
        assert_eq!(json_of(&body)["details"]["kind"], "PodLogOptions");
        let (code, body) = send(&ks, &c, "GET", "/api/v1/namespaces/apps/pods/two/log?container=b&sinceSeconds=5", None).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body, "log line 1 of b\nquery=sinceSeconds=5\n");
        let (code, body) = send(&ks, &c, "GET", "/api/v1/namespaces/apps/pods/nope/log", None).await;
        assert_eq!(code, 404, "{body}");

        // A pod without a routable IP, a Service without endpoints.
        let (code, body) = send(&ks, &c, "GET", "/api/v1/namespaces/apps/pods/web/proxy/", None).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(json_of(&body)["message"], "address not allowed");
        let (code, body) = send(&ks, &c, "GET", "/api/v1/namespaces/apps/pods/ftp:web:21/proxy/", None).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(json_of(&body)["message"], "invalid pod request \"ftp:web:21\"");
        let svc = json!({"metadata": {"name": "site"}, "spec": {"ports": [{"port": 80}]}});
        let (code, body) = send(&ks, &c, "POST", "/api/v1/namespaces/apps/services", Some(svc)).await;
        assert_eq!(code, 201, "{body}");
        let (code, body) = send(&ks, &c, "GET", "/api/v1/namespaces/apps/services/site/proxy/", None).await;
        assert_eq!(code, 503, "{body}");
        assert_eq!(json_of(&body)["message"], "no endpoints available for service \"site\"");

        // A node whose kubelet is not listening: Go's dial error, as upstream passes it on.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        node(&ks, &c, "n2", dead).await;
        pod(&ks, &c, "stranded", Some("n2"), &["app"]).await;
        let (code, body) = send(&ks, &c, "GET", "/api/v1/namespaces/apps/pods/stranded/log", None).await;
        assert_eq!(code, 500, "{body}");
        let status = json_of(&body);
        assert_eq!(
            status["message"],
            format!("Get \"https://127.0.0.1:{dead}/containerLogs/apps/stranded/app\": dial tcp 127.0.0.1:{dead}: connect: connection refused")
        );
        assert!(status.get("reason").is_none(), "{status}");
        let (ok, _, err) = kubectl(&ks, &["-n", "apps", "exec", "stranded", "--", "ls"]);
        assert!(!ok);
        assert!(err.contains(&format!("dial tcp 127.0.0.1:{dead}: connect: connection refused")), "{err}");
    });
}
