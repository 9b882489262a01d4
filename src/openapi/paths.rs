//! The operations of one resource in an OpenAPI v3 document: the paths kube-apiserver serves
//! for it, each verb with its query parameters and its group-version-kind.

use serde_json::{json, Map, Value};

use crate::api::resources::{ApiResource, Subresource};

/// Schemas the operations refer to.
pub(super) struct Refs {
    /// The kind.
    pub(super) object: Value,
    /// meta/v1 Status.
    pub(super) status: Value,
    /// meta/v1 DeleteOptions.
    pub(super) delete_options: Value,
    /// autoscaling/v1 Scale, for scale subresources.
    pub(super) scale: Option<Value>,
}

fn query(name: &str, description: &str, ty: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": ty, "uniqueItems": true}})
}

fn write_params(patch: bool) -> Vec<Value> {
    let mut p = vec![
        query("dryRun", "When present, the request is validated and defaulted but not persisted. The only valid value is All.", "string"),
        query("fieldManager", "A name for the actor making the change.", "string"),
        query("fieldValidation", "What to do with unknown or duplicate fields in the object: Ignore, Warn (the default) or Strict.", "string"),
    ];
    if patch {
        p.push(query(
            "force",
            "Force an apply request through conflicts.",
            "boolean",
        ));
    }
    p
}

fn list_params() -> Vec<Value> {
    vec![
        query(
            "allowWatchBookmarks",
            "Ask for BOOKMARK events on watches.",
            "boolean",
        ),
        query(
            "continue",
            "The continue token of the previous page.",
            "string",
        ),
        query("fieldSelector", "Select objects by fields.", "string"),
        query("labelSelector", "Select objects by labels.", "string"),
        query("limit", "At most this many items per page.", "integer"),
        query(
            "resourceVersion",
            "Which state to read: see the API conventions.",
            "string",
        ),
        query(
            "resourceVersionMatch",
            "How resourceVersion applies: Exact or NotOlderThan.",
            "string",
        ),
        query(
            "sendInitialEvents",
            "Begin a watch with the current state as ADDED events.",
            "boolean",
        ),
        query(
            "timeoutSeconds",
            "End the list or watch after this many seconds.",
            "integer",
        ),
        query("watch", "Watch for changes instead of listing.", "boolean"),
    ]
}

/// Media types kubeshard answers an operation in: JSON, and protobuf for clients that take only
/// protobuf; a list also as watch streams.
fn response(schema: &Value, list: bool) -> Value {
    let mut content = Map::new();
    let mut types = vec!["application/json", "application/vnd.kubernetes.protobuf"];
    if list {
        types.extend([
            "application/json;stream=watch",
            "application/vnd.kubernetes.protobuf;stream=watch",
        ]);
    }
    for t in types {
        content.insert(t.into(), json!({"schema": schema}));
    }
    json!({"description": "OK", "content": content})
}

struct Op<'a> {
    r: &'a ApiResource,
    gvk: Value,
    id_base: String,
}

impl Op<'_> {
    fn op(
        &self,
        action: &str,
        verb_id: &str,
        params: Vec<Value>,
        body: Option<Value>,
        ok: &Value,
    ) -> Value {
        let mut o = json!({
            "tags": [self.tag()],
            "description": format!("{action} {}", self.r.kind),
            "operationId": format!("{verb_id}{}", self.id_base),
            "parameters": params,
            "responses": {"200": response(ok, action == "list"), "401": {"description": "Unauthorized"}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": self.gvk,
        });
        if let Some(b) = body {
            o["requestBody"] = b;
        }
        o
    }

    fn tag(&self) -> String {
        let g = if self.r.group.is_empty() {
            "core".to_string()
        } else {
            self.r.group.split('.').next().unwrap_or("").to_string()
        };
        format!("{g}_{}", self.r.version)
    }
}

fn json_body(schema: &Value) -> Value {
    json!({"content": {"application/json": {"schema": schema}}, "required": true})
}

/// PATCH bodies, in upstream's order; strategic merge is listed because the schemas carry the
/// merge keys (kubectl then builds its `apply` patches from them).
fn patch_body() -> Value {
    let obj = json!({"schema": {"type": "object"}});
    json!({"content": {
        "application/json-patch+json": obj,
        "application/merge-patch+json": obj,
        "application/strategic-merge-patch+json": obj,
        "application/apply-patch+yaml": obj,
    }, "required": true})
}

/// Adds the resource's paths (collection, item, subresources) to `paths`.
pub(super) fn add(paths: &mut Map<String, Value>, r: &ApiResource, refs: &Refs) {
    let prefix = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    let scope = if r.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let collection = format!("{prefix}{scope}/{}", r.plural);
    let item = format!("{collection}/{{name}}");
    let group_id: String = r
        .group
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .enumerate()
        .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
        .collect();
    let version_id: String = r
        .version
        .chars()
        .enumerate()
        .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
        .collect();
    let ns_id = if r.namespaced { "Namespaced" } else { "" };
    let group_id = if group_id.is_empty() {
        "Core".to_string()
    } else {
        group_id
    };
    let op = Op {
        r,
        gvk: json!({"group": r.group, "kind": r.kind, "version": r.version}),
        id_base: format!("{group_id}{version_id}{ns_id}{}", r.kind),
    };
    let mut path_params = Vec::new();
    if r.namespaced {
        path_params.push(json!({"name": "namespace", "in": "path", "required": true, "description": "object name and auth scope, such as for teams and projects", "schema": {"type": "string", "uniqueItems": true}}));
    }
    path_params.push(query("pretty", "Pretty-print the output.", "string"));

    let mut coll = Map::new();
    coll.insert("parameters".into(), Value::Array(path_params.clone()));
    if r.allows("list") {
        coll.insert(
            "get".into(),
            op.op(
                "list",
                "list",
                list_params(),
                None,
                &json!({"type": "object"}),
            ),
        );
    }
    if r.allows("create") {
        coll.insert(
            "post".into(),
            op.op(
                "post",
                "create",
                write_params(false),
                Some(json_body(&refs.object)),
                &refs.object,
            ),
        );
    }
    if r.allows("deletecollection") {
        coll.insert(
            "delete".into(),
            op.op(
                "deletecollection",
                "deleteCollection",
                list_params(),
                Some(json_body(&refs.delete_options)),
                &refs.status,
            ),
        );
    }
    paths.insert(collection, Value::Object(coll));

    let mut item_params = vec![
        json!({"name": "name", "in": "path", "required": true, "description": "name of the object", "schema": {"type": "string", "uniqueItems": true}}),
    ];
    item_params.extend(path_params);
    let mut it = Map::new();
    it.insert("parameters".into(), Value::Array(item_params.clone()));
    if r.allows("get") {
        it.insert(
            "get".into(),
            op.op("get", "read", Vec::new(), None, &refs.object),
        );
    }
    if r.allows("update") {
        it.insert(
            "put".into(),
            op.op(
                "put",
                "replace",
                write_params(false),
                Some(json_body(&refs.object)),
                &refs.object,
            ),
        );
    }
    if r.allows("patch") {
        it.insert(
            "patch".into(),
            op.op(
                "patch",
                "patch",
                write_params(true),
                Some(patch_body()),
                &refs.object,
            ),
        );
    }
    if r.allows("delete") {
        it.insert(
            "delete".into(),
            op.op(
                "delete",
                "delete",
                write_params(false),
                Some(json_body(&refs.delete_options)),
                &refs.status,
            ),
        );
    }
    paths.insert(item.clone(), Value::Object(it));

    for sub in r.subresources {
        let (schema, sub_op) = match sub {
            Subresource::Scale => match &refs.scale {
                Some(s) => (
                    s.clone(),
                    Op {
                        r,
                        gvk: json!({"group": "autoscaling", "kind": "Scale", "version": "v1"}),
                        id_base: format!("{}Scale", op.id_base),
                    },
                ),
                None => continue,
            },
            Subresource::Status => (
                refs.object.clone(),
                Op {
                    r,
                    gvk: op.gvk.clone(),
                    id_base: format!("{}Status", op.id_base),
                },
            ),
            Subresource::Approval | Subresource::EphemeralContainers | Subresource::Resize => (
                refs.object.clone(),
                Op {
                    r,
                    gvk: op.gvk.clone(),
                    id_base: format!("{}{}", op.id_base, upper_first(sub.name())),
                },
            ),
            // Create-only and connect subresources have no read/replace/patch paths.
            Subresource::Finalize
            | Subresource::Token
            | Subresource::Binding
            | Subresource::Eviction
            | Subresource::Log
            | Subresource::Exec
            | Subresource::Attach
            | Subresource::PortForward
            | Subresource::Proxy => continue,
        };
        let mut s = Map::new();
        s.insert("parameters".into(), Value::Array(item_params.clone()));
        s.insert(
            "get".into(),
            sub_op.op("get", "read", Vec::new(), None, &schema),
        );
        s.insert(
            "put".into(),
            sub_op.op(
                "put",
                "replace",
                write_params(false),
                Some(json_body(&schema)),
                &schema,
            ),
        );
        s.insert(
            "patch".into(),
            sub_op.op(
                "patch",
                "patch",
                write_params(true),
                Some(patch_body()),
                &schema,
            ),
        );
        paths.insert(format!("{item}/{}", sub.name()), Value::Object(s));
    }
}

/// `approval` -> `Approval`: a subresource's name in operation ids.
fn upper_first(name: &str) -> String {
    let mut c = name.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}
