//! resource.k8s.io/v1 (dynamic resource allocation): DeviceClass, ResourceClaim,
//! ResourceClaimTemplate and ResourceSlice, with upstream's defaults for device requests
//! (`ExactCount` of one device) and the rules of its `pkg/apis/resource/validation` that
//! clients meet first: named requests asking for exactly one of `exactly` / `firstAvailable`
//! with a device class, a claim's spec that never changes, slices that name their driver, pool
//! and exactly one node choice.

use serde_json::{json, Map, Value};

use super::fields::{default, immutable_fields, objects};
use super::{Defaulter, KindHooks, Object};
use crate::api::resources::Subresource;
use crate::api::validation::{self, csi_driver_name, FieldError};

/// The hooks of one of this file's kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceHooks {
    /// `DeviceClass`.
    Class,
    /// `ResourceClaim`.
    Claim,
    /// `ResourceClaimTemplate`.
    ClaimTemplate,
    /// `ResourceSlice`.
    Slice,
}

impl DeviceHooks {
    /// The hooks for a resource.k8s.io kind.
    pub fn for_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            "DeviceClass" => Self::Class,
            "ResourceClaim" => Self::Claim,
            "ResourceClaimTemplate" => Self::ClaimTemplate,
            "ResourceSlice" => Self::Slice,
            _ => return None,
        })
    }
}

impl KindHooks for DeviceHooks {
    fn defaulter(&self) -> Option<Defaulter> {
        match self {
            Self::Claim => Some(claim_defaults),
            Self::ClaimTemplate => Some(template_defaults),
            _ => None,
        }
    }

    fn validate(&self, o: &Object) -> Vec<FieldError> {
        match self {
            Self::Class => validate_class(o),
            Self::Claim => validate_claim_spec(o.get("spec"), "spec"),
            Self::ClaimTemplate => {
                validate_claim_spec(o.get("spec").and_then(|s| s.get("spec")), "spec.spec")
            }
            Self::Slice => validate_slice(o),
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
            Self::Claim | Self::ClaimTemplate => &[&["spec"]],
            Self::Slice => &[
                &["spec", "driver"],
                &["spec", "pool", "name"],
                &["spec", "nodeName"],
            ],
            Self::Class => &[],
        };
        immutable_fields(o, old, fixed, |path| path.join("."))
    }
}

/// A device request's defaults: `ExactCount`, and one device when counting.
fn request_defaults(r: &mut Map<String, Value>) {
    default(r, "allocationMode", json!("ExactCount"));
    if r.get("allocationMode").and_then(Value::as_str) == Some("ExactCount") {
        default(r, "count", json!(1));
    }
}

fn spec_defaults(spec: Option<&mut Value>) {
    let requests = spec
        .and_then(|s| s.get_mut("devices"))
        .and_then(|d| d.get_mut("requests"));
    for r in objects(requests) {
        if let Some(exactly) = r.get_mut("exactly").and_then(Value::as_object_mut) {
            request_defaults(exactly);
        }
        for sub in objects(r.get_mut("firstAvailable")) {
            request_defaults(sub);
        }
    }
}

/// upstream's defaults of ResourceClaims.
pub fn claim_defaults(o: &mut Object) {
    spec_defaults(o.get_mut("spec"));
}

/// upstream's defaults of ResourceClaimTemplates (the claim spec they stamp out).
pub fn template_defaults(o: &mut Object) {
    spec_defaults(o.get_mut("spec").and_then(|s| s.get_mut("spec")));
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// One request's device class, mode and count (`exactly`, or one of `firstAvailable`).
fn validate_request(r: &Value, at: &str, errs: &mut Vec<FieldError>) {
    let class = str_of(r, "deviceClassName");
    if class.is_empty() {
        errs.push(FieldError::required(format!("{at}.deviceClassName"), ""));
    } else {
        for m in validation::dns1123_subdomain(class) {
            errs.push(FieldError::invalid(
                format!("{at}.deviceClassName"),
                class,
                m,
            ));
        }
    }
    match str_of(r, "allocationMode") {
        "All" => {
            if let Some(count) = r.get("count").filter(|c| !c.is_null()) {
                errs.push(FieldError::invalid_value(
                    format!("{at}.count"),
                    count,
                    "must not be specified when allocationMode is 'All'",
                ));
            }
        }
        "ExactCount" => {
            let count = r.get("count").and_then(Value::as_i64).unwrap_or(0);
            if count <= 0 {
                errs.push(FieldError::invalid_value(
                    format!("{at}.count"),
                    &Value::from(count),
                    "must be greater than zero",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            format!("{at}.allocationMode"),
            other,
            &["All", "ExactCount"],
        )),
    }
}

fn validate_claim_spec(spec: Option<&Value>, at: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let requests = spec
        .and_then(|s| s.pointer("/devices/requests"))
        .and_then(Value::as_array);
    let mut names = std::collections::HashSet::new();
    for (i, r) in requests.into_iter().flatten().enumerate() {
        let here = format!("{at}.devices.requests[{i}]");
        let name = str_of(r, "name");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{here}.name"), ""));
        } else {
            for m in validation::dns1123_label(name) {
                errs.push(FieldError::invalid(format!("{here}.name"), name, m));
            }
            if !names.insert(name) {
                errs.push(FieldError::duplicate(format!("{here}.name"), name));
            }
        }
        let exactly = r.get("exactly").filter(|v| !v.is_null());
        let first = r
            .get("firstAvailable")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty());
        match (exactly, first) {
            (Some(e), None) => validate_request(e, &format!("{here}.exactly"), &mut errs),
            (None, Some(subs)) => {
                for (j, s) in subs.iter().enumerate() {
                    validate_request(s, &format!("{here}.firstAvailable[{j}]"), &mut errs);
                }
            }
            (None, None) => errs.push(FieldError::required(
                here,
                "exactly one of `exactly` or `firstAvailable` is required",
            )),
            (Some(_), Some(_)) => errs.push(FieldError::invalid_value(
                here,
                &Value::Null,
                "exactly one of `exactly` or `firstAvailable` is required, but multiple fields are set",
            )),
        }
    }
    errs
}

fn validate_class(o: &Object) -> Vec<FieldError> {
    let selectors = o
        .get("spec")
        .and_then(|s| s.get("selectors"))
        .and_then(Value::as_array);
    let mut errs = Vec::new();
    for (i, s) in selectors.into_iter().flatten().enumerate() {
        match s.get("cel").filter(|c| !c.is_null()) {
            None => errs.push(FieldError::required(format!("spec.selectors[{i}].cel"), "")),
            Some(cel) if str_of(cel, "expression").is_empty() => errs.push(FieldError::required(
                format!("spec.selectors[{i}].cel.expression"),
                "",
            )),
            Some(_) => {}
        }
    }
    errs
}

fn validate_slice(o: &Object) -> Vec<FieldError> {
    let spec = o.get("spec").unwrap_or(&Value::Null);
    let mut errs = csi_driver_name(str_of(spec, "driver"), "spec.driver");
    let pool = spec.get("pool").unwrap_or(&Value::Null);
    let pool_name = str_of(pool, "name");
    if pool_name.is_empty() {
        errs.push(FieldError::required("spec.pool.name", ""));
    } else {
        for segment in pool_name.split('/') {
            for m in validation::dns1123_subdomain(segment) {
                errs.push(FieldError::invalid("spec.pool.name", segment, m));
            }
        }
    }
    let count = pool
        .get("resourceSliceCount")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if count <= 0 {
        errs.push(FieldError::invalid_value(
            "spec.pool.resourceSliceCount",
            &Value::from(count),
            "must be greater than zero",
        ));
    }
    // Set means present: an empty node name or a false flag counts as set, and is wrong.
    let set: Vec<&str> = [
        "nodeName",
        "nodeSelector",
        "allNodes",
        "perDeviceNodeSelection",
    ]
    .into_iter()
    .filter(|k| spec.get(*k).is_some_and(|v| !v.is_null()))
    .collect();
    if spec.get("nodeName").and_then(Value::as_str) == Some("") {
        errs.push(FieldError::invalid(
            "spec.nodeName",
            "",
            "must be either unset or set to a non-empty string",
        ));
    }
    for flag in ["allNodes", "perDeviceNodeSelection"] {
        if spec.get(flag) == Some(&Value::Bool(false)) {
            errs.push(FieldError::invalid_value(
                format!("spec.{flag}"),
                &Value::Bool(false),
                "must be either unset or set to true",
            ));
        }
    }
    const CHOICES: &str = "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required";
    match set.len() {
        0 => errs.push(FieldError::required("spec", CHOICES)),
        1 => {}
        _ => errs.push(FieldError::invalid(
            "spec",
            &format!("{{`{}`}}", set.join("`, `")),
            format!("{CHOICES}, but multiple fields are set"),
        )),
    }
    errs
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::registry::kinds::testing::{messages, o};

    #[test]
    fn claim_requests_defaulted_and_checked() {
        let mut c = o(json!({"spec": {"devices": {"requests": [
            {"name": "gpu", "exactly": {"deviceClassName": "gpu.example.com"}},
            {"name": "any", "firstAvailable": [{"deviceClassName": "a", "allocationMode": "All"}]}]}}}));
        DeviceHooks::Claim.defaults(&mut c);
        let r = &c["spec"]["devices"]["requests"];
        assert_eq!(r[0]["exactly"]["allocationMode"], "ExactCount");
        assert_eq!(r[0]["exactly"]["count"], 1);
        assert!(r[1]["firstAvailable"][0].get("count").is_none());
        assert!(DeviceHooks::Claim.validate(&c).is_empty());

        let bad = o(json!({"spec": {"devices": {"requests": [{"name": "x"},
            {"name": "x", "exactly": {"allocationMode": "Some"}}]}}}));
        assert_eq!(
            messages(&DeviceHooks::Claim.validate(&bad)),
            [
                "spec.devices.requests[0]: Required value: exactly one of `exactly` or `firstAvailable` is required",
                "spec.devices.requests[1].name: Duplicate value: \"x\"",
                "spec.devices.requests[1].exactly.deviceClassName: Required value",
                "spec.devices.requests[1].exactly.allocationMode: Unsupported value: \"Some\": supported values: \"All\", \"ExactCount\"",
            ]
        );
        let mut changed = c.clone();
        changed["spec"]["devices"]["requests"][0]["exactly"]["count"] = json!(2);
        let got = messages(&DeviceHooks::Claim.validate_update(None, &changed, &c));
        assert!(
            got.len() == 1 && got[0].starts_with("spec: Invalid value: {"),
            "{got:?}"
        );
        assert!(DeviceHooks::Claim
            .validate_update(Some(Subresource::Status), &changed, &c)
            .is_empty());
    }

    #[test]
    fn slice_driver_pool_and_one_node_choice() {
        let ok = o(
            json!({"spec": {"driver": "gpu.example.com", "nodeName": "n1",
            "pool": {"name": "n1", "generation": 1, "resourceSliceCount": 1}}}),
        );
        assert!(DeviceHooks::Slice.validate(&ok).is_empty());
        let none = o(json!({"spec": {"pool": {}}}));
        assert_eq!(
            messages(&DeviceHooks::Slice.validate(&none)),
            [
                "spec.driver: Required value",
                "spec.driver: Invalid value: \"\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "spec.pool.name: Required value",
                "spec.pool.resourceSliceCount: Invalid value: 0: must be greater than zero",
                "spec: Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required",
            ]
        );
        let mut two = ok.clone();
        two["spec"]["allNodes"] = json!(true);
        assert!(messages(&DeviceHooks::Slice.validate(&two))[0]
            .ends_with("but multiple fields are set"));
        let mut moved = ok.clone();
        moved["spec"]["nodeName"] = json!("n2");
        assert_eq!(
            messages(&DeviceHooks::Slice.validate_update(None, &moved, &ok)),
            ["spec.nodeName: Invalid value: \"n2\": field is immutable"]
        );
        let class = o(json!({"spec": {"selectors": [{"cel": {"expression": ""}}]}}));
        assert_eq!(
            messages(&DeviceHooks::Class.validate(&class)),
            ["spec.selectors[0].cel.expression: Required value"]
        );
        let class = o(json!({"spec": {"selectors": [{}]}}));
        assert_eq!(
            messages(&DeviceHooks::Class.validate(&class)),
            ["spec.selectors[0].cel: Required value"]
        );
    }
}
