//! Namespaces that must exist, and the namespace finalizer: upstream runs the latter in
//! kube-controller-manager; kubeshard alone must be enough, so it runs here, on one shard.
//!
//! A namespace being deleted (deletionTimestamp set, `kubernetes` in `spec.finalizers`) has
//! its contents deleted (objects with finalizers are marked and waited for); once empty, the
//! `kubernetes` finalizer is removed and, with no other finalizers left, the namespace goes.

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

/// How often the finalizer looks for namespaces being deleted.
const SCAN_INTERVAL: Duration = Duration::from_millis(500);

/// Creates the system namespaces that are missing.
pub async fn ensure_system_namespaces(
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
        let spec_finalizers: Vec<String> = ns
            .get("spec")
            .and_then(|s| s.get("finalizers"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
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
