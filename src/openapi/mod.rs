//! OpenAPI v3 documents for every served group-version, built once from the resource table and
//! the k8s-openapi types' JSON schemas, and the field validation (`fieldValidation`) that
//! checks objects against the same schemas.
//!
//! kubectl reads `/openapi/v3` to learn that the server validates fields itself (the
//! `fieldValidation` parameter on PATCH operations) and for `kubectl explain`. PATCH operations
//! list JSON and merge patch only: kubectl then builds strategic merge patches from its own
//! copy of the types, which carries the merge keys these schemas do not.

pub mod duplicates;
pub mod handler;
mod kinds;
mod paths;
pub mod validate;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use bytes::Bytes;
use schemars::generate::SchemaSettings;
use serde_json::{json, Map, Value};

use crate::registry::resources::all_resources;
use crate::registry::strategy::Resource;

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
    OPENAPI.get_or_init(|| OpenApi::build(&all_resources()))
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
    pub fn build(resources: &[Resource]) -> Self {
        let mut by_gv: BTreeMap<(String, String), Vec<&Resource>> = BTreeMap::new();
        for r in resources {
            by_gv
                .entry((r.group.clone(), r.version.clone()))
                .or_default()
                .push(r);
        }
        let mut docs = BTreeMap::new();
        for ((group, version), rs) in by_gv {
            let doc = build_gv(&rs);
            docs.insert(gv_path(&group, &version), doc);
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

fn build_gv(resources: &[&Resource]) -> GroupVersionDoc {
    let mut gen = SchemaSettings::openapi3().into_generator();
    let mut kinds = BTreeMap::new();
    let mut paths = Map::new();
    let status = gen.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>();
    let delete_options =
        gen.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions>();
    let scale = kinds::schema(&mut gen, "autoscaling", "v1", "Scale");
    for r in resources {
        let Some(k) = kinds::schema(&mut gen, &r.group, &r.version, &r.kind) else {
            continue;
        };
        kinds.insert(r.kind.clone(), k.name.clone());
        let refs = paths::Refs {
            object: k.reference.as_value().clone(),
            status: status.as_value().clone(),
            delete_options: delete_options.as_value().clone(),
            scale: scale.as_ref().map(|s| s.reference.as_value().clone()),
        };
        paths::add(&mut paths, r, &refs);
    }
    let mut schemas = gen.take_definitions(true);
    for r in resources {
        if let Some(def) = kinds
            .get(&r.kind)
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
        "info": {"title": "Kubernetes", "version": format!("v1.{}.0", crate::server::version::KUBE_MINOR)},
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
}
