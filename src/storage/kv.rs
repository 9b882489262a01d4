//! The storage boundary: bytes plus revisions.
//!
//! This is the whole contract between the Kubernetes object model above and a storage engine
//! below (the embedded MVCC store or etcd). It is modelled on the small interface Kubernetes
//! really needs from etcd: get, list, count, optimistic put, optimistic delete, watch, each at a
//! revision. Codecs, uid preconditions, guaranteed-update retry loops and defaulting live above
//! it; nothing backend-specific leaks into it.
//!
//! A backend is owned by the storage thread (see `storage::thread`), which runs a tokio
//! current-thread runtime; the methods are `async` and their futures are `Send` so either
//! backend can run there.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

/// A store revision: etcd's `mod_revision` space, which is also Kubernetes' resourceVersion.
/// Revisions start at 1 and only grow; 0 means "none" (e.g. "latest" in a read request).
pub type Revision = i64;

/// One key with its value and the revisions that created and last modified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key, e.g. `/registry/configmaps/default/x`.
    pub key: Bytes,
    /// The stored bytes (a JSON object for Kubernetes resources).
    pub value: Bytes,
    /// The revision at which this key was (last) created.
    pub create_revision: Revision,
    /// The revision of the last write to this key; the object's resourceVersion.
    pub mod_revision: Revision,
}

/// What must hold for a write to apply. Checked atomically with the write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// No write condition.
    None,
    /// The key must not exist (create).
    Absent,
    /// The key must exist with exactly this `mod_revision` (update / delete of a known version).
    ModRevision(Revision),
    /// The key must exist, at any revision.
    Exists,
}

/// The result of an optimistic write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The write applied at `revision`. For a delete, `previous` is the value deleted.
    Applied {
        /// The revision the write created.
        revision: Revision,
        /// The value the key held before the write, if any.
        previous: Option<KeyValue>,
    },
    /// The precondition failed; `current` is what the key holds now (None when absent) and
    /// `revision` the store revision at which that was observed.
    PreconditionFailed {
        /// The key's current state, if it exists.
        current: Option<KeyValue>,
        /// The store revision of the observation.
        revision: Revision,
    },
}

/// A range read over a prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Keys that start with this prefix are returned, in key order.
    pub prefix: Bytes,
    /// Return only keys strictly greater than this one (a continue token's key).
    pub start_after: Option<Bytes>,
    /// At most this many items; 0 means no limit.
    pub limit: usize,
    /// Read at this revision; 0 means the latest.
    pub revision: Revision,
}

/// The answer to a [`ListRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListResponse {
    /// The items in key order.
    pub items: Vec<KeyValue>,
    /// True when more keys under the prefix follow the last item.
    pub more: bool,
    /// The revision the list was read at (the store's current one for a latest read).
    pub revision: Revision,
}

/// The kind of change a watch event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created or updated.
    Put,
    /// The key was deleted.
    Delete,
}

/// One change, in revision order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// Put or delete.
    pub kind: EventKind,
    /// For a put, the new state. For a delete, the key with an empty value and
    /// `mod_revision` = the delete's revision.
    pub kv: KeyValue,
    /// The state before this change (always set for deletes and for updates).
    pub prev_kv: Option<KeyValue>,
}

/// An item of a watch stream: events, or a progress notice that everything up to a revision
/// has been sent (lets idle watchers keep their resourceVersion fresh).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchItem {
    /// Changes in revision order; all events of one revision arrive in one batch.
    Events(Vec<WatchEvent>),
    /// No events up to and including this revision remain unsent.
    Progress(Revision),
}

/// A stream of watch items; ends on error or when the store goes away.
pub type WatchStream =
    Pin<Box<dyn futures_lite::Stream<Item = Result<WatchItem, StorageError>> + Send>>;

/// Errors of the storage layer. Precondition failures are not errors ([`WriteOutcome`]).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageError {
    /// The requested revision was compacted away (410 Gone, reason Expired, above).
    #[error("required revision {requested} has been compacted (oldest available {compacted})")]
    Compacted {
        /// The revision asked for.
        requested: Revision,
        /// The compaction point: revisions at or below it are gone.
        compacted: Revision,
    },
    /// The requested revision is newer than the store's (a future resourceVersion).
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// The backend cannot be reached or did not answer in time (5xx above).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The on-disk data is damaged beyond a torn tail.
    #[error("storage corrupt: {0}")]
    Corrupt(String),
    /// Anything else the backend reported.
    #[error("storage error: {0}")]
    Internal(String),
}

/// The byte+revision storage engine interface, implemented by the embedded store and etcd.
pub trait KvStore: Send + Sync + 'static {
    /// One key at a revision (0 = latest). Returns the item and the revision read at.
    fn get(
        &self,
        key: Bytes,
        revision: Revision,
    ) -> impl Future<Output = Result<(Option<KeyValue>, Revision), StorageError>> + Send;

    /// A range of keys under a prefix, in key order, at one revision.
    fn list(
        &self,
        req: ListRequest,
    ) -> impl Future<Output = Result<ListResponse, StorageError>> + Send;

    /// How many keys exist under a prefix now.
    fn count(&self, prefix: Bytes) -> impl Future<Output = Result<u64, StorageError>> + Send;

    /// Write `value` at `key` if `precondition` holds. Acknowledged only once durable.
    fn put(
        &self,
        key: Bytes,
        value: Bytes,
        precondition: Precondition,
    ) -> impl Future<Output = Result<WriteOutcome, StorageError>> + Send;

    /// Delete `key` if `precondition` holds. Deleting an absent key is a failed precondition.
    fn delete(
        &self,
        key: Bytes,
        precondition: Precondition,
    ) -> impl Future<Output = Result<WriteOutcome, StorageError>> + Send;

    /// Every change under `prefix` with a revision greater than `after`, in revision order,
    /// then live changes. `after` older than the compaction point: `Compacted`.
    fn watch(
        &self,
        prefix: Bytes,
        after: Revision,
    ) -> impl Future<Output = Result<WatchStream, StorageError>> + Send;

    /// The store's current revision (what a consistent read must wait for).
    fn current_revision(&self) -> impl Future<Output = Result<Revision, StorageError>> + Send;

    /// Drop history at or below `revision`; later reads and watches there are `Compacted`.
    fn compact(&self, revision: Revision) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// The database's size on disk in bytes and the id of the cluster holding it (upstream's
    /// `apiserver_storage_size_bytes{storage_cluster_id}`); None where the backend cannot say.
    fn db_size(&self) -> impl Future<Output = Result<Option<DbSize>, StorageError>> + Send {
        std::future::ready(Ok(None))
    }
}

/// A backend's database size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbSize {
    /// The cluster's id (etcd's, in hex; `embedded` for the embedded store).
    pub cluster_id: String,
    /// Bytes on disk.
    pub bytes: u64,
}
