//! Columns for the storage.k8s.io kinds a CSI driver works with: CSIDriver, CSINode,
//! CSIStorageCapacity, VolumeAttachment and VolumeAttributesClass, as upstream's printers fill
//! them (StorageClass is in `cluster.rs`).

use serde_json::Value;

use super::columns::{age_cell, joined, len_of, name, or_none, s, st, text, Cells, Col};

/// The columns and cells for the kinds this file prints, `None` for the others.
pub(super) fn for_kind(group: &str, kind: &str) -> Option<(&'static [Col], Cells)> {
    if group != "storage.k8s.io" {
        return None;
    }
    Some(match kind {
        "CSIDriver" => (CSIDRIVER, csidriver),
        "CSINode" => (CSINODE, csinode),
        "CSIStorageCapacity" => (CSISTORAGECAPACITY, csistoragecapacity),
        "VolumeAttachment" => (VOLUMEATTACHMENT, volumeattachment),
        "VolumeAttributesClass" => (VOLUMEATTRIBUTESCLASS, volumeattributesclass),
        _ => return None,
    })
}

/// A boolean field, `unset` when it is absent (upstream prints the defaulted pointer).
fn flag(o: &Value, path: &[&str], unset: bool) -> Value {
    Value::Bool(s(o, path).as_bool().unwrap_or(unset))
}

const CSIDRIVER: &[Col] = &[
    ("Name", "string", 0),
    ("AttachRequired", "boolean", 0),
    ("PodInfoOnMount", "boolean", 0),
    ("StorageCapacity", "boolean", 0),
    ("TokenRequests", "string", 0),
    ("RequiresRepublish", "boolean", 0),
    ("Modes", "string", 0),
    ("Age", "string", 0),
];
fn csidriver(o: &Value) -> Vec<Value> {
    // `<unset>` only when there is no list; an empty list prints as nothing.
    let tokens = match s(o, &["spec", "tokenRequests"]).as_array() {
        None => "<unset>".to_string(),
        Some(list) => list
            .iter()
            .map(|t| st(t, &["audience"]))
            .collect::<Vec<_>>()
            .join(","),
    };
    vec![
        name(o),
        flag(o, &["spec", "attachRequired"], true),
        flag(o, &["spec", "podInfoOnMount"], false),
        flag(o, &["spec", "storageCapacity"], false),
        text(tokens),
        flag(o, &["spec", "requiresRepublish"], false),
        text(or_none(joined(o, &["spec", "volumeLifecycleModes"]))),
        age_cell(o),
    ]
}

const CSINODE: &[Col] = &[
    ("Name", "string", 0),
    ("Drivers", "integer", 0),
    ("Age", "string", 0),
];
fn csinode(o: &Value) -> Vec<Value> {
    vec![
        name(o),
        Value::from(len_of(s(o, &["spec", "drivers"]))),
        age_cell(o),
    ]
}

const CSISTORAGECAPACITY: &[Col] = &[
    ("Name", "string", 0),
    ("StorageClassName", "string", 0),
    ("Capacity", "string", 0),
];
fn csistoragecapacity(o: &Value) -> Vec<Value> {
    let capacity = match s(o, &["capacity"]) {
        Value::Null => "<unset>".to_string(),
        _ => st(o, &["capacity"]),
    };
    vec![name(o), text(st(o, &["storageClassName"])), text(capacity)]
}

const VOLUMEATTACHMENT: &[Col] = &[
    ("Name", "string", 0),
    ("Attacher", "string", 0),
    ("PV", "string", 0),
    ("Node", "string", 0),
    ("Attached", "boolean", 0),
    ("Age", "string", 0),
];
fn volumeattachment(o: &Value) -> Vec<Value> {
    vec![
        name(o),
        text(st(o, &["spec", "attacher"])),
        text(st(o, &["spec", "source", "persistentVolumeName"])),
        text(st(o, &["spec", "nodeName"])),
        flag(o, &["status", "attached"], false),
        age_cell(o),
    ]
}

const VOLUMEATTRIBUTESCLASS: &[Col] = &[
    ("Name", "string", 0),
    ("DriverName", "string", 0),
    ("Age", "string", 0),
];
fn volumeattributesclass(o: &Value) -> Vec<Value> {
    vec![name(o), text(st(o, &["driverName"])), age_cell(o)]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use serde_json::json;

    use super::*;

    fn cells(kind: &str, o: Value) -> Vec<Value> {
        let (cols, f) = for_kind("storage.k8s.io", kind).expect("printed kind");
        let c = f(&o);
        assert_eq!(c.len(), cols.len(), "{kind}: one cell per column");
        c
    }

    #[test]
    fn csidriver_defaults_tokens_and_modes() {
        let c = cells("CSIDriver", json!({"metadata": {"name": "d"}, "spec": {}}));
        assert_eq!(c[1], true);
        assert_eq!(c[2], false);
        assert_eq!(c[4], "<unset>");
        assert_eq!(c[6], "<none>");
        let c = cells(
            "CSIDriver",
            json!({"metadata": {"name": "d"}, "spec": {"attachRequired": false, "podInfoOnMount": true,
                "tokenRequests": [{"audience": "a"}, {"audience": "b"}],
                "volumeLifecycleModes": ["Persistent", "Ephemeral"]}}),
        );
        assert_eq!(c[1], false);
        assert_eq!(c[2], true);
        assert_eq!(c[4], "a,b");
        assert_eq!(c[6], "Persistent,Ephemeral");
        let c = cells(
            "CSIDriver",
            json!({"metadata": {"name": "d"}, "spec": {"tokenRequests": []}}),
        );
        assert_eq!(c[4], "");
    }

    #[test]
    fn attachment_node_and_capacity() {
        let c = cells(
            "VolumeAttachment",
            json!({"metadata": {"name": "va"}, "spec": {"attacher": "csi.x", "nodeName": "n1",
                "source": {"persistentVolumeName": "pv1"}}, "status": {"attached": true}}),
        );
        assert_eq!(
            c[1..5],
            [json!("csi.x"), json!("pv1"), json!("n1"), json!(true)]
        );
        let c = cells(
            "CSIStorageCapacity",
            json!({"metadata": {"name": "c"}, "storageClassName": "fast"}),
        );
        assert_eq!(c[1..], [json!("fast"), json!("<unset>")]);
        let c = cells(
            "CSINode",
            json!({"metadata": {"name": "n"}, "spec": {"drivers": [{"name": "a"}, {"name": "b"}]}}),
        );
        assert_eq!(c[1], 2);
    }
}
