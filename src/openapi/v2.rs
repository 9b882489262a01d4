//! `/openapi/v2`: one Swagger 2.0 document for every served group-version, derived from the
//! v3 documents (same operations, same schemas) the way kube-apiserver publishes both from one
//! model: parameters carry their type inline, request bodies become `body` parameters, media
//! types move to `consumes`/`produces`, and `$ref`s point into `#/definitions/`.
//!
//! kubectl reads this document (as gnostic protobuf, see [`super::gnostic`]) to find the kind's
//! schema and the PATCH media types, and builds client-side `apply` patches from the schemas'
//! `x-kubernetes-patch-*` extensions.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::OpenApi;

const V3_REF: &str = "#/components/schemas/";
const V2_REF: &str = "#/definitions/";
const GVK: &str = "x-kubernetes-group-version-kind";

/// The Swagger 2.0 document for everything in `api`.
pub fn document(api: &OpenApi) -> Value {
    let mut paths = BTreeMap::new();
    let mut definitions: BTreeMap<String, Value> = BTreeMap::new();
    for doc in api.docs.values() {
        let Ok(v3) = serde_json::from_slice::<Value>(&doc.bytes) else {
            continue;
        };
        if let Some(p) = v3.get("paths").and_then(Value::as_object) {
            for (path, item) in p {
                paths.insert(path.clone(), path_item(item));
            }
        }
        for (name, def) in &doc.schemas {
            let def = v2_form(name, def);
            let def = def.as_ref();
            // A kind's definition carries its group-version-kind only in its own document.
            let named_kind = def.get(GVK).is_some();
            match definitions.get(name) {
                Some(seen) if !named_kind || seen.get(GVK).is_some() => {}
                _ => {
                    definitions.insert(name.clone(), schema(def));
                }
            }
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": super::info_version()},
        "paths": paths,
        "definitions": definitions,
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "in": "header",
                "name": "authorization",
                "type": "apiKey",
            }
        },
        "security": [{"BearerToken": []}],
    })
}

/// A definition whose v2 form differs from its v3 one beyond the syntax: IntOrString and
/// Quantity are strings in upstream's v2 document (v2 has no `oneOf`).
fn v2_form<'a>(name: &str, def: &'a Value) -> Cow<'a, Value> {
    let format = match name {
        super::INT_OR_STRING => Some("int-or-string"),
        super::QUANTITY => None,
        _ => return Cow::Borrowed(def),
    };
    let mut out = def.clone();
    if let Some(m) = out.as_object_mut() {
        m.remove("oneOf");
        if let Some(f) = format {
            m.insert("format".into(), json!(f));
        }
        m.insert("type".into(), json!("string"));
    }
    Cow::Owned(out)
}

/// A v3 schema as Swagger 2.0 writes it: `$ref`s into `#/definitions/`, a lone `allOf` ref
/// back to a `$ref` with siblings (as upstream's v2 document has them), no `nullable`.
pub(super) fn schema(s: &Value) -> Value {
    match s {
        Value::Object(m) => {
            let mut out = Map::new();
            if let Some(r) = lone_all_of_ref(m) {
                out.insert("$ref".into(), Value::String(r));
            }
            for (k, v) in m {
                match k.as_str() {
                    "allOf" if out.contains_key("$ref") => {}
                    "nullable" => {}
                    "$ref" => {
                        let r = v.as_str().unwrap_or_default();
                        let r = r
                            .strip_prefix(V3_REF)
                            .map_or_else(|| r.to_string(), |name| format!("{V2_REF}{name}"));
                        out.insert(k.clone(), Value::String(r));
                    }
                    "properties" | "definitions" => {
                        let props = v
                            .as_object()
                            .map(|p| p.iter().map(|(n, s)| (n.clone(), schema(s))).collect())
                            .unwrap_or_default();
                        out.insert(k.clone(), Value::Object(props));
                    }
                    "items" | "additionalProperties" | "allOf" => {
                        out.insert(k.clone(), schema(v));
                    }
                    _ => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(schema).collect()),
        other => other.clone(),
    }
}

/// `allOf: [{$ref: X}]` (what schemars writes for a `$ref` with siblings): X as a v2 ref.
fn lone_all_of_ref(m: &Map<String, Value>) -> Option<String> {
    let all = m.get("allOf")?.as_array()?;
    let [only] = all.as_slice() else {
        return None;
    };
    let only = only.as_object()?;
    if only.len() != 1 {
        return None;
    }
    let name = only.get("$ref")?.as_str()?.strip_prefix(V3_REF)?;
    Some(format!("{V2_REF}{name}"))
}

fn path_item(item: &Value) -> Value {
    let mut out = Map::new();
    let Some(item) = item.as_object() else {
        return Value::Object(out);
    };
    for (k, v) in item {
        match k.as_str() {
            "parameters" => {
                out.insert(k.clone(), parameters(v));
            }
            "get" | "put" | "post" | "delete" | "patch" | "head" | "options" => {
                out.insert(k.clone(), operation(v));
            }
            _ => {}
        }
    }
    Value::Object(out)
}

fn parameters(v: &Value) -> Value {
    Value::Array(
        v.as_array()
            .map(|ps| ps.iter().map(parameter).collect())
            .unwrap_or_default(),
    )
}

/// A v3 non-body parameter with its type inline, as Swagger 2.0 has it.
fn parameter(p: &Value) -> Value {
    let mut out = Map::new();
    let Some(p) = p.as_object() else {
        return Value::Object(out);
    };
    for (k, v) in p {
        if k == "schema" {
            if let Some(s) = v.as_object() {
                for (sk, sv) in s {
                    out.insert(sk.clone(), sv.clone());
                }
            }
        } else {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn media_types(content: Option<&Value>) -> Vec<String> {
    content
        .and_then(Value::as_object)
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default()
}

fn operation(op: &Value) -> Value {
    let mut out = Map::new();
    let Some(op) = op.as_object() else {
        return Value::Object(out);
    };
    let body = op.get("requestBody");
    let consumes = media_types(body.and_then(|b| b.get("content")));
    out.insert(
        "consumes".into(),
        if consumes.is_empty() {
            json!(["*/*"])
        } else {
            json!(consumes)
        },
    );
    for key in ["description", "operationId"] {
        if let Some(v) = op.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let mut params = Vec::new();
    if let Some(b) = body {
        let content = b.get("content").and_then(Value::as_object);
        let body_schema = content
            .and_then(|c| c.values().next())
            .and_then(|m| m.get("schema"))
            .map(schema)
            .unwrap_or_else(|| json!({"type": "object"}));
        params.push(json!({
            "in": "body",
            "name": "body",
            "required": b.get("required").and_then(Value::as_bool).unwrap_or(false),
            "schema": body_schema,
        }));
    }
    if let Some(ps) = op.get("parameters").and_then(Value::as_array) {
        params.extend(ps.iter().map(parameter));
    }
    out.insert("parameters".into(), Value::Array(params));
    let mut produces: Vec<String> = Vec::new();
    let mut responses = Map::new();
    if let Some(rs) = op.get("responses").and_then(Value::as_object) {
        for (code, r) in rs {
            let mut resp = Map::new();
            if let Some(d) = r.get("description") {
                resp.insert("description".into(), d.clone());
            }
            let content = r.get("content");
            for t in media_types(content) {
                if !produces.contains(&t) {
                    produces.push(t);
                }
            }
            if let Some(s) = content
                .and_then(Value::as_object)
                .and_then(|c| c.values().next())
                .and_then(|m| m.get("schema"))
            {
                resp.insert("schema".into(), schema(s));
            }
            responses.insert(code.clone(), Value::Object(resp));
        }
    }
    out.insert("produces".into(), json!(produces));
    out.insert("responses".into(), Value::Object(responses));
    out.insert("schemes".into(), json!(["https"]));
    for (k, v) in op {
        if k == "tags" || k.starts_with("x-") {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn refs_with_siblings_and_nested_schemas() {
        let s = schema(&json!({
            "properties": {
                "spec": {"allOf": [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}], "description": "d"},
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/X"}, "nullable": true},
            }
        }));
        assert_eq!(
            s["properties"]["spec"],
            json!({"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec", "description": "d"})
        );
        assert_eq!(
            s["properties"]["items"],
            json!({"type": "array", "items": {"$ref": "#/definitions/X"}})
        );
    }

    #[test]
    fn operations_as_swagger_two() {
        let op = operation(&json!({
            "tags": ["apps_v1"],
            "description": "patch Deployment",
            "operationId": "patchAppsV1NamespacedDeployment",
            "parameters": [{"name": "dryRun", "in": "query", "description": "x", "schema": {"type": "string", "uniqueItems": true}}],
            "requestBody": {"content": {"application/json-patch+json": {"schema": {"type": "object"}}, "application/strategic-merge-patch+json": {"schema": {"type": "object"}}}, "required": true},
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/D"}}}}, "401": {"description": "Unauthorized"}},
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": {"group": "apps", "kind": "Deployment", "version": "v1"},
        }));
        assert_eq!(
            op["consumes"],
            json!([
                "application/json-patch+json",
                "application/strategic-merge-patch+json"
            ])
        );
        assert_eq!(op["produces"], json!(["application/json"]));
        assert_eq!(
            op["parameters"][0],
            json!({"in": "body", "name": "body", "required": true, "schema": {"type": "object"}})
        );
        assert_eq!(
            op["parameters"][1],
            json!({"name": "dryRun", "in": "query", "description": "x", "type": "string", "uniqueItems": true})
        );
        assert_eq!(op["responses"]["200"]["schema"]["$ref"], "#/definitions/D");
        assert_eq!(
            op["responses"]["401"],
            json!({"description": "Unauthorized"})
        );
        assert_eq!(op["x-kubernetes-action"], "patch");
        assert_eq!(op["schemes"], json!(["https"]));
    }
}
