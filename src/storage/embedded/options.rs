//! [`EmbeddedOptions`]: the embedded store's knobs, each with its default and the reason for it.

use std::time::Duration;

/// Tuning of one [`EmbeddedStore`](super::EmbeddedStore). `Default` gives the values the server
/// uses; tests shrink them to exercise snapshots, compaction and slow watchers quickly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// Keep at most this many history events (one per revision) for watches and reads at older
    /// revisions; older ones are compacted as new ones arrive, on top of explicit `compact`
    /// calls. Default 100 000: several minutes of a busy cluster's writes, so a watch cache that
    /// reconnects after a short hiccup can resume instead of relisting (kube-apiserver's own
    /// compaction interval is 5 minutes), while bounding memory to roughly that many values.
    pub max_history_events: usize,
    /// Start a new log segment and write a snapshot once the current segment holds this many
    /// bytes. Default 64 MiB: recovery replays at most this much log, and a snapshot (a full
    /// copy of the live state) is written at most once per that much logged data.
    pub snapshot_log_bytes: u64,
    /// At most this many writes share one log append and fsync. Default 4096: far more than the
    /// writes in flight from one API server, so in practice every queued write joins the next
    /// commit; the bound only caps the size of one log frame.
    pub max_batch_writes: usize,
    /// At most this many writes may be queued or committing at once; more make callers wait
    /// (backpressure). Default 4096, the same as one batch: a full queue is one commit of work.
    pub write_queue: usize,
    /// When fewer writes are queued than the previous commit had, the writer waits up to this
    /// long for the callers it just answered to send their next writes, so that they share the
    /// next fsync instead of splitting into a tiny commit and a big one. Default 200 µs: a
    /// fraction of one fsync here (0.5-1 ms), longer than a runtime needs to resubmit a wave
    /// of writes. Never spent when the previous commit held a single write.
    pub commit_wait: Duration,
    /// A watcher may fall behind by this many revisions (event batches) before its stream ends
    /// with `Unavailable("watcher fell behind")`. Default 10 000: a watch cache consumer that is
    /// that far behind will relist faster than it would catch up, and memory stays bounded.
    pub watch_buffer: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            max_history_events: 100_000,
            snapshot_log_bytes: 64 << 20,
            max_batch_writes: 4096,
            write_queue: 4096,
            commit_wait: Duration::from_micros(200),
            watch_buffer: 10_000,
        }
    }
}
