//! The resource table a shard serves: each row is what a resource is (its [`ApiResource`])
//! and how it behaves (its kind's hooks, its conversion to the stored version, its printer).
//! Built-in rows come from `api::resources`; the table gains and loses rows while the server
//! runs (custom resources), on every shard alike.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

pub use crate::api::resources::*;

use super::conversion::Conversion;
use super::kinds::addresses::AddressHooks;
use super::kinds::admission_config::AdmissionConfigHooks;
use super::kinds::certificates::CsrHooks;
use super::kinds::config::{ConfigMapHooks, SecretHooks};
use super::kinds::csi::CsiHooks;
use super::kinds::devices::DeviceHooks;
use super::kinds::endpoints::EndpointsHooks;
use super::kinds::flowcontrol::FlowControlHooks;
use super::kinds::namespace::NamespaceHooks;
use super::kinds::pod::PodHooks;
use super::kinds::service::allocator::ServiceIps;
use super::kinds::service::ServiceHooks;
use super::kinds::volumes::{ClaimHooks, VolumeHooks};
use super::kinds::workloads::{Workload, WorkloadHooks};
use super::kinds::{KindHooks, Object, Plain, Selectable, EVENT_FIELDS, NODE_FIELDS};
use crate::codec::go_json;
use crate::printers::Printer;

/// One row: a served resource and its behaviour.
pub struct Resource {
    /// What it is.
    pub api: ApiResource,
    /// What its kind does in the lifecycle (the stored kind's hooks).
    pub hooks: Rc<dyn KindHooks>,
    /// How this version converts to the stored one (None: stored as served).
    pub conversion: Option<Conversion>,
    /// Its Table columns.
    pub printer: Printer,
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("api", &self.api)
            .field("conversion", &self.conversion)
            .finish_non_exhaustive()
    }
}

/// Upstream's decoding of one stored kind, as a function the storage thread can run: the
/// kind's defaults, then the fields Go's encoding always writes.
pub type Normalizer = Arc<dyn Fn(&mut Object) + Send + Sync>;

impl Resource {
    /// What decoding an object of this row does upstream (defaults, then Go's always-written
    /// fields), applied to stored objects as they are read.
    pub fn normalize(&self, obj: &mut Object) {
        self.hooks.defaults(obj);
        self.fill_go_fields(obj);
    }

    /// Adds the fields Go's encoding of the stored kind always writes (zero values).
    pub fn fill_go_fields(&self, obj: &mut Object) {
        let s = self.api.storage;
        go_json::fill_go_zero_values(s.group, s.version, s.kind, obj);
    }

    /// [`Resource::normalize`] as a `Send` function, for the watch cache's decorator.
    pub fn normalizer(&self) -> Normalizer {
        let defaults = self.hooks.defaulter();
        let s = self.api.storage;
        Arc::new(move |obj: &mut Object| {
            if let Some(d) = defaults {
                d(obj);
            }
            go_json::fill_go_zero_values(s.group, s.version, s.kind, obj);
        })
    }

    /// A row of `api` behaving as `hooks` say.
    pub fn new(api: ApiResource, hooks: Rc<dyn KindHooks>) -> Self {
        let (group, kind) = api.printed_as();
        Self {
            conversion: Conversion::between(
                (api.group, api.version, api.kind),
                (api.storage.group, api.storage.version, api.storage.kind),
            ),
            printer: Printer::for_kind(group, kind),
            api,
            hooks,
        }
    }
}

/// What the built-in kinds' hooks need from the shard they run on.
#[derive(Debug, Default)]
pub struct KindsConfig {
    /// This shard's Service cluster IP and node port allocator (None: Services get none).
    pub service_ips: Option<ServiceIps>,
}

/// The hooks of a stored kind (built-in kinds).
fn builtin_hooks(storage: Gvk, cfg: &mut KindsConfig) -> Rc<dyn KindHooks> {
    use Workload as W;
    let workload = |w| Rc::new(WorkloadHooks(w)) as Rc<dyn KindHooks>;
    match (storage.group, storage.kind) {
        ("", "Pod") => Rc::new(PodHooks),
        ("", "Service") => Rc::new(ServiceHooks::new(cfg.service_ips.take())),
        ("", "Namespace") => Rc::new(NamespaceHooks),
        ("", "ConfigMap") => Rc::new(ConfigMapHooks),
        ("", "Secret") => Rc::new(SecretHooks),
        ("", "Endpoints") => Rc::new(EndpointsHooks),
        ("", "PersistentVolume") => Rc::new(VolumeHooks),
        ("", "PersistentVolumeClaim") => Rc::new(ClaimHooks),
        ("", "Event") => Rc::new(Selectable(EVENT_FIELDS)),
        ("", "Node") => Rc::new(Selectable(NODE_FIELDS)),
        ("", "LimitRange") => Rc::new(super::kinds::limits::LimitRangeHooks),
        ("", "PodTemplate") => workload(W::PodTemplate),
        ("", "ReplicationController") => workload(W::ReplicationController),
        ("apps", "Deployment") => workload(W::Deployment),
        ("apps", "ReplicaSet") => workload(W::ReplicaSet),
        ("apps", "StatefulSet") => workload(W::StatefulSet),
        ("apps", "DaemonSet") => workload(W::DaemonSet),
        ("batch", "Job") => workload(W::Job),
        ("batch", "CronJob") => workload(W::CronJob),
        ("certificates.k8s.io", "CertificateSigningRequest") => Rc::new(CsrHooks),
        ("admissionregistration.k8s.io", kind) => match AdmissionConfigHooks::for_kind(kind) {
            Some(h) => Rc::new(h),
            None => Rc::new(Plain),
        },
        ("flowcontrol.apiserver.k8s.io", kind) => match FlowControlHooks::for_kind(kind) {
            Some(h) => Rc::new(h),
            None => Rc::new(Plain),
        },
        ("networking.k8s.io", "ServiceCIDR") => Rc::new(AddressHooks::ServiceCidr),
        ("networking.k8s.io", "IPAddress") => Rc::new(AddressHooks::IpAddress),
        ("storage.k8s.io", kind) => match CsiHooks::for_kind(kind) {
            Some(h) => Rc::new(h),
            None => Rc::new(Plain),
        },
        ("resource.k8s.io", kind) => match DeviceHooks::for_kind(kind) {
            Some(h) => Rc::new(h),
            None => Rc::new(Plain),
        },
        _ => Rc::new(Plain),
    }
}

/// The rows a shard serves, found by group, version and plural. Shard-local: each shard has
/// its own table and changes it from its own events.
#[derive(Debug, Default)]
pub struct ResourceTable {
    /// Rows by plural (a plural is served by a few group-versions at most).
    by_plural: RefCell<HashMap<&'static str, Vec<Rc<Resource>>>>,
    /// Every row, in the order added (built-ins in discovery order).
    order: RefCell<Vec<Rc<Resource>>>,
}

impl ResourceTable {
    /// The built-in rows, their hooks built for one shard; the kinds of one storage kind
    /// share their hooks (and so their allocators).
    pub fn builtin(mut cfg: KindsConfig) -> Self {
        let table = Self::default();
        let mut by_storage: HashMap<(&str, &str), Rc<dyn KindHooks>> = HashMap::new();
        for api in all_resources() {
            let hooks = by_storage
                .entry((api.storage.group, api.storage.kind))
                .or_insert_with(|| builtin_hooks(api.storage, &mut cfg));
            table.insert(Resource::new(*api, Rc::clone(hooks)));
        }
        table
    }

    /// Adds (or replaces) a row.
    pub fn insert(&self, row: Resource) {
        let row = Rc::new(row);
        let mut by_plural = self.by_plural.borrow_mut();
        let rows = by_plural.entry(row.api.plural).or_default();
        rows.retain(|r| !(r.api.group == row.api.group && r.api.version == row.api.version));
        rows.push(Rc::clone(&row));
        let mut order = self.order.borrow_mut();
        order.retain(|r| {
            !(r.api.group == row.api.group
                && r.api.version == row.api.version
                && r.api.plural == row.api.plural)
        });
        order.push(row);
    }

    /// Removes a row; the requests holding it finish with it.
    pub fn remove(&self, group: &str, version: &str, plural: &str) -> Option<Rc<Resource>> {
        let mut by_plural = self.by_plural.borrow_mut();
        let rows = by_plural.get_mut(plural)?;
        let at = rows
            .iter()
            .position(|r| r.api.group == group && r.api.version == version)?;
        let row = rows.remove(at);
        self.order.borrow_mut().retain(|r| !Rc::ptr_eq(r, &row));
        Some(row)
    }

    /// The row serving `/apis/<group>/<version>/<plural>` (or `/api/v1/<plural>`).
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Rc<Resource>> {
        self.by_plural
            .borrow()
            .get(plural)?
            .iter()
            .find(|r| r.api.group == group && r.api.version == version)
            .cloned()
    }

    /// Every row, in table order.
    pub fn rows(&self) -> Vec<Rc<Resource>> {
        self.order.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn builtin_rows_have_their_hooks_and_conversions() {
        let t = ResourceTable::builtin(KindsConfig::default());
        assert_eq!(t.rows().len(), all_resources().len());
        let pods = t.get("", "v1", "pods").unwrap();
        assert!(pods.hooks.selectable_fields().contains(&"spec.nodeName"));
        let events = t.get("events.k8s.io", "v1", "events").unwrap();
        let core = t.get("", "v1", "events").unwrap();
        assert!(
            Rc::ptr_eq(&events.hooks, &core.hooks),
            "one storage kind, one hooks"
        );
        assert!(events.conversion.is_some() && core.conversion.is_none());
        for row in t.rows().iter().filter(|r| r.api.needs_conversion()) {
            assert!(
                row.conversion.is_some(),
                "{}/{} {} is stored as another kind but has no conversion",
                row.api.group,
                row.api.version,
                row.api.kind
            );
        }
        assert!(t.get("apps", "v2", "deployments").is_none());
    }

    #[test]
    fn rows_come_and_go_at_run_time() {
        let t = ResourceTable::builtin(KindsConfig::default());
        let widgets = ApiResource {
            group: "example.com",
            version: "v1",
            kind: "Widget",
            plural: "widgets",
            singular: "widget",
            key_segment: "example.com/widgets",
            storage: Gvk {
                group: "example.com",
                version: "v1",
                kind: "Widget",
            },
            ..*lookup("", "v1", "configmaps").unwrap()
        };
        t.insert(Resource::new(widgets, Rc::new(Plain)));
        let held = t.get("example.com", "v1", "widgets").unwrap();
        assert_eq!(held.api.kind, "Widget");
        assert!(t.remove("example.com", "v1", "widgets").is_some());
        assert!(t.get("example.com", "v1", "widgets").is_none());
        assert_eq!(
            held.api.plural, "widgets",
            "a request holding the row keeps it"
        );
        assert_eq!(t.rows().len(), all_resources().len());
    }
}
