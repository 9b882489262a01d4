//! `fieldValidation`: fields an object has that its kind's schema does not know, and fields a
//! body gives twice. Strict
//! rejects them (400, upstream's "strict decoding error"), Warn (the default) drops them and
//! reports each in a `Warning` header, Ignore drops them silently — as kube-apiserver does.

use serde_json::{Map, Value};

use super::kind_schema;
use crate::api::status::Status;

/// The `fieldValidation` directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    /// Drop unknown fields silently.
    Ignore,
    /// Drop them and warn.
    Warn,
    /// Reject the request.
    Strict,
}

impl Directive {
    /// Parses the query parameter (absent: Warn); anything else is upstream's 400.
    pub fn parse(v: Option<&str>) -> Result<Self, Status> {
        match v {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(Status::bad_request(format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            ))),
        }
    }
}

/// Checks `obj` (an object of `kind` in `group`/`version`) against its schema, removing
/// unknown fields. Returns the warnings to send (Warn), or the Strict error.
pub fn check_fields(
    (group, version): (&str, &str),
    kind: &str,
    obj: &mut Map<String, Value>,
    directive: Directive,
) -> Result<Vec<String>, Status> {
    check_body((group, version), kind, obj, directive, &[])
}

/// [`check_fields`], also reporting the fields the body gave more than once (found in its
/// bytes by [`super::duplicates::duplicate_fields`]; the decoded object kept the last).
pub fn check_body(
    (group, version): (&str, &str),
    kind: &str,
    obj: &mut Map<String, Value>,
    directive: Directive,
    duplicates: &[String],
) -> Result<Vec<String>, Status> {
    let unknown = unknown_fields(group, version, kind, obj);
    if directive == Directive::Ignore || (unknown.is_empty() && duplicates.is_empty()) {
        return Ok(Vec::new());
    }
    let mut listed: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field \"{p}\""))
        .collect();
    listed.extend(
        duplicates
            .iter()
            .map(|p| format!("duplicate field \"{p}\"")),
    );
    match directive {
        Directive::Strict => Err(Status::bad_request(format!(
            "strict decoding error: {}",
            listed.join(", ")
        ))),
        _ => Ok(listed),
    }
}

/// The unknown fields of `obj`, removed from it.
fn unknown_fields(
    group: &str,
    version: &str,
    kind: &str,
    obj: &mut Map<String, Value>,
) -> Vec<String> {
    let Some(schema) = kind_schema(group, version, kind) else {
        return Vec::new();
    };
    let Some(definition) = schema.definition() else {
        return Vec::new();
    };
    let mut unknown = Vec::new();
    walk_object(schema.schemas, definition, obj, "", &mut unknown, 0);
    unknown
}

/// Nesting deeper than this is not checked (schemas are finite; objects might not be).
const MAX_DEPTH: usize = 64;

fn resolve<'a>(defs: &'a Map<String, Value>, s: &'a Value) -> &'a Value {
    super::resolve(defs, s).1
}

fn walk_object(
    defs: &Map<String, Value>,
    schema: &Value,
    obj: &mut Map<String, Value>,
    path: &str,
    unknown: &mut Vec<String>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let s = resolve(defs, schema);
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return;
    }
    let props = s.get("properties").and_then(Value::as_object);
    let additional = s.get("additionalProperties").filter(|a| a.is_object());
    if props.is_none() && additional.is_none() {
        return;
    }
    let mut drop = Vec::new();
    for (k, v) in obj.iter_mut() {
        let child = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        match props.and_then(|p| p.get(k)).or(additional) {
            Some(sub) => walk_value(defs, sub, v, &child, unknown, depth + 1),
            None => {
                unknown.push(child);
                drop.push(k.clone());
            }
        }
    }
    for k in drop {
        obj.remove(&k);
    }
}

fn walk_value(
    defs: &Map<String, Value>,
    schema: &Value,
    v: &mut Value,
    path: &str,
    unknown: &mut Vec<String>,
    depth: usize,
) {
    match v {
        Value::Object(m) => walk_object(defs, schema, m, path, unknown, depth),
        Value::Array(items) => {
            let s = resolve(defs, schema);
            if let Some(item_schema) = s.get("items") {
                for (i, it) in items.iter_mut().enumerate() {
                    walk_value(
                        defs,
                        item_schema,
                        it,
                        &format!("{path}[{i}]"),
                        unknown,
                        depth + 1,
                    );
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn deployments() -> (&'static str, &'static str) {
        ("apps", "v1")
    }

    #[test]
    fn unknown_fields_are_found_dropped_and_named() {
        let res = deployments();
        let mut obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"a": "b"}, "bogus": 1},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicyy": "x",
                                           "resources": {"limits": {"cpu": "1"}}}]}}}})
        .as_object()
        .cloned()
        .unwrap();
        let warnings = check_fields(res, "Deployment", &mut obj.clone(), Directive::Warn).unwrap();
        assert_eq!(
            warnings,
            vec![
                "unknown field \"metadata.bogus\"",
                "unknown field \"spec.template.spec.containers[0].imagePullPolicyy\"",
            ]
        );
        let err = check_fields(res, "Deployment", &mut obj.clone(), Directive::Strict).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "strict decoding error: unknown field \"metadata.bogus\", unknown field \"spec.template.spec.containers[0].imagePullPolicyy\""
        );
        assert!(check_fields(res, "Deployment", &mut obj, Directive::Ignore)
            .unwrap()
            .is_empty());
        assert!(obj["metadata"].get("bogus").is_none(), "dropped");
        assert_eq!(
            obj["metadata"]["labels"],
            json!({"a": "b"}),
            "maps keep their keys"
        );
    }
}
