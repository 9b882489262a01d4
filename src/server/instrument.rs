//! Records each answered request in this shard's metrics, as upstream's route instrumentation
//! does: an answer of known length at once, a streamed one (a watch, a connect, a gzipped
//! list) when its stream ends, with the bytes it sent; long-running ones count in
//! `apiserver_longrunning_requests` (and watches in `apiserver_registered_watchers`) while
//! open.

use std::time::Instant;

use hyper::Response;
use shards::server::Body;

use crate::endpoints::observed::{observe, BodyObserver};
use crate::metrics::{self, RequestLabels};

/// Records `resp` under `labels` (now, or when a long-running body ends) and returns it;
/// `kind` is the resource's kind (a watch counts in `apiserver_registered_watchers`).
pub fn answered(
    labels: RequestLabels,
    kind: &'static str,
    started: Instant,
    long_running: bool,
    resp: Response<Body>,
) -> Response<Body> {
    let code = resp.status().as_u16();
    let size = resp.body().size_hint().exact();
    if let (false, Some(size)) = (long_running, size) {
        metrics::recorder::count_sent(size);
        metrics::record(|m| m.request(labels, code, Some(size), started.elapsed()));
        return resp;
    }
    let watched = (long_running && labels.verb == "WATCH").then_some(kind);
    if long_running {
        metrics::record(|m| {
            m.long_running(labels, 1);
            if let Some(kind) = watched {
                m.watcher(labels.group, kind, 1);
            }
        });
    }
    observe(
        resp,
        Metered {
            labels,
            long_running,
            watched,
            code,
            started,
            bytes: 0,
        },
    )
}

/// A streamed answer's meter: counts what it sends and records the request when it ends
/// (the stream finished, or the client went away and the body was dropped).
struct Metered {
    labels: RequestLabels,
    long_running: bool,
    watched: Option<&'static str>,
    code: u16,
    started: Instant,
    bytes: u64,
}

impl BodyObserver for Metered {
    fn on_data(&mut self, len: usize) {
        self.bytes += len as u64;
        metrics::recorder::count_sent(len as u64);
    }

    fn on_end(&mut self) {
        let (labels, code, bytes, took) =
            (self.labels, self.code, self.bytes, self.started.elapsed());
        let (long_running, watched) = (self.long_running, self.watched);
        metrics::record(|m| {
            if long_running {
                m.long_running(labels, -1);
            }
            if let Some(kind) = watched {
                m.watcher(labels.group, kind, -1);
            }
            m.request(labels, code, Some(bytes), took);
        });
    }
}

/// Records each admission plugin's and phase's time in upstream's admission families.
#[derive(Debug, Default, Clone, Copy)]
pub struct AdmissionMetrics;

/// Records each admission webhook call as upstream's `apiserver_admission_webhook_*`.
#[derive(Debug)]
pub struct WebhookMetrics;

impl crate::admission::webhook::WebhookObserver for WebhookMetrics {
    fn called(
        &self,
        name: &str,
        mutating: bool,
        operation: &'static str,
        outcome: crate::admission::webhook::Outcome,
        took: std::time::Duration,
    ) {
        use crate::admission::webhook::Outcome;
        // A failure to call is a 503 to the metrics, as upstream counts it.
        let (rejected, code, error_type, failed_open) = match outcome {
            Outcome::Admitted => (false, 200, None, false),
            Outcome::Refused(code) => (true, code, Some("no_error"), false),
            Outcome::FailedClosed => (true, 503, Some("calling_webhook_error"), false),
            Outcome::FailedOpen => (false, 503, None, true),
        };
        let call = crate::metrics::families::WebhookCall {
            name: crate::api::intern::intern(name),
            kind: if mutating { "admit" } else { "validating" },
            operation,
            rejected,
            code,
            error_type,
            failed_open,
        };
        crate::metrics::record(|m| m.webhook(call, took));
    }
}

impl crate::registry::store::admission::AdmissionObserver for AdmissionMetrics {
    fn observed(
        &self,
        plugin: Option<&'static str>,
        phase: crate::registry::store::admission::Phase,
        operation: crate::registry::store::admission::Operation,
        rejected: bool,
        took: std::time::Duration,
    ) {
        crate::metrics::record(|m| {
            m.admission(plugin, phase.label(), operation.label(), rejected, took)
        });
    }
}
