//! Write path of the embedded store: creates per second with 1 and with 64 writes in flight,
//! through the public `KvStore` API on a current-thread runtime (as the storage thread runs
//! it). Group commit is what makes 64 in flight fast: they share fsyncs.
//!
//! `cargo bench --bench embedded_write`. The store lives in a temp dir on the disk of `TMPDIR`.
//! Disk flush latency on a shared VM swings a lot, so compare against etcd in the same run:
//! with `KUBESHARD_BENCH_ETCD=http://127.0.0.1:2379` (an etcd whose data dir is on the same
//! disk) the same creates also go through `EtcdStore` at 64 in flight.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use kubeshard::storage::embedded::{EmbeddedOptions, EmbeddedStore};
use kubeshard::storage::etcd::{EtcdConfig, EtcdStore};
use kubeshard::storage::kv::{KvStore, Precondition, WriteOutcome};
use tokio::runtime::Runtime;

/// A typical small Kubernetes object's JSON.
const VALUE_BYTES: usize = 1024;

/// Benchmarks creates of fresh keys through `store` with `in_flight` concurrent writers.
fn bench_creates<S: KvStore>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    store: &S,
    name: &str,
    in_flight: usize,
) {
    let value = Bytes::from(vec![b'x'; VALUE_BYTES]);
    let next_key = Cell::new(0u64);
    let run = format!("{:x}-{name}-{in_flight}", std::process::id());
    let id = format!("{name}_create_{VALUE_BYTES}B/{in_flight}_in_flight");
    group.bench_function(id, |bench| {
        bench.iter_custom(|iters| {
            rt.block_on(async {
                let done = Cell::new(0u64);
                let start = Instant::now();
                let workers = (0..in_flight).map(|_| async {
                    while done.get() < iters {
                        done.set(done.get() + 1);
                        let k = next_key.get();
                        next_key.set(k + 1);
                        let key = format!("/registry/configmaps/bench-{run}/cm-{k:010}");
                        let put = store.put(Bytes::from(key), value.clone(), Precondition::Absent);
                        assert!(matches!(put.await.unwrap(), WriteOutcome::Applied { .. }));
                    }
                });
                futures_util::future::join_all(workers).await;
                start.elapsed()
            })
        });
    });
}

fn creates(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();

    let mut group = c.benchmark_group("write");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));
    for in_flight in [1usize, 64] {
        bench_creates(&mut group, &rt, &store, "embedded", in_flight);
    }
    if let Ok(endpoint) = std::env::var("KUBESHARD_BENCH_ETCD") {
        let etcd = rt
            .block_on(EtcdStore::connect(EtcdConfig::new(vec![endpoint])))
            .unwrap();
        bench_creates(&mut group, &rt, &etcd, "etcd", 64);
    }
    group.finish();
}

criterion_group!(benches, creates);
criterion_main!(benches);
