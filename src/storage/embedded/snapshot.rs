//! Snapshots: the live state at one revision, so that log segments before it can be deleted.
//!
//! ```text
//! snap-<revision, 20 digits>.snap =
//!     "KSSNAP01":8 | revision:i64 | count:u64 | entry* | crc32(everything before):u32
//! entry = key_len:u32 | key | value_len:u32 | value | create_revision:i64 | mod_revision:i64
//! ```
//!
//! Written as `snap-<revision>.tmp`, fsynced, renamed into place, and the directory fsynced, so
//! a snapshot file with the final name is always complete; the checksum catches later damage.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::storage::kv::{KeyValue, Revision, StorageError};

use super::files::sync_dir;
use super::wal::io_err;

const MAGIC: &[u8; 8] = b"KSSNAP01";

/// The file name of the snapshot at `revision`.
pub(crate) fn snapshot_name(revision: Revision) -> String {
    format!("snap-{revision:020}.snap")
}

/// The revision encoded in a snapshot file name, if `name` is one.
pub(crate) fn parse_snapshot_name(name: &str) -> Option<Revision> {
    name.strip_prefix("snap-")?
        .strip_suffix(".snap")?
        .parse()
        .ok()
}

/// The live keys at one revision, in key order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// The revision the state is at.
    pub(crate) revision: Revision,
    /// Every live key at `revision`, in key order.
    pub(crate) items: Vec<KeyValue>,
}

/// A writer that checksums everything it writes.
struct CrcWriter<W: Write> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Snapshot {
    /// Writes the snapshot durably into `dir` and returns its path.
    pub(crate) fn write(&self, dir: &Path) -> Result<PathBuf, StorageError> {
        let path = dir.join(snapshot_name(self.revision));
        let tmp = path.with_extension("tmp");
        let written = self.write_to(dir, &path, &tmp);
        if written.is_err() {
            // A half-written snapshot is useless (recovery deletes it): give its space back
            // now, which matters most when the disk is full.
            super::files::remove_quietly(&tmp);
        }
        written
    }

    fn write_to(&self, dir: &Path, path: &Path, tmp: &Path) -> Result<PathBuf, StorageError> {
        let (path, tmp) = (path.to_path_buf(), tmp.to_path_buf());
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| io_err("create snapshot", &tmp, e))?;
        let mut w = CrcWriter {
            inner: BufWriter::with_capacity(1 << 20, file),
            crc: Default::default(),
        };
        let e = |e| io_err("write snapshot", &tmp, e);
        w.write_all(MAGIC).map_err(e)?;
        w.write_all(&self.revision.to_le_bytes()).map_err(e)?;
        w.write_all(&(self.items.len() as u64).to_le_bytes())
            .map_err(e)?;
        for kv in &self.items {
            w.write_all(&(kv.key.len() as u32).to_le_bytes())
                .map_err(e)?;
            w.write_all(&kv.key).map_err(e)?;
            w.write_all(&(kv.value.len() as u32).to_le_bytes())
                .map_err(e)?;
            w.write_all(&kv.value).map_err(e)?;
            w.write_all(&kv.create_revision.to_le_bytes()).map_err(e)?;
            w.write_all(&kv.mod_revision.to_le_bytes()).map_err(e)?;
        }
        let crc = w.crc.clone().finalize();
        w.write_all(&crc.to_le_bytes()).map_err(e)?;
        let file = w.inner.into_inner().map_err(|err| e(err.into_error()))?;
        file.sync_all()
            .map_err(|err| io_err("sync snapshot", &tmp, err))?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(|err| io_err("rename snapshot", &tmp, err))?;
        sync_dir(dir)?;
        Ok(path)
    }

    /// Reads and verifies a snapshot file.
    pub(crate) fn read(path: &Path) -> Result<Snapshot, StorageError> {
        let data = std::fs::read(path).map_err(|e| io_err("read snapshot", path, e))?;
        let corrupt =
            |what: &str| StorageError::Corrupt(format!("snapshot {}: {what}", path.display()));
        if data.len() < MAGIC.len() + 20 || &data[..8] != MAGIC {
            return Err(corrupt("bad header"));
        }
        let (body, tail) = data.split_at(data.len() - 4);
        let mut crc = [0; 4];
        crc.copy_from_slice(tail);
        if crc32fast::hash(body) != u32::from_le_bytes(crc) {
            return Err(corrupt("checksum mismatch"));
        }
        let mut r = Cursor { buf: &body[8..] };
        let truncated = || corrupt("truncated");
        let revision = r.i64().ok_or_else(truncated)?;
        let count = r.u64().ok_or_else(truncated)?;
        let mut items = Vec::with_capacity(count.min(1 << 20) as usize);
        for _ in 0..count {
            let key = r.bytes().ok_or_else(truncated)?;
            let value = r.bytes().ok_or_else(truncated)?;
            let create_revision = r.i64().ok_or_else(truncated)?;
            let mod_revision = r.i64().ok_or_else(truncated)?;
            items.push(KeyValue {
                key,
                value,
                create_revision,
                mod_revision,
            });
        }
        if !r.buf.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Snapshot { revision, items })
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }
    fn u64(&mut self) -> Option<u64> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Some(u64::from_le_bytes(b))
    }
    fn i64(&mut self) -> Option<i64> {
        self.u64().map(|v| v as i64)
    }
    fn bytes(&mut self) -> Option<Bytes> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        let n = u32::from_le_bytes(b) as usize;
        Some(Bytes::copy_from_slice(self.take(n)?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn kv(k: &str, v: &str, c: Revision, m: Revision) -> KeyValue {
        KeyValue {
            key: Bytes::copy_from_slice(k.as_bytes()),
            value: Bytes::copy_from_slice(v.as_bytes()),
            create_revision: c,
            mod_revision: m,
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let snap = Snapshot {
            revision: 17,
            items: vec![
                kv("/a", "1", 1, 5),
                kv("/b", "", 2, 2),
                kv("/c", &"z".repeat(5000), 9, 17),
            ],
        };
        let path = snap.write(dir.path()).unwrap();
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            snapshot_name(17)
        );
        assert_eq!(parse_snapshot_name(&snapshot_name(17)), Some(17));
        assert_eq!(Snapshot::read(&path).unwrap(), snap);
        assert!(!dir.path().join("snap-00000000000000000017.tmp").exists());
        let empty = Snapshot {
            revision: 0,
            items: vec![],
        };
        assert_eq!(
            Snapshot::read(&empty.write(dir.path()).unwrap()).unwrap(),
            empty
        );
    }

    #[test]
    fn damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let snap = Snapshot {
            revision: 3,
            items: vec![kv("/a", "1", 1, 3)],
        };
        let path = snap.write(dir.path()).unwrap();
        let good = std::fs::read(&path).unwrap();
        for i in 0..good.len() {
            let mut d = good.clone();
            d[i] ^= 4;
            std::fs::write(&path, &d).unwrap();
            assert!(
                matches!(Snapshot::read(&path), Err(StorageError::Corrupt(_))),
                "byte {i}"
            );
        }
        std::fs::write(&path, &good[..good.len() - 1]).unwrap();
        assert!(matches!(
            Snapshot::read(&path),
            Err(StorageError::Corrupt(_))
        ));
    }
}
