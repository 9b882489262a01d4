//! upstream's `scheduling/bootstrap-system-priority-classes` post-start hook: the two
//! system PriorityClasses every cluster has, created when missing.

use bytes::Bytes;
use serde_json::json;

use crate::registry::keys;
use crate::registry::resources::ResourceTable;
use crate::registry::store::ownership::record_server_write;
use crate::registry::strategy;
use crate::server::post_start::PostStartHook;
use crate::storage::kv::Precondition;
use crate::storage::thread::StorageClient;

/// (name, value, description), as upstream's scheduling API defines them.
const SYSTEM_CLASSES: [(&str, i64, &str); 2] = [
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// Creates the system PriorityClasses that are missing.
pub async fn ensure(storage: &StorageClient, prefix: &str) -> Result<(), String> {
    let table = ResourceTable::builtin(Default::default());
    let res = table
        .get("scheduling.k8s.io", "v1", "priorityclasses")
        .ok_or("no priorityclasses in the resource table")?;
    for (name, value, description) in SYSTEM_CLASSES {
        let key = Bytes::from(keys::object_key(prefix, res.api.key_segment, None, name));
        if storage
            .get(key.clone(), 0)
            .await
            .map_err(|e| e.to_string())?
            .0
            .is_some()
        {
            continue;
        }
        let obj = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "globalDefault": false,
            "description": description, "preemptionPolicy": "PreemptLowerPriority"});
        let Some(obj) = obj.as_object().cloned() else {
            continue;
        };
        let mut obj = strategy::prepare_create(&res, obj, None).map_err(|e| e.message)?;
        record_server_write(&res, None, &mut obj, "kube-apiserver");
        let bytes = serde_json::to_vec(&obj).map_err(|e| e.to_string())?;
        storage
            .put(key, Bytes::from(bytes), Precondition::Absent)
            .await
            .map_err(|e| format!("priorityclass {name}: {e}"))?;
    }
    Ok(())
}

/// The post-start hook.
pub fn start(storage: &StorageClient, prefix: &str) -> PostStartHook {
    let (storage, prefix) = (storage.clone(), prefix.to_string());
    PostStartHook::start(
        "poststarthook/scheduling/bootstrap-system-priority-classes",
        move || futures_lite::future::block_on(ensure(&storage, &prefix)),
    )
}
