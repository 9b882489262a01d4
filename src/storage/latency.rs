//! How long each backend operation took, by operation and resource (upstream's
//! `etcd_request_duration_seconds{operation, type}`): recorded on the storage thread, the
//! only writer, so the lock is contended only by a scrape.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// upstream's bucket bounds, in seconds.
pub const BOUNDS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// One series: observations per bucket (not cumulative; the last is `+Inf`) and their sum.
#[derive(Clone, Debug, PartialEq)]
pub struct Timings {
    /// Per bucket of [`BOUNDS`], then `+Inf`.
    pub counts: Vec<u64>,
    /// Sum of the observations, in seconds.
    pub sum: f64,
}

/// The backend's operation timings, by (operation, resource).
#[derive(Debug, Default)]
pub struct RequestLatency {
    series: Mutex<BTreeMap<(&'static str, &'static str), Timings>>,
}

impl RequestLatency {
    /// One `operation` on a key under `key` (its resource from the API table) took `took`.
    pub fn observe(&self, operation: &'static str, key: &[u8], prefix: &[u8], took: Duration) {
        let kind = resource_of(key, prefix);
        let Ok(mut s) = self.series.lock() else {
            return;
        };
        let t = s.entry((operation, kind)).or_insert_with(|| Timings {
            counts: vec![0; BOUNDS.len() + 1],
            sum: 0.0,
        });
        let v = took.as_secs_f64();
        let at = BOUNDS.partition_point(|b| *b < v);
        if let Some(c) = t.counts.get_mut(at) {
            *c += 1;
        }
        t.sum += v;
    }

    /// Every series, in label order.
    pub fn snapshot(&self) -> Vec<((&'static str, &'static str), Timings)> {
        self.series
            .lock()
            .map(|s| s.iter().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default()
    }
}

/// Each stored resource's key segment and label, longest segments first.
fn labels() -> &'static [(&'static str, &'static str)] {
    static LABELS: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    LABELS.get_or_init(|| {
        let mut v: Vec<(&'static str, &'static str)> = crate::api::resources::RESOURCES
            .iter()
            // The rows stored as themselves (not events.k8s.io Events, not autoscaling/v1).
            .filter(|r| r.stored && r.storage.group == r.group && r.storage.version == r.version)
            .map(|r| {
                let label = if r.group.is_empty() {
                    r.plural
                } else {
                    crate::api::intern::intern(&format!("{}.{}", r.plural, r.group))
                };
                (r.key_segment, label)
            })
            .collect();
        v.sort_by_key(|(seg, _)| std::cmp::Reverse(seg.len()));
        v
    })
}

/// What the one upstream watch delivered, per resource: events (upstream's
/// `apiserver_watch_cache_events_received_total`) and the newest revision
/// (`apiserver_watch_cache_resource_version`). Written by the storage thread only.
#[derive(Debug, Default)]
pub struct WatchDeliveries {
    by_resource: Mutex<BTreeMap<&'static str, (u64, i64)>>,
}

impl WatchDeliveries {
    /// One batch of events on `keys` (with their revisions) under `prefix`.
    pub fn delivered<'a>(&self, prefix: &[u8], events: impl Iterator<Item = (&'a [u8], i64)>) {
        let Ok(mut m) = self.by_resource.lock() else {
            return;
        };
        for (key, revision) in events {
            let e = m.entry(resource_of(key, prefix)).or_default();
            e.0 += 1;
            e.1 = e.1.max(revision);
        }
    }

    /// (resource, events, newest revision), in resource order.
    pub fn snapshot(&self) -> Vec<(&'static str, u64, i64)> {
        self.by_resource
            .lock()
            .map(|m| m.iter().map(|(k, (n, r))| (*k, *n, *r)).collect())
            .unwrap_or_default()
    }
}

/// The resource a key belongs to, as upstream names it (`configmaps`, `deployments.apps`);
/// `unknown` for keys of no API resource.
pub fn resource_of(key: &[u8], prefix: &[u8]) -> &'static str {
    let Some(rest) = key.strip_prefix(prefix) else {
        return "unknown";
    };
    let rest = rest.strip_prefix(b"/").unwrap_or(rest);
    labels()
        .iter()
        .find(|(seg, _)| {
            let seg = seg.as_bytes();
            rest.starts_with(seg) && matches!(rest.get(seg.len()), None | Some(b'/'))
        })
        .map_or("unknown", |(_, label)| label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_named_by_their_resource() {
        assert_eq!(
            resource_of(b"/registry/configmaps/a/b", b"/registry"),
            "configmaps"
        );
        assert_eq!(
            resource_of(b"/registry/deployments/a/b", b"/registry/"),
            "deployments.apps"
        );
        assert_eq!(
            resource_of(b"/registry/services/specs/a/b", b"/registry"),
            "services"
        );
        assert_eq!(
            resource_of(b"/registry/services/endpoints/a/b", b"/registry"),
            "endpoints"
        );
        assert_eq!(resource_of(b"/registry/minions/n", b"/registry"), "nodes");
        assert_eq!(resource_of(b"/elsewhere/x", b"/registry"), "unknown");
        let l = RequestLatency::default();
        l.observe(
            "get",
            b"/registry/configmaps/a/b",
            b"/registry",
            Duration::from_millis(3),
        );
        l.observe(
            "get",
            b"/registry/configmaps/a/c",
            b"/registry",
            Duration::from_secs(2),
        );
        let s = l.snapshot();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0, ("get", "configmaps"));
        assert_eq!(s[0].1.counts[0], 1);
        assert_eq!(s[0].1.counts.iter().sum::<u64>(), 2);
    }
}
