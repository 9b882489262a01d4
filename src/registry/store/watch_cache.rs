//! Watches served from the shard's watch cache.
//!
//! A watcher is a cursor into its resource's event ring: it reads forward, filters by
//! namespace and selectors on the metadata kept beside each event, and sends the event's
//! shared line (built once on the storage thread) unless a selector transition turns it
//! into ADDED or DELETED. Falling too far behind, or a rebuild of the replica, ends the
//! watch; the client resumes from its last resourceVersion, as client-go does.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use shards::signal::Wait;

use super::cached::{page_of, Freshness};
use super::facts::RequestFacts;
use super::list::Selectors;
use super::options::ListOptions;
use super::watch::{WatchOptions, WatchStream};
use super::Store;
use crate::api::object::with_resource_version;
use crate::api::status::Status;
use crate::api::Revision;
use crate::registry::resources::Resource;
use crate::storage::cache::object::{watch_line, CachedEvent, EventType};
use crate::storage::cache::{Cursor, Read, WatchCache, WatchStart, WatcherGuard};
use crate::storage::kv::StorageError;

/// How often an idle watch with `allowWatchBookmarks` gets a bookmark (upstream: a minute).
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// A bookmark goes out this long before a watch's timeout, so the client resumes from it.
const BOOKMARK_BEFORE_END: Duration = Duration::from_secs(2);

impl Store {
    /// Serves a watch from the cache; None when the cache cannot (the caller asks the
    /// backend).
    pub(super) async fn watch_cached(
        &self,
        res: &Resource,
        req: &RequestFacts,
        list: &ListOptions,
        cache: &WatchCache,
        index: usize,
        opts: &WatchOptions,
    ) -> Result<Option<WatchStream>, Status> {
        let sel = Selectors::new(res, list)?;
        let collection = Bytes::from(self.collection(res, req.namespace.as_deref()));
        let mut queue = VecDeque::new();
        let want = if opts.send_initial {
            super::cached::freshness(&opts.rv)?
        } else if opts.from == 0 {
            Freshness::Any
        } else {
            Freshness::NotOlderThan(opts.from)
        };
        if !self.cache_fresh(req, cache, want).await? {
            return Ok(None);
        }
        let mut w = CacheWatch::new(cache, index, collection, sel, res, opts, &self.stopping);
        let start = if opts.send_initial {
            let (objects, revision, start) = cache.list_and_watch(index);
            let (items, _) = page_of(&objects, &w.collection, None, &w.sel, 0);
            for item in items {
                queue.push_back(watch_line("ADDED", &item.json));
            }
            if opts.initial_events_end && opts.bookmarks {
                queue.push_back(w.bookmark(revision, true));
            }
            start
        } else if opts.from == 0 {
            let (_, _, start) = cache.list_and_watch(index);
            start
        } else {
            cache.watch_from(index, opts.from)
        };
        match start {
            WatchStart::At { seq, generation } => {
                w.cursor = cache.cursor(index, seq);
                w.generation = generation;
                w.queue = queue;
            }
            WatchStart::TooOld(oldest) => {
                let status = super::storage_status(StorageError::Compacted {
                    requested: opts.from,
                    compacted: oldest,
                });
                w.queue = VecDeque::from([watch_line("ERROR", &status.to_json())]);
                w.done = true;
            }
        }
        Ok(Some(Box::pin(w)))
    }
}

/// A sleep the watcher re-arms only when its deadline moves.
type Timer = (Instant, Pin<Box<dyn Future<Output = ()>>>);

/// One watcher reading its resource's ring.
struct CacheWatch {
    cache: WatchCache,
    index: usize,
    generation: u64,
    cursor: Rc<Cursor>,
    /// Only keys under this prefix (the namespace, or the whole resource).
    collection: Bytes,
    sel: Selectors,
    kind: &'static str,
    api_version: String,
    bookmarks: bool,
    end: Instant,
    next_bookmark: Option<Instant>,
    timer: Option<Timer>,
    stopping: Wait,
    queue: VecDeque<Bytes>,
    done: bool,
    _open: WatcherGuard,
}

impl CacheWatch {
    fn new(
        cache: &WatchCache,
        index: usize,
        collection: Bytes,
        sel: Selectors,
        res: &Resource,
        opts: &WatchOptions,
        stopping: &Arc<shards::signal::Signal>,
    ) -> Self {
        let now = Instant::now();
        let end = now + opts.timeout;
        let mut w = Self {
            cache: cache.clone(),
            index,
            generation: 0,
            cursor: Rc::new(Cursor {
                seq: Cell::new(0),
                ended: Cell::new(true),
            }),
            collection,
            sel,
            kind: res.api.kind,
            api_version: res.api.api_version(),
            bookmarks: opts.bookmarks,
            end,
            next_bookmark: None,
            timer: None,
            stopping: stopping.wait(),
            queue: VecDeque::new(),
            done: false,
            _open: cache.watcher_guard(),
        };
        w.next_bookmark = w.bookmark_after(now);
        w
    }

    /// When the next bookmark is due: every minute, and just before the timeout.
    fn bookmark_after(&self, now: Instant) -> Option<Instant> {
        if !self.bookmarks {
            return None;
        }
        let beat = now + BOOKMARK_EVERY;
        let last = self.end.checked_sub(BOOKMARK_BEFORE_END)?;
        if last > now {
            Some(beat.min(last))
        } else {
            None
        }
    }

    fn bookmark(&self, rev: Revision, initial_end: bool) -> Bytes {
        super::watch::bookmark_line(self.kind, &self.api_version, rev, initial_end)
    }

    /// Queues what this watcher sends for `ev`, after scope and selector transitions.
    fn push(&mut self, ev: &CachedEvent) {
        if !ev.key().starts_with(&self.collection) {
            return;
        }
        if self.sel.is_empty() {
            self.queue.push_back(ev.line.clone());
            return;
        }
        let now = self.sel.matches_value(&ev.object.selectable);
        match ev.kind {
            EventType::Added | EventType::Deleted => {
                if now {
                    self.queue.push_back(ev.line.clone());
                }
            }
            EventType::Modified => {
                let before = ev
                    .prior
                    .as_ref()
                    .is_some_and(|p| self.sel.matches_value(&p.selectable));
                match (before, now) {
                    (true, true) => self.queue.push_back(ev.line.clone()),
                    (false, true) => self.queue.push_back(watch_line("ADDED", &ev.object.json)),
                    (true, false) => {
                        // As upstream: the last matching state, at the event's revision.
                        let stored = ev.prior.as_ref().map(|p| p.stored.clone());
                        let json =
                            with_resource_version(&stored.unwrap_or_default(), ev.revision());
                        self.queue.push_back(watch_line("DELETED", &json));
                    }
                    (false, false) => {}
                }
            }
        }
    }
}

impl futures_lite::Stream for CacheWatch {
    type Item = Bytes;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(line) = this.queue.pop_front() {
                return Poll::Ready(Some(line));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if Pin::new(&mut this.stopping).poll(cx).is_ready() {
                this.done = true;
                continue;
            }
            match this
                .cache
                .read(this.index, this.generation, &this.cursor, cx.waker())
            {
                Read::Ended => {
                    this.done = true;
                    continue;
                }
                Read::Events(evs) if !evs.is_empty() => {
                    for ev in &evs {
                        this.push(ev);
                    }
                    continue;
                }
                Read::Events(_) => {}
            }
            let now = Instant::now();
            if now >= this.end {
                this.done = true;
                continue;
            }
            if let Some(due) = this.next_bookmark {
                if now >= due {
                    let b = this.bookmark(this.cache.revision(), false);
                    this.queue.push_back(b);
                    this.next_bookmark = this.bookmark_after(now);
                    continue;
                }
            }
            let wake_at = this.next_bookmark.map_or(this.end, |b| b.min(this.end));
            let stale = this.timer.as_ref().is_none_or(|(at, _)| *at != wake_at);
            if stale {
                let sleep = shards::sleep(wake_at.saturating_duration_since(now));
                this.timer = Some((wake_at, Box::pin(sleep)));
            }
            if let Some((_, timer)) = this.timer.as_mut() {
                if timer.as_mut().poll(cx).is_ready() {
                    this.timer = None;
                    continue;
                }
            }
            return Poll::Pending;
        }
    }
}
