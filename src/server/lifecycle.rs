//! Graceful termination with kube-apiserver's lifecycle signals, shared by every shard.
//!
//! In order: `ShutdownInitiated` (/readyz fails) -> `AfterShutdownDelayDuration` (after
//! `--shutdown-delay-duration`) -> pre-shutdown hooks -> `NotAcceptingNewRequest` ->
//! `InFlightRequestsDrained` -> `HTTPServerStoppedListening`. Each step is a cross-shard
//! [`Signal`]; shards await the steps they act on and report back through per-shard signals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shards::signal::Signal;

/// The process-wide lifecycle: upstream's named signals plus the per-shard reports.
#[derive(Debug)]
pub struct Lifecycle {
    /// SIGTERM/SIGINT received.
    pub shutdown_initiated: Arc<Signal>,
    /// `--shutdown-delay-duration` has elapsed since `shutdown_initiated`.
    pub after_shutdown_delay: Arc<Signal>,
    /// Pre-shutdown hooks done; no new requests are accepted from here on.
    pub not_accepting_new_requests: Arc<Signal>,
    /// Every shard's non-long-running in-flight requests have finished.
    pub in_flight_drained: Arc<Signal>,
    /// Every shard has closed its listener.
    pub http_server_stopped_listening: Arc<Signal>,
    /// Shards close their listeners and ask connections to finish (GOAWAY / close after the
    /// response). At the delay's end, or after the drain with `--shutdown-send-retry-after`.
    pub stop_listening: Arc<Signal>,
    /// The shutdown timeout expired: drop whatever connections remain.
    pub force_close: Arc<Signal>,
    /// Per shard: its in-flight requests have drained.
    pub shard_drained: Vec<Arc<Signal>>,
    /// Per shard: its listener is closed.
    pub shard_listener_closed: Vec<Arc<Signal>>,
    /// Per shard: its server has stopped (all its connections closed).
    pub shard_stopped: Vec<Arc<Signal>>,
}

impl Lifecycle {
    /// Fresh, unfired signals for `shards` shards.
    pub fn new(shards: usize) -> Arc<Self> {
        let per = |name| (0..shards).map(|_| Signal::new(name)).collect();
        Arc::new(Self {
            shutdown_initiated: Signal::new("ShutdownInitiated"),
            after_shutdown_delay: Signal::new("AfterShutdownDelayDuration"),
            not_accepting_new_requests: Signal::new("NotAcceptingNewRequest"),
            in_flight_drained: Signal::new("InFlightRequestsDrained"),
            http_server_stopped_listening: Signal::new("HTTPServerStoppedListening"),
            stop_listening: Signal::new("StopListening"),
            force_close: Signal::new("ForceClose"),
            shard_drained: per("ShardDrained"),
            shard_listener_closed: per("ShardListenerClosed"),
            shard_stopped: per("ShardStopped"),
        })
    }

    /// Runs the termination sequence once `shutdown_initiated` fires; returns when every shard
    /// has stopped (or was forced to). Runs on the coordinator's executor.
    pub async fn run_termination(
        &self,
        delay: Duration,
        shutdown_timeout: Duration,
        send_retry_after: bool,
    ) {
        self.shutdown_initiated.wait().await;
        log_step(&self.shutdown_initiated);
        shards::sleep(delay).await;
        fire(&self.after_shutdown_delay);
        // Pre-shutdown hooks run here (none yet).
        fire(&self.not_accepting_new_requests);
        if !send_retry_after {
            self.stop_listening.fire();
        }

        let started = Instant::now();
        if !all_within(&self.shard_drained, shutdown_timeout).await {
            log::warn!("[graceful-termination] in-flight requests did not drain within {shutdown_timeout:?}");
        }
        fire(&self.in_flight_drained);
        self.stop_listening.fire();
        all_within(&self.shard_listener_closed, shutdown_timeout).await;
        fire(&self.http_server_stopped_listening);

        let left = shutdown_timeout.saturating_sub(started.elapsed());
        if !all_within(&self.shard_stopped, left).await {
            log::warn!(
                "[graceful-termination] closing connections still open after {shutdown_timeout:?}"
            );
            self.force_close.fire();
            all_within(&self.shard_stopped, Duration::from_secs(5)).await;
        }
    }
}

fn fire(s: &Signal) {
    if s.fire() {
        log_step(s);
    }
}

fn log_step(s: &Signal) {
    log::info!("[graceful-termination] {} signal fired", s.name());
}

/// Waits until every signal fired, at most `limit`. True when all fired.
async fn all_within(signals: &[Arc<Signal>], limit: Duration) -> bool {
    let all = async {
        for s in signals {
            s.wait().await;
        }
        true
    };
    futures_lite::future::or(all, async {
        shards::sleep(limit).await;
        false
    })
    .await
}
