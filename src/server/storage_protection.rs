//! The PVC and PV protection controllers, as kube-controller-manager's: a
//! PersistentVolumeClaim being deleted loses its `kubernetes.io/pvc-protection` finalizer
//! once no scheduled, unfinished Pod uses it, and a PersistentVolume its
//! `kubernetes.io/pv-protection` one once it is not bound (the `StorageObjectInUseProtection`
//! admission plugin adds them). In-process on one shard, on the leader only, through the Store.

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::meta::Meta;
use crate::api::status::Status;
use crate::registry::kinds::ObjectReads;
use crate::registry::store::{RequestFacts, Store};

/// How often the controllers look.
const SCAN_INTERVAL: Duration = Duration::from_millis(500);
/// A pass runs at least this often (resources outside the replica change unseen).
const RESYNC: Duration = Duration::from_secs(10);
/// The claim finalizer.
pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
/// The volume finalizer.
pub const PV_PROTECTION: &str = "kubernetes.io/pv-protection";

/// Runs the controllers until `stop` completes.
pub async fn run(
    store: Rc<Store>,
    leadership: Rc<crate::server::leader::Leadership>,
    stop: impl std::future::Future<Output = ()>,
) {
    let work = async {
        let mut seen = None;
        let mut last = Instant::now();
        loop {
            if !leadership.leading() {
                seen = None;
                shards::sleep(SCAN_INTERVAL).await;
                continue;
            }
            let now = (
                store.replica_changes("persistentvolumeclaims"),
                store.replica_changes("persistentvolumes"),
                store.replica_changes("pods"),
            );
            let unseen = now.0.is_none() || now.1.is_none() || now.2.is_none();
            if unseen || Some(now) != seen || last.elapsed() >= RESYNC {
                match once(&store).await {
                    Ok(()) => {
                        seen = Some(now);
                        last = Instant::now();
                    }
                    Err(e) => log::debug!("storage protection controllers: {}", e.message),
                }
            }
            shards::sleep(SCAN_INTERVAL).await;
        }
    };
    futures_lite::future::or(work, stop).await;
}

fn deleting_with(o: &Value, finalizer: &str) -> bool {
    let m = Meta::of_value(o);
    m.is_deleting() && m.finalizers().iter().any(|f| f == finalizer)
}

/// Whether a scheduled Pod that has not finished uses claim `name` (upstream's
/// `podUsesPVC`: a volume naming it, or the generic ephemeral volume it is).
fn uses(pod: &Value, name: &str) -> bool {
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    if matches!(phase, Some("Succeeded" | "Failed"))
        || spec
            .get("nodeName")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return false;
    }
    let pod_name = pod
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    spec.get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|v| {
            v.pointer("/persistentVolumeClaim/claimName")
                .and_then(Value::as_str)
                == Some(name)
                || (v.get("ephemeral").is_some()
                    && v.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|vn| format!("{pod_name}-{vn}") == name))
        })
}

async fn drop_finalizer(
    store: &Store,
    plural: &str,
    o: &Value,
    finalizer: &str,
    deadline: Instant,
) {
    let Some(res) = store.table().get("", "v1", plural) else {
        return;
    };
    let m = Meta::of_value(o);
    let (ns, name) = (m.namespace(), m.name().unwrap_or_default());
    let facts = RequestFacts::controller(ns, name, deadline);
    let result = store
        .guaranteed_update(&res, &facts, &mut |stored| {
            let mut stored = stored.clone();
            if let Some(f) = stored
                .get_mut("metadata")
                .and_then(|m| m.get_mut("finalizers"))
                .and_then(Value::as_array_mut)
            {
                f.retain(|x| x.as_str() != Some(finalizer));
            }
            Ok(stored)
        })
        .await;
    if let Err(e) = result {
        log::debug!("storage protection: {plural} {ns:?}/{name}: {}", e.message);
    }
}

async fn once(store: &Store) -> Result<(), Status> {
    let table = store.table();
    let (Some(claims), Some(volumes), Some(pods)) = (
        table.get("", "v1", "persistentvolumeclaims"),
        table.get("", "v1", "persistentvolumes"),
        table.get("", "v1", "pods"),
    ) else {
        return Ok(());
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let going: Vec<Value> = store
        .list_all(&claims.api, deadline)
        .await?
        .into_iter()
        .filter(|c| deleting_with(c, PVC_PROTECTION))
        .collect();
    if !going.is_empty() {
        let all_pods = store.list_all(&pods.api, deadline).await?;
        for c in &going {
            let m = Meta::of_value(c);
            let (ns, name) = (m.namespace(), m.name().unwrap_or_default());
            let used = all_pods.iter().any(|p| {
                p.pointer("/metadata/namespace").and_then(Value::as_str) == ns && uses(p, name)
            });
            if !used {
                drop_finalizer(store, "persistentvolumeclaims", c, PVC_PROTECTION, deadline).await;
            }
        }
    }
    for v in store.list_all(&volumes.api, deadline).await? {
        if deleting_with(&v, PV_PROTECTION)
            && v.pointer("/status/phase").and_then(Value::as_str) != Some("Bound")
        {
            drop_finalizer(store, "persistentvolumes", &v, PV_PROTECTION, deadline).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_scheduled_unfinished_pods_use_a_claim() {
        let pod = |node: &str, phase: &str| {
            json!({"metadata": {"name": "p"}, "spec": {"nodeName": node,
                "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "scratch", "ephemeral": {}}]}, "status": {"phase": phase}})
        };
        assert!(uses(&pod("n1", "Running"), "data"));
        assert!(uses(&pod("n1", "Pending"), "p-scratch"));
        assert!(!uses(&pod("", "Pending"), "data"), "not scheduled");
        assert!(!uses(&pod("n1", "Succeeded"), "data"), "finished");
        assert!(!uses(&pod("n1", "Running"), "other"));
    }
}
