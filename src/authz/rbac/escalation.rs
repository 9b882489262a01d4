//! RBAC escalation prevention, as upstream's RBAC storage enforces it: nobody grants what
//! they do not hold. Writing a Role or ClusterRole needs the `escalate` verb on it, or every
//! rule it has must be covered by the writer's own RBAC rules where it applies; writing a
//! RoleBinding or ClusterRoleBinding needs the `bind` verb on the role it refers to, or the
//! writer must hold every rule of that role. A ClusterRole with an `aggregationRule` needs
//! cluster-admin's rights (it can gather anything). `system:masters` and the server's own
//! writes are exempt.
//!
//! The check runs at the Store's validating admission point, on the object as it would be
//! stored, for creates and updates; the refusal is upstream's 403 and text.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::Instant;

use serde_json::Value;

use super::rules::PolicyRule;
use super::RbacAuthorizer;
use crate::api::resources::lookup;
use crate::api::status::Status;
use crate::authz::{Attributes as AuthzAttributes, AuthorizerChain, Decision, SYSTEM_MASTERS};
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::admission::{AdmissionPlugin, Attributes, Operation};
use crate::request::UserInfo;

const GROUP: &str = "rbac.authorization.k8s.io";

/// The plugin of one shard: the chain decides `escalate` and `bind`; RBAC says what the
/// writer holds.
pub struct EscalationCheck {
    authz: Rc<AuthorizerChain>,
    rbac: Option<Rc<RbacAuthorizer>>,
}

impl std::fmt::Debug for EscalationCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscalationCheck").finish_non_exhaustive()
    }
}

impl EscalationCheck {
    /// The check over the shard's authorizer chain and RBAC rules (None: no RBAC, so the
    /// writer holds nothing through it).
    pub fn new(authz: Rc<AuthorizerChain>, rbac: Option<Rc<RbacAuthorizer>>) -> Self {
        Self { authz, rbac }
    }

    async fn authorized(
        &self,
        user: &UserInfo,
        verb: &str,
        resource: &str,
        ns: &str,
        name: &str,
    ) -> bool {
        let a = AuthzAttributes {
            user,
            verb,
            resource_request: true,
            namespace: ns,
            api_group: GROUP,
            api_version: "",
            resource,
            subresource: "",
            name,
            path: "",
        };
        matches!(self.authz.authorize(&a).await, Decision::Allow(_))
    }

    /// Refuses `rules` unless `user` holds them in `ns` ("" : cluster-wide).
    fn confirm_no_escalation(
        &self,
        user: &UserInfo,
        ns: &str,
        rules: &[PolicyRule],
    ) -> Result<(), String> {
        let owner = self
            .rbac
            .as_ref()
            .map(|r| {
                use crate::authz::Authorizer;
                r.rules_for(user, ns)
            })
            .unwrap_or_default();
        let mut held = owner.resource_rules;
        held.extend(owner.non_resource_rules);
        let missing = missing_rules(&held, rules);
        if missing.is_empty() {
            return Ok(());
        }
        let described: BTreeSet<String> = compact(missing).iter().map(compact_string).collect();
        Err(format!(
            "user {:?} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
            user.name,
            go_quoted_list(&user.groups),
            described.into_iter().collect::<Vec<_>>().join("\n")
        ))
    }
}

/// Rules of a Role or ClusterRole object.
fn rules_of(obj: &Object) -> Vec<PolicyRule> {
    obj.get("rules")
        .and_then(|r| serde_json::from_value(r.clone()).ok())
        .unwrap_or_default()
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// One rule per group × resource × verb (× name), and per URL × verb, as upstream's
/// `BreakdownRule` splits a rule before checking it is covered.
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let mut out = Vec::new();
    for g in &rule.api_groups {
        for r in &rule.resources {
            for v in &rule.verbs {
                let one = |names: Vec<String>| PolicyRule {
                    verbs: vec![v.clone()],
                    api_groups: vec![g.clone()],
                    resources: vec![r.clone()],
                    resource_names: names,
                    non_resource_urls: vec![],
                };
                if rule.resource_names.is_empty() {
                    out.push(one(vec![]));
                } else {
                    out.extend(rule.resource_names.iter().map(|n| one(vec![n.clone()])));
                }
            }
        }
    }
    for u in &rule.non_resource_urls {
        for v in &rule.verbs {
            out.push(PolicyRule {
                verbs: vec![v.clone()],
                non_resource_urls: vec![u.clone()],
                ..PolicyRule::default()
            });
        }
    }
    out
}

fn has(set: &[String], v: &str) -> bool {
    set.iter().any(|s| s == v)
}

fn has_all(set: &[String], values: &[String]) -> bool {
    values.iter().all(|v| has(set, v))
}

fn resources_cover(owner: &[String], servant: &[String]) -> bool {
    if has(owner, "*") || has_all(owner, servant) {
        return true;
    }
    servant.iter().all(|r| match r.split_once('/') {
        Some((_, sub)) => has(owner, &format!("*/{sub}")),
        None => false,
    })
}

fn url_covered(owner: &[String], url: &str) -> bool {
    owner.iter().any(|o| {
        o == "*"
            || o == url
            || o.strip_suffix('*')
                .is_some_and(|prefix| url.starts_with(prefix))
    })
}

/// upstream's `ruleCovers`: whether `owner` grants all of `sub` (one broken-down rule).
fn covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, "*") || has_all(&owner.api_groups, &sub.api_groups);
    let resources = resources_cover(&owner.resources, &sub.resources);
    let urls = sub
        .non_resource_urls
        .iter()
        .all(|u| url_covered(&owner.non_resource_urls, u));
    let names = if sub.resource_names.is_empty() {
        owner.resource_names.is_empty()
    } else {
        owner.resource_names.is_empty() || has_all(&owner.resource_names, &sub.resource_names)
    };
    verbs && groups && resources && urls && names
}

/// The broken-down rules of `servant` that no rule of `owner` covers.
pub fn missing_rules(owner: &[PolicyRule], servant: &[PolicyRule]) -> Vec<PolicyRule> {
    servant
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|o| covers(o, sub)))
        .collect()
}

/// upstream's `CompactRules`: simple rules (one group, one resource, no names, no URLs) that
/// differ only by verb become one rule.
fn compact(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    for r in rules {
        let simple = r.api_groups.len() == 1
            && r.resources.len() == 1
            && r.resource_names.is_empty()
            && r.non_resource_urls.is_empty();
        if simple {
            if let Some(same) = out.iter_mut().find(|o| {
                o.api_groups == r.api_groups
                    && o.resources == r.resources
                    && o.resource_names.is_empty()
                    && o.non_resource_urls.is_empty()
            }) {
                for v in r.verbs {
                    if !same.verbs.contains(&v) {
                        same.verbs.push(v);
                    }
                }
                continue;
            }
        }
        out.push(r);
    }
    out
}

/// upstream's `CompactString`: `{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`.
fn compact_string(r: &PolicyRule) -> String {
    let mut parts = Vec::new();
    for (label, v) in [
        ("APIGroups", &r.api_groups),
        ("Resources", &r.resources),
        ("NonResourceURLs", &r.non_resource_urls),
        ("ResourceNames", &r.resource_names),
        ("Verbs", &r.verbs),
    ] {
        if !v.is_empty() {
            parts.push(format!("{label}:{}", go_quoted_list(v)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

/// cluster-admin's rights, which an `aggregationRule` needs.
fn full_authority() -> Vec<PolicyRule> {
    let all = vec!["*".to_string()];
    vec![
        PolicyRule {
            verbs: all.clone(),
            api_groups: all.clone(),
            resources: all.clone(),
            ..PolicyRule::default()
        },
        PolicyRule {
            verbs: all.clone(),
            non_resource_urls: all,
            ..PolicyRule::default()
        },
    ]
}

fn exempt(user: &UserInfo) -> bool {
    // The server's own writes (bootstrap policy, aggregation) carry no user.
    user.name.is_empty() || user.in_group(SYSTEM_MASTERS)
}

/// upstream's `NewForbidden(rbac resource, name, err)`.
fn forbidden(plural: &str, name: &str, why: String) -> Status {
    Status::forbidden(GROUP, plural, name, &why)
}

impl AdmissionPlugin for EscalationCheck {
    fn name(&self) -> &'static str {
        "RBACEscalationCheck"
    }

    fn validate<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let res = attrs.resource;
            let (Some(obj), true) = (obj, res.group == GROUP) else {
                return Ok(());
            };
            if !matches!(attrs.operation, Operation::Create | Operation::Update) {
                return Ok(());
            }
            let user = &*attrs.request.user;
            if exempt(user) {
                return Ok(());
            }
            let ns = attrs.request.namespace.as_deref().unwrap_or("");
            let name = crate::api::meta::Meta::of(obj)
                .name()
                .unwrap_or(attrs.name)
                .to_string();
            match res.plural {
                "roles" | "clusterroles" => {
                    if attrs.operation == Operation::Update
                        && attrs
                            .old
                            .is_some_and(|old| old.get("rules") == obj.get("rules"))
                        && attrs.old.is_some_and(|old| {
                            old.get("aggregationRule") == obj.get("aggregationRule")
                        })
                    {
                        // Nothing granted changes (labels, finalizers, ...).
                        return Ok(());
                    }
                    if self
                        .authorized(user, "escalate", res.plural, ns, &name)
                        .await
                    {
                        return Ok(());
                    }
                    self.confirm_no_escalation(user, ns, &rules_of(obj))
                        .map_err(|why| forbidden(res.plural, &name, why))?;
                    let aggregates = obj.get("aggregationRule").is_some_and(|a| !a.is_null());
                    if res.plural == "clusterroles"
                        && aggregates
                        && self
                            .confirm_no_escalation(user, ns, &full_authority())
                            .is_err()
                    {
                        return Err(forbidden(
                            res.plural,
                            &name,
                            "must have cluster-admin privileges to use the aggregationRule".into(),
                        ));
                    }
                    Ok(())
                }
                "rolebindings" | "clusterrolebindings" => {
                    if attrs.operation == Operation::Update
                        && attrs.old.is_some_and(|old| {
                            old.get("subjects") == obj.get("subjects")
                                && old.get("roleRef") == obj.get("roleRef")
                        })
                    {
                        return Ok(());
                    }
                    let role_ref = obj.get("roleRef").cloned().unwrap_or(Value::Null);
                    let kind = role_ref["kind"].as_str().unwrap_or_default();
                    let role = role_ref["name"].as_str().unwrap_or_default();
                    let role_plural = if kind == "ClusterRole" {
                        "clusterroles"
                    } else {
                        "roles"
                    };
                    if self.authorized(user, "bind", role_plural, ns, role).await {
                        return Ok(());
                    }
                    let role_ns = (kind == "Role").then_some(ns);
                    let deadline = Instant::now() + std::time::Duration::from_secs(10);
                    let rules = match lookup(GROUP, "v1", role_plural) {
                        Some(role_res) => attrs
                            .reads
                            .get(role_res, role_ns, role, deadline)
                            .await?
                            .map(|o| rules_of(&o))
                            .unwrap_or_default(),
                        None => Vec::new(),
                    };
                    self.confirm_no_escalation(user, ns, &rules)
                        .map_err(|why| forbidden(res.plural, &name, why))
                }
                _ => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rule(v: serde_json::Value) -> PolicyRule {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn covering_as_upstream() {
        let owner = vec![
            rule(
                serde_json::json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps", "pods/log"]}),
            ),
            rule(
                serde_json::json!({"verbs": ["*"], "apiGroups": ["apps"], "resources": ["*/scale"]}),
            ),
            rule(serde_json::json!({"verbs": ["get"], "nonResourceURLs": ["/logs/*"]})),
            rule(
                serde_json::json!({"verbs": ["update"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]}),
            ),
        ];
        let ok = [
            serde_json::json!({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}),
            serde_json::json!({"verbs": ["list"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["x"]}),
            serde_json::json!({"verbs": ["update"], "apiGroups": ["apps"], "resources": ["deployments/scale"]}),
            serde_json::json!({"verbs": ["get"], "nonResourceURLs": ["/logs/a"]}),
            serde_json::json!({"verbs": ["update"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"]}),
        ];
        for r in ok {
            assert!(missing_rules(&owner, &[rule(r.clone())]).is_empty(), "{r}");
        }
        let missing = missing_rules(
            &owner,
            &[rule(
                serde_json::json!({"verbs": ["get", "watch", "delete"], "apiGroups": [""], "resources": ["configmaps", "secrets"]}),
            )],
        );
        let described: BTreeSet<String> = compact(missing).iter().map(compact_string).collect();
        assert_eq!(
            described.into_iter().collect::<Vec<_>>(),
            [
                r#"{APIGroups:[""], Resources:["configmaps"], Verbs:["watch" "delete"]}"#,
                r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get" "watch" "delete"]}"#,
            ]
        );
        assert_eq!(
            missing_rules(&owner, &[rule(serde_json::json!({"verbs": ["update"], "apiGroups": [""], "resources": ["secrets"]}))]).len(),
            1,
            "a name-limited grant does not cover every name"
        );
        assert!(!missing_rules(&owner, &full_authority()).is_empty());
    }
}
