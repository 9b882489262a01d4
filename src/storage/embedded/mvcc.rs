//! The in-memory MVCC index: every key's versions still readable, plus the event history that
//! watches replay. Pure data structure: no I/O, no locking (the store wraps it in a lock; only
//! the writer thread mutates it).
//!
//! Invariants:
//! - `history[i]` is the event of revision `compacted + 1 + i`, so
//!   `history.len() == current - compacted` (one event per revision, no gaps).
//! - For every key, `versions` is sorted by `mod_revision`, non-empty, and at most its first
//!   version has `mod_revision <= compacted` (that one is live: it is the key's state at the
//!   compaction point). Reads at any revision in `compacted..=current` are therefore exact.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ops::Bound;

use bytes::Bytes;

use crate::storage::kv::{
    EventKind, KeyValue, ListRequest, ListResponse, Revision, StorageError, WatchEvent,
};

use super::snapshot::Snapshot;
use super::wal::{LogOp, LogRecord};

/// One version of a key: its state from `mod_revision` until the next version.
#[derive(Clone, Debug)]
struct Version {
    mod_revision: Revision,
    create_revision: Revision,
    /// `None` for a deletion (tombstone).
    value: Option<Bytes>,
}

impl Version {
    fn to_kv(&self, key: &Bytes) -> Option<KeyValue> {
        Some(KeyValue {
            key: key.clone(),
            value: self.value.clone()?,
            create_revision: self.create_revision,
            mod_revision: self.mod_revision,
        })
    }
}

/// The state of a key at `revision`, from its versions.
fn at(versions: &[Version], key: &Bytes, revision: Revision) -> Option<KeyValue> {
    let i = versions.partition_point(|v| v.mod_revision <= revision);
    versions.get(i.checked_sub(1)?)?.to_kv(key)
}

/// Versions of every key plus the event history; see the module doc for invariants.
#[derive(Debug, Default)]
pub(crate) struct Mvcc {
    keys: BTreeMap<Bytes, Vec<Version>>,
    history: VecDeque<WatchEvent>,
    compacted: Revision,
    current: Revision,
}

impl Mvcc {
    /// The state of a snapshot, with no history: its revision is the compaction point.
    pub(crate) fn from_snapshot(snap: Snapshot) -> Mvcc {
        let keys = snap
            .items
            .into_iter()
            .map(|kv| {
                let v = Version {
                    mod_revision: kv.mod_revision,
                    create_revision: kv.create_revision,
                    value: Some(kv.value),
                };
                (kv.key, vec![v])
            })
            .collect();
        Mvcc {
            keys,
            history: VecDeque::new(),
            compacted: snap.revision,
            current: snap.revision,
        }
    }

    /// The revision of the last applied write (0 for an empty store).
    pub(crate) fn current(&self) -> Revision {
        self.current
    }

    /// The compaction point: reads below it and watches from before it are `Compacted`.
    pub(crate) fn compacted(&self) -> Revision {
        self.compacted
    }

    /// Events held for watches (`current - compacted`).
    pub(crate) fn history_len(&self) -> usize {
        self.history.len()
    }

    /// The revision a read at `revision` (0 = latest) is served at, or why it cannot be.
    fn read_revision(&self, revision: Revision) -> Result<Revision, StorageError> {
        match revision {
            0 => Ok(self.current),
            r if r > self.current => Err(StorageError::FutureRevision {
                requested: r,
                current: self.current,
            }),
            r if r < self.compacted => Err(StorageError::Compacted {
                requested: r,
                compacted: self.compacted,
            }),
            r => Ok(r),
        }
    }

    /// The key's latest state, if it exists.
    pub(crate) fn latest(&self, key: &[u8]) -> Option<KeyValue> {
        let (k, versions) = self.keys.get_key_value(key)?;
        versions.last()?.to_kv(k)
    }

    /// One key at `revision` (0 = latest), and the revision read at.
    pub(crate) fn get(
        &self,
        key: &[u8],
        revision: Revision,
    ) -> Result<(Option<KeyValue>, Revision), StorageError> {
        let rev = self.read_revision(revision)?;
        let kv = self
            .keys
            .get_key_value(key)
            .and_then(|(k, vs)| at(vs, k, rev));
        Ok((kv, rev))
    }

    /// The keys under `prefix` from where a list starts, in key order.
    fn range<'a>(
        &'a self,
        prefix: &'a [u8],
        start_after: Option<&[u8]>,
    ) -> impl Iterator<Item = (&'a Bytes, &'a Vec<Version>)> + 'a {
        let lower = match start_after {
            Some(s) if s >= prefix => Bound::Excluded(s),
            _ => Bound::Included(prefix),
        };
        self.keys
            .range::<[u8], _>((lower, Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// A range read; see [`ListRequest`].
    pub(crate) fn list(&self, req: &ListRequest) -> Result<ListResponse, StorageError> {
        let rev = self.read_revision(req.revision)?;
        let mut live = self
            .range(&req.prefix, req.start_after.as_deref())
            .filter_map(|(k, vs)| at(vs, k, rev));
        let mut items = Vec::new();
        let mut more = false;
        for kv in live.by_ref() {
            if req.limit != 0 && items.len() == req.limit {
                more = true;
                break;
            }
            items.push(kv);
        }
        Ok(ListResponse {
            items,
            more,
            revision: rev,
        })
    }

    /// Live keys under `prefix` now.
    pub(crate) fn count(&self, prefix: &[u8]) -> u64 {
        self.range(prefix, None)
            .filter(|(_, vs)| vs.last().is_some_and(|v| v.value.is_some()))
            .count() as u64
    }

    /// Applies one logged write, which must be the next revision, and returns its event.
    /// A record that does not fit the state (a gap, a delete of an absent key) is `Corrupt`:
    /// the writer never produces one, so it can only come from a damaged log.
    pub(crate) fn apply(&mut self, rec: &LogRecord) -> Result<WatchEvent, StorageError> {
        if rec.revision != self.current + 1 {
            return Err(StorageError::Corrupt(format!(
                "log record at revision {} follows revision {}",
                rec.revision, self.current
            )));
        }
        let prev = self.latest(&rec.key);
        let (kind, version, kv) = match &rec.op {
            LogOp::Put(value) => {
                let create_revision = prev.as_ref().map_or(rec.revision, |p| p.create_revision);
                let v = Version {
                    mod_revision: rec.revision,
                    create_revision,
                    value: Some(value.clone()),
                };
                let kv = KeyValue {
                    key: rec.key.clone(),
                    value: value.clone(),
                    create_revision,
                    mod_revision: rec.revision,
                };
                (EventKind::Put, v, kv)
            }
            LogOp::Delete => {
                if prev.is_none() {
                    return Err(StorageError::Corrupt(format!(
                        "log deletes absent key at revision {}",
                        rec.revision
                    )));
                }
                let v = Version {
                    mod_revision: rec.revision,
                    create_revision: 0,
                    value: None,
                };
                let kv = KeyValue {
                    key: rec.key.clone(),
                    value: Bytes::new(),
                    create_revision: 0,
                    mod_revision: rec.revision,
                };
                (EventKind::Delete, v, kv)
            }
        };
        self.keys.entry(rec.key.clone()).or_default().push(version);
        self.current = rec.revision;
        let event = WatchEvent {
            kind,
            kv,
            prev_kv: prev,
        };
        self.history.push_back(event.clone());
        Ok(event)
    }

    /// Drops history and old versions at or below `revision`. Compacting at or below the
    /// current compaction point does nothing. Cost: proportional to the events dropped.
    pub(crate) fn compact(&mut self, revision: Revision) -> Result<(), StorageError> {
        if revision > self.current {
            return Err(StorageError::FutureRevision {
                requested: revision,
                current: self.current,
            });
        }
        if revision <= self.compacted {
            return Ok(());
        }
        let n = (revision - self.compacted) as usize;
        let touched: HashSet<Bytes> = self.history.drain(..n).map(|e| e.kv.key).collect();
        self.compacted = revision;
        for key in touched {
            let Some(versions) = self.keys.get_mut(&key) else {
                continue;
            };
            let keep_from = versions.partition_point(|v| v.mod_revision <= revision);
            // The last version at or below the compaction point stays if it is live: it is
            // the key's state at `revision`, which reads there still need.
            let mut cut = keep_from.saturating_sub(1);
            if versions
                .get(cut)
                .is_some_and(|v| v.mod_revision <= revision && v.value.is_none())
            {
                cut += 1;
            }
            versions.drain(..cut);
            if versions.is_empty() {
                self.keys.remove(&key);
            }
        }
        Ok(())
    }

    /// Events under `prefix` with revisions after `after`, oldest first; `after` must be at or
    /// above the compaction point (a future `after` simply has no events yet).
    pub(crate) fn events_after(
        &self,
        prefix: &[u8],
        after: Revision,
    ) -> Result<Vec<WatchEvent>, StorageError> {
        if after < self.compacted {
            return Err(StorageError::Compacted {
                requested: after,
                compacted: self.compacted,
            });
        }
        let skip = usize::try_from(after - self.compacted).unwrap_or(usize::MAX);
        Ok(self
            .history
            .iter()
            .skip(skip)
            .filter(|e| e.kv.key.starts_with(prefix))
            .cloned()
            .collect())
    }

    /// The live state now, for a snapshot.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let items = self
            .keys
            .iter()
            .filter_map(|(k, vs)| vs.last()?.to_kv(k))
            .collect();
        Snapshot {
            revision: self.current,
            items,
        }
    }

    /// Keys with versions held (live or not); for tests of compaction.
    #[cfg(test)]
    fn versions_held(&self) -> usize {
        self.keys.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn put(m: &mut Mvcc, k: &str, v: &str) -> WatchEvent {
        let rec = LogRecord {
            revision: m.current() + 1,
            key: b(k),
            op: LogOp::Put(b(v)),
        };
        m.apply(&rec).unwrap()
    }

    fn del(m: &mut Mvcc, k: &str) -> WatchEvent {
        let rec = LogRecord {
            revision: m.current() + 1,
            key: b(k),
            op: LogOp::Delete,
        };
        m.apply(&rec).unwrap()
    }

    fn value_at(m: &Mvcc, k: &str, rev: Revision) -> Option<String> {
        let (kv, _) = m.get(k.as_bytes(), rev).unwrap();
        kv.map(|kv| String::from_utf8(kv.value.to_vec()).unwrap())
    }

    #[test]
    fn versions_events_and_reads_at_revisions() {
        let mut m = Mvcc::default();
        let e1 = put(&mut m, "/a", "1");
        assert_eq!((e1.kind, e1.prev_kv.clone()), (EventKind::Put, None));
        let e2 = put(&mut m, "/a", "2");
        assert_eq!(e2.prev_kv.as_ref().unwrap().value, b("1"));
        assert_eq!((e2.kv.create_revision, e2.kv.mod_revision), (1, 2));
        let e3 = del(&mut m, "/a");
        assert_eq!((e3.kind, e3.kv.mod_revision), (EventKind::Delete, 3));
        assert_eq!(e3.prev_kv.unwrap().value, b("2"));
        put(&mut m, "/a", "4");
        assert_eq!(m.latest(b"/a").unwrap().create_revision, 4);
        assert_eq!(value_at(&m, "/a", 1).as_deref(), Some("1"));
        assert_eq!(value_at(&m, "/a", 2).as_deref(), Some("2"));
        assert_eq!(value_at(&m, "/a", 3), None);
        assert_eq!(value_at(&m, "/a", 0).as_deref(), Some("4"));
        assert!(matches!(
            m.get(b"/a", 5),
            Err(StorageError::FutureRevision { .. })
        ));
        assert_eq!(m.history_len(), 4);
        let bad = LogRecord {
            revision: 9,
            key: b("/a"),
            op: LogOp::Delete,
        };
        assert!(matches!(m.apply(&bad), Err(StorageError::Corrupt(_))));
        let bad = LogRecord {
            revision: 5,
            key: b("/zz"),
            op: LogOp::Delete,
        };
        assert!(matches!(m.apply(&bad), Err(StorageError::Corrupt(_))));
    }

    #[test]
    fn list_paging_and_prefix() {
        let mut m = Mvcc::default();
        for k in ["/p/a", "/p/b", "/p/c", "/p/d", "/pz", "/o"] {
            put(&mut m, k, "v");
        }
        del(&mut m, "/p/b");
        let req = |start: Option<&str>, limit| ListRequest {
            prefix: b("/p/"),
            start_after: start.map(b),
            limit,
            revision: 0,
        };
        let r = m.list(&req(None, 2)).unwrap();
        let keys: Vec<_> = r.items.iter().map(|kv| kv.key.clone()).collect();
        assert_eq!(keys, vec![b("/p/a"), b("/p/c")]);
        assert!(r.more);
        let r = m.list(&req(Some("/p/c"), 1)).unwrap();
        assert_eq!((r.items.len(), r.more), (1, false));
        let r = m.list(&req(Some("/a"), 0)).unwrap();
        assert_eq!(r.items.len(), 3);
        assert_eq!(m.count(b"/p/"), 3);
        assert_eq!(m.count(b"/p"), 4);
        assert_eq!(m.count(b""), 5);
        let old = m
            .list(&ListRequest {
                revision: 6,
                ..req(None, 0)
            })
            .unwrap();
        assert_eq!((old.items.len(), old.revision), (4, 6));
    }

    #[test]
    fn compaction_keeps_state_at_the_point_and_drops_the_rest() {
        let mut m = Mvcc::default();
        put(&mut m, "/a", "1"); // 1
        put(&mut m, "/a", "2"); // 2
        put(&mut m, "/b", "1"); // 3
        del(&mut m, "/b"); // 4
        put(&mut m, "/a", "3"); // 5
        put(&mut m, "/c", "1"); // 6
        m.compact(4).unwrap();
        assert_eq!(m.compacted(), 4);
        assert_eq!(m.history_len(), 2);
        assert!(matches!(
            m.get(b"/a", 3),
            Err(StorageError::Compacted { compacted: 4, .. })
        ));
        assert_eq!(value_at(&m, "/a", 4).as_deref(), Some("2"));
        assert_eq!(value_at(&m, "/b", 4), None);
        assert_eq!(value_at(&m, "/a", 5).as_deref(), Some("3"));
        // /a: versions 2 and 5; /b: gone; /c: 6.
        assert_eq!(m.versions_held(), 3);
        assert!(matches!(
            m.events_after(b"", 3),
            Err(StorageError::Compacted { .. })
        ));
        let ev = m.events_after(b"", 4).unwrap();
        assert_eq!(
            ev.iter().map(|e| e.kv.mod_revision).collect::<Vec<_>>(),
            vec![5, 6]
        );
        assert_eq!(m.events_after(b"/c", 5).unwrap().len(), 1);
        assert!(m.events_after(b"", 100).unwrap().is_empty());
        m.compact(2).unwrap(); // no-op
        assert!(matches!(
            m.compact(7),
            Err(StorageError::FutureRevision { .. })
        ));
        m.compact(6).unwrap();
        assert_eq!((m.history_len(), m.versions_held()), (0, 2));
    }

    #[test]
    fn snapshot_round_trip_into_mvcc() {
        let mut m = Mvcc::default();
        put(&mut m, "/a", "1");
        put(&mut m, "/b", "1");
        put(&mut m, "/a", "2");
        del(&mut m, "/b");
        let snap = m.snapshot();
        assert_eq!(snap.revision, 4);
        assert_eq!(snap.items.len(), 1);
        let m2 = Mvcc::from_snapshot(snap);
        assert_eq!((m2.current(), m2.compacted()), (4, 4));
        assert_eq!(m2.latest(b"/a"), m.latest(b"/a"));
        assert!(matches!(
            m2.get(b"/a", 3),
            Err(StorageError::Compacted { .. })
        ));
    }
}
