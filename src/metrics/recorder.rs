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
}

/// Every recorder made so far (a thread's stays after it ends: counters never go back).
static RECORDERS: Mutex<Vec<Arc<Recorder>>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: Arc<Recorder> = {
        let r = Arc::new(Recorder {
            shard: OnceLock::new(),
            families: Mutex::new(Families::default()),
            answered: AtomicU64::new(0),
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
            shards.push((*i, r.answered.load(Ordering::Relaxed)));
        }
    }
    all.write(e);
    if shards.is_empty() {
        return;
    }
    shards.sort_unstable();
    e.family(
        "kubeshard_shard_requests_total",
        Kind::Counter,
        Stability::Unmarked,
        "Requests each shard answered, any path (how evenly SO_REUSEPORT spreads the load).",
    );
    for (shard, n) in shards {
        e.sample(&[("shard", &shard.to_string())], n as f64);
    }
}
