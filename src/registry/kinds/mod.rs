//! What each kind does beyond the generic lifecycle, one home per kind that has behaviour: its
//! defaults, validation, selectable fields, the fields the server sets on create, allocations
//! before a write (Service cluster IPs and node ports), and how it is deleted (a Namespace
//! waits for its contents). Everything is a [`KindHooks`] method with a no-op default, so a
//! kind with no behaviour of its own is the [`Plain`] hooks and nothing else.
//!
//! The hooks of one table row are built per shard (`registry::resources::ResourceTable`), so a
//! kind's per-shard state (the Service allocators' stripe) lives in its hooks; a custom
//! resource will be one schema-driven hooks value.

pub mod addresses;
pub mod admission_config;
pub mod certificates;
pub mod config;
pub mod csi;
pub mod devices;
pub mod disruption;
pub mod endpoints;
mod fields;
pub mod flowcontrol;
pub mod limits;
pub mod namespace;
pub mod pod;
pub mod pod_spec;
pub mod service;
pub mod volumes;
pub mod workloads;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::api::resources::{ApiResource, Subresource};
use crate::api::status::Status;
use crate::api::validation::FieldError;

/// A JSON object, as the lifecycle handles it.
pub type Object = Map<String, Value>;

/// A kind's defaulting (upstream's `SetDefaults_*`) as a plain function: stateless, so the
/// storage thread applies it too, when the watch cache ingests objects another writer stored.
pub type Defaulter = fn(&mut Object);

/// A future a hook returns: it runs on the shard (no `Send` needed).
pub type HookFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Reads a hook (or an admission plugin) may make while the lifecycle runs: served by the
/// Store, from the shard's watch cache when it is current, else from the backend.
pub trait ObjectReads {
    /// Every object of `res` in every namespace, as of now (a consistent read).
    fn list_all<'a>(
        &'a self,
        res: &'a ApiResource,
        deadline: Instant,
    ) -> HookFuture<'a, Result<Vec<Value>, Status>>;

    /// One object as the backend holds it now (None: there is none).
    fn get<'a>(
        &'a self,
        res: &'a ApiResource,
        namespace: Option<&'a str>,
        name: &'a str,
        deadline: Instant,
    ) -> HookFuture<'a, Result<Option<Object>, Status>>;

    /// A claim: stores `value` at `key` (under the storage prefix, e.g.
    /// `ipaddresses/10.96.0.7`) unless something is there. True when this call stored it. How
    /// allocators reserve a value so that no other server sharing the storage (several
    /// kubeshards on one etcd) hands it out too.
    fn claim<'a>(
        &'a self,
        key: &'a str,
        value: Vec<u8>,
        deadline: Instant,
    ) -> HookFuture<'a, Result<bool, Status>>;

    /// What the claim at `key` (under the storage prefix) holds, if anything.
    fn read_claim<'a>(
        &'a self,
        key: &'a str,
        deadline: Instant,
    ) -> HookFuture<'a, Result<Option<Object>, Status>>;

    /// Gives a claim back: removes `key` (under the storage prefix) if it is there.
    fn release<'a>(&'a self, key: &'a str, deadline: Instant)
        -> HookFuture<'a, Result<(), Status>>;
}

/// What a before-write hook gets besides the object.
#[derive(Clone, Copy)]
pub struct HookCtx<'a> {
    /// The row being written.
    pub resource: &'a ApiResource,
    /// Reads of other objects.
    pub reads: &'a dyn ObjectReads,
    /// When the request must be finished.
    pub deadline: Instant,
}

/// Whatever a before-write hook holds (e.g. addresses being handed out) until the write is
/// done; dropping it releases them, however the write ended.
#[derive(Default)]
pub struct Held {
    _guard: Option<Box<dyn Any>>,
}

impl Held {
    /// Nothing held.
    pub fn none() -> Self {
        Self { _guard: None }
    }

    /// Holds `guard` until dropped.
    pub fn new(guard: impl Any) -> Self {
        Self {
            _guard: Some(Box::new(guard)),
        }
    }
}

/// A kind's behaviour in the lifecycle, in the order the Store calls it: `defaults` on every
/// body, `initial_status` and `prepare_create` on a create, `validate` before every write,
/// `allocate` just before storage, `mark_deleting` and `kind_finalizers` on a delete. Each
/// method says whether it may change the object (`&mut`) or only read it.
pub trait KindHooks {
    /// upstream's `SetDefaults_*` for the kind, if it has any.
    fn defaulter(&self) -> Option<Defaulter> {
        None
    }

    /// Applies the kind's defaults: to every create and update body, and to stored objects
    /// when they are read.
    fn defaults(&self, obj: &mut Object) {
        if let Some(d) = self.defaulter() {
            d(obj);
        }
    }

    /// The `status` a new object starts with (kinds with a status subresource).
    fn initial_status(&self) -> Value {
        Value::Object(Map::new())
    }

    /// Fields a new object takes from the user creating it (a CertificateSigningRequest's
    /// requester), before the create strategy.
    fn stamp_requester(&self, _obj: &mut Object, _user: &crate::request::UserInfo) {}

    /// Fields the server sets on a new object, after its defaults (upstream's
    /// `PrepareForCreate` beyond metadata).
    fn prepare_create(&self, _obj: &mut Object) {}

    /// The kind's own subresources that write (a Namespace's `finalize`): the object to
    /// write, from the body given and the stored object.
    fn update_subresource(
        &self,
        sub: Subresource,
        _body: &Object,
        _current: &Object,
    ) -> Result<Object, Status> {
        Err(Status::bad_request(format!(
            "the {} subresource does not write",
            sub.name()
        )))
    }

    /// Changes an update makes beyond the generic strategy (upstream's `PrepareForUpdate`:
    /// a CertificateSigningRequest's spec never changes), for the object (`sub` None) or a
    /// subresource.
    fn prepare_update(&self, _sub: Option<Subresource>, _obj: &mut Object, _old: &Object) {}

    /// Rules an update must keep against the stored object (upstream's
    /// `Validate<Kind>Update`), after [`KindHooks::validate`].
    fn validate_update(
        &self,
        _sub: Option<Subresource>,
        _obj: &Object,
        _old: &Object,
    ) -> Vec<FieldError> {
        Vec::new()
    }

    /// The kind's validation (upstream's `Validate<Kind>`) after the metadata every kind
    /// shares; never changes the object.
    fn validate(&self, _obj: &Object) -> Vec<FieldError> {
        Vec::new()
    }

    /// Fields selectors may use besides `metadata.name` and `metadata.namespace`.
    fn selectable_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// Allocations a write needs before it is stored (`old` is None on create); what is held
    /// is released when the returned value is dropped.
    fn allocate<'a>(
        &'a self,
        _ctx: HookCtx<'a>,
        _obj: &'a mut Object,
        _old: Option<&'a Object>,
    ) -> HookFuture<'a, Result<Held, Status>> {
        Box::pin(std::future::ready(Ok(Held::none())))
    }

    /// Changes to an object being marked for deletion (a Namespace turns `Terminating`).
    fn mark_deleting(&self, _obj: &mut Object) {}

    /// Finalizers the kind keeps outside `metadata.finalizers` (a Namespace's
    /// `spec.finalizers`): while any is left, a deleted object stays.
    fn kind_finalizers(&self, _obj: &Object) -> Vec<String> {
        Vec::new()
    }
}

/// The hooks of a kind with no behaviour of its own.
#[derive(Debug, Default)]
pub struct Plain;

impl KindHooks for Plain {}

/// Selectable fields only (Events, Nodes): kinds whose behaviour is what selectors see.
#[derive(Debug)]
pub struct Selectable(pub &'static [&'static str]);

impl KindHooks for Selectable {
    fn selectable_fields(&self) -> &'static [&'static str] {
        self.0
    }
}

/// The fields selectors may use on Events (core and `events.k8s.io`, stored alike).
pub const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// The fields selectors may use on Nodes.
pub const NODE_FIELDS: &[&str] = &["spec.unschedulable"];

/// A JSON object literal as an [`Object`] (tests of the kinds' hooks).
#[cfg(test)]
pub(crate) fn object(v: Value) -> Object {
    v.as_object().cloned().unwrap_or_default()
}

/// What the kinds' unit tests share: objects from JSON, errors as the lines clients read.
#[cfg(test)]
pub(crate) mod testing {
    #![allow(clippy::unwrap_used)]
    use serde_json::Value;

    use super::Object;
    use crate::api::validation::FieldError;

    /// `v` (a JSON object) as an [`Object`].
    pub(crate) fn o(v: Value) -> Object {
        v.as_object().cloned().unwrap()
    }

    /// Each error as `field: message`, as a Status message lists it.
    pub(crate) fn messages(errs: &[FieldError]) -> Vec<String> {
        errs.iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }
}
