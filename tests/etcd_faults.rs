//! kubeshard on a 3-member etcd cluster (on loopback, started here) through etcd's faults:
//! the leader killed, a member frozen (SIGSTOP), the whole cluster restarted, and kubeshard cut
//! off from every member. Throughout, a writer creates ConfigMaps and a watch runs:
//! - writes during a fault answer with a Status error (or succeed), never hang past
//!   `--request-timeout`;
//! - `/readyz` reports the etcd check failing while no member answers, as upstream;
//! - full service returns within 5 s of etcd's recovery;
//! - the watch, opened before the first fault, sees every acknowledged create once, in order;
//! - every create acknowledged before, during or after the faults is there at the end.
//!
//! Prints the recovery time of each fault (`etcd fault <name>: ...`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::etcd::EtcdCluster;
use support::server::Kubeshard;
use support::watch::{WatchEnd, WatchEvents};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(4);
/// Concurrent writers (each sequential).
const WRITERS: usize = 4;
/// How long one member stays frozen.
const FROZEN: Duration = Duration::from_secs(10);

/// What the writer saw.
#[derive(Default)]
struct Writes {
    /// resourceVersion -> name of every acknowledged create.
    acked: BTreeMap<u64, String>,
    /// (when it was sent, how long it took, the status or error) of every failed write.
    failures: Vec<(Instant, Duration, String)>,
    /// When each write was answered successfully.
    successes: Vec<Instant>,
    slowest: Duration,
}

async fn writer(
    ks_url: String,
    prefix: String,
    client: reqwest::Client,
    writes: Arc<Mutex<Writes>>,
    done: Arc<AtomicBool>,
) {
    let mut n = 0u64;
    while !done.load(Ordering::Relaxed) {
        n += 1;
        let name = format!("{prefix}-{n}");
        let t0 = Instant::now();
        let r = client
            .post(format!("{ks_url}/api/v1/namespaces/default/configmaps"))
            .json(&json!({"metadata": {"name": name, "labels": {"faults": "1"}}, "data": {"n": n.to_string()}}))
            .send()
            .await;
        let took = t0.elapsed();
        // Read the answer first: the ledger's lock is never held across an await.
        let answer = match r {
            Ok(r) => {
                let status = r.status();
                Ok((status, r.json::<Value>().await.unwrap_or(Value::Null)))
            }
            Err(e) => Err(e),
        };
        let failed = {
            let mut w = writes.lock().unwrap();
            w.slowest = w.slowest.max(took);
            match answer {
                Ok((StatusCode::CREATED, body)) => {
                    let rv = body["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    w.acked.insert(rv, name);
                    w.successes.push(Instant::now());
                    false
                }
                Ok((status, body)) => {
                    assert_eq!(
                        body["kind"], "Status",
                        "a failed write answers a Status: {status} {body}"
                    );
                    assert!(
                        status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
                        "{status} {body}"
                    );
                    w.failures
                        .push((t0, took, format!("{status} {}", body["message"])));
                    true
                }
                Err(e) => {
                    w.failures.push((t0, took, format!("transport: {e}")));
                    true
                }
            }
        };
        if failed {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Waits until a write succeeds after `since`; returns how long after `since` that was.
async fn recovered_after(writes: &Mutex<Writes>, since: Instant, limit: Duration) -> Duration {
    let end = since + limit;
    loop {
        if let Some(t) = writes
            .lock()
            .unwrap()
            .successes
            .iter()
            .find(|t| **t > since)
        {
            return *t - since;
        }
        assert!(
            Instant::now() < end,
            "no successful write within {limit:?} of recovery"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn readyz(ks: &Kubeshard) -> (StatusCode, String) {
    let r = ks
        .client(true, false)
        .get(ks.url("/readyz?verbose"))
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[test]
fn kubeshard_rides_out_etcd_faults_without_losing_or_repeating_events() {
    let mut etcd = EtcdCluster::start_new(3);
    let ks = Kubeshard::start(&[
        &format!("--etcd-servers={}", etcd.endpoints()),
        &format!("--request-timeout={}s", REQUEST_TIMEOUT.as_secs()),
    ]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let admin = ks.client(true, true);
        let list: Value = admin
            .get(ks.url("/api/v1/namespaces/default/configmaps?labelSelector=faults%3D1"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let from = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        let watch = ks
            .watch_client(true, true)
            .get(ks.url(&format!(
                "/api/v1/namespaces/default/configmaps?watch=1&labelSelector=faults%3D1&resourceVersion={from}&timeoutSeconds=600"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(watch.status(), StatusCode::OK);
        let seen: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
        let watch_task = {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut events = WatchEvents::new(watch);
                loop {
                    let ev = match events.next(Duration::from_secs(600)).await {
                        Ok(ev) => ev,
                        Err(WatchEnd::Closed) => break,
                        Err(e) => return format!("{e:?}"),
                    };
                    if ev["type"] == "ERROR" {
                        return format!("the watch ended with an error: {ev}");
                    }
                    let rv = ev["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
                    let name = ev["object"]["metadata"]["name"].as_str().unwrap().to_string();
                    seen.lock().unwrap().push((rv, name));
                }
                "the watch ended".to_string()
            })
        };
        let writes: Arc<Mutex<Writes>> = Arc::default();
        let done = Arc::new(AtomicBool::new(false));
        let writer_tasks: Vec<_> = (0..WRITERS)
            .map(|i| {
                tokio::spawn(writer(
                    ks.url(""),
                    format!("w{i}"),
                    ks.client(true, true),
                    Arc::clone(&writes),
                    Arc::clone(&done),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut report = Vec::new();

        // 1. The leader dies; the others elect a new one.
        let leader = etcd.wait_leader();
        let t = Instant::now();
        etcd.members[leader].stop();
        let elected = tokio::task::block_in_place(|| etcd.wait_leader());
        let back = Instant::now();
        let rec = recovered_after(&writes, back, Duration::from_secs(5)).await;
        report.push(format!("leader killed: new leader after {:?}, writes back {rec:?} later", back - t));
        assert_ne!(elected, leader);
        tokio::task::block_in_place(|| etcd.members[leader].start());
        tokio::time::sleep(Duration::from_secs(1)).await;

        // 2. A member freezes (SIGSTOP): connections to it hang.
        let frozen = (etcd.wait_leader() + 1) % 3;
        let t = Instant::now();
        tokio::task::block_in_place(|| etcd.members[frozen].pause());
        tokio::time::sleep(FROZEN).await;
        let frozen_at = |from: Duration, to: Duration| {
            let w = writes.lock().unwrap();
            let ok = w.successes.iter().filter(|s| **s > t + from && **s <= t + to).count();
            let failed = w.failures.iter().filter(|f| f.0 > t + from && f.0 <= t + to).count();
            (ok, failed)
        };
        let (early_ok, early_failed) = frozen_at(Duration::ZERO, FROZEN / 2);
        let (late_ok, late_failed) = frozen_at(FROZEN / 2, FROZEN);
        report.push(format!("member frozen for {FROZEN:?}: first half {early_ok} writes acknowledged, {early_failed} failed; second half {late_ok} acknowledged, {late_failed} failed"));
        etcd.members[frozen].resume();
        let back = Instant::now();
        let rec = recovered_after(&writes, back, Duration::from_secs(5)).await;
        report.push(format!("member resumed: writes {rec:?} later"));

        // 3. kubeshard cut off: every member frozen.
        let t = Instant::now();
        for m in &etcd.members {
            tokio::task::block_in_place(|| m.pause());
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let unready = loop {
            let (status, body) = readyz(&ks).await;
            if status == StatusCode::INTERNAL_SERVER_ERROR && body.contains("[-]etcd failed: reason withheld") {
                break t.elapsed();
            }
            assert!(Instant::now() < deadline, "readyz never reported etcd: {status} {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        for m in &etcd.members {
            m.resume();
        }
        let back = Instant::now();
        let rec = recovered_after(&writes, back, Duration::from_secs(5)).await;
        let deadline = back + Duration::from_secs(5);
        let ready = loop {
            let (status, _) = readyz(&ks).await;
            if status == StatusCode::OK {
                break back.elapsed();
            }
            assert!(Instant::now() < deadline, "readyz not back within 5 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        report.push(format!("partitioned: readyz failed after {unready:?}; after etcd returned, writes back in {rec:?}, readyz ok in {ready:?}"));

        // 4. The whole cluster restarts.
        let t = Instant::now();
        etcd.stop_all();
        tokio::time::sleep(Duration::from_secs(1)).await;
        tokio::task::block_in_place(|| etcd.start_all());
        tokio::task::block_in_place(|| etcd.wait_leader());
        let back = Instant::now();
        let rec = recovered_after(&writes, back, Duration::from_secs(5)).await;
        report.push(format!("cluster restarted: down {:?}, writes back {rec:?} after it was healthy", back - t));

        tokio::time::sleep(Duration::from_secs(1)).await;
        done.store(true, Ordering::Relaxed);
        for t in writer_tasks {
            t.await.unwrap();
        }
        // Every writer has finished: the ledger is ours alone now.
        let w = std::mem::take(&mut *writes.lock().unwrap());
        // No write took much longer than --request-timeout.
        assert!(w.slowest < REQUEST_TIMEOUT + Duration::from_secs(2), "a write took {:?}", w.slowest);
        // Every acknowledged create is stored.
        let list: Value = admin
            .get(ks.url("/api/v1/namespaces/default/configmaps?labelSelector=faults%3D1"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let stored: BTreeMap<String, u64> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["metadata"]["name"].as_str().unwrap().to_string(),
                    i["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        for (rv, name) in &w.acked {
            assert_eq!(stored.get(name), Some(rv), "{name} acknowledged at {rv}");
        }
        // The watch saw every stored create once, in order (also the ones whose answer was
        // an error but which etcd applied).
        let want: Vec<(u64, String)> = {
            let mut v: Vec<(u64, String)> = stored.iter().map(|(n, rv)| (*rv, n.clone())).collect();
            v.sort();
            v
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.lock().unwrap().len() < want.len() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!watch_task.is_finished(), "{}", watch_task.await.unwrap());
        let got = seen.lock().unwrap().clone();
        assert_eq!(got.len(), want.len(), "events seen vs stored");
        assert_eq!(got, want, "the watch lost, repeated or reordered an event");
        let failures: Vec<String> = w.failures.iter().map(|(_, took, what)| format!("{took:?} {what}")).collect();
        for line in &report {
            println!("etcd fault {line}");
        }
        println!(
            "etcd faults: {} creates acknowledged, {} failed with a Status (slowest answer {:?}), all stored; the watch saw {} events, none lost or repeated; failures: {:?}",
            w.acked.len(),
            w.failures.len(),
            w.slowest,
            got.len(),
            failures.iter().take(5).collect::<Vec<_>>()
        );
    });
}
