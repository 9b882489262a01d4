//! The files of a store directory: listing segments and snapshots, syncing the directory.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::storage::kv::{Revision, StorageError};

use super::snapshot::parse_snapshot_name;
use super::wal::{io_err, parse_segment_name};

/// What a store directory holds, each list sorted by revision.
#[derive(Debug, Default)]
pub(crate) struct DirListing {
    /// `(first revision, path)` of each log segment.
    pub(crate) segments: Vec<(Revision, PathBuf)>,
    /// `(revision, path)` of each complete snapshot.
    pub(crate) snapshots: Vec<(Revision, PathBuf)>,
    /// Snapshot temp files a crash left behind.
    pub(crate) temp_files: Vec<PathBuf>,
}

/// Lists `dir`, ignoring files that are not the store's.
pub(crate) fn list_dir(dir: &Path) -> Result<DirListing, StorageError> {
    let mut out = DirListing::default();
    let entries = std::fs::read_dir(dir).map_err(|e| io_err("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err("list", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(rev) = parse_segment_name(name) {
            out.segments.push((rev, entry.path()));
        } else if let Some(rev) = parse_snapshot_name(name) {
            out.snapshots.push((rev, entry.path()));
        } else if name.ends_with(".tmp") {
            out.temp_files.push(entry.path());
        }
    }
    out.segments.sort();
    out.snapshots.sort();
    Ok(out)
}

/// Makes creations, renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("sync directory", dir, e))
}

/// Removes a file the store no longer needs; a failure only costs disk space, so it is logged.
pub(crate) fn remove_quietly(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        log::warn!("embedded store: cannot remove {}: {e}", path.display());
    }
}
