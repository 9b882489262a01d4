//! The RBAC authorizer: Roles, ClusterRoles and their bindings, read from the shard's watch
//! cache replica into an index by subject (user name, group; a ServiceAccount subject is its
//! user name). The index is rebuilt when any of the four RBAC resources changed in the
//! replica, so a decision is a few hash lookups and rule scans, never a read of storage.

pub mod bootstrap;
pub mod escalation;
mod index;
mod rules;

use std::cell::RefCell;

use bytes::Bytes;

use self::index::Index;
pub use self::rules::PolicyRule;
use super::{Attributes, Authorizer, Decision, RuleSet};
use crate::request::UserInfo;
use crate::storage::cache::WatchCache;

/// The RBAC resources, by key segment: where the index reads from.
pub const RBAC_SEGMENTS: [&str; 4] = [
    "clusterroles",
    "clusterrolebindings",
    "roles",
    "rolebindings",
];

/// The RBAC mode of one shard.
pub struct RbacAuthorizer {
    cache: WatchCache,
    /// Each RBAC resource's collection root and ring in the replica.
    sources: Vec<(Bytes, usize)>,
    index: RefCell<Option<Index>>,
}

impl std::fmt::Debug for RbacAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RbacAuthorizer").finish_non_exhaustive()
    }
}

impl RbacAuthorizer {
    /// RBAC over `cache`, whose RBAC resources live under `prefix` (e.g. `/registry`); None
    /// when the replica does not hold them.
    pub fn new(cache: WatchCache, prefix: &str) -> Option<Self> {
        let mut sources = Vec::new();
        for segment in RBAC_SEGMENTS {
            let root = Bytes::from(crate::registry::keys::collection_prefix(
                prefix, segment, None,
            ));
            let slot = cache.resource_index(&root)?;
            sources.push((root, slot));
        }
        Some(Self {
            cache,
            sources,
            index: RefCell::new(None),
        })
    }

    /// Runs `f` on an index current with the replica.
    fn with_index<T>(&self, f: impl FnOnce(&Index) -> T) -> T {
        let marker: Vec<(u64, u64)> = self
            .sources
            .iter()
            .map(|(_, slot)| self.cache.changes(*slot))
            .collect();
        let mut index = self.index.borrow_mut();
        let stale = index.as_ref().is_none_or(|i| i.marker != marker);
        if stale {
            let objects: Vec<Vec<Bytes>> = self
                .sources
                .iter()
                .map(|(root, _)| {
                    self.cache
                        .objects_under(root)
                        .iter()
                        .map(|o| o.json.clone())
                        .collect()
                })
                .collect();
            *index = Some(Index::build(marker, &objects));
        }
        // Just built or current.
        match index.as_ref() {
            Some(i) => f(i),
            None => f(&Index::default()),
        }
    }
}

impl Authorizer for RbacAuthorizer {
    fn name(&self) -> &'static str {
        "RBAC"
    }

    fn authorize(&self, a: &Attributes<'_>) -> Decision {
        self.with_index(|i| i.authorize(a))
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> RuleSet {
        self.with_index(|i| i.rules_for(user, namespace))
    }
}
