//! `/metrics` in the Prometheus text format: the watch cache's counters for now, under
//! upstream's names where upstream has the metric.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::filters::max_in_flight::InFlightLimits;
use crate::storage::cache::CacheMetrics;

/// Renders the metrics, one `# HELP`/`# TYPE` header per metric.
pub fn render(cache: Option<&CacheMetrics>, limits: Option<&InFlightLimits>) -> String {
    let mut out = String::new();
    if let Some(l) = limits {
        let (read_only, mutating) = l.in_use();
        let name = "apiserver_current_inflight_requests";
        let _ = writeln!(
            out,
            "# HELP {name} Requests holding a max-in-flight seat at the scrape, per request kind (upstream reports the most in the last second).\n# TYPE {name} gauge\n{name}{{request_kind=\"mutating\"}} {mutating}\n{name}{{request_kind=\"readOnly\"}} {read_only}"
        );
    }
    let Some(m) = cache else {
        return out;
    };
    let counters = [
        (
            "apiserver_terminated_watchers_total",
            "Watchers ended because they fell too far behind the watch cache.",
            m.terminated_watchers.load(Ordering::Relaxed),
        ),
        (
            "kubeshard_watch_cache_resyncs_total",
            "Times a shard rebuilt its watch cache replica from a full list.",
            m.resyncs.load(Ordering::Relaxed),
        ),
        (
            "kubeshard_watch_cache_consistent_read_fallbacks_total",
            "Consistent reads the replica did not catch up with in time, served by the backend.",
            m.consistent_read_fallbacks.load(Ordering::Relaxed),
        ),
        (
            "kubeshard_watch_cache_events_applied_total",
            "Events applied to watch cache replicas, summed over shards.",
            m.events_applied.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_in_text_format() {
        let m = CacheMetrics::default();
        m.terminated_watchers.fetch_add(2, Ordering::Relaxed);
        let text = render(Some(&m), None);
        assert!(text.contains("# TYPE apiserver_terminated_watchers_total counter\napiserver_terminated_watchers_total 2\n"));
        assert_eq!(render(None, None), "");
        let limits = InFlightLimits::new(5, 5);
        let text = render(None, Some(limits));
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
    }
}
