//! The write-ahead log: record format, appending to a segment, and scanning a segment back.
//!
//! A segment file `wal-<first revision, 20 digits>.log` is a header then a sequence of frames,
//! one frame per group commit (all integers little endian):
//!
//! ```text
//! segment = "KSWALSEG":8 | nonce:u64 | frame*
//! frame   = magic:u32 | len:u32 | crc:u32 | payload[len]
//! crc     = crc32(nonce ++ len ++ payload)
//! payload = record*
//! record  = kind:u8 (1 put, 2 delete) | revision:i64 | key_len:u32 | key | [value_len:u32 | value]
//! ```
//!
//! A frame is appended with one `write` and made durable with one `fdatasync` before any write
//! in it is acknowledged, and the next frame is written only after that, so only the last
//! frame of the newest segment can be torn by a crash. The nonce is random per segment and
//! never visible to clients, so bytes inside a stored value can never pass for a frame; that
//! lets [`scan`] tell a torn tail (truncate it) from damage in the middle (`Corrupt`).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::storage::kv::{Revision, StorageError};

/// Starts every segment file.
const SEGMENT_MAGIC: &[u8; 8] = b"KSWALSEG";
/// Bytes of the segment header (magic and nonce).
pub(crate) const SEGMENT_HEADER: usize = 16;
/// Marks the start of a frame ("KSWL").
const FRAME_MAGIC: u32 = 0x4b53_574c;
/// Bytes before a frame's payload.
pub(crate) const FRAME_HEADER: usize = 12;
/// A frame longer than this is treated as a damaged header, never allocated.
const MAX_FRAME: usize = 1 << 30;
const KIND_PUT: u8 = 1;
const KIND_DELETE: u8 = 2;

/// What one logged write does to its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LogOp {
    /// Set the key to this value (creating it if absent).
    Put(Bytes),
    /// Remove the key.
    Delete,
}

/// One applied write: the unit of the log and of revisions (one record per revision).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogRecord {
    /// The revision this write created.
    pub(crate) revision: Revision,
    /// The key written.
    pub(crate) key: Bytes,
    /// Put or delete.
    pub(crate) op: LogOp,
}

/// Appends one frame holding `records` to `out`, checksummed for the segment with `nonce`.
pub(crate) fn encode_frame(nonce: u64, records: &[LogRecord], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&FRAME_MAGIC.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // len and crc, filled below
    for r in records {
        match &r.op {
            LogOp::Put(_) => out.push(KIND_PUT),
            LogOp::Delete => out.push(KIND_DELETE),
        }
        out.extend_from_slice(&r.revision.to_le_bytes());
        put_bytes(out, &r.key);
        if let LogOp::Put(value) = &r.op {
            put_bytes(out, value);
        }
    }
    let payload_len = out.len() - start - FRAME_HEADER;
    // Lengths are u32 on disk; a batch is capped far below 4 GiB by max_batch_writes and the
    // API server's object size limit, and decoding rejects anything above MAX_FRAME anyway.
    let len = (payload_len as u32).to_le_bytes();
    out[start + 4..start + 8].copy_from_slice(&len);
    let mut h = crc32fast::Hasher::new();
    h.update(&nonce.to_le_bytes());
    h.update(&len);
    h.update(&out[start + FRAME_HEADER..]);
    out[start + 8..start + 12].copy_from_slice(&h.finalize().to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// A cursor over a checksummed payload; running out of bytes there is corruption.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StorageError> {
        if self.buf.len() < n {
            return Err(StorageError::Corrupt(
                "log record truncated inside a valid frame".into(),
            ));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, StorageError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, StorageError> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn i64(&mut self) -> Result<i64, StorageError> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(b))
    }
    fn bytes(&mut self) -> Result<Bytes, StorageError> {
        let n = self.u32()? as usize;
        Ok(Bytes::copy_from_slice(self.take(n)?))
    }
}

/// Decodes the records of one frame payload whose checksum already matched.
fn decode_payload(payload: &[u8]) -> Result<Vec<LogRecord>, StorageError> {
    let mut r = Reader { buf: payload };
    let mut records = Vec::new();
    while !r.buf.is_empty() {
        let kind = r.u8()?;
        let revision = r.i64()?;
        let key = r.bytes()?;
        let op = match kind {
            KIND_PUT => LogOp::Put(r.bytes()?),
            KIND_DELETE => LogOp::Delete,
            other => {
                return Err(StorageError::Corrupt(format!(
                    "unknown log record kind {other}"
                )))
            }
        };
        records.push(LogRecord { revision, key, op });
    }
    Ok(records)
}

/// How a frame at some offset reads.
enum Frame<'a> {
    /// A whole frame with a matching checksum, and the offset just past it.
    Valid(&'a [u8], usize),
    /// Anything else: wrong magic, absurd length, past the end, or a checksum mismatch.
    Invalid,
}

fn read_frame(nonce: u64, data: &[u8], pos: usize) -> Frame<'_> {
    let Some(header) = data.get(pos..pos + FRAME_HEADER) else {
        return Frame::Invalid;
    };
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (magic, len, crc) = (word(0), word(4) as usize, word(8));
    if magic != FRAME_MAGIC || len > MAX_FRAME {
        return Frame::Invalid;
    }
    let end = pos + FRAME_HEADER + len;
    let Some(payload) = data.get(pos + FRAME_HEADER..end) else {
        return Frame::Invalid;
    };
    let mut h = crc32fast::Hasher::new();
    h.update(&nonce.to_le_bytes());
    h.update(&header[4..8]);
    h.update(payload);
    if h.finalize() == crc {
        Frame::Valid(payload, end)
    } else {
        Frame::Invalid
    }
}

/// The offset of a valid frame at or after `from`, if any.
fn find_valid_frame(nonce: u64, data: &[u8], from: usize) -> Option<usize> {
    let magic = FRAME_MAGIC.to_le_bytes();
    (from..data.len().saturating_sub(FRAME_HEADER - 1))
        .filter(|&i| data[i..i + 4] == magic)
        .find(|&i| matches!(read_frame(nonce, data, i), Frame::Valid(..)))
}

/// The result of reading one segment.
#[derive(Debug)]
pub(crate) struct Scan {
    /// The segment's nonce; `None` when even the header is torn (a crash right after the
    /// segment was created): the segment holds nothing and gets a fresh header on reopen.
    pub(crate) nonce: Option<u64>,
    /// Every record of every valid frame, in log order.
    pub(crate) records: Vec<LogRecord>,
    /// Bytes of header and valid frames; anything after is a torn tail.
    pub(crate) valid_len: u64,
    /// Bytes after `valid_len` (0 when the segment ended cleanly).
    pub(crate) torn_bytes: u64,
}

/// Reads a segment.
///
/// The first frame that does not verify ends the log there: a torn tail, left by a crash while
/// the last commit was being written. Only the last frame can be torn, so if any valid frame
/// follows the bad one, the damage hit data that was once durable: `Corrupt`. A header that is
/// present but wrong is `Corrupt` too.
pub(crate) fn scan(data: &[u8]) -> Result<Scan, StorageError> {
    if data.len() < SEGMENT_HEADER {
        let torn_bytes = data.len() as u64;
        return Ok(Scan {
            nonce: None,
            records: Vec::new(),
            valid_len: 0,
            torn_bytes,
        });
    }
    if &data[..8] != SEGMENT_MAGIC {
        return Err(StorageError::Corrupt("log segment has a bad header".into()));
    }
    let mut nonce = [0; 8];
    nonce.copy_from_slice(&data[8..16]);
    let nonce = u64::from_le_bytes(nonce);
    let mut records = Vec::new();
    let mut pos = SEGMENT_HEADER;
    while pos < data.len() {
        if let Frame::Valid(payload, next) = read_frame(nonce, data, pos) {
            records.extend(decode_payload(payload)?);
            pos = next;
            continue;
        }
        if let Some(at) = find_valid_frame(nonce, data, pos + 1) {
            return Err(StorageError::Corrupt(format!(
                "log frame at offset {pos} is damaged but a valid frame follows at offset {at}"
            )));
        }
        break;
    }
    let torn_bytes = (data.len() - pos) as u64;
    Ok(Scan {
        nonce: Some(nonce),
        records,
        valid_len: pos as u64,
        torn_bytes,
    })
}

/// The file name of the segment whose first record has revision `first`.
pub(crate) fn segment_name(first: Revision) -> String {
    format!("wal-{first:020}.log")
}

/// The first revision encoded in a segment file name, if `name` is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<Revision> {
    name.strip_prefix("wal-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

/// The segment being appended to.
#[derive(Debug)]
pub(crate) struct Segment {
    file: File,
    path: PathBuf,
    nonce: u64,
    len: u64,
}

/// A fresh random nonce (std's per-process random hash keys, mixed with the time).
fn new_nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

impl Segment {
    /// Creates a new segment starting at `first`, with its header durable and its name in the
    /// directory durable.
    pub(crate) fn create(dir: &Path, first: Revision) -> Result<Segment, StorageError> {
        let path = dir.join(segment_name(first));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_err("create log segment", &path, e))?;
        let mut seg = Segment {
            file,
            path,
            nonce: 0,
            len: 0,
        };
        let made = seg
            .write_header()
            .and_then(|()| super::files::sync_dir(dir));
        if let Err(e) = made {
            // Nothing was ever appended to it: remove it, so a later rotation (e.g. once a
            // full disk has room again) can create it afresh.
            super::files::remove_quietly(&seg.path);
            return Err(e);
        }
        Ok(seg)
    }

    fn write_header(&mut self) -> Result<(), StorageError> {
        self.nonce = new_nonce();
        let mut header = Vec::with_capacity(SEGMENT_HEADER);
        header.extend_from_slice(SEGMENT_MAGIC);
        header.extend_from_slice(&self.nonce.to_le_bytes());
        self.file
            .write_all(&header)
            .map_err(|e| io_err("write log header", &self.path, e))?;
        self.file
            .sync_all()
            .map_err(|e| io_err("sync log segment", &self.path, e))?;
        self.len = SEGMENT_HEADER as u64;
        Ok(())
    }

    /// Opens an existing segment for appending after what `scan` found valid, cutting off
    /// (durably) a torn tail, or writing a fresh header if even that was torn.
    pub(crate) fn reopen(path: &Path, scan: &Scan) -> Result<Segment, StorageError> {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| io_err("open log segment", path, e))?;
        let actual = file
            .metadata()
            .map_err(|e| io_err("stat log segment", path, e))?
            .len();
        if actual != scan.valid_len {
            file.set_len(scan.valid_len)
                .map_err(|e| io_err("truncate torn log tail", path, e))?;
            file.sync_all()
                .map_err(|e| io_err("sync log segment", path, e))?;
        }
        let mut file = file;
        file.seek(SeekFrom::Start(scan.valid_len))
            .map_err(|e| io_err("seek log segment", path, e))?;
        let mut seg = Segment {
            file,
            path: path.to_owned(),
            nonce: 0,
            len: 0,
        };
        match scan.nonce {
            Some(nonce) => {
                seg.nonce = nonce;
                seg.len = scan.valid_len;
            }
            None => seg.write_header()?,
        }
        Ok(seg)
    }

    /// Appends one frame holding `records` and waits until it is on disk (`fdatasync`).
    /// `buf` is scratch space, reused across commits.
    ///
    /// When the disk is full (or the quota or file size limit is reached), the partial frame
    /// is cut off again and the log is as it was before the call: the failure says so
    /// ([`AppendFailure::log_intact`]) and appending may resume once there is room. Any other
    /// failure leaves the file in an unknown state.
    pub(crate) fn append_durable(
        &mut self,
        records: &[LogRecord],
        buf: &mut Vec<u8>,
    ) -> Result<(), AppendFailure> {
        buf.clear();
        encode_frame(self.nonce, records, buf);
        let written = self
            .file
            .write_all(buf)
            .map_err(|e| ("append to log", e))
            .and_then(|()| self.file.sync_data().map_err(|e| ("fdatasync log", e)));
        match written {
            Ok(()) => {
                self.len += buf.len() as u64;
                Ok(())
            }
            Err((what, e)) => {
                let out_of_space = is_out_of_space(&e);
                let error = io_err(what, &self.path, e);
                let log_intact = out_of_space && self.roll_back().is_ok();
                Err(AppendFailure { error, log_intact })
            }
        }
    }

    /// Cuts the file back to its last durable frame and makes that durable.
    fn roll_back(&mut self) -> std::io::Result<()> {
        self.file.set_len(self.len)?;
        self.file.seek(SeekFrom::Start(self.len))?;
        self.file.sync_data()
    }

    /// Bytes in this segment.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

/// Why an append failed, and whether the log is still exactly its durable frames.
#[derive(Debug)]
pub(crate) struct AppendFailure {
    /// The failure, naming the operation and the file.
    pub(crate) error: StorageError,
    /// The disk was full and the partial frame was cut off durably: nothing of the batch is in
    /// the log, and appending may go on.
    pub(crate) log_intact: bool,
}

/// Whether an I/O error means "no room" (ENOSPC, EDQUOT, EFBIG), which a later retry may not
/// meet, rather than damage.
pub(crate) fn is_out_of_space(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull
            | std::io::ErrorKind::QuotaExceeded
            | std::io::ErrorKind::FileTooLarge
    )
}

/// An I/O failure as a storage error naming the operation and file.
pub(crate) fn io_err(what: &str, path: &Path, e: std::io::Error) -> StorageError {
    StorageError::Internal(format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn rec(rev: Revision, key: &str, value: Option<&str>) -> LogRecord {
        LogRecord {
            revision: rev,
            key: Bytes::copy_from_slice(key.as_bytes()),
            op: match value {
                Some(v) => LogOp::Put(Bytes::copy_from_slice(v.as_bytes())),
                None => LogOp::Delete,
            },
        }
    }

    const NONCE: u64 = 0x1234_5678_9abc_def0;

    /// A segment image with three frames, the offsets where each frame ends, all records.
    fn three_frames() -> (Vec<u8>, Vec<usize>, Vec<LogRecord>) {
        let batches = vec![
            vec![rec(1, "/a", Some("one")), rec(2, "/b", Some(""))],
            vec![rec(3, "/a", None)],
            vec![rec(4, "/c", Some("x".repeat(3000).as_str()))],
        ];
        let mut out = Vec::new();
        out.extend_from_slice(SEGMENT_MAGIC);
        out.extend_from_slice(&NONCE.to_le_bytes());
        let mut ends = Vec::new();
        for b in &batches {
            encode_frame(NONCE, b, &mut out);
            ends.push(out.len());
        }
        (out, ends, batches.concat())
    }

    #[test]
    fn encode_decode_round_trip() {
        let (data, _, all) = three_frames();
        let scan = scan(&data).unwrap();
        assert_eq!(scan.nonce, Some(NONCE));
        assert_eq!(scan.records, all);
        assert_eq!(scan.valid_len, data.len() as u64);
        assert_eq!(scan.torn_bytes, 0);
    }

    #[test]
    fn torn_header_is_an_empty_segment() {
        for cut in 0..SEGMENT_HEADER {
            let (data, _, _) = three_frames();
            let s = scan(&data[..cut]).unwrap();
            assert_eq!((s.nonce, s.valid_len, s.records.len()), (None, 0, 0));
        }
        let (mut data, _, _) = three_frames();
        data[0] = b'X';
        assert!(matches!(scan(&data), Err(StorageError::Corrupt(_))));
    }

    #[test]
    fn torn_tail_at_every_cut_stops_at_last_whole_frame() {
        let (data, ends, all) = three_frames();
        for cut in SEGMENT_HEADER..data.len() {
            let scan = scan(&data[..cut]).unwrap();
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            let expect_len = if whole == 0 {
                SEGMENT_HEADER
            } else {
                ends[whole - 1]
            };
            assert_eq!(scan.valid_len as usize, expect_len, "cut {cut}");
            assert_eq!(scan.torn_bytes as usize, cut - expect_len, "cut {cut}");
            let n = [0, 2, 3, 4][whole];
            assert_eq!(scan.records, all[..n].to_vec(), "cut {cut}");
        }
    }

    #[test]
    fn zero_filled_and_damaged_last_frames_are_torn() {
        let (mut data, ends, _) = three_frames();
        data.extend_from_slice(&[0; 4096]);
        let s = scan(&data).unwrap();
        assert_eq!(s.valid_len as usize, ends[2]);
        assert_eq!(s.torn_bytes, 4096);
        // Any byte of the last frame damaged, nothing valid after it: torn.
        for i in ends[1]..ends[2] {
            let (mut data, ends, _) = three_frames();
            data[i] ^= 0x10;
            let s = scan(&data).unwrap();
            assert_eq!(s.valid_len as usize, ends[1], "flip at {i}");
            assert_eq!(s.records.len(), 3);
        }
    }

    #[test]
    fn damage_before_the_last_frame_is_corruption() {
        let (data, ends, _) = three_frames();
        // One bit of any byte of the first two frames (header or payload) flipped.
        for i in SEGMENT_HEADER..ends[1] {
            let mut d = data.clone();
            d[i] ^= 0x10;
            assert!(
                matches!(scan(&d), Err(StorageError::Corrupt(_))),
                "flip at {i} not detected"
            );
        }
    }

    #[test]
    fn a_value_holding_a_frame_cannot_fake_corruption() {
        // A client stores a value that contains a well-formed frame (with some nonce); the
        // frame holding it is then torn. That must still read as a torn tail.
        let mut forged = Vec::new();
        encode_frame(0, &[rec(99, "/evil", Some("x"))], &mut forged);
        let mut data = Vec::new();
        data.extend_from_slice(SEGMENT_MAGIC);
        data.extend_from_slice(&NONCE.to_le_bytes());
        encode_frame(NONCE, &[rec(1, "/a", Some("one"))], &mut data);
        let good = data.len();
        let mut v = Vec::from(&b"pad"[..]);
        v.extend_from_slice(&forged);
        let r = LogRecord {
            revision: 2,
            key: Bytes::from_static(b"/v"),
            op: LogOp::Put(v.into()),
        };
        encode_frame(NONCE, &[r], &mut data);
        let last = data.len() - 1;
        data[last] ^= 1; // torn
        let s = scan(&data).unwrap();
        assert_eq!(s.valid_len as usize, good);
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(segment_name(42), "wal-00000000000000000042.log");
        assert_eq!(parse_segment_name(&segment_name(42)), Some(42));
        assert_eq!(parse_segment_name("snap-1.snap"), None);
    }

    #[test]
    fn segment_append_and_reopen_cuts_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        let mut seg = Segment::create(dir.path(), 1).unwrap();
        seg.append_durable(&[rec(1, "/k", Some("v"))], &mut buf)
            .unwrap();
        let good = seg.len();
        drop(seg);
        let path = dir.path().join(segment_name(1));
        // A torn second frame: half of a copy of the first.
        let mut data = std::fs::read(&path).unwrap();
        let frame = data[SEGMENT_HEADER..].to_vec();
        data.extend_from_slice(&frame[..frame.len() / 2]);
        std::fs::write(&path, &data).unwrap();
        let s = scan(&data).unwrap();
        assert_eq!(s.valid_len, good);
        let mut seg = Segment::reopen(&path, &s).unwrap();
        assert_eq!(seg.len(), good);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        seg.append_durable(&[rec(2, "/k", None)], &mut buf).unwrap();
        let s = scan(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.torn_bytes, 0);
    }
}
