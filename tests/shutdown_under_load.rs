//! Graceful termination under load: SIGTERM while clients read, write and watch over HTTP/1.1
//! and HTTP/2. Every request the server accepted gets a valid answer (none fails), requests
//! during `--shutdown-delay-duration` are served, watches end with a clean end of stream (what
//! client-go resumes from), and the process exits 0. Prints `failed requests per 10,000`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::server::Kubeshard;
use support::watch::{WatchEnd, WatchEvents};

/// What one load task saw.
#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    /// Sent on a connection and not answered validly: the number that must be 0.
    failed: AtomicU64,
    /// Connection refused: the listener had closed (after the delay, as upstream).
    refused: AtomicU64,
    /// Answered during the shutdown delay.
    ok_during_delay: AtomicU64,
}

const DELAY: Duration = Duration::from_secs(2);

async fn load(
    client: reqwest::Client,
    base: String,
    id: usize,
    counts: Arc<Counts>,
    term_at: Arc<std::sync::Mutex<Option<Instant>>>,
    done: Arc<AtomicBool>,
) {
    let mut n = 0u64;
    let mut failures = Vec::new();
    while !done.load(Ordering::Relaxed) {
        n += 1;
        let req = if id % 3 == 0 {
            client
                .post(format!("{base}/api/v1/namespaces/default/configmaps"))
                .json(&json!({"metadata": {"name": format!("load-{id}-{n}")}, "data": {"k": "v"}}))
        } else {
            client.get(format!(
                "{base}/api/v1/namespaces/default/configmaps/target"
            ))
        };
        match req.send().await {
            Ok(r) => {
                let status = r.status();
                let body = r.bytes().await;
                match body {
                    Ok(b) if status.is_success() && serde_json::from_slice::<Value>(&b).is_ok() => {
                        counts.ok.fetch_add(1, Ordering::Relaxed);
                        let t = *term_at.lock().unwrap();
                        if t.is_some_and(|t| t.elapsed() < DELAY) {
                            counts.ok_during_delay.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    other => {
                        counts.failed.fetch_add(1, Ordering::Relaxed);
                        failures.push(format!("{status} {other:?}"));
                    }
                }
            }
            Err(e) if e.is_connect() => {
                counts.refused.fetch_add(1, Ordering::Relaxed);
                let t = *term_at.lock().unwrap();
                assert!(
                    t.is_some_and(|t| t.elapsed() >= DELAY),
                    "refused before the shutdown delay ended: {e}"
                );
                // The listener is gone: this client is done (a real one would go elsewhere).
                break;
            }
            Err(e) => {
                counts.failed.fetch_add(1, Ordering::Relaxed);
                failures.push(format!("{e:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "task {id}: {failures:?}");
}

#[test]
fn sigterm_under_load_fails_no_accepted_request_and_ends_watches_cleanly() {
    let mut ks = Kubeshard::start(&[&format!("--shutdown-delay-duration={}s", DELAY.as_secs())]);
    let counts = Arc::new(Counts::default());
    let term_at = Arc::new(std::sync::Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (watch_ends, total) = runtime.block_on(async {
        let admin = ks.client(true, true);
        let r = admin
            .post(ks.url("/api/v1/namespaces/default/configmaps"))
            .json(&json!({"metadata": {"name": "target"}, "data": {"k": "v"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::CREATED);
        // Watchers, on both protocols.
        let mut watchers = Vec::new();
        for i in 0..6 {
            let c = ks.client(true, i % 2 == 0);
            let r = c
                .get(ks.url("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=300"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), reqwest::StatusCode::OK);
            watchers.push(tokio::spawn(async move {
                let mut stream = WatchEvents::new(r);
                let mut events = 0u64;
                loop {
                    match stream.next(Duration::from_secs(300)).await {
                        Ok(_) => events += 1,
                        Err(WatchEnd::Closed) => break,
                        Err(e) => return Err(format!("{e:?}")),
                    }
                }
                Ok::<u64, String>(events)
            }));
        }
        let tasks: Vec<_> = (0..12)
            .map(|id| {
                tokio::spawn(load(
                    ks.client(true, id % 2 == 1),
                    ks.url(""),
                    id,
                    Arc::clone(&counts),
                    Arc::clone(&term_at),
                    Arc::clone(&done),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        *term_at.lock().unwrap() = Some(Instant::now());
        ks.signal(15);
        // Past the delay the listener closes; keep sending a while longer.
        tokio::time::sleep(DELAY + Duration::from_millis(1500)).await;
        done.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.expect("load task");
        }
        let mut ends = Vec::new();
        for w in watchers {
            ends.push(
                tokio::time::timeout(Duration::from_secs(60), w)
                    .await
                    .expect("the watch ended")
                    .unwrap(),
            );
        }
        let c = &counts;
        (
            ends,
            c.ok.load(Ordering::Relaxed) + c.failed.load(Ordering::Relaxed),
        )
    });
    let status = ks.wait_exit(Duration::from_secs(60)).expect("exits");
    assert!(status.success(), "exit status {status:?}");
    let failed = counts.failed.load(Ordering::Relaxed);
    println!(
        "shutdown under load: {total} requests answered or failed, {failed} failed ({:.1} per 10,000), {} answered during the {DELAY:?} delay, {} clients refused after the listener closed; watches: {watch_ends:?}",
        failed as f64 * 10_000.0 / total.max(1) as f64,
        counts.ok_during_delay.load(Ordering::Relaxed),
        counts.refused.load(Ordering::Relaxed),
    );
    assert_eq!(failed, 0);
    assert!(
        counts.ok_during_delay.load(Ordering::Relaxed) > 100,
        "served during the delay"
    );
    for end in watch_ends {
        let events = end.expect("a clean end of stream");
        assert!(events >= 1, "the watch saw the writes");
    }
}
