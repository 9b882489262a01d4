//! The embedded durable MVCC store (the default backend, `--data-dir`).
//!
//! All keys live in memory (an MVCC index with history for watches); durability comes from a
//! write-ahead log with group commit plus periodic snapshots. See `DESIGN.md` in this folder
//! for the on-disk format, the commit protocol, recovery and compaction.
//!
//! - `options`: [`EmbeddedOptions`], every knob with its default.
//! - `lock`: one store per directory (`flock` on `LOCK`).
//! - `wal`: log record format, segment append, segment scan (torn tail vs corruption).
//! - `snapshot`: snapshot file format.
//! - `files`: the directory's files.
//! - `mvcc`: the in-memory index and history.
//! - `writer`: the group-commit writer thread.
//! - `watch`: watcher registry and bounded watch streams.
//! - `recovery`: rebuilding the state on open.

mod files;
mod lock;
mod mvcc;
mod options;
mod recovery;
mod snapshot;
mod wal;
mod watch;
mod writer;

#[cfg(test)]
mod tests;

pub use options::EmbeddedOptions;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;

use bytes::Bytes;
use crossbeam::channel::Sender;
use tokio::sync::{oneshot, Semaphore};

use crate::storage::kv::{
    KeyValue, KvStore, ListRequest, ListResponse, Precondition, Revision, StorageError,
    WatchStream, WriteOutcome,
};

use lock::DirLock;
use mvcc::Mvcc;
use watch::Watchers;
use writer::{WriteOp, WriteRequest, Writer};

/// What the store's handle, the writer thread and readers share.
pub(crate) struct Shared {
    state: RwLock<Mvcc>,
    watchers: Watchers,
}

impl Shared {
    fn read(&self) -> Result<RwLockReadGuard<'_, Mvcc>, StorageError> {
        self.state.read().map_err(|_| poisoned())
    }
    fn write(&self) -> Result<RwLockWriteGuard<'_, Mvcc>, StorageError> {
        self.state.write().map_err(|_| poisoned())
    }
}

fn poisoned() -> StorageError {
    StorageError::Internal("embedded store state lock poisoned by a panic".into())
}

/// The embedded store: an MVCC key-value store in one directory, durable through a
/// group-committed write-ahead log. Implements [`KvStore`]. Dropping it stops the writer
/// thread (after the queued writes), ends every watch stream and releases the directory lock.
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    tx: Option<Sender<WriteRequest>>,
    /// One permit per write queued or committing: bounds the queue without blocking a thread.
    queue: Semaphore,
    writer: Option<JoinHandle<()>>,
    options: EmbeddedOptions,
    dir: PathBuf,
    // Declared last: released only after the writer thread is gone.
    lock: DirLock,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir`: takes the directory lock, recovers the
    /// state from the newest snapshot and the log after it, and starts the writer thread.
    /// Fails with `Unavailable` naming the lock file if another process or store has `dir`
    /// open, and with `Corrupt` if the files are damaged beyond a torn log tail.
    pub fn open(dir: &Path, options: EmbeddedOptions) -> Result<EmbeddedStore, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| wal::io_err("create store directory", dir, e))?;
        let lock = DirLock::acquire(dir)?;
        let recovered = recovery::recover(dir, &options)?;
        log::info!(
            "embedded store: opened {} at revision {} (lock {})",
            dir.display(),
            recovered.state.current(),
            lock.path().display()
        );
        let shared = Arc::new(Shared {
            state: RwLock::new(recovered.state),
            watchers: Watchers::default(),
        });
        let (tx, rx) = crossbeam::channel::unbounded();
        let writer = Writer::new(
            shared.clone(),
            rx,
            recovered.segment,
            dir.to_owned(),
            options.clone(),
        );
        let handle = std::thread::Builder::new()
            .name("kubeshard-wal-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StorageError::Internal(format!("cannot start the writer thread: {e}")))?;
        Ok(EmbeddedStore {
            shared,
            tx: Some(tx),
            queue: Semaphore::new(options.write_queue.max(1)),
            writer: Some(handle),
            options,
            dir: dir.to_owned(),
            lock,
        })
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &EmbeddedOptions {
        &self.options
    }

    /// The compaction point: reads below it and watches from before it are `Compacted`.
    pub fn compacted_revision(&self) -> Result<Revision, StorageError> {
        Ok(self.shared.read()?.compacted())
    }

    async fn submit(
        &self,
        key: Bytes,
        op: WriteOp,
        precondition: Precondition,
    ) -> Result<WriteOutcome, StorageError> {
        let gone = || StorageError::Unavailable("embedded store writer has stopped".into());
        let tx = self.tx.as_ref().ok_or_else(gone)?;
        let _permit = self.queue.acquire().await.map_err(|_| gone())?;
        let (reply, answer) = oneshot::channel();
        tx.send(WriteRequest {
            key,
            op,
            precondition,
            reply,
        })
        .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.tx = None; // the writer finishes the queued writes, then sees the channel closed
        if let Some(h) = self.writer.take() {
            if h.join().is_err() {
                log::error!("embedded store: writer thread panicked");
            }
        }
        self.shared.watchers.close_all();
        log::debug!(
            "embedded store: closed {}; releasing {}",
            self.dir.display(),
            self.lock.path().display()
        );
    }
}

impl KvStore for EmbeddedStore {
    async fn get(
        &self,
        key: Bytes,
        revision: Revision,
    ) -> Result<(Option<KeyValue>, Revision), StorageError> {
        self.shared.read()?.get(&key, revision)
    }

    async fn list(&self, req: ListRequest) -> Result<ListResponse, StorageError> {
        self.shared.read()?.list(&req)
    }

    async fn count(&self, prefix: Bytes) -> Result<u64, StorageError> {
        Ok(self.shared.read()?.count(&prefix))
    }

    async fn put(
        &self,
        key: Bytes,
        value: Bytes,
        precondition: Precondition,
    ) -> Result<WriteOutcome, StorageError> {
        self.submit(key, WriteOp::Put(value), precondition).await
    }

    async fn delete(
        &self,
        key: Bytes,
        precondition: Precondition,
    ) -> Result<WriteOutcome, StorageError> {
        self.submit(key, WriteOp::Delete, precondition).await
    }

    async fn watch(&self, prefix: Bytes, after: Revision) -> Result<WatchStream, StorageError> {
        let state = self.shared.read()?;
        let backlog = state.events_after(&prefix, after)?;
        // Registered under the read lock: every event up to `current` is in the backlog, and
        // every later one is published only after this registration.
        let from = state.current().max(after) + 1;
        let stream =
            self.shared
                .watchers
                .register(prefix, from, backlog, self.options.watch_buffer);
        drop(state);
        Ok(Box::pin(stream))
    }

    async fn current_revision(&self) -> Result<Revision, StorageError> {
        Ok(self.shared.read()?.current())
    }

    async fn compact(&self, revision: Revision) -> Result<(), StorageError> {
        self.shared.write()?.compact(revision)
    }

    /// The files of its directory (WAL segments and snapshots), summed.
    async fn db_size(&self) -> Result<Option<crate::storage::kv::DbSize>, StorageError> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| StorageError::Internal(format!("{}: {e}", self.dir.display())))?;
        let bytes = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.metadata().ok())
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len())
            .sum();
        Ok(Some(crate::storage::kv::DbSize {
            cluster_id: "embedded".into(),
            bytes,
        }))
    }
}
