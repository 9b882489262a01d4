//! One conformance suite for every `KvStore` implementation.
//!
//! Each check is a public async function generic over [`KvStore`]; [`run_all`] runs them all.
//! They panic with a message naming the check on failure (they are test code). Every check
//! works under its own key prefix below the one it is given and first deletes whatever a
//! previous run left there, so one long-lived store (a shared etcd) can run the suite again
//! and again. Revisions are only compared relatively: a store may start anywhere and may skip
//! revisions (etcd shares one revision counter across all keys).
//!
//! [`check_compaction`] compacts the whole store up to a recent revision; [`run_all`] runs it
//! last.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures_lite::StreamExt;

use crate::storage::kv::{
    EventKind, KeyValue, KvStore, ListRequest, Precondition, Revision, StorageError, WatchEvent,
    WatchItem, WatchStream, WriteOutcome,
};

/// How long a check waits for a watch event before failing.
const WATCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs every check, each under `prefix/<check name>/`.
pub async fn run_all<S: KvStore>(store: &S, prefix: &str) {
    check_revisions(store, prefix).await;
    check_preconditions(store, prefix).await;
    check_create_race(store, prefix).await;
    check_list_paging(store, prefix).await;
    check_count(store, prefix).await;
    check_old_revisions(store, prefix).await;
    check_watch(store, prefix).await;
    check_compaction(store, prefix).await;
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The prefix of one check, with a trailing slash.
fn dir(prefix: &str, check: &str) -> String {
    format!("{prefix}/{check}/")
}

/// Deletes every key under `dir` (left over from an earlier run against the same store).
async fn clean<S: KvStore>(store: &S, dir: &str) {
    let all = store
        .list(ListRequest {
            prefix: b(dir),
            ..Default::default()
        })
        .await
        .unwrap();
    for kv in all.items {
        store.delete(kv.key, Precondition::None).await.unwrap();
    }
}

#[track_caller]
fn applied(what: &str, outcome: WriteOutcome) -> (Revision, Option<KeyValue>) {
    match outcome {
        WriteOutcome::Applied { revision, previous } => (revision, previous),
        other => panic!("{what}: expected the write to apply, got {other:?}"),
    }
}

#[track_caller]
fn failed(what: &str, outcome: WriteOutcome) -> (Option<KeyValue>, Revision) {
    match outcome {
        WriteOutcome::PreconditionFailed { current, revision } => (current, revision),
        other => panic!("{what}: expected a failed precondition, got {other:?}"),
    }
}

/// A put that must not fail (a failed precondition is an outcome, not a failure). Converts
/// its arguments before returning, so the future borrows only the store.
fn put<'a, S: KvStore>(
    store: &'a S,
    key: &str,
    value: &str,
    pre: Precondition,
) -> impl Future<Output = WriteOutcome> + 'a {
    let write = store.put(b(key), b(value), pre);
    async move { write.await.unwrap() }
}

async fn get_at<S: KvStore>(store: &S, key: &str, rev: Revision) -> Option<KeyValue> {
    store.get(b(key), rev).await.unwrap().0
}

/// Revisions grow with every write, writes return them, and reads report them.
pub async fn check_revisions<S: KvStore>(store: &S, prefix: &str) {
    let d = dir(prefix, "revisions");
    clean(store, &d).await;
    let (k1, k2) = (format!("{d}a"), format!("{d}b"));
    let before = store.current_revision().await.unwrap();

    let (r1, prev) = applied("create a", put(store, &k1, "v1", Precondition::None).await);
    assert!(
        r1 > before,
        "revisions: create at {r1} not after current {before}"
    );
    assert_eq!(
        prev, None,
        "revisions: create of a new key reports a previous value"
    );
    let (kv, read_rev) = store.get(b(&k1), 0).await.unwrap();
    let kv = kv.expect("revisions: created key not found");
    assert_eq!(
        (kv.create_revision, kv.mod_revision),
        (r1, r1),
        "revisions: get after create"
    );
    assert_eq!(kv.value, b("v1"));
    assert!(
        read_rev >= r1,
        "revisions: get read at {read_rev}, before the write at {r1}"
    );

    let (r2, _) = applied("create b", put(store, &k2, "w", Precondition::None).await);
    assert!(r2 > r1, "revisions: second write {r2} not after {r1}");
    let (r3, prev) = applied("update a", put(store, &k1, "v2", Precondition::None).await);
    assert!(r3 > r2, "revisions: update {r3} not after {r2}");
    let prev = prev.expect("revisions: update reports no previous value");
    assert_eq!(
        (prev.value, prev.mod_revision),
        (b("v1"), r1),
        "revisions: update's previous"
    );
    let kv = get_at(store, &k1, 0)
        .await
        .expect("revisions: updated key not found");
    assert_eq!(
        (kv.create_revision, kv.mod_revision),
        (r1, r3),
        "revisions: get after update"
    );
    assert_eq!(kv.value, b("v2"));
    let now = store.current_revision().await.unwrap();
    assert!(
        now >= r3,
        "revisions: current revision {now} before the last write {r3}"
    );

    let (r4, prev) = applied(
        "delete a",
        store.delete(b(&k1), Precondition::None).await.unwrap(),
    );
    assert!(r4 > r3, "revisions: delete {r4} not after {r3}");
    let prev = prev.expect("revisions: delete reports no deleted value");
    assert_eq!(
        (prev.value, prev.mod_revision),
        (b("v2"), r3),
        "revisions: deleted value"
    );
    let (kv, read_rev) = store.get(b(&k1), 0).await.unwrap();
    assert_eq!(kv, None, "revisions: deleted key still readable");
    assert!(
        read_rev >= r4,
        "revisions: get read at {read_rev}, before the delete at {r4}"
    );
}

/// Optimistic writes: each precondition applies or fails as documented, failures report the
/// key's current state and write nothing.
pub async fn check_preconditions<S: KvStore>(store: &S, prefix: &str) {
    let d = dir(prefix, "preconditions");
    clean(store, &d).await;
    let k = format!("{d}k");
    let absent = format!("{d}absent");

    let (r1, _) = applied("create", put(store, &k, "v1", Precondition::Absent).await);
    let (cur, rev) = failed(
        "create existing",
        put(store, &k, "x", Precondition::Absent).await,
    );
    let cur = cur.expect("preconditions: failed create does not report the current value");
    assert_eq!(
        (cur.value, cur.mod_revision),
        (b("v1"), r1),
        "preconditions: current on conflict"
    );
    assert!(
        rev >= r1,
        "preconditions: conflict observed at {rev}, before {r1}"
    );

    let stale = Precondition::ModRevision(r1 + 1_000_000);
    let (cur, _) = failed("update stale", put(store, &k, "x", stale).await);
    assert_eq!(
        cur.map(|c| c.mod_revision),
        Some(r1),
        "preconditions: current on stale update"
    );
    let (cur, _) = failed(
        "update absent",
        put(store, &absent, "x", Precondition::ModRevision(r1)).await,
    );
    assert_eq!(
        cur, None,
        "preconditions: update of an absent key reports a value"
    );
    let (cur, _) = failed(
        "exists on absent",
        put(store, &absent, "x", Precondition::Exists).await,
    );
    assert_eq!(cur, None);

    let (r2, prev) = applied(
        "update",
        put(store, &k, "v2", Precondition::ModRevision(r1)).await,
    );
    assert!(r2 > r1);
    assert_eq!(
        prev.map(|p| p.value),
        Some(b("v1")),
        "preconditions: update's previous"
    );
    let (r3, _) = applied("exists", put(store, &k, "v3", Precondition::Exists).await);
    assert!(r3 > r2);

    let (cur, _) = failed(
        "delete absent",
        store.delete(b(&absent), Precondition::None).await.unwrap(),
    );
    assert_eq!(
        cur, None,
        "preconditions: delete of an absent key reports a value"
    );
    let stale = Precondition::ModRevision(r2);
    let (cur, _) = failed("delete stale", store.delete(b(&k), stale).await.unwrap());
    assert_eq!(
        cur.map(|c| c.mod_revision),
        Some(r3),
        "preconditions: current on stale delete"
    );
    let kv = get_at(store, &k, 0)
        .await
        .expect("preconditions: failed writes removed the key");
    assert_eq!(
        (kv.value, kv.mod_revision),
        (b("v3"), r3),
        "preconditions: failed writes wrote"
    );
    assert_eq!(
        get_at(store, &absent, 0).await,
        None,
        "preconditions: failed writes created a key"
    );

    let pre = Precondition::ModRevision(r3);
    let (r4, prev) = applied("delete", store.delete(b(&k), pre).await.unwrap());
    assert!(r4 > r3);
    assert_eq!(
        prev.map(|p| p.value),
        Some(b("v3")),
        "preconditions: deleted value"
    );
    let (r5, _) = applied("recreate", put(store, &k, "v5", Precondition::Absent).await);
    let kv = get_at(store, &k, 0).await.unwrap();
    assert_eq!(
        (kv.create_revision, kv.mod_revision),
        (r5, r5),
        "preconditions: recreated key"
    );
}

/// Concurrent creates of one key: exactly one applies, the others see the winner. Concurrent
/// creates of distinct keys all apply at distinct revisions. Concurrent updates from the same
/// version: exactly one applies.
pub async fn check_create_race<S: KvStore>(store: &S, prefix: &str) {
    const N: usize = 16;
    let d = dir(prefix, "create-race");
    clean(store, &d).await;
    let k = format!("{d}same");

    let racers = (0..N).map(|i| put(store, &k, &format!("racer-{i}"), Precondition::Absent));
    let outcomes = futures_util::future::join_all(racers).await;
    let winners: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            WriteOutcome::Applied { revision, .. } => Some(*revision),
            _ => None,
        })
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "create race: {} of {N} creates applied",
        winners.len()
    );
    let won = winners[0];
    let kv = get_at(store, &k, 0)
        .await
        .expect("create race: key missing");
    assert_eq!(
        kv.mod_revision, won,
        "create race: stored version is not the winner's"
    );
    for o in outcomes {
        if let WriteOutcome::PreconditionFailed { current, .. } = o {
            let current = current.expect("create race: loser saw no current value");
            assert_eq!(
                current, kv,
                "create race: loser saw something else than the winner"
            );
        }
    }

    let distinct = (0..N).map(|i| put(store, &format!("{d}k{i:02}"), "v", Precondition::Absent));
    let mut revs: Vec<_> = futures_util::future::join_all(distinct)
        .await
        .into_iter()
        .map(|o| applied("create race: distinct keys", o).0)
        .collect();
    revs.sort_unstable();
    revs.dedup();
    assert_eq!(
        revs.len(),
        N,
        "create race: distinct creates share revisions"
    );

    let updaters = (0..N).map(|i| put(store, &k, &format!("u{i}"), Precondition::ModRevision(won)));
    let n = futures_util::future::join_all(updaters)
        .await
        .iter()
        .filter(|o| matches!(o, WriteOutcome::Applied { .. }))
        .count();
    assert_eq!(
        n, 1,
        "create race: {n} of {N} updates from one version applied"
    );
}

fn keys(items: &[KeyValue]) -> Vec<String> {
    items
        .iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect()
}

/// Paging with `start_after` and `limit` at the first page's revision: later writes do not
/// show, `more` is exact.
pub async fn check_list_paging<S: KvStore>(store: &S, prefix: &str) {
    let d = dir(prefix, "list-paging");
    clean(store, &d).await;
    let sibling = format!("{prefix}/list-paging-sibling");
    put(store, &sibling, "not under the prefix", Precondition::None).await;
    let name = |i: &str| format!("{d}item-{i}");
    for i in 0..7 {
        put(
            store,
            &name(&i.to_string()),
            &format!("v{i}"),
            Precondition::Absent,
        )
        .await;
    }
    let list = |start_after: Option<String>, limit, revision| {
        store.list(ListRequest {
            prefix: b(&d),
            start_after: start_after.map(|s| b(&s)),
            limit,
            revision,
        })
    };

    let p1 = list(None, 3, 0).await.unwrap();
    assert_eq!(
        keys(&p1.items),
        vec![name("0"), name("1"), name("2")],
        "list paging: page 1"
    );
    assert!(p1.more, "list paging: page 1 says no more");
    let at = p1.revision;
    assert!(at >= p1.items.iter().map(|kv| kv.mod_revision).max().unwrap());

    // Changes after the first page, in the pages still to come and between them.
    put(store, &name("2a"), "new", Precondition::Absent).await;
    put(store, &name("4"), "changed", Precondition::Exists).await;
    store
        .delete(b(&name("5")), Precondition::Exists)
        .await
        .unwrap();
    put(store, &name("9"), "new", Precondition::Absent).await;

    let p2 = list(Some(name("2")), 3, at).await.unwrap();
    assert_eq!(
        p2.revision, at,
        "list paging: page 2 not read at page 1's revision"
    );
    assert_eq!(
        keys(&p2.items),
        vec![name("3"), name("4"), name("5")],
        "list paging: page 2"
    );
    assert_eq!(
        p2.items[1].value,
        b("v4"),
        "list paging: page 2 shows a later update"
    );
    assert!(p2.more, "list paging: page 2 says no more");
    let p3 = list(Some(name("5")), 3, at).await.unwrap();
    assert_eq!(keys(&p3.items), vec![name("6")], "list paging: page 3");
    assert!(!p3.more, "list paging: last page says more");

    let now = list(None, 0, 0).await.unwrap();
    let expect: Vec<_> = ["0", "1", "2", "2a", "3", "4", "6", "9"].map(name).to_vec();
    assert_eq!(keys(&now.items), expect, "list paging: latest list");
    assert!(!now.more, "list paging: unlimited list says more");
    assert!(now.revision > at);
    let exact = list(None, 8, 0).await.unwrap();
    assert_eq!(
        (exact.items.len(), exact.more),
        (8, false),
        "list paging: limit = count"
    );
    let short = list(None, 7, 0).await.unwrap();
    assert_eq!(
        (short.items.len(), short.more),
        (7, true),
        "list paging: limit = count - 1"
    );
    let after_all = list(Some(name("9")), 5, 0).await.unwrap();
    assert_eq!(
        (after_all.items.len(), after_all.more),
        (0, false),
        "list paging: past the end"
    );
}

/// `count` counts live keys under a prefix only.
pub async fn check_count<S: KvStore>(store: &S, prefix: &str) {
    let d = dir(prefix, "count");
    clean(store, &d).await;
    put(
        store,
        &format!("{prefix}/count-sibling"),
        "x",
        Precondition::None,
    )
    .await;
    assert_eq!(store.count(b(&d)).await.unwrap(), 0, "count: empty prefix");
    for i in 0..3 {
        put(store, &format!("{d}k{i}"), "v", Precondition::Absent).await;
    }
    put(store, &format!("{d}k0"), "v2", Precondition::Exists).await;
    assert_eq!(
        store.count(b(&d)).await.unwrap(),
        3,
        "count: after 3 creates and an update"
    );
    store
        .delete(b(&format!("{d}k1")), Precondition::Exists)
        .await
        .unwrap();
    assert_eq!(
        store.count(b(&d)).await.unwrap(),
        2,
        "count: after a delete"
    );
    assert_eq!(
        store.count(b(&format!("{d}k2"))).await.unwrap(),
        1,
        "count: one-key prefix"
    );
}

/// Reads at older revisions see the state then; future revisions are refused.
pub async fn check_old_revisions<S: KvStore>(store: &S, prefix: &str) {
    let d = dir(prefix, "old-revisions");
    clean(store, &d).await;
    let k = format!("{d}k");
    let (r1, _) = applied("create", put(store, &k, "v1", Precondition::Absent).await);
    let (r2, _) = applied("update", put(store, &k, "v2", Precondition::Exists).await);
    let (r3, _) = applied(
        "delete",
        store.delete(b(&k), Precondition::Exists).await.unwrap(),
    );
    let (r4, _) = applied("recreate", put(store, &k, "v4", Precondition::Absent).await);

    let (kv, rev) = store.get(b(&k), r1).await.unwrap();
    assert_eq!(
        rev, r1,
        "old revisions: get did not read at the asked revision"
    );
    let kv = kv.expect("old revisions: value at first revision missing");
    assert_eq!(
        (kv.value, kv.create_revision, kv.mod_revision),
        (b("v1"), r1, r1)
    );
    let kv = get_at(store, &k, r2)
        .await
        .expect("old revisions: value at second revision missing");
    assert_eq!(
        (kv.value, kv.create_revision, kv.mod_revision),
        (b("v2"), r1, r2)
    );
    assert_eq!(
        get_at(store, &k, r3).await,
        None,
        "old revisions: deleted key visible"
    );
    let kv = get_at(store, &k, 0).await.unwrap();
    assert_eq!(
        (kv.value, kv.create_revision, kv.mod_revision),
        (b("v4"), r4, r4)
    );

    let at = |revision| {
        store.list(ListRequest {
            prefix: b(&d),
            revision,
            ..Default::default()
        })
    };
    let l = at(r2).await.unwrap();
    assert_eq!(
        l.revision, r2,
        "old revisions: list did not read at the asked revision"
    );
    assert_eq!(
        l.items
            .iter()
            .map(|kv| kv.value.clone())
            .collect::<Vec<_>>(),
        vec![b("v2")]
    );
    assert!(
        at(r3).await.unwrap().items.is_empty(),
        "old revisions: list shows a deleted key"
    );

    let future = store.current_revision().await.unwrap() + 1_000_000;
    match store.get(b(&k), future).await {
        Err(StorageError::FutureRevision { requested, .. }) => assert_eq!(requested, future),
        other => panic!("old revisions: get at a future revision gave {other:?}"),
    }
}

/// A watch stream, flattened into single events (progress notices skipped).
struct Events {
    stream: WatchStream,
    pending: VecDeque<WatchEvent>,
    last: Revision,
}

impl Events {
    fn new(stream: WatchStream) -> Events {
        Events {
            stream,
            pending: VecDeque::new(),
            last: 0,
        }
    }

    async fn next(&mut self, what: &str) -> WatchEvent {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return e;
            }
            let item = tokio::time::timeout(WATCH_TIMEOUT, self.stream.next()).await;
            match item {
                Err(_) => panic!("watch: timed out waiting for {what}"),
                Ok(None) => panic!("watch: stream ended while waiting for {what}"),
                Ok(Some(Err(e))) => panic!("watch: error while waiting for {what}: {e}"),
                Ok(Some(Ok(WatchItem::Progress(_)))) => {}
                Ok(Some(Ok(WatchItem::Events(events)))) => {
                    for e in &events {
                        let rev = e.kv.mod_revision;
                        assert!(
                            rev >= self.last,
                            "watch: revision {rev} after {}",
                            self.last
                        );
                        self.last = rev;
                    }
                    self.pending.extend(events);
                }
            }
        }
    }

    #[track_caller]
    fn expect(
        e: WatchEvent,
        kind: EventKind,
        key: &str,
        value: &str,
        rev: Revision,
        prev: Option<(&str, Revision)>,
    ) {
        let what = format!("{kind:?} {key} at {rev}");
        assert_eq!(e.kind, kind, "watch: expected {what}, got {e:?}");
        assert_eq!(e.kv.key, b(key), "watch: expected {what}, got {e:?}");
        assert_eq!(e.kv.mod_revision, rev, "watch: expected {what}, got {e:?}");
        if kind == EventKind::Put {
            assert_eq!(e.kv.value, b(value), "watch: expected {what}, got {e:?}");
        }
        let got_prev = e
            .prev_kv
            .as_ref()
            .map(|p| (p.value.clone(), p.mod_revision));
        assert_eq!(
            got_prev,
            prev.map(|(v, r)| (b(v), r)),
            "watch: prev_kv of {what}"
        );
    }
}

/// Watch from a revision: the history after it in order (prev_kv on updates and deletes),
/// then live events, only under the prefix.
pub async fn check_watch<S: KvStore>(store: &S, prefix: &str) {
    use EventKind::{Delete, Put};
    let d = dir(prefix, "watch");
    clean(store, &d).await;
    let sibling = format!("{prefix}/watch-sibling/x");
    let (k1, k2, k3) = (format!("{d}a"), format!("{d}b"), format!("{d}c"));
    let (r1, _) = applied(
        "create a",
        put(store, &k1, "v1", Precondition::Absent).await,
    );
    let (r2, _) = applied(
        "update a",
        put(store, &k1, "v2", Precondition::ModRevision(r1)).await,
    );
    let (r3, _) = applied(
        "delete a",
        store
            .delete(b(&k1), Precondition::ModRevision(r2))
            .await
            .unwrap(),
    );
    put(store, &sibling, "s1", Precondition::None).await;
    let (r4, _) = applied(
        "create b",
        put(store, &k2, "w1", Precondition::Absent).await,
    );

    let mut from_r1 = Events::new(store.watch(b(&d), r1).await.unwrap());
    let mut from_r3 = Events::new(store.watch(b(&d), r3).await.unwrap());
    let now = store.current_revision().await.unwrap();
    let mut live = Events::new(store.watch(b(&d), now).await.unwrap());

    Events::expect(
        from_r1.next("update a").await,
        Put,
        &k1,
        "v2",
        r2,
        Some(("v1", r1)),
    );
    Events::expect(
        from_r1.next("delete a").await,
        Delete,
        &k1,
        "",
        r3,
        Some(("v2", r2)),
    );
    Events::expect(from_r1.next("create b").await, Put, &k2, "w1", r4, None);
    Events::expect(from_r3.next("create b").await, Put, &k2, "w1", r4, None);

    put(store, &sibling, "s2", Precondition::None).await;
    let (r5, _) = applied(
        "update b",
        put(store, &k2, "w2", Precondition::Exists).await,
    );
    let (r6, _) = applied(
        "delete b",
        store.delete(b(&k2), Precondition::Exists).await.unwrap(),
    );
    let (r7, _) = applied("create c", put(store, &k3, "x", Precondition::Absent).await);
    for w in [&mut from_r1, &mut from_r3, &mut live] {
        Events::expect(
            w.next("live update b").await,
            Put,
            &k2,
            "w2",
            r5,
            Some(("w1", r4)),
        );
        Events::expect(
            w.next("live delete b").await,
            Delete,
            &k2,
            "",
            r6,
            Some(("w2", r5)),
        );
        Events::expect(w.next("live create c").await, Put, &k3, "x", r7, None);
    }
}

/// After `compact(r)`: reads below `r` and watches from before it are `Compacted`; reads at
/// and after `r` and watches from `r` on still work.
pub async fn check_compaction<S: KvStore>(store: &S, prefix: &str) {
    let d = dir(prefix, "compaction");
    clean(store, &d).await;
    let k = format!("{d}k");
    let (r1, _) = applied("v1", put(store, &k, "v1", Precondition::None).await);
    let (r2, _) = applied("v2", put(store, &k, "v2", Precondition::None).await);
    let (r3, _) = applied("v3", put(store, &k, "v3", Precondition::None).await);
    store.compact(r2).await.unwrap();

    match store.get(b(&k), r1).await {
        Err(StorageError::Compacted { requested, .. }) => assert_eq!(requested, r1),
        other => panic!("compaction: get below the compaction point gave {other:?}"),
    }
    let old_list = store.list(ListRequest {
        prefix: b(&d),
        revision: r1,
        ..Default::default()
    });
    match old_list.await {
        Err(StorageError::Compacted { .. }) => {}
        other => panic!("compaction: list below the compaction point gave {other:?}"),
    }
    let kv = get_at(store, &k, r2)
        .await
        .expect("compaction: value at the compaction point");
    assert_eq!(kv.value, b("v2"));
    assert_eq!(
        get_at(store, &k, r3).await.map(|kv| kv.value),
        Some(b("v3"))
    );

    // A compacted watch may fail at once or as the stream's first item.
    match store.watch(b(&d), r1 - 1).await {
        Err(StorageError::Compacted { .. }) => {}
        Err(e) => panic!("compaction: watch from before the compaction point failed with {e}"),
        Ok(mut stream) => {
            let first = tokio::time::timeout(WATCH_TIMEOUT, stream.next()).await;
            match first {
                Ok(Some(Err(StorageError::Compacted { .. }))) => {}
                other => {
                    panic!("compaction: watch from before the compaction point gave {other:?}")
                }
            }
        }
    }
    let mut w = Events::new(store.watch(b(&d), r2).await.unwrap());
    Events::expect(
        w.next("v3").await,
        EventKind::Put,
        &k,
        "v3",
        r3,
        Some(("v2", r2)),
    );
}
