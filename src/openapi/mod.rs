//! OpenAPI v3 documents for every served group-version, built once from the resource table and
//! the k8s-openapi types' JSON schemas, and the field validation (`fieldValidation`) that
//! checks objects against the same schemas.
//!
//! kubectl reads `/openapi/v3` to learn that the server validates fields itself (the
//! `fieldValidation` parameter on PATCH operations) and for `kubectl explain`, and
//! `/openapi/v2` (the same operations and schemas as one Swagger 2.0 document, in gnostic
//! protobuf) to build client-side `apply` patches. Both carry upstream's `x-kubernetes-patch-*`
//! and list/map-type extensions on the schemas (`extensions.rs`).

pub mod duplicates;
pub mod extensions;
mod gnostic;
mod kinds;
mod markers;
mod paths;
pub mod v2;
pub mod validate;
mod yaml;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bytes::Bytes;
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::api::resources::{all_resources, ApiResource};

/// One group-version's document.
#[derive(Debug)]
pub struct GroupVersionDoc {
    /// The document's JSON.
    pub bytes: Bytes,
    /// Upper-case hex SHA-512 of the bytes (upstream's hash and ETag).
    pub hash: String,
    /// `components.schemas`, for field validation.
    pub schemas: Map<String, Value>,
    /// Definition name of each kind in this group-version.
    pub kinds: BTreeMap<String, String>,
}

/// Every document, keyed by its path under `/openapi/v3/` (`api/v1`, `apis/apps/v1`).
#[derive(Debug)]
pub struct OpenApi {
    /// The root index (`/openapi/v3`).
    pub index: Bytes,
    /// ETag of the index.
    pub index_hash: String,
    /// Per group-version documents.
    pub docs: BTreeMap<String, GroupVersionDoc>,
}

static OPENAPI: OnceLock<OpenApi> = OnceLock::new();

/// The documents for the built-in resource table, built on first use.
pub fn get() -> &'static OpenApi {
    OPENAPI.get_or_init(|| OpenApi::build(all_resources()))
}

/// The Swagger 2.0 document in both encodings kube-apiserver serves it in.
#[derive(Debug)]
pub struct Swagger {
    /// The JSON document.
    pub json: Bytes,
    /// The same document as gnostic's `openapi.v2.Document` protobuf.
    pub protobuf: Bytes,
    /// Upper-case hex SHA-512 of the JSON (upstream's ETag for both encodings).
    pub hash: String,
}

impl Swagger {
    /// The Swagger 2.0 document of `api`'s v3 documents, in both encodings.
    pub fn build(api: &OpenApi) -> Self {
        let doc = v2::document(api);
        let json = serde_json::to_vec(&doc).unwrap_or_default();
        Self {
            hash: sha512_hex(&json),
            protobuf: Bytes::from(gnostic::encode(&doc)),
            json: Bytes::from(json),
        }
    }
}

static SWAGGER: OnceLock<Swagger> = OnceLock::new();

/// The `/openapi/v2` document, built on first use from the v3 documents.
pub fn swagger() -> &'static Swagger {
    SWAGGER.get_or_init(|| Swagger::build(get()))
}

/// `info.version` of every document: the Kubernetes release kubeshard serves the API of.
fn info_version() -> String {
    format!("v1.{}.0", crate::api::resources::KUBE_MINOR)
}

/// A kind's schema: its definition among the schemas of the group-version document it is
/// served in. The patch and field-validation walks start here.
#[derive(Clone, Copy, Debug)]
pub struct KindSchema<'a> {
    /// Every definition of the document, by name.
    pub schemas: &'a Map<String, Value>,
    /// The kind's definition name, e.g. `io.k8s.api.apps.v1.Deployment`.
    pub name: &'a str,
}

impl<'a> KindSchema<'a> {
    /// The kind's definition.
    pub fn definition(&self) -> Option<&'a Value> {
        self.schemas.get(self.name)
    }
}

/// The schema of `kind` as served in `group/version` (`Scale`: the scale subresource's
/// autoscaling/v1 Scale); None for a kind without a known type.
pub fn kind_schema(group: &str, version: &str, kind: &str) -> Option<KindSchema<'static>> {
    const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
    let doc = get().docs.get(&gv_path(group, version))?;
    let name = if kind == "Scale" {
        SCALE
    } else {
        doc.kinds.get(kind)?.as_str()
    };
    let schema = KindSchema {
        schemas: &doc.schemas,
        name,
    };
    schema.definition().map(|_| schema)
}

/// `s` with its `$ref`s (and schemars' `allOf: [{$ref}]` wrappers) followed: the schema that
/// says what the value is, and the name of the last definition reached (None: still inline).
pub fn resolve<'a>(defs: &'a Map<String, Value>, mut s: &'a Value) -> (Option<&'a str>, &'a Value) {
    let mut name = None;
    for _ in 0..16 {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let n = r.rsplit('/').next().unwrap_or(r);
            match defs.get_key_value(n) {
                Some((k, d)) => {
                    name = Some(k.as_str());
                    s = d;
                    continue;
                }
                None => return (name, s),
            }
        }
        if let Some(first) = s
            .get("allOf")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        {
            s = first;
            continue;
        }
        return (name, s);
    }
    (name, s)
}

/// The path of a group-version under `/openapi/v3/`.
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn sha512_hex(b: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA512, b);
    d.as_ref().iter().map(|x| format!("{x:02X}")).collect()
}

impl OpenApi {
    /// Builds every group-version's document.
    pub fn build(resources: &[ApiResource]) -> Self {
        let mut by_gv: BTreeMap<(&str, &str), Vec<&ApiResource>> = BTreeMap::new();
        for r in resources {
            by_gv.entry((r.group, r.version)).or_default().push(r);
        }
        let mut docs = BTreeMap::new();
        for ((group, version), rs) in by_gv {
            let doc = build_gv(&rs);
            docs.insert(gv_path(group, version), doc);
        }
        let paths: Map<String, Value> = docs
            .iter()
            .map(|(p, d)| {
                (
                    p.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", d.hash)}),
                )
            })
            .collect();
        let index = serde_json::to_vec(&json!({ "paths": paths })).unwrap_or_default();
        Self {
            index_hash: sha512_hex(&index),
            index: Bytes::from(index),
            docs,
        }
    }
}

fn build_gv(resources: &[&ApiResource]) -> GroupVersionDoc {
    let mut gen = SchemaSettings::openapi3().into_generator();
    let mut kinds = BTreeMap::new();
    let mut paths = Map::new();
    let status = gen.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>();
    let delete_options =
        gen.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions>();
    let scale = kinds::schema(&mut gen, "autoscaling", "v1", "Scale");
    for r in resources {
        let Some(k) = kinds::schema(&mut gen, r.group, r.version, r.kind) else {
            continue;
        };
        kinds.insert(r.kind.to_string(), k.name.clone());
        let refs = paths::Refs {
            object: k.reference.as_value().clone(),
            status: status.as_value().clone(),
            delete_options: delete_options.as_value().clone(),
            scale: scale.as_ref().map(|s| s.reference.as_value().clone()),
        };
        paths::add(&mut paths, r, &refs);
    }
    let mut schemas = gen.take_definitions(true);
    extensions::annotate(&mut schemas);
    as_upstream_types(&mut schemas);
    for r in resources {
        if let Some(def) = kinds
            .get(r.kind)
            .and_then(|n| schemas.get_mut(n))
            .and_then(Value::as_object_mut)
        {
            def.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([{"group": r.group, "kind": r.kind, "version": r.version}]),
            );
        }
    }
    if let Some(def) = scale
        .as_ref()
        .and_then(|s| schemas.get_mut(&s.name))
        .and_then(Value::as_object_mut)
    {
        def.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": "autoscaling", "kind": "Scale", "version": "v1"}]),
        );
    }
    let doc = json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": info_version()},
        "paths": paths,
        "components": {"schemas": schemas.clone()},
    });
    let bytes = serde_json::to_vec(&doc).unwrap_or_default();
    GroupVersionDoc {
        hash: sha512_hex(&bytes),
        bytes: Bytes::from(bytes),
        schemas,
        kinds,
    }
}

/// The two definitions k8s-openapi writes as CRD schemas (`x-kubernetes-int-or-string`) in
/// the form kube-apiserver's v3 documents have them: the types they take as `oneOf`, and no
/// `type`, so kubectl names them (`targetPort <IntOrString>`, `limits <map[string]Quantity>`).
/// The v2 document writes them as strings ([`v2`]).
fn as_upstream_types(schemas: &mut Map<String, Value>) {
    for (name, format, types) in [
        (INT_OR_STRING, Some("int-or-string"), ["integer", "string"]),
        (QUANTITY, None, ["string", "number"]),
    ] {
        if let Some(def) = schemas.get_mut(name).and_then(Value::as_object_mut) {
            def.remove("x-kubernetes-int-or-string");
            def.remove("type");
            if let Some(f) = format {
                def.insert("format".into(), json!(f));
            }
            def.insert(
                "oneOf".into(),
                Value::Array(types.iter().map(|t| json!({"type": t})).collect()),
            );
        }
    }
}

/// Definition names with upstream-specific forms.
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn every_group_version_has_a_document_with_its_kinds() {
        let api = get();
        let index: Value = serde_json::from_slice(&api.index).unwrap();
        let apps = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(apps.starts_with("/openapi/v3/apis/apps/v1?hash="));
        let doc: Value = serde_json::from_slice(&api.docs["apis/apps/v1"].bytes).unwrap();
        let dep = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            dep["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert!(patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation"));
        assert!(api.docs.contains_key("api/v1"));
    }

    #[test]
    fn documents_carry_upstream_extensions_and_strategic_merge() {
        let doc: Value = serde_json::from_slice(&get().docs["apis/apps/v1"].bytes).unwrap();
        let schemas = &doc["components"]["schemas"];
        let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(
            schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
                ["x-kubernetes-patch-strategy"],
            "retainKeys"
        );
        let ios = &schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
        assert_eq!(
            ios,
            &json!({"description": ios["description"], "format": "int-or-string",
                    "oneOf": [{"type": "integer"}, {"type": "string"}]})
        );
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert!(patch["requestBody"]["content"]
            .get("application/strategic-merge-patch+json")
            .is_some());
    }

    #[test]
    fn swagger_names_every_kind_and_hashes_its_json() {
        let s = swagger();
        let doc: Value = serde_json::from_slice(&s.json).unwrap();
        let defs = doc["definitions"].as_object().unwrap();
        for r in all_resources() {
            let Some(name) = get().docs[&gv_path(r.group, r.version)].kinds.get(r.kind) else {
                continue;
            };
            let gvks = defs[name]["x-kubernetes-group-version-kind"]
                .as_array()
                .unwrap();
            assert!(
                gvks.iter().any(|g| g["kind"] == r.kind
                    && g["version"] == r.version
                    && g["group"] == r.group),
                "{name}"
            );
        }
        assert!(!s.protobuf.is_empty());
        assert_eq!(s.hash, sha512_hex(&s.json));
    }
}
