//! WAL record decoding and recovery, end to end: the input becomes one or two log segment
//! files in a fresh directory (in /dev/shm) and `kubeshard::storage::embedded::EmbeddedStore`
//! opens it (`recovery::recover` -> `wal::scan` -> `decode_payload` -> `Mvcc::apply`; those
//! are `pub(crate)`).
//!
//! Input: byte 0 = mode (bits 0-1: 0 raw segment bytes, 1 frames of arbitrary payload with
//! valid checksums, 2-3 structured records in valid frames; bit 2: a small history limit;
//! bits 4-5: the segment's first revision, 1, 1, 0 or 2), then the mode's bytes.
//! Properties: never panics (opening either succeeds or returns an error); a store that opened
//! reopens to the same revision and contents (recovery is idempotent: a cut torn tail stays
//! cut); after a write on the recovered store, reopening still succeeds and holds the write
//! at the next revision (nothing torn is left in front of new frames).
#![no_main]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_lite::future::block_on;
use kubeshard::storage::embedded::{EmbeddedOptions, EmbeddedStore};
use kubeshard::storage::kv::{KeyValue, KvStore, ListRequest, Precondition, Revision};
use kubeshard_fuzz::{wal, Bytes as Input};
use libfuzzer_sys::fuzz_target;

const NONCE: u64 = 0x5eed_0f_f00d_cafe;

/// The segment files to write: (first revision, bytes).
fn segments(mode: u8, first: Revision, input: &mut Input<'_>) -> Vec<(Revision, Vec<u8>)> {
    match mode & 3 {
        0 => vec![(first, input.rest().to_vec())],
        1 => {
            let mut seg = wal::header(NONCE);
            while !input.is_empty() {
                let ctrl = input.byte();
                let payload = input.take(usize::from(ctrl & 0x7f));
                let at = seg.len();
                wal::frame(NONCE, payload, &mut seg);
                if ctrl & 0x80 != 0 {
                    seg[at + 8] ^= 0xff; // damage the checksum
                }
            }
            vec![(first, seg)]
        }
        _ => {
            let mut out = Vec::new();
            let mut seg = wal::header(NONCE);
            let mut seg_first = first;
            let mut next: Revision = first.max(1);
            while !input.is_empty() {
                let ctrl = input.byte();
                if ctrl == 0xff {
                    // A torn tail: the rest as raw bytes.
                    seg.extend_from_slice(input.rest());
                    break;
                }
                if ctrl & 0x40 != 0 && seg.len() > 16 {
                    out.push((seg_first, std::mem::replace(&mut seg, wal::header(NONCE))));
                    seg_first = next;
                }
                let mut payload = Vec::new();
                for _ in 0..=(ctrl & 3) {
                    let op = input.byte();
                    let kind = match op & 3 {
                        0 | 1 => wal::KIND_PUT,
                        2 => wal::KIND_DELETE,
                        _ => op,
                    };
                    let revision = match input.byte() {
                        0..=199 => next,
                        b => next + i64::from(b) - 228,
                    };
                    next = revision + 1;
                    let key = format!("/k/{}", (op >> 2) & 3);
                    let value_len = usize::from(op >> 4);
                    let value = input.take(value_len).to_vec();
                    let value = (kind != wal::KIND_DELETE).then_some(&value[..]);
                    wal::record(kind, revision, key.as_bytes(), value, &mut payload);
                }
                let at = seg.len();
                wal::frame(NONCE, &payload, &mut seg);
                if ctrl & 0x80 != 0 && ctrl & 0x20 != 0 {
                    seg[at + 8] ^= 0xff;
                }
            }
            out.push((seg_first, seg));
            out
        }
    }
}

struct State {
    revision: Revision,
    items: Vec<KeyValue>,
}

fn state(store: &EmbeddedStore) -> State {
    let revision = block_on(store.current_revision()).expect("current revision");
    let list = block_on(store.list(ListRequest {
        prefix: Bytes::new(),
        ..Default::default()
    }))
    .expect("list");
    State {
        revision,
        items: list.items,
    }
}

fn open(dir: &Path, options: &EmbeddedOptions, what: &str) -> EmbeddedStore {
    EmbeddedStore::open(dir, options.clone())
        .unwrap_or_else(|e| panic!("{what}: a store that opened once does not reopen: {e}"))
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let mode = input.byte();
    let first: Revision = match (mode >> 4) & 3 {
        2 => 0,
        3 => 2,
        _ => 1,
    };
    let options = EmbeddedOptions {
        max_history_events: if mode & 4 != 0 { 2 } else { 100_000 },
        ..EmbeddedOptions::default()
    };
    let files = segments(mode, first, &mut input);

    let dir = PathBuf::from(format!(
        "/dev/shm/kubeshard-fuzz-wal-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the store directory");
    for (first, bytes) in &files {
        std::fs::write(dir.join(wal::segment_name(*first)), bytes).expect("write a segment");
    }

    if let Ok(store) = EmbeddedStore::open(&dir, options.clone()) {
        let before = state(&store);
        drop(store);
        let store = open(&dir, &options, "reopen");
        let again = state(&store);
        assert_eq!(
            again.revision, before.revision,
            "reopening changed the revision"
        );
        assert_eq!(again.items, before.items, "reopening changed the contents");

        let key = Bytes::from_static(b"/fuzz/after-recovery");
        let outcome =
            block_on(store.put(key.clone(), Bytes::from_static(b"v"), Precondition::None));
        assert!(
            outcome.is_ok(),
            "a write after recovery failed: {outcome:?}"
        );
        drop(store);
        let store = open(&dir, &options, "reopen after a write");
        let after = state(&store);
        assert_eq!(
            after.revision,
            before.revision + 1,
            "the write is not the next revision"
        );
        let written: Vec<&KeyValue> = after.items.iter().filter(|kv| kv.key == key).collect();
        assert!(
            written.len() == 1 && written[0].mod_revision == after.revision,
            "the write after recovery is lost: {written:?}"
        );
        let rest: Vec<KeyValue> = after.items.into_iter().filter(|kv| kv.key != key).collect();
        assert_eq!(
            rest, before.items,
            "the write after recovery changed other keys"
        );
        drop(store);
    }
    let _ = std::fs::remove_dir_all(&dir);
});
