//! A Store over a fresh embedded store in a temporary directory, run on a glommio executor as
//! a shard runs it: the harness of the Store's tests and of the admission plugins' tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use super::{AdmissionChain, RequestFacts, Store, Stored};
use crate::registry::resources::{KindsConfig, Resource, ResourceTable};
use crate::storage::cache::object::Decorator;
use crate::storage::embedded::{EmbeddedOptions, EmbeddedStore};
use crate::storage::thread::{StorageClient, StorageConfig, StorageThread};

/// Runs `test` on a glommio executor with a Store over a fresh embedded store.
pub(crate) fn with_store<F, Fut>(admission: AdmissionChain, test: F)
where
    F: FnOnce(Rc<Store>, StorageClient) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let cfg = StorageConfig {
        request_queue_capacity: 1024,
        event_lane_capacity: 1024,
        op_timeout: Duration::from_secs(10),
        compaction_interval: Duration::ZERO,
        health_interval: Duration::from_secs(60),
        watch_prefix: Bytes::from_static(b"/registry/"),
        decorator: Arc::new(Decorator::default()),
    };
    let (thread, client, _lanes) = StorageThread::start(
        move || async move { EmbeddedStore::open(&path, EmbeddedOptions::default()) },
        cfg,
        1,
    )
    .unwrap();
    let exec = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
        .make()
        .unwrap();
    let storage = client.clone();
    exec.run(async move {
        let table = Rc::new(ResourceTable::builtin(KindsConfig::default()));
        let store = Rc::new(Store::new(
            table,
            client,
            "/registry".into(),
            None,
            admission,
            shards::signal::Signal::new("test-stopping"),
        ));
        test(store, storage).await;
    });
    thread.stop();
}

pub(crate) fn facts(namespace: Option<&str>, name: &str) -> RequestFacts {
    RequestFacts {
        field_validation: crate::openapi::validate::Directive::Warn,
        ..RequestFacts::internal(namespace, name, Instant::now() + Duration::from_secs(10))
    }
}

pub(crate) fn row(store: &Store, group: &str, plural: &str) -> Rc<Resource> {
    store.table().get(group, "v1", plural).unwrap()
}

pub(crate) fn body(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

pub(crate) fn parsed(s: &Stored) -> Value {
    serde_json::from_slice(&s.body).unwrap()
}
