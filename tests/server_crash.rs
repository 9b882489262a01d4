//! Whole-server crash loops: writers create, update and delete ConfigMaps over HTTPS while the
//! kubeshard process is SIGKILLed at a random moment, many times on one data dir (and on one
//! etcd). After every restart — on the same port, which must bind at once — every acknowledged
//! write is there with its value and resourceVersion, a write whose answer was lost is either
//! wholly there or wholly absent, revisions never go backwards, and a watch from a revision
//! acknowledged before the kill either resumes with every later event, in order, once, or
//! answers 410 Gone.
//!
//! `KUBESHARD_CRASH_TRIALS` sets the kills per backend (default 4 here; `scripts/crash-loop.sh`
//! runs 100). Each test prints one `crash-loop <backend>:` summary line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::etcd::EtcdServer;
use support::rt;
use support::server::Kubeshard;
use support::watch::{WatchEnd, WatchEvents};

const NS: &str = "default";
const WRITERS: usize = 6;
const LABEL: &str = "crash-loop=1";

fn trials() -> u32 {
    std::env::var("KUBESHARD_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

/// A small deterministic generator (xorshift), seeded per run and printed, so a failing run
/// can be replayed with `KUBESHARD_CRASH_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn seed() -> u64 {
    std::env::var("KUBESHARD_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
                | 1
        })
}

/// What a write would leave behind if it was applied.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Present(String),
    Absent,
}

/// What the server said about one key, as far as the clients know.
#[derive(Clone, Debug, Default)]
struct KeyState {
    /// The last acknowledged state: (resourceVersion, value), or None (never created, or deleted).
    acked: Option<(u64, String)>,
    /// A write sent whose answer never came (the server died): it may or may not be applied.
    in_flight: Option<Outcome>,
}

/// Every key and every acknowledged write, over all trials.
#[derive(Default)]
struct Ledger {
    keys: BTreeMap<String, KeyState>,
    /// resourceVersion -> (key, what the write left), for every acknowledged write.
    events: BTreeMap<u64, (String, Outcome)>,
    max_acked: u64,
    writes_acked: u64,
    /// Keys whose delete was applied (answered, or found applied though its answer was lost);
    /// their revisions are unknown.
    deletes: HashSet<String>,
}

impl Ledger {
    /// A write was answered; `rv` is the object's resourceVersion (deletes answer with a
    /// Status, as upstream's do for ConfigMaps, so theirs is unknown).
    fn ack(&mut self, key: &str, rv: Option<u64>, outcome: Outcome) {
        let st = self.keys.entry(key.to_string()).or_default();
        st.in_flight = None;
        self.writes_acked += 1;
        let Some(rv) = rv else {
            st.acked = None;
            self.deletes.insert(key.to_string());
            return;
        };
        st.acked = match &outcome {
            Outcome::Present(v) => Some((rv, v.clone())),
            Outcome::Absent => None,
        };
        assert!(
            self.events.insert(rv, (key.to_string(), outcome)).is_none(),
            "resourceVersion {rv} acknowledged twice"
        );
        self.max_acked = self.max_acked.max(rv);
    }
}

fn value_for(key: &str, n: u64) -> String {
    // 50 B to ~2 KB, so log frames and snapshots vary in size.
    let filler = (key.len() as u64 * 37 + n * 101) % 2000;
    format!("{key}:{n}:{}", "x".repeat(filler as usize))
}

fn rv_of(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no resourceVersion in {obj}"))
}

/// One writer: creates, updates (with a resourceVersion precondition) and deletes its own
/// keys until a request fails (the server was killed) or `stop` passes.
async fn writer(
    client: reqwest::Client,
    base: String,
    prefix: String,
    ledger: Arc<Mutex<Ledger>>,
    mut rng: Rng,
    stop: Instant,
) {
    let url = format!("{base}/api/v1/namespaces/{NS}/configmaps");
    let mut n = 0u64;
    let mut mine: Vec<String> = Vec::new();
    while Instant::now() < stop {
        n += 1;
        let pick = rng.below(10);
        let (key, outcome, request) = if mine.is_empty() || pick < 5 {
            let key = format!("{prefix}-{n}");
            let value = value_for(&key, n);
            let body = json!({"metadata": {"name": key, "labels": {"crash-loop": "1"}}, "data": {"v": value}});
            (key, Outcome::Present(value), client.post(&url).json(&body))
        } else {
            let key = mine[rng.below(mine.len() as u64) as usize].clone();
            let rv = ledger.lock().unwrap().keys[&key]
                .acked
                .as_ref()
                .map(|a| a.0)
                .expect("a key of mine is present");
            if pick < 8 {
                let value = value_for(&key, n);
                let body = json!({"metadata": {"name": key, "resourceVersion": rv.to_string(), "labels": {"crash-loop": "1"}}, "data": {"v": value}});
                (
                    key.clone(),
                    Outcome::Present(value),
                    client.put(format!("{url}/{key}")).json(&body),
                )
            } else {
                let body = json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": rv.to_string()}});
                (
                    key.clone(),
                    Outcome::Absent,
                    client.delete(format!("{url}/{key}")).json(&body),
                )
            }
        };
        ledger
            .lock()
            .unwrap()
            .keys
            .entry(key.clone())
            .or_default()
            .in_flight = Some(outcome.clone());
        let answer = match request.send().await {
            Ok(r) => {
                let status = r.status();
                match r.json::<Value>().await {
                    Ok(body) => Some((status, body)),
                    Err(_) => None,
                }
            }
            Err(_) => None,
        };
        let Some((status, body)) = answer else {
            return; // no answer: the server is gone; the write stays in flight
        };
        assert!(
            status.is_success(),
            "{key}: {status} {body} (a writer owns its keys: no conflicts)"
        );
        let rv = match outcome {
            Outcome::Present(_) => Some(rv_of(&body)),
            Outcome::Absent => {
                assert_eq!(body["status"], "Success", "{body}");
                None
            }
        };
        ledger.lock().unwrap().ack(&key, rv, outcome.clone());
        match outcome {
            Outcome::Present(_) => {
                if !mine.contains(&key) {
                    mine.push(key);
                }
            }
            Outcome::Absent => mine.retain(|k| *k != key),
        }
    }
}

/// Checks the restarted server against the ledger, then settles every in-flight write from
/// what is stored. Returns the list's resourceVersion and the writes checked.
async fn verify(ks: &Kubeshard, ledger: &mut Ledger) -> (u64, u64) {
    let client = ks.client(true, true);
    let list: Value = client
        .get(ks.url(&format!(
            "/api/v1/namespaces/{NS}/configmaps?labelSelector={LABEL}"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list_rv: u64 = list["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("list resourceVersion");
    assert!(
        list_rv >= ledger.max_acked,
        "revisions went backwards: the list is at {list_rv}, {} was acknowledged",
        ledger.max_acked
    );
    let mut stored: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for item in list["items"].as_array().expect("items") {
        let name = item["metadata"]["name"].as_str().unwrap().to_string();
        let value = item["data"]["v"].as_str().unwrap_or_default().to_string();
        stored.insert(name, (rv_of(item), value));
    }
    for name in stored.keys() {
        assert!(
            ledger.keys.contains_key(name),
            "{name} is stored but was never written"
        );
    }
    let mut checked = 0;
    let mut settled = Vec::new();
    for (key, st) in &ledger.keys {
        checked += 1;
        let now = stored.get(key);
        let acked_ok = match (&st.acked, now) {
            (Some((rv, v)), Some((srv, sv))) => rv == srv && v == sv,
            (None, None) => true,
            _ => false,
        };
        if acked_ok {
            if st.in_flight.is_some() {
                settled.push((key.clone(), None));
            }
            continue;
        }
        // Not the acknowledged state: only the write in flight at the kill may explain it.
        let applied = match (&st.in_flight, now) {
            (Some(Outcome::Present(v)), Some((srv, sv))) => {
                v == sv && st.acked.as_ref().is_none_or(|(rv, _)| srv > rv)
            }
            (Some(Outcome::Absent), None) => true,
            _ => false,
        };
        assert!(
            applied,
            "{key}: acknowledged {:?}, in flight {:?}, stored {:?}",
            st.acked.as_ref().map(|(rv, v)| (rv, v.len())),
            st.in_flight,
            now.map(|(rv, v)| (rv, v.len()))
        );
        settled.push((key.clone(), Some(now.cloned())));
    }
    for (key, applied) in settled {
        let st = ledger.keys.get_mut(&key).expect("key");
        st.in_flight = None;
        if let Some(now) = applied {
            // The unacknowledged write was applied: it is what the key holds now.
            match &now {
                Some((rv, v)) => {
                    ledger
                        .events
                        .insert(*rv, (key.clone(), Outcome::Present(v.clone())));
                    ledger.max_acked = ledger.max_acked.max(*rv);
                }
                None => {
                    ledger.deletes.insert(key.clone());
                }
            }
            st.acked = now;
        }
    }
    (list_rv, checked)
}

/// How a watch from a revision acknowledged before the kill ended.
#[derive(Debug, PartialEq)]
enum Resumed {
    NoGap(usize),
    Gone,
}

/// Watches from `from` and checks the events against the ledger: every acknowledged write
/// after `from`, in order, once; or 410 Gone.
async fn watch_from(ks: &Kubeshard, ledger: &Ledger, from: u64) -> Resumed {
    let expected: Vec<u64> = ledger.events.range(from + 1..).map(|(rv, _)| *rv).collect();
    let url = ks.url(&format!(
        "/api/v1/namespaces/{NS}/configmaps?watch=1&labelSelector={LABEL}&resourceVersion={from}&timeoutSeconds=20"
    ));
    let r = ks.client(true, true).get(url).send().await.unwrap();
    if r.status() == reqwest::StatusCode::GONE {
        return Resumed::Gone;
    }
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let mut events = WatchEvents::new(r);
    let mut seen: Vec<u64> = Vec::new();
    let mut last: Option<u64> = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.len() < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = match events.next(left).await {
            Ok(ev) => ev,
            Err(WatchEnd::Silent) => {
                panic!("watch from {from}: saw {seen:?}, expected {expected:?}")
            }
            Err(e) => panic!("watch ended early: {e:?}"),
        };
        if ev["type"] == "ERROR" {
            assert_eq!(ev["object"]["code"], 410, "{ev}");
            assert!(seen.is_empty(), "410 after events: {ev}");
            return Resumed::Gone;
        }
        let rv = rv_of(&ev["object"]);
        let name = ev["object"]["metadata"]["name"].as_str().unwrap();
        assert!(
            last.is_none_or(|l| rv > l),
            "watch from {from}: {rv} after {last:?} (out of order or repeated)"
        );
        last = Some(rv);
        if !ledger.events.contains_key(&rv)
            && ev["type"] == "DELETED"
            && ledger.deletes.contains(name)
        {
            continue; // an applied delete (its revision was never known)
        }
        let (key, outcome) = ledger
            .events
            .get(&rv)
            .unwrap_or_else(|| panic!("event at {rv} for {name} was never acknowledged"));
        assert_eq!(key, name, "event at {rv}");
        let kind = ev["type"].as_str().unwrap();
        match outcome {
            Outcome::Absent => assert_eq!(kind, "DELETED", "event at {rv}"),
            Outcome::Present(v) => {
                assert!(
                    kind == "ADDED" || kind == "MODIFIED",
                    "event at {rv}: {kind}"
                );
                assert_eq!(ev["object"]["data"]["v"].as_str(), Some(v.as_str()));
            }
        }
        seen.push(rv);
    }
    assert_eq!(seen, expected, "watch from {from}: a gap");
    Resumed::NoGap(seen.len())
}

/// Runs the crash loop on one backend (`args` select it) and prints the summary.
fn crash_loop(backend: &str, data_dir: &Path, args: &[&str]) {
    let trials = trials();
    let seed = seed();
    println!("crash-loop {backend}: seed {seed} (KUBESHARD_CRASH_SEED replays it)");
    let mut rng = Rng(seed);
    let port = support::server::free_port_for_restarts();
    let mut ledger = Ledger::default();
    let (mut checked, mut resumed, mut gone, mut events_checked) = (0u64, 0u32, 0u32, 0usize);
    let mut slowest_start = Duration::ZERO;
    rt().block_on(async {
        for trial in 0..trials {
            let t0 = Instant::now();
            let ks = Kubeshard::start_on(port, data_dir, args, None);
            slowest_start = slowest_start.max(t0.elapsed());
            if trial > 0 {
                let (list_rv, n) = verify(&ks, &mut ledger).await;
                checked += n;
                // A watch from an acknowledged revision of the last trial.
                let from = ledger
                    .events
                    .keys()
                    .rev()
                    .nth(rng.below(20) as usize)
                    .copied()
                    .unwrap_or(list_rv);
                match watch_from(&ks, &ledger, from).await {
                    Resumed::NoGap(n) => {
                        resumed += 1;
                        events_checked += n;
                    }
                    Resumed::Gone => gone += 1,
                }
            }
            let ledger_arc = Arc::new(Mutex::new(std::mem::take(&mut ledger)));
            let stop = Instant::now() + Duration::from_secs(30);
            let tasks: Vec<_> = (0..WRITERS)
                .map(|w| {
                    tokio::spawn(writer(
                        ks.client(true, w % 2 == 0),
                        ks.url(""),
                        format!("t{trial}-w{w}"),
                        Arc::clone(&ledger_arc),
                        Rng(rng.next() | 1),
                        stop,
                    ))
                })
                .collect();
            // Let the writers get going, then kill at a random moment.
            let before = ledger_arc.lock().unwrap().writes_acked;
            let warm = Instant::now() + Duration::from_secs(10);
            while ledger_arc.lock().unwrap().writes_acked < before + 20 && Instant::now() < warm {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.below(700))).await;
            ks.signal(9);
            for t in tasks {
                t.await.expect("writer task");
            }
            drop(ks);
            ledger = Arc::try_unwrap(ledger_arc)
                .ok()
                .expect("writers done")
                .into_inner()
                .unwrap();
        }
        // A last start checks the last kill.
        let ks = Kubeshard::start_on(port, data_dir, args, None);
        let (list_rv, n) = verify(&ks, &mut ledger).await;
        checked += n;
        // New writes continue above every revision seen before.
        let r: Value = ks
            .client(true, true)
            .post(ks.url(&format!("/api/v1/namespaces/{NS}/configmaps")))
            .json(&json!({"metadata": {"name": "after-the-last-kill"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(rv_of(&r) > list_rv.max(ledger.max_acked), "{r}");
    });
    let keys: HashSet<&String> = ledger.keys.keys().collect();
    println!(
        "crash-loop {backend}: {trials} kills, {} writes acknowledged over {} keys, {checked} key states checked after restarts, 0 acknowledged writes lost; watches from before a kill: {resumed} resumed with no gap ({events_checked} events checked), {gone} answered 410; slowest restart to serving {slowest_start:?}",
        ledger.writes_acked,
        keys.len()
    );
    assert!(
        ledger.writes_acked > u64::from(trials) * 20,
        "the writers wrote"
    );
}

#[test]
fn embedded_store_survives_sigkill_under_https_writes() {
    let dir = tempfile::tempdir().unwrap();
    crash_loop("embedded", &dir.path().join("data"), &[]);
}

#[test]
fn etcd_backend_survives_sigkill_under_https_writes() {
    let etcd = EtcdServer::start_new();
    let dir = tempfile::tempdir().unwrap();
    let servers = format!("--etcd-servers={}", etcd.endpoint());
    crash_loop("etcd", &dir.path().join("data"), &[&servers]);
}
