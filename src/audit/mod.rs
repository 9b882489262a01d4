//! Auditing (`audit.k8s.io/v1`): the policy deciding each request's level and stages
//! ([`policy`]), the event it records ([`event`]), and the log backend writing events off the
//! shards ([`log`]). The filter that drives a request's event through its stages is
//! `filters::audit`.

pub mod event;
pub mod log;
pub mod policy;
pub mod webhook;

use std::sync::{Arc, Mutex, PoisonError};

pub use self::log::{
    start_log, AuditCounters, BackendThread, LogSettings, Plugin, ShardBuffer, Sink,
};
pub use self::policy::{Level, Policy, Stage};
pub use self::webhook::{start_webhook, WebhookSettings};

/// What every shard's chain audits with.
#[derive(Clone, Debug)]
pub struct Auditing {
    /// The loaded policy.
    pub policy: Arc<Policy>,
    /// The backend's sink.
    pub sink: Sink,
    /// `--audit-log-mode=blocking-strict`: a request whose first event cannot be stored is
    /// answered 500.
    pub strict: bool,
}

impl Auditing {
    /// One shard's view: the policy, and a buffer of its own in front of the sink.
    pub fn for_shard(&self) -> ShardAuditing {
        ShardAuditing {
            policy: Arc::clone(&self.policy),
            buffer: ShardBuffer::new(self.sink.clone()),
            strict: self.strict,
        }
    }
}

/// What one shard's chain audits with: nothing in it is shared with other shards per request.
#[derive(Debug)]
pub struct ShardAuditing {
    /// The loaded policy.
    pub policy: Arc<Policy>,
    /// The shard's buffer of event lines.
    pub buffer: ShardBuffer,
    /// `--audit-log-mode=blocking-strict`.
    pub strict: bool,
}

/// `YYYY-MM-DDTHH<sep>MM<sep>SS` of `t` in UTC, and `t` as a date-time (for the fraction).
fn utc_stamp(t: std::time::SystemTime, sep: char) -> (String, time::OffsetDateTime) {
    let utc: time::OffsetDateTime = t.into();
    let stamp = format!(
        "{:04}-{:02}-{:02}T{:02}{sep}{:02}{sep}{:02}",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    );
    (stamp, utc)
}

/// The request body as read by the REST layer, for Request-level events: the audit filter
/// puts one in the request's extensions, the body reader fills it.
#[derive(Clone, Debug, Default)]
pub struct BodyTap(Arc<Mutex<Option<Vec<u8>>>>);

impl BodyTap {
    /// Keeps a copy of the body read.
    pub fn keep(&self, body: &[u8]) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(body.to_vec());
    }

    /// The body, if one was read.
    pub fn take(&self) -> Option<Vec<u8>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}
