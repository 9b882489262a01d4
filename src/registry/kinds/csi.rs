//! The storage.k8s.io kinds CSI drivers and the attach/detach controller write: CSIDriver,
//! CSINode, VolumeAttachment, CSIStorageCapacity and VolumeAttributesClass, with upstream's
//! defaults (a CSIDriver's `SetDefaults_CSIDriver`) and the rules of its
//! `pkg/apis/storage/validation` that clients meet most: driver names, required and
//! enumerated fields, and the fields an update may not change.

use serde_json::{json, Value};

use super::fields::{at, default, immutable_fields, obj};
use super::{Defaulter, KindHooks, Object};
use crate::api::resources::Subresource;
use crate::api::validation::{self, csi_driver_name, FieldError};

/// The hooks of one of this file's kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsiHooks {
    /// `CSIDriver`.
    Driver,
    /// `CSINode`.
    Node,
    /// `VolumeAttachment`.
    Attachment,
    /// `CSIStorageCapacity`.
    Capacity,
    /// `VolumeAttributesClass`.
    AttributesClass,
}

impl CsiHooks {
    /// The hooks for a storage.k8s.io kind this file handles.
    pub fn for_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            "CSIDriver" => Self::Driver,
            "CSINode" => Self::Node,
            "VolumeAttachment" => Self::Attachment,
            "CSIStorageCapacity" => Self::Capacity,
            "VolumeAttributesClass" => Self::AttributesClass,
            _ => return None,
        })
    }
}

impl KindHooks for CsiHooks {
    fn defaulter(&self) -> Option<Defaulter> {
        (*self == Self::Driver).then_some(driver_defaults as Defaulter)
    }

    fn validate(&self, o: &Object) -> Vec<FieldError> {
        match self {
            Self::Driver => validate_driver(o),
            Self::Node => validate_node(o),
            Self::Attachment => validate_attachment(o),
            Self::Capacity => validate_capacity(o),
            Self::AttributesClass => validate_attributes_class(o),
        }
    }

    fn validate_update(
        &self,
        sub: Option<Subresource>,
        o: &Object,
        old: &Object,
    ) -> Vec<FieldError> {
        if sub.is_some() {
            return Vec::new();
        }
        let fixed: &[&[&str]] = match self {
            Self::Driver => &[
                &["spec", "attachRequired"],
                &["spec", "volumeLifecycleModes"],
            ],
            Self::Attachment => &[&["spec"]],
            Self::Capacity => &[&["storageClassName"], &["nodeTopology"]],
            Self::AttributesClass | Self::Node => &[],
        };
        let mut errs = immutable_fields(o, old, fixed, shown_path);
        match self {
            Self::AttributesClass => {
                for field in ["driverName", "parameters"] {
                    if at(o, &[field]) != at(old, &[field]) {
                        errs.push(FieldError::forbidden(
                            field,
                            &format!("updates to {field} are forbidden."),
                        ));
                    }
                }
            }
            Self::Node => errs.extend(node_drivers_kept(o, old)),
            _ => {}
        }
        errs
    }
}

/// A field's path as upstream's messages spell it: a CSIDriver's `attachRequired` is
/// `spec.attachedRequired` there.
fn shown_path(path: &[&str]) -> String {
    if path == ["spec", "attachRequired"] {
        "spec.attachedRequired".to_string()
    } else {
        path.join(".")
    }
}

/// A CSINode's drivers may come and go, but one that stays keeps its entry (its allocatable
/// count may change).
fn node_drivers_kept(o: &Object, old: &Object) -> Vec<FieldError> {
    let without_allocatable = |d: &Value| {
        let mut d = d.clone();
        if let Some(m) = d.as_object_mut() {
            m.remove("allocatable");
        }
        d
    };
    let new_drivers = array(o, &["spec", "drivers"]);
    for before in array(old, &["spec", "drivers"]) {
        let name = before.get("name");
        let after = new_drivers.iter().find(|d| d.get("name") == name);
        if after.is_some_and(|a| without_allocatable(a) != without_allocatable(before)) {
            return vec![FieldError::immutable(
                "spec.drivers",
                at(o, &["spec", "drivers"]),
            )];
        }
    }
    Vec::new()
}

fn str_at<'a>(o: &'a Object, path: &[&str]) -> &'a str {
    at(o, path).and_then(Value::as_str).unwrap_or("")
}

/// upstream's `SetDefaults_CSIDriver`.
pub fn driver_defaults(o: &mut Object) {
    let spec = obj(o, "spec");
    default(spec, "attachRequired", json!(true));
    default(spec, "podInfoOnMount", json!(false));
    default(spec, "storageCapacity", json!(false));
    default(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
    default(spec, "requiresRepublish", json!(false));
    default(spec, "seLinuxMount", json!(false));
    let empty_modes = spec
        .get("volumeLifecycleModes")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty);
    if empty_modes {
        spec.insert("volumeLifecycleModes".into(), json!(["Persistent"]));
    }
}

fn validate_driver(o: &Object) -> Vec<FieldError> {
    // The object's name is checked as every DNS-subdomain name is.
    let mut errs = Vec::new();
    for field in [
        "attachRequired",
        "podInfoOnMount",
        "storageCapacity",
        "seLinuxMount",
    ] {
        if at(o, &["spec", field]).is_none() {
            errs.push(FieldError::required(shown_path(&["spec", field]), ""));
        }
    }
    if let Some(policy) = at(o, &["spec", "fsGroupPolicy"]) {
        let policy = policy.as_str().unwrap_or_default();
        let supported = ["File", "None", "ReadWriteOnceWithFSType"];
        if !supported.contains(&policy) {
            errs.push(FieldError::not_supported(
                "spec.fsGroupPolicy",
                policy,
                &supported,
            ));
        }
    }
    for mode in array(o, &["spec", "volumeLifecycleModes"]) {
        let mode = mode.as_str().unwrap_or_default();
        if !matches!(mode, "Persistent" | "Ephemeral") {
            errs.push(FieldError::not_supported(
                "spec.volumeLifecycleModes",
                mode,
                &["Persistent", "Ephemeral"],
            ));
        }
    }
    let mut audiences = std::collections::HashSet::new();
    for (i, t) in array(o, &["spec", "tokenRequests"]).iter().enumerate() {
        let audience = t.get("audience").and_then(Value::as_str).unwrap_or("");
        if !audiences.insert(audience) {
            errs.push(FieldError::duplicate(
                format!("spec.tokenRequests[{i}].audience"),
                audience,
            ));
        }
        if let Some(secs) = t.get("expirationSeconds").and_then(Value::as_i64) {
            let field = format!("spec.tokenRequests[{i}].expirationSeconds");
            if secs < 600 {
                errs.push(FieldError::invalid_value(
                    &field,
                    &Value::from(secs),
                    "may not specify a duration less than 10 minutes",
                ));
            } else if secs > 1 << 32 {
                errs.push(FieldError::invalid_value(
                    &field,
                    &Value::from(secs),
                    "may not specify a duration larger than 2^32 seconds",
                ));
            }
        }
    }
    errs
}

fn array<'a>(o: &'a Object, path: &[&str]) -> &'a [Value] {
    at(o, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn validate_node(o: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, d) in array(o, &["spec", "drivers"]).iter().enumerate() {
        let at = format!("spec.drivers[{i}]");
        let name = d.get("name").and_then(Value::as_str).unwrap_or("");
        errs.extend(csi_driver_name(name, &format!("{at}.name")));
        if !names.insert(name) {
            errs.push(FieldError::duplicate(format!("{at}.name"), name));
        }
        let node_id = d.get("nodeID").and_then(Value::as_str).unwrap_or("");
        if node_id.is_empty() {
            errs.push(FieldError::required(format!("{at}.nodeID"), node_id));
        } else if node_id.len() > 192 {
            errs.push(FieldError::invalid(
                format!("{at}.nodeID"),
                node_id,
                "must be 192 characters or less",
            ));
        }
        // upstream reports topology key problems on the driver's path.
        let mut keys = std::collections::HashSet::new();
        let topology = d.get("topologyKeys").and_then(Value::as_array);
        for key in topology.into_iter().flatten() {
            let key = key.as_str().unwrap_or("");
            if key.is_empty() {
                errs.push(FieldError::required(&at, ""));
            } else if !keys.insert(key) {
                errs.push(FieldError::duplicate(&at, key));
            } else {
                for msg in validation::qualified_name(key) {
                    errs.push(FieldError::invalid(&at, key, msg));
                }
            }
        }
        if let Some(count) = d.pointer("/allocatable/count").and_then(Value::as_i64) {
            if count < 0 {
                errs.push(FieldError::invalid_value(
                    format!("{at}.allocatable.count"),
                    &Value::from(count),
                    "must be greater than or equal to 0",
                ));
            }
        }
    }
    errs
}

fn validate_attachment(o: &Object) -> Vec<FieldError> {
    let mut errs = csi_driver_name(str_at(o, &["spec", "attacher"]), "spec.attacher");
    let node = str_at(o, &["spec", "nodeName"]);
    for msg in validation::dns1123_subdomain(node) {
        errs.push(FieldError::invalid("spec.nodeName", node, msg));
    }
    let pv = at(o, &["spec", "source", "persistentVolumeName"]);
    let inline = at(o, &["spec", "source", "inlineVolumeSpec"]);
    const ONE: &str = "must specify exactly one of inlineVolumeSpec and persistentVolumeName";
    match (pv, inline) {
        (None, None) => errs.push(FieldError::required("spec.source", ONE)),
        (Some(_), Some(_)) => errs.push(FieldError::forbidden("spec.source", ONE)),
        (Some(name), None) if name.as_str().is_none_or(str::is_empty) => {
            errs.push(FieldError::required(
                "spec.source.persistentVolumeName",
                "must specify non empty persistentVolumeName",
            ))
        }
        _ => {}
    }
    errs
}

fn validate_attributes_class(o: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let driver = str_at(o, &["driverName"]);
    if driver.is_empty() {
        errs.push(FieldError::required("driverName", ""));
    } else {
        for msg in validation::qualified_name(&driver.to_lowercase()) {
            errs.push(FieldError::invalid("driverName", driver, msg));
        }
    }
    match at(o, &["parameters"]).and_then(Value::as_object) {
        None => {}
        Some(p) if p.is_empty() => errs.push(FieldError::required(
            "parameters",
            "must contain at least one key/value pair",
        )),
        Some(p) => {
            if p.len() > 512 {
                errs.push(FieldError::too_long("parameters", 512));
            }
            if p.contains_key("") {
                errs.push(FieldError::invalid(
                    "parameters",
                    "",
                    "field can not be empty.",
                ));
            }
        }
    }
    errs
}

fn validate_capacity(o: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let class = str_at(o, &["storageClassName"]);
    for msg in validation::dns1123_subdomain(class) {
        errs.push(FieldError::invalid("storageClassName", class, msg));
    }
    for field in ["capacity", "maximumVolumeSize"] {
        let q = str_at(o, &[field]);
        if q.starts_with('-') {
            errs.push(FieldError::invalid(
                field,
                q,
                "must be greater than or equal to 0",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::registry::kinds::testing::{messages, o};

    #[test]
    fn driver_defaults_then_rules() {
        let mut d = o(json!({"metadata": {"name": "csi.example.com"}, "spec": {}}));
        CsiHooks::Driver.defaults(&mut d);
        assert_eq!(d["spec"]["attachRequired"], true);
        assert_eq!(d["spec"]["fsGroupPolicy"], "ReadWriteOnceWithFSType");
        assert_eq!(d["spec"]["volumeLifecycleModes"], json!(["Persistent"]));
        assert!(CsiHooks::Driver.validate(&d).is_empty());

        let mut bad = d.clone();
        bad["spec"]["volumeLifecycleModes"] = json!(["Sometimes"]);
        bad["spec"]["fsGroupPolicy"] = json!("Mine");
        bad["spec"]["attachRequired"] = Value::Null;
        let got = messages(&CsiHooks::Driver.validate(&bad));
        assert_eq!(
            got,
            [
                "spec.attachedRequired: Required value",
                "spec.fsGroupPolicy: Unsupported value: \"Mine\": supported values: \"File\", \"None\", \"ReadWriteOnceWithFSType\"",
                "spec.volumeLifecycleModes: Unsupported value: \"Sometimes\": supported values: \"Persistent\", \"Ephemeral\"",
            ]
        );

        let mut changed = d.clone();
        changed["spec"]["attachRequired"] = json!(false);
        changed["spec"]["podInfoOnMount"] = json!(true);
        changed["spec"]["storageCapacity"] = json!(true);
        let got = messages(&CsiHooks::Driver.validate_update(None, &changed, &d));
        assert_eq!(
            got,
            ["spec.attachedRequired: Invalid value: false: field is immutable"]
        );
    }

    #[test]
    fn attachment_source_node_and_immutable_spec() {
        let va = o(
            json!({"spec": {"attacher": "csi.example.com", "nodeName": "n1",
            "source": {"persistentVolumeName": "pv1"}}}),
        );
        assert!(CsiHooks::Attachment.validate(&va).is_empty());
        let none = o(json!({"spec": {"attacher": "", "source": {}}}));
        let got = messages(&CsiHooks::Attachment.validate(&none));
        // upstream's driver-name check reports an empty name twice: required, and not a name;
        // an empty node name is only not a name.
        assert_eq!(got[0], "spec.attacher: Required value");
        assert!(got[1].starts_with("spec.attacher: Invalid value: \"\": a lowercase RFC 1123"));
        assert!(got[2].starts_with("spec.nodeName: Invalid value: \"\": a lowercase RFC 1123"));
        assert_eq!(
            got[3],
            "spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"
        );
        let mut moved = va.clone();
        moved["spec"]["nodeName"] = json!("n2");
        let got = messages(&CsiHooks::Attachment.validate_update(None, &moved, &va));
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("spec: Invalid value: {"), "{got:?}");
        assert!(got[0].ends_with("field is immutable"));
        assert!(CsiHooks::Attachment
            .validate_update(Some(Subresource::Status), &moved, &va)
            .is_empty());
    }

    #[test]
    fn node_capacity_and_attributes_class() {
        let n = o(
            json!({"spec": {"drivers": [{"name": "a.example.com", "nodeID": "n1", "topologyKeys": ["zone", "zone"]},
            {"name": "a.example.com", "nodeID": ""}]}}),
        );
        let got = messages(&CsiHooks::Node.validate(&n));
        assert_eq!(
            got,
            [
                "spec.drivers[0]: Duplicate value: \"zone\"",
                "spec.drivers[1].name: Duplicate value: \"a.example.com\"",
                "spec.drivers[1].nodeID: Required value",
            ]
        );
        let old = o(
            json!({"spec": {"drivers": [{"name": "a", "nodeID": "n1", "allocatable": {"count": 1}}]}}),
        );
        let recounted = o(
            json!({"spec": {"drivers": [{"name": "a", "nodeID": "n1", "allocatable": {"count": 2}}]}}),
        );
        let renamed = o(
            json!({"spec": {"drivers": [{"name": "a", "nodeID": "n2"}, {"name": "b", "nodeID": "n2"}]}}),
        );
        assert!(CsiHooks::Node
            .validate_update(None, &recounted, &old)
            .is_empty());
        let got = messages(&CsiHooks::Node.validate_update(None, &renamed, &old));
        assert!(
            got.len() == 1
                && got[0].starts_with("spec.drivers: Invalid value: [")
                && got[0].ends_with("field is immutable"),
            "{got:?}"
        );

        let c = o(json!({"storageClassName": "", "capacity": "-1Gi"}));
        let got = messages(&CsiHooks::Capacity.validate(&c));
        assert!(
            got[0].starts_with(
                "storageClassName: Invalid value: \"\": a lowercase RFC 1123 subdomain"
            ),
            "{got:?}"
        );
        assert_eq!(
            got[1],
            "capacity: Invalid value: \"-1Gi\": must be greater than or equal to 0"
        );

        let vac = o(json!({"driverName": "csi.example.com", "parameters": {"iops": "100"}}));
        assert!(CsiHooks::AttributesClass.validate(&vac).is_empty());
        let empty = o(json!({"driverName": "", "parameters": {}}));
        assert_eq!(
            messages(&CsiHooks::AttributesClass.validate(&empty)),
            [
                "driverName: Required value",
                "parameters: Required value: must contain at least one key/value pair"
            ]
        );
        let mut changed = vac.clone();
        changed["parameters"]["iops"] = json!("200");
        changed["driverName"] = json!("other.example.com");
        let got = messages(&CsiHooks::AttributesClass.validate_update(None, &changed, &vac));
        assert_eq!(
            got,
            [
                "driverName: Forbidden: updates to driverName are forbidden.",
                "parameters: Forbidden: updates to parameters are forbidden.",
            ]
        );
    }
}
