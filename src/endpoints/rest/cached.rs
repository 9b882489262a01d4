//! Reads answered from the shard's watch cache, with upstream's resourceVersion semantics:
//! unset = consistent (learn the backend's revision, wait for the replica to reach it, as
//! KEP-2340), "0" = whatever the replica has, N = not older than N (wait for it; too far
//! ahead is 504 "Too large resource version"). When the replica cannot answer (not built yet,
//! resource not cached, a consistent read it does not catch up with in time, an Exact list
//! of a revision it no longer has) the caller reads the backend, as upstream falls back to
//! etcd.

use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;

use super::list::Selectors;
use super::{storage_call, RestApi, Target};
use crate::endpoints::status::StatusError;
use crate::storage::cache::{Objects, WatchCache};
use crate::storage::kv::{Revision, StorageError};

/// What freshness a read asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// resourceVersion unset: at least the backend's current revision.
    Consistent,
    /// resourceVersion "0": any revision the replica has.
    Any,
    /// At least this revision.
    NotOlderThan(Revision),
}

/// One item of a page: its key and its response bytes.
pub(crate) struct PageItem {
    pub(crate) key: Bytes,
    pub(crate) json: Bytes,
}

impl RestApi {
    /// The shard's cache and the resource's index in it, when this resource is cached.
    pub(crate) fn cache_for(&self, t: &Target<'_>) -> Option<(&WatchCache, usize)> {
        let cache = self.cache.as_ref()?;
        let index = *self.cache_slots.get(&t.res.key_segment)?;
        Some((cache, index))
    }

    /// Waits until the replica is fresh enough; Ok(false) means "read the backend instead".
    pub(crate) async fn cache_fresh(
        &self,
        t: &Target<'_>,
        cache: &WatchCache,
        want: Freshness,
    ) -> Result<bool, StatusError> {
        let wait = cache
            .config()
            .consistent_read_wait
            .min(t.deadline.saturating_duration_since(Instant::now()));
        match want {
            Freshness::Any => Ok(cache.wait_for(0, wait).await),
            Freshness::Consistent => {
                let current = storage_call(t.deadline, self.storage.current_revision()).await?;
                if cache.wait_for(current, wait).await {
                    Ok(true)
                } else {
                    cache
                        .config()
                        .metrics
                        .consistent_read_fallbacks
                        .fetch_add(1, Ordering::Relaxed);
                    Ok(false)
                }
            }
            Freshness::NotOlderThan(rev) => {
                if cache.wait_for(rev, wait).await {
                    Ok(true)
                } else if !cache.is_ready() {
                    Ok(false)
                } else {
                    Err(super::storage_status(StorageError::FutureRevision {
                        requested: rev,
                        current: cache.revision(),
                    }))
                }
            }
        }
    }

    /// After a write at `revision`: waits (briefly) until this shard's replica has it, so a
    /// read on any connection that follows the response sees the write.
    pub(crate) async fn settle(&self, t: &Target<'_>, revision: Revision) {
        if let Some(cache) = &self.cache {
            let wait = cache
                .config()
                .consistent_read_wait
                .min(t.deadline.saturating_duration_since(Instant::now()));
            cache.wait_for(revision, wait).await;
        }
    }
}

/// The freshness a GET or a list without `resourceVersionMatch=Exact` asks for.
pub(crate) fn freshness(rv: &str) -> Result<Freshness, StatusError> {
    match rv {
        "" => Ok(Freshness::Consistent),
        "0" => Ok(Freshness::Any),
        n => n
            .parse::<Revision>()
            .ok()
            .filter(|r| *r > 0)
            .map(Freshness::NotOlderThan)
            .ok_or_else(|| StatusError::bad_request(format!("invalid resource version: {n:?}"))),
    }
}

/// Up to `limit` (0: all) objects under `collection` matching `sel`, after `start_after`.
/// The second value is the last key returned when more objects follow.
pub(crate) fn page_of(
    objects: &Objects,
    collection: &[u8],
    start_after: Option<&[u8]>,
    sel: &Selectors,
    limit: usize,
) -> (Vec<PageItem>, Option<Bytes>) {
    let lower = match start_after {
        Some(k) => Bound::Excluded(Bytes::copy_from_slice(k)),
        None => Bound::Included(Bytes::copy_from_slice(collection)),
    };
    let mut items = Vec::new();
    let mut iter = objects
        .range((lower, Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(collection));
    for (key, obj) in iter.by_ref() {
        if sel.is_empty() || sel.matches_value(&obj.selectable) {
            items.push(PageItem {
                key: key.clone(),
                json: obj.json.clone(),
            });
            if limit != 0 && items.len() >= limit {
                break;
            }
        }
    }
    let more = limit != 0 && items.len() >= limit && iter.next().is_some();
    let last = if more {
        items.last().map(|i| i.key.clone())
    } else {
        None
    };
    (items, last)
}
