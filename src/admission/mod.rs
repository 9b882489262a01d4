//! Admission: the plugins the Store runs at its pre-write point (`registry::store::admission`
//! is the seam). Each plugin is one file; [`chain`] builds the chain of the plugins
//! `--enable-admission-plugins` / `--disable-admission-plugins` select, in upstream's order.

pub mod always;
pub mod always_pull_images;
pub mod certificate_subject;
pub mod claim_resize;
pub mod default_class;
pub mod default_toleration_seconds;
pub mod limit_ranger;
pub mod matching;
pub mod namespace_lifecycle;
pub mod policy;
pub mod priority;
pub mod replica;
pub mod runtime_class;
pub mod service_account;
pub mod storage_protection;
pub mod taint_nodes;
pub mod webhook;

use std::rc::Rc;

use crate::registry::store::{AdmissionChain, AdmissionPlugin, Attributes, Operation};
use crate::storage::cache::WatchCache;
use crate::webhook::caller::Caller;

/// Every plugin kube-apiserver knows, in the order it runs them (upstream's
/// `AllOrderedPlugins`).
pub const ALL_PLUGINS: &[&str] = &[
    "AlwaysAdmit",
    "NamespaceAutoProvision",
    "NamespaceLifecycle",
    "NamespaceExists",
    "LimitPodHardAntiAffinityTopology",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "TaintNodesByCondition",
    "AlwaysPullImages",
    "ImagePolicyWebhook",
    "PodSecurity",
    "PodNodeSelector",
    "Priority",
    "DefaultTolerationSeconds",
    "PodTolerationRestriction",
    "EventRateLimit",
    "ExtendedResourceToleration",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "OwnerReferencesPermissionEnforcement",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "DenyServiceExternalIPs",
    "PodTopologyLabels",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
    "AlwaysDeny",
];

/// The plugins on by default (upstream's `DefaultOffAdmissionPlugins` complement).
pub const DEFAULT_ON: &[&str] = &[
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "TaintNodesByCondition",
    "PodSecurity",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionWebhook",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionWebhook",
    "ResourceQuota",
];

/// What the admission flags chose, shared by the shards (each builds its own chain).
#[derive(Clone, Debug)]
pub struct AdmissionConfig {
    /// The plugins that run, in upstream's order.
    pub enabled: Vec<&'static str>,
    /// `--default-not-ready-toleration-seconds`.
    pub not_ready_toleration_seconds: i64,
    /// `--default-unreachable-toleration-seconds`.
    pub unreachable_toleration_seconds: i64,
    /// `--enable-aggregator-routing`: webhook Services are reached at their endpoints.
    pub endpoint_routing: bool,
    /// The thread admission webhooks are called from (None: the webhook plugins do not run).
    pub webhook_caller: Option<Caller>,
}

/// What a shard's plugins read besides the request (its watch cache replica and where the
/// objects live in storage), and whom they tell about webhook calls.
#[derive(Clone, Default)]
pub struct ShardReads {
    /// The replica (None: reads go to storage).
    pub cache: Option<WatchCache>,
    /// The storage prefix (`/registry`).
    pub prefix: String,
    /// Told about each admission webhook call (the server's metrics).
    pub webhook_observer: Option<Rc<dyn webhook::WebhookObserver>>,
}

impl std::fmt::Debug for ShardReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardReads")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl AdmissionConfig {
    /// Whether a webhook plugin is enabled (the server then starts their caller).
    pub fn wants_webhooks(&self) -> bool {
        self.enabled.iter().any(|p| {
            matches!(
                *p,
                "MutatingAdmissionWebhook" | "ValidatingAdmissionWebhook"
            )
        })
    }

    /// The enabled plugins kubeshard does not have yet (they do not run).
    pub fn missing(&self) -> Vec<&'static str> {
        let shard = ShardReads::default();
        self.enabled
            .iter()
            .copied()
            .filter(|p| self.plugin(p, &shard).is_none())
            .collect()
    }

    fn plugin(&self, name: &str, shard: &ShardReads) -> Option<Rc<dyn AdmissionPlugin>> {
        let replica = || replica::Replica {
            cache: shard.cache.clone(),
            prefix: shard.prefix.clone(),
        };
        let webhooks = |kind| -> Option<Rc<dyn AdmissionPlugin>> {
            let caller = self.webhook_caller.clone()?;
            let source = webhook::source::HookSource::new(kind, replica());
            Some(Rc::new(
                webhook::WebhookAdmission::new(source, caller, self.endpoint_routing)
                    .observed_by(shard.webhook_observer.clone()),
            ))
        };
        use webhook::source::HookKind;
        Some(match name {
            "MutatingAdmissionWebhook" => return webhooks(HookKind::Mutating),
            "ValidatingAdmissionWebhook" => return webhooks(HookKind::Validating),
            "ValidatingAdmissionPolicy" => Rc::new(policy::PolicyAdmission::new(replica())),
            "ServiceAccount" => Rc::new(service_account::ServiceAccount::new(replica())),
            "LimitRanger" => Rc::new(limit_ranger::LimitRanger::new(replica())),
            "DefaultStorageClass" => Rc::new(default_class::DefaultClass::new(
                default_class::ClassKind::Storage,
                replica(),
            )),
            "DefaultIngressClass" => Rc::new(default_class::DefaultClass::new(
                default_class::ClassKind::Ingress,
                replica(),
            )),
            "StorageObjectInUseProtection" => {
                Rc::new(storage_protection::StorageObjectInUseProtection)
            }
            "TaintNodesByCondition" => Rc::new(taint_nodes::TaintNodesByCondition),
            "RuntimeClass" => Rc::new(runtime_class::RuntimeClass::new(replica())),
            "PersistentVolumeClaimResize" => {
                Rc::new(claim_resize::PersistentVolumeClaimResize::new(replica()))
            }
            "CertificateSubjectRestriction" => {
                Rc::new(certificate_subject::CertificateSubjectRestriction)
            }
            "AlwaysPullImages" => Rc::new(always_pull_images::AlwaysPullImages),
            "AlwaysAdmit" => Rc::new(always::AlwaysAdmit),
            "AlwaysDeny" => Rc::new(always::AlwaysDeny),
            "NamespaceLifecycle" => Rc::new(namespace_lifecycle::NamespaceLifecycle),
            "Priority" => Rc::new(priority::Priority),
            "DefaultTolerationSeconds" => {
                Rc::new(default_toleration_seconds::DefaultTolerationSeconds {
                    not_ready_seconds: self.not_ready_toleration_seconds,
                    unreachable_seconds: self.unreachable_toleration_seconds,
                })
            }
            _ => return None,
        })
    }

    /// The chain of the enabled plugins kubeshard has, in upstream's order, for a shard
    /// reading `shard`.
    pub fn chain(&self, shard: &ShardReads) -> AdmissionChain {
        AdmissionChain::new(
            self.enabled
                .iter()
                .filter_map(|p| self.plugin(p, shard))
                .collect(),
        )
    }
}

/// Whether the request writes a Pod itself (not one of its subresources) by one of `ops`:
/// what the Pod plugins act on.
fn pod_itself(attrs: &Attributes<'_>, ops: &[Operation]) -> bool {
    attrs.resource.group.is_empty()
        && attrs.resource.plural == "pods"
        && attrs.request.subresource.is_none()
        && ops.contains(&attrs.operation)
}
