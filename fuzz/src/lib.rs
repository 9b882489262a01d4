//! Helpers shared by the fuzz targets and the seed generator.

/// Every byte of `s` as `%XX`, so that a URL query decoder gives `s` back exactly.
pub fn percent_encode_all(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        out.push_str(&format!("%{b:02X}"));
    }
    out
}

/// A cursor that hands out fuzz bytes; exhausted, it yields zeros.
pub struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    /// A cursor over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// The next byte (0 once exhausted).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// Up to `n` next bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    /// Whatever is left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// The embedded store's WAL format (`src/storage/embedded/wal.rs`), re-stated here because
/// its encoder is `pub(crate)`: a segment is `"KSWALSEG" | nonce:u64` then frames
/// `magic:u32 | len:u32 | crc32(nonce ++ len ++ payload):u32 | payload`, little endian.
pub mod wal {
    /// Segment header magic.
    pub const SEGMENT_MAGIC: &[u8; 8] = b"KSWALSEG";
    /// Frame magic ("KSWL").
    pub const FRAME_MAGIC: u32 = 0x4b53_574c;
    /// Record kinds.
    pub const KIND_PUT: u8 = 1;
    /// Record kinds.
    pub const KIND_DELETE: u8 = 2;

    /// A segment header with `nonce`.
    pub fn header(nonce: u64) -> Vec<u8> {
        let mut out = SEGMENT_MAGIC.to_vec();
        out.extend_from_slice(&nonce.to_le_bytes());
        out
    }

    /// Appends a frame around `payload`, with a checksum valid for `nonce`.
    pub fn frame(nonce: u64, payload: &[u8], out: &mut Vec<u8>) {
        let len = (payload.len() as u32).to_le_bytes();
        let mut h = crc32fast::Hasher::new();
        h.update(&nonce.to_le_bytes());
        h.update(&len);
        h.update(payload);
        out.extend_from_slice(&FRAME_MAGIC.to_le_bytes());
        out.extend_from_slice(&len);
        out.extend_from_slice(&h.finalize().to_le_bytes());
        out.extend_from_slice(payload);
    }

    /// Appends one record to a payload.
    pub fn record(kind: u8, revision: i64, key: &[u8], value: Option<&[u8]>, out: &mut Vec<u8>) {
        out.push(kind);
        out.extend_from_slice(&revision.to_le_bytes());
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
        if let Some(v) = value {
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
    }

    /// The segment file name for a first revision.
    pub fn segment_name(first: i64) -> String {
        format!("wal-{first:020}.log")
    }
}
