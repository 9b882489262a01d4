//! Bounded memory under abuse: idle TLS connections, slowloris headers and bodies, many
//! concurrent LISTs of a big collection, and a watch storm. Throughout, health checks and small
//! GETs keep answering, and the server's RSS stays within a bound. Prints the RSS after each.
//!
//! `KUBESHARD_ABUSE_FULL=1` runs the sizes of the issue (10,000 idle connections, 100 LISTs of
//! 10,000 objects, 50,000 watchers; `scripts/abuse.sh`); the default is a tenth of that.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::server::Kubeshard;
use support::tls::{read_until_closed, tls_connector, tls_connector_admin};
use support::watch::WatchEvents;
use tokio::io::AsyncWriteExt;

struct Sizes {
    idle_connections: usize,
    objects: usize,
    lists: usize,
    watchers: usize,
}

fn sizes() -> Sizes {
    if std::env::var("KUBESHARD_ABUSE_FULL").is_ok_and(|v| v == "1") {
        Sizes {
            idle_connections: 10_000,
            objects: 10_000,
            lists: 100,
            watchers: 50_000,
        }
    } else {
        Sizes {
            idle_connections: 1_000,
            objects: 1_000,
            lists: 10,
            watchers: 5_000,
        }
    }
}

/// Health and a small GET answer, each within `limit`.
async fn still_serving(ks: &Kubeshard, c: &reqwest::Client, limit: Duration) -> Duration {
    let t0 = Instant::now();
    for path in ["/readyz", "/api/v1/namespaces/default/configmaps/small"] {
        let r = tokio::time::timeout(limit, c.get(ks.url(path)).send())
            .await
            .unwrap_or_else(|_| panic!("{path} took over {limit:?}"))
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
    }
    t0.elapsed()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[test]
fn the_server_keeps_serving_within_bounded_memory_under_abuse() {
    let sz = sizes();
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("tuning.toml");
    // A short header timeout so the slowloris part ends quickly (upstream's is 32 s).
    std::fs::write(&profile, "[http]\nheader_read_timeout = \"3s\"\n").unwrap();
    let ks = Kubeshard::start(&[
        &format!("--tuning-profile={}", profile.display()),
        "--request-timeout=6s",
    ]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut report = Vec::new();
    runtime.block_on(async {
        let c = ks.client(true, true);
        let r = c
            .post(ks.url("/api/v1/namespaces/default/configmaps"))
            .json(&json!({"metadata": {"name": "small"}, "data": {"k": "v"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let idle_rss = ks.rss_kib();
        report.push(format!("idle {:.1} MiB", mib(idle_rss)));

        // 1. Idle TLS connections: handshaken, then silent.
        let connector = tls_connector(&ks);
        let mut idle = Vec::new();
        for _ in 0..sz.idle_connections {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ks.port)).await.unwrap();
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            match connector.connect(name, tcp).await {
                Ok(s) => idle.push(s),
                Err(e) => panic!("handshake {} failed: {e}", idle.len()),
            }
        }
        let took = still_serving(&ks, &c, Duration::from_secs(5)).await;
        let rss = ks.rss_kib();
        report.push(format!(
            "{} idle TLS connections: {:.1} MiB (+{:.1} KiB each), health and GET in {took:?}",
            idle.len(),
            mib(rss),
            (rss.saturating_sub(idle_rss)) as f64 / idle.len() as f64
        ));
        drop(idle);

        // 2. Slowloris: headers one byte a second, and a body that never comes. The header
        //    timeout closes the first; the request timeout answers the second.
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ks.port)).await.unwrap();
        let mut slow = connector.connect(name.clone(), tcp).await.unwrap();
        slow.write_all(b"GET /version HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let t0 = Instant::now();
        let dripping = async {
            for b in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
                if slow.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), dripping).await.ok();
        let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
        assert!(closed, "a slowloris header was cut off");
        let header_cut = t0.elapsed();
        still_serving(&ks, &c, Duration::from_secs(5)).await;

        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ks.port)).await.unwrap();
        let mut slow = tls_connector_admin(&ks).connect(name, tcp).await.unwrap();
        // An authorized create whose body stops after one byte: --request-timeout ends it.
        slow.write_all(b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{").await.unwrap();
        let t0 = Instant::now();
        let (answer, closed) = read_until_closed(&mut slow, Duration::from_secs(15)).await;
        let body_cut = t0.elapsed();
        assert!(closed || !answer.is_empty(), "a body that never comes is answered or cut off");
        let answer = String::from_utf8_lossy(&answer);
        let status_line = answer.lines().next().unwrap_or("(closed)").to_string();
        report.push(format!(
            "slowloris: a dripping header cut after {header_cut:?}; a body that never comes ended after {body_cut:?} ({status_line})"
        ));

        // 3. Concurrent LISTs of a big collection.
        let ns_url = ks.url("/api/v1/namespaces/bulk/configmaps");
        let r = c
            .post(ks.url("/api/v1/namespaces"))
            .json(&json!({"metadata": {"name": "bulk"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let filler = "x".repeat(1200);
        let mut creates = Vec::new();
        for w in 0..8 {
            let (c, url, filler) = (ks.client(true, true), ns_url.clone(), filler.clone());
            let n = sz.objects;
            creates.push(tokio::spawn(async move {
                for i in (w..n).step_by(8) {
                    let r = c
                        .post(&url)
                        .json(&json!({"metadata": {"name": format!("cm-{i}")}, "data": {"k": filler}}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), StatusCode::CREATED);
                }
            }));
        }
        for t in creates {
            t.await.unwrap();
        }
        let stored_rss = ks.rss_kib();
        report.push(format!(
            "{} objects of 1.2 KB stored: {:.1} MiB",
            sz.objects,
            mib(stored_rss)
        ));
        let mut lists = Vec::new();
        for _ in 0..sz.lists {
            let (c, url) = (ks.client(true, true), ns_url.clone());
            lists.push(tokio::spawn(async move {
                let r = c.get(&url).send().await.unwrap();
                let status = r.status();
                let bytes = r.bytes().await.map(|b| b.len()).unwrap_or(0);
                (status, bytes)
            }));
        }
        let mut peak = stored_rss;
        let mut slowest_check = Duration::ZERO;
        while !lists.iter().all(|t| t.is_finished()) {
            peak = peak.max(ks.rss_kib());
            slowest_check = slowest_check.max(still_serving(&ks, &c, Duration::from_secs(10)).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (mut ok, mut refused) = (0, 0);
        for t in lists {
            let (status, bytes) = t.await.unwrap();
            match status {
                StatusCode::OK => {
                    ok += 1;
                    assert!(bytes > sz.objects * 1200, "a whole list: {bytes} bytes");
                }
                StatusCode::TOO_MANY_REQUESTS => refused += 1,
                other => panic!("a LIST answered {other}"),
            }
        }
        report.push(format!(
            "{} concurrent LISTs of {} objects: {ok} served, {refused} answered 429; peak {:.1} MiB; health and GET within {slowest_check:?} meanwhile",
            sz.lists,
            sz.objects,
            mib(peak)
        ));
        assert!(mib(peak) < mib(stored_rss) + 1024.0, "LISTs grew memory without bound");

        // 4. A watch storm over HTTP/2 (several connections, many streams each).
        let per_connection = 900;
        let list: Value = c
            .get(ks.url("/api/v1/namespaces/default/configmaps"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let from = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        let mut watch_clients = Vec::new();
        let mut watches = Vec::new();
        for i in 0..sz.watchers {
            if i % per_connection == 0 {
                watch_clients.push(ks.watch_client(true, true));
            }
            let c = watch_clients.last().unwrap().clone();
            let url = ks.url(&format!(
                "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={from}&timeoutSeconds=600"
            ));
            watches.push(tokio::spawn(async move {
                let r = c.get(url).send().await.map_err(|e| format!("{e}"))?;
                let status = r.status();
                // From now: the one write below is the first event.
                let seen = match WatchEvents::new(r).next(Duration::from_secs(600)).await {
                    Ok(_) => 1usize,
                    Err(e) => return Err(format!("{e:?}")),
                };
                Ok::<(StatusCode, usize), String>((status, seen))
            }));
        }
        // Every watch is open before the write that ends them.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before_write = ks.rss_kib();
        let took = still_serving(&ks, &c, Duration::from_secs(10)).await;
        let t0 = Instant::now();
        let r = c
            .post(ks.url("/api/v1/namespaces/default/configmaps"))
            .json(&json!({"metadata": {"name": "storm"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let (mut delivered, mut failed) = (0, 0);
        for w in watches {
            match tokio::time::timeout(Duration::from_secs(60), w).await {
                Ok(Ok(Ok((StatusCode::OK, seen)))) if seen >= 1 => delivered += 1,
                _ => failed += 1,
            }
        }
        let fanout = t0.elapsed();
        report.push(format!(
            "{} watchers on {} HTTP/2 connections: {:.1} MiB with all open; health and GET in {took:?}; one write reached {delivered} of them in {fanout:?} ({failed} failed)",
            sz.watchers,
            watch_clients.len(),
            mib(before_write)
        ));
        assert_eq!(failed, 0);
        still_serving(&ks, &c, Duration::from_secs(5)).await;
    });
    for line in &report {
        println!("abuse: {line}");
    }
}
