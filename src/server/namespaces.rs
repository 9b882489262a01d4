//! Namespaces that must exist, and the namespace finalizer: upstream runs the latter in
//! kube-controller-manager; kubeshard alone must be enough, so it runs here, on one shard.
//!
//! A namespace being deleted (deletionTimestamp set, `kubernetes` in `spec.finalizers`) has
//! its contents deleted through the Store (objects with finalizers are marked and waited for,
//! each delete conditional on the uid listed); once empty, the `kubernetes` finalizer is
//! removed through the Store's update loop and, with no other finalizers left, the namespace
//! goes.

use std::collections::HashSet;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Map;

use crate::api::meta::Meta;
use crate::api::object::decode_stored;
use crate::api::resources::{lookup, Subresource};
use crate::api::status::Status;
use crate::registry::keys;
use crate::registry::kinds::namespace::{NamespaceHooks, KUBERNETES_FINALIZER};
use crate::registry::kinds::service::ServiceHooks;
use crate::registry::kinds::KindHooks;
use crate::registry::resources::Resource;
use crate::registry::store::ownership::record_server_write;
use crate::registry::store::{DeleteOptions, ListOptions, Preconditions, RequestFacts, Store};
use crate::registry::strategy;
use crate::server::post_start::PostStartHook;
use crate::storage::kv::Precondition;
use crate::storage::thread::StorageClient;

/// The namespaces every cluster has.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

/// How often the finalizer looks for namespaces being deleted.
const SCAN_INTERVAL: Duration = Duration::from_millis(500);

/// How long one pass of the finalizer may take.
const PASS_DEADLINE: Duration = Duration::from_secs(60);

/// A row of the built-in table with `hooks`, for the objects made at start-up.
fn row(plural: &str, hooks: Rc<dyn KindHooks>) -> Result<Resource, String> {
    let api = lookup("", "v1", plural).ok_or_else(|| format!("no built-in {plural}"))?;
    Ok(Resource::new(*api, hooks))
}

/// Creates the system namespaces that are missing.
pub async fn ensure_system_namespaces(
    storage: &StorageClient,
    prefix: &str,
    extra: &[(Bytes, Bytes)],
) -> Result<(), String> {
    let namespaces = row("namespaces", Rc::new(NamespaceHooks))?;
    let result = create_namespaces(storage, prefix, &namespaces).await;
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
        let mut obj = Map::new();
        obj.insert("metadata".into(), serde_json::json!({ "name": name }));
        let mut obj = strategy::prepare_create(namespaces, obj, None).map_err(|e| e.message)?;
        record_server_write(namespaces, None, &mut obj, "kube-apiserver");
        let bytes = serde_json::to_vec(&obj).map_err(|e| e.to_string())?;
        let key = Bytes::from(keys::object_key(
            prefix,
            namespaces.api.key_segment,
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
    prefix: &str,
    cluster_ip: std::net::Ipv4Addr,
    port: u16,
) -> Option<(Bytes, Bytes)> {
    let svc = row("services", Rc::new(ServiceHooks::default())).ok()?;
    let obj = serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": cluster_ip.to_string(), "clusterIPs": [cluster_ip.to_string()],
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
                 "type": "ClusterIP", "sessionAffinity": "None"},
    });
    let mut obj =
        strategy::prepare_create(&svc, obj.as_object().cloned()?, Some("default")).ok()?;
    record_server_write(&svc, None, &mut obj, "kube-apiserver");
    let key = keys::object_key(prefix, svc.api.key_segment, Some("default"), "kubernetes");
    Some((
        Bytes::from(key),
        Bytes::from(serde_json::to_vec(&obj).ok()?),
    ))
}

/// upstream's post-start hook that creates the system namespaces (and the objects in them).
pub fn start_system_namespaces(
    storage: &StorageClient,
    prefix: &str,
    extra: Vec<(Bytes, Bytes)>,
) -> PostStartHook {
    let (storage, prefix) = (storage.clone(), prefix.to_string());
    PostStartHook::start(
        "poststarthook/start-system-namespaces-controller",
        move || futures_lite::future::block_on(ensure_system_namespaces(&storage, &prefix, &extra)),
    )
}

/// Runs the namespace finalizer until `stop` completes.
pub async fn run_finalizer(
    store: Rc<Store>,
    leadership: Rc<crate::server::leader::Leadership>,
    stop: impl std::future::Future<Output = ()>,
) {
    let work = async {
        loop {
            if !leadership.leading() {
                shards::sleep(SCAN_INTERVAL).await;
                continue;
            }
            if let Err(e) = finalize_once(&store).await {
                log::debug!("namespace finalizer: {}", e.message);
            }
            shards::sleep(SCAN_INTERVAL).await;
        }
    };
    futures_lite::future::or(work, stop).await;
}

/// One pass: every namespace being deleted is emptied, then finalized.
async fn finalize_once(store: &Store) -> Result<(), Status> {
    let deadline = Instant::now() + PASS_DEADLINE;
    let Some(namespaces) = store.table().get("", "v1", "namespaces") else {
        return Ok(());
    };
    let all = RequestFacts::controller(None, "", deadline);
    let listed = store
        .list(&namespaces, &all, &ListOptions::default())
        .await?;
    for item in listed.items {
        let ns = match decode_stored(&item.key, &item.json) {
            Ok(ns) => ns,
            Err(_) => continue,
        };
        let meta = Meta::of(&ns);
        if !meta.is_deleting() {
            continue;
        }
        let name = meta.name().unwrap_or_default().to_string();
        let facts = RequestFacts::controller(None, &name, deadline);
        let kind_finalizers = namespaces.hooks.kind_finalizers(&ns);
        if kind_finalizers.iter().any(|f| f == KUBERNETES_FINALIZER) {
            if !delete_contents(store, &name, deadline).await? {
                continue;
            }
            let finalize = RequestFacts {
                subresource: Some(Subresource::Finalize),
                ..facts
            };
            let done = store
                .guaranteed_update(&namespaces, &finalize, &mut |current| {
                    let rest: Vec<String> = namespaces
                        .hooks
                        .kind_finalizers(current)
                        .into_iter()
                        .filter(|f| f != KUBERNETES_FINALIZER)
                        .collect();
                    let mut body = Map::new();
                    body.insert("spec".into(), serde_json::json!({ "finalizers": rest }));
                    namespaces
                        .hooks
                        .update_subresource(Subresource::Finalize, &body, current)
                })
                .await;
            match done {
                Ok(_) => log::info!("namespace {name} finalized"),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        } else if kind_finalizers.is_empty() && meta.finalizers().is_empty() {
            // Deleting, with nothing left to wait for (written so by another server).
            match store
                .delete(&namespaces, &facts, &DeleteOptions::default())
                .await
            {
                Ok(_) => log::info!("namespace {name} deleted"),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Deletes what namespace `ns` holds, through the Store (each delete conditional on the uid
/// it listed, so an object made again since is left alone); true once nothing is left.
async fn delete_contents(store: &Store, ns: &str, deadline: Instant) -> Result<bool, Status> {
    let started = Instant::now();
    let mut empty = true;
    let mut seen = HashSet::new();
    let in_ns = RequestFacts::controller(Some(ns), "", deadline);
    for res in store.table().rows() {
        if !res.api.namespaced || !seen.insert(res.api.key_segment) {
            continue;
        }
        let listed = store.list(&res, &in_ns, &ListOptions::default()).await?;
        for item in listed.items {
            empty = false;
            let Ok(obj) = decode_stored(&item.key, &item.json) else {
                continue;
            };
            let meta = Meta::of(&obj);
            if meta.is_deleting() {
                // Marked already: waiting for its own finalizers.
                continue;
            }
            let name = meta.name().unwrap_or_default();
            let opts = DeleteOptions {
                preconditions: Some(Preconditions {
                    uid: meta.uid().map(str::to_string),
                    resource_version: None,
                }),
                ..DeleteOptions::default()
            };
            let facts = RequestFacts::controller(Some(ns), name, deadline);
            match store.delete(&res, &facts, &opts).await {
                Ok(_) => {}
                // Gone, or made again since: not this pass's to delete.
                Err(e) if matches!(e.code, 404 | 409) => {}
                Err(e) => return Err(e),
            }
        }
    }
    log::debug!("namespace {ns}: contents pass took {:?}", started.elapsed());
    Ok(empty)
}
