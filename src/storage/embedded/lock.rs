//! The `LOCK` file: one process (and one [`EmbeddedStore`](super::EmbeddedStore)) per
//! directory, enforced with `flock(LOCK_EX | LOCK_NB)`.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

use crate::storage::kv::StorageError;

/// The name of the lock file inside the store directory.
pub(crate) const LOCK_FILE: &str = "LOCK";

/// An exclusive lock on a store directory, held until dropped (closing the file releases it;
/// the kernel also releases it when the process dies, so a crash never leaves a stale lock).
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock on `dir/LOCK`, failing at once if anyone (another process, or another
    /// open store in this process: flock locks belong to the open file) holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, StorageError> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                StorageError::Internal(format!("cannot open lock file {}: {e}", path.display()))
            })?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(DirLock { _file: file, path }),
            Err(rustix::io::Errno::WOULDBLOCK) => Err(StorageError::Unavailable(format!(
                "store directory is in use: lock file {} is held by another process or store",
                path.display()
            ))),
            Err(e) => Err(StorageError::Internal(format!(
                "cannot lock {}: {e}",
                path.display()
            ))),
        }
    }

    /// The lock file's path (for messages).
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn second_lock_in_same_process_fails_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("LOCK"), "{msg}");
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }
}
