//! The generic object lifecycle: one [`Store`] runs every verb (get, list, watch, create,
//! update, patch, delete, deletecollection, status, scale and a kind's own subresources) for
//! every row of the resource table, as upstream's generic registry store does. It takes the
//! request's facts as one typed value ([`RequestFacts`]) and answers with values ([`Stored`],
//! [`Listed`], a [`WatchStream`]) or a `metav1.Status`; it never sees HTTP.
//!
//! Every write passes one pre-write point: the kind's strategy and hooks prepare the object,
//! mutating admission may change it, validation and validating admission may refuse it, the
//! kind's allocations run, then storage. Updates and patches run inside one optimistic retry
//! loop with one read per attempt. Reads come from the shard's watch cache when it can answer
//! (upstream's resourceVersion semantics), else from the backend.

pub mod admission;
mod apply;
mod cached;
mod create;
mod decode;
mod delete;
mod facts;
mod list;
mod options;
pub mod ownership;
mod patch;
mod pod_actions;
mod reads;
mod scale;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod update;
mod watch;
mod watch_cache;

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use shards::signal::Signal;

pub use self::admission::{AdmissionChain, AdmissionPlugin, Attributes, Operation};
pub use self::facts::{AuditAnnotations, RequestFacts, Warnings};
pub use self::list::{Listed, PageItem};
pub use self::options::{
    dry_run, randomized_watch_timeout, DeleteOptions, ListOptions, Preconditions, Propagation,
};
pub use self::watch::{bookmark_line, WatchStream};
use super::resources::{Resource, ResourceTable};
use super::{keys, kinds};
use crate::api::object::with_resource_version;
use crate::api::status::{Reason, Status};
use crate::api::Revision;
use crate::storage::cache::WatchCache;
use crate::storage::kv::{KeyValue, Precondition, StorageError, WriteOutcome};
use crate::storage::thread::StorageClient;

/// How many times an unconditional update retries a lost race before giving up.
pub const UPDATE_RETRIES: usize = 8;

/// The largest object stored (etcd's default request limit, which upstream inherits).
pub const MAX_OBJECT_BYTES: usize = 3 * 1024 * 1024 / 2;

/// An answer carrying one object (or a Status of success): the HTTP code, the JSON body, the
/// revision it is at, and the warnings to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// 200 or 201.
    pub code: u16,
    /// The JSON document.
    pub body: Bytes,
    /// The revision the answer reflects.
    pub revision: Revision,
    /// `Warning` headers to send.
    pub warnings: Vec<String>,
}

impl Stored {
    fn ok(body: Bytes, revision: Revision) -> Self {
        Self {
            code: 200,
            body,
            revision,
            warnings: Vec::new(),
        }
    }

    fn created(body: Bytes, revision: Revision) -> Self {
        Self {
            code: 201,
            ..Self::ok(body, revision)
        }
    }

    fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }
}

/// The lifecycle for one shard: its resource table, storage, watch cache and admission.
pub struct Store {
    table: Rc<ResourceTable>,
    storage: StorageClient,
    prefix: String,
    /// The shard's watch cache replica; None: every read goes to the backend.
    cache: Option<WatchCache>,
    /// Each cached resource's ring in the replica, by key segment (found once per segment).
    cache_slots: RefCell<HashMap<&'static str, Option<usize>>>,
    admission: AdmissionChain,
    /// Fires when the server stops accepting requests: open watches end.
    stopping: Arc<Signal>,
}

/// How one optimistic write of a retry loop ended.
enum Attempt {
    /// Applied at this revision.
    Done(Revision),
    /// Lost a race with another writer: read again and retry.
    Retry,
}

impl Store {
    /// The lifecycle over `table`, storing under `prefix` (e.g. `/registry`).
    pub fn new(
        table: Rc<ResourceTable>,
        storage: StorageClient,
        prefix: String,
        cache: Option<WatchCache>,
        admission: AdmissionChain,
        stopping: Arc<Signal>,
    ) -> Self {
        Self {
            table,
            storage,
            prefix,
            cache,
            cache_slots: RefCell::new(HashMap::new()),
            admission,
            stopping,
        }
    }

    /// The storage prefix objects are kept under (e.g. `/registry`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The shard's watch-cache replica, when it has one.
    pub fn cache(&self) -> Option<&WatchCache> {
        self.cache.as_ref()
    }

    /// The replica's change marker of the resource stored under `segment` (None: the replica
    /// does not hold it): the server's own controllers compare it to skip a pass when nothing
    /// changed.
    pub fn replica_changes(&self, segment: &str) -> Option<(u64, u64)> {
        let cache = self.cache.as_ref()?;
        let root = keys::collection_prefix(&self.prefix, segment, None);
        Some(cache.changes(cache.resource_index(root.as_bytes())?))
    }

    /// Whether the storage backend answered its last health probe (what `componentstatuses`
    /// reports as `etcd-0`).
    pub fn backend_healthy(&self) -> bool {
        self.storage.healthy()
    }

    /// The resource table this store serves.
    pub fn table(&self) -> &Rc<ResourceTable> {
        &self.table
    }

    /// What admission sees of a write.
    fn attributes<'a>(
        &'a self,
        operation: Operation,
        res: &'a Resource,
        req: &'a RequestFacts,
        name: &'a str,
        old: Option<&'a kinds::Object>,
    ) -> Attributes<'a> {
        Attributes {
            operation,
            resource: &res.api,
            request: req,
            name,
            old,
            reads: self,
        }
    }

    fn key(&self, res: &Resource, namespace: Option<&str>, name: &str) -> Bytes {
        Bytes::from(keys::object_key(
            &self.prefix,
            res.api.key_segment,
            namespace,
            name,
        ))
    }

    fn collection(&self, res: &Resource, namespace: Option<&str>) -> String {
        keys::collection_prefix(&self.prefix, res.api.key_segment, namespace)
    }

    /// The stored object `name` as the backend has it now; 404 when there is none.
    async fn current(
        &self,
        res: &Resource,
        req: &RequestFacts,
        name: &str,
    ) -> Result<KeyValue, Status> {
        let key = self.key(res, req.namespace.as_deref(), name);
        let (kv, _) = storage_call(req.deadline, self.storage.get(key, 0)).await?;
        kv.ok_or_else(|| Status::not_found(res.api.group, res.api.plural, name))
    }

    /// Writes `bytes` (or deletes, with None) at the revision the loop read. A lost race is a
    /// retry, unless the client pinned a resourceVersion (then 409); a vanished object is 404.
    async fn write_at(
        &self,
        res: &Resource,
        req: &RequestFacts,
        name: &str,
        read_revision: Revision,
        bytes: Option<Bytes>,
        pinned: bool,
    ) -> Result<Attempt, Status> {
        let key = self.key(res, req.namespace.as_deref(), name);
        let pre = Precondition::ModRevision(read_revision);
        let outcome = match bytes {
            Some(b) => storage_call(req.deadline, self.storage.put(key, b, pre)).await?,
            None => storage_call(req.deadline, self.storage.delete(key, pre)).await?,
        };
        match outcome {
            WriteOutcome::Applied { revision, .. } => {
                self.settle(req, revision).await;
                Ok(Attempt::Done(revision))
            }
            WriteOutcome::PreconditionFailed { current: None, .. } => {
                Err(Status::not_found(res.api.group, res.api.plural, name))
            }
            WriteOutcome::PreconditionFailed { .. } if pinned => Err(Status::conflict_modified(
                res.api.group,
                res.api.plural,
                name,
            )),
            WriteOutcome::PreconditionFailed { .. } => Ok(Attempt::Retry),
        }
    }
}

/// The object's bytes as stored, or upstream's 413 when they are over the object limit.
fn encode(obj: &serde_json::Map<String, serde_json::Value>) -> Result<Bytes, Status> {
    let bytes = serde_json::to_vec(obj).map_err(Status::internal)?;
    if bytes.len() > MAX_OBJECT_BYTES {
        return Err(Status::new(
            Reason::RequestEntityTooLarge,
            "Request entity too large: etcdserver: request is too large",
        ));
    }
    Ok(Bytes::from(bytes))
}

/// The answer for an object at `revision`: its JSON with the resourceVersion spliced in.
fn answer(stored: &[u8], revision: Revision) -> Bytes {
    with_resource_version(stored, revision)
}

/// The answer for an object read from the backend (not the watch cache, which holds them
/// normalized already): decoded as upstream decodes it, then answered at its revision.
fn served(res: &Resource, stored: &[u8], revision: Revision) -> Bytes {
    match serde_json::from_slice::<serde_json::Value>(stored) {
        Ok(serde_json::Value::Object(mut obj)) => {
            res.normalize(&mut obj);
            match serde_json::to_vec(&obj) {
                Ok(bytes) => with_resource_version(&bytes, revision),
                Err(_) => with_resource_version(stored, revision),
            }
        }
        _ => with_resource_version(stored, revision),
    }
}

/// Runs a storage call bounded by the request's deadline; storage errors become Statuses.
pub async fn storage_call<T>(
    deadline: Instant,
    fut: impl Future<Output = Result<T, StorageError>>,
) -> Result<T, Status> {
    let left = deadline.saturating_duration_since(Instant::now());
    let raced = futures_lite::future::or(async { Some(fut.await) }, async {
        shards::sleep(left).await;
        None
    })
    .await;
    match raced {
        None => Err(Status::timeout()),
        Some(r) => r.map_err(storage_status),
    }
}

/// How a storage error reaches the client.
pub fn storage_status(e: StorageError) -> Status {
    match e {
        StorageError::Compacted {
            requested,
            compacted,
        } => Status::expired(format!(
            "too old resource version: {requested} ({compacted})"
        )),
        StorageError::FutureRevision { requested, current } => {
            let mut s = Status::new(
                Reason::Timeout,
                format!("Too large resource version: {requested}, current: {current}"),
            );
            s.details.retry_after_seconds = Some(1);
            s
        }
        StorageError::Unavailable(m) => Status::unavailable(m),
        other => Status::internal(other),
    }
}
