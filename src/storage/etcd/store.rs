//! [`EtcdStore`]: the connection, and the reads (get, list, count, current revision, compact).

use std::time::Duration;

use bytes::Bytes;
use etcd_client::{Client, CompactionOptions, GetOptions, KvClient, WatchClient};

use super::config::{EtcdConfig, MAX_RESPONSE_BYTES};
use super::convert::{header_revision, key_after, key_value, prefix_end};
use super::error::{bounded, CallError};
use crate::storage::kv::{KeyValue, ListRequest, ListResponse, Revision, StorageError};

/// The etcd v3 storage backend: one gRPC client (cheap to clone) to the configured endpoints.
///
/// Connecting is lazy: [`EtcdStore::connect`] does not wait for etcd, every request is bounded
/// by the configured `request_timeout` (past it: [`StorageError::Unavailable`]), and the
/// underlying channel reconnects on its own when etcd comes back.
#[derive(Clone)]
pub struct EtcdStore {
    /// Owns the balanced channel's endpoint list (kept so endpoints stay managed, e.g. for a
    /// later `add_endpoint`); requests go through the two handles below, the Status call (the
    /// database size) through this one.
    client: Client,
    kv: KvClient,
    watch: WatchClient,
    config: EtcdConfig,
}

impl EtcdStore {
    /// Builds the client for `config`. Fails only on a bad configuration (no endpoints, an
    /// unreadable TLS file, a malformed URL); an unreachable etcd shows up on the first request.
    /// Must be called inside a tokio runtime (the client spawns its connection task there).
    pub async fn connect(config: EtcdConfig) -> Result<EtcdStore, StorageError> {
        let options = config.connect_options()?;
        let client = bounded(
            config.request_timeout,
            Client::connect(&config.endpoints, Some(options)),
        )
        .await
        .map_err(|e| e.into_storage(0))?;
        Ok(EtcdStore {
            kv: client
                .kv_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch: client
                .watch_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            client,
            config,
        })
    }

    /// The key prefix all resources live under (`--etcd-prefix`).
    pub fn prefix(&self) -> &str {
        &self.config.prefix
    }

    /// The configuration this store was built from.
    pub fn config(&self) -> &EtcdConfig {
        &self.config
    }

    /// The bound on one request.
    pub(super) fn timeout(&self) -> Duration {
        self.config.request_timeout
    }

    /// A handle for one KV call (a clone of the shared channel; the client needs `&mut`).
    pub(super) fn kv(&self) -> KvClient {
        self.kv.clone()
    }

    /// A handle for one watch (a clone of the shared channel).
    pub(super) fn watch_client(&self) -> WatchClient {
        self.watch.clone()
    }

    /// Fills the current revision into a `FutureRevision` error (one extra round trip, on the
    /// error path only).
    async fn read_error(&self, e: CallError, requested: Revision) -> StorageError {
        match e {
            CallError::FutureRevision => StorageError::FutureRevision {
                requested,
                current: self.current_revision_inner().await.unwrap_or(0),
            },
            other => other.into_storage(requested),
        }
    }

    pub(super) async fn get_inner(
        &self,
        key: Bytes,
        revision: Revision,
    ) -> Result<(Option<KeyValue>, Revision), StorageError> {
        let mut options = GetOptions::new();
        if revision > 0 {
            options = options.with_revision(revision);
        }
        let mut kv = self.kv();
        let mut resp = match bounded(self.timeout(), kv.get(key.to_vec(), Some(options))).await {
            Ok(resp) => resp,
            Err(e) => return Err(self.read_error(e, revision).await),
        };
        let read_at = read_revision(revision, header_revision(resp.header())?);
        let item = resp.take_kvs().into_iter().next().map(key_value);
        Ok((item, read_at))
    }

    pub(super) async fn list_inner(&self, req: ListRequest) -> Result<ListResponse, StorageError> {
        let (prefix_key, end) = range_of(&req.prefix);
        let start = match &req.start_after {
            Some(after) => {
                let next = key_after(after);
                if next > prefix_key {
                    next
                } else {
                    prefix_key
                }
            }
            None => prefix_key,
        };
        let mut options = GetOptions::new().with_range(end);
        if req.limit > 0 {
            options = options.with_limit(i64::try_from(req.limit).unwrap_or(i64::MAX));
        }
        if req.revision > 0 {
            options = options.with_revision(req.revision);
        }
        let mut kv = self.kv();
        let mut resp = match bounded(self.timeout(), kv.get(start, Some(options))).await {
            Ok(resp) => resp,
            Err(e) => return Err(self.read_error(e, req.revision).await),
        };
        let revision = read_revision(req.revision, header_revision(resp.header())?);
        let more = resp.more();
        let items = resp.take_kvs().into_iter().map(key_value).collect();
        Ok(ListResponse {
            items,
            more,
            revision,
        })
    }

    pub(super) async fn count_inner(&self, prefix: Bytes) -> Result<u64, StorageError> {
        let (start, end) = range_of(&prefix);
        let options = GetOptions::new().with_range(end).with_count_only();
        let mut kv = self.kv();
        let resp = bounded(self.timeout(), kv.get(start, Some(options)))
            .await
            .map_err(|e| e.into_storage(0))?;
        Ok(u64::try_from(resp.count()).unwrap_or(0))
    }

    pub(super) async fn current_revision_inner(&self) -> Result<Revision, StorageError> {
        // The cheapest linearizable read: count one key. Only the header matters.
        let key = if self.config.prefix.is_empty() {
            "/"
        } else {
            self.config.prefix.as_str()
        };
        let options = GetOptions::new().with_count_only();
        let mut kv = self.kv();
        let resp = bounded(self.timeout(), kv.get(key, Some(options)))
            .await
            .map_err(|e| e.into_storage(0))?;
        header_revision(resp.header())
    }

    /// The member's database size and the cluster's id (etcd's Status call).
    pub(super) async fn db_size_inner(&self) -> Result<crate::storage::kv::DbSize, StorageError> {
        let mut client = self.client.clone();
        let status = bounded(self.timeout(), client.status())
            .await
            .map_err(|e| e.into_storage(0))?;
        Ok(crate::storage::kv::DbSize {
            cluster_id: status
                .header()
                .map_or_else(String::new, |h| format!("{:x}", h.cluster_id())),
            bytes: u64::try_from(status.db_size()).unwrap_or(0),
        })
    }

    pub(super) async fn compact_inner(&self, revision: Revision) -> Result<(), StorageError> {
        let mut kv = self.kv();
        let call = kv.compact(revision, Some(CompactionOptions::new()));
        match bounded(self.timeout(), call).await {
            Ok(_) => Ok(()),
            // Already compacted at or past `revision`: the history is gone, as asked.
            Err(CallError::Compacted) => Ok(()),
            Err(e) => Err(self.read_error(e, revision).await),
        }
    }
}

/// The revision a read answered at: the one asked for, or the store's for a latest read.
fn read_revision(requested: Revision, header: Revision) -> Revision {
    if requested > 0 {
        requested
    } else {
        header
    }
}

/// `[start, end)` of every key under `prefix`; an empty prefix is the whole keyspace.
pub(super) fn range_of(prefix: &[u8]) -> (Vec<u8>, Vec<u8>) {
    if prefix.is_empty() {
        (vec![0], vec![0])
    } else {
        (prefix.to_vec(), prefix_end(prefix))
    }
}
