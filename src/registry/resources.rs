//! The resource table: every built-in resource kubeshard serves, as data. Routes, discovery
//! and the namespace finalizer are all generated from it; nothing is written per resource.

use super::strategy::Resource;
use super::validation::NameRule;

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct ResourceDef {
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
    /// Verbs on the main resource.
    pub verbs: &'static [&'static str],
    /// Subresources (`status`, `scale`).
    pub subresources: &'static [&'static str],
    /// The etcd key segment kube-apiserver uses.
    pub key_segment: &'static str,
    /// Name validation.
    pub name_rule: NameRule,
    /// Whether `metadata.generation` tracks spec changes.
    pub generation: bool,
}

/// Every verb, as upstream lists them for most resources.
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
/// Verbs of the status and scale subresources.
pub const SUBRESOURCE_VERBS: &[&str] = &["get", "patch", "update"];

// A table row is a row: twelve columns read better positionally than as a builder.
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
    subresources: &'static [&'static str],
    key_segment: &'static str,
    name_rule: NameRule,
    generation: bool,
) -> ResourceDef {
    ResourceDef {
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
    }
}

use NameRule::{Label, PathSegment, Subdomain};

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];
const STATUS: &[&str] = &["status"];
const SCALE_STATUS: &[&str] = &["scale", "status"];

/// The table, in discovery order (core first, then groups as kube-apiserver lists them).
#[rustfmt::skip]
pub static RESOURCES: &[ResourceDef] = &[
    // core/v1
    ResourceDef { verbs: NS_VERBS, ..def("", "v1", "Namespace", "namespaces", "namespace", &["ns"], NONE, false, &["finalize", "status"], "namespaces", Label, false) },
    def("", "v1", "ConfigMap", "configmaps", "configmap", &["cm"], NONE, true, NONE, "configmaps", Subdomain, false),
    def("", "v1", "Endpoints", "endpoints", "endpoints", &["ep"], NONE, true, NONE, "services/endpoints", Subdomain, false),
    def("", "v1", "Event", "events", "event", &["ev"], NONE, true, NONE, "events", Subdomain, false),
    def("", "v1", "LimitRange", "limitranges", "limitrange", &["limits"], NONE, true, NONE, "limitranges", Subdomain, false),
    def("", "v1", "Node", "nodes", "node", &["no"], NONE, false, STATUS, "minions", Subdomain, false),
    def("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", &["pvc"], NONE, true, STATUS, "persistentvolumeclaims", Subdomain, false),
    def("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", &["pv"], NONE, false, STATUS, "persistentvolumes", Subdomain, false),
    def("", "v1", "Pod", "pods", "pod", &["po"], ALL, true, STATUS, "pods", Subdomain, false),
    def("", "v1", "PodTemplate", "podtemplates", "podtemplate", NONE, NONE, true, NONE, "podtemplates", Subdomain, false),
    def("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller", &["rc"], ALL, true, SCALE_STATUS, "controllers", Subdomain, true),
    def("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", &["quota"], NONE, true, STATUS, "resourcequotas", Subdomain, false),
    def("", "v1", "Secret", "secrets", "secret", NONE, NONE, true, NONE, "secrets", Subdomain, false),
    def("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", &["sa"], NONE, true, NONE, "serviceaccounts", Subdomain, false),
    def("", "v1", "Service", "services", "service", &["svc"], ALL, true, STATUS, "services/specs", Label, false),
    // apps/v1
    def("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", NONE, NONE, true, NONE, "controllerrevisions", Subdomain, false),
    def("apps", "v1", "DaemonSet", "daemonsets", "daemonset", &["ds"], ALL, true, STATUS, "daemonsets", Subdomain, true),
    def("apps", "v1", "Deployment", "deployments", "deployment", &["deploy"], ALL, true, SCALE_STATUS, "deployments", Subdomain, true),
    def("apps", "v1", "ReplicaSet", "replicasets", "replicaset", &["rs"], ALL, true, SCALE_STATUS, "replicasets", Subdomain, true),
    def("apps", "v1", "StatefulSet", "statefulsets", "statefulset", &["sts"], ALL, true, SCALE_STATUS, "statefulsets", Subdomain, true),
    // events.k8s.io/v1
    def("events.k8s.io", "v1", "Event", "events", "event", &["ev"], NONE, true, NONE, "events", Subdomain, false),
    // autoscaling/v2
    def("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", "horizontalpodautoscaler", &["hpa"], ALL, true, STATUS, "horizontalpodautoscalers", Subdomain, true),
    // batch/v1
    def("batch", "v1", "CronJob", "cronjobs", "cronjob", &["cj"], ALL, true, STATUS, "cronjobs", Subdomain, true),
    def("batch", "v1", "Job", "jobs", "job", NONE, ALL, true, STATUS, "jobs", Subdomain, true),
    // networking.k8s.io/v1
    def("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", NONE, NONE, false, NONE, "ingressclasses", Subdomain, false),
    def("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", &["ing"], NONE, true, STATUS, "ingress", Subdomain, true),
    def("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", &["netpol"], NONE, true, NONE, "networkpolicies", Subdomain, true),
    // policy/v1
    def("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", &["pdb"], NONE, true, STATUS, "poddisruptionbudgets", Subdomain, true),
    // rbac.authorization.k8s.io/v1
    def("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", NONE, NONE, false, NONE, "clusterrolebindings", PathSegment, false),
    def("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", NONE, NONE, false, NONE, "clusterroles", PathSegment, false),
    def("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", NONE, NONE, true, NONE, "rolebindings", PathSegment, false),
    def("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", NONE, NONE, true, NONE, "roles", PathSegment, false),
    // storage.k8s.io/v1
    def("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", &["sc"], NONE, false, NONE, "storageclasses", Subdomain, false),
    // scheduling.k8s.io/v1
    def("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", &["pc"], NONE, false, NONE, "priorityclasses", Subdomain, false),
    // coordination.k8s.io/v1
    def("coordination.k8s.io", "v1", "Lease", "leases", "lease", NONE, NONE, true, NONE, "leases", Subdomain, false),
    // node.k8s.io/v1
    def("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", "runtimeclass", NONE, NONE, false, NONE, "runtimeclasses", Subdomain, false),
    // discovery.k8s.io/v1
    def("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", NONE, NONE, true, NONE, "endpointslices", Subdomain, false),
];

/// The API groups in discovery order (core "" first), each with its versions.
pub fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in RESOURCES {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, vs)) if !vs.contains(&r.version) => vs.push(r.version),
            Some(_) => {}
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// The rows of one group/version.
pub fn in_group_version<'a>(
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'static ResourceDef> + 'a {
    RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

impl ResourceDef {
    /// What the REST layer needs of this row.
    pub fn to_resource(&self) -> Resource {
        Resource {
            group: self.group.into(),
            version: self.version.into(),
            kind: self.kind.into(),
            plural: self.plural.into(),
            namespaced: self.namespaced,
            key_segment: self.key_segment.into(),
            name_rule: self.name_rule,
            has_generation: self.generation,
            subresources: self
                .subresources
                .iter()
                .filter(|s| **s != "finalize")
                .map(|s| s.to_string())
                .collect(),
            verbs: self.verbs.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Every resource the REST API serves.
pub fn all_resources() -> Vec<Resource> {
    RESOURCES.iter().map(ResourceDef::to_resource).collect()
}

#[cfg(test)]
mod tests {
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
            assert_eq!(r.plural, r.plural.to_lowercase());
            assert!(!r.key_segment.is_empty());
        }
        assert_eq!(groups()[0].0, "");
        assert!(RESOURCES
            .iter()
            .any(|r| r.plural == "nodes" && r.key_segment == "minions"));
    }
}
