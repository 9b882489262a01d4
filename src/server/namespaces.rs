//! Namespaces that must exist, and the namespace finalizer: upstream runs the latter in
//! kube-controller-manager; kubeshard alone must be enough, so it runs here, on one shard.
//!
//! A namespace being deleted (deletionTimestamp set, `kubernetes` in `spec.finalizers`) has
//! its contents deleted (objects with finalizers are marked and waited for); once empty, the
//! `kubernetes` finalizer is removed and, with no other finalizers left, the namespace goes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::endpoints::rest::object::parse_stored;
use crate::registry::keys;
use crate::registry::strategy::{self, finalizers, now_rfc3339, Resource};
use crate::storage::kv::{ListRequest, Precondition, WriteOutcome};
use crate::storage::thread::StorageClient;

/// The namespaces every cluster has.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// How long start-up waits for the system namespaces before going on without them.
const FIRST_ATTEMPT: Duration = Duration::from_secs(3);

/// How often the finalizer looks for namespaces being deleted.
const SCAN_INTERVAL: Duration = Duration::from_millis(500);

/// Creates the system namespaces that are missing.
pub async fn ensure_system_namespaces(
    storage: &StorageClient,
    prefix: &str,
    namespaces: &Resource,
    extra: &[(Bytes, Bytes)],
) -> Result<(), String> {
    let result = create_namespaces(storage, prefix, namespaces).await;
    // Objects that live in those namespaces (the kubernetes Service), created once.
    for (key, value) in extra {
        storage
            .put(key.clone(), value.clone(), Precondition::Absent)
            .await
            .map_err(|e| format!("{}: {e}", String::from_utf8_lossy(key)))?;
    }
    result
}

async fn create_namespaces(
    storage: &StorageClient,
    prefix: &str,
    namespaces: &Resource,
) -> Result<(), String> {
    for name in SYSTEM_NAMESPACES {
        let obj: Map<String, Value> = serde_json::json!({"metadata": {"name": name}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut obj = strategy::prepare_create(namespaces, obj, None).map_err(|e| e.message)?;
        obj.insert(
            "spec".into(),
            serde_json::json!({"finalizers": ["kubernetes"]}),
        );
        let bytes = serde_json::to_vec(&obj).map_err(|e| e.to_string())?;
        let key = Bytes::from(keys::object_key(
            prefix,
            &namespaces.key_segment,
            None,
            name,
        ));
        storage
            .put(key, Bytes::from(bytes), Precondition::Absent)
            .await
            .map_err(|e| format!("namespace {name}: {e}"))?;
    }
    Ok(())
}

/// The `default/kubernetes` Service that points clients in the cluster at the API server
/// (upstream's bootstrap controller keeps it): its key and stored bytes.
pub fn kubernetes_service(
    resources: &[Resource],
    prefix: &str,
    cluster_ip: std::net::Ipv4Addr,
    port: u16,
) -> Option<(Bytes, Bytes)> {
    let svc = resources
        .iter()
        .find(|r| r.group.is_empty() && r.plural == "services")?;
    let obj = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": cluster_ip.to_string(), "clusterIPs": [cluster_ip.to_string()],
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
                 "type": "ClusterIP", "sessionAffinity": "None"},
    });
    let obj = strategy::prepare_create(svc, obj.as_object().cloned()?, Some("default")).ok()?;
    let key = keys::object_key(prefix, &svc.key_segment, Some("default"), "kubernetes");
    Some((
        Bytes::from(key),
        Bytes::from(serde_json::to_vec(&obj).ok()?),
    ))
}

/// upstream's post-start hook that creates the system namespaces: tried at once (briefly, so
/// that the first requests find `default`), then retried in the background until storage
/// answers. The flag it returns turns the `poststarthook/start-system-namespaces-controller`
/// health check green.
pub fn start_system_namespaces(
    storage: &StorageClient,
    prefix: &str,
    resources: &[Resource],
    extra: Vec<(Bytes, Bytes)>,
) -> Arc<AtomicBool> {
    let ready = Arc::new(AtomicBool::new(false));
    let Some(ns) = resources
        .iter()
        .find(|r| r.group.is_empty() && r.plural == "namespaces")
        .cloned()
    else {
        ready.store(true, Ordering::Release);
        return ready;
    };
    let (storage, prefix) = (storage.clone(), prefix.to_string());
    let flag = Arc::clone(&ready);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("system-namespaces".into())
        .spawn(move || loop {
            match futures_lite::future::block_on(ensure_system_namespaces(
                &storage, &prefix, &ns, &extra,
            )) {
                Ok(()) => {
                    flag.store(true, Ordering::Release);
                    let _ = done_tx.send(());
                    return;
                }
                Err(e) => {
                    log::warn!("creating the system namespaces: {e}; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        });
    match spawned {
        Ok(_) => {
            let _ = done_rx.recv_timeout(FIRST_ATTEMPT);
        }
        Err(e) => log::error!("cannot start the system namespaces hook: {e}"),
    }
    ready
}

/// The health check of that hook, named as upstream names it.
pub fn readiness_check(ready: Arc<AtomicBool>) -> crate::server::health::HealthCheck {
    crate::server::health::HealthCheck::new(
        "poststarthook/start-system-namespaces-controller",
        move || {
            if ready.load(Ordering::Acquire) {
                Ok(())
            } else {
                Err("not finished".into())
            }
        },
    )
}

/// Runs the namespace finalizer until `stop` completes.
pub async fn run_finalizer(
    storage: StorageClient,
    prefix: String,
    resources: Vec<Resource>,
    stop: impl std::future::Future<Output = ()>,
) {
    let work = async {
        loop {
            if let Err(e) = finalize_once(&storage, &prefix, &resources).await {
                log::debug!("namespace finalizer: {e}");
            }
            shards::sleep(SCAN_INTERVAL).await;
        }
    };
    futures_lite::future::or(work, stop).await;
}

async fn finalize_once(
    storage: &StorageClient,
    prefix: &str,
    resources: &[Resource],
) -> Result<(), String> {
    let ns_prefix = keys::collection_prefix(prefix, "namespaces", None);
    let list = storage
        .list(ListRequest {
            prefix: Bytes::from(ns_prefix),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    for kv in list.items {
        let Some(mut ns) = parse_stored(&kv.value) else {
            continue;
        };
        let meta = ns.get("metadata").cloned().unwrap_or(Value::Null);
        if meta.get("deletionTimestamp").is_none() {
            continue;
        }
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let spec_finalizers = finalizers(ns.get("spec").unwrap_or(&Value::Null));
        if spec_finalizers.iter().any(|f| f == "kubernetes") {
            if !delete_contents(storage, prefix, resources, &name).await? {
                continue;
            }
            let rest: Vec<String> = spec_finalizers
                .into_iter()
                .filter(|f| f != "kubernetes")
                .collect();
            if let Some(spec) = ns.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("finalizers".into(), serde_json::json!(rest));
            }
            if rest.is_empty() && finalizers(&meta).is_empty() {
                let _ = storage
                    .delete(kv.key.clone(), Precondition::ModRevision(kv.mod_revision))
                    .await;
                log::info!("namespace {name} deleted");
            } else {
                let bytes = serde_json::to_vec(&ns).map_err(|e| e.to_string())?;
                let _ = storage
                    .put(
                        kv.key.clone(),
                        Bytes::from(bytes),
                        Precondition::ModRevision(kv.mod_revision),
                    )
                    .await;
            }
        } else if spec_finalizers.is_empty() && finalizers(&meta).is_empty() {
            let _ = storage
                .delete(kv.key.clone(), Precondition::ModRevision(kv.mod_revision))
                .await;
        }
    }
    Ok(())
}

/// Deletes what a namespace holds; true once nothing is left.
async fn delete_contents(
    storage: &StorageClient,
    prefix: &str,
    resources: &[Resource],
    ns: &str,
) -> Result<bool, String> {
    let started = Instant::now();
    let mut empty = true;
    let mut seen = std::collections::HashSet::new();
    for res in resources.iter().filter(|r| r.namespaced) {
        if !seen.insert(res.key_segment.clone()) {
            continue;
        }
        let coll = keys::collection_prefix(prefix, &res.key_segment, Some(ns));
        let list = storage
            .list(ListRequest {
                prefix: Bytes::from(coll),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        for kv in list.items {
            empty = false;
            let Some(mut obj) = parse_stored(&kv.value) else {
                continue;
            };
            let meta = obj.get("metadata").cloned().unwrap_or(Value::Null);
            if finalizers(&meta).is_empty() {
                match storage
                    .delete(kv.key.clone(), Precondition::ModRevision(kv.mod_revision))
                    .await
                {
                    Ok(WriteOutcome::Applied { .. })
                    | Ok(WriteOutcome::PreconditionFailed { .. }) => {}
                    Err(e) => return Err(e.to_string()),
                }
            } else if meta.get("deletionTimestamp").is_none() {
                if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.insert("deletionTimestamp".into(), Value::String(now_rfc3339()));
                    m.insert("deletionGracePeriodSeconds".into(), Value::from(0));
                }
                let bytes = serde_json::to_vec(&obj).map_err(|e| e.to_string())?;
                let _ = storage
                    .put(
                        kv.key.clone(),
                        Bytes::from(bytes),
                        Precondition::ModRevision(kv.mod_revision),
                    )
                    .await;
            }
        }
    }
    log::debug!("namespace {ns}: contents pass took {:?}", started.elapsed());
    Ok(empty)
}
