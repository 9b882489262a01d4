//! upstream's APF bootstrap configuration and the two jobs kube-apiserver runs on it:
//!
//! - the config producer (`poststarthook/priority-and-fairness-config-producer`): the
//!   mandatory and suggested FlowSchemas and PriorityLevelConfigurations created when
//!   missing, and kept as upstream keeps them — a mandatory object always gets its bootstrap
//!   spec back (the `exempt` level's shares and lendable percent excepted) and
//!   `apf.kubernetes.io/autoupdate-spec: "true"`; a suggested one only while that annotation
//!   says true (absent: while it was never changed, `generation` 1); an object of ours
//!   (annotation true) that the configuration no longer has is deleted;
//! - the config consumer's status: each FlowSchema's `Dangling` condition, saying whether its
//!   priority level exists.
//!
//! The configuration itself is data the registry holds (`flowcontrol_bootstrap.json`: kubernetes
//! v1.34, defaults applied), as validation checks the mandatory objects against it.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::registry::keys;
use crate::registry::resources::ResourceTable;
use crate::registry::store::ownership::record_server_write;
use crate::registry::strategy;
use crate::storage::kv::{KeyValue, ListRequest, Precondition};
use crate::storage::thread::StorageClient;

/// The manager upstream's config producer records on the objects it writes.
const MANAGER: &str = "api-priority-and-fairness-config-producer-v1";

/// The annotation saying the server keeps an object's spec.
pub const AUTOUPDATE: &str = "apf.kubernetes.io/autoupdate-spec";

const GROUP: &str = "flowcontrol.apiserver.k8s.io";

/// The bootstrap objects of `kind` (`FlowSchema` or `PriorityLevelConfiguration`), mandatory
/// or suggested.
pub fn objects(mandatory: bool, kind: &str) -> Vec<Value> {
    crate::registry::kinds::flowcontrol::bootstrap_objects(mandatory, kind)
}

fn plural(kind: &str) -> &'static str {
    match kind {
        "FlowSchema" => "flowschemas",
        _ => "prioritylevelconfigurations",
    }
}

fn name(o: &Value) -> &str {
    o.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The annotation's value as Go's `strconv.ParseBool` reads it (None: not a boolean).
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// What the producer does with an existing object.
#[derive(Debug, PartialEq, Eq)]
enum Keep {
    /// Leave it.
    AsIs,
    /// Write it back changed.
    Write(Value),
}

/// upstream's rule for an existing bootstrap object `have` whose bootstrap copy is `want`.
fn reconcile_existing(mandatory: bool, have: &Value, want: &Value) -> Keep {
    let annotation = have
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(AUTOUPDATE))
        .and_then(Value::as_str);
    let parsed = annotation.and_then(parse_bool);
    let auto_update = if mandatory {
        true
    } else {
        parsed.unwrap_or_else(|| have.pointer("/metadata/generation") == Some(&json!(1)))
    };
    let update_annotation = parsed != Some(auto_update);
    let mut wanted_spec = want.get("spec").cloned().unwrap_or(Value::Null);
    if name(want) == "exempt" && want.get("kind") == Some(&json!("PriorityLevelConfiguration")) {
        // Operators may tune the exempt level's shares and lending.
        if let (Some(w), Some(h)) = (
            wanted_spec.get_mut("exempt").and_then(Value::as_object_mut),
            have.pointer("/spec/exempt").and_then(Value::as_object),
        ) {
            for k in ["nominalConcurrencyShares", "lendablePercent"] {
                if let Some(v) = h.get(k) {
                    w.insert(k.into(), v.clone());
                }
            }
        }
    }
    let spec_changed = auto_update && have.get("spec") != Some(&wanted_spec);
    if !spec_changed && !update_annotation {
        return Keep::AsIs;
    }
    let mut out = have.clone();
    if spec_changed {
        out["spec"] = wanted_spec;
        let generation = out
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        out["metadata"]["generation"] = json!(generation + 1);
    }
    if update_annotation {
        if !out["metadata"]["annotations"].is_object() {
            out["metadata"]["annotations"] = json!({});
        }
        out["metadata"]["annotations"][AUTOUPDATE] = json!(auto_update.to_string());
    }
    Keep::Write(out)
}

/// How many objects one producer run created, updated and deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ensured {
    /// Created.
    pub created: usize,
    /// Written back.
    pub updated: usize,
    /// Deleted (ours, no longer in the configuration).
    pub deleted: usize,
}

async fn list(storage: &StorageClient, prefix: &str, kind: &str) -> Result<Vec<KeyValue>, String> {
    let root = keys::collection_prefix(prefix, plural(kind), None);
    storage
        .list(ListRequest {
            prefix: Bytes::from(root),
            start_after: None,
            limit: 0,
            revision: 0,
        })
        .await
        .map(|l| l.items)
        .map_err(|e| e.to_string())
}

/// One producer run: suggested levels and schemas, mandatory ones, then removals.
pub async fn ensure(storage: &StorageClient, prefix: &str) -> Result<Ensured, String> {
    let table = ResourceTable::builtin(Default::default());
    let mut done = Ensured::default();
    for (mandatory, kind) in [
        (false, "PriorityLevelConfiguration"),
        (false, "FlowSchema"),
        (true, "PriorityLevelConfiguration"),
        (true, "FlowSchema"),
    ] {
        let res = table
            .get(GROUP, "v1", plural(kind))
            .ok_or_else(|| format!("no {} in the resource table", plural(kind)))?;
        for want in objects(mandatory, kind) {
            let key = Bytes::from(keys::object_key(
                prefix,
                res.api.key_segment,
                None,
                name(&want),
            ));
            let (current, _) = storage
                .get(key.clone(), 0)
                .await
                .map_err(|e| e.to_string())?;
            let (bytes, precondition) = match current {
                None => {
                    let Value::Object(obj) = want.clone() else {
                        continue;
                    };
                    let mut obj = strategy::prepare_create(&res, obj, None)
                        .map_err(|e| format!("{kind} {}: {}", name(&want), e.message))?;
                    record_server_write(&res, None, &mut obj, MANAGER);
                    (serde_json::to_vec(&obj), Precondition::Absent)
                }
                Some(kv) => {
                    let Ok(have) = serde_json::from_slice::<Value>(&kv.value) else {
                        log::warn!("APF bootstrap: {kind} {} does not decode", name(&want));
                        continue;
                    };
                    match reconcile_existing(mandatory, &have, &want) {
                        Keep::AsIs => continue,
                        Keep::Write(mut o) => {
                            if let (Value::Object(new), Value::Object(old)) = (&mut o, &have) {
                                record_server_write(&res, Some(old), new, MANAGER);
                            }
                            (
                                serde_json::to_vec(&o),
                                Precondition::ModRevision(kv.mod_revision),
                            )
                        }
                    }
                }
            };
            let bytes = bytes.map_err(|e| e.to_string())?;
            let created = precondition == Precondition::Absent;
            // A conflict is left for the next run, as upstream leaves it.
            if let crate::storage::kv::WriteOutcome::Applied { .. } = storage
                .put(key, Bytes::from(bytes), precondition)
                .await
                .map_err(|e| e.to_string())?
            {
                if created {
                    done.created += 1;
                } else {
                    done.updated += 1;
                }
            }
        }
    }
    for kind in ["FlowSchema", "PriorityLevelConfiguration"] {
        let wanted: Vec<String> = [true, false]
            .iter()
            .flat_map(|m| objects(*m, kind))
            .map(|o| name(&o).to_string())
            .collect();
        for kv in list(storage, prefix, kind).await? {
            let Ok(have) = serde_json::from_slice::<Value>(&kv.value) else {
                continue;
            };
            let ours = have
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(AUTOUPDATE))
                .and_then(Value::as_str)
                .and_then(parse_bool)
                == Some(true);
            if ours && !wanted.iter().any(|w| w == name(&have)) {
                let gone = storage
                    .delete(kv.key.clone(), Precondition::ModRevision(kv.mod_revision))
                    .await
                    .map_err(|e| e.to_string())?;
                if let crate::storage::kv::WriteOutcome::Applied { .. } = gone {
                    done.deleted += 1;
                }
            }
        }
    }
    Ok(done)
}

/// The `Dangling` condition `schema` should carry, given the levels that exist.
fn dangling_condition(schema: &Value, levels: &[String]) -> (&'static str, &'static str, String) {
    let pl = schema
        .pointer("/spec/priorityLevelConfiguration/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let quoted = serde_json::to_string(pl).unwrap_or_default();
    if levels.iter().any(|l| l == pl) {
        (
            "False",
            "Found",
            format!("This FlowSchema references the PriorityLevelConfiguration object named {quoted} and it exists"),
        )
    } else {
        (
            "True",
            "NotFound",
            format!("This FlowSchema references the PriorityLevelConfiguration object named {quoted} but there is no such object"),
        )
    }
}

/// Writes each FlowSchema's `Dangling` condition where it is missing or wrong; how many
/// were written.
pub async fn write_status(storage: &StorageClient, prefix: &str) -> Result<usize, String> {
    let levels: Vec<String> = list(storage, prefix, "PriorityLevelConfiguration")
        .await?
        .iter()
        .filter_map(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
        .filter(|o| o.pointer("/spec/type").is_some())
        .map(|o| name(&o).to_string())
        .collect();
    let mut written = 0;
    for kv in list(storage, prefix, "FlowSchema").await? {
        let Ok(Value::Object(mut fs)) = serde_json::from_slice::<Value>(&kv.value) else {
            continue;
        };
        let (status, reason, message) = dangling_condition(&Value::Object(fs.clone()), &levels);
        let conditions = fs
            .entry("status")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
        let Some(Value::Array(conditions)) = conditions else {
            continue;
        };
        let current = conditions
            .iter()
            .position(|c| c.get("type") == Some(&json!("Dangling")));
        let same = current.is_some_and(|i| {
            let c = &conditions[i];
            c.get("status") == Some(&json!(status))
                && c.get("reason") == Some(&json!(reason))
                && c.get("message") == Some(&json!(message))
        });
        if same {
            continue;
        }
        let condition = json!({"type": "Dangling", "status": status,
            "lastTransitionTime": strategy::now_rfc3339(), "reason": reason, "message": message});
        match current {
            Some(i) => conditions[i] = condition,
            None => conditions.push(condition),
        }
        let bytes = serde_json::to_vec(&Value::Object(fs)).map_err(|e| e.to_string())?;
        if let crate::storage::kv::WriteOutcome::Applied { .. } = storage
            .put(
                kv.key.clone(),
                Bytes::from(bytes),
                Precondition::ModRevision(kv.mod_revision),
            )
            .await
            .map_err(|e| e.to_string())?
        {
            written += 1;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_has_upstreams_objects() {
        let names =
            |m, k| -> Vec<String> { objects(m, k).iter().map(|o| name(o).to_string()).collect() };
        assert_eq!(
            names(true, "PriorityLevelConfiguration"),
            ["catch-all", "exempt"]
        );
        assert_eq!(names(true, "FlowSchema"), ["exempt", "catch-all"]);
        assert_eq!(names(false, "PriorityLevelConfiguration").len(), 6);
        assert!(names(false, "FlowSchema").contains(&"probes".to_string()));
    }

    #[test]
    fn mandatory_specs_come_back_suggested_ones_only_while_auto_updated() {
        let want = objects(true, "FlowSchema").remove(1);
        let mut changed = want.clone();
        changed["spec"]["matchingPrecedence"] = json!(5000);
        changed["metadata"]["annotations"][AUTOUPDATE] = json!("false");
        changed["metadata"]["generation"] = json!(3);
        let Keep::Write(out) = reconcile_existing(true, &changed, &want) else {
            panic!("a mandatory object is always restored");
        };
        assert_eq!(out["spec"], want["spec"]);
        assert_eq!(out["metadata"]["annotations"][AUTOUPDATE], "true");
        assert_eq!(out["metadata"]["generation"], 4);
        // Suggested and opted out: left alone.
        assert_eq!(reconcile_existing(false, &changed, &want), Keep::AsIs);
        // Suggested, no annotation, changed by a user (generation 3): kept, marked false.
        changed["metadata"]["annotations"] = json!({});
        let Keep::Write(out) = reconcile_existing(false, &changed, &want) else {
            panic!("the annotation is written");
        };
        assert_eq!(out["spec"]["matchingPrecedence"], 5000);
        assert_eq!(out["metadata"]["annotations"][AUTOUPDATE], "false");
        assert_eq!(reconcile_existing(true, &want, &want), Keep::AsIs);
    }

    #[test]
    fn the_dangling_condition_says_whether_the_level_exists() {
        let fs = json!({"spec": {"priorityLevelConfiguration": {"name": "gone"}}});
        let (status, reason, message) = dangling_condition(&fs, &["x".into()]);
        assert_eq!((status, reason), ("True", "NotFound"));
        assert_eq!(message, "This FlowSchema references the PriorityLevelConfiguration object named \"gone\" but there is no such object");
        assert_eq!(dangling_condition(&fs, &["gone".into()]).1, "Found");
    }
}
