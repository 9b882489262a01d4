//! The writer process for `tests/crash.rs` (not a user tool): opens the embedded store in `argv[1]` (or connects to the etcd URL given there) and
//! writes until killed, printing every acknowledged write on its own line (flushed at once):
//!
//! - `P <key> <revision>`: a create under `/crash/r<round>/` applied.
//! - `D <key> <revision>`: a delete of one of those keys applied.
//! - `C <key> <revision> <n>`: a counter key `/crash/counter/<task>` set to `n` (each task
//!   increments its own counter with a `ModRevision` precondition, across rounds).
//!
//! Values are `<key>#` followed by a filler whose length depends on the key, so a reader can
//! tell a whole value from a damaged one. Usage: `kubeshard-crash-writer <dir|etcd-url> <round>`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use bytes::Bytes;
use kubeshard::storage::embedded::{EmbeddedOptions, EmbeddedStore};
use kubeshard::storage::etcd::{EtcdConfig, EtcdStore};
use kubeshard::storage::kv::{KvStore, Precondition, WriteOutcome};

/// Writers in flight at once.
const TASKS: usize = 32;

/// The options both the writer and the checker open the store with: small segments so that
/// snapshots and log rotation happen while the writer is killed.
fn options() -> EmbeddedOptions {
    EmbeddedOptions {
        snapshot_log_bytes: 64 << 10,
        max_history_events: 2000,
        ..Default::default()
    }
}

/// The value written for `key`.
fn value_for(key: &str) -> Bytes {
    let filler = key.bytes().map(usize::from).sum::<usize>() % 700;
    Bytes::from(format!("{key}#{}", "x".repeat(filler)))
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn task<S: KvStore>(store: &S, round: u32, t: usize) {
    let counter = format!("/crash/counter/{t:02}");
    let (mut n, mut rev) = match store.get(Bytes::from(counter.clone()), 0).await.unwrap().0 {
        Some(kv) => (
            std::str::from_utf8(&kv.value)
                .unwrap()
                .parse::<u64>()
                .unwrap(),
            kv.mod_revision,
        ),
        None => (0, 0),
    };
    for i in 0u64.. {
        let key = format!("/crash/r{round:03}/{t:02}/{i:08}");
        let put = store.put(
            Bytes::from(key.clone()),
            value_for(&key),
            Precondition::Absent,
        );
        if let WriteOutcome::Applied { revision, .. } = put.await.unwrap() {
            say(format!("P {key} {revision}"));
        }
        if i % 4 == 3 {
            let old = format!("/crash/r{round:03}/{t:02}/{:08}", i - 2);
            let del = store
                .delete(Bytes::from(old.clone()), Precondition::Exists)
                .await
                .unwrap();
            if let WriteOutcome::Applied { revision, .. } = del {
                say(format!("D {old} {revision}"));
            }
        }
        let pre = if rev == 0 {
            Precondition::Absent
        } else {
            Precondition::ModRevision(rev)
        };
        let next = Bytes::from((n + 1).to_string());
        match store
            .put(Bytes::from(counter.clone()), next, pre)
            .await
            .unwrap()
        {
            WriteOutcome::Applied { revision, .. } => {
                n += 1;
                rev = revision;
                say(format!("C {counter} {revision} {n}"));
            }
            other => panic!("counter {counter} changed under its only writer: {other:?}"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).expect("usage: store_writer <dir> <round>"));
    let round: u32 = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = dir.to_string_lossy().into_owned();
    if target.starts_with("http://") || target.starts_with("https://") {
        // The etcd backend: the writer process dies, etcd lives on.
        rt.block_on(async {
            let store = EtcdStore::connect(EtcdConfig::new(vec![target]))
                .await
                .unwrap();
            let tasks = (0..TASKS).map(|t| task(&store, round, t));
            futures_util::future::join_all(tasks).await;
        });
    } else {
        let store = EmbeddedStore::open(&dir, options()).unwrap();
        rt.block_on(async {
            let tasks = (0..TASKS).map(|t| task(&store, round, t));
            futures_util::future::join_all(tasks).await;
        });
    }
}
