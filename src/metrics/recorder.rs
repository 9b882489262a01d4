//! Where each thread's families live. Every thread that records (a shard, the storage thread)
//! gets its own [`Families`] on first use, registered once in a process-wide list the scrape
//! walks. A shard's recording takes only its own lock, which nobody else touches except a
//! scrape, so the hot path shares no cache line with other shards; a scrape merges them all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::exposition::{Exposition, Kind, Stability};
use super::families::Families;

/// One thread's families, and the shard it is (if it is one).
struct Recorder {
    shard: OnceLock<usize>,
    families: Mutex<Families>,
    /// Requests this thread answered, any path; written only by its thread.
    answered: AtomicU64,
    /// Response body bytes this thread sent on the instrumented routes.
    sent: AtomicU64,
    /// The shard's connections (its server counts them).
    connections: OnceLock<Arc<shards::server::ConnCounts>>,
}

/// Every recorder made so far (a thread's stays after it ends: counters never go back).
static RECORDERS: Mutex<Vec<Arc<Recorder>>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: Arc<Recorder> = {
        let r = Arc::new(Recorder {
            shard: OnceLock::new(),
            families: Mutex::new(Families::default()),
            answered: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            connections: OnceLock::new(),
        });
        RECORDERS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&r));
        r
    };
}

/// Records into this thread's families.
pub fn record<R>(f: impl FnOnce(&mut Families) -> R) -> R {
    LOCAL.with(|r| f(&mut r.families.lock().unwrap_or_else(PoisonError::into_inner)))
}

/// Counts one answered request on this thread (any path, any code): a plain load and
/// store, as only this thread writes it.
pub fn count_answer() {
    LOCAL.with(|r| {
        let n = r.answered.load(Ordering::Relaxed);
        r.answered.store(n + 1, Ordering::Relaxed);
    });
}

/// Counts `n` response body bytes sent by this thread (a plain load and store).
pub fn count_sent(n: u64) {
    LOCAL.with(|r| {
        let total = r.sent.load(Ordering::Relaxed);
        r.sent.store(total + n, Ordering::Relaxed);
    });
}

/// This shard's connection counts, for `kubeshard_shard_connections`.
pub fn set_connections(counts: Arc<shards::server::ConnCounts>) {
    LOCAL.with(|r| {
        let _ = r.connections.set(counts);
    });
}

/// Names this thread shard `index` for kubeshard's per-shard series.
pub fn set_shard(index: usize) {
    LOCAL.with(|r| {
        let _ = r.shard.set(index);
    });
}

/// The shard this thread is, if it is one.
pub fn current_shard() -> Option<usize> {
    LOCAL.with(|r| r.shard.get().copied())
}

/// Writes every thread's families merged, then kubeshard's per-shard series.
pub fn write_merged(e: &mut Exposition) {
    let recorders: Vec<Arc<Recorder>> = RECORDERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut all = Families::default();
    let mut shards = Vec::new();
    for r in recorders {
        let f = r.families.lock().unwrap_or_else(PoisonError::into_inner);
        all.merge(&f);
        if let Some(i) = r.shard.get() {
            let (accepted, open) = r.connections.get().map_or((0, 0), |c| {
                (
                    c.accepted.load(Ordering::Relaxed),
                    c.open.load(Ordering::Relaxed),
                )
            });
            shards.push(ShardSeries {
                shard: *i,
                answered: r.answered.load(Ordering::Relaxed),
                sent: r.sent.load(Ordering::Relaxed),
                accepted,
                open,
            });
        }
    }
    all.write(e);
    if shards.is_empty() {
        return;
    }
    shards.sort_unstable_by_key(|s| s.shard);
    type Value = fn(&ShardSeries) -> f64;
    let families: [(&str, Kind, &str, Value); 4] = [
        (
            "kubeshard_shard_requests_total",
            Kind::Counter,
            "Requests each shard answered, any path (how evenly SO_REUSEPORT spreads the load).",
            |s| s.answered as f64,
        ),
        (
            "kubeshard_shard_response_bytes_total",
            Kind::Counter,
            "Response body bytes each shard sent on the instrumented routes.",
            |s| s.sent as f64,
        ),
        (
            "kubeshard_shard_connections_accepted_total",
            Kind::Counter,
            "Connections each shard accepted.",
            |s| s.accepted as f64,
        ),
        (
            "kubeshard_shard_connections",
            Kind::Gauge,
            "Connections open on each shard now.",
            |s| s.open as f64,
        ),
    ];
    for (name, kind, help, value) in families {
        e.family(name, kind, Stability::Unmarked, help);
        for s in &shards {
            e.sample(&[("shard", &s.shard.to_string())], value(s));
        }
    }
}

/// One shard's own counters at a scrape.
struct ShardSeries {
    shard: usize,
    answered: u64,
    sent: u64,
    accepted: u64,
    open: i64,
}
