//! The in-process fan-out path: one event applied to a shard's watch cache and read by every
//! watcher of the resource (what each shard does per event, minus the network).
//!
//!   cargo bench --bench watch_fanout

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kubeshard::storage::cache::object::Decorator;
use kubeshard::storage::cache::{CacheConfig, CacheMetrics, CachedResource, Read, WatchCache};
use kubeshard::storage::kv::{EventKind, KeyValue, WatchEvent};
use kubeshard::storage::lanes::EventBatch;

fn cache() -> WatchCache {
    WatchCache::new(Arc::new(CacheConfig {
        resources: vec![CachedResource {
            root: Bytes::from_static(b"/registry/configmaps/"),
            history: 100,
        }],
        decorator: Arc::new(Decorator::default()),
        max_watcher_lag: 1 << 30,
        events_per_poll: 256,
        consistent_read_wait: Duration::from_secs(1),
        metrics: Arc::new(CacheMetrics::default()),
    }))
}

fn fanout(c: &mut Criterion) {
    let decorator = Decorator::default();
    let value = Bytes::from(format!(
        "{{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{{\"name\":\"x\",\"namespace\":\"ns\",\"labels\":{{\"app\":\"a\"}}}},\"data\":{{\"k\":\"{}\"}}}}",
        "v".repeat(400)
    ));
    let mut group = c.benchmark_group("watch_fanout");
    for watchers in [100usize, 1_000, 10_000] {
        group.throughput(Throughput::Elements(watchers as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(watchers),
            &watchers,
            |b, &watchers| {
                let cache = cache();
                cache.reset(Vec::new(), 1);
                let (_, _, start) = cache.list_and_watch(0);
                let kubeshard::storage::cache::WatchStart::At { seq, generation } = start else {
                    panic!("fresh cache");
                };
                let cursors: Vec<_> = (0..watchers).map(|_| cache.cursor(0, seq)).collect();
                let waker = futures_util::task::noop_waker();
                let mut rev = 1;
                b.iter(|| {
                    rev += 1;
                    let ev = decorator.event(&WatchEvent {
                        kind: EventKind::Put,
                        kv: KeyValue {
                            key: Bytes::from_static(b"/registry/configmaps/ns/x"),
                            value: value.clone(),
                            create_revision: 2,
                            mod_revision: rev,
                        },
                        prev_kv: None,
                    });
                    cache.apply(&EventBatch {
                        revision: rev,
                        events: vec![Arc::new(ev)],
                    });
                    let mut bytes = 0;
                    for cur in &cursors {
                        if let Read::Events(evs) = cache.read(0, generation, cur, &waker) {
                            bytes += evs.iter().map(|e| e.line.len()).sum::<usize>();
                        }
                    }
                    bytes
                });
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = fanout
}
criterion_main!(benches);
