//! Watchers: the registry the writer publishes to, and the bounded stream a watcher reads.
//!
//! A watch starts from history copied under the state lock, then live events. The watcher is
//! registered under that same lock with `from` = the first revision the history copy did not
//! cover, and publishing skips events below `from`, so nothing is missed or sent twice even
//! though events are published after the state lock is released.
//!
//! Each watcher has a bounded channel. A watcher that falls `watch_buffer` revisions behind is
//! dropped from the registry; its stream yields what was buffered, then
//! `Unavailable("watcher fell behind")`, then ends.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::storage::kv::{Revision, StorageError, WatchEvent, WatchItem};

/// The error a watcher that fell behind gets before its stream ends.
pub(crate) const FELL_BEHIND: &str = "watcher fell behind";

struct Watcher {
    prefix: Bytes,
    /// Events below this revision were in the history copy the stream started with.
    from: Revision,
    tx: mpsc::Sender<WatchItem>,
    lagged: Arc<AtomicBool>,
}

/// The live watchers of one store.
#[derive(Default)]
pub(crate) struct Watchers {
    list: Mutex<Vec<Watcher>>,
}

impl Watchers {
    /// Registers a watcher of `prefix` for live events from revision `from` on; the caller
    /// holds the state lock so that no event at or after `from` has been published yet.
    pub(crate) fn register(
        &self,
        prefix: Bytes,
        from: Revision,
        backlog: Vec<WatchEvent>,
        bound: usize,
    ) -> EventStream {
        let (tx, rx) = mpsc::channel(bound.max(1));
        let lagged = Arc::new(AtomicBool::new(false));
        let w = Watcher {
            prefix,
            from,
            tx,
            lagged: lagged.clone(),
        };
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(w);
        EventStream {
            backlog: backlog.into(),
            rx: Some(rx),
            lagged,
            done: false,
        }
    }

    /// Sends each event (one batch per revision, in order) to the watchers it matches, and
    /// drops watchers that are gone or too far behind.
    pub(crate) fn publish(&self, events: &[WatchEvent]) {
        let mut list = self.list.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|w| {
            for e in events {
                if e.kv.mod_revision < w.from || !e.kv.key.starts_with(&w.prefix) {
                    continue;
                }
                match w.tx.try_send(WatchItem::Events(vec![e.clone()])) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        w.lagged.store(true, Ordering::Release);
                        return false;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return false,
                }
            }
            true
        });
    }

    /// Ends every watch stream (after what is buffered); used when the store shuts down.
    pub(crate) fn close_all(&self) {
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Registered watchers (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.list
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A watch stream: the history backlog, then live events, then possibly a fell-behind error.
pub(crate) struct EventStream {
    backlog: VecDeque<WatchEvent>,
    rx: Option<mpsc::Receiver<WatchItem>>,
    lagged: Arc<AtomicBool>,
    done: bool,
}

impl futures_lite::Stream for EventStream {
    type Item = Result<WatchItem, StorageError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(e) = this.backlog.pop_front() {
            return Poll::Ready(Some(Ok(WatchItem::Events(vec![e]))));
        }
        if this.done {
            return Poll::Ready(None);
        }
        let Some(rx) = this.rx.as_mut() else {
            return Poll::Ready(None);
        };
        match rx.poll_recv(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(Ok(item))),
            Poll::Ready(None) => {
                this.done = true;
                this.rx = None;
                if this.lagged.load(Ordering::Acquire) {
                    Poll::Ready(Some(Err(StorageError::Unavailable(FELL_BEHIND.into()))))
                } else {
                    Poll::Ready(None)
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::storage::kv::{EventKind, KeyValue};
    use futures_lite::StreamExt;

    fn ev(k: &str, rev: Revision) -> WatchEvent {
        WatchEvent {
            kind: EventKind::Put,
            kv: KeyValue {
                key: Bytes::copy_from_slice(k.as_bytes()),
                value: Bytes::new(),
                create_revision: rev,
                mod_revision: rev,
            },
            prev_kv: None,
        }
    }

    fn revs(items: &[Result<WatchItem, StorageError>]) -> Vec<Revision> {
        items
            .iter()
            .flat_map(|i| match i {
                Ok(WatchItem::Events(e)) => e.iter().map(|e| e.kv.mod_revision).collect(),
                _ => vec![],
            })
            .collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn backlog_then_live_without_duplicates_then_end() {
        let w = Watchers::default();
        let s = w.register(Bytes::from_static(b"/a"), 3, vec![ev("/a/1", 2)], 10);
        // Revision 2 was in the backlog; publishing it again must not duplicate it.
        w.publish(&[ev("/a/1", 2), ev("/b/1", 3), ev("/a/2", 4)]);
        w.close_all();
        let items: Vec<_> = s.collect().await;
        assert_eq!(revs(&items), vec![2, 4]);
        assert!(items.iter().all(Result::is_ok));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn slow_watcher_gets_error_after_buffer() {
        let w = Watchers::default();
        let s = w.register(Bytes::new(), 1, vec![], 3);
        let events: Vec<_> = (1..=10).map(|r| ev("/k", r)).collect();
        w.publish(&events);
        assert_eq!(w.len(), 0);
        let items: Vec<_> = s.collect().await;
        assert_eq!(revs(&items), vec![1, 2, 3]);
        assert_eq!(
            items.last().unwrap(),
            &Err(StorageError::Unavailable(FELL_BEHIND.into()))
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn dropped_stream_is_unregistered() {
        let w = Watchers::default();
        drop(w.register(Bytes::new(), 1, vec![], 3));
        w.publish(&[ev("/k", 1)]);
        assert_eq!(w.len(), 0);
    }
}
