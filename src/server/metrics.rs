//! `/metrics`: every thread's recorded families merged (requests, authentication,
//! authorization, watch events, per-shard counts), the max-in-flight seats and watch cache
//! counters read at the scrape, and the process gauges; Prometheus text or OpenMetrics.

use std::sync::atomic::Ordering;

use crate::audit::AuditCounters;
use crate::filters::max_in_flight::InFlightLimits;
use crate::flowcontrol::dispatch::{Dispatcher, LevelGauges};
use crate::metrics::exposition::{Exposition, Format, Kind, Stability};
use crate::metrics::{process, recorder};
use crate::storage::cache::{CacheMetrics, WatchCache};
use crate::storage::thread::StorageClient;

/// What a scrape reads besides the recorded families (each None where not served).
#[derive(Default)]
pub struct Sources<'a> {
    /// The watch cache's process-wide counters.
    pub cache: Option<&'a CacheMetrics>,
    /// The max-in-flight counters.
    pub limits: Option<&'a InFlightLimits>,
    /// The audit backends' counters.
    pub audit: Option<&'a AuditCounters>,
    /// API Priority and Fairness's levels.
    pub flow: Option<&'a Dispatcher>,
    /// This shard's replica (object counts) and the storage prefix its keys start with.
    pub replica: Option<(&'a WatchCache, &'a str)>,
    /// The storage thread (backend operation timings).
    pub storage: Option<&'a StorageClient>,
}

/// The scrape's text in `format`.
pub fn render(format: Format, src: &Sources<'_>) -> String {
    let Sources {
        cache,
        limits,
        audit,
        flow,
        replica,
        storage,
    } = *src;
    let mut e = Exposition::new(format);
    if let Some(d) = flow {
        write_levels(&mut e, d);
    }
    if let Some((r, prefix)) = replica {
        write_storage_objects(&mut e, r, prefix);
    }
    if let Some(s) = storage {
        write_storage_latency(&mut e, s);
        write_watch_deliveries(&mut e, s);
        write_lanes(&mut e, s);
        if let Some(size) = s.db_size() {
            e.family(
                "apiserver_storage_size_bytes",
                Kind::Gauge,
                Stability::Stable,
                "Size of the storage database file physically allocated in bytes.",
            );
            e.sample(
                &[("storage_cluster_id", &size.cluster_id)],
                size.bytes as f64,
            );
        }
        if let Some((r, _)) = replica {
            // How far this shard's replica is behind what the storage thread delivered.
            let lag = (s.delivered_revision() - r.revision()).max(0);
            let shard = recorder::current_shard().map_or("-".to_string(), |i| i.to_string());
            e.family(
                "kubeshard_watch_cache_lag_revisions",
                Kind::Gauge,
                Stability::Unmarked,
                "Revisions the answering shard's watch cache replica is behind the storage thread's watch.",
            );
            e.sample(&[("shard", &shard)], lag as f64);
        }
    }
    if let Some(a) = audit {
        write_audit(&mut e, a);
    }
    if let Some(l) = limits {
        let (read_only, mutating) = l.in_use();
        e.family(
            "apiserver_current_inflight_requests",
            Kind::Gauge,
            Stability::Stable,
            "Requests holding a max-in-flight seat at the scrape, per request kind (upstream reports the most in the last second).",
        );
        e.sample(&[("request_kind", "mutating")], mutating as f64);
        e.sample(&[("request_kind", "readOnly")], read_only as f64);
    }
    if let Some(m) = cache {
        let counters = [
            (
                "apiserver_terminated_watchers_total",
                Stability::Stable,
                "Watchers ended because they fell too far behind the watch cache.",
                m.terminated_watchers.load(Ordering::Relaxed),
            ),
            (
                "kubeshard_watch_cache_resyncs_total",
                Stability::Unmarked,
                "Times a shard rebuilt its watch cache replica from a full list.",
                m.resyncs.load(Ordering::Relaxed),
            ),
            (
                "kubeshard_watch_cache_consistent_read_fallbacks_total",
                Stability::Unmarked,
                "Consistent reads the replica did not catch up with in time, served by the backend.",
                m.consistent_read_fallbacks.load(Ordering::Relaxed),
            ),
            (
                "kubeshard_watch_cache_events_applied_total",
                Stability::Unmarked,
                "Events applied to watch cache replicas, summed over shards.",
                m.events_applied.load(Ordering::Relaxed),
            ),
        ];
        for (name, stability, help, value) in counters {
            e.family(name, Kind::Counter, stability, help);
            e.sample(&[], value as f64);
        }
    }
    recorder::write_merged(&mut e);
    process::write(&mut e);
    e.finish()
}

/// `apiserver_storage_objects`: objects per resource in this shard's replica (every replica
/// holds every object).
fn write_storage_objects(e: &mut Exposition, replica: &WatchCache, prefix: &str) {
    let mut counts: Vec<(&'static str, usize)> = replica
        .config()
        .resources
        .iter()
        .map(|r| {
            (
                crate::storage::latency::resource_of(&r.root, prefix.as_bytes()),
                replica.count_under(&r.root),
            )
        })
        .filter(|(name, _)| *name != "unknown")
        .collect();
    counts.sort_unstable();
    counts.dedup_by(|a, b| {
        // Two roots of one resource (none today) add up.
        if a.0 == b.0 {
            b.1 += a.1;
            true
        } else {
            false
        }
    });
    e.family(
        "apiserver_storage_objects",
        Kind::Gauge,
        Stability::Stable,
        "Number of stored objects at the time of last check split by kind.",
    );
    for (resource, n) in counts {
        e.sample(&[("resource", resource)], n as f64);
    }
}

/// `apiserver_watch_cache_events_received_total` and `_resource_version`: what the one
/// upstream watch delivered (once for every replica), per resource.
fn write_watch_deliveries(e: &mut Exposition, storage: &StorageClient) {
    let d = storage.deliveries();
    if d.is_empty() {
        return;
    }
    e.family(
        "apiserver_watch_cache_events_received_total",
        Kind::Counter,
        Stability::Alpha,
        "Counter of events received in watch cache broken by resource type.",
    );
    for (resource, n, _) in &d {
        e.sample(&[("resource", resource)], *n as f64);
    }
    e.family(
        "apiserver_watch_cache_resource_version",
        Kind::Gauge,
        Stability::Alpha,
        "Current resource version of watch cache broken by resource type.",
    );
    for (resource, _, rv) in &d {
        e.sample(&[("resource", resource)], *rv as f64);
    }
}

/// The cross-shard lanes: requests waiting for the storage thread, events waiting in each
/// shard's lane, and each lane's overflows (each cost that shard a resync).
fn write_lanes(e: &mut Exposition, storage: &StorageClient) {
    let (requests, depths, overflows) = storage.lane_depths();
    e.family(
        "kubeshard_storage_request_queue_depth",
        Kind::Gauge,
        Stability::Unmarked,
        "Requests from the shards waiting for the storage thread now.",
    );
    e.sample(&[], requests as f64);
    e.family(
        "kubeshard_event_lane_depth",
        Kind::Gauge,
        Stability::Unmarked,
        "Event batches waiting in each shard's lane from the storage thread now.",
    );
    for (i, d) in depths.iter().enumerate() {
        e.sample(&[("shard", &i.to_string())], *d as f64);
    }
    e.family(
        "kubeshard_event_lane_overflows_total",
        Kind::Counter,
        Stability::Unmarked,
        "Times each shard's event lane overflowed (each one cost that shard a resync).",
    );
    for (i, n) in overflows.iter().enumerate() {
        e.sample(&[("shard", &i.to_string())], *n as f64);
    }
}

/// `etcd_request_duration_seconds`: the storage backend's operation latencies.
fn write_storage_latency(e: &mut Exposition, storage: &StorageClient) {
    let series = storage.latency();
    if series.is_empty() {
        return;
    }
    e.family(
        "etcd_request_duration_seconds",
        Kind::Histogram,
        Stability::Alpha,
        "Storage backend request latency in seconds for each operation and object type (the embedded store or etcd).",
    );
    for ((operation, kind), t) in series {
        let h = crate::metrics::histogram::Histogram::from_counts(
            crate::storage::latency::BOUNDS,
            &t.counts,
            t.sum,
        );
        e.histogram(&[("operation", operation), ("type", kind)], &h);
    }
}

/// Each APF priority level's seats, read from the process-wide dispatcher.
fn write_levels(e: &mut Exposition, d: &Dispatcher) {
    let mut levels: Vec<_> = d
        .levels()
        .iter()
        .map(|l| (l.name, l.gauges(), l.is_exempt()))
        .collect();
    levels.sort_by_key(|(name, _, _)| *name);
    type Gauge = fn(&LevelGauges) -> u32;
    let families: [(&str, Stability, &str, Gauge); 4] = [
        (
            "apiserver_flowcontrol_nominal_limit_seats",
            Stability::Beta,
            "Nominal number of execution seats configured for each priority level.",
            |g| g.nominal,
        ),
        (
            "apiserver_flowcontrol_lower_limit_seats",
            Stability::Alpha,
            "Seats a priority level keeps for itself (nominal less lendable).",
            |g| g.nominal - g.lendable.min(g.nominal),
        ),
        (
            "kubeshard_flowcontrol_level_seats_in_use",
            Stability::Unmarked,
            "Seats the priority level's executing requests hold now, its own and borrowed.",
            |g| g.seats_in_use,
        ),
        (
            "kubeshard_flowcontrol_level_waiting_requests",
            Stability::Unmarked,
            "Requests waiting in the priority level's queues now, across shards.",
            |g| g.waiting,
        ),
    ];
    for (name, stability, help, value) in families {
        e.family(name, Kind::Gauge, stability, help);
        for (level, g, _) in &levels {
            e.sample(&[("priority_level", level)], f64::from(value(g)));
        }
    }
}

/// upstream's `apiserver_audit_*` counters.
fn write_audit(e: &mut Exposition, a: &AuditCounters) {
    e.family(
        "apiserver_audit_error_total",
        Kind::Counter,
        Stability::Alpha,
        "Audit events a backend dropped (its buffer was full, or the webhook refused them), by plugin.",
    );
    e.sample(
        &[("plugin", "log")],
        a.log_errors.load(Ordering::Relaxed) as f64,
    );
    e.sample(
        &[("plugin", "webhook")],
        a.webhook_errors.load(Ordering::Relaxed) as f64,
    );
    e.family(
        "apiserver_audit_event_total",
        Kind::Counter,
        Stability::Alpha,
        "Audit events handed to the backend.",
    );
    e.sample(&[], a.events.load(Ordering::Relaxed) as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_gauges() {
        let m = CacheMetrics::default();
        m.terminated_watchers.fetch_add(2, Ordering::Relaxed);
        let text = render(
            Format::Prometheus,
            &Sources {
                cache: Some(&m),
                ..Sources::default()
            },
        );
        assert!(text.contains("# TYPE apiserver_terminated_watchers_total counter\napiserver_terminated_watchers_total 2\n"), "{text}");
        let limits = InFlightLimits::new(5, 5);
        let text = render(
            Format::Prometheus,
            &Sources {
                limits: Some(limits),
                ..Sources::default()
            },
        );
        assert!(
            text.contains("# TYPE apiserver_current_inflight_requests gauge\n"),
            "{text}"
        );
        assert!(
            text.contains("apiserver_current_inflight_requests{request_kind=\"mutating\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("apiserver_current_inflight_requests{request_kind=\"readOnly\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        let om = render(
            Format::OpenMetrics,
            &Sources {
                cache: Some(&m),
                ..Sources::default()
            },
        );
        assert!(om.contains("# TYPE apiserver_terminated_watchers counter\napiserver_terminated_watchers_total 2\n"), "{om}");
        assert!(om.ends_with("# EOF\n"));
    }
}
