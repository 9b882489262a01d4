//! The recent events of one resource, in revision order: what a watch resumes from.
//!
//! Sized like upstream's watch cache: at least the configured size (`--watch-cache-sizes`,
//! `--default-watch-cache-size`), growing while the oldest event is younger than
//! [`FRESH_FOR`] up to [`UPPER_BOUND`], so a client that reconnects within about a minute can
//! resume instead of re-listing. Every event has a sequence number; a watcher keeps a cursor
//! and reads forward, so one event in the ring serves every watcher of the resource.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::object::CachedEvent;
use crate::storage::kv::Revision;

/// History younger than this is kept even beyond the configured size (upstream's 75s).
pub const FRESH_FOR: Duration = Duration::from_secs(75);
/// The most events one resource's ring holds (upstream's upper bound, 100 * 1024).
pub const UPPER_BOUND: usize = 100 * 1024;

/// One resource's recent events and the watchers waiting for more.
#[derive(Debug)]
pub struct Ring {
    events: VecDeque<(Instant, Arc<CachedEvent>)>,
    /// Sequence number of `events[0]`.
    first_seq: u64,
    /// Every event after this revision is in the ring (a watch from here on can resume).
    complete_after: Revision,
    min_capacity: usize,
    capacity: usize,
    waiters: Vec<Waker>,
    /// Every open watcher's position, to find the ones too far behind even while their
    /// connection is stalled and they do not read.
    cursors: Vec<Weak<Cursor>>,
    /// `next_seq()` at the last scan for lagging watchers.
    scanned_at: u64,
    /// Size of `cursors` at which closed watchers' entries are dropped.
    prune_at: usize,
}

/// One watcher's position in a ring.
#[derive(Debug)]
pub struct Cursor {
    /// The sequence number of the next event the watcher reads.
    pub seq: Cell<u64>,
    /// Set once the watcher fell too far behind; it ends at its next read.
    pub ended: Cell<bool>,
}

/// Where a watch starts reading a ring.
#[derive(Debug, PartialEq, Eq)]
pub enum Start {
    /// At this sequence number.
    At(u64),
    /// The revision is older than the history kept; the oldest resumable revision is given.
    TooOld(Revision),
}

impl Ring {
    /// An empty ring whose history starts after `revision`.
    pub fn new(min_capacity: usize, revision: Revision) -> Self {
        let min_capacity = min_capacity.clamp(1, UPPER_BOUND);
        Self {
            events: VecDeque::new(),
            first_seq: 0,
            complete_after: revision,
            min_capacity,
            capacity: min_capacity,
            waiters: Vec::new(),
            cursors: Vec::new(),
            scanned_at: 0,
            prune_at: 64,
        }
    }

    /// A watcher reading from `seq`, tracked by the ring.
    pub fn cursor(&mut self, seq: u64) -> Rc<Cursor> {
        let c = Rc::new(Cursor {
            seq: Cell::new(seq),
            ended: Cell::new(false),
        });
        // Watchers that closed leave dead entries; drop them whenever the list doubles, so
        // an idle resource with many short watches does not grow it without bound.
        if self.cursors.len() >= self.prune_at {
            self.cursors.retain(|w| w.strong_count() > 0);
            self.prune_at = (self.cursors.len() * 2).max(64);
        }
        self.cursors.push(Rc::downgrade(&c));
        c
    }

    /// Ends watchers more than `max_lag` events behind (checked every quarter of `max_lag`
    /// events, so the cost is independent of the event rate); returns how many it ended.
    pub fn end_lagging(&mut self, max_lag: usize) -> u64 {
        let head = self.next_seq();
        if head - self.scanned_at < (max_lag as u64 / 4).max(1) {
            return 0;
        }
        self.scanned_at = head;
        let mut ended = 0;
        self.cursors.retain(|w| {
            let Some(c) = w.upgrade() else {
                return false;
            };
            if c.ended.get() {
                return false;
            }
            if head.saturating_sub(c.seq.get()) > max_lag as u64 {
                c.ended.set(true);
                ended += 1;
                return false;
            }
            true
        });
        ended
    }

    /// Forgets every event: history starts again after `revision` (after a resync).
    pub fn reset(&mut self, revision: Revision) {
        self.first_seq += self.events.len() as u64;
        self.events.clear();
        self.complete_after = revision;
        self.capacity = self.min_capacity;
    }

    /// Appends an event, evicting the oldest when full and no longer fresh.
    pub fn push(&mut self, now: Instant, ev: Arc<CachedEvent>) {
        if self.events.len() >= self.capacity {
            let fresh = self
                .events
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) < FRESH_FOR);
            if fresh && self.capacity < UPPER_BOUND {
                self.capacity = (self.capacity * 2).min(UPPER_BOUND);
            } else if let Some((_, old)) = self.events.pop_front() {
                self.first_seq += 1;
                self.complete_after = self.complete_after.max(old.revision());
            }
        }
        self.events.push_back((now, ev));
    }

    /// The sequence number the next event will get.
    pub fn next_seq(&self) -> u64 {
        self.first_seq + self.events.len() as u64
    }

    /// The first sequence number still held.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// The event with sequence number `seq`, if still held.
    pub fn get(&self, seq: u64) -> Option<&Arc<CachedEvent>> {
        let i = seq.checked_sub(self.first_seq)?;
        self.events.get(usize::try_from(i).ok()?).map(|(_, e)| e)
    }

    /// Where a watch from `revision` (events newer than it) starts.
    pub fn start_after(&self, revision: Revision) -> Start {
        if revision < self.complete_after {
            return Start::TooOld(self.complete_after);
        }
        let i = self
            .events
            .partition_point(|(_, e)| e.revision() <= revision);
        Start::At(self.first_seq + i as u64)
    }

    /// Registers a watcher to be woken by the next event (or resync).
    pub fn wait(&mut self, waker: &Waker) {
        if !self.waiters.iter().any(|w| w.will_wake(waker)) {
            self.waiters.push(waker.clone());
        }
    }

    /// Wakes every waiting watcher.
    pub fn wake_all(&mut self) {
        for w in self.waiters.drain(..) {
            w.wake();
        }
    }

    /// Events held now.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// Whether no events are held.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::storage::cache::object::Decorator;
    use crate::storage::kv::{EventKind, KeyValue, WatchEvent};
    use bytes::Bytes;

    fn ev(rev: Revision) -> Arc<CachedEvent> {
        Arc::new(Decorator::default().event(&WatchEvent {
            kind: EventKind::Put,
            kv: KeyValue {
                key: Bytes::from_static(b"/registry/configmaps/ns/a"),
                value: Bytes::from_static(b"{\"metadata\":{\"name\":\"a\"}}"),
                create_revision: 1,
                mod_revision: rev,
            },
            prev_kv: None,
        }))
    }

    #[test]
    fn resumes_inside_the_window_and_refuses_older() {
        let mut r = Ring::new(3, 10);
        let old = Instant::now() - FRESH_FOR * 2;
        for rev in 11..=13 {
            r.push(old, ev(rev));
        }
        for rev in 14..=15 {
            r.push(Instant::now(), ev(rev));
        }
        // Capacity 3, nothing fresh: 13, 14, 15 are kept; history is complete after 12.
        assert_eq!(r.len(), 3);
        assert_eq!(r.start_after(11), Start::TooOld(12));
        assert_eq!(r.start_after(12), Start::At(r.first_seq()));
        assert_eq!(r.get(r.first_seq()).unwrap().revision(), 13);
        assert_eq!(r.start_after(14), Start::At(r.first_seq() + 2));
        assert_eq!(r.start_after(15), Start::At(r.next_seq()));
    }

    #[test]
    fn fresh_history_grows_past_the_configured_size() {
        let mut r = Ring::new(2, 0);
        let now = Instant::now();
        for rev in 1..=10 {
            r.push(now, ev(rev));
        }
        assert_eq!(r.len(), 10);
        assert_eq!(r.start_after(0), Start::At(0));
    }

    #[test]
    fn reset_keeps_sequence_numbers_moving_forward() {
        let mut r = Ring::new(4, 0);
        r.push(Instant::now(), ev(1));
        let before = r.next_seq();
        r.reset(7);
        assert_eq!(r.next_seq(), before);
        assert_eq!(r.start_after(6), Start::TooOld(7));
        assert!(r.is_empty());
    }
}
