//! API Priority and Fairness (`flowcontrol.apiserver.k8s.io/v1`), upstream's load shedding:
//! each request is classified by the first matching FlowSchema into a priority level, then
//! waits for seats of that level (`dispatch.rs`: shared by every shard, queues with shuffle
//! sharding, borrowing between levels, exempt levels never held) or is refused with a 429.
//!
//! - `config.rs`: FlowSchemas and PriorityLevelConfigurations as matching rules and levels;
//! - `bootstrap.rs`: upstream's mandatory and suggested objects, kept in storage, and the
//!   FlowSchemas' `Dangling` condition;
//! - `width.rs`: how many seats a request takes (LISTs by the objects they read).
//!
//! Each shard rebuilds its configuration from its own watch cache replica when either
//! resource changed there (as the RBAC index is rebuilt), so classifying is a scan of
//! in-memory rules; the seats it then takes are process-wide.

pub mod bootstrap;
pub mod config;
pub mod dispatch;
pub mod width;

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use serde_json::Value;

use self::config::Config;
use self::dispatch::Dispatcher;
use crate::storage::cache::WatchCache;

/// The two resources the configuration is read from, by key segment.
const SOURCES: [&str; 2] = ["flowschemas", "prioritylevelconfigurations"];

/// The replica's change markers of the sources.
type Markers = Vec<(u64, u64)>;

/// One shard's view of the APF configuration, rebuilt from its replica when it changed.
pub struct ShardFlowControl {
    dispatcher: &'static Dispatcher,
    cache: Option<WatchCache>,
    prefix: String,
    /// Each source's collection root and ring in the replica.
    sources: Vec<(Bytes, usize)>,
    /// The configuration and the replica's change markers it was built at.
    current: RefCell<Option<(Markers, Rc<Config>)>>,
    counts: RefCell<width::ObjectCounts>,
}

impl std::fmt::Debug for ShardFlowControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardFlowControl").finish_non_exhaustive()
    }
}

impl ShardFlowControl {
    /// APF over `cache` (whose resources live under `prefix`) with `dispatcher`'s seats;
    /// with no replica, the bootstrap configuration.
    pub fn new(dispatcher: &'static Dispatcher, cache: Option<WatchCache>, prefix: &str) -> Self {
        let sources = cache
            .as_ref()
            .map(|c| {
                SOURCES
                    .iter()
                    .filter_map(|s| {
                        let root =
                            Bytes::from(crate::registry::keys::collection_prefix(prefix, s, None));
                        c.resource_index(&root).map(|i| (root, i))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            dispatcher,
            cache,
            prefix: prefix.to_string(),
            sources,
            current: RefCell::new(None),
            counts: RefCell::new(width::ObjectCounts::default()),
        }
    }

    /// The seats.
    pub fn dispatcher(&self) -> &'static Dispatcher {
        self.dispatcher
    }

    /// The configuration, current with the replica.
    pub fn config(&self) -> Rc<Config> {
        // The replica's markers, compared in place (no allocation per request).
        let changes = |i: usize| self.cache.as_ref().map(|c| c.changes(i));
        if let Some((m, c)) = &*self.current.borrow() {
            let same = m.len() == self.sources.len()
                && m.iter()
                    .zip(&self.sources)
                    .all(|(m, (_, i))| Some(*m) == changes(*i));
            if same {
                return Rc::clone(c);
            }
        }
        let marker: Markers = self
            .sources
            .iter()
            .filter_map(|(_, i)| changes(*i))
            .collect();
        let read = |i: usize| -> Vec<Value> {
            let (Some(cache), Some((root, _))) = (&self.cache, self.sources.get(i)) else {
                return Vec::new();
            };
            cache
                .objects_under(root)
                .iter()
                .filter_map(|o| serde_json::from_slice(&o.json).ok())
                .collect()
        };
        let (mut schemas, mut levels) = (read(0), read(1));
        if schemas.is_empty() && levels.is_empty() {
            // Nothing stored yet (or no replica): the bootstrap configuration.
            for mandatory in [true, false] {
                schemas.extend(bootstrap::objects(mandatory, "FlowSchema"));
                levels.extend(bootstrap::objects(mandatory, "PriorityLevelConfiguration"));
            }
        }
        let config = Rc::new(Config::build(self.dispatcher, &schemas, &levels));
        *self.current.borrow_mut() = Some((marker, Rc::clone(&config)));
        config
    }

    /// Objects of the request's resource in the replica (an estimate refreshed every
    /// second), for the width of a LIST.
    pub fn objects_of(&self, group: &str, resource: &str, namespace: &str) -> Option<usize> {
        let cache = self.cache.as_ref()?;
        self.counts
            .borrow_mut()
            .count(cache, &self.prefix, group, resource, namespace)
    }
}

/// The dispatcher shared by every shard's [`ShardFlowControl`].
pub fn dispatcher(
    max_requests_inflight: u32,
    max_mutating_requests_inflight: u32,
) -> &'static Dispatcher {
    Dispatcher::new(max_requests_inflight.saturating_add(max_mutating_requests_inflight))
}
