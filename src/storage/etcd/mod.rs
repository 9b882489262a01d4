//! The etcd v3 backend.
//!
//! Keys are passed through unchanged (the layer above builds kube-apiserver's layout,
//! `/registry/<resource>/<namespace>/<name>`), values are stored as given, and the revision of
//! every answer is etcd's. Optimistic writes are single transactions (compare on
//! `create_revision`/`mod_revision`/`version`, else read the current value); every request is
//! bounded by the configured timeout and fails `Unavailable` past it.
//!
//! - `config`: [`EtcdConfig`], the `--etcd-*` flags.
//! - `store`: [`EtcdStore`], connecting and the reads.
//! - `write`: put and delete as transactions.
//! - `watch`: the etcd watch as a [`WatchStream`](crate::storage::kv::WatchStream).
//! - `convert`, `error`: type and error mapping.

mod config;
mod convert;
mod error;
mod store;
mod watch;
mod write;

pub use config::{
    EtcdConfig, DEFAULT_PREFIX, DEFAULT_REQUEST_TIMEOUT, KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT,
    MAX_RESPONSE_BYTES,
};
pub use store::EtcdStore;

use bytes::Bytes;

use crate::storage::kv::{
    KeyValue, KvStore, ListRequest, ListResponse, Precondition, Revision, StorageError,
    WatchStream, WriteOutcome,
};

impl KvStore for EtcdStore {
    async fn get(
        &self,
        key: Bytes,
        revision: Revision,
    ) -> Result<(Option<KeyValue>, Revision), StorageError> {
        self.get_inner(key, revision).await
    }

    async fn list(&self, req: ListRequest) -> Result<ListResponse, StorageError> {
        self.list_inner(req).await
    }

    async fn count(&self, prefix: Bytes) -> Result<u64, StorageError> {
        self.count_inner(prefix).await
    }

    async fn put(
        &self,
        key: Bytes,
        value: Bytes,
        precondition: Precondition,
    ) -> Result<WriteOutcome, StorageError> {
        self.put_inner(key, value, precondition).await
    }

    async fn delete(
        &self,
        key: Bytes,
        precondition: Precondition,
    ) -> Result<WriteOutcome, StorageError> {
        self.delete_inner(key, precondition).await
    }

    async fn watch(&self, prefix: Bytes, after: Revision) -> Result<WatchStream, StorageError> {
        self.watch_inner(prefix, after).await
    }

    async fn current_revision(&self) -> Result<Revision, StorageError> {
        self.current_revision_inner().await
    }

    async fn compact(&self, revision: Revision) -> Result<(), StorageError> {
        self.compact_inner(revision).await
    }

    async fn db_size(&self) -> Result<Option<crate::storage::kv::DbSize>, StorageError> {
        self.db_size_inner().await.map(Some)
    }
}
