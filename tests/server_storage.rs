//! The server on its storage backends: the `etcd` health check follows the backend, the server
//! recovers on its own when etcd comes back, and a data dir serves one process at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::etcd::EtcdServer;
use support::rt;
use support::server::Kubeshard;

/// Polls `/readyz?verbose` until `pred(status, body)` holds, at most `limit`.
async fn readyz_until(
    ks: &Kubeshard,
    limit: Duration,
    pred: impl Fn(StatusCode, &str) -> bool,
) -> String {
    let c = ks.client(true, true);
    let end = Instant::now() + limit;
    loop {
        let r = c.get(ks.url("/readyz?verbose")).send().await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        if pred(status, &body) {
            return body;
        }
        assert!(
            Instant::now() < end,
            "readyz never matched; last: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn etcd_health_check_follows_etcd_and_recovers() {
    let mut etcd = EtcdServer::start_new();
    let ks = Kubeshard::start(&[
        &format!("--etcd-servers={}", etcd.endpoint()),
        "--request-timeout=5s",
    ]);
    rt().block_on(async {
        let body = readyz_until(&ks, Duration::from_secs(10), |s, _| s == StatusCode::OK).await;
        assert!(body.contains("[+]etcd ok"), "{body}");
        etcd.stop();
        let body = readyz_until(&ks, Duration::from_secs(15), |s, _| {
            s == StatusCode::INTERNAL_SERVER_ERROR
        })
        .await;
        assert!(body.contains("[-]etcd failed: reason withheld"), "{body}");
        let healthz = ks
            .client(true, false)
            .get(ks.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(healthz.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let one = ks
            .client(true, false)
            .get(ks.url("/livez/etcd"))
            .send()
            .await
            .unwrap();
        assert_eq!(one.status(), StatusCode::INTERNAL_SERVER_ERROR);
        // API requests fail within --request-timeout with a 5xx Status, never hang.
        let t0 = Instant::now();
        let r = ks
            .client(true, true)
            .get(ks.url("/api/v1/namespaces/default/configmaps"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_server_error(), "{}", r.status());
        assert!(
            t0.elapsed() < Duration::from_secs(8),
            "took {:?}",
            t0.elapsed()
        );
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["kind"], "Status");
        assert!(s["code"].as_i64().unwrap() >= 500);
        etcd.start();
        let body = readyz_until(&ks, Duration::from_secs(30), |s, _| s == StatusCode::OK).await;
        assert!(body.contains("[+]etcd ok"), "{body}");
        let r = ks
            .client(true, true)
            .get(ks.url("/api/v1/namespaces/default/configmaps"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "recovered on its own");
    });
}

#[test]
fn an_unreachable_etcd_starts_unready() {
    let port = support::server::free_port();
    let ks = Kubeshard::start(&[
        &format!("--etcd-servers=http://127.0.0.1:{port}"),
        "--request-timeout=3s",
    ]);
    rt().block_on(async {
        let body = readyz_until(&ks, Duration::from_secs(10), |s, _| {
            s == StatusCode::INTERNAL_SERVER_ERROR
        })
        .await;
        assert!(body.contains("[-]etcd failed"), "{body}");
        assert!(body.ends_with("readyz check failed\n"), "{body}");
    });
}

#[test]
fn a_data_dir_serves_one_process_and_a_second_leaves_it_untouched() {
    let ks = Kubeshard::start(&[]);
    let kubeconfig_before = std::fs::read(ks.kubeconfig()).unwrap();
    let out = std::process::Command::new(support::server::binary())
        .args([
            &format!("--secure-port={}", support::server::free_port()),
            "--bind-address=127.0.0.1",
            &format!("--data-dir={}", ks.data_dir.display()),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LOCK"), "the error names the lock: {err}");
    assert_eq!(
        std::fs::read(ks.kubeconfig()).unwrap(),
        kubeconfig_before,
        "kubeconfig rewritten"
    );
    rt().block_on(async {
        let r = ks
            .client(true, true)
            .get(ks.url("/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    });
}
