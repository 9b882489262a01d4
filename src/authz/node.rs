//! The `Node` mode, as upstream's Node authorizer decides for kubelets (`system:node:<name>`
//! in `system:nodes`): a node may read the Secrets, ConfigMaps, PersistentVolumeClaims and
//! PersistentVolumes of the Pods bound to it, and create tokens for their ServiceAccounts —
//! by name only, with upstream's reasons when not; it may touch only its own Lease and
//! CSINode; everything else is upstream's static node rules (the `system:node` ClusterRole
//! of the bootstrap policy). Other users get no opinion.
//!
//! The relationships come from the shard's replica: an index of what each node's Pods refer
//! to, rebuilt (only when a node asks) after the replica's Pods or PersistentVolumeClaims
//! changed. Upstream updates its graph per event; a rebuild costs one pass over the Pods.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::Value;

use super::rbac::PolicyRule;
use super::{Attributes, Authorizer, Decision, RuleSet};
use crate::registry::keys;
use crate::request::UserInfo;
use crate::storage::cache::WatchCache;

/// The group every node is in.
pub const NODES_GROUP: &str = "system:nodes";
const NODE_PREFIX: &str = "system:node:";

/// What a node's Pods refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Secret,
    ConfigMap,
    Claim,
    Volume,
    ServiceAccount,
}

/// The index of one replica state: (kind, namespace, name) objects each node may reach.
#[derive(Default)]
struct Graph {
    marker: Vec<(u64, u64)>,
    reachable: HashMap<String, HashSet<(Kind, String, String)>>,
}

/// The Node mode of one shard.
pub struct NodeAuthorizer {
    cache: Option<WatchCache>,
    prefix: String,
    /// The Pods' collection root, and the replica's slots for Pods and claims.
    pods_root: Bytes,
    slots: Vec<usize>,
    graph: RefCell<Graph>,
}

impl std::fmt::Debug for NodeAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeAuthorizer").finish_non_exhaustive()
    }
}

/// The node a user is, if it is one (`Some("")`: a node user with no name).
pub fn node_identity(user: &UserInfo) -> Option<&str> {
    if !user.in_group(NODES_GROUP) {
        return None;
    }
    user.name.strip_prefix(NODE_PREFIX)
}

/// upstream's static node rules: the bootstrap policy's `system:node` ClusterRole.
fn node_rules() -> &'static [PolicyRule] {
    static RULES: OnceLock<Vec<PolicyRule>> = OnceLock::new();
    RULES.get_or_init(|| {
        super::rbac::bootstrap::policy()
            .iter()
            .filter(|(plural, _)| *plural == "clusterroles")
            .flat_map(|(_, objects)| objects.iter())
            .find(|o| o.get("metadata").and_then(|m| m.get("name")) == Some(&"system:node".into()))
            .and_then(|o| o.get("rules").cloned())
            .and_then(|r| serde_json::from_value(r).ok())
            .unwrap_or_default()
    })
}

/// Every name a Pod refers to, by kind (upstream's `VisitPodSecretNames`,
/// `VisitPodConfigmapNames`, its claims and its ServiceAccount).
fn pod_references(pod: &Value) -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    let spec = &pod["spec"];
    let mut push = |k: Kind, v: &Value| {
        if let Some(n) = v.as_str().filter(|n| !n.is_empty()) {
            out.push((k, n.to_string()));
        }
    };
    push(Kind::ServiceAccount, &spec["serviceAccountName"]);
    for s in spec["imagePullSecrets"].as_array().into_iter().flatten() {
        push(Kind::Secret, &s["name"]);
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            for e in c["env"].as_array().into_iter().flatten() {
                push(Kind::Secret, &e["valueFrom"]["secretKeyRef"]["name"]);
                push(Kind::ConfigMap, &e["valueFrom"]["configMapKeyRef"]["name"]);
            }
            for e in c["envFrom"].as_array().into_iter().flatten() {
                push(Kind::Secret, &e["secretRef"]["name"]);
                push(Kind::ConfigMap, &e["configMapRef"]["name"]);
            }
        }
    }
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    for v in spec["volumes"].as_array().into_iter().flatten() {
        push(Kind::Secret, &v["secret"]["secretName"]);
        push(Kind::ConfigMap, &v["configMap"]["name"]);
        push(Kind::Claim, &v["persistentVolumeClaim"]["claimName"]);
        if v.get("ephemeral").is_some() {
            // A generic ephemeral volume's claim is named `<pod>-<volume>`.
            if let Some(n) = v["name"].as_str() {
                push(Kind::Claim, &Value::String(format!("{pod_name}-{n}")));
            }
        }
        for src in v["projected"]["sources"].as_array().into_iter().flatten() {
            push(Kind::Secret, &src["secret"]["name"]);
            push(Kind::ConfigMap, &src["configMap"]["name"]);
        }
        push(Kind::Secret, &v["azureFile"]["secretName"]);
        for plugin in [
            "cephfs",
            "cinder",
            "flexVolume",
            "iscsi",
            "rbd",
            "scaleIO",
            "storageos",
        ] {
            push(Kind::Secret, &v[plugin]["secretRef"]["name"]);
        }
        push(Kind::Secret, &v["csi"]["nodePublishSecretRef"]["name"]);
    }
    out
}

impl NodeAuthorizer {
    /// The mode over `cache` (None: no replica, so nodes reach nothing through Pods).
    pub fn new(cache: Option<WatchCache>, prefix: &str) -> Self {
        let root = |segment: &str| Bytes::from(keys::collection_prefix(prefix, segment, None));
        let slots = cache
            .as_ref()
            .map(|c| {
                ["pods", "persistentvolumeclaims"]
                    .iter()
                    .filter_map(|s| c.resource_index(&root(s)))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            cache,
            prefix: prefix.to_string(),
            pods_root: root("pods"),
            slots,
            graph: RefCell::new(Graph::default()),
        }
    }

    /// Whether `node` reaches the object through its Pods, the index rebuilt first when the
    /// replica's Pods or claims changed.
    fn reaches(&self, node: &str, kind: Kind, ns: &str, name: &str) -> bool {
        let Some(cache) = &self.cache else {
            return false;
        };
        let marker: Vec<(u64, u64)> = self.slots.iter().map(|s| cache.changes(*s)).collect();
        let mut graph = self.graph.borrow_mut();
        if graph.marker != marker || marker.is_empty() {
            *graph = self.build(cache, marker);
        }
        graph
            .reachable
            .get(node)
            .is_some_and(|r| r.contains(&(kind, ns.to_string(), name.to_string())))
    }

    fn build(&self, cache: &WatchCache, marker: Vec<(u64, u64)>) -> Graph {
        let mut reachable: HashMap<String, HashSet<(Kind, String, String)>> = HashMap::new();
        for obj in cache.objects_under(&self.pods_root) {
            let Ok(pod) = serde_json::from_slice::<Value>(&obj.json) else {
                continue;
            };
            let Some(node) = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) else {
                continue;
            };
            let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
            let set = reachable.entry(node.to_string()).or_default();
            for (kind, name) in pod_references(&pod) {
                if kind == Kind::Claim {
                    // The claim's bound volume, when the replica holds claims.
                    let key =
                        keys::object_key(&self.prefix, "persistentvolumeclaims", Some(ns), &name);
                    if let Some(claim) = cache.get(key.as_bytes()).0 {
                        if let Ok(c) = serde_json::from_slice::<Value>(&claim.json) {
                            if let Some(pv) =
                                c["spec"]["volumeName"].as_str().filter(|v| !v.is_empty())
                            {
                                set.insert((Kind::Volume, String::new(), pv.to_string()));
                            }
                        }
                    }
                }
                set.insert((kind, ns.to_string(), name));
            }
        }
        Graph { marker, reachable }
    }

    fn path(&self, node: &str, kind: Kind, a: &Attributes<'_>) -> Decision {
        if a.name.is_empty() {
            return Decision::NoOpinion("No Object name found".into());
        }
        let ns = if kind == Kind::Volume {
            ""
        } else {
            a.namespace
        };
        if self.reaches(node, kind, ns, a.name) {
            Decision::Allow(String::new())
        } else {
            Decision::NoOpinion(format!(
                "no relationship found between node '{node}' and this object"
            ))
        }
    }

    fn read_namespaced(&self, node: &str, kind: Kind, a: &Attributes<'_>) -> Decision {
        if !matches!(a.verb, "get" | "list" | "watch") {
            return Decision::NoOpinion("can only read resources of this type".into());
        }
        if !a.subresource.is_empty() {
            return Decision::NoOpinion("cannot read subresource".into());
        }
        if a.namespace.is_empty() {
            return Decision::NoOpinion("can only read namespaced object of this type".into());
        }
        self.path(node, kind, a)
    }

    fn get_only(&self, node: &str, kind: Kind, a: &Attributes<'_>) -> Decision {
        if a.verb != "get" {
            return Decision::NoOpinion("can only get individual resources of this type".into());
        }
        if !a.subresource.is_empty() {
            return Decision::NoOpinion("cannot get subresource".into());
        }
        self.path(node, kind, a)
    }

    fn claim_status(&self, node: &str, a: &Attributes<'_>) -> Decision {
        if !matches!(a.verb, "update" | "patch" | "get") {
            return Decision::NoOpinion("can only get, update or patch the status".into());
        }
        self.path(node, Kind::Claim, a)
    }

    fn create_token(&self, node: &str, a: &Attributes<'_>) -> Decision {
        if a.verb != "create" || a.name.is_empty() {
            return Decision::NoOpinion(
                "can only create tokens for individual service accounts".into(),
            );
        }
        if a.subresource != "token" {
            return Decision::NoOpinion(
                "can only create token subresource of serviceaccount".into(),
            );
        }
        self.path(node, Kind::ServiceAccount, a)
    }

    fn own_object(node: &str, a: &Attributes<'_>, what: &str) -> Option<Decision> {
        if !matches!(a.verb, "get" | "create" | "update" | "patch" | "delete") {
            return Some(Decision::NoOpinion(format!(
                "can only get, create, update, patch, or delete a {what}"
            )));
        }
        if a.verb != "create" && a.name != node {
            return Some(Decision::NoOpinion(format!(
                "can only access {what} with the same name as the requesting node"
            )));
        }
        None
    }
}

impl Authorizer for NodeAuthorizer {
    fn name(&self) -> &'static str {
        "Node"
    }

    fn authorize(&self, a: &Attributes<'_>) -> Decision {
        let Some(node) = node_identity(a.user) else {
            return Decision::NoOpinion(String::new());
        };
        if node.is_empty() {
            return Decision::NoOpinion(format!("unknown node for user {:?}", a.user.name));
        }
        if a.resource_request {
            match (a.api_group, a.resource) {
                ("", "secrets") => return self.read_namespaced(node, Kind::Secret, a),
                ("", "configmaps") => return self.read_namespaced(node, Kind::ConfigMap, a),
                ("", "persistentvolumeclaims") if a.subresource == "status" => {
                    return self.claim_status(node, a)
                }
                ("", "persistentvolumeclaims") => return self.get_only(node, Kind::Claim, a),
                ("", "persistentvolumes") => return self.get_only(node, Kind::Volume, a),
                ("", "serviceaccounts") => return self.create_token(node, a),
                ("coordination.k8s.io", "leases") => {
                    if a.namespace != "kube-node-lease" {
                        return Decision::NoOpinion(
                            "can only access leases in the kube-node-lease namespace".into(),
                        );
                    }
                    if let Some(d) = Self::own_object(node, a, "node lease") {
                        return d;
                    }
                    return Decision::Allow(String::new());
                }
                ("storage.k8s.io", "csinodes") => {
                    if let Some(d) = Self::own_object(node, a, "CSINode") {
                        return d;
                    }
                    return Decision::Allow(String::new());
                }
                _ => {}
            }
        }
        if node_rules().iter().any(|r| r.allows(a)) {
            Decision::Allow(String::new())
        } else {
            Decision::NoOpinion(String::new())
        }
    }

    /// As upstream: a node's permissions cannot be listed (incomplete); anyone else has no
    /// rules from this mode.
    fn rules_for(&self, user: &UserInfo, _namespace: &str) -> RuleSet {
        RuleSet {
            incomplete: node_identity(user).is_some(),
            ..RuleSet::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_a_pod_refers_to() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {
            "nodeName": "n1", "serviceAccountName": "sa",
            "imagePullSecrets": [{"name": "pull"}],
            "containers": [{"name": "c", "env": [
                {"name": "A", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}},
                {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "k"}}}],
                "envFrom": [{"configMapRef": {"name": "from-cm"}}]}],
            "volumes": [{"name": "v1", "secret": {"secretName": "vol-secret"}},
                {"name": "v2", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "v3", "projected": {"sources": [{"configMap": {"name": "proj-cm"}}]}},
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}}]}});
        let mut got = pod_references(&pod);
        got.sort_by(|a, b| a.1.cmp(&b.1));
        let names: Vec<(Kind, &str)> = got.iter().map(|(k, n)| (*k, n.as_str())).collect();
        assert_eq!(
            names,
            [
                (Kind::Claim, "data"),
                (Kind::ConfigMap, "env-cm"),
                (Kind::Secret, "env-secret"),
                (Kind::ConfigMap, "from-cm"),
                (Kind::Claim, "p-scratch"),
                (Kind::ConfigMap, "proj-cm"),
                (Kind::Secret, "pull"),
                (Kind::ServiceAccount, "sa"),
                (Kind::Secret, "vol-secret"),
            ]
        );
        let kubelet = UserInfo {
            name: "system:node:n1".into(),
            groups: vec![NODES_GROUP.into()],
            ..UserInfo::default()
        };
        assert_eq!(node_identity(&kubelet), Some("n1"));
        assert_eq!(node_identity(&UserInfo::default()), None);
        assert!(
            !node_rules().is_empty(),
            "the static node rules come from the policy"
        );
    }
}
