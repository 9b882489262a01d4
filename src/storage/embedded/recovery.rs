//! Opening a store directory: the newest snapshot, then every log record after it.

use std::path::Path;

use crate::storage::kv::{Revision, StorageError};

use super::files::{list_dir, remove_quietly, sync_dir};
use super::mvcc::Mvcc;
use super::options::EmbeddedOptions;
use super::snapshot::Snapshot;
use super::wal::{io_err, scan, Segment};

/// The state rebuilt from disk and the segment to append to next.
pub(crate) struct Recovered {
    pub(crate) state: Mvcc,
    pub(crate) segment: Segment,
}

/// Rebuilds the state in `dir` (which the caller has locked).
///
/// - Leftover snapshot temp files, snapshots older than the newest and segments the newest
///   snapshot covers are deleted (a crash between a snapshot and its cleanup leaves them).
/// - The newest snapshot must verify (it was renamed into place only once complete), else
///   `Corrupt`.
/// - The remaining segments must continue the snapshot without a gap; only the newest may end
///   in a torn tail, which is cut off. Anything else is `Corrupt`.
pub(crate) fn recover(dir: &Path, options: &EmbeddedOptions) -> Result<Recovered, StorageError> {
    let listing = list_dir(dir)?;
    for tmp in &listing.temp_files {
        remove_quietly(tmp);
    }
    let mut state = match listing.snapshots.last() {
        Some((_, path)) => Mvcc::from_snapshot(Snapshot::read(path)?),
        None => Mvcc::default(),
    };
    let base: Revision = state.current();
    for (rev, path) in &listing.snapshots {
        if *rev < base {
            remove_quietly(path);
        }
    }
    // Segment i is covered when the next one starts at or before base + 1.
    let segs = &listing.segments;
    let first_needed = (0..segs.len())
        .find(|&i| segs.get(i + 1).is_none_or(|(next, _)| *next > base + 1))
        .unwrap_or(segs.len());
    for (_, path) in &segs[..first_needed] {
        remove_quietly(path);
    }
    let segs = &segs[first_needed..];
    if let Some((first, _)) = segs.first() {
        if *first > base + 1 {
            return Err(StorageError::Corrupt(format!(
                "log segments start at revision {first} but the snapshot ends at {base}"
            )));
        }
    }
    let mut last_scan = None;
    for (i, (first, path)) in segs.iter().enumerate() {
        let is_last = i + 1 == segs.len();
        if i > 0 && *first != state.current() + 1 {
            return Err(StorageError::Corrupt(format!(
                "log segment {} starts at revision {first}, expected {}",
                path.display(),
                state.current() + 1
            )));
        }
        let data = std::fs::read(path).map_err(|e| io_err("read log segment", path, e))?;
        let s = scan(&data).map_err(|e| match e {
            StorageError::Corrupt(m) => {
                StorageError::Corrupt(format!("log segment {}: {m}", path.display()))
            }
            other => other,
        })?;
        if s.torn_bytes > 0 {
            if !is_last {
                return Err(StorageError::Corrupt(format!(
                    "log segment {} is damaged at offset {} and is not the newest",
                    path.display(),
                    s.valid_len
                )));
            }
            log::warn!(
                "embedded store: cutting a torn tail of {} bytes off {}",
                s.torn_bytes,
                path.display()
            );
        }
        for rec in s.records.iter().filter(|r| r.revision > base) {
            state.apply(rec)?;
        }
        if is_last {
            last_scan = Some((path.clone(), s));
        }
    }
    let segment = match last_scan {
        Some((path, s)) => Segment::reopen(&path, &s)?,
        None => Segment::create(dir, state.current() + 1)?,
    };
    sync_dir(dir)?;
    let max = options.max_history_events as Revision;
    if state.history_len() as Revision > max {
        state.compact(state.current() - max)?;
    }
    Ok(Recovered { state, segment })
}
