//! `admission.k8s.io/v1` AdmissionReview: the request a webhook is sent (upstream's
//! `CreateAdmissionObjects`) and the checks of its answer (upstream's
//! `VerifyAdmissionResponse`, with its messages).

use serde_json::{json, Map, Value};

use crate::registry::kinds::Object;
use crate::registry::store::{Attributes, Operation};

/// The `request` variable CEL expressions see: the AdmissionRequest without the objects
/// (they are variables of their own) and without a uid, as upstream's
/// `CreateAdmissionRequest` builds it.
pub fn cel_request(attrs: &Attributes<'_>, object: Option<&Object>) -> Value {
    let r = attrs.resource;
    let kind = json!({"group": r.group, "version": r.version, "kind": r.kind});
    let resource = json!({"group": r.group, "version": r.version, "resource": r.plural});
    let user = &attrs.request.user;
    let mut user_info = Map::new();
    user_info.insert("username".into(), Value::from(user.name.as_str()));
    if !user.uid.is_empty() {
        user_info.insert("uid".into(), Value::from(user.uid.as_str()));
    }
    if !user.groups.is_empty() {
        user_info.insert("groups".into(), json!(user.groups));
    }
    if !user.extra.is_empty() {
        user_info.insert("extra".into(), json!(user.extra));
    }
    let mut req = Map::new();
    req.insert("kind".into(), kind.clone());
    req.insert("resource".into(), resource.clone());
    let sub = attrs.request.subresource.map(|s| s.name());
    if let Some(s) = sub {
        req.insert("subResource".into(), Value::from(s));
    }
    req.insert("requestKind".into(), kind);
    req.insert("requestResource".into(), resource);
    if let Some(s) = sub {
        req.insert("requestSubResource".into(), Value::from(s));
    }
    let name = object
        .and_then(|o| o.get("metadata")?.get("name"))
        .and_then(Value::as_str)
        .unwrap_or(attrs.name);
    if !name.is_empty() {
        req.insert("name".into(), Value::from(name));
    }
    if let Some(ns) = namespace(attrs, name) {
        req.insert("namespace".into(), Value::from(ns));
    }
    req.insert("operation".into(), Value::from(attrs.operation.label()));
    req.insert("userInfo".into(), Value::Object(user_info));
    req.insert("dryRun".into(), Value::Bool(attrs.request.dry_run));
    req.insert("options".into(), options(attrs));
    Value::Object(req)
}

/// The namespace a webhook is told: the request's, or for a Namespace object its own name
/// (as upstream's attributes carry it).
pub fn namespace<'a>(attrs: &Attributes<'a>, name: &'a str) -> Option<&'a str> {
    let r = attrs.resource;
    if r.group.is_empty() && r.plural == "namespaces" {
        return (!name.is_empty()).then_some(name);
    }
    attrs.request.namespace.as_deref()
}

fn options(attrs: &Attributes<'_>) -> Value {
    let kind = match attrs.operation {
        Operation::Create => "CreateOptions",
        Operation::Update => "UpdateOptions",
        Operation::Delete => "DeleteOptions",
    };
    let mut o = Map::new();
    o.insert("kind".into(), Value::from(kind));
    o.insert("apiVersion".into(), Value::from("meta.k8s.io/v1"));
    if attrs.request.dry_run {
        o.insert("dryRun".into(), json!(["All"]));
    }
    if attrs.operation != Operation::Delete {
        if let Some(m) = &attrs.request.field_manager {
            o.insert("fieldManager".into(), Value::from(m.as_str()));
        }
    }
    Value::Object(o)
}

#[derive(serde::Serialize)]
struct Review<'a> {
    kind: &'static str,
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    request: Request<'a>,
}

#[derive(serde::Serialize)]
struct Request<'a> {
    uid: &'a str,
    #[serde(flatten)]
    base: &'a Value,
    object: Option<&'a Object>,
    #[serde(rename = "oldObject")]
    old_object: Option<&'a Object>,
}

/// The AdmissionReview document sent about `attrs`, with `object` the object as it stands
/// (serialized from the objects in place, not copied).
pub fn document(uid: &str, attrs: &Attributes<'_>, object: Option<&Object>) -> Vec<u8> {
    let base = cel_request(attrs, object);
    serde_json::to_vec(&Review {
        kind: "AdmissionReview",
        api_version: "admission.k8s.io/v1",
        request: Request {
            uid,
            base: &base,
            object,
            old_object: attrs.old,
        },
    })
    .unwrap_or_default()
}

/// A webhook's verdict, checked.
#[derive(Debug, Default)]
pub struct Verdict {
    /// `response.allowed`.
    pub allowed: bool,
    /// `response.status` (the refusal's Status).
    pub status: Value,
    /// The JSON patch (mutating webhooks), decoded from base64.
    pub patch: Option<Vec<u8>>,
    /// The patch's operations (set by the caller, which words the failure to parse them).
    pub ops: Option<json_patch::Patch>,
    /// `response.warnings`.
    pub warnings: Vec<String>,
    /// `response.auditAnnotations`.
    pub audit_annotations: Vec<(String, String)>,
}

/// Checks the answer as upstream does; Err is why it is not a valid answer.
pub fn verify(uid: &str, mutating: bool, answer: &Value) -> Result<Verdict, String> {
    let api_version = answer
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = answer.get("kind").and_then(Value::as_str).unwrap_or("");
    if (api_version, kind) != ("admission.k8s.io/v1", "AdmissionReview") {
        let (g, v) = api_version.split_once('/').unwrap_or(("", api_version));
        let got = format!("{g}/{v}, Kind={kind}");
        return Err(format!(
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got {got}"
        ));
    }
    let Some(r) = answer.get("response").filter(|r| r.is_object()) else {
        return Err("webhook response was absent".into());
    };
    let got_uid = r.get("uid").and_then(Value::as_str).unwrap_or_default();
    if got_uid != uid {
        return Err(format!("expected response.uid={uid:?}, got {got_uid:?}"));
    }
    let patch = r
        .get("patch")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    let patch_type = r
        .get("patchType")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    let patch = if mutating {
        match (patch, patch_type) {
            (Some(_), None) => {
                return Err("webhook returned response.patch but not response.patchType".into())
            }
            (None, Some(_)) => {
                return Err("webhook returned response.patchType but not response.patch".into())
            }
            (Some(p), Some("JSONPatch")) => Some(
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, p)
                    .map_err(|e| format!("illegal base64 data in response.patch: {e}"))?,
            ),
            (Some(_), Some(t)) => {
                return Err(format!(
                    "webhook returned invalid response.patchType of {t:?}"
                ))
            }
            (None, None) => None,
        }
    } else {
        if patch.is_some() {
            return Err("validating webhook may not return response.patch".into());
        }
        if patch_type.is_some() {
            return Err("validating webhook may not return response.patchType".into());
        }
        None
    };
    Ok(Verdict {
        allowed: r.get("allowed").and_then(Value::as_bool).unwrap_or(false),
        ops: None,
        status: r.get("status").cloned().unwrap_or(Value::Null),
        patch,
        warnings: r
            .get("warnings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        audit_annotations: r
            .get("auditAnnotations")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn answers_checked_as_upstream() {
        let ok = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": "u", "allowed": true, "warnings": ["w"], "auditAnnotations": {"k": "v"}}});
        let v = verify("u", false, &ok).unwrap();
        assert!(v.allowed);
        assert_eq!(v.warnings, ["w"]);
        assert_eq!(v.audit_annotations, [("k".to_string(), "v".to_string())]);
        let wrong_uid = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": "x", "allowed": true}});
        assert_eq!(
            verify("u", false, &wrong_uid).unwrap_err(),
            "expected response.uid=\"u\", got \"x\""
        );
        assert_eq!(
            verify("u", false, &json!({})).unwrap_err(),
            "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got /, Kind="
        );
        let patched = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": "u", "allowed": true, "patch": "W10=", "patchType": "JSONPatch"}});
        assert_eq!(verify("u", true, &patched).unwrap().patch.unwrap(), b"[]");
        assert_eq!(
            verify("u", false, &patched).unwrap_err(),
            "validating webhook may not return response.patch"
        );
        let untyped = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": "u", "allowed": true, "patch": "W10="}});
        assert_eq!(
            verify("u", true, &untyped).unwrap_err(),
            "webhook returned response.patch but not response.patchType"
        );
    }
}
