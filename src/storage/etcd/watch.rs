//! The etcd watch as a [`WatchStream`]: events split into one batch per revision, progress
//! notifications as [`WatchItem::Progress`], compaction and broken streams as errors.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use etcd_client::{
    EventType, WatchOptions, WatchRequestSender, WatchResponse, WatchResponseStream,
};
use futures_lite::Stream;

use super::convert::{header_revision, key_value};
use super::error::{bounded, CallError};
use super::store::{range_of, EtcdStore};
use crate::storage::kv::{EventKind, Revision, StorageError, WatchEvent, WatchItem, WatchStream};

impl EtcdStore {
    pub(super) async fn watch_inner(
        &self,
        prefix: Bytes,
        after: Revision,
    ) -> Result<WatchStream, StorageError> {
        let (key, end) = range_of(&prefix);
        let options = WatchOptions::new()
            .with_range(end)
            .with_start_revision(after.saturating_add(1))
            .with_prev_key()
            .with_progress_notify();
        let mut client = self.watch_client();
        let timeout = self.timeout();
        let stream = bounded(timeout, client.watch(key, Some(options)))
            .await
            .map_err(|e| e.into_storage(after))?;
        let (sender, mut responses) = stream.split();

        // The first response acknowledges the watch (or refuses it).
        let created = bounded(timeout, responses.message())
            .await
            .map_err(|e| e.into_storage(after))?
            .ok_or_else(|| StorageError::Unavailable("etcd closed the watch stream".to_owned()))?;
        let mut watch = EtcdWatch {
            _sender: sender,
            responses,
            after,
            pending: VecDeque::new(),
            done: false,
        };
        if !created.created() || created.canceled() || created.compact_revision() != 0 {
            return Err(watch.translate(created).err().unwrap_or_else(|| {
                StorageError::Internal("etcd did not create the watch".to_owned())
            }));
        }
        Ok(Box::pin(watch))
    }
}

/// One etcd watch, alive as long as this stream is.
struct EtcdWatch {
    /// Keeps the request side of the gRPC stream open: dropping it would half-close the watch.
    _sender: WatchRequestSender,
    responses: WatchResponseStream,
    /// The revision the watch started after (for error reports).
    after: Revision,
    /// Items of an already received response not yet handed out.
    pending: VecDeque<WatchItem>,
    /// Set after an error or the end of the stream: nothing more follows.
    done: bool,
}

impl EtcdWatch {
    /// Turns one etcd response into pending items, or an error that ends the stream.
    fn translate(&mut self, resp: WatchResponse) -> Result<(), StorageError> {
        if resp.compact_revision() != 0 {
            return Err(StorageError::Compacted {
                requested: self.after,
                compacted: resp.compact_revision(),
            });
        }
        if resp.canceled() {
            let reason = resp.cancel_reason();
            return Err(if reason.contains("compacted") {
                StorageError::Compacted {
                    requested: self.after,
                    compacted: 0,
                }
            } else {
                StorageError::Unavailable(format!("etcd canceled the watch: {reason}"))
            });
        }
        let events = resp.events();
        if events.is_empty() {
            if !resp.created() {
                // A progress notification: everything up to the header revision was sent.
                self.pending
                    .push_back(WatchItem::Progress(header_revision(resp.header())?));
            }
            return Ok(());
        }
        // One response may carry several revisions; the boundary promises one batch each.
        let events = events
            .iter()
            .map(convert_event)
            .collect::<Result<Vec<_>, _>>()?;
        self.pending
            .extend(split_by_revision(events).map(WatchItem::Events));
        Ok(())
    }
}

/// Splits events (in revision order) into runs of one revision each.
fn split_by_revision(events: Vec<WatchEvent>) -> impl Iterator<Item = Vec<WatchEvent>> {
    let mut batches: Vec<Vec<WatchEvent>> = Vec::new();
    for event in events {
        match batches.last_mut() {
            Some(batch)
                if batch.last().map(|e| e.kv.mod_revision) == Some(event.kv.mod_revision) =>
            {
                batch.push(event)
            }
            _ => batches.push(vec![event]),
        }
    }
    batches.into_iter()
}

fn convert_event(event: &etcd_client::Event) -> Result<WatchEvent, StorageError> {
    let kind = match event.event_type() {
        EventType::Put => EventKind::Put,
        EventType::Delete => EventKind::Delete,
    };
    let kv = event
        .kv()
        .cloned()
        .map(key_value)
        .ok_or_else(|| StorageError::Internal("etcd watch event without a key".to_owned()))?;
    let prev_kv = event.prev_kv().cloned().map(key_value);
    Ok(WatchEvent { kind, kv, prev_kv })
}

impl Stream for EtcdWatch {
    type Item = Result<WatchItem, StorageError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.responses).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(StorageError::Unavailable(
                        "etcd closed the watch stream".to_owned(),
                    ))));
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(CallError::from(e).into_storage(this.after))));
                }
                Poll::Ready(Some(Ok(resp))) => {
                    if let Err(e) = this.translate(resp) {
                        this.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::kv::KeyValue;

    fn event(key: &str, revision: Revision) -> WatchEvent {
        WatchEvent {
            kind: EventKind::Put,
            kv: KeyValue {
                key: Bytes::copy_from_slice(key.as_bytes()),
                value: Bytes::new(),
                create_revision: revision,
                mod_revision: revision,
            },
            prev_kv: None,
        }
    }

    #[test]
    fn one_batch_per_revision_in_order() {
        let events = vec![event("a", 5), event("b", 6), event("c", 6), event("d", 8)];
        let batches: Vec<Vec<String>> = split_by_revision(events)
            .map(|batch| {
                batch
                    .iter()
                    .map(|e| String::from_utf8_lossy(&e.kv.key).into_owned())
                    .collect()
            })
            .collect();
        assert_eq!(batches, vec![vec!["a"], vec!["b", "c"], vec!["d"]]);
        assert_eq!(split_by_revision(Vec::new()).count(), 0);
    }
}
