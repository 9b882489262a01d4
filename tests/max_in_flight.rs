//! kube-apiserver's max-in-flight limits end to end (`--enable-priority-and-fairness=false`):
//! with `--max-mutating-requests-inflight=1`
//! a second concurrent write of an ordinary user is answered upstream's plain-text 429 with
//! `Retry-After: 1`, reads (their own limit) and `system:masters` are still served, and the
//! seat is free again once the first write is done.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::json;
use support::rt;
use support::server::Kubeshard;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn configmap(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
}

#[test]
fn a_write_over_the_limit_gets_429_until_a_seat_is_free() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "alice-token,alice,uid-alice\n").unwrap();
    let ks = Kubeshard::start(&[
        &format!("--token-auth-file={}", tokens.display()),
        "--max-mutating-requests-inflight=1",
        "--max-requests-inflight=1",
        "--enable-priority-and-fairness=false",
    ]);
    rt().block_on(async {
        let admin = ks.client(true, true);
        let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "alice-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]});
        let r = admin
            .post(ks.url("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"))
            .json(&binding)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        support::until_authorized(&ks, "alice-token", "/api/v1/namespaces/default/configmaps").await;
        let alice = ks.token_client(Some("alice-token"));
        let cms = ks.url("/api/v1/namespaces/default/configmaps");

        // Alice's first create holds the one mutating seat: its body is still arriving.
        let body = configmap("slow").to_string();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ks.port)).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut slow = support::tls::tls_connector(&ks).connect(name, tcp).await.unwrap();
        let head = format!(
            "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: localhost\r\n\
             Authorization: Bearer alice-token\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{}",
            body.len(),
            &body[..10]
        );
        slow.write_all(head.as_bytes()).await.unwrap();
        slow.flush().await.unwrap();
        // Until the server has read its headers, a second write may still find the seat free.
        let held = "apiserver_current_inflight_requests{request_kind=\"mutating\"} 1\n";
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while !admin.get(ks.url("/metrics")).send().await.unwrap().text().await.unwrap().contains(held) {
            assert!(std::time::Instant::now() < deadline, "the slow write never held the seat");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let refused = alice.post(&cms).json(&configmap("fast")).send().await.unwrap();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["retry-after"], "1");
        assert_eq!(refused.text().await.unwrap(), "Too many requests, please try again later.\n");

        // /metrics shows the seat in use (and the scrape's own read-only one).
        let metrics = admin.get(ks.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("apiserver_current_inflight_requests{request_kind=\"mutating\"} 1\n"), "{metrics}");
        assert!(metrics.contains("apiserver_current_inflight_requests{request_kind=\"readOnly\"} 1\n"), "{metrics}");
        // The refusal is counted as upstream's RecordDroppedRequest counts it.
        let series = "code=\"429\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"configmaps\",scope=\"resource\",subresource=\"\",verb=\"POST\",version=\"v1\"";
        assert!(metrics.contains(&format!("apiserver_request_total{{{series}}} 1\n")), "{metrics}");
        let terminated = "code=\"429\",component=\"apiserver\",group=\"\",resource=\"configmaps\",scope=\"resource\",subresource=\"\",verb=\"POST\",version=\"v1\"";
        assert!(metrics.contains(&format!("apiserver_request_terminations_total{{{terminated}}} 1\n")), "{metrics}");

        // Reads have their own limit; system:masters is always answered.
        let r = alice.get(&cms).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = admin.post(&cms).json(&configmap("by-admin")).send().await.unwrap();
        assert_eq!(r.status(), 201);

        // The first write completes; the seat is free again.
        slow.write_all(&body.as_bytes()[10..]).await.unwrap();
        let mut answer = vec![0u8; 64];
        let n = slow.read(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]).to_string();
        assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
        let r = alice.post(&cms).json(&configmap("after")).send().await.unwrap();
        assert_eq!(r.status(), 201);
    });
}
