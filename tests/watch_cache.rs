//! The per-shard watch cache end to end: many watchers across shards while writers run on
//! every shard, resuming from every revision in the window, 410 outside it, the
//! initial-events bookmark, read-your-writes across connections, and a slow watcher cut off
//! while another keeps up. On the embedded store and on a real etcd.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::etcd::EtcdServer;
use support::rt;
use support::server::Kubeshard;

/// A client for long watches: like the harness's, without its 20 s request timeout.
fn watch_client(ks: &Kubeshard, http2: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&ks.ca_pem()).unwrap();
    let dir = ks.kubeconfig();
    let pki = dir.parent().unwrap().join("pki");
    let mut pem = std::fs::read(pki.join("admin.crt")).unwrap();
    pem.extend(std::fs::read(pki.join("admin.key")).unwrap());
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .connect_timeout(Duration::from_secs(10));
    if !http2 {
        b = b.http1_only();
    }
    b.build().unwrap()
}

fn cm_body(name: &str, payload: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": payload}})
}

async fn create(c: &reqwest::Client, ks: &Kubeshard, ns: &str, name: &str, payload: &str) -> i64 {
    let r = c
        .post(ks.url(&format!("/api/v1/namespaces/{ns}/configmaps")))
        .json(&cm_body(name, payload))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    rv_of(&r.json::<Value>().await.unwrap())
}

async fn replace(c: &reqwest::Client, ks: &Kubeshard, ns: &str, name: &str, payload: &str) -> i64 {
    let r = c
        .put(ks.url(&format!("/api/v1/namespaces/{ns}/configmaps/{name}")))
        .json(&cm_body(name, payload))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    rv_of(&r.json::<Value>().await.unwrap())
}

fn rv_of(obj: &Value) -> i64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Reads watch lines until `want` events, the stream ends, or `limit` passes.
async fn read_events(resp: reqwest::Response, want: usize, limit: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut body = resp.bytes_stream();
    let end = Instant::now() + limit;
    while out.len() < want {
        let left = end.saturating_duration_since(Instant::now());
        let Ok(Some(chunk)) = tokio::time::timeout(left, body.next()).await else {
            break;
        };
        let Ok(chunk) = chunk else { break };
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            out.push(serde_json::from_slice(&line).unwrap());
        }
    }
    out
}

async fn namespace(c: &reqwest::Client, ks: &Kubeshard, name: &str) {
    let r = c
        .post(ks.url("/api/v1/namespaces"))
        .json(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    support::namespace_defaults(ks, name).await;
}

async fn list_rv(c: &reqwest::Client, ks: &Kubeshard, ns: &str) -> i64 {
    let r = c
        .get(ks.url(&format!("/api/v1/namespaces/{ns}/configmaps")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    rv_of(&r.json::<Value>().await.unwrap())
}

/// 1,000 watchers over 10 connections (spread over the shards by the kernel) see every one
/// of 200 writes made by 4 writers on their own connections: once each, in revision order.
fn many_watchers_see_every_event(ks: &Kubeshard, watchers: usize) {
    rt().block_on(async {
        let admin = watch_client(ks, true);
        namespace(&admin, ks, "fan").await;
        let from = list_rv(&admin, ks, "fan").await;
        let clients: Vec<_> = (0..10).map(|_| watch_client(ks, true)).collect();
        let mut streams = Vec::new();
        for i in 0..watchers {
            let c = &clients[i % clients.len()];
            let r = c
                .get(ks.url(&format!(
                    "/api/v1/namespaces/fan/configmaps?watch=1&resourceVersion={from}&timeoutSeconds=120"
                )))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            streams.push(r);
        }
        let writers = (0..4).map(|w| {
            let c = watch_client(ks, w % 2 == 0);
            async move {
                let mut revs = Vec::new();
                for i in 0..25 {
                    let name = format!("w{w}-{i}");
                    revs.push(create(&c, ks, "fan", &name, "a").await);
                    revs.push(replace(&c, ks, "fan", &name, "b").await);
                }
                revs
            }
        });
        let written: BTreeSet<i64> = futures_util::future::join_all(writers)
            .await
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(written.len(), 200);
        let seen = futures_util::future::join_all(
            streams
                .into_iter()
                .map(|s| read_events(s, 200, Duration::from_secs(60))),
        )
        .await;
        for (i, events) in seen.iter().enumerate() {
            let revs: Vec<i64> = events.iter().map(|e| rv_of(&e["object"])).collect();
            assert!(
                revs.windows(2).all(|w| w[0] < w[1]),
                "watcher {i}: out of order or duplicated: {revs:?}"
            );
            assert_eq!(
                revs.iter().copied().collect::<BTreeSet<_>>(),
                written,
                "watcher {i} saw {} of 200 events",
                revs.len()
            );
        }
    });
}

#[test]
fn thousand_watchers_see_every_event_once_in_order_embedded() {
    let ks = Kubeshard::start(&[]);
    many_watchers_see_every_event(&ks, 1000);
}

#[test]
fn thousand_watchers_see_every_event_once_in_order_etcd() {
    let etcd = EtcdServer::start_new();
    let ks = Kubeshard::start(&[&format!("--etcd-servers={}", etcd.endpoint())]);
    many_watchers_see_every_event(&ks, 1000);
}

/// A watch from any revision in the window gets exactly the events after it.
fn resume_from_every_revision(ks: &Kubeshard) {
    rt().block_on(async {
        let c = watch_client(ks, true);
        namespace(&c, ks, "resume").await;
        let mut revs = vec![create(&c, ks, "resume", "r", "0").await];
        for i in 1..20 {
            revs.push(replace(&c, ks, "resume", "r", &i.to_string()).await);
        }
        for (i, rv) in revs.iter().enumerate() {
            let other = watch_client(ks, i % 2 == 0);
            let r = other
                .get(ks.url(&format!(
                    "/api/v1/namespaces/resume/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1"
                )))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let got: Vec<i64> = read_events(r, 100, Duration::from_secs(10))
                .await
                .iter()
                .map(|e| {
                    assert_eq!(e["type"], "MODIFIED");
                    rv_of(&e["object"])
                })
                .collect();
            assert_eq!(got, revs[i + 1..].to_vec(), "watch from {rv}");
        }
    });
}

#[test]
fn resume_from_every_revision_in_the_window() {
    let ks = Kubeshard::start(&[]);
    resume_from_every_revision(&ks);
    drop(ks);
    let etcd = EtcdServer::start_new();
    let ks = Kubeshard::start(&[&format!("--etcd-servers={}", etcd.endpoint())]);
    resume_from_every_revision(&ks);
}

/// The window starts where this process's replica started: a revision from before a restart
/// is 410 Expired, sent as an ERROR event inside a 200 stream, as upstream does.
#[test]
fn a_revision_before_the_window_is_expired() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut first = Kubeshard::start_in(&data, &[], None);
    let old = rt().block_on(async {
        let c = watch_client(&first, true);
        let rv = create(&c, &first, "default", "before", "x").await;
        create(&c, &first, "default", "before-2", "x").await;
        rv
    });
    first.signal(15);
    assert!(first.wait_exit(Duration::from_secs(30)).unwrap().success());
    let second = Kubeshard::start_in(&data, &[], None);
    rt().block_on(async {
        let c = watch_client(&second, true);
        let r = c
            .get(second.url(&format!(
                "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={old}"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let events = read_events(r, 2, Duration::from_secs(10)).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["type"], "ERROR");
        assert_eq!(events[0]["object"]["code"], 410);
        assert_eq!(events[0]["object"]["reason"], "Expired");
        let msg = events[0]["object"]["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!("too old resource version: {old} (")),
            "{msg}"
        );
    });
}

#[test]
fn initial_events_end_with_an_annotated_bookmark() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = watch_client(&ks, true);
        namespace(&c, &ks, "init").await;
        let mut last = 0;
        for n in ["a", "b", "c"] {
            last = create(&c, &ks, "init", n, "x").await;
        }
        let r = c
            .get(ks.url("/api/v1/namespaces/init/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=5"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let events = read_events(r, 5, Duration::from_secs(10)).await;
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["ADDED", "ADDED", "ADDED", "ADDED", "BOOKMARK"]);
        let names: Vec<&str> = events[..4]
            .iter()
            .map(|e| e["object"]["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "c", "kube-root-ca.crt"]);
        let bookmark = &events[4]["object"];
        assert_eq!(bookmark["kind"], "ConfigMap");
        assert_eq!(
            bookmark["metadata"]["annotations"]["k8s.io/initial-events-end"],
            "true"
        );
        assert!(rv_of(bookmark) >= last);

        // upstream's validation of the combination.
        let r = c
            .get(ks.url("/api/v1/namespaces/init/configmaps?watch=1&sendInitialEvents=true"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let s: Value = r.json().await.unwrap();
        assert_eq!(
            s["message"],
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
        );
    });
}

/// A write's response means every later read sees it, on any connection and any shard.
#[test]
fn read_your_writes_across_connections() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        for i in 0..40 {
            let writer = watch_client(&ks, i % 2 == 0);
            let rv = create(&writer, &ks, "default", &format!("ryw-{i}"), "x").await;
            let reader = watch_client(&ks, i % 3 == 0);
            let r = reader
                .get(ks.url(&format!("/api/v1/namespaces/default/configmaps/ryw-{i}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "read {i} after its write");
            assert_eq!(rv_of(&r.json::<Value>().await.unwrap()), rv);
            let listed = list_rv(&watch_client(&ks, true), &ks, "default").await;
            assert!(
                listed >= rv,
                "a consistent list at {listed} predates write {rv}"
            );
        }
    });
}

/// A watcher that stops reading is ended once it is too far behind (and counted); another
/// watcher of the same resource still gets every event.
#[test]
fn a_slow_watcher_is_cut_off_while_others_keep_up() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("tight.toml");
    std::fs::write(&profile, "[watch]\nmax_watcher_lag = 100\n").unwrap();
    let ks = Kubeshard::start(&[&format!("--tuning-profile={}", profile.display())]);
    rt().block_on(async {
        let c = watch_client(&ks, false);
        namespace(&c, &ks, "slow").await;
        let from = list_rv(&c, &ks, "slow").await;
        let url = ks.url(&format!(
            "/api/v1/namespaces/slow/configmaps?watch=1&resourceVersion={from}&timeoutSeconds=120"
        ));
        // HTTP/1.1, never read: the socket buffers fill and the server's writes stall.
        let slow = watch_client(&ks, false).get(&url).send().await.unwrap();
        let fast = watch_client(&ks, false).get(&url).send().await.unwrap();
        let payload = "x".repeat(32 * 1024);
        let writes = 600;
        let fast_reader = tokio::spawn(read_events(fast, writes, Duration::from_secs(90)));
        for i in 0..writes {
            create(&c, &ks, "slow", &format!("o{i}"), &payload).await;
        }
        let fast_events = fast_reader.await.unwrap();
        assert_eq!(
            fast_events.len(),
            writes,
            "the fast watcher got every event"
        );
        let metrics = c
            .get(ks.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("apiserver_terminated_watchers_total 1\n"),
            "{metrics}"
        );
        // What the slow watcher finally reads ends early: it was cut off.
        let slow_events = read_events(slow, writes, Duration::from_secs(30)).await;
        assert!(slow_events.len() < writes, "{}", slow_events.len());
    });
}
