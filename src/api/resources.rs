//! The built-in API as data: every resource kube-apiserver serves that kubeshard serves, each
//! an [`ApiResource`] (what it is: names, scope, verbs, subresources, storage key and kind),
//! and the groups in discovery order. Routes, discovery, OpenAPI and the namespace finalizer
//! are generated from it; how each kind behaves is the registry's (`registry::kinds`).
//!
//! Each row was checked against upstream (kubernetes/kubernetes v1.31; the rows 1.34 added against v1.34): `pkg/registry/*/*/storage`
//! (verbs, subresources, short names, categories, singular names), the storage factory's
//! `SpecialDefaultResourcePrefixes` (etcd key segments: `minions`, `services/specs`,
//! `services/endpoints`, `controllers`, `ingress`; every other resource is stored under its
//! plural with no group), the strategies' `PrepareForCreate` (`Generation = 1`: the rows with
//! `generation`), the `Validate*Name` functions (name rules) and the storage versions behind
//! `storageVersionHash`. Groups and their versions are in [`GROUPS`], in kube-apiserver's
//! discovery order.

use super::validation::NameRule;

/// The Kubernetes minor version whose API kubeshard serves.
pub const KUBE_MINOR: &str = "34";

/// A group, version and kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gvk {
    /// API group ("" for core).
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
}

/// A subresource a resource serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// `/status`: reads and writes only the status (the main resource ignores status writes).
    Status,
    /// `/scale`: an `autoscaling/v1` `Scale` view of the replica count.
    Scale,
    /// `/finalize` (namespaces): writes `spec.finalizers`.
    Finalize,
    /// `/token` (serviceaccounts): a TokenRequest for a bound token.
    Token,
    /// `/approval` (certificatesigningrequests): writes only the Approved/Denied conditions.
    Approval,
    /// `/binding` (pods): a scheduler assigns the Pod to a Node.
    Binding,
    /// `/eviction` (pods): a delete that honours PodDisruptionBudgets.
    Eviction,
    /// `/ephemeralcontainers` (pods): writes only `spec.ephemeralContainers`.
    EphemeralContainers,
    /// `/resize` (pods): writes only the containers' resources.
    Resize,
    /// `/log` (pods): the container's log, read from its kubelet.
    Log,
    /// `/exec` (pods): a command in a container, streamed through its kubelet.
    Exec,
    /// `/attach` (pods): the container's console, streamed through its kubelet.
    Attach,
    /// `/portforward` (pods): ports of the Pod, streamed through its kubelet.
    PortForward,
    /// `/proxy` (pods, services, nodes): HTTP forwarded to the object's address.
    Proxy,
}

/// The kind `pods/eviction` takes.
pub const EVICTION_KIND: Gvk = Gvk {
    group: "policy",
    version: "v1",
    kind: "Eviction",
};

/// The kind `serviceaccounts/token` answers with.
pub const TOKEN_REQUEST_KIND: Gvk = Gvk {
    group: "authentication.k8s.io",
    version: "v1",
    kind: "TokenRequest",
};

/// The kind a `/scale` subresource answers with, whatever the parent.
pub const SCALE_KIND: Gvk = Gvk {
    group: "autoscaling",
    version: "v1",
    kind: "Scale",
};

impl Subresource {
    /// The URL segment.
    pub fn name(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Scale => "scale",
            Self::Finalize => "finalize",
            Self::Token => "token",
            Self::Approval => "approval",
            Self::Binding => "binding",
            Self::Eviction => "eviction",
            Self::EphemeralContainers => "ephemeralcontainers",
            Self::Resize => "resize",
            Self::Log => "log",
            Self::Exec => "exec",
            Self::Attach => "attach",
            Self::PortForward => "portforward",
            Self::Proxy => "proxy",
        }
    }

    /// Verbs, sorted as upstream's discovery lists them.
    pub fn verbs(self) -> &'static [&'static str] {
        match self {
            Self::Status
            | Self::Scale
            | Self::Approval
            | Self::EphemeralContainers
            | Self::Resize => &["get", "patch", "update"],
            Self::Finalize => &["update"],
            Self::Token | Self::Binding | Self::Eviction => &["create"],
            Self::Log => &["get"],
            Self::Exec | Self::Attach | Self::PortForward => &["create", "get"],
            Self::Proxy => &["create", "delete", "get", "patch", "update"],
        }
    }

    /// The kind the subresource answers with for `parent`.
    pub fn response_kind(self, parent: &ApiResource) -> Gvk {
        match self {
            Self::Scale => SCALE_KIND,
            Self::Token => TOKEN_REQUEST_KIND,
            Self::Eviction => EVICTION_KIND,
            Self::Binding => core("Binding"),
            Self::Exec => core("PodExecOptions"),
            Self::Attach => core("PodAttachOptions"),
            Self::PortForward => core("PodPortForwardOptions"),
            Self::Proxy => core(match parent.kind {
                "Node" => "NodeProxyOptions",
                "Service" => "ServiceProxyOptions",
                _ => "PodProxyOptions",
            }),
            Self::Status
            | Self::Finalize
            | Self::Approval
            | Self::EphemeralContainers
            | Self::Resize
            | Self::Log => parent.gvk(),
        }
    }

    /// Whether the subresource streams to or from another server (the kubelet, a Pod, a
    /// Service): upstream's connecters, long-running and never stored.
    pub fn is_connect(self) -> bool {
        matches!(
            self,
            Self::Log | Self::Exec | Self::Attach | Self::PortForward | Self::Proxy
        )
    }
}

/// A core/v1 kind.
const fn core(kind: &'static str) -> Gvk {
    Gvk {
        group: "",
        version: "v1",
        kind,
    }
}

/// What one served resource is, as data: a row of the built-in table, or (at run time) of a
/// custom resource. Its strings are `'static`: built-in rows are literals, and rows made at
/// run time use interned names (a name seen once stays for the process).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiResource {
    /// API group ("" for core).
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Plural (URL segment).
    pub plural: &'static str,
    /// Singular name.
    pub singular: &'static str,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Verbs on the main resource, sorted as upstream's discovery lists them.
    pub verbs: &'static [&'static str],
    /// Subresources, sorted by name.
    pub subresources: &'static [Subresource],
    /// The etcd key segment kube-apiserver uses (`/registry/<segment>/<namespace>/<name>`).
    pub key_segment: &'static str,
    /// Name validation.
    pub name_rule: NameRule,
    /// Whether `metadata.generation` is set to 1 on create and bumped on spec changes.
    pub generation: bool,
    /// The kind objects are stored as (other versions are converted to it); its hash is
    /// discovery's `storageVersionHash`.
    pub storage: Gvk,
    /// Whether objects are stored at all (false: a review the server answers, like
    /// SelfSubjectAccessReview or TokenReview).
    pub stored: bool,
}

impl ApiResource {
    /// This row's group, version and kind.
    pub fn gvk(&self) -> Gvk {
        Gvk {
            group: self.group,
            version: self.version,
            kind: self.kind,
        }
    }

    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        group_version(self.group, self.version)
    }

    /// Whether the object has a spec/status split: the main resource ignores changes to
    /// `status` and the `/status` subresource ignores everything but `status`.
    pub fn has_status_subresource(&self) -> bool {
        self.subresources.contains(&Subresource::Status)
    }

    /// Whether `/scale` is served.
    pub fn has_scale_subresource(&self) -> bool {
        self.subresources.contains(&Subresource::Scale)
    }

    /// Whether objects of this version are stored as another version or kind.
    pub fn needs_conversion(&self) -> bool {
        self.storage != self.gvk()
    }

    /// `apiVersion` and `kind` of stored objects (what the registry's strategy sees).
    pub fn stored_type(&self) -> (String, &'static str) {
        (
            group_version(self.storage.group, self.storage.version),
            self.storage.kind,
        )
    }

    /// The group and kind whose printer columns a Table of this resource uses: the stored
    /// form's, which is what the printers read (upstream prints from internal objects, so
    /// every version of a kind has the same columns).
    pub fn printed_as(&self) -> (&'static str, &'static str) {
        (self.storage.group, self.storage.kind)
    }

    /// Whether `verb` is served on the main resource.
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// The subresource named `name`, if this resource serves it.
    pub fn subresource(&self, name: &str) -> Option<Subresource> {
        self.subresources.iter().copied().find(|s| s.name() == name)
    }
}

/// One API group as discovery lists it.
#[derive(Clone, Copy, Debug)]
pub struct GroupDef {
    /// Group name ("" for core).
    pub name: &'static str,
    /// Versions served, preferred first.
    pub versions: &'static [&'static str],
}

impl GroupDef {
    /// The preferred version.
    pub fn preferred(&self) -> &'static str {
        self.versions.first().copied().unwrap_or("v1")
    }
}

/// `v1` or `group/version`.
pub fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// Every verb, sorted, as upstream lists them for most resources.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
/// Namespaces have no deletecollection.
const NS_VERBS: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// The API groups in kube-apiserver's discovery order (core first, then by the aggregator's
/// group priority: apps 17800, events.k8s.io 17750, authentication 17700,
/// authorization 17600, autoscaling 17500, batch 17400, certificates.k8s.io 17300,
/// networking.k8s.io 17200, policy 17100, rbac 17000, storage 16800, scheduling 16600,
/// coordination 16500, node 16300, discovery 16200, resource.k8s.io 15900), versions by version priority.
pub static GROUPS: &[GroupDef] = &[
    GroupDef {
        name: "",
        versions: &["v1"],
    },
    GroupDef {
        name: "apps",
        versions: &["v1"],
    },
    GroupDef {
        name: "events.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "authentication.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "authorization.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "autoscaling",
        versions: &["v2", "v1"],
    },
    GroupDef {
        name: "batch",
        versions: &["v1"],
    },
    GroupDef {
        name: "certificates.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "networking.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "policy",
        versions: &["v1"],
    },
    GroupDef {
        name: "rbac.authorization.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "storage.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "admissionregistration.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "scheduling.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "coordination.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "node.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "discovery.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "flowcontrol.apiserver.k8s.io",
        versions: &["v1"],
    },
    GroupDef {
        name: "resource.k8s.io",
        versions: &["v1"],
    },
];

// A table row is a row: its columns read better positionally than as a builder.
#[allow(clippy::too_many_arguments)]
const fn def(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
    namespaced: bool,
    subresources: &'static [Subresource],
    key_segment: &'static str,
    name_rule: NameRule,
    generation: bool,
) -> ApiResource {
    ApiResource {
        group,
        version,
        kind,
        plural,
        singular,
        short_names,
        categories,
        namespaced,
        verbs: ALL_VERBS,
        subresources,
        key_segment,
        name_rule,
        generation,
        storage: Gvk {
            group,
            version,
            kind,
        },
        stored: true,
    }
}

/// A review: created and answered, never stored (upstream's create-only REST of the
/// authentication and authorization groups).
const fn review(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
    namespaced: bool,
) -> ApiResource {
    ApiResource {
        verbs: CREATE_ONLY,
        stored: false,
        ..def(
            group, "v1", kind, plural, singular, NONE, NONE, namespaced, NO_SUB, plural, Subdomain,
            false,
        )
    }
}

/// Reviews are only created.
const CREATE_ONLY: &[&str] = &["create"];

use NameRule::{Dns1035Label, IpAddress, Label, PathSegment, Subdomain};
use Subresource::{
    Approval, Attach, Binding, EphemeralContainers, Eviction, Exec, Finalize, Log, PortForward,
    Proxy, Resize, Scale, Status, Token,
};

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];
const API_EXTENSIONS: &[&str] = &["api-extensions"];
const NO_SUB: &[Subresource] = &[];
const STATUS: &[Subresource] = &[Status];
const SCALE_STATUS: &[Subresource] = &[Scale, Status];
const PROXY_STATUS: &[Subresource] = &[Proxy, Status];
const POD_SUBRESOURCES: &[Subresource] = &[
    Attach,
    Binding,
    EphemeralContainers,
    Eviction,
    Exec,
    Log,
    PortForward,
    Proxy,
    Resize,
    Status,
];
/// ComponentStatuses are only read.
const GET_LIST: &[&str] = &["get", "list"];
/// Core events are the storage form of events.k8s.io events (upstream cohabitation).
const CORE_EVENT: Gvk = Gvk {
    group: "",
    version: "v1",
    kind: "Event",
};

/// autoscaling/v2 HPAs are the storage form of autoscaling/v1 ones.
const HPA_V2: Gvk = Gvk {
    group: "autoscaling",
    version: "v2",
    kind: "HorizontalPodAutoscaler",
};

/// The table: rows of a group/version in upstream's discovery order (by plural), groups as
/// in [`GROUPS`].
#[rustfmt::skip]
pub static RESOURCES: &[ApiResource] = &[
    // core/v1
    ApiResource { verbs: CREATE_ONLY, stored: false, ..def("", "v1", "Binding", "bindings", "binding", NONE, NONE, true, NO_SUB, "bindings", Subdomain, false) },
    ApiResource { verbs: GET_LIST, stored: false, ..def("", "v1", "ComponentStatus", "componentstatuses", "componentstatus", &["cs"], NONE, false, NO_SUB, "componentstatuses", Subdomain, false) },
    def("", "v1", "ConfigMap", "configmaps", "configmap", &["cm"], NONE, true, NO_SUB, "configmaps", Subdomain, false),
    def("", "v1", "Endpoints", "endpoints", "endpoints", &["ep"], NONE, true, NO_SUB, "services/endpoints", Subdomain, false),
    def("", "v1", "Event", "events", "event", &["ev"], NONE, true, NO_SUB, "events", Subdomain, false),
    def("", "v1", "LimitRange", "limitranges", "limitrange", &["limits"], NONE, true, NO_SUB, "limitranges", Subdomain, false),
    ApiResource { verbs: NS_VERBS, ..def("", "v1", "Namespace", "namespaces", "namespace", &["ns"], NONE, false, &[Finalize, Status], "namespaces", Label, false) },
    def("", "v1", "Node", "nodes", "node", &["no"], NONE, false, PROXY_STATUS, "minions", Subdomain, false),
    def("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", &["pvc"], NONE, true, STATUS, "persistentvolumeclaims", Subdomain, false),
    def("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", &["pv"], NONE, false, STATUS, "persistentvolumes", Subdomain, false),
    def("", "v1", "Pod", "pods", "pod", &["po"], ALL, true, POD_SUBRESOURCES, "pods", Subdomain, false),
    def("", "v1", "PodTemplate", "podtemplates", "podtemplate", NONE, NONE, true, NO_SUB, "podtemplates", Subdomain, true),
    def("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller", &["rc"], ALL, true, SCALE_STATUS, "controllers", Subdomain, true),
    def("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", &["quota"], NONE, true, STATUS, "resourcequotas", Subdomain, false),
    def("", "v1", "Secret", "secrets", "secret", NONE, NONE, true, NO_SUB, "secrets", Subdomain, false),
    def("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", &["sa"], NONE, true, &[Token], "serviceaccounts", Subdomain, false),
    def("", "v1", "Service", "services", "service", &["svc"], ALL, true, PROXY_STATUS, "services/specs", Dns1035Label, false),
    // apps/v1
    def("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", NONE, NONE, true, NO_SUB, "controllerrevisions", Subdomain, false),
    def("apps", "v1", "DaemonSet", "daemonsets", "daemonset", &["ds"], ALL, true, STATUS, "daemonsets", Subdomain, true),
    def("apps", "v1", "Deployment", "deployments", "deployment", &["deploy"], ALL, true, SCALE_STATUS, "deployments", Subdomain, true),
    def("apps", "v1", "ReplicaSet", "replicasets", "replicaset", &["rs"], ALL, true, SCALE_STATUS, "replicasets", Subdomain, true),
    def("apps", "v1", "StatefulSet", "statefulsets", "statefulset", &["sts"], ALL, true, SCALE_STATUS, "statefulsets", Subdomain, true),
    // events.k8s.io/v1
    ApiResource { storage: CORE_EVENT, ..def("events.k8s.io", "v1", "Event", "events", "event", &["ev"], NONE, true, NO_SUB, "events", Subdomain, false) },
    // authentication.k8s.io/v1
    review("authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview", false),
    review("authentication.k8s.io", "TokenReview", "tokenreviews", "tokenreview", false),
    // authorization.k8s.io/v1
    review("authorization.k8s.io", "LocalSubjectAccessReview", "localsubjectaccessreviews", "localsubjectaccessreview", true),
    review("authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews", "selfsubjectaccessreview", false),
    review("authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews", "selfsubjectrulesreview", false),
    review("authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews", "subjectaccessreview", false),
    // autoscaling/v2, then autoscaling/v1 (stored as v2, converted by `conversion::hpa`)
    def("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler", &["hpa"], ALL, true, STATUS, "horizontalpodautoscalers", Subdomain, true),
    ApiResource { storage: HPA_V2, ..def("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler", &["hpa"], ALL, true, STATUS, "horizontalpodautoscalers", Subdomain, true) },
    // batch/v1
    def("batch", "v1", "CronJob", "cronjobs", "cronjob", &["cj"], ALL, true, STATUS, "cronjobs", Subdomain, true),
    def("batch", "v1", "Job", "jobs", "job", NONE, ALL, true, STATUS, "jobs", Subdomain, true),
    // certificates.k8s.io/v1
    def("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", "certificatesigningrequest", &["csr"], NONE, false, &[Approval, Status], "certificatesigningrequests", PathSegment, false),
    // networking.k8s.io/v1
    def("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", NONE, NONE, false, NO_SUB, "ingressclasses", Subdomain, true),
    def("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", &["ing"], NONE, true, STATUS, "ingress", Subdomain, true),
    def("networking.k8s.io", "v1", "IPAddress", "ipaddresses", "ipaddress", &["ip"], NONE, false, NO_SUB, "ipaddresses", IpAddress, false),
    def("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", &["netpol"], NONE, true, NO_SUB, "networkpolicies", Subdomain, true),
    def("networking.k8s.io", "v1", "ServiceCIDR", "servicecidrs", "servicecidr", NONE, NONE, false, STATUS, "servicecidrs", Subdomain, false),
    // policy/v1
    def("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", &["pdb"], NONE, true, STATUS, "poddisruptionbudgets", Subdomain, true),
    // rbac.authorization.k8s.io/v1
    def("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", NONE, NONE, false, NO_SUB, "clusterrolebindings", PathSegment, false),
    def("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", NONE, NONE, false, NO_SUB, "clusterroles", PathSegment, false),
    def("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", NONE, NONE, true, NO_SUB, "rolebindings", PathSegment, false),
    def("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", NONE, NONE, true, NO_SUB, "roles", PathSegment, false),
    // storage.k8s.io/v1
    def("storage.k8s.io", "v1", "CSIDriver", "csidrivers", "csidriver", NONE, NONE, false, NO_SUB, "csidrivers", Subdomain, false),
    def("storage.k8s.io", "v1", "CSINode", "csinodes", "csinode", NONE, NONE, false, NO_SUB, "csinodes", Subdomain, false),
    def("storage.k8s.io", "v1", "CSIStorageCapacity", "csistoragecapacities", "csistoragecapacity", NONE, NONE, true, NO_SUB, "csistoragecapacities", Subdomain, false),
    def("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", &["sc"], NONE, false, NO_SUB, "storageclasses", Subdomain, false),
    def("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", "volumeattachment", NONE, NONE, false, STATUS, "volumeattachments", Subdomain, false),
    def("storage.k8s.io", "v1", "VolumeAttributesClass", "volumeattributesclasses", "volumeattributesclass", &["vac"], NONE, false, NO_SUB, "volumeattributesclasses", Subdomain, false),
    // admissionregistration.k8s.io/v1
    def("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", "mutatingwebhookconfiguration", NONE, API_EXTENSIONS, false, NO_SUB, "mutatingwebhookconfigurations", Subdomain, true),
    def("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", "validatingadmissionpolicy", NONE, API_EXTENSIONS, false, STATUS, "validatingadmissionpolicies", Subdomain, true),
    def("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", "validatingadmissionpolicybinding", NONE, API_EXTENSIONS, false, NO_SUB, "validatingadmissionpolicybindings", Subdomain, true),
    def("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", "validatingwebhookconfiguration", NONE, API_EXTENSIONS, false, NO_SUB, "validatingwebhookconfigurations", Subdomain, true),
    // scheduling.k8s.io/v1
    def("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", &["pc"], NONE, false, NO_SUB, "priorityclasses", Subdomain, false),
    // coordination.k8s.io/v1
    def("coordination.k8s.io", "v1", "Lease", "leases", "lease", NONE, NONE, true, NO_SUB, "leases", Subdomain, false),
    // node.k8s.io/v1
    def("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", "runtimeclass", NONE, NONE, false, NO_SUB, "runtimeclasses", Subdomain, false),
    // discovery.k8s.io/v1
    def("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", NONE, NONE, true, NO_SUB, "endpointslices", Subdomain, true),
    // flowcontrol.apiserver.k8s.io/v1
    def("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema", "flowschemas", "flowschema", NONE, NONE, false, STATUS, "flowschemas", PathSegment, true),
    def("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration", "prioritylevelconfigurations", "prioritylevelconfiguration", NONE, NONE, false, STATUS, "prioritylevelconfigurations", PathSegment, true),
    // resource.k8s.io/v1
    def("resource.k8s.io", "v1", "DeviceClass", "deviceclasses", "deviceclass", NONE, NONE, false, NO_SUB, "deviceclasses", Subdomain, true),
    def("resource.k8s.io", "v1", "ResourceClaim", "resourceclaims", "resourceclaim", NONE, NONE, true, STATUS, "resourceclaims", Subdomain, false),
    def("resource.k8s.io", "v1", "ResourceClaimTemplate", "resourceclaimtemplates", "resourceclaimtemplate", NONE, NONE, true, NO_SUB, "resourceclaimtemplates", Subdomain, false),
    def("resource.k8s.io", "v1", "ResourceSlice", "resourceslices", "resourceslice", NONE, NONE, false, NO_SUB, "resourceslices", Subdomain, true),
];

/// The API groups in discovery order (core "" first).
pub fn groups() -> &'static [GroupDef] {
    GROUPS
}

/// One group by name.
pub fn group(name: &str) -> Option<&'static GroupDef> {
    GROUPS.iter().find(|g| g.name == name)
}

/// The preferred version of a group.
pub fn preferred_version(group_name: &str) -> Option<&'static str> {
    group(group_name).map(GroupDef::preferred)
}

/// The rows of one group/version, in discovery order.
pub fn in_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ApiResource> + 'a {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// The row for `/apis/<group>/<version>/<plural>` (or `/api/v1/<plural>`).
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ApiResource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The row serving `kind` in `group`/`version`.
pub fn by_kind(group: &str, version: &str, kind: &str) -> Option<&'static ApiResource> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind)
}

/// The row of `kind` in `group` at the group's preferred version.
pub fn by_group_kind(group: &str, kind: &str) -> Option<&'static ApiResource> {
    by_kind(group, preferred_version(group)?, kind)
}

/// Every built-in resource.
pub fn all_resources() -> &'static [ApiResource] {
    RESOURCES
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn no_duplicates_and_sane_rows() {
        let mut seen = std::collections::HashSet::new();
        for r in RESOURCES {
            assert!(
                seen.insert((r.group, r.version, r.plural)),
                "duplicate {}/{}",
                r.group,
                r.plural
            );
            assert!(
                r.kind.chars().next().is_some_and(char::is_uppercase),
                "{}",
                r.kind
            );
            assert!(
                r.kind.chars().all(|c| c.is_ascii_alphanumeric()),
                "{}",
                r.kind
            );
            assert_eq!(r.plural, r.plural.to_lowercase());
            assert_eq!(r.singular, r.kind.to_lowercase(), "{}", r.plural);
            assert!(
                r.plural.starts_with(r.singular.trim_end_matches('y')),
                "{} / {}",
                r.plural,
                r.singular
            );
            assert!(!r.key_segment.is_empty());
            assert!(r.verbs.windows(2).all(|w| w[0] < w[1]), "{}", r.plural);
            assert!(
                r.subresources.windows(2).all(|w| w[0].name() < w[1].name()),
                "{}",
                r.plural
            );
            // Every row's version is one its group serves, and its storage kind is a row.
            assert!(
                group(r.group).is_some_and(|g| g.versions.contains(&r.version)),
                "{}/{}",
                r.group,
                r.version
            );
            assert!(
                by_kind(r.storage.group, r.storage.version, r.storage.kind).is_some(),
                "{}",
                r.plural
            );
        }
    }

    #[test]
    fn every_group_version_has_rows_and_rows_are_in_discovery_order() {
        for g in GROUPS {
            for v in g.versions {
                let plurals: Vec<&str> = in_group_version(g.name, v).map(|r| r.plural).collect();
                assert!(!plurals.is_empty(), "{}/{v}", g.name);
                let mut sorted = plurals.clone();
                sorted.sort_unstable();
                assert_eq!(plurals, sorted, "{}/{v}", g.name);
            }
        }
        assert_eq!(GROUPS[0].name, "");
        assert_eq!(GROUPS[1].name, "apps");
        // Rows are grouped as GROUPS lists them.
        let order: Vec<usize> = RESOURCES
            .iter()
            .map(|r| {
                GROUPS
                    .iter()
                    .position(|g| g.name == r.group)
                    .unwrap_or(usize::MAX)
            })
            .collect();
        assert!(order.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn lookups() {
        let d = lookup("apps", "v1", "deployments").expect("deployments");
        assert_eq!(d.kind, "Deployment");
        assert_eq!(d.short_names, &["deploy"]);
        assert!(d.has_scale_subresource() && d.has_status_subresource() && d.generation);
        assert!(lookup("apps", "v2", "deployments").is_none());
        assert!(lookup("", "v1", "deployments").is_none());
        assert_eq!(
            by_kind("", "v1", "Node").map(|r| r.key_segment),
            Some("minions")
        );
        assert_eq!(
            by_group_kind("", "Service").map(|r| r.key_segment),
            Some("services/specs")
        );
        assert_eq!(
            lookup("", "v1", "endpoints").map(|r| r.key_segment),
            Some("services/endpoints")
        );
        assert_eq!(
            lookup("", "v1", "replicationcontrollers").map(|r| r.key_segment),
            Some("controllers")
        );
        assert_eq!(
            lookup("networking.k8s.io", "v1", "ingresses").map(|r| r.key_segment),
            Some("ingress")
        );
        assert_eq!(preferred_version("autoscaling"), Some("v2"));
        assert_eq!(preferred_version(""), Some("v1"));
        assert_eq!(preferred_version("extensions"), None);
        let v1 = lookup("autoscaling", "v1", "horizontalpodautoscalers").expect("hpa v1");
        assert_eq!(
            (v1.storage, v1.key_segment),
            (HPA_V2, "horizontalpodautoscalers")
        );
        let ev = by_group_kind("events.k8s.io", "Event").expect("events.k8s.io");
        assert_eq!((ev.storage, ev.key_segment), (CORE_EVENT, "events"));
        assert_eq!(
            lookup("", "v1", "services").map(|r| r.name_rule),
            Some(Dns1035Label)
        );
        assert_eq!(
            lookup("", "v1", "namespaces").map(|r| r.name_rule),
            Some(Label)
        );
        assert_eq!(
            lookup("rbac.authorization.k8s.io", "v1", "roles").map(|r| r.name_rule),
            Some(PathSegment)
        );
        let ns = lookup("", "v1", "namespaces").expect("namespaces");
        assert!(!ns.verbs.contains(&"deletecollection"));
        assert_eq!(
            ns.subresources,
            &[Finalize, Status],
            "namespaces/finalize is served (PUT only)"
        );
        assert_eq!(ns.subresource("finalize"), Some(Finalize));
        assert_eq!(ns.subresource("scale"), None);
        assert_eq!(Scale.response_kind(d), SCALE_KIND);
        // Services: DNS-1035 (must start with a letter), upstream's message.
        let v = |n| super::super::validation::name(Dns1035Label, n);
        assert!(v("web-1").is_empty());
        assert_eq!(v("1web"), vec!["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".to_string()]);
        assert_eq!(Status.response_kind(d), d.gvk());
    }
}
