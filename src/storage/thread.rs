//! The storage thread: the only owner of the storage backend.
//!
//! Shards push [`StorageRequest`]s into one bounded lock-free queue (crossbeam `ArrayQueue`)
//! and await a one-shot reply; the push never blocks a shard (a full queue is an immediate
//! `Unavailable`). The thread runs a tokio current-thread runtime (etcd's client needs tokio;
//! shards never run tokio) and serves requests concurrently, so concurrent writes share group
//! commits (embedded) or pipeline (etcd). It also runs the one upstream watch, feeding every
//! shard's event lane, the periodic compaction (`--etcd-compaction-interval`) and the backend
//! health probe behind the `etcd` health check.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam::queue::ArrayQueue;
use futures_lite::StreamExt;
use tokio::sync::{oneshot, Notify};

use super::cache::object::Decorator;
use super::kv::{
    KeyValue, KvStore, ListRequest, ListResponse, Precondition, Revision, StorageError, WatchItem,
    WriteOutcome,
};
use super::lanes::{lanes, EventBatch, LaneItem, LaneReceiver, LaneSenders};

/// Settings of the storage thread (queue sizes from the tuning profile, intervals from flags).
#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// Requests that may wait in the shard -> storage queue.
    pub request_queue_capacity: usize,
    /// Items each shard's event lane holds before it overflows to a resync.
    pub event_lane_capacity: usize,
    /// Longest a backend operation may take before it fails as `Unavailable`.
    pub op_timeout: Duration,
    /// Compaction period; zero disables compaction.
    pub compaction_interval: Duration,
    /// How often the backend health probe runs.
    pub health_interval: Duration,
    /// The prefix of the one upstream watch (e.g. `/registry/`).
    pub watch_prefix: Bytes,
    /// Turns each upstream event into the watch cache's shared entry, once for all shards.
    pub decorator: Arc<Decorator>,
}

/// Watch items buffered per watcher before it counts as too slow and is cut off.
const WATCH_BUFFER: usize = 4096;

type Reply<T> = oneshot::Sender<Result<T, StorageError>>;

/// One request from a shard to the storage thread.
#[derive(Debug)]
pub enum StorageRequest {
    /// `KvStore::get`.
    Get(Bytes, Revision, Reply<(Option<KeyValue>, Revision)>),
    /// `KvStore::list`.
    List(ListRequest, Reply<ListResponse>),
    /// `KvStore::count`.
    Count(Bytes, Reply<u64>),
    /// `KvStore::put`.
    Put(Bytes, Bytes, Precondition, Reply<WriteOutcome>),
    /// `KvStore::delete`.
    Delete(Bytes, Precondition, Reply<WriteOutcome>),
    /// `KvStore::current_revision`.
    CurrentRevision(Reply<Revision>),
    /// `KvStore::compact`.
    Compact(Revision, Reply<()>),
    /// A watch of its own (until watches are served from the shard's cache): items are
    /// forwarded into the bounded channel; the watch ends when the receiver is dropped.
    Watch(
        Bytes,
        Revision,
        Reply<tokio::sync::mpsc::Receiver<Result<WatchItem, StorageError>>>,
    ),
}

/// State shared by the storage thread and every client.
#[derive(Debug)]
struct Shared {
    queue: ArrayQueue<StorageRequest>,
    wake: Notify,
    stopping: AtomicBool,
    healthy: AtomicBool,
    /// The newest revision the upstream watch has delivered to the lanes.
    delivered: AtomicI64,
    /// The upstream watch has learned its start revision.
    watching: AtomicBool,
    /// The newest revision a write through this thread was applied at: the upstream watch
    /// must get there soon, or it is stuck (e.g. on a frozen etcd member) and is reopened.
    committed: AtomicI64,
    /// How long backend operations took (`etcd_request_duration_seconds`).
    latency: super::latency::RequestLatency,
    /// What the upstream watch delivered, per resource.
    deliveries: super::latency::WatchDeliveries,
    /// The event lanes (read for their depths).
    lanes: std::sync::OnceLock<LaneSenders>,
    /// The backend's database size, as the health probe last read it.
    db_size: std::sync::Mutex<Option<super::kv::DbSize>>,
}

/// A shard's handle on the storage thread: cheap to clone, `Send`.
#[derive(Clone, Debug)]
pub struct StorageClient {
    shared: Arc<Shared>,
}

/// The running storage thread.
#[derive(Debug)]
pub struct StorageThread {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
    lanes: LaneSenders,
}

impl StorageThread {
    /// Starts the thread, opening the backend with `open` on it, and returns the thread, a
    /// client, and one event lane per shard. Fails if the backend cannot be opened.
    pub fn start<S, F, Fut>(
        open: F,
        cfg: StorageConfig,
        shards: usize,
    ) -> Result<(StorageThread, StorageClient, Vec<LaneReceiver>), StorageError>
    where
        S: KvStore,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<S, StorageError>>,
    {
        let shared = Arc::new(Shared {
            queue: ArrayQueue::new(cfg.request_queue_capacity.max(1)),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            healthy: AtomicBool::new(false),
            delivered: AtomicI64::new(0),
            watching: AtomicBool::new(false),
            committed: AtomicI64::new(0),
            latency: Default::default(),
            deliveries: Default::default(),
            lanes: std::sync::OnceLock::new(),
            db_size: std::sync::Mutex::new(None),
        });
        let (senders, receivers) = lanes(shards, cfg.event_lane_capacity);
        let _ = shared.lanes.set(senders.clone());
        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread_lanes = senders.clone();
        let handle = std::thread::Builder::new()
            .name("storage".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = opened_tx
                            .send(Err(StorageError::Internal(format!("tokio runtime: {e}"))));
                        return;
                    }
                };
                rt.block_on(async move {
                    let store = match open().await {
                        Ok(s) => Arc::new(s),
                        Err(e) => {
                            let _ = opened_tx.send(Err(e));
                            return;
                        }
                    };
                    // One probe before anyone asks, so health checks are right from the start.
                    let probe =
                        tokio::time::timeout(Duration::from_secs(2), store.current_revision())
                            .await;
                    thread_shared
                        .healthy
                        .store(matches!(probe, Ok(Ok(_))), Ordering::Release);
                    let _ = opened_tx.send(Ok(()));
                    serve(store, cfg, thread_shared, thread_lanes).await;
                });
            })
            .map_err(|e| StorageError::Internal(format!("cannot start the storage thread: {e}")))?;
        match opened_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = handle.join();
                return Err(e);
            }
            Err(_) => {
                let _ = handle.join();
                return Err(StorageError::Internal(
                    "the storage thread exited while opening".into(),
                ));
            }
        }
        let client = StorageClient {
            shared: Arc::clone(&shared),
        };
        Ok((
            StorageThread {
                shared,
                handle: Some(handle),
                lanes: senders,
            },
            client,
            receivers,
        ))
    }

    /// How many times each shard's lane overflowed (each one cost that shard a resync).
    pub fn lane_overflows(&self) -> Vec<u64> {
        self.lanes.overflow_counts()
    }

    /// Stops the thread after the requests already queued; waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for StorageThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The thread's main loop: requests, the upstream watch, compaction, health.
async fn serve<S: KvStore>(
    store: Arc<S>,
    cfg: StorageConfig,
    shared: Arc<Shared>,
    lanes: LaneSenders,
) {
    let watch = tokio::spawn(upstream_watch(
        Arc::clone(&store),
        cfg.watch_prefix.clone(),
        lanes,
        Arc::clone(&shared),
        Arc::clone(&cfg.decorator),
    ));
    let compactor = tokio::spawn(compact_periodically(
        Arc::clone(&store),
        cfg.compaction_interval,
    ));
    let health = tokio::spawn(probe_health(
        Arc::clone(&store),
        cfg.health_interval,
        cfg.op_timeout,
        Arc::clone(&shared),
    ));
    loop {
        while let Some(req) = shared.queue.pop() {
            tokio::spawn(handle(
                Arc::clone(&store),
                req,
                cfg.op_timeout,
                Arc::clone(&shared),
                cfg.watch_prefix.clone(),
            ));
        }
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let notified = shared.wake.notified();
        // Re-check after arming: a push between the drain and here would be missed otherwise.
        if !shared.queue.is_empty() || shared.stopping.load(Ordering::SeqCst) {
            continue;
        }
        notified.await;
    }
    watch.abort();
    compactor.abort();
    health.abort();
}

/// Runs one request against the backend, bounded by `limit`.
async fn handle<S: KvStore>(
    store: Arc<S>,
    req: StorageRequest,
    limit: Duration,
    shared: Arc<Shared>,
    prefix: Bytes,
) {
    let started = std::time::Instant::now();
    let observe = |operation: &'static str, key: &[u8]| {
        shared
            .latency
            .observe(operation, key, &prefix, started.elapsed());
    };
    let applied = |r: &Result<WriteOutcome, StorageError>| {
        if let Ok(WriteOutcome::Applied { revision, .. }) = r {
            shared.committed.fetch_max(*revision, Ordering::AcqRel);
        }
    };
    async fn timed<T>(
        limit: Duration,
        f: impl Future<Output = Result<T, StorageError>>,
    ) -> Result<T, StorageError> {
        tokio::time::timeout(limit, f).await.unwrap_or_else(|_| {
            Err(StorageError::Unavailable(format!(
                "storage did not answer within {limit:?}"
            )))
        })
    }
    match req {
        StorageRequest::Get(k, r, tx) => {
            let answer = timed(limit, store.get(k.clone(), r)).await;
            observe("get", &k);
            drop(tx.send(answer))
        }
        StorageRequest::List(l, tx) => {
            let key = l.prefix.clone();
            let answer = timed(limit, store.list(l)).await;
            observe("list", &key);
            drop(tx.send(answer))
        }
        StorageRequest::Count(p, tx) => {
            let answer = timed(limit, store.count(p.clone())).await;
            observe("listWithCount", &p);
            drop(tx.send(answer))
        }
        StorageRequest::Put(k, v, p, tx) => {
            let operation = if p == Precondition::Absent {
                "create"
            } else {
                "update"
            };
            let r = timed(limit, store.put(k.clone(), v, p)).await;
            observe(operation, &k);
            applied(&r);
            drop(tx.send(r));
        }
        StorageRequest::Delete(k, p, tx) => {
            let r = timed(limit, store.delete(k.clone(), p)).await;
            observe("delete", &k);
            applied(&r);
            drop(tx.send(r));
        }
        StorageRequest::CurrentRevision(tx) => {
            drop(tx.send(timed(limit, store.current_revision()).await))
        }
        StorageRequest::Compact(r, tx) => drop(tx.send(timed(limit, store.compact(r)).await)),
        StorageRequest::Watch(prefix, after, tx) => {
            match timed(limit, store.watch(prefix, after)).await {
                Err(e) => drop(tx.send(Err(e))),
                Ok(mut stream) => {
                    let (items_tx, items_rx) = tokio::sync::mpsc::channel(WATCH_BUFFER);
                    if tx.send(Ok(items_rx)).is_err() {
                        return;
                    }
                    loop {
                        let item = tokio::select! {
                            _ = items_tx.closed() => break,
                            item = stream.next() => item,
                        };
                        let Some(item) = item else { break };
                        let last = item.is_err();
                        // A full buffer means a slow watcher: it is cut off (it resumes from its
                        // last resourceVersion, as client-go does) instead of growing memory.
                        if items_tx.try_send(item).is_err() || last {
                            break;
                        }
                    }
                }
            }
        }
    }
}

/// The single upstream watch: every change under the prefix, once, to every shard's lane.
/// Restarts from the last delivered revision; if that was compacted, shards resynchronise.
async fn upstream_watch<S: KvStore>(
    store: Arc<S>,
    prefix: Bytes,
    lanes: LaneSenders,
    shared: Arc<Shared>,
    decorator: Arc<Decorator>,
) {
    let mut from = loop {
        match store.current_revision().await {
            Ok(r) => break r,
            Err(e) => {
                log::warn!("storage: cannot start the watch yet: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    shared.delivered.store(from, Ordering::Release);
    shared.watching.store(true, Ordering::Release);
    loop {
        match store.watch(prefix.clone(), from).await {
            Ok(mut stream) => {
                let mut behind_since: Option<Instant> = None;
                loop {
                    let item = tokio::select! {
                        item = stream.next() => item,
                        () = tokio::time::sleep(WATCH_STALL_CHECK) => {
                            // Writes were applied beyond what the watch delivered: if that
                            // lasts, the watch's connection is stuck (a frozen member keeps
                            // its TCP connection open but answers nothing); reopen it, and the
                            // balancer picks a member that answers.
                            let committed = shared.committed.load(Ordering::Acquire);
                            if committed <= from {
                                behind_since = None;
                                continue;
                            }
                            let since = *behind_since.get_or_insert_with(Instant::now);
                            if since.elapsed() < WATCH_STALL {
                                continue;
                            }
                            log::warn!("storage: upstream watch stalled at revision {from} while writes reached {committed}; reopening it");
                            break;
                        }
                    };
                    let Some(item) = item else { break };
                    behind_since = None; // the watch is alive
                    match item {
                        Ok(WatchItem::Events(events)) => {
                            let Some(revision) = events.iter().map(|e| e.kv.mod_revision).max()
                            else {
                                continue;
                            };
                            shared.deliveries.delivered(
                                &prefix,
                                events.iter().map(|e| (&e.kv.key[..], e.kv.mod_revision)),
                            );
                            let events = events
                                .iter()
                                .map(|e| Arc::new(decorator.event(e)))
                                .collect();
                            lanes.broadcast(&LaneItem::Batch(Arc::new(EventBatch {
                                revision,
                                events,
                            })));
                            from = from.max(revision);
                        }
                        Ok(WatchItem::Progress(r)) => {
                            from = from.max(r);
                            lanes.broadcast(&LaneItem::Progress(r));
                        }
                        Err(StorageError::Compacted { .. }) => {
                            from = resync_point(&*store, &lanes).await;
                            break;
                        }
                        Err(e) => {
                            log::warn!("storage: upstream watch ended: {e}");
                            break;
                        }
                    }
                    shared.delivered.store(from, Ordering::Release);
                }
            }
            Err(StorageError::Compacted { .. }) => from = resync_point(&*store, &lanes).await,
            Err(e) => log::warn!("storage: cannot open the upstream watch: {e}"),
        }
        shared.delivered.store(from, Ordering::Release);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How often the upstream watch is checked against the writes' revisions.
const WATCH_STALL_CHECK: Duration = Duration::from_millis(250);

/// How long the upstream watch may stay behind an applied write before it is reopened.
/// Well above a healthy watch's lag (milliseconds), below `--request-timeout`.
const WATCH_STALL: Duration = Duration::from_secs(2);

/// Events were lost: shards re-read state, the watch restarts from now.
async fn resync_point<S: KvStore>(store: &S, lanes: &LaneSenders) -> Revision {
    lanes.resync_all();
    loop {
        match store.current_revision().await {
            Ok(r) => return r,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// Like kube-apiserver: every interval, compact to the revision seen one interval earlier, so
/// watchers always have at least one interval of history.
async fn compact_periodically<S: KvStore>(store: Arc<S>, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    let mut previous: Option<Revision> = None;
    loop {
        tokio::time::sleep(interval).await;
        let Ok(now) = store.current_revision().await else {
            continue;
        };
        if let Some(rev) = previous {
            match store.compact(rev).await {
                Ok(()) => log::debug!("storage: compacted to revision {rev}"),
                Err(StorageError::Compacted { .. }) => {}
                Err(e) => log::warn!("storage: compaction to {rev} failed: {e}"),
            }
        }
        previous = Some(now);
    }
}

/// Probes the backend so the `etcd` health check can answer without a round trip.
async fn probe_health<S: KvStore>(
    store: Arc<S>,
    every: Duration,
    limit: Duration,
    shared: Arc<Shared>,
) {
    loop {
        let ok = matches!(
            tokio::time::timeout(limit.min(Duration::from_secs(2)), store.current_revision()).await,
            Ok(Ok(_))
        );
        if ok {
            if let Ok(Ok(Some(size))) =
                tokio::time::timeout(limit.min(Duration::from_secs(2)), store.db_size()).await
            {
                if let Ok(mut s) = shared.db_size.lock() {
                    *s = Some(size);
                }
            }
        }
        if shared.healthy.swap(ok, Ordering::AcqRel) != ok {
            if ok {
                log::info!("storage: backend is reachable");
            } else {
                log::warn!("storage: backend is unreachable");
            }
        }
        tokio::time::sleep(every).await;
    }
}

impl StorageClient {
    async fn call<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> StorageRequest,
    ) -> Result<T, StorageError> {
        let (tx, rx) = oneshot::channel();
        if self.shared.stopping.load(Ordering::Acquire) {
            return Err(StorageError::Unavailable("storage is shutting down".into()));
        }
        if self.shared.queue.push(make(tx)).is_err() {
            return Err(StorageError::Unavailable(
                "too many storage requests in flight".into(),
            ));
        }
        self.shared.wake.notify_one();
        rx.await
            .unwrap_or_else(|_| Err(StorageError::Unavailable("storage thread stopped".into())))
    }

    /// One key at a revision (0: latest).
    pub async fn get(
        &self,
        key: Bytes,
        revision: Revision,
    ) -> Result<(Option<KeyValue>, Revision), StorageError> {
        self.call(|tx| StorageRequest::Get(key, revision, tx)).await
    }

    /// A range under a prefix.
    pub async fn list(&self, req: ListRequest) -> Result<ListResponse, StorageError> {
        self.call(|tx| StorageRequest::List(req, tx)).await
    }

    /// Keys under a prefix.
    pub async fn count(&self, prefix: Bytes) -> Result<u64, StorageError> {
        self.call(|tx| StorageRequest::Count(prefix, tx)).await
    }

    /// Optimistic put.
    pub async fn put(
        &self,
        key: Bytes,
        value: Bytes,
        pre: Precondition,
    ) -> Result<WriteOutcome, StorageError> {
        self.call(|tx| StorageRequest::Put(key, value, pre, tx))
            .await
    }

    /// Optimistic delete.
    pub async fn delete(
        &self,
        key: Bytes,
        pre: Precondition,
    ) -> Result<WriteOutcome, StorageError> {
        self.call(|tx| StorageRequest::Delete(key, pre, tx)).await
    }

    /// The backend's current revision.
    pub async fn current_revision(&self) -> Result<Revision, StorageError> {
        self.call(StorageRequest::CurrentRevision).await
    }

    /// Compacts history at or below `revision`.
    pub async fn compact(&self, revision: Revision) -> Result<(), StorageError> {
        self.call(|tx| StorageRequest::Compact(revision, tx)).await
    }

    /// A watch of changes under `prefix` after revision `after`.
    pub async fn watch(
        &self,
        prefix: Bytes,
        after: Revision,
    ) -> Result<tokio::sync::mpsc::Receiver<Result<WatchItem, StorageError>>, StorageError> {
        self.call(|tx| StorageRequest::Watch(prefix, after, tx))
            .await
    }

    /// The backend operations' timings, for `/metrics`.
    pub fn latency(&self) -> Vec<((&'static str, &'static str), super::latency::Timings)> {
        self.shared.latency.snapshot()
    }

    /// Requests waiting for the storage thread, and events waiting in each shard's lane, and
    /// each lane's overflows (the cross-shard lanes' depths, for `/metrics`).
    pub fn lane_depths(&self) -> (usize, Vec<usize>, Vec<u64>) {
        let lanes = self.shared.lanes.get();
        (
            self.shared.queue.len(),
            lanes.map(LaneSenders::depths).unwrap_or_default(),
            lanes.map(LaneSenders::overflow_counts).unwrap_or_default(),
        )
    }

    /// The backend's database size, as the health probe last read it.
    pub fn db_size(&self) -> Option<super::kv::DbSize> {
        self.shared.db_size.lock().ok().and_then(|s| s.clone())
    }

    /// What the upstream watch delivered: (resource, events, newest revision).
    pub fn deliveries(&self) -> Vec<(&'static str, u64, i64)> {
        self.shared.deliveries.snapshot()
    }

    /// Whether the last health probe reached the backend.
    pub fn healthy(&self) -> bool {
        self.shared.healthy.load(Ordering::Acquire)
    }

    /// The newest revision the upstream watch has delivered to the shards' lanes.
    pub fn delivered_revision(&self) -> Revision {
        self.shared.delivered.load(Ordering::Acquire)
    }

    /// Whether the upstream watch is established: changes from now on reach the lanes.
    pub fn watching(&self) -> bool {
        self.shared.watching.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::storage::cache::object::EventType;
    use crate::storage::embedded::{EmbeddedOptions, EmbeddedStore};
    use crate::storage::kv::WatchStream;

    fn cfg() -> StorageConfig {
        StorageConfig {
            request_queue_capacity: 1024,
            event_lane_capacity: 1024,
            op_timeout: Duration::from_millis(500),
            compaction_interval: Duration::ZERO,
            health_interval: Duration::from_millis(50),
            watch_prefix: Bytes::from_static(b"/registry/"),
            decorator: Arc::new(Decorator::default()),
        }
    }

    fn embedded(dir: &std::path::Path) -> (StorageThread, StorageClient, Vec<LaneReceiver>) {
        let dir = dir.to_path_buf();
        StorageThread::start(
            move || async move { EmbeddedStore::open(&dir, EmbeddedOptions::default()) },
            cfg(),
            2,
        )
        .unwrap()
    }

    #[test]
    fn writes_from_any_thread_reach_every_lane_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (thread, client, mut lanes) = embedded(dir.path());
        // Wait until the upstream watch runs, so the writes below are seen by it.
        let t0 = std::time::Instant::now();
        while !client.watching() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let c = client.clone();
                std::thread::spawn(move || {
                    futures_lite::future::block_on(async move {
                        for i in 0..25 {
                            let key = Bytes::from(format!("/registry/configmaps/ns/w{w}-{i}"));
                            let out = c
                                .put(key, Bytes::from_static(b"{}"), Precondition::Absent)
                                .await
                                .unwrap();
                            assert!(matches!(out, WriteOutcome::Applied { .. }));
                        }
                    })
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let mut per_lane: Vec<Vec<Arc<EventBatch>>> = Vec::new();
        for lane in lanes.iter_mut() {
            let mut got = Vec::new();
            while got
                .iter()
                .map(|b: &Arc<EventBatch>| b.events.len())
                .sum::<usize>()
                < 100
            {
                match futures_lite::future::block_on(lane.recv()) {
                    LaneItem::Batch(b) => got.push(b),
                    LaneItem::Progress(_) => {}
                    LaneItem::Resync => panic!("unexpected resync"),
                }
            }
            let revs: Vec<Revision> = got.iter().map(|b| b.revision).collect();
            assert!(
                revs.windows(2).all(|w| w[0] < w[1]),
                "revision order: {revs:?}"
            );
            assert!(got
                .iter()
                .all(|b| b.events.iter().all(|e| e.kind == EventType::Added)));
            per_lane.push(got);
        }
        // Both shards received the very same batches (shared, not copied).
        assert_eq!(per_lane[0].len(), per_lane[1].len());
        for (a, b) in per_lane[0].iter().zip(&per_lane[1]) {
            assert!(Arc::ptr_eq(a, b));
        }
        let listed = futures_lite::future::block_on(client.list(ListRequest {
            prefix: Bytes::from_static(b"/registry/configmaps/"),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(listed.items.len(), 100);
        assert!(
            client.healthy() || {
                std::thread::sleep(Duration::from_millis(200));
                client.healthy()
            }
        );
        thread.stop();
        let after = futures_lite::future::block_on(client.current_revision());
        assert!(
            matches!(after, Err(StorageError::Unavailable(_))),
            "{after:?}"
        );
    }

    /// A backend that never answers: stands in for an unreachable etcd.
    struct Hung;

    impl KvStore for Hung {
        async fn get(
            &self,
            _: Bytes,
            _: Revision,
        ) -> Result<(Option<KeyValue>, Revision), StorageError> {
            std::future::pending().await
        }
        async fn list(&self, _: ListRequest) -> Result<ListResponse, StorageError> {
            std::future::pending().await
        }
        async fn count(&self, _: Bytes) -> Result<u64, StorageError> {
            std::future::pending().await
        }
        async fn put(
            &self,
            _: Bytes,
            _: Bytes,
            _: Precondition,
        ) -> Result<WriteOutcome, StorageError> {
            std::future::pending().await
        }
        async fn delete(&self, _: Bytes, _: Precondition) -> Result<WriteOutcome, StorageError> {
            std::future::pending().await
        }
        async fn watch(&self, _: Bytes, _: Revision) -> Result<WatchStream, StorageError> {
            std::future::pending().await
        }
        async fn current_revision(&self) -> Result<Revision, StorageError> {
            std::future::pending().await
        }
        async fn compact(&self, _: Revision) -> Result<(), StorageError> {
            std::future::pending().await
        }
    }

    #[test]
    fn an_unanswering_backend_fails_requests_within_the_timeout_and_is_unhealthy() {
        let (thread, client, _lanes) =
            StorageThread::start(|| async { Ok(Hung) }, cfg(), 1).unwrap();
        let t0 = std::time::Instant::now();
        let r = futures_lite::future::block_on(client.put(
            Bytes::from_static(b"/registry/x"),
            Bytes::new(),
            Precondition::None,
        ));
        assert!(matches!(r, Err(StorageError::Unavailable(_))), "{r:?}");
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(450) && took < Duration::from_secs(3),
            "{took:?}"
        );
        assert!(!client.healthy());
        drop(thread);
    }
}
