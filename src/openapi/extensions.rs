//! upstream's `x-kubernetes-*` schema extensions for the built-in kinds: patch strategy and
//! merge key, list type and map keys, map type. k8s-openapi's schemas do not carry them;
//! `markers.rs` (generated from the Go doc comments k8s-pb keeps) does, and this module puts
//! them where openapi-gen does: on a definition's property, or on the definition itself for a
//! `+structType`. kubectl reads them to build strategic merge patches, and the server merges
//! strategic patches by the same facts.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use super::markers::DEFINITIONS;

/// The markers of one field, as upstream's Go types declare them.
#[derive(Debug)]
pub struct M {
    /// The field's JSON name.
    pub field: &'static str,
    /// `+patchStrategy`: `merge`, `retainKeys`, `merge,retainKeys` or `replace`.
    pub patch_strategy: Option<&'static str>,
    /// `+patchMergeKey`: the element field that identifies an element of a merged list.
    pub patch_merge_key: Option<&'static str>,
    /// `+listType`: `atomic`, `set` or `map`.
    pub list_type: Option<&'static str>,
    /// `+listMapKey`s of a `map` list.
    pub list_map_keys: &'static [&'static str],
    /// `+mapType` (or a field's `+structType`): `atomic` or `granular`.
    pub map_type: Option<&'static str>,
}

impl M {
    /// Whether the patch strategy names `strategy` (`merge` in `merge,retainKeys`).
    pub fn has_strategy(&self, strategy: &str) -> bool {
        self.patch_strategy
            .is_some_and(|s| s.split(',').any(|p| p == strategy))
    }
}

struct Definition {
    struct_type: Option<&'static str>,
    fields: &'static [M],
}

fn definitions() -> &'static HashMap<&'static str, Definition> {
    static BY_NAME: OnceLock<HashMap<&'static str, Definition>> = OnceLock::new();
    BY_NAME.get_or_init(|| {
        DEFINITIONS
            .iter()
            .map(|(name, struct_type, fields)| {
                (
                    *name,
                    Definition {
                        struct_type: *struct_type,
                        fields,
                    },
                )
            })
            .collect()
    })
}

/// The markers of `field` in the definition `definition` (e.g. `io.k8s.api.core.v1.PodSpec`).
pub fn field(definition: &str, field: &str) -> Option<&'static M> {
    definitions()
        .get(definition)?
        .fields
        .iter()
        .find(|m| m.field == field)
}

/// The extensions one field's markers give its property schema, in upstream's key order.
fn field_extensions(m: &M) -> Map<String, Value> {
    let mut ext = Map::new();
    if !m.list_map_keys.is_empty() {
        ext.insert("x-kubernetes-list-map-keys".into(), json!(m.list_map_keys));
    }
    if let Some(t) = m.list_type {
        ext.insert("x-kubernetes-list-type".into(), json!(t));
    }
    if let Some(t) = m.map_type {
        ext.insert("x-kubernetes-map-type".into(), json!(t));
    }
    if let Some(k) = m.patch_merge_key {
        ext.insert("x-kubernetes-patch-merge-key".into(), json!(k));
    }
    if let Some(s) = m.patch_strategy {
        ext.insert("x-kubernetes-patch-strategy".into(), json!(s));
    }
    ext
}

/// Adds the extensions to every definition in `schemas` that has markers.
pub fn annotate(schemas: &mut Map<String, Value>) {
    for (name, def) in schemas.iter_mut() {
        let Some(markers) = definitions().get(name.as_str()) else {
            continue;
        };
        let Some(def) = def.as_object_mut() else {
            continue;
        };
        if let Some(props) = def.get_mut("properties").and_then(Value::as_object_mut) {
            for m in markers.fields {
                if let Some(p) = props.get_mut(m.field).and_then(Value::as_object_mut) {
                    p.extend(field_extensions(m));
                }
            }
        }
        if let Some(t) = markers.struct_type {
            def.insert("x-kubernetes-map-type".into(), json!(t));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn markers_of_upstream_types() {
        let c = field("io.k8s.api.core.v1.PodSpec", "containers").unwrap();
        assert_eq!(c.patch_strategy, Some("merge"));
        assert_eq!(c.patch_merge_key, Some("name"));
        assert_eq!(c.list_map_keys, &["name"]);
        let v = field("io.k8s.api.core.v1.PodSpec", "volumes").unwrap();
        assert!(v.has_strategy("merge") && v.has_strategy("retainKeys"));
        let ports = field("io.k8s.api.core.v1.ServiceSpec", "ports").unwrap();
        assert_eq!(ports.patch_merge_key, Some("port"));
        assert_eq!(ports.list_map_keys, &["port", "protocol"]);
        let fin = field(
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "finalizers",
        )
        .unwrap();
        assert_eq!(
            (fin.patch_strategy, fin.list_type),
            (Some("merge"), Some("set"))
        );
        let tol = field("io.k8s.api.core.v1.PodSpec", "tolerations").unwrap();
        assert_eq!((tol.patch_strategy, tol.list_type), (None, Some("atomic")));
        let strategy = field("io.k8s.api.apps.v1.DeploymentSpec", "strategy").unwrap();
        assert_eq!(strategy.patch_strategy, Some("retainKeys"));
        assert!(field("io.k8s.api.core.v1.PodSpec", "nodeName").is_none());
    }

    #[test]
    fn annotate_puts_extensions_on_properties_and_atomic_structs() {
        let mut schemas = Map::new();
        schemas.insert(
            "io.k8s.api.core.v1.PodSpec".into(),
            json!({"properties": {"containers": {"type": "array"}, "nodeName": {"type": "string"}}}),
        );
        schemas.insert(
            "io.k8s.api.core.v1.LocalObjectReference".into(),
            json!({"properties": {"name": {"type": "string"}}}),
        );
        annotate(&mut schemas);
        let c = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(c["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(c["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(c["x-kubernetes-list-type"], "map");
        assert_eq!(c["x-kubernetes-list-map-keys"], json!(["name"]));
        let n = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["nodeName"];
        assert_eq!(n, &json!({"type": "string"}));
        assert_eq!(
            schemas["io.k8s.api.core.v1.LocalObjectReference"]["x-kubernetes-map-type"],
            "atomic"
        );
    }
}
