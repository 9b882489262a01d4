//! The task that keeps a shard's replica current: a full list at start (and after a lost
//! event), then the shard's event lane, in revision order.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::WatchCache;
use crate::storage::kv::{ListRequest, Revision, StorageError};
use crate::storage::lanes::{LaneItem, LaneReceiver};
use crate::storage::thread::StorageClient;

/// Items listed per storage request while (re)building the replica.
const LIST_PAGE: usize = 10_000;

/// Feeds `cache` from `lane` until `stop` completes. Lists everything under `prefix` first;
/// lists again whenever the lane reports lost events.
pub async fn run_feed(
    cache: WatchCache,
    mut lane: LaneReceiver,
    storage: StorageClient,
    prefix: Bytes,
    stop: impl std::future::Future<Output = ()>,
) {
    let run = async {
        loop {
            // The list must not predate the upstream watch, or events between them are lost.
            while !storage.watching() {
                shards::sleep(Duration::from_millis(20)).await;
            }
            match list_all(&cache, &storage, &prefix).await {
                Ok(()) => {}
                Err(e) => {
                    log::warn!("watch cache: cannot list the store yet: {e}");
                    shards::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
            loop {
                match lane.recv().await {
                    LaneItem::Batch(b) => cache.apply(&b),
                    LaneItem::Progress(r) => cache.progress(r),
                    LaneItem::Resync => {
                        log::info!("watch cache: events were lost; rebuilding the replica");
                        break;
                    }
                }
            }
        }
    };
    futures_lite::future::or(run, stop).await;
}

/// Replaces the replica with everything under `prefix` at one revision.
async fn list_all(
    cache: &WatchCache,
    storage: &StorageClient,
    prefix: &Bytes,
) -> Result<(), StorageError> {
    let decorator = Arc::clone(&cache.config().decorator);
    let mut items = Vec::new();
    let mut revision: Revision = 0;
    let mut start_after = None;
    loop {
        let page = storage
            .list(ListRequest {
                prefix: prefix.clone(),
                start_after: start_after.take(),
                limit: LIST_PAGE,
                revision,
            })
            .await?;
        revision = page.revision;
        start_after = page.items.last().map(|kv| kv.key.clone());
        items.extend(page.items.iter().map(|kv| decorator.object(kv)));
        if !page.more {
            break;
        }
    }
    cache.reset(items, revision);
    cache
        .config()
        .metrics
        .resyncs
        .fetch_add(1, Ordering::Relaxed);
    Ok(())
}
