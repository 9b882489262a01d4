//! Where a shard's webhook plugins read from: the webhook configurations in the shard's watch
//! cache replica, compiled once per change of the resource (the RBAC index's pattern: a
//! marker from the replica says when to rebuild), so a request that no webhook matches costs a
//! marker comparison and a rule scan, never a read of storage. Without a replica the
//! configurations are listed from storage on each request. Also the reads matching and
//! calling need: a namespace's labels, a Service and its endpoints.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;
use serde_json::Value;

use super::hook::Webhook;
use crate::api::resources::{lookup, ApiResource};
use crate::api::status::Status;
use crate::registry::keys;
use crate::registry::kinds::ObjectReads;
use crate::storage::cache::WatchCache;

/// Mutating or validating: which configuration kind a plugin reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    /// `MutatingWebhookConfiguration`.
    Mutating,
    /// `ValidatingWebhookConfiguration`.
    Validating,
}

impl HookKind {
    fn plural(self) -> &'static str {
        match self {
            Self::Mutating => "mutatingwebhookconfigurations",
            Self::Validating => "validatingwebhookconfigurations",
        }
    }
}

/// The compiled webhooks, and the replica marker they were built at.
#[derive(Default)]
struct Compiled {
    marker: Option<(u64, u64)>,
    hooks: Rc<[Rc<Webhook>]>,
}

/// A shard's view of one configuration kind.
pub struct HookSource {
    kind: HookKind,
    cache: Option<WatchCache>,
    prefix: String,
    /// The kind's collection root and ring in the replica (None: not cached).
    slot: Option<(Bytes, usize)>,
    compiled: RefCell<Compiled>,
}

impl std::fmt::Debug for HookSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookSource")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn resource(plural: &str, group: &str) -> Option<&'static ApiResource> {
    lookup(group, "v1", plural)
}

impl HookSource {
    /// The `kind` configurations of a shard whose replica is `cache` (keys under `prefix`).
    pub fn new(kind: HookKind, cache: Option<WatchCache>, prefix: &str) -> Self {
        let slot = cache.as_ref().and_then(|c| {
            let root = Bytes::from(keys::collection_prefix(prefix, kind.plural(), None));
            c.resource_index(&root).map(|i| (root, i))
        });
        Self {
            kind,
            cache,
            prefix: prefix.to_string(),
            slot,
            compiled: RefCell::default(),
        }
    }

    /// Which configuration kind this is.
    pub fn kind(&self) -> HookKind {
        self.kind
    }

    /// Every webhook of every configuration, ordered by configuration name and then as
    /// listed (upstream's order).
    pub async fn hooks(
        &self,
        reads: &dyn ObjectReads,
        deadline: Instant,
    ) -> Result<Rc<[Rc<Webhook>]>, Status> {
        if let (Some(cache), Some((root, slot))) = (&self.cache, &self.slot) {
            let marker = cache.changes(*slot);
            let mut c = self.compiled.borrow_mut();
            if c.marker != Some(marker) {
                let objects: Vec<Value> = cache
                    .objects_under(root)
                    .iter()
                    .filter_map(|o| serde_json::from_slice(&o.json).ok())
                    .collect();
                *c = Compiled {
                    marker: Some(marker),
                    hooks: compile_all(objects).into(),
                };
            }
            return Ok(Rc::clone(&c.hooks));
        }
        let Some(res) = resource(self.kind.plural(), "admissionregistration.k8s.io") else {
            return Ok(Rc::from(Vec::new()));
        };
        let objects = reads.list_all(res, deadline).await?;
        Ok(compile_all(objects).into())
    }

    /// An object of `res`, from the replica when it holds the resource, else from storage.
    pub async fn object(
        &self,
        reads: &dyn ObjectReads,
        res: &'static ApiResource,
        namespace: Option<&str>,
        name: &str,
        deadline: Instant,
    ) -> Result<Option<Value>, Status> {
        if let Some(cache) = &self.cache {
            let root = keys::collection_prefix(&self.prefix, res.key_segment, None);
            if cache.resource_index(root.as_bytes()).is_some() {
                let key = keys::object_key(&self.prefix, res.key_segment, namespace, name);
                let (found, _) = cache.get(key.as_bytes());
                return Ok(found.and_then(|o| serde_json::from_slice(&o.json).ok()));
            }
        }
        Ok(reads
            .get(res, namespace, name, deadline)
            .await?
            .map(Value::Object))
    }

    /// The labels of namespace `ns` (None: there is no such namespace).
    pub async fn namespace_labels(
        &self,
        reads: &dyn ObjectReads,
        ns: &str,
        deadline: Instant,
    ) -> Result<Option<serde_json::Map<String, Value>>, Status> {
        let Some(res) = resource("namespaces", "") else {
            return Ok(None);
        };
        Ok(self.object(reads, res, None, ns, deadline).await?.map(|n| {
            n.pointer("/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        }))
    }
}

fn compile_all(mut objects: Vec<Value>) -> Vec<Rc<Webhook>> {
    let name = |o: &Value| {
        o.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    objects.sort_by_key(name);
    let mut out = Vec::new();
    for o in &objects {
        let config = name(o);
        let uid = o
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or(&config);
        for (i, w) in o
            .get("webhooks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            match Webhook::compile(&config, uid, i, w) {
                Ok(h) => out.push(Rc::new(h)),
                Err(e) => log::warn!("admission webhook {config}/{i} is not used: {e}"),
            }
        }
    }
    out
}
