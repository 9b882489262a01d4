//! How many seats a request takes (upstream's work estimator, count-based): one, except a
//! LIST, which takes one per hundred objects it reads (at most 10, and at most the level's
//! cap), counted as upstream counts them — every object of the resource when the list is
//! served from the watch cache, the page twice when storage pages it, objects plus page when
//! storage filters by a selector. A watch takes one seat while it starts.
//!
//! Not estimated (one seat, where upstream may take more): the extra seats a write takes for
//! the watchers it notifies.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::request::{Query, RequestInfo};
use crate::storage::cache::WatchCache;

/// The most seats one request takes.
pub const MAX_SEATS: u32 = 10;

/// Objects a seat covers.
const OBJECTS_PER_SEAT: u64 = 100;

/// How long a resource's object count is reused.
const COUNT_TTL: Duration = Duration::from_secs(1);

/// Per-shard object counts of the replica, refreshed at most every [`COUNT_TTL`].
#[derive(Debug, Default)]
pub struct ObjectCounts {
    by_root: HashMap<String, (usize, Instant)>,
}

impl ObjectCounts {
    /// Objects of `group/resource` (in `namespace` when given) in the replica.
    pub fn count(
        &mut self,
        cache: &WatchCache,
        prefix: &str,
        group: &str,
        resource: &str,
        namespace: &str,
    ) -> Option<usize> {
        let api = crate::api::resources::RESOURCES
            .iter()
            .find(|r| r.group == group && r.plural == resource && r.stored)?;
        let ns = (!namespace.is_empty() && api.namespaced).then_some(namespace);
        let root = crate::registry::keys::collection_prefix(prefix, api.key_segment, ns);
        if let Some((n, at)) = self.by_root.get(&root) {
            if at.elapsed() < COUNT_TTL {
                return Some(*n);
            }
        }
        let n = cache.count_under(&Bytes::from(root.clone()));
        self.by_root.insert(root, (n, Instant::now()));
        Some(n)
    }
}

/// The most seats a request of a level with `nominal` seats and `hand_size` queues takes
/// (upstream: 15% of the level, and no more than its seats per queue of a hand).
pub fn level_cap(nominal: u32, hand_size: Option<u32>) -> u32 {
    match hand_size {
        Some(h) if h > 0 => {
            let fifteen = (u64::from(nominal) * 15).div_ceil(100);
            let per_hand = u64::from(nominal / h);
            u32::try_from(fifteen.min(per_hand).max(1)).unwrap_or(MAX_SEATS)
        }
        _ => MAX_SEATS,
    }
}

/// The seats of `info` (with its `query`), `objects` the resource's count when known.
pub fn seats(info: &RequestInfo, query: &Query, objects: Option<usize>, cap: u32) -> u32 {
    let max = cap.clamp(1, MAX_SEATS);
    if info.verb != "list" || !info.name.is_empty() {
        // A watch takes one seat unless it sends initial events (the WatchList gate is off).
        return 1;
    }
    let Some(n) = objects.map(|n| n as u64) else {
        return 1;
    };
    let limit = query
        .non_empty("limit")
        .and_then(|l| l.parse::<u64>().ok())
        .filter(|&l| l > 0);
    let rv = query.get("resourceVersion").unwrap_or("");
    let from_storage = query.non_empty("continue").is_some()
        || query.get("resourceVersionMatch") == Some("Exact")
        || (limit.is_some() && !matches!(rv, "" | "0"));
    let page = limit.map_or(n, |l| l.min(n));
    let filtered =
        query.non_empty("labelSelector").is_some() || query.non_empty("fieldSelector").is_some();
    let read = match (from_storage, filtered) {
        (false, _) => n,
        (true, true) => n + page,
        (true, false) => 2 * page,
    };
    u32::try_from(read.div_ceil(OBJECTS_PER_SEAT))
        .unwrap_or(u32::MAX)
        .clamp(1, max)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn list(query: &str) -> (RequestInfo, Query) {
        (
            RequestInfo::resolve(&http::Method::GET, "/api/v1/pods", Some(query)),
            Query::parse(Some(query)),
        )
    }

    #[test]
    fn lists_take_a_seat_per_hundred_objects_read() {
        let (i, q) = list("");
        assert_eq!(seats(&i, &q, Some(50), 10), 1);
        assert_eq!(seats(&i, &q, Some(450), 10), 5);
        assert_eq!(seats(&i, &q, Some(50_000), 10), 10);
        assert_eq!(seats(&i, &q, Some(50_000), 3), 3);
        assert_eq!(seats(&i, &q, None, 10), 1);
        // Paged by storage: the page, twice; with a selector, everything plus the page.
        let (i, q) = list("limit=100&resourceVersion=5");
        assert_eq!(seats(&i, &q, Some(5000), 10), 2);
        let (i, q) = list("limit=100&continue=abc&labelSelector=a%3Db");
        assert_eq!(seats(&i, &q, Some(500), 10), 6);
        // From the cache (no resourceVersion): every object, whatever the limit.
        let (i, q) = list("limit=100");
        assert_eq!(seats(&i, &q, Some(500), 10), 5);
        // Watches and gets take one.
        let (i, q) = list("watch=1");
        assert_eq!(seats(&i, &q, Some(5000), 10), 1);
    }

    #[test]
    fn a_levels_cap_is_fifteen_percent_and_its_hand_share() {
        assert_eq!(level_cap(49, Some(6)), 8);
        assert_eq!(level_cap(245, Some(6)), 37);
        assert_eq!(level_cap(13, None), MAX_SEATS);
        assert_eq!(level_cap(1, Some(6)), 1);
    }
}
