//! Load generator for the storage layer: N creates with C in flight, through the storage
//! thread (embedded or etcd backend, as shards use it) or as raw etcd puts (the baseline).
//! Prints one line: backend, creates, concurrency, seconds, creates/s, p50 and p99 latency.
//!
//!   cargo run --release --example storage_load -- --backend embedded --dir /tmp/x
//!   cargo run --release --example storage_load -- --backend etcd --endpoint http://127.0.0.1:2379
//!   cargo run --release --example storage_load -- --backend raw-etcd --endpoint http://127.0.0.1:2379
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use kubeshard::storage::embedded::{EmbeddedOptions, EmbeddedStore};
use kubeshard::storage::etcd::{EtcdConfig, EtcdStore};
use kubeshard::storage::kv::{Precondition, WriteOutcome};
use kubeshard::storage::thread::{StorageClient, StorageConfig, StorageThread};

struct Args {
    backend: String,
    endpoint: String,
    dir: PathBuf,
    concurrency: usize,
    count: usize,
    value_bytes: usize,
}

fn args() -> Args {
    let mut a = Args {
        backend: "embedded".into(),
        endpoint: "http://127.0.0.1:2379".into(),
        dir: std::env::temp_dir().join("kubeshard-storage-load"),
        concurrency: 64,
        count: 20_000,
        value_bytes: 560,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let v = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--backend" => a.backend = v,
            "--endpoint" => a.endpoint = v,
            "--dir" => a.dir = v.into(),
            "--concurrency" => a.concurrency = v.parse().expect("--concurrency N"),
            "--count" => a.count = v.parse().expect("--count N"),
            "--value-bytes" => a.value_bytes = v.parse().expect("--value-bytes N"),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn report(backend: &str, a: &Args, took: Duration, mut lat: Vec<Duration>) {
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    println!(
        "backend={backend} creates={} concurrency={} seconds={:.2} rate={:.0} p50_ms={:.2} p99_ms={:.2}",
        a.count,
        a.concurrency,
        took.as_secs_f64(),
        a.count as f64 / took.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
}

fn value(n: usize) -> Bytes {
    let mut v = String::from("{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"data\":{\"k\":\"");
    while v.len() + 4 < n {
        v.push('x');
    }
    v.push_str("\"}}");
    Bytes::from(v)
}

/// Creates through the storage thread from a driver thread, as a shard would.
fn through_thread(client: StorageClient, a: &Args, run: &str) -> (Duration, Vec<Duration>) {
    let val = value(a.value_bytes);
    futures_lite::future::block_on(async {
        let mut inflight = FuturesUnordered::new();
        let mut lat = Vec::with_capacity(a.count);
        let t0 = Instant::now();
        let mut next = 0usize;
        while next < a.count || !inflight.is_empty() {
            while next < a.count && inflight.len() < a.concurrency {
                let key = Bytes::from(format!("/registry/configmaps/bench/{run}-{next}"));
                let c = client.clone();
                let v = val.clone();
                inflight.push(async move {
                    let s = Instant::now();
                    let r = c.put(key, v, Precondition::Absent).await;
                    assert!(matches!(r, Ok(WriteOutcome::Applied { .. })), "{r:?}");
                    s.elapsed()
                });
                next += 1;
            }
            if let Some(d) = inflight.next().await {
                lat.push(d);
            }
        }
        (t0.elapsed(), lat)
    })
}

fn cfg() -> StorageConfig {
    StorageConfig {
        request_queue_capacity: 65536,
        event_lane_capacity: 1024,
        op_timeout: Duration::from_secs(60),
        compaction_interval: Duration::ZERO,
        health_interval: Duration::from_secs(5),
        watch_prefix: Bytes::from_static(b"/registry/"),
        decorator: std::sync::Arc::new(kubeshard::storage::cache::object::Decorator::default()),
    }
}

fn main() {
    let a = args();
    let run = format!("{}", std::process::id());
    match a.backend.as_str() {
        "embedded" => {
            let dir = a.dir.clone();
            let _ = std::fs::remove_dir_all(&dir);
            let (thread, client, _lanes) = StorageThread::start(
                move || async move { EmbeddedStore::open(&dir, EmbeddedOptions::default()) },
                cfg(),
                1,
            )
            .expect("open embedded store");
            let (took, lat) = through_thread(client, &a, &run);
            report("embedded", &a, took, lat);
            thread.stop();
        }
        "etcd" => {
            let etcd = EtcdConfig::new(vec![a.endpoint.clone()]);
            let (thread, client, _lanes) =
                StorageThread::start(move || EtcdStore::connect(etcd), cfg(), 1)
                    .expect("connect etcd");
            let (took, lat) = through_thread(client, &a, &run);
            report("etcd-backend", &a, took, lat);
            thread.stop();
        }
        "raw-etcd" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let client = etcd_client::Client::connect([a.endpoint.as_str()], None)
                    .await
                    .expect("connect");
                let val = value(a.value_bytes).to_vec();
                let mut inflight = FuturesUnordered::new();
                let mut lat = Vec::with_capacity(a.count);
                let t0 = Instant::now();
                let mut next = 0usize;
                while next < a.count || !inflight.is_empty() {
                    while next < a.count && inflight.len() < a.concurrency {
                        let mut kv = client.kv_client();
                        let key = format!("/raw/{run}-{next}");
                        let v = val.clone();
                        inflight.push(async move {
                            let s = Instant::now();
                            kv.put(key, v, None).await.expect("put");
                            s.elapsed()
                        });
                        next += 1;
                    }
                    if let Some(d) = inflight.next().await {
                        lat.push(d);
                    }
                }
                report("raw-etcd", &a, t0.elapsed(), lat);
            });
        }
        other => panic!("unknown backend {other}: embedded | etcd | raw-etcd"),
    }
}
