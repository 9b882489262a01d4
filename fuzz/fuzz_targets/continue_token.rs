//! List `continue` tokens. The token codec (`encode_continue` / `decode_continue` in
//! `src/registry/store/list.rs`) is private, so this drives it as a client does: the query
//! `continue=<token>&limit=<n>` through `ListOptions::from_query` into `Store::list` over a
//! real embedded store (in /dev/shm) behind the storage thread, on a glommio executor, with
//! six ConfigMaps in two namespaces. Reads go to the backend (the Store has no watch cache).
//!
//! Input: byte 0 picks the limit (0-3) and the namespace (`default` or all); the rest is the
//! token (lossy UTF-8).
//! Properties: never panics; a token is refused only as a client error (400, 410 for a
//! compacted revision, 504 for a future one), never 500; a token the server would accept
//! (base64 of `{"v":"meta.k8s.io/v1","rv":>0,"start":...}`) gives only items after its
//! start key; a token the server hands out is accepted on the next call, and the pages it
//! chains give every remaining item once, in key order.
#![no_main]

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use kubeshard::registry::keys::collection_prefix;
use kubeshard::registry::resources::{KindsConfig, Resource, ResourceTable};
use kubeshard::registry::store::{AdmissionChain, ListOptions, Listed, RequestFacts, Store};
use kubeshard::request::Query;
use kubeshard::storage::cache::object::Decorator;
use kubeshard::storage::embedded::{EmbeddedOptions, EmbeddedStore};
use kubeshard::storage::kv::Precondition;
use kubeshard::storage::thread::{StorageConfig, StorageThread};
use kubeshard_fuzz::percent_encode_all;
use libfuzzer_sys::fuzz_target;

struct World {
    exec: glommio::LocalExecutor,
    store: Rc<Store>,
    res: Rc<Resource>,
    _thread: StorageThread,
}

const NAMESPACES: [&str; 2] = ["default", "other"];
const PER_NAMESPACE: usize = 3;

fn world() -> World {
    let dir = PathBuf::from(format!(
        "/dev/shm/kubeshard-fuzz-continue-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.clone();
    let cfg = StorageConfig {
        request_queue_capacity: 1024,
        event_lane_capacity: 1024,
        op_timeout: Duration::from_secs(10),
        compaction_interval: Duration::ZERO,
        health_interval: Duration::from_secs(3600),
        watch_prefix: Bytes::from_static(b"/registry/"),
        decorator: Arc::new(Decorator::default()),
    };
    let (thread, client, _lanes) = StorageThread::start(
        move || async move { EmbeddedStore::open(&path, EmbeddedOptions::default()) },
        cfg,
        1,
    )
    .expect("storage thread");
    let exec = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .make()
        .expect("glommio executor");
    let table = Rc::new(ResourceTable::builtin(KindsConfig::default()));
    let res = table.get("", "v1", "configmaps").expect("configmaps row");
    let c = client.clone();
    exec.run(async move {
        for ns in NAMESPACES {
            for i in 0..PER_NAMESPACE {
                let key = format!("/registry/configmaps/{ns}/cm-{i}");
                let value = format!(
                    r#"{{"kind":"ConfigMap","apiVersion":"v1","metadata":{{"name":"cm-{i}","namespace":"{ns}"}},"data":{{"k":"v"}}}}"#
                );
                c.put(Bytes::from(key), Bytes::from(value), Precondition::None)
                    .await
                    .expect("put");
            }
        }
    });
    // Every write is done: the store serves from memory from here on.
    let _ = std::fs::remove_dir_all(&dir);
    let store = Rc::new(Store::new(
        table,
        client,
        "/registry".into(),
        None,
        AdmissionChain::default(),
        shards::signal::Signal::new("fuzz-stopping"),
    ));
    World {
        exec,
        store,
        res,
        _thread: thread,
    }
}

thread_local! {
    static WORLD: World = world();
}

#[derive(serde::Deserialize)]
struct Token {
    v: String,
    rv: i64,
    start: String,
}

/// The token as the server reads it, if it would accept it.
fn accepted(token: &str) -> Option<Token> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()?;
    let t: Token = serde_json::from_slice(&raw).ok()?;
    (t.v == "meta.k8s.io/v1" && t.rv > 0 && !t.start.contains("..") && !t.start.starts_with('/'))
        .then_some(t)
}

fn list(
    w: &World,
    ns: Option<&str>,
    limit: usize,
    token: &str,
) -> Result<Listed, kubeshard::api::status::Status> {
    let q = format!("continue={}&limit={limit}", percent_encode_all(token));
    let opts = ListOptions::from_query(&Query::parse(Some(&q))).expect("list options");
    let req = RequestFacts::internal(ns, "", Instant::now() + Duration::from_secs(30));
    w.exec.run(w.store.list(&w.res, &req, &opts))
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let limit = usize::from(sel & 3);
    let ns = (sel & 4 == 0).then_some("default");
    let token = String::from_utf8_lossy(rest);
    WORLD.with(|w| {
        let prefix = collection_prefix("/registry", w.res.api.key_segment, ns);
        let first = match list(w, ns, limit, &token) {
            Ok(l) => l,
            Err(e) => {
                assert!(
                    matches!(e.code, 400 | 410 | 504),
                    "token {token:?}: {} {}",
                    e.code,
                    e.message
                );
                if e.code == 400 {
                    assert!(
                        accepted(&token).is_none(),
                        "a well-formed token {token:?} is refused: {}",
                        e.message
                    );
                }
                return;
            }
        };
        let start = if token.is_empty() {
            None
        } else {
            let t = accepted(&token).unwrap_or_else(|| {
                panic!("the server accepted a token it should refuse: {token:?}")
            });
            Some(format!("{prefix}{}", t.start.trim_end_matches('\u{0}')))
        };
        if let Some(start) = &start {
            for item in &first.items {
                assert!(
                    item.key.as_ref() > start.as_bytes(),
                    "item {:?} is not after the token's start {start:?}",
                    String::from_utf8_lossy(&item.key)
                );
            }
        }
        if limit > 0 {
            assert!(first.items.len() <= limit);
        }
        // Follow the chain the server hands out: every item once, in key order.
        let mut keys: Vec<Bytes> = first.items.iter().map(|i| i.key.clone()).collect();
        let mut next = first.continue_token.clone();
        let mut pages = 0;
        while let Some(t) = next {
            pages += 1;
            assert!(pages < 16, "the continue chain does not end");
            let page = list(w, ns, limit, &t).unwrap_or_else(|e| {
                panic!(
                    "the server's own token {t:?} is refused: {} {}",
                    e.code, e.message
                )
            });
            assert_eq!(
                page.revision, first.revision,
                "a continued list changed revision"
            );
            keys.extend(page.items.iter().map(|i| i.key.clone()));
            next = page.continue_token;
        }
        for pair in keys.windows(2) {
            assert!(
                pair[0] < pair[1],
                "pages out of order or repeated: {keys:?}"
            );
        }
        if start.is_none() {
            let all = if ns.is_some() {
                PER_NAMESPACE
            } else {
                PER_NAMESPACE * NAMESPACES.len()
            };
            assert_eq!(keys.len(), all, "pages lost items: {keys:?}");
        }
        assert!(keys.iter().all(|k| k.starts_with(prefix.as_bytes())));
    });
});
