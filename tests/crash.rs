//! Crash consistency of both backends: a real writer process (`src/bin/kubeshard-crash-writer.rs`)
//! is killed with SIGKILL mid-writes, many times, in one directory. After every kill the store
//! is reopened here and must hold every write the writer had acknowledged, with the revisions
//! it was acknowledged at, and nothing damaged or half-applied.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kubeshard::storage::embedded::{EmbeddedOptions, EmbeddedStore};
use kubeshard::storage::etcd::{EtcdConfig, EtcdStore};
use kubeshard::storage::kv::{KvStore, ListRequest, Revision};

const ROUNDS: u32 = 20;
/// The whole test stays well under a minute; rounds stop early past this.
const BUDGET: Duration = Duration::from_secs(40);

/// Must match `options()` in the writer.
fn options() -> EmbeddedOptions {
    EmbeddedOptions {
        snapshot_log_bytes: 64 << 10,
        max_history_events: 2000,
        ..Default::default()
    }
}

/// Must match `value_for` in the writer.
fn value_for(key: &str) -> Bytes {
    let filler = key.bytes().map(usize::from).sum::<usize>() % 700;
    Bytes::from(format!("{key}#{}", "x".repeat(filler)))
}

/// The writer process: a binary of this package, so cargo builds it (fresh) for every
/// integration test run.
fn writer_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubeshard-crash-writer"))
}

/// What the writer acknowledged, over all rounds.
#[derive(Default)]
struct Acked {
    /// Created key -> revision.
    created: HashMap<String, Revision>,
    /// Deleted key -> revision.
    deleted: HashMap<String, Revision>,
    /// Counter key -> (revision, value) of the last acknowledged increment.
    counters: BTreeMap<String, (Revision, u64)>,
    max_revision: Revision,
}

impl Acked {
    fn record(&mut self, line: &str) {
        let parts: Vec<&str> = line.split(' ').collect();
        let rev = |s: &str| s.parse::<Revision>().unwrap();
        match parts.as_slice() {
            ["P", key, r] => self.created.insert((*key).to_owned(), rev(r)),
            ["D", key, r] => self.deleted.insert((*key).to_owned(), rev(r)),
            ["C", key, r, n] => {
                self.counters
                    .insert((*key).to_owned(), (rev(r), n.parse().unwrap()));
                None
            }
            _ => panic!("unexpected writer line {line:?}"),
        };
        let r = rev(parts[2]);
        self.max_revision = self.max_revision.max(r);
    }
}

/// Runs the writer until it has acknowledged `min_acks` writes and then `extra` more time,
/// kills it with SIGKILL, and records every line it printed whole.
fn run_and_kill(
    bin: &Path,
    dir: &Path,
    round: u32,
    min_acks: usize,
    extra: Duration,
    acked: &mut Acked,
) -> usize {
    let mut child = Command::new(bin)
        .arg(dir)
        .arg(round.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut line = String::new();
        loop {
            line.clear();
            match out.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                // A line cut by the kill is not a report; the write may or may not be there.
                Ok(_) if !line.ends_with('\n') => break,
                Ok(_) => {
                    if tx.send(line.trim_end().to_owned()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lines = Vec::new();
    while lines.len() < min_acks {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) => lines.push(l),
            Err(_) => {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("round {round}: writer exited early with {status}");
                }
                assert!(
                    Instant::now() < deadline,
                    "round {round}: writer made no progress"
                );
            }
        }
    }
    std::thread::sleep(extra);
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "round {round}: writer was not killed");
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    for l in &lines {
        acked.record(l);
    }
    lines.len()
}

/// Reopens the store (or reconnects to etcd) and checks it against everything acknowledged.
fn verify(dir: &Path, round: u32, acked: &Acked) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let target = dir.to_string_lossy().into_owned();
    if target.starts_with("http://") {
        rt.block_on(async {
            let store = EtcdStore::connect(EtcdConfig::new(vec![target]))
                .await
                .unwrap();
            check(&store, round, acked).await;
        });
    } else {
        let store = EmbeddedStore::open(dir, options())
            .unwrap_or_else(|e| panic!("round {round}: reopening after the kill failed: {e}"));
        rt.block_on(check(&store, round, acked));
    }
}

async fn check<S: KvStore>(store: &S, round: u32, acked: &Acked) {
    {
        let current = store.current_revision().await.unwrap();
        assert!(
            current >= acked.max_revision,
            "round {round}: revision {current} went back below acknowledged {}",
            acked.max_revision
        );
        let all = store
            .list(ListRequest {
                prefix: Bytes::from_static(b"/crash/"),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut revisions = HashSet::new();
        let mut state = HashMap::new();
        for kv in &all.items {
            let key = std::str::from_utf8(&kv.key).unwrap();
            // etcd may still commit a write the killed writer had sent before it died, so the
            // bound is the list's own revision, not the one read before it.
            assert!(
                kv.mod_revision <= all.revision.max(current)
                    && kv.create_revision <= kv.mod_revision
            );
            assert!(
                revisions.insert(kv.mod_revision),
                "round {round}: revision {} used twice",
                kv.mod_revision
            );
            if !key.starts_with("/crash/counter/") {
                assert_eq!(
                    kv.value,
                    value_for(key),
                    "round {round}: damaged value at {key}"
                );
                assert_eq!(kv.create_revision, kv.mod_revision);
            }
            state.insert(key.to_owned(), kv.clone());
        }
        for (key, rev) in &acked.created {
            if acked.deleted.contains_key(key) {
                continue;
            }
            let Some(kv) = state.get(key) else {
                // The writer deletes key i - 2 after creating key i; that delete may be
                // durable without having been reported.
                let (prefix, i) = key.rsplit_once('/').unwrap();
                let i: u64 = i.parse().unwrap();
                let trigger = format!("{prefix}/{:08}", i + 2);
                let may_be_deleted = i % 4 == 1
                    && (state.contains_key(&trigger) || acked.created.contains_key(&trigger));
                assert!(
                    may_be_deleted,
                    "round {round}: acknowledged create of {key} at {rev} lost"
                );
                continue;
            };
            assert_eq!(
                kv.mod_revision, *rev,
                "round {round}: {key} at another revision"
            );
        }
        for (key, rev) in &acked.deleted {
            assert!(
                !state.contains_key(key),
                "round {round}: acknowledged delete of {key} at {rev} lost"
            );
            let (old, _) = store.get(Bytes::from(key.clone()), 0).await.unwrap();
            assert!(old.is_none());
        }
        for (key, (rev, n)) in &acked.counters {
            let kv = state
                .get(key)
                .unwrap_or_else(|| panic!("round {round}: counter {key} lost"));
            let v: u64 = std::str::from_utf8(&kv.value)
                .unwrap()
                .parse()
                .unwrap_or_else(|_| panic!("round {round}: damaged counter {key}"));
            // At most one unacknowledged increment can follow the last acknowledged one.
            assert!(
                v == *n || v == n + 1,
                "round {round}: counter {key} is {v}, acknowledged {n}"
            );
            if v == *n {
                assert_eq!(
                    kv.mod_revision, *rev,
                    "round {round}: counter {key} revision"
                );
            } else {
                assert!(kv.mod_revision > *rev);
            }
        }
    }
}

#[test]
fn sigkill_mid_writes_loses_no_acknowledged_write() {
    let built = Instant::now();
    let bin = writer_binary();
    eprintln!("writer built in {:?}", built.elapsed());
    let start = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let mut acked = Acked::default();
    let mut rounds = 0;
    for round in 0..ROUNDS {
        if start.elapsed() > BUDGET {
            break;
        }
        let min_acks = 50 + (round as usize * 97) % 400;
        let extra = Duration::from_millis(u64::from(round * 13 % 40));
        let lines = run_and_kill(&bin, &dir, round, min_acks, extra, &mut acked);
        assert!(lines >= min_acks);
        verify(&dir, round, &acked);
        rounds += 1;
        eprintln!(
            "round {round}: {lines} writes acknowledged, {:?} so far",
            start.elapsed()
        );
    }
    let snapshots = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("snap-")
        })
        .count();
    eprintln!(
        "{rounds} rounds, {} creates, {} deletes, {} counters acknowledged, revision {}, {snapshots} snapshot(s), {:?}",
        acked.created.len(),
        acked.deleted.len(),
        acked.counters.len(),
        acked.max_revision,
        start.elapsed()
    );
    assert!(rounds >= 10, "only {rounds} rounds in the time budget");
    assert!(snapshots > 0, "the writer never got to snapshot");
}

/// The same crash test through the etcd backend: the writer process (kubeshard's storage layer
/// talking to a real etcd) is SIGKILLed mid-writes; every write it acknowledged must be in etcd.
#[test]
fn sigkill_mid_writes_through_the_etcd_backend_loses_no_acknowledged_write() {
    let etcd = support::etcd::EtcdServer::start_new();
    let bin = writer_binary();
    let target = PathBuf::from(etcd.endpoint());
    let start = Instant::now();
    let mut acked = Acked::default();
    let mut rounds = 0;
    for round in 0..ROUNDS / 2 {
        if start.elapsed() > BUDGET {
            break;
        }
        let min_acks = 50 + (round as usize * 97) % 200;
        let extra = Duration::from_millis(u64::from(round * 13 % 40));
        let lines = run_and_kill(&bin, &target, round, min_acks, extra, &mut acked);
        assert!(lines >= min_acks);
        // etcd outlives the writer: requests it had already received still commit. Let them
        // land before checking and before the next writer reads its counters.
        std::thread::sleep(Duration::from_millis(300));
        verify(&target, round, &acked);
        rounds += 1;
    }
    assert!(rounds >= 5, "only {rounds} rounds in the time budget");
    assert!(!acked.created.is_empty() && !acked.counters.is_empty());
}
