//! The writer thread: group commit.
//!
//! One thread owns the log. It takes every queued write (up to `max_batch_writes`), decides
//! each precondition in queue order against the committed state plus the earlier writes of
//! the same batch, appends one frame with all applied writes, `fdatasync`s once, then applies
//! them to the in-memory state, publishes their events to watchers and completes every waiter.
//! Writes that arrive during the fsync queue up and form the next batch, so concurrent writers
//! share fsyncs. Readers never see a write before it is durable.
//!
//! Right after a commit, the callers it answered have not yet had the CPU to send their next
//! writes, so the next batch would start with almost nothing and the rest of the wave would
//! wait a whole fsync. So when fewer writes are queued than the last batch had, the writer
//! waits up to `commit_wait` for the rest of the wave to come back (no wait at all when the
//! last batch was a single write: one writer alone pays no extra latency).
//!
//! A failed append or fsync leaves the log in an unknown state (the kernel may have dropped
//! the dirty pages), so the writer then fails every later write until the store is reopened,
//! which recovers from what is really on disk. The one exception is a full disk: the partial
//! frame is cut off and synced again, that batch fails with the cause, and later batches are
//! tried as usual, so writes resume when space returns.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use crossbeam::channel::{Receiver, RecvTimeoutError};
use tokio::sync::oneshot;

use crate::storage::kv::{KeyValue, Precondition, Revision, StorageError, WriteOutcome};

use super::files::{list_dir, remove_quietly, sync_dir};
use super::mvcc::Mvcc;
use super::options::EmbeddedOptions;
use super::wal::{LogOp, LogRecord, Segment};
use super::Shared;

/// What a write request asks for.
#[derive(Debug)]
pub(crate) enum WriteOp {
    /// Set the value.
    Put(Bytes),
    /// Remove the key.
    Delete,
}

/// One queued write and where its answer goes.
#[derive(Debug)]
pub(crate) struct WriteRequest {
    pub(crate) key: Bytes,
    pub(crate) op: WriteOp,
    pub(crate) precondition: Precondition,
    pub(crate) reply: oneshot::Sender<Result<WriteOutcome, StorageError>>,
}

/// The state of the writer thread.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    rx: Receiver<WriteRequest>,
    segment: Segment,
    dir: PathBuf,
    options: EmbeddedOptions,
    /// Scratch space for encoding frames.
    buf: Vec<u8>,
    /// Set once the log failed; every later write gets this error.
    failed: Option<StorageError>,
    /// The background snapshot, if one is running or finished but not yet joined.
    snapshotter: Option<JoinHandle<()>>,
    /// Rotate and snapshot when the segment reaches this many bytes.
    snapshot_due_at: u64,
}

impl Writer {
    /// A writer appending to `segment` (the newest segment, positioned at its end).
    pub(crate) fn new(
        shared: Arc<Shared>,
        rx: Receiver<WriteRequest>,
        segment: Segment,
        dir: PathBuf,
        options: EmbeddedOptions,
    ) -> Writer {
        let snapshot_due_at = options.snapshot_log_bytes;
        Writer {
            shared,
            rx,
            segment,
            dir,
            options,
            buf: Vec::new(),
            failed: None,
            snapshotter: None,
            snapshot_due_at,
        }
    }

    /// Runs until every sender is gone, then waits for a running snapshot.
    pub(crate) fn run(mut self) {
        let max = self.options.max_batch_writes.max(1);
        let mut batch = Vec::with_capacity(max);
        let mut last_batch = 1;
        while let Ok(first) = self.rx.recv() {
            batch.push(first);
            self.drain(&mut batch, max);
            if batch.len() < last_batch.min(max) {
                let deadline = Instant::now() + self.options.commit_wait;
                while batch.len() < last_batch.min(max) {
                    match self.rx.recv_deadline(deadline) {
                        Ok(req) => {
                            batch.push(req);
                            self.drain(&mut batch, max);
                        }
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                    }
                }
            }
            last_batch = batch.len();
            self.commit(&mut batch);
            self.maybe_snapshot();
        }
        if let Some(h) = self.snapshotter.take() {
            if h.join().is_err() {
                log::error!("embedded store: snapshot thread panicked");
            }
        }
    }

    /// Moves queued writes into `batch`, up to `max`, without waiting.
    fn drain(&self, batch: &mut Vec<WriteRequest>, max: usize) {
        while batch.len() < max {
            match self.rx.try_recv() {
                Ok(req) => batch.push(req),
                Err(_) => break,
            }
        }
    }

    /// Commits one batch and answers every request in it.
    fn commit(&mut self, batch: &mut Vec<WriteRequest>) {
        let result = self.commit_inner(batch);
        match result {
            Ok(outcomes) => {
                for (req, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = req.reply.send(Ok(outcome)); // the caller may have given up
                }
            }
            Err(e) => {
                for req in batch.drain(..) {
                    let _ = req.reply.send(Err(e.clone()));
                }
            }
        }
    }

    fn commit_inner(&mut self, batch: &[WriteRequest]) -> Result<Vec<WriteOutcome>, StorageError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let (records, outcomes) = decide(&*self.shared.read()?, batch);
        if records.is_empty() {
            return Ok(outcomes);
        }
        if let Err(failure) = self.segment.append_durable(&records, &mut self.buf) {
            if failure.log_intact {
                // The disk is full: this batch is not written, the log is as before, and the
                // next batch tries again (writes resume once there is room).
                log::warn!(
                    "embedded store: write refused, the disk is full: {}",
                    failure.error
                );
                return Err(StorageError::Internal(format!(
                    "{}; the write was not applied",
                    failure.error
                )));
            }
            return Err(self.fail(failure.error));
        }
        let shared = Arc::clone(&self.shared);
        let events = {
            let mut state = shared.write()?;
            let mut events = Vec::with_capacity(records.len());
            for rec in &records {
                match state.apply(rec) {
                    Ok(ev) => events.push(ev),
                    // decide() only produces records that apply; if one does not, the memory
                    // state no longer matches the log and nothing more may be written.
                    Err(e) => return Err(self.fail(e)),
                }
            }
            let max = self.options.max_history_events as Revision;
            if state.history_len() as Revision > max {
                let to = state.current() - max;
                state.compact(to)?;
            }
            events
        };
        shared.watchers.publish(&events);
        Ok(outcomes)
    }

    /// Records a log failure; the store accepts no more writes.
    fn fail(&mut self, cause: StorageError) -> StorageError {
        log::error!("embedded store: write-ahead log failed, refusing further writes: {cause}");
        let e = StorageError::Unavailable(format!(
            "write-ahead log failed ({cause}); reopen the store to recover"
        ));
        self.failed = Some(e.clone());
        e
    }

    /// Once the segment is big enough (and no snapshot is running): start a new segment and
    /// write a snapshot of the state at the end of the old one in the background; when it is
    /// durable, the old segments and snapshots are deleted.
    fn maybe_snapshot(&mut self) {
        if self.failed.is_some() || self.segment.len() < self.snapshot_due_at {
            return;
        }
        if let Some(h) = &self.snapshotter {
            if !h.is_finished() {
                return;
            }
            if let Some(h) = self.snapshotter.take() {
                if h.join().is_err() {
                    log::error!("embedded store: snapshot thread panicked");
                }
            }
        }
        let snapshot = match self.shared.read() {
            Ok(state) => state.snapshot(),
            Err(e) => {
                log::error!("embedded store: cannot snapshot: {e}");
                return;
            }
        };
        let first = snapshot.revision + 1;
        match Segment::create(&self.dir, first) {
            Ok(seg) => {
                self.segment = seg;
                self.snapshot_due_at = self.options.snapshot_log_bytes;
            }
            Err(e) => {
                log::warn!("embedded store: cannot start a new log segment: {e}");
                self.snapshot_due_at = self.segment.len() + self.options.snapshot_log_bytes;
                return;
            }
        }
        let dir = self.dir.clone();
        let spawned = std::thread::Builder::new()
            .name("kubeshard-snapshot".into())
            .spawn(move || match snapshot.write(&dir) {
                Ok(_) => remove_obsolete(&dir, snapshot.revision),
                Err(e) => log::warn!("embedded store: snapshot failed (log kept): {e}"),
            });
        match spawned {
            Ok(h) => self.snapshotter = Some(h),
            Err(e) => log::warn!("embedded store: cannot start snapshot thread: {e}"),
        }
    }
}

/// Decides a batch in order: which writes apply (as log records, with consecutive revisions
/// after the committed state's) and every request's outcome.
fn decide(state: &Mvcc, batch: &[WriteRequest]) -> (Vec<LogRecord>, Vec<WriteOutcome>) {
    let mut overlay: HashMap<&Bytes, Option<KeyValue>> = HashMap::new();
    let mut records = Vec::new();
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut last = state.current();
    for req in batch {
        let current = match overlay.get(&req.key) {
            Some(kv) => kv.clone(),
            None => state.latest(&req.key),
        };
        let holds = match req.precondition {
            Precondition::None => true,
            Precondition::Absent => current.is_none(),
            Precondition::Exists => current.is_some(),
            Precondition::ModRevision(r) => current.as_ref().is_some_and(|c| c.mod_revision == r),
        };
        let is_delete = matches!(req.op, WriteOp::Delete);
        if !holds || (is_delete && current.is_none()) {
            outcomes.push(WriteOutcome::PreconditionFailed {
                current,
                revision: last,
            });
            continue;
        }
        last += 1;
        let (op, next) = match &req.op {
            WriteOp::Put(value) => {
                let kv = KeyValue {
                    key: req.key.clone(),
                    value: value.clone(),
                    create_revision: current.as_ref().map_or(last, |c| c.create_revision),
                    mod_revision: last,
                };
                (LogOp::Put(value.clone()), Some(kv))
            }
            WriteOp::Delete => (LogOp::Delete, None),
        };
        records.push(LogRecord {
            revision: last,
            key: req.key.clone(),
            op,
        });
        overlay.insert(&req.key, next);
        outcomes.push(WriteOutcome::Applied {
            revision: last,
            previous: current,
        });
    }
    (records, outcomes)
}

/// After a durable snapshot at `revision`: deletes the log segments it covers and older
/// snapshots. Failures only cost disk space (recovery skips covered segments).
fn remove_obsolete(dir: &std::path::Path, revision: Revision) {
    let listing = match list_dir(dir) {
        Ok(l) => l,
        Err(e) => {
            log::warn!(
                "embedded store: cannot list {} after snapshot: {e}",
                dir.display()
            );
            return;
        }
    };
    for (first, path) in &listing.segments {
        if *first <= revision {
            remove_quietly(path);
        }
    }
    for (rev, path) in &listing.snapshots {
        if *rev < revision {
            remove_quietly(path);
        }
    }
    if let Err(e) = sync_dir(dir) {
        log::warn!("embedded store: {e}");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn req(key: &str, op: WriteOp, precondition: Precondition) -> WriteRequest {
        let (reply, _) = oneshot::channel();
        WriteRequest {
            key: Bytes::copy_from_slice(key.as_bytes()),
            op,
            precondition,
            reply,
        }
    }

    #[test]
    fn decide_sees_earlier_writes_of_the_same_batch() {
        let state = Mvcc::default();
        let v = || WriteOp::Put(Bytes::from_static(b"v"));
        let batch = vec![
            req("/a", v(), Precondition::Absent),
            req("/a", v(), Precondition::Absent),
            req("/a", v(), Precondition::ModRevision(1)),
            req("/b", WriteOp::Delete, Precondition::None),
            req("/a", WriteOp::Delete, Precondition::ModRevision(2)),
            req("/a", v(), Precondition::Exists),
            req("/a", v(), Precondition::None),
        ];
        let (records, outcomes) = decide(&state, &batch);
        assert_eq!(
            records.iter().map(|r| r.revision).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        let applied: Vec<Option<Revision>> = outcomes
            .iter()
            .map(|o| match o {
                WriteOutcome::Applied { revision, .. } => Some(*revision),
                WriteOutcome::PreconditionFailed { .. } => None,
            })
            .collect();
        assert_eq!(
            applied,
            vec![Some(1), None, Some(2), None, Some(3), None, Some(4)]
        );
        match &outcomes[1] {
            WriteOutcome::PreconditionFailed {
                current: Some(kv),
                revision,
            } => {
                assert_eq!((kv.mod_revision, *revision), (1, 1));
            }
            other => panic!("{other:?}"),
        }
        match &outcomes[6] {
            WriteOutcome::Applied {
                previous: None,
                revision: 4,
            } => {}
            other => panic!("{other:?}"),
        }
    }
}
