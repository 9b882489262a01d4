//! The `Node` mode. Upstream's Node authorizer lets a kubelet (`system:node:<name>` in
//! `system:nodes`) read the objects of the Pods bound to its node through a graph of those
//! relationships. kubeshard does not build that graph yet: this mode has no opinion on any
//! request, so nodes get what RBAC grants them.

use super::{Attributes, Authorizer, Decision, RuleSet};
use crate::request::UserInfo;

/// The Node mode (no opinion on anything yet; see the module doc).
#[derive(Debug, Default)]
pub struct NodeAuthorizer;

impl Authorizer for NodeAuthorizer {
    fn name(&self) -> &'static str {
        "Node"
    }

    fn authorize(&self, _a: &Attributes<'_>) -> Decision {
        Decision::NoOpinion(String::new())
    }

    /// As upstream: a node's permissions cannot be listed (incomplete); anyone else has no
    /// rules from this mode.
    fn rules_for(&self, user: &UserInfo, _namespace: &str) -> RuleSet {
        let is_node = user.name.starts_with("system:node:") && user.in_group("system:nodes");
        RuleSet {
            incomplete: is_node,
            ..RuleSet::default()
        }
    }
}
