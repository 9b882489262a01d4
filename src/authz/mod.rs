//! Authorization: who may do what, as kube-apiserver decides it. An [`AuthorizerChain`] asks
//! each mode of `--authorization-mode` in order; the first that allows or denies decides, and a
//! request no mode allows is a 403 with upstream's message. Members of `system:masters` are
//! allowed before any mode is asked, as upstream's privileged-groups authorizer does.
//!
//! Every authorizer here is shard-local: RBAC answers from an index of the shard's own watch
//! cache replica, so a decision is a lookup, not a request to storage.

pub mod config;
pub mod node;
pub mod rbac;
pub mod webhook;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::api::status::{qualified, Reason, Status};
use crate::request::{RequestInfo, UserInfo};

/// The group whose members are always allowed.
pub const SYSTEM_MASTERS: &str = "system:masters";

/// What a request asks to do, as authorizers see it (upstream's `authorizer.Attributes`).
#[derive(Clone, Copy, Debug)]
pub struct Attributes<'a> {
    /// Who asks.
    pub user: &'a UserInfo,
    /// The verb (`get`, `list`, ..., or the lower-cased method of a non-resource request).
    pub verb: &'a str,
    /// An API resource request (else a non-resource path).
    pub resource_request: bool,
    /// The namespace ("" cluster-wide).
    pub namespace: &'a str,
    /// The API group.
    pub api_group: &'a str,
    /// The API version.
    pub api_version: &'a str,
    /// The resource.
    pub resource: &'a str,
    /// The subresource.
    pub subresource: &'a str,
    /// The object's name ("" for collections).
    pub name: &'a str,
    /// The URL path (non-resource requests).
    pub path: &'a str,
}

impl<'a> Attributes<'a> {
    /// The attributes of a request.
    pub fn of_request(user: &'a UserInfo, info: &'a RequestInfo) -> Self {
        Self {
            user,
            verb: &info.verb,
            resource_request: info.is_resource_request,
            namespace: &info.namespace,
            api_group: &info.api_group,
            api_version: &info.api_version,
            resource: &info.resource,
            subresource: &info.subresource,
            name: &info.name,
            path: &info.path,
        }
    }
}

/// One authorizer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, with the reason (upstream's RBAC names the binding; may be empty).
    Allow(String),
    /// Denied, with the reason (no later mode is asked).
    Deny(String),
    /// No opinion; the reason (may be empty) joins the final denial's.
    NoOpinion(String),
    /// No mode allowed and one failed to decide (a webhook that could not be asked): the
    /// request is a 500, as upstream answers an authorizer error.
    Error(String),
}

/// One mode of `--authorization-mode`.
pub trait Authorizer {
    /// The mode's name (`RBAC`, `AlwaysAllow`, ...).
    fn name(&self) -> &'static str;

    /// The decision for one request.
    fn authorize(&self, a: &Attributes<'_>) -> Decision;

    /// What the user may do in `namespace` ("" for cluster-wide rules only), for
    /// SelfSubjectRulesReview; `incomplete` when the mode cannot list its rules.
    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> RuleSet {
        RuleSet {
            incomplete: true,
            ..RuleSet::default()
        }
    }
}

/// The rules a user has, as SelfSubjectRulesReview reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSet {
    /// Rules on resources.
    pub resource_rules: Vec<rbac::PolicyRule>,
    /// Rules on non-resource URLs.
    pub non_resource_rules: Vec<rbac::PolicyRule>,
    /// Some mode could not list its rules.
    pub incomplete: bool,
}

/// `AlwaysAllow`.
#[derive(Debug, Default)]
pub struct AlwaysAllow;

impl Authorizer for AlwaysAllow {
    fn name(&self) -> &'static str {
        "AlwaysAllow"
    }

    fn authorize(&self, _a: &Attributes<'_>) -> Decision {
        Decision::Allow(String::new())
    }

    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> RuleSet {
        let all = |urls: bool| rbac::PolicyRule {
            verbs: vec!["*".into()],
            api_groups: if urls { vec![] } else { vec!["*".into()] },
            resources: if urls { vec![] } else { vec!["*".into()] },
            resource_names: vec![],
            non_resource_urls: if urls { vec!["*".into()] } else { vec![] },
        };
        RuleSet {
            resource_rules: vec![all(false)],
            non_resource_rules: vec![all(true)],
            incomplete: false,
        }
    }
}

/// `AlwaysDeny`.
#[derive(Debug, Default)]
pub struct AlwaysDeny;

impl Authorizer for AlwaysDeny {
    fn name(&self) -> &'static str {
        "AlwaysDeny"
    }

    fn authorize(&self, _a: &Attributes<'_>) -> Decision {
        Decision::Deny(String::new())
    }

    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> RuleSet {
        RuleSet::default()
    }
}

/// One mode of the chain: decided on the shard, or asked of a webhook.
#[derive(Clone)]
pub enum Mode {
    /// A mode that answers from the shard's own state.
    Local(Rc<dyn Authorizer>),
    /// The `Webhook` mode.
    Webhook(Rc<webhook::WebhookAuthorizer>),
}

impl Mode {
    fn name(&self) -> &'static str {
        match self {
            Mode::Local(m) => m.name(),
            Mode::Webhook(_) => "Webhook",
        }
    }

    /// Who this mode is in `apiserver_authorization_decisions_total`: its type, and its name
    /// (upstream names a mode given by `--authorization-mode` by its lower-cased type).
    fn decider(&self) -> Decider {
        match self {
            Mode::Local(m) => Decider {
                kind: m.name(),
                name: match m.name() {
                    "RBAC" => "rbac",
                    "Node" => "node",
                    "AlwaysAllow" => "alwaysallow",
                    "AlwaysDeny" => "alwaysdeny",
                    other => crate::api::intern::intern(&other.to_ascii_lowercase()),
                },
            },
            Mode::Webhook(w) => Decider {
                kind: "Webhook",
                name: w.name(),
            },
        }
    }
}

/// The mode that made a terminal decision (allowed or denied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decider {
    /// Its type (`RBAC`, `Node`, `Webhook`, ...).
    pub kind: &'static str,
    /// Its name.
    pub name: &'static str,
}

/// Where a chain's modes come from when they can change while serving
/// (`--authorization-config` reloaded): a generation that moves on every change, and the
/// modes of the current one.
pub trait ModeSource {
    /// Changes whenever the modes do.
    fn generation(&self) -> u64;
    /// The modes now.
    fn modes(&self) -> Vec<Mode>;
}

/// The modes of `--authorization-mode`, in order, behind the privileged groups.
#[derive(Clone, Default)]
pub struct AuthorizerChain {
    modes: RefCell<Rc<[Mode]>>,
    generation: Cell<u64>,
    source: Option<Rc<dyn ModeSource>>,
}

impl std::fmt::Debug for AuthorizerChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let modes = self.modes.borrow();
        let names: Vec<&str> = modes.iter().map(Mode::name).collect();
        f.debug_tuple("AuthorizerChain").field(&names).finish()
    }
}

impl AuthorizerChain {
    /// A chain of shard-local `modes`, asked in order.
    pub fn new(modes: Vec<Rc<dyn Authorizer>>) -> Self {
        Self::of_modes(modes.into_iter().map(Mode::Local).collect())
    }

    /// A chain of `modes`, asked in order.
    pub fn of_modes(modes: Vec<Mode>) -> Self {
        Self {
            modes: RefCell::new(modes.into()),
            generation: Cell::new(0),
            source: None,
        }
    }

    /// A chain whose modes follow `source`.
    pub fn following(source: Rc<dyn ModeSource>) -> Self {
        let chain = Self::of_modes(source.modes());
        chain.generation.set(source.generation());
        Self {
            source: Some(source),
            ..chain
        }
    }

    /// The current modes (rebuilt from the source when it moved on).
    fn current(&self) -> Rc<[Mode]> {
        if let Some(src) = &self.source {
            let g = src.generation();
            if g != self.generation.get() {
                *self.modes.borrow_mut() = src.modes().into();
                self.generation.set(g);
            }
        }
        Rc::clone(&self.modes.borrow())
    }

    /// The decision for one request: privileged groups, then each mode; the reasons of the
    /// modes without an opinion when none allows, or the error of one that failed.
    pub async fn authorize(&self, a: &Attributes<'_>) -> Decision {
        self.authorize_by(a).await.0
    }

    /// [`Self::authorize`], with the mode that allowed or denied (None for the privileged
    /// groups, which upstream does not count either, and when no mode decided).
    pub async fn authorize_by(&self, a: &Attributes<'_>) -> (Decision, Option<Decider>) {
        if a.user.in_group(SYSTEM_MASTERS) {
            return (Decision::Allow(String::new()), None);
        }
        let mut reasons = Vec::new();
        let mut errors = Vec::new();
        for m in self.current().iter() {
            let d = match m {
                Mode::Local(m) => m.authorize(a),
                Mode::Webhook(w) => w.authorize(a).await,
            };
            match d {
                Decision::Allow(r) => return (Decision::Allow(r), Some(m.decider())),
                Decision::Deny(r) => return (Decision::Deny(r), Some(m.decider())),
                Decision::NoOpinion(r) => {
                    if !r.is_empty() {
                        reasons.push(r);
                    }
                }
                Decision::Error(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            (Decision::NoOpinion(reasons.join(", ")), None)
        } else {
            (Decision::Error(errors.join(", ")), None)
        }
    }

    /// Every mode's rules for the user, merged (a webhook's cannot be listed: incomplete).
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> RuleSet {
        let mut out = RuleSet::default();
        if user.in_group(SYSTEM_MASTERS) {
            return AlwaysAllow.rules_for(user, namespace);
        }
        for m in self.current().iter() {
            let r = match m {
                Mode::Local(m) => m.rules_for(user, namespace),
                Mode::Webhook(_) => RuleSet {
                    incomplete: true,
                    ..RuleSet::default()
                },
            };
            out.resource_rules.extend(r.resource_rules);
            out.non_resource_rules.extend(r.non_resource_rules);
            out.incomplete |= r.incomplete;
        }
        out
    }
}

/// upstream's 403 for a request that was not allowed (`reason`: the authorizers' reasons).
pub fn forbidden(a: &Attributes<'_>, reason: &str) -> Status {
    let user = &a.user.name;
    let what = if !a.resource_request {
        format!("User {user:?} cannot {} path {:?}", a.verb, a.path)
    } else {
        let resource = if a.subresource.is_empty() {
            a.resource.to_string()
        } else {
            format!("{}/{}", a.resource, a.subresource)
        };
        if a.namespace.is_empty() {
            format!(
                "User {user:?} cannot {} resource {resource:?} in API group {:?} at the cluster scope",
                a.verb, a.api_group
            )
        } else {
            format!(
                "User {user:?} cannot {} resource {resource:?} in API group {:?} in the namespace {:?}",
                a.verb, a.api_group, a.namespace
            )
        }
    };
    let what = if reason.is_empty() {
        what
    } else {
        format!("{what}: {reason}")
    };
    let (group, resource) = if a.resource_request {
        (a.api_group, a.resource)
    } else {
        ("", "")
    };
    let message = if resource.is_empty() && group.is_empty() {
        format!("forbidden: {what}")
    } else if a.name.is_empty() {
        format!("{} is forbidden: {what}", qualified(group, resource))
    } else {
        format!(
            "{} {:?} is forbidden: {what}",
            qualified(group, resource),
            a.name
        )
    };
    let mut s = Status::new(Reason::Forbidden, message);
    s.details.group = (!group.is_empty()).then(|| group.to_string());
    s.details.kind = (!resource.is_empty()).then(|| resource.to_string());
    s.details.name = (!a.name.is_empty()).then(|| a.name.to_string());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs<'a>(
        user: &'a UserInfo,
        verb: &'a str,
        ns: &'a str,
        resource: &'a str,
        name: &'a str,
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
            name,
            path: "",
        }
    }

    #[test]
    fn forbidden_messages_as_upstream() {
        let alice = UserInfo {
            name: "alice".into(),
            ..UserInfo::default()
        };
        assert_eq!(
            forbidden(&attrs(&alice, "list", "default", "configmaps", ""), "").message,
            "configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"default\""
        );
        assert_eq!(
            forbidden(&attrs(&alice, "get", "", "nodes", "n1"), "").message,
            "nodes \"n1\" is forbidden: User \"alice\" cannot get resource \"nodes\" in API group \"\" at the cluster scope"
        );
        let mut logs = attrs(&alice, "get", "ns", "pods", "p");
        logs.subresource = "log";
        assert!(forbidden(&logs, "")
            .message
            .contains("cannot get resource \"pods/log\""));
        let path = Attributes {
            resource_request: false,
            path: "/metrics",
            resource: "",
            ..attrs(&alice, "get", "", "", "")
        };
        let s = forbidden(&path, "");
        assert_eq!(
            s.message,
            "forbidden: User \"alice\" cannot get path \"/metrics\""
        );
        assert_eq!(s.code, 403);
    }

    #[test]
    fn the_chain_asks_modes_in_order_behind_system_masters() {
        let root = UserInfo {
            name: "root".into(),
            groups: vec![SYSTEM_MASTERS.into()],
            ..UserInfo::default()
        };
        let bob = UserInfo::default();
        let deny = AuthorizerChain::new(vec![Rc::new(AlwaysDeny), Rc::new(AlwaysAllow)]);
        assert!(matches!(
            futures_lite::future::block_on(deny.authorize(&attrs(&root, "get", "", "nodes", ""))),
            Decision::Allow(_)
        ));
        assert!(matches!(
            futures_lite::future::block_on(deny.authorize(&attrs(&bob, "get", "", "nodes", ""))),
            Decision::Deny(_)
        ));
        let allow = AuthorizerChain::new(vec![Rc::new(AlwaysAllow), Rc::new(AlwaysDeny)]);
        assert!(matches!(
            futures_lite::future::block_on(allow.authorize(&attrs(&bob, "get", "", "nodes", ""))),
            Decision::Allow(_)
        ));
        let none = AuthorizerChain::new(vec![]);
        assert!(matches!(
            futures_lite::future::block_on(none.authorize(&attrs(&bob, "get", "", "nodes", ""))),
            Decision::NoOpinion(_)
        ));
    }
}
