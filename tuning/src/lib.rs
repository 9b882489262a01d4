//! Every kubeshard knob in one place: its default and the reason for it.
//!
//! Flags (kube-apiserver's names) configure what a user of kube-apiserver expects to configure.
//! Everything else that shapes performance lives here and can be changed with
//! `--tuning-profile FILE` (TOML; see `tuning/profiles/`). A profile names only what it
//! changes; unknown keys are errors, so a typo never silently keeps a default.
//!
//! # The knobs
//!
//! ## `[executor]` — each shard's glommio executor
//! - `io_memory_bytes` = 1 MiB. Registered io_uring buffers per shard. glommio's default
//!   (10 MiB) is sized for file I/O; the server does socket I/O, which does not use them, and
//!   locked memory is a scarce limit (RLIMIT_MEMLOCK) on many hosts.
//! - `ring_depth` = 128. glommio's default; deep enough for thousands of connections since
//!   most socket operations complete without the ring (glommio tries the syscall first).
//! - `spin_before_park` = "0s". Busy-polling lowers latency on a dedicated box but burns the
//!   core; off by default, on in `profiles/latency.toml`.
//! - `preempt_timer` = "100ms". glommio's default task-queue preemption check.
//!
//! ## `[http]` — the serving layer (kube-apiserver's values where it has them)
//! - `tls_handshake_timeout` = "10s". Go's net/http bounds the handshake by the header
//!   timeout; a separate, shorter bound frees a connection slot held by a silent client sooner.
//! - `header_read_timeout` = "32s". kube-apiserver's `ReadHeaderTimeout` ("just shy of the
//!   request timeout upper bound"); also bounds an idle HTTP/1.1 keep-alive connection.
//! - `max_header_bytes` = 1 MiB. kube-apiserver's `MaxHeaderBytes`.
//! - `max_request_body_bytes` = 3 MiB. kube-apiserver's request body limit
//!   (`MaxRequestBodyBytes`, 3 * 1024 * 1024).
//! - `http2_max_streams_per_connection` = 1000. kube-apiserver's default for
//!   `--http2-max-streams-per-connection`.
//! - `http2_keepalive_interval` = "0s" (off). hyper's default; kube-apiserver sends none either.
//!
//! ## `[storage]` — the storage thread and its lanes
//! - `request_queue_capacity` = 16384. Shard -> storage requests that may wait at once; past
//!   it a request fails at once (503) instead of queueing without bound. 16k is ~64 in flight
//!   per connection on 256 busy connections.
//! - `event_lane_capacity` = 8192. Event batches a shard may have unread before its lane
//!   overflows and the shard resynchronises; a few seconds of a heavy write burst.
//! - `health_interval` = "1s". How often the backend is probed for the `etcd` health check.
#![forbid(unsafe_code)]

pub mod duration;

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use duration::{format_duration, parse_duration, DurationError};

/// All tunables, with defaults; see the crate docs for each one's reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tuning {
    /// Per-shard executor settings.
    pub executor: ExecutorTuning,
    /// HTTP serving limits and timeouts.
    pub http: HttpTuning,
    /// Storage thread queues and probes.
    pub storage: StorageTuning,
    /// The per-shard watch cache.
    pub watch: WatchTuning,
}

/// The per-shard watch cache: how far a watcher may fall behind, how long reads wait for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchTuning {
    /// A watcher this many events behind the newest event of its resource is ended (the
    /// client resumes from its last resourceVersion). Bounds what one slow client pins.
    pub max_watcher_lag: usize,
    /// How long a consistent read waits for the shard's replica to reach the backend's
    /// revision before it reads the backend instead (upstream waits up to 3s too).
    #[serde(with = "duration::serde_go")]
    pub consistent_read_wait: Duration,
    /// Events a watcher sends before it yields to the shard's other tasks.
    pub events_per_poll: usize,
}

impl Default for WatchTuning {
    fn default() -> Self {
        Self {
            // Upstream's watch cache keeps up to 100*1024 events per resource; a watcher
            // needs to be behind by a large share of that before cutting it off is kinder
            // than buffering.
            max_watcher_lag: 65536,
            consistent_read_wait: Duration::from_secs(3),
            events_per_poll: 256,
        }
    }
}

/// Storage thread queues and probes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageTuning {
    /// Shard -> storage requests waiting at once.
    pub request_queue_capacity: usize,
    /// Unread event batches per shard before a resync.
    pub event_lane_capacity: usize,
    /// Backend health probe period.
    #[serde(with = "duration::serde_go")]
    pub health_interval: Duration,
}

impl Default for StorageTuning {
    fn default() -> Self {
        Self {
            request_queue_capacity: 16384,
            event_lane_capacity: 8192,
            health_interval: Duration::from_secs(1),
        }
    }
}

/// Per-shard glommio executor settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutorTuning {
    /// Registered io_uring buffer memory per shard.
    pub io_memory_bytes: usize,
    /// io_uring submission queue depth.
    pub ring_depth: usize,
    /// Busy-poll before parking an idle shard.
    #[serde(with = "duration::serde_go")]
    pub spin_before_park: Duration,
    /// Task-queue preemption check period.
    #[serde(with = "duration::serde_go")]
    pub preempt_timer: Duration,
}

impl Default for ExecutorTuning {
    fn default() -> Self {
        Self {
            io_memory_bytes: 1 << 20,
            ring_depth: 128,
            spin_before_park: Duration::ZERO,
            preempt_timer: Duration::from_millis(100),
        }
    }
}

/// HTTP serving limits and timeouts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpTuning {
    /// Accept-to-handshake-done bound.
    #[serde(with = "duration::serde_go")]
    pub tls_handshake_timeout: Duration,
    /// Time to receive a request's headers; bounds idle HTTP/1.1 connections too.
    #[serde(with = "duration::serde_go")]
    pub header_read_timeout: Duration,
    /// Largest request header block.
    pub max_header_bytes: usize,
    /// Largest request body.
    pub max_request_body_bytes: usize,
    /// Concurrent HTTP/2 streams per connection.
    pub http2_max_streams_per_connection: u32,
    /// HTTP/2 ping interval; 0s disables pings.
    #[serde(with = "duration::serde_go")]
    pub http2_keepalive_interval: Duration,
}

impl Default for HttpTuning {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(32),
            max_header_bytes: 1 << 20,
            max_request_body_bytes: 3 << 20,
            http2_max_streams_per_connection: 1000,
            http2_keepalive_interval: Duration::ZERO,
        }
    }
}

/// Why a tuning profile could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TuningError {
    /// The file could not be read.
    #[error("cannot read tuning profile {path}: {source}")]
    Read {
        /// The profile's path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid profile (syntax, unknown key, bad value).
    #[error("invalid tuning profile {path}: {message}")]
    Invalid {
        /// The profile's path.
        path: String,
        /// What is wrong, from the TOML parser.
        message: String,
    },
}

impl Tuning {
    /// Reads a profile: the defaults, overridden by what the file names.
    pub fn load(path: &Path) -> Result<Self, TuningError> {
        let text = std::fs::read_to_string(path).map_err(|source| TuningError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| TuningError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses profile text; the error is the parser's message.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t: Tuning = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
        t.check()?;
        Ok(t)
    }

    fn check(&self) -> Result<(), String> {
        if self.http.max_header_bytes < 4096 {
            return Err("http.max_header_bytes must be at least 4096".into());
        }
        if self.storage.request_queue_capacity == 0 || self.storage.event_lane_capacity == 0 {
            return Err("storage queue capacities must be at least 1".into());
        }
        if self.watch.max_watcher_lag == 0 || self.watch.events_per_poll == 0 {
            return Err(
                "watch.max_watcher_lag and watch.events_per_poll must be at least 1".into(),
            );
        }
        if self.executor.ring_depth == 0 {
            return Err("executor.ring_depth must be at least 1".into());
        }
        if self.http.http2_max_streams_per_connection == 0 {
            return Err("http.http2_max_streams_per_connection must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn empty_profile_is_the_defaults() {
        assert_eq!(Tuning::parse(""), Ok(Tuning::default()));
    }

    #[test]
    fn profile_overrides_only_what_it_names() {
        let t = Tuning::parse("[http]\nheader_read_timeout = \"2s\"\n").expect("valid");
        assert_eq!(t.http.header_read_timeout, Duration::from_secs(2));
        assert_eq!(t.http.max_header_bytes, 1 << 20);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(Tuning::parse("[http]\nheader_read_timout = \"2s\"\n").is_err());
        assert!(Tuning::parse("[http]\nheader_read_timeout = \"2 seconds\"\n").is_err());
        assert!(Tuning::parse("[nope]\n").is_err());
    }

    #[test]
    fn shipped_profiles_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).expect("profiles dir") {
            let path = entry.expect("entry").path();
            Tuning::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
        assert!(n >= 2);
    }
}
