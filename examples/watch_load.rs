//! Watch fan-out load: opens N watches over C HTTP/2 connections, writes M ConfigMaps, and
//! reports delivery latency (write sent -> event read, p50/p99) and events delivered per
//! second. Used by `scripts/bench-watch.sh`; talks to a running kubeshard like any client.
//!
//!   watch_load --url https://127.0.0.1:6443 --pki <data-dir>/pki --watchers 10000 \
//!              --connections 20 --writes 200 [--in-flight 4] [--interval-ms 0]
//!
//! With `--in-flight 1 --interval-ms 100` each event reaches every watcher before the next is
//! written: the latency of one event delivered to all. Without a pause it measures throughput.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use serde_json::json;

struct Args {
    url: String,
    pki: String,
    watchers: usize,
    connections: usize,
    writes: usize,
    in_flight: usize,
    interval_ms: u64,
}

fn args() -> Args {
    let mut a = Args {
        url: "https://127.0.0.1:6443".into(),
        pki: "kubeshard-data/pki".into(),
        watchers: 1000,
        connections: 10,
        writes: 200,
        in_flight: 4,
        interval_ms: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--url" => a.url = v,
            "--pki" => a.pki = v,
            "--watchers" => a.watchers = v.parse().unwrap_or(a.watchers),
            "--connections" => a.connections = v.parse().unwrap_or(a.connections),
            "--writes" => a.writes = v.parse().unwrap_or(a.writes),
            "--in-flight" => a.in_flight = v.parse().unwrap_or(a.in_flight),
            "--interval-ms" => a.interval_ms = v.parse().unwrap_or(0),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    a
}

fn client(pki: &str) -> reqwest::Client {
    let read = |f: &str| std::fs::read(format!("{pki}/{f}")).unwrap_or_default();
    let mut pem = read("admin.crt");
    pem.extend(read("admin.key"));
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .http2_prior_knowledge()
        .http2_initial_stream_window_size(1 << 20)
        .pool_max_idle_per_host(1);
    if let Ok(ca) = reqwest::Certificate::from_pem(&read("ca.crt")) {
        b = b.add_root_certificate(ca);
    }
    if let Ok(id) = reqwest::Identity::from_pem(&pem) {
        b = b.identity(id);
    }
    match b.build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("client: {e}");
            std::process::exit(1);
        }
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The `ts` a line's ConfigMap carries (written by this tool), found without a JSON parse.
fn ts_of(line: &[u8]) -> Option<u64> {
    const NEEDLE: &[u8] = b"\"ts\":\"";
    let at = line.windows(NEEDLE.len()).position(|w| w == NEEDLE)? + NEEDLE.len();
    let end = line[at..].iter().position(|b| *b == b'"')? + at;
    std::str::from_utf8(&line[at..end]).ok()?.parse().ok()
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1e6
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = args();
    let ns = format!("watch-load-{}", std::process::id());
    let admin = client(&a.pki);
    let r = admin
        .post(format!("{}/api/v1/namespaces", a.url))
        .json(&json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ns}}))
        .send()
        .await;
    if let Err(e) = r {
        eprintln!("cannot reach {}: {e}", a.url);
        std::process::exit(1);
    }
    let clients: Vec<_> = (0..a.connections.max(1)).map(|_| client(&a.pki)).collect();
    let delivered = Arc::new(AtomicU64::new(0));
    let last_delivery = Arc::new(AtomicU64::new(0));
    let opened = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..a.watchers {
        let c = clients[i % clients.len()].clone();
        let url = format!(
            "{}/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion=0&timeoutSeconds=600",
            a.url
        );
        let resp = match c.get(&url).send().await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("watch {i}: {e}");
                std::process::exit(1);
            }
        };
        let (want, delivered, last) =
            (a.writes, Arc::clone(&delivered), Arc::clone(&last_delivery));
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(want);
            let mut buf = Vec::new();
            let mut body = resp.bytes_stream();
            let deadline = Instant::now() + Duration::from_secs(300);
            while lat.len() < want {
                let left = deadline.saturating_duration_since(Instant::now());
                let Ok(Some(Ok(chunk))) = tokio::time::timeout(left, body.next()).await else {
                    break;
                };
                buf.extend_from_slice(&chunk);
                while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=nl).collect();
                    if let Some(ts) = ts_of(&line) {
                        let now = now_nanos();
                        lat.push(now.saturating_sub(ts));
                        delivered.fetch_add(1, Ordering::Relaxed);
                        last.fetch_max(now, Ordering::Relaxed);
                    }
                }
            }
            lat
        }));
    }
    println!(
        "opened {} watches over {} connections in {:.2}s",
        a.watchers,
        clients.len(),
        opened.elapsed().as_secs_f64()
    );
    // Let the server settle, then report its memory from outside (the script reads RSS now).
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("watchers-open");
    tokio::time::sleep(Duration::from_secs(1)).await;

    let start = now_nanos();
    let per = a.writes.div_ceil(a.in_flight.max(1));
    let writers: Vec<_> = (0..a.in_flight.max(1))
        .map(|w| {
            let c = admin.clone();
            let (url, ns) = (a.url.clone(), ns.clone());
            let pause = Duration::from_millis(a.interval_ms);
            tokio::spawn(async move {
                for i in 0..per {
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                    let body = json!({"apiVersion":"v1","kind":"ConfigMap",
                        "metadata":{"name":format!("o-{w}-{i}")},"data":{"ts":now_nanos().to_string()}});
                    let _ = c
                        .post(format!("{url}/api/v1/namespaces/{ns}/configmaps"))
                        .json(&body)
                        .send()
                        .await;
                }
            })
        })
        .collect();
    for w in writers {
        let _ = w.await;
    }
    let mut all = Vec::new();
    for t in tasks {
        if let Ok(l) = t.await {
            all.extend(l);
        }
    }
    all.sort_unstable();
    let total = delivered.load(Ordering::Relaxed);
    let secs = (last_delivery.load(Ordering::Relaxed).saturating_sub(start)) as f64 / 1e9;
    let expected = (a.watchers * per * a.in_flight.max(1)) as u64;
    println!(
        "watchers={} writes={} delivered={total}/{expected} seconds={secs:.2} events_per_s={:.0} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}",
        a.watchers,
        per * a.in_flight.max(1),
        total as f64 / secs.max(1e-9),
        pct(&all, 0.5),
        pct(&all, 0.99),
        pct(&all, 1.0),
    );
}
