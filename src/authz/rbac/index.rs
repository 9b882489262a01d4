//! The RBAC index: every binding's grant by subject, the role it refers to resolved once.

use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use serde::Deserialize;

use super::rules::PolicyRule;
use crate::authz::{Attributes, Decision, RuleSet};
use crate::request::UserInfo;

/// Who a binding grants to: a user name (ServiceAccounts as `system:serviceaccount:NS:NAME`)
/// or a group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Subject {
    User(String),
    Group(String),
}

/// One binding's grant: where it applies and the rules of its role (or why it has none).
#[derive(Clone, Debug)]
struct Grant {
    /// The RoleBinding's namespace; None for a ClusterRoleBinding (everywhere).
    namespace: Option<String>,
    rules: Result<Rc<[PolicyRule]>, String>,
    /// The binding, role and subject, as upstream names them when this grant allows.
    source: Rc<str>,
}

/// The index of one replica state.
#[derive(Debug, Default)]
pub(super) struct Index {
    /// The replica's change markers of the four RBAC resources this was built from.
    pub(super) marker: Vec<(u64, u64)>,
    grants: HashMap<Subject, Vec<Grant>>,
}

#[derive(Deserialize)]
struct Meta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Deserialize)]
struct RoleObject {
    metadata: Meta,
    #[serde(default)]
    rules: Option<Vec<PolicyRule>>,
}

#[derive(Deserialize)]
struct RoleRef {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct SubjectObject {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BindingObject {
    metadata: Meta,
    role_ref: RoleRef,
    #[serde(default)]
    subjects: Option<Vec<SubjectObject>>,
}

fn parse<T: for<'de> Deserialize<'de>>(items: &[Bytes]) -> Vec<T> {
    items
        .iter()
        .filter_map(|b| serde_json::from_slice(b).ok())
        .collect()
}

impl Index {
    /// Builds the index from the replica's ClusterRoles, ClusterRoleBindings, Roles and
    /// RoleBindings (each a list of object JSON, in `RBAC_SEGMENTS` order).
    pub(super) fn build(marker: Vec<(u64, u64)>, objects: &[Vec<Bytes>]) -> Self {
        let empty = Vec::new();
        let list = |i: usize| objects.get(i).unwrap_or(&empty);
        let cluster_roles: HashMap<String, Rc<[PolicyRule]>> = parse::<RoleObject>(list(0))
            .into_iter()
            .map(|r| (r.metadata.name, r.rules.unwrap_or_default().into()))
            .collect();
        let roles: HashMap<(String, String), Rc<[PolicyRule]>> = parse::<RoleObject>(list(2))
            .into_iter()
            .map(|r| {
                (
                    (r.metadata.namespace, r.metadata.name),
                    r.rules.unwrap_or_default().into(),
                )
            })
            .collect();
        let mut grants: HashMap<Subject, Vec<Grant>> = HashMap::new();
        let mut add = |b: BindingObject, namespace: Option<String>| {
            let rules = match (b.role_ref.kind.as_str(), &namespace) {
                ("ClusterRole", _) => {
                    cluster_roles.get(&b.role_ref.name).cloned().ok_or_else(|| {
                        format!(
                            "clusterrole.rbac.authorization.k8s.io {:?} not found",
                            b.role_ref.name
                        )
                    })
                }
                ("Role", Some(ns)) => roles
                    .get(&(ns.clone(), b.role_ref.name.clone()))
                    .cloned()
                    .ok_or_else(|| {
                        format!(
                            "role.rbac.authorization.k8s.io {:?} not found",
                            b.role_ref.name
                        )
                    }),
                (other, _) => Err(format!("unsupported role reference kind: {other:?}")),
            };
            for s in b.subjects.unwrap_or_default() {
                let subject = match s.kind.as_str() {
                    "User" => Subject::User(s.name),
                    "Group" => Subject::Group(s.name),
                    "ServiceAccount" => {
                        let ns = if s.namespace.is_empty() {
                            namespace.clone().unwrap_or_default()
                        } else {
                            s.namespace
                        };
                        Subject::User(format!("system:serviceaccount:{ns}:{}", s.name))
                    }
                    _ => continue,
                };
                let described = match (&subject, s.kind.as_str()) {
                    (Subject::User(full), "ServiceAccount") => {
                        let rest = full.trim_start_matches("system:serviceaccount:");
                        let (ns, name) = rest.split_once(':').unwrap_or(("", rest));
                        format!("ServiceAccount {:?}", format!("{name}/{ns}"))
                    }
                    (Subject::User(n), _) => format!("User {n:?}"),
                    (Subject::Group(n), _) => format!("Group {n:?}"),
                };
                let binding = match &namespace {
                    Some(ns) => format!("RoleBinding {:?}", format!("{}/{ns}", b.metadata.name)),
                    None => format!("ClusterRoleBinding {:?}", b.metadata.name),
                };
                let source: Rc<str> = format!(
                    "{binding} of {} {:?} to {described}",
                    b.role_ref.kind, b.role_ref.name
                )
                .into();
                grants.entry(subject).or_default().push(Grant {
                    namespace: namespace.clone(),
                    rules: rules.clone(),
                    source,
                });
            }
        };
        for b in parse::<BindingObject>(list(1)) {
            add(b, None);
        }
        for b in parse::<BindingObject>(list(3)) {
            let ns = b.metadata.namespace.clone();
            add(b, Some(ns));
        }
        Self { marker, grants }
    }

    /// The user's grants that apply in `namespace` ("" : only cluster-wide ones).
    fn applicable<'a>(
        &'a self,
        user: &'a UserInfo,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Grant> + 'a {
        let subjects = std::iter::once(Subject::User(user.name.clone()))
            .chain(user.groups.iter().map(|g| Subject::Group(g.clone())));
        subjects
            .filter_map(move |s| self.grants.get(&s))
            .flatten()
            .filter(move |g| match &g.namespace {
                None => true,
                Some(ns) => !namespace.is_empty() && ns == namespace,
            })
    }

    pub(super) fn authorize(&self, a: &Attributes<'_>) -> Decision {
        let mut errors = Vec::new();
        for g in self.applicable(a.user, a.namespace) {
            match &g.rules {
                Ok(rules) if rules.iter().any(|r| r.allows(a)) => {
                    return Decision::Allow(format!("RBAC: allowed by {}", g.source))
                }
                Ok(_) => {}
                Err(e) => errors.push(e.clone()),
            }
        }
        if errors.is_empty() {
            Decision::NoOpinion(String::new())
        } else {
            errors.sort();
            errors.dedup();
            Decision::NoOpinion(format!("RBAC: [{}]", errors.join(", ")))
        }
    }

    pub(super) fn rules_for(&self, user: &UserInfo, namespace: &str) -> RuleSet {
        let mut out = RuleSet::default();
        for g in self.applicable(user, namespace) {
            match &g.rules {
                Ok(rules) => {
                    for r in rules.iter() {
                        if r.non_resource_urls.is_empty() {
                            out.resource_rules.push(r.clone());
                        } else {
                            out.non_resource_rules.push(r.clone());
                        }
                    }
                }
                Err(_) => out.incomplete = true,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn b(v: serde_json::Value) -> Bytes {
        Bytes::from(serde_json::to_vec(&v).unwrap())
    }

    fn index() -> Index {
        let cluster_roles = vec![
            b(
                json!({"metadata": {"name": "view"}, "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"]}]}),
            ),
            b(
                json!({"metadata": {"name": "nodes"}, "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]}]}),
            ),
        ];
        let crbs = vec![b(
            json!({"metadata": {"name": "ops-nodes"}, "roleRef": {"kind": "ClusterRole", "name": "nodes"},
            "subjects": [{"kind": "Group", "name": "ops"}]}),
        )];
        let roles = vec![b(
            json!({"metadata": {"name": "writer", "namespace": "team"}, "rules": [{"verbs": ["create"], "apiGroups": [""], "resources": ["configmaps"]}]}),
        )];
        let rbs = vec![
            b(
                json!({"metadata": {"name": "alice-view", "namespace": "team"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "User", "name": "alice"}]}),
            ),
            b(
                json!({"metadata": {"name": "sa-writer", "namespace": "team"}, "roleRef": {"kind": "Role", "name": "writer"},
                "subjects": [{"kind": "ServiceAccount", "name": "bot"}]}),
            ),
            b(
                json!({"metadata": {"name": "dangling", "namespace": "team"}, "roleRef": {"kind": "Role", "name": "missing"},
                "subjects": [{"kind": "User", "name": "carol"}]}),
            ),
        ];
        Index::build(vec![], &[cluster_roles, crbs, roles, rbs])
    }

    fn ask<'a>(
        user: &'a UserInfo,
        verb: &'a str,
        ns: &'a str,
        resource: &'a str,
    ) -> Attributes<'a> {
        Attributes {
            user,
            verb,
            resource_request: true,
            namespace: ns,
            api_group: "",
            api_version: "v1",
            resource,
            subresource: "",
            name: "",
            path: "",
        }
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..UserInfo::default()
        }
    }

    #[test]
    fn bindings_grant_in_their_scope() {
        let i = index();
        let alice = user("alice", &[]);
        assert!(matches!(
            i.authorize(&ask(&alice, "list", "team", "configmaps")),
            Decision::Allow(_)
        ));
        assert!(matches!(
            i.authorize(&ask(&alice, "list", "other", "configmaps")),
            Decision::NoOpinion(_)
        ));
        assert!(
            matches!(
                i.authorize(&ask(&alice, "list", "", "configmaps")),
                Decision::NoOpinion(_)
            ),
            "a RoleBinding never grants cluster-wide"
        );
        assert!(matches!(
            i.authorize(&ask(&alice, "delete", "team", "configmaps")),
            Decision::NoOpinion(_)
        ));
        let ops = user("dave", &["ops"]);
        assert!(matches!(
            i.authorize(&ask(&ops, "get", "", "nodes")),
            Decision::Allow(_)
        ));
        assert!(matches!(
            i.authorize(&ask(&ops, "get", "any", "nodes")),
            Decision::Allow(_)
        ));
        let bot = user("system:serviceaccount:team:bot", &[]);
        assert!(matches!(
            i.authorize(&ask(&bot, "create", "team", "configmaps")),
            Decision::Allow(_)
        ));
        let carol = user("carol", &[]);
        assert_eq!(
            i.authorize(&ask(&carol, "get", "team", "configmaps")),
            Decision::NoOpinion(
                "RBAC: [role.rbac.authorization.k8s.io \"missing\" not found]".into()
            )
        );
        let rules = i.rules_for(&alice, "team");
        assert_eq!(rules.resource_rules.len(), 1);
        assert!(!rules.incomplete);
        assert!(i.rules_for(&carol, "team").incomplete);
    }
}
