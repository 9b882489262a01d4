//! The per-shard watch cache: a replica of every object under the storage prefix plus a ring
//! of recent events per resource, fed only by this shard's event lane.
//!
//! Reads (GET, LIST) and watches are answered here; the backend is asked only for its current
//! revision (consistent reads wait until the replica has reached it, as KEP-2340 does). The
//! objects and events are the storage thread's decorated entries, shared by reference with the
//! other shards: the bytes of an event exist once in the process. Everything else here is
//! shard-local (`Rc`, `RefCell`): no locks are shared with other shards.

mod feed;
pub mod object;
pub mod ring;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use imbl::OrdMap;

pub use feed::run_feed;
use object::{CachedObject, Decorator};
pub use ring::Cursor;
use ring::{Ring, Start};

use super::kv::Revision;
use super::lanes::EventBatch;

/// The objects of the replica at one revision; cloning is O(1) (shared structure).
pub type Objects = OrdMap<Bytes, Arc<CachedObject>>;

/// One resource's place in the cache: its collection root and history size.
#[derive(Clone, Debug)]
pub struct CachedResource {
    /// `<prefix>/<key segment>/`, e.g. `/registry/configmaps/`.
    pub root: Bytes,
    /// The ring's configured size (`--watch-cache-sizes` or `--default-watch-cache-size`).
    pub history: usize,
}

/// Settings every shard's cache shares.
#[derive(Debug)]
pub struct CacheConfig {
    /// Every cached resource.
    pub resources: Vec<CachedResource>,
    /// Turns list items into cache entries (the same decorator the storage thread uses).
    pub decorator: Arc<Decorator>,
    /// A watcher this many events behind its ring's head is ended.
    pub max_watcher_lag: usize,
    /// Events a watcher sends before yielding.
    pub events_per_poll: usize,
    /// How long a consistent read waits for the replica.
    pub consistent_read_wait: Duration,
    /// Process-wide counters.
    pub metrics: Arc<CacheMetrics>,
}

/// Counters the cache keeps for `/metrics`, process-wide.
#[derive(Debug, Default)]
pub struct CacheMetrics {
    /// Watchers ended because they fell too far behind (upstream's
    /// `apiserver_terminated_watchers_total`).
    pub terminated_watchers: AtomicU64,
    /// Times a shard's replica was rebuilt from a full list.
    pub resyncs: AtomicU64,
    /// Consistent reads that found the replica too far behind and read the backend.
    pub consistent_read_fallbacks: AtomicU64,
    /// Events applied, summed over shards.
    pub events_applied: AtomicU64,
}

/// Kept list snapshots for `continue` tokens, per shard.
const SNAPSHOTS_KEPT: usize = 8;
/// How long a list snapshot stays usable for `continue` on this shard.
const SNAPSHOT_TTL: Duration = Duration::from_secs(120);

struct State {
    /// False until the first full list has been applied.
    ready: bool,
    revision: Revision,
    /// Bumped on every resync: watchers of an older generation end.
    generation: u64,
    objects: Objects,
    rings: Vec<Ring>,
    revision_waiters: Vec<(Revision, Waker)>,
    snapshots: VecDeque<(Revision, Instant, Objects)>,
}

/// This shard's replica. Cheap to clone (shared within the shard).
#[derive(Clone)]
pub struct WatchCache {
    state: Rc<RefCell<State>>,
    cfg: Arc<CacheConfig>,
    /// Watchers open on this shard.
    watchers: Rc<Cell<usize>>,
}

impl std::fmt::Debug for WatchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("WatchCache")
            .field("ready", &s.ready)
            .field("revision", &s.revision)
            .field("objects", &s.objects.len())
            .finish()
    }
}

/// Where a new watch starts.
#[derive(Debug)]
pub enum WatchStart {
    /// Read the resource's ring from this sequence number, in this cache generation.
    At {
        /// Sequence number of the first event to send.
        seq: u64,
        /// The cache generation the sequence number belongs to.
        generation: u64,
    },
    /// The revision is older than the history kept; the oldest resumable revision is given.
    TooOld(Revision),
}

/// What a watcher read from its ring.
#[derive(Debug)]
pub enum Read {
    /// Events (possibly none: then the watcher was registered for a wake-up).
    Events(Vec<Arc<object::CachedEvent>>),
    /// The watcher fell too far behind, or the cache was rebuilt: end the watch.
    Ended,
}

impl WatchCache {
    /// An empty, not yet ready cache.
    pub fn new(cfg: Arc<CacheConfig>) -> Self {
        let rings = cfg
            .resources
            .iter()
            .map(|r| Ring::new(r.history, 0))
            .collect();
        Self {
            state: Rc::new(RefCell::new(State {
                ready: false,
                revision: 0,
                generation: 0,
                objects: OrdMap::new(),
                rings,
                revision_waiters: Vec::new(),
                snapshots: VecDeque::new(),
            })),
            cfg,
            watchers: Rc::new(Cell::new(0)),
        }
    }

    /// The settings.
    pub fn config(&self) -> &CacheConfig {
        &self.cfg
    }

    /// Whether the first full list has been applied.
    pub fn is_ready(&self) -> bool {
        self.state.borrow().ready
    }

    /// The revision the replica has reached.
    pub fn revision(&self) -> Revision {
        self.state.borrow().revision
    }

    /// Which cached resource a collection root belongs to.
    pub fn resource_index(&self, root: &[u8]) -> Option<usize> {
        self.cfg
            .resources
            .iter()
            .position(|r| r.root.as_ref() == root)
    }

    fn ring_of(&self, key: &[u8]) -> Option<usize> {
        self.cfg
            .resources
            .iter()
            .position(|r| key.starts_with(&r.root))
    }

    /// Replaces the replica with a full list at `revision`; ends every watcher (they resume).
    pub fn reset(&self, items: Vec<Arc<CachedObject>>, revision: Revision) {
        let mut s = self.state.borrow_mut();
        s.objects = items.into_iter().map(|o| (o.key.clone(), o)).collect();
        s.revision = revision;
        s.generation += 1;
        s.ready = true;
        s.snapshots.clear();
        for r in s.rings.iter_mut() {
            r.reset(revision);
            r.wake_all();
        }
        wake_reached(&mut s);
    }

    /// Applies one revision's events (ignored if the replica already has it).
    pub fn apply(&self, batch: &EventBatch) {
        let now = Instant::now();
        let mut s = self.state.borrow_mut();
        if !s.ready || batch.revision <= s.revision {
            return;
        }
        let mut touched = Vec::new();
        for ev in &batch.events {
            if ev.kind == object::EventType::Deleted {
                s.objects.remove(ev.key());
            } else {
                s.objects.insert(ev.key().clone(), Arc::clone(&ev.object));
            }
            if let Some(i) = self.ring_of(ev.key()) {
                s.rings[i].push(now, Arc::clone(ev));
                if !touched.contains(&i) {
                    touched.push(i);
                }
            }
        }
        s.revision = batch.revision;
        let mut ended = 0;
        for i in touched {
            ended += s.rings[i].end_lagging(self.cfg.max_watcher_lag);
            s.rings[i].wake_all();
        }
        if ended > 0 {
            self.cfg
                .metrics
                .terminated_watchers
                .fetch_add(ended, Ordering::Relaxed);
        }
        wake_reached(&mut s);
        self.cfg
            .metrics
            .events_applied
            .fetch_add(batch.events.len() as u64, Ordering::Relaxed);
    }

    /// Nothing is pending up to `revision`: the replica is current up to it.
    pub fn progress(&self, revision: Revision) {
        let mut s = self.state.borrow_mut();
        if s.ready && revision > s.revision {
            s.revision = revision;
            wake_reached(&mut s);
        }
    }

    /// Waits until the replica has reached `revision` (and is ready), at most `limit`.
    /// True when it has.
    pub async fn wait_for(&self, revision: Revision, limit: Duration) -> bool {
        let reached = Reached {
            cache: self,
            revision,
        };
        futures_lite::future::or(
            async {
                reached.await;
                true
            },
            async {
                shards::sleep(limit).await;
                false
            },
        )
        .await
    }

    /// The objects now, and the revision they are at.
    pub fn snapshot(&self) -> (Objects, Revision) {
        let s = self.state.borrow();
        (s.objects.clone(), s.revision)
    }

    /// The object under `key` now, and the replica's revision.
    pub fn get(&self, key: &[u8]) -> (Option<Arc<CachedObject>>, Revision) {
        let s = self.state.borrow();
        (s.objects.get(key).cloned(), s.revision)
    }

    /// Keeps a snapshot so `continue` requests for its revision can be answered on this shard.
    pub fn keep_snapshot(&self, objects: Objects, revision: Revision) {
        let mut s = self.state.borrow_mut();
        let now = Instant::now();
        s.snapshots
            .retain(|(r, at, _)| *r != revision && now.duration_since(*at) < SNAPSHOT_TTL);
        if s.snapshots.len() >= SNAPSHOTS_KEPT {
            s.snapshots.pop_front();
        }
        s.snapshots.push_back((revision, now, objects));
    }

    /// A kept snapshot at exactly `revision`: the current objects if nothing changed since,
    /// else one kept by an earlier page.
    pub fn snapshot_at(&self, revision: Revision) -> Option<Objects> {
        let s = self.state.borrow();
        if s.ready && s.revision == revision {
            return Some(s.objects.clone());
        }
        let now = Instant::now();
        s.snapshots
            .iter()
            .find(|(r, at, _)| *r == revision && now.duration_since(*at) < SNAPSHOT_TTL)
            .map(|(_, _, o)| o.clone())
    }

    /// Where a watch of resource `index` from events after `revision` starts.
    pub fn watch_from(&self, index: usize, revision: Revision) -> WatchStart {
        let s = self.state.borrow();
        match s.rings[index].start_after(revision) {
            Start::At(seq) => WatchStart::At {
                seq,
                generation: s.generation,
            },
            Start::TooOld(r) => WatchStart::TooOld(r),
        }
    }

    /// A watch that starts with the current state: the objects under `prefix` now, and where
    /// the events after them start. Both read in one borrow, so nothing falls in between.
    pub fn list_and_watch(&self, index: usize) -> (Objects, Revision, WatchStart) {
        let s = self.state.borrow();
        let start = WatchStart::At {
            seq: s.rings[index].next_seq(),
            generation: s.generation,
        };
        (s.objects.clone(), s.revision, start)
    }

    /// Starts tracking a watcher of ring `index` that reads from `seq`.
    pub fn cursor(&self, index: usize, seq: u64) -> Rc<Cursor> {
        self.state.borrow_mut().rings[index].cursor(seq)
    }

    /// Reads up to `events_per_poll` events of ring `index` at the cursor; with none,
    /// registers `waker` for the next one.
    pub fn read(&self, index: usize, generation: u64, cursor: &Cursor, waker: &Waker) -> Read {
        let mut s = self.state.borrow_mut();
        if s.generation != generation || cursor.ended.get() {
            return Read::Ended;
        }
        let ring = &mut s.rings[index];
        let mut seq = cursor.seq.get();
        if seq < ring.first_seq()
            || ring.next_seq().saturating_sub(seq) > self.cfg.max_watcher_lag as u64
        {
            cursor.ended.set(true);
            self.cfg
                .metrics
                .terminated_watchers
                .fetch_add(1, Ordering::Relaxed);
            return Read::Ended;
        }
        let mut out = Vec::new();
        while out.len() < self.cfg.events_per_poll {
            match ring.get(seq) {
                Some(ev) => {
                    out.push(Arc::clone(ev));
                    seq += 1;
                }
                None => break,
            }
        }
        cursor.seq.set(seq);
        if out.is_empty() {
            ring.wait(waker);
        }
        Read::Events(out)
    }

    /// A marker that changes whenever resource `index` changes (or the replica is rebuilt):
    /// the cache generation and the ring's next sequence number. Indexes built from the
    /// replica (RBAC) compare it to know when to rebuild.
    pub fn changes(&self, index: usize) -> (u64, u64) {
        let s = self.state.borrow();
        let seq = s.rings.get(index).map_or(0, Ring::next_seq);
        (s.generation, seq)
    }

    /// The objects under `root` now (a range of the replica's snapshot).
    pub fn objects_under(&self, root: &[u8]) -> Vec<Arc<CachedObject>> {
        let s = self.state.borrow();
        s.objects
            .range(Bytes::copy_from_slice(root)..)
            .take_while(|(k, _)| k.starts_with(root))
            .map(|(_, o)| Arc::clone(o))
            .collect()
    }

    /// How many objects are under `root` now (without collecting them).
    pub fn count_under(&self, root: &[u8]) -> usize {
        let s = self.state.borrow();
        s.objects
            .range(Bytes::copy_from_slice(root)..)
            .take_while(|(k, _)| k.starts_with(root))
            .count()
    }

    /// Counts an open watcher for as long as the guard lives.
    pub fn watcher_guard(&self) -> WatcherGuard {
        self.watchers.set(self.watchers.get() + 1);
        WatcherGuard(Rc::clone(&self.watchers))
    }

    /// Watchers open on this shard.
    pub fn watchers(&self) -> usize {
        self.watchers.get()
    }
}

/// Holds one count of open watchers.
#[derive(Debug)]
pub struct WatcherGuard(Rc<Cell<usize>>);

impl Drop for WatcherGuard {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

fn wake_reached(s: &mut State) {
    if s.revision_waiters.is_empty() {
        return;
    }
    let rev = s.revision;
    let ready = s.ready;
    s.revision_waiters.retain(|(want, w)| {
        if ready && *want <= rev {
            w.wake_by_ref();
            false
        } else {
            true
        }
    });
}

/// Completes once the replica is ready and at or past a revision.
struct Reached<'a> {
    cache: &'a WatchCache,
    revision: Revision,
}

impl Future for Reached<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.cache.state.borrow_mut();
        if s.ready && s.revision >= self.revision {
            return Poll::Ready(());
        }
        s.revision_waiters.push((self.revision, cx.waker().clone()));
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::storage::kv::{EventKind, KeyValue, WatchEvent};

    fn cfg() -> Arc<CacheConfig> {
        Arc::new(CacheConfig {
            resources: vec![CachedResource {
                root: Bytes::from_static(b"/registry/configmaps/"),
                history: 100,
            }],
            decorator: Arc::new(Decorator::default()),
            max_watcher_lag: 1000,
            events_per_poll: 16,
            consistent_read_wait: Duration::from_secs(1),
            metrics: Arc::new(CacheMetrics::default()),
        })
    }

    fn put(name: &str, rev: Revision, prev: bool) -> Arc<object::CachedEvent> {
        let kv = |r| KeyValue {
            key: Bytes::from(format!("/registry/configmaps/ns/{name}")),
            value: Bytes::from(format!("{{\"metadata\":{{\"name\":\"{name}\"}}}}")),
            create_revision: 1,
            mod_revision: r,
        };
        Arc::new(Decorator::default().event(&WatchEvent {
            kind: EventKind::Put,
            kv: kv(rev),
            prev_kv: prev.then(|| kv(rev - 1)),
        }))
    }

    fn batch(rev: Revision, events: Vec<Arc<object::CachedEvent>>) -> EventBatch {
        EventBatch {
            revision: rev,
            events,
        }
    }

    #[test]
    fn applies_in_order_and_ignores_what_it_has() {
        let c = WatchCache::new(cfg());
        c.apply(&batch(3, vec![put("a", 3, false)]));
        assert!(!c.is_ready(), "events before the first list are ignored");
        c.reset(Vec::new(), 2);
        c.apply(&batch(3, vec![put("a", 3, false)]));
        c.apply(&batch(3, vec![put("b", 3, false)]));
        c.apply(&batch(4, vec![put("a", 4, true)]));
        assert_eq!(c.revision(), 4);
        let (objects, _) = c.snapshot();
        assert_eq!(objects.len(), 1);
        let (a, _) = c.get(b"/registry/configmaps/ns/a");
        assert_eq!(a.unwrap().revision, 4);
    }

    #[test]
    fn watchers_read_forward_and_end_when_rebuilt() {
        let c = WatchCache::new(cfg());
        c.reset(Vec::new(), 1);
        let WatchStart::At { seq, generation } = c.watch_from(0, 1) else {
            panic!("in window");
        };
        let cursor = c.cursor(0, seq);
        for r in 2..=4 {
            c.apply(&batch(r, vec![put("a", r, r > 2)]));
        }
        let waker = futures_util::task::noop_waker();
        let Read::Events(evs) = c.read(0, generation, &cursor, &waker) else {
            panic!("events");
        };
        let revs: Vec<_> = evs.iter().map(|e| e.revision()).collect();
        assert_eq!(revs, vec![2, 3, 4]);
        c.reset(Vec::new(), 9);
        assert!(matches!(
            c.read(0, generation, &cursor, &waker),
            Read::Ended
        ));
        assert!(matches!(c.watch_from(0, 4), WatchStart::TooOld(9)));
    }

    #[test]
    fn a_watcher_too_far_behind_is_ended() {
        let mut cfg = Arc::into_inner(cfg()).unwrap();
        cfg.max_watcher_lag = 2;
        let c = WatchCache::new(Arc::new(cfg));
        c.reset(Vec::new(), 1);
        let WatchStart::At { seq, generation } = c.watch_from(0, 1) else {
            panic!("in window");
        };
        let cursor = c.cursor(0, seq);
        for r in 2..=5 {
            c.apply(&batch(r, vec![put("a", r, r > 2)]));
        }
        // Ended while it was not reading (a stalled connection), counted once.
        assert!(cursor.ended.get());
        let waker = futures_util::task::noop_waker();
        assert!(matches!(
            c.read(0, generation, &cursor, &waker),
            Read::Ended
        ));
        assert_eq!(
            c.config()
                .metrics
                .terminated_watchers
                .load(Ordering::Relaxed),
            1
        );
    }
}
