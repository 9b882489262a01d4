//! The watch cache's settings, from the resource table, `--watch-cache`,
//! `--default-watch-cache-size`, `--watch-cache-sizes` and the tuning profile.

use std::sync::Arc;

use bytes::Bytes;
use tuning::Tuning;

use crate::options::{parse_watch_cache_size, EtcdOptions};
use crate::registry::keys;
use crate::registry::resources::{ApiResource, ResourceTable};
use crate::storage::cache::object::Decorator;
use crate::storage::cache::{CacheConfig, CacheMetrics, CachedResource};

/// The decorator the storage thread applies to every event: each resource's selectable
/// fields, as its kind's hooks name them, and its normalization (defaults and Go's
/// always-written fields, applied once per revision for every shard).
pub fn decorator(table: &ResourceTable, prefix: &str) -> Decorator {
    let rows = table.rows();
    let mut d = Decorator::new(
        rows.iter()
            .map(|r| (root(prefix, &r.api), r.hooks.selectable_fields()))
            .collect(),
    );
    // Objects another writer stored are served as upstream decodes them: defaulted, with
    // the fields Go always writes. Versions sharing a key share the stored kind: the first.
    let mut seen = std::collections::HashSet::new();
    for r in rows.iter().filter(|r| seen.insert(r.api.key_segment)) {
        d = d.with_normalizer(root(prefix, &r.api), r.normalizer());
    }
    d
}

fn root(prefix: &str, r: &ApiResource) -> Bytes {
    Bytes::from(keys::collection_prefix(prefix, r.key_segment, None))
}

/// Resources the server itself reads on requests (the RBAC index; what ServiceAccount tokens
/// name; the admission configuration): always in the replica, whatever `--watch-cache` and
/// `--watch-cache-sizes` say, as upstream's authorizers, authenticators and admission
/// plugins read informers of their own.
const ALWAYS_CACHED: [&str; 13] = [
    "namespaces",
    "clusterroles",
    "clusterrolebindings",
    "roles",
    "rolebindings",
    "serviceaccounts",
    "secrets",
    "pods",
    "minions",
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
];

/// The cache settings. Resources sized 0 (and every other with `--watch-cache=false`) are
/// left out: their reads go to the backend; the resources in [`ALWAYS_CACHED`] stay.
pub fn config(
    etcd: &EtcdOptions,
    tuning: &Tuning,
    resources: &[ApiResource],
    prefix: &str,
    decorator: Arc<Decorator>,
) -> Option<Arc<CacheConfig>> {
    let sizes: Vec<_> = etcd
        .watch_cache_sizes
        .iter()
        .filter_map(|e| parse_watch_cache_size(e).ok())
        .collect();
    // Versions of one resource (core and events.k8s.io Events, autoscaling/v1 and v2 HPAs)
    // share their keys, and so one ring: the first row's.
    let mut roots = std::collections::HashSet::new();
    let cached = resources
        .iter()
        .filter(|r| roots.insert(r.key_segment))
        .filter_map(|r| {
            let mut size = sizes
                .iter()
                .find(|s| s.resource == r.plural && s.group == r.group)
                .map_or(etcd.default_watch_cache_size, |s| s.size);
            if !etcd.watch_cache {
                size = 0;
            }
            if ALWAYS_CACHED.contains(&r.key_segment) {
                size = size.max(100);
            }
            (size > 0).then(|| CachedResource {
                root: root(prefix, r),
                history: size,
            })
        })
        .collect();
    Some(Arc::new(CacheConfig {
        resources: cached,
        decorator,
        max_watcher_lag: tuning.watch.max_watcher_lag,
        events_per_poll: tuning.watch.events_per_poll,
        consistent_read_wait: tuning.watch.consistent_read_wait,
        metrics: Arc::new(CacheMetrics::default()),
    }))
}
