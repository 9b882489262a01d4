//! What admission plugins read besides the request, from the shard's watch cache replica
//! when it holds the resource, else from storage: single objects (a namespace, a Service, a
//! policy's params), the objects of a collection, and configuration compiled once per change
//! of its resource (the RBAC index's pattern: the replica's change marker says when to
//! rebuild), so a request no webhook or policy matches costs a marker comparison and a rule
//! scan, never a read of storage.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use serde_json::Value;

use crate::api::resources::ApiResource;
use crate::api::status::Status;
use crate::registry::keys;
use crate::registry::kinds::ObjectReads;
use crate::storage::cache::WatchCache;

/// A shard's replica (None: reads go to storage) and where objects live in storage.
#[derive(Clone, Debug, Default)]
pub struct Replica {
    /// The replica.
    pub cache: Option<WatchCache>,
    /// The storage prefix (`/registry`).
    pub prefix: String,
}

impl Replica {
    /// Whether the replica holds `res`.
    fn holds(&self, res: &ApiResource) -> Option<&WatchCache> {
        let cache = self.cache.as_ref()?;
        let root = keys::collection_prefix(&self.prefix, res.key_segment, None);
        cache.resource_index(root.as_bytes()).map(|_| cache)
    }

    /// One object of `res`.
    pub async fn object(
        &self,
        reads: &dyn ObjectReads,
        res: &'static ApiResource,
        namespace: Option<&str>,
        name: &str,
        deadline: Instant,
    ) -> Result<Option<Value>, Status> {
        if let Some(cache) = self.holds(res) {
            let key = keys::object_key(&self.prefix, res.key_segment, namespace, name);
            let (found, _) = cache.get(key.as_bytes());
            return Ok(found.and_then(|o| serde_json::from_slice(&o.json).ok()));
        }
        Ok(reads
            .get(res, namespace, name, deadline)
            .await?
            .map(Value::Object))
    }

    /// The objects of `res` in `namespace` (None: all of them).
    pub async fn objects(
        &self,
        reads: &dyn ObjectReads,
        res: &'static ApiResource,
        namespace: Option<&str>,
        deadline: Instant,
    ) -> Result<Vec<Value>, Status> {
        if let Some(cache) = self.holds(res) {
            let root = keys::collection_prefix(&self.prefix, res.key_segment, namespace);
            return Ok(cache
                .objects_under(root.as_bytes())
                .iter()
                .filter_map(|o| serde_json::from_slice(&o.json).ok())
                .collect());
        }
        let all = reads.list_all(res, deadline).await?;
        Ok(match namespace {
            None => all,
            Some(ns) => all
                .into_iter()
                .filter(|o| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns))
                .collect(),
        })
    }

    /// The labels of namespace `ns` (None: there is no such namespace), from what the
    /// replica keeps for selectors (no decode of the object).
    pub async fn labels(
        &self,
        reads: &dyn ObjectReads,
        ns: &str,
        deadline: Instant,
    ) -> Result<Option<serde_json::Map<String, Value>>, Status> {
        let Some(res) = crate::api::resources::lookup("", "v1", "namespaces") else {
            return Ok(None);
        };
        let labels_of = |o: &Value| {
            o.pointer("/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        if let Some(cache) = self.holds(res) {
            let key = keys::object_key(&self.prefix, res.key_segment, None, ns);
            return Ok(cache
                .get(key.as_bytes())
                .0
                .map(|o| labels_of(&o.selectable)));
        }
        Ok(reads
            .get(res, None, ns, deadline)
            .await?
            .map(|o| labels_of(&Value::Object(o))))
    }

    /// Namespace `ns` (None: there is none).
    pub async fn namespace(
        &self,
        reads: &dyn ObjectReads,
        ns: &str,
        deadline: Instant,
    ) -> Result<Option<Value>, Status> {
        let Some(res) = crate::api::resources::lookup("", "v1", "namespaces") else {
            return Ok(None);
        };
        self.object(reads, res, None, ns, deadline).await
    }
}

/// Configuration of one resource, compiled when the replica's copy of it changed.
pub struct CompiledView<T> {
    res: &'static ApiResource,
    /// The resource's ring in the replica (None: not cached; compiled per request).
    slot: Option<usize>,
    compiled: RefCell<Compiled<T>>,
}

/// The compiled objects and the replica marker they were compiled at.
type Compiled<T> = (Option<(u64, u64)>, Rc<[T]>);

impl<T> std::fmt::Debug for CompiledView<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CompiledView")
            .field(&self.res.plural)
            .finish()
    }
}

impl<T> CompiledView<T> {
    /// A view of `res` in `replica`.
    pub fn new(replica: &Replica, res: &'static ApiResource) -> Self {
        let slot = replica.cache.as_ref().and_then(|c| {
            let root = Bytes::from(keys::collection_prefix(
                &replica.prefix,
                res.key_segment,
                None,
            ));
            c.resource_index(&root)
        });
        Self {
            res,
            slot,
            compiled: RefCell::new((None, Rc::from(Vec::new()))),
        }
    }

    /// The compiled objects, current with the replica (`compile` runs on a change).
    pub async fn get(
        &self,
        replica: &Replica,
        reads: &dyn ObjectReads,
        deadline: Instant,
        compile: impl FnOnce(Vec<Value>) -> Vec<T>,
    ) -> Result<Rc<[T]>, Status> {
        if let (Some(cache), Some(slot)) = (&replica.cache, self.slot) {
            let marker = cache.changes(slot);
            let mut c = self.compiled.borrow_mut();
            if c.0 != Some(marker) {
                let root = keys::collection_prefix(&replica.prefix, self.res.key_segment, None);
                let objects = cache
                    .objects_under(root.as_bytes())
                    .iter()
                    .filter_map(|o| serde_json::from_slice(&o.json).ok())
                    .collect();
                *c = (Some(marker), compile(objects).into());
            }
            return Ok(Rc::clone(&c.1));
        }
        let objects = reads.list_all(self.res, deadline).await?;
        Ok(compile(objects).into())
    }
}
