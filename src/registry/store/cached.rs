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

use super::facts::RequestFacts;
use super::list::{PageItem, Selectors};
use super::{storage_call, Store};
use crate::api::resources::ApiResource;
use crate::api::status::Status;
use crate::api::Revision;
use crate::registry::keys;
use crate::storage::cache::{Objects, WatchCache};
use crate::storage::kv::StorageError;

/// What freshness a read asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Freshness {
    /// resourceVersion unset: at least the backend's current revision.
    Consistent,
    /// resourceVersion "0": any revision the replica has.
    Any,
    /// At least this revision.
    NotOlderThan(Revision),
}

impl Store {
    /// The shard's cache and the resource's index in it, when this resource is cached (its
    /// ring is found once per key segment, not per read).
    pub(super) fn cache_for(&self, res: &ApiResource) -> Option<(&WatchCache, usize)> {
        let cache = self.cache.as_ref()?;
        let segment = res.key_segment;
        let mut slots = self.cache_slots.borrow_mut();
        let index = *slots.entry(segment).or_insert_with(|| {
            let root = keys::collection_prefix(&self.prefix, segment, None);
            cache.resource_index(root.as_bytes())
        });
        Some((cache, index?))
    }

    /// Waits until the replica is fresh enough; Ok(false) means "read the backend instead".
    pub(super) async fn cache_fresh(
        &self,
        req: &RequestFacts,
        cache: &WatchCache,
        want: Freshness,
    ) -> Result<bool, Status> {
        let wait = cache
            .config()
            .consistent_read_wait
            .min(req.deadline.saturating_duration_since(Instant::now()));
        match want {
            Freshness::Any => Ok(cache.wait_for(0, wait).await),
            Freshness::Consistent => {
                let current = storage_call(req.deadline, self.storage.current_revision()).await?;
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
    pub(super) async fn settle(&self, req: &RequestFacts, revision: Revision) {
        if let Some(cache) = &self.cache {
            let wait = cache
                .config()
                .consistent_read_wait
                .min(req.deadline.saturating_duration_since(Instant::now()));
            cache.wait_for(revision, wait).await;
        }
    }
}

/// The freshness a GET or a list without `resourceVersionMatch=Exact` asks for.
pub(super) fn freshness(rv: &str) -> Result<Freshness, Status> {
    match rv {
        "" => Ok(Freshness::Consistent),
        "0" => Ok(Freshness::Any),
        n => n
            .parse::<Revision>()
            .ok()
            .filter(|r| *r > 0)
            .map(Freshness::NotOlderThan)
            .ok_or_else(|| Status::bad_request(format!("invalid resource version: {n:?}"))),
    }
}

/// Up to `limit` (0: all) objects under `collection` matching `sel`, after `start_after`.
/// The second value is the last key returned when more objects follow.
pub(super) fn page_of(
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
