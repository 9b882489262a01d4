//! Tests of the whole embedded store: the conformance suite, restarts, snapshots, limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use futures_lite::StreamExt;

use super::files::list_dir;
use super::{EmbeddedOptions, EmbeddedStore};
use crate::storage::conformance;
use crate::storage::kv::{
    KvStore, ListRequest, Precondition, Revision, StorageError, WatchItem, WriteOutcome,
};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn small() -> EmbeddedOptions {
    EmbeddedOptions {
        snapshot_log_bytes: 4096,
        ..EmbeddedOptions::default()
    }
}

async fn create(store: &EmbeddedStore, key: &str, value: &str) -> Revision {
    match store
        .put(b(key), b(value), Precondition::Absent)
        .await
        .unwrap()
    {
        WriteOutcome::Applied { revision, .. } => revision,
        other => panic!("create {key}: {other:?}"),
    }
}

async fn everything(store: &EmbeddedStore) -> Vec<(Bytes, Bytes, Revision, Revision)> {
    let l = store.list(ListRequest::default()).await.unwrap();
    l.items
        .into_iter()
        .map(|kv| (kv.key, kv.value, kv.create_revision, kv.mod_revision))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    conformance::run_all(&store, "/conformance").await;
    // The suite again on the same store: it must not depend on an empty store.
    conformance::run_all(&store, "/conformance").await;
}

#[tokio::test(flavor = "current_thread")]
async fn conformance_suite_with_snapshots_under_way() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), small()).unwrap();
    conformance::run_all(&store, "/c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revisions_start_at_one_and_follow_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 0);
    assert_eq!(store.get(b("/x"), 0).await.unwrap(), (None, 0));
    assert_eq!(create(&store, "/a", "1").await, 1);
    assert_eq!(create(&store, "/b", "1").await, 2);
    // A failed precondition takes no revision.
    let failed = store
        .put(b("/a"), b("2"), Precondition::Absent)
        .await
        .unwrap();
    assert!(matches!(
        failed,
        WriteOutcome::PreconditionFailed { revision: 2, .. }
    ));
    assert_eq!(create(&store, "/c", "1").await, 3);
    assert_eq!(store.compacted_revision().unwrap(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn restart_keeps_every_acknowledged_write_and_continues_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let before;
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        let writes = (0..200).map(|i| {
            let store = &store;
            async move { create(store, &format!("/k/{i:03}"), &format!("v{i}")).await }
        });
        futures_util::future::join_all(writes).await;
        store
            .put(b("/k/000"), b("updated"), Precondition::Exists)
            .await
            .unwrap();
        store
            .delete(b("/k/001"), Precondition::Exists)
            .await
            .unwrap();
        assert_eq!(store.current_revision().await.unwrap(), 202);
        before = everything(&store).await;
    }
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 202);
    assert_eq!(everything(&store).await, before);
    // History survives too: reads at old revisions and watches from them.
    let (kv, _) = store.get(b("/k/001"), 201).await.unwrap();
    assert!(kv.is_some());
    let mut w = store.watch(b("/k/"), 200).await.unwrap();
    let first = w.next().await.unwrap().unwrap();
    assert!(matches!(first, WatchItem::Events(e) if e[0].kv.mod_revision == 201));
    assert_eq!(create(&store, "/k/new", "v").await, 203);
}

#[tokio::test(flavor = "current_thread")]
async fn snapshots_truncate_the_log_and_recovery_uses_them() {
    let dir = tempfile::tempdir().unwrap();
    let value = "x".repeat(300);
    let before;
    {
        let store = EmbeddedStore::open(dir.path(), small()).unwrap();
        for i in 0..300 {
            create(&store, &format!("/s/{i:03}"), &value).await;
            if i % 3 == 0 {
                store
                    .delete(b(&format!("/s/{i:03}")), Precondition::Exists)
                    .await
                    .unwrap();
            }
        }
        before = everything(&store).await;
    }
    let listing = list_dir(dir.path()).unwrap();
    assert!(!listing.snapshots.is_empty(), "no snapshot written");
    // 400 writes of ~330 bytes in 4 KiB segments: old segments must have been deleted.
    assert!(
        listing.segments.len() <= 3,
        "{} segments kept",
        listing.segments.len()
    );
    let snap_rev = listing.snapshots.last().unwrap().0;
    let store = EmbeddedStore::open(dir.path(), small()).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 400);
    assert_eq!(everything(&store).await, before);
    // Revisions covered by the snapshot are compacted after a restart.
    assert_eq!(store.compacted_revision().unwrap(), snap_rev);
    let r = store.get(b("/s/001"), snap_rev - 1).await;
    assert!(matches!(r, Err(StorageError::Compacted { .. })), "{r:?}");
    assert_eq!(create(&store, "/s/new", "v").await, 401);
}

#[tokio::test(flavor = "current_thread")]
async fn history_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions {
        max_history_events: 10,
        ..EmbeddedOptions::default()
    };
    let store = EmbeddedStore::open(dir.path(), options).unwrap();
    for i in 0..25 {
        store
            .put(b("/h"), b(&i.to_string()), Precondition::None)
            .await
            .unwrap();
    }
    assert_eq!(store.compacted_revision().unwrap(), 15);
    assert!(matches!(
        store.get(b("/h"), 14).await,
        Err(StorageError::Compacted { .. })
    ));
    assert!(store.get(b("/h"), 15).await.unwrap().0.is_some());
    assert!(matches!(
        store.watch(b("/"), 14).await,
        Err(StorageError::Compacted { .. })
    ));
    assert!(store.watch(b("/"), 15).await.is_ok());
}

#[tokio::test(flavor = "current_thread")]
async fn a_watcher_that_falls_behind_gets_an_error_and_its_stream_ends() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions {
        watch_buffer: 5,
        ..EmbeddedOptions::default()
    };
    let store = EmbeddedStore::open(dir.path(), options).unwrap();
    let mut slow = store.watch(b("/w/"), 0).await.unwrap();
    for i in 0..20 {
        create(&store, &format!("/w/{i:02}"), "v").await;
    }
    let mut items = Vec::new();
    while let Some(item) = slow.next().await {
        items.push(item);
    }
    assert_eq!(items.len(), 6, "{items:?}");
    assert!(items[..5].iter().all(Result::is_ok));
    assert_eq!(
        items[5],
        Err(StorageError::Unavailable("watcher fell behind".into()))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn watch_from_the_future_waits_for_its_revision() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let mut w = store.watch(b("/f/"), 2).await.unwrap();
    for i in 0..3 {
        create(&store, &format!("/f/{i}"), "v").await;
    }
    let first = w.next().await.unwrap().unwrap();
    assert!(matches!(first, WatchItem::Events(e) if e[0].kv.mod_revision == 3));
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_store_ends_watches_and_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    let err = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap_err();
    assert!(err.to_string().contains("LOCK"), "{err}");
    let mut w = store.watch(b("/"), 0).await.unwrap();
    drop(store);
    assert!(w.next().await.is_none());
    EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_torn_log_tail_is_cut_and_writing_resumes() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        for i in 0..10 {
            create(&store, &format!("/t/{i}"), "v").await;
        }
    }
    let seg = list_dir(dir.path()).unwrap().segments.pop().unwrap().1;
    let len = std::fs::metadata(&seg).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 3).unwrap(); // tear the last write
    drop(f);
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 9);
    assert_eq!(create(&store, "/t/9", "again").await, 10);
    drop(store);
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 10);
}

#[tokio::test(flavor = "current_thread")]
async fn damage_in_the_middle_of_the_log_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        for i in 0..10 {
            create(&store, &format!("/d/{i}"), "some value").await;
        }
    }
    let seg = list_dir(dir.path()).unwrap().segments.pop().unwrap().1;
    let mut data = std::fs::read(&seg).unwrap();
    data[40] ^= 0x01; // inside the first frame
    std::fs::write(&seg, &data).unwrap();
    let err = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt(_)), "{err}");
    assert!(
        err.to_string().contains(&seg.display().to_string()),
        "the error names the file: {err}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_damaged_snapshot_is_reported_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path(), small()).unwrap();
        for i in 0..400 {
            create(&store, &format!("/s/{i}"), &"v".repeat(200)).await;
        }
    }
    // Reopening waits for nothing: give the background snapshot time to finish.
    let snap = {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(s) = list_dir(dir.path()).unwrap().snapshots.pop() {
                break s.1;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no snapshot was written"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    let mut data = std::fs::read(&snap).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0x40;
    std::fs::write(&snap, &data).unwrap();
    let err = EmbeddedStore::open(dir.path(), small()).unwrap_err();
    assert!(matches!(err, StorageError::Corrupt(_)), "{err}");
    assert!(
        err.to_string().contains(&snap.display().to_string()),
        "the error names the file: {err}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_garbled_log_tail_is_cut_to_the_last_valid_frame() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
        for i in 0..10 {
            create(&store, &format!("/g/{i}"), "value").await;
        }
    }
    let seg = list_dir(dir.path()).unwrap().segments.pop().unwrap().1;
    let mut data = std::fs::read(&seg).unwrap();
    // A crash while the last commit was in flight: garbage where its frame would be.
    data.extend_from_slice(b"KSWL\xff\xff\x00\x00 half a frame");
    std::fs::write(&seg, &data).unwrap();
    let store = EmbeddedStore::open(dir.path(), EmbeddedOptions::default()).unwrap();
    assert_eq!(
        store.current_revision().await.unwrap(),
        10,
        "every write kept"
    );
    assert_eq!(everything(&store).await.len(), 10);
    assert_eq!(create(&store, "/g/next", "v").await, 11);
}
