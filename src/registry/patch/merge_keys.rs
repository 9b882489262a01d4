//! Which list fields merge in a strategic merge patch, and by what: the `+patchStrategy` and
//! `+patchMergeKey` markers of upstream's Go types (the same facts the OpenAPI documents
//! publish as `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`), read from the
//! kind's schema by a [`SchemaCursor`] that steps down with the patch. Lists without a merge
//! strategy are atomic: a patch replaces them.

use serde_json::{Map, Value};

use crate::openapi::{extensions, resolve, KindSchema};

/// How a list field merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// Elements are objects matched by this key.
    MergeByKey(&'static str),
    /// Elements are scalars merged as a set.
    MergePrimitives,
}

/// A place in a kind's schema as a patch is walked: the schema of the value there, the
/// definition it belongs to, and the markers of the field that led to it. Stepping is one
/// lookup per level, so a patch is merged in one walk of the schema. A place the schema does
/// not describe (or a kind without one) has no markers: its lists are atomic.
#[derive(Clone, Copy)]
pub struct SchemaCursor<'a> {
    defs: Option<&'a Map<String, Value>>,
    schema: Option<&'a Value>,
    definition: &'a str,
    markers: Option<&'static extensions::M>,
}

impl<'a> SchemaCursor<'a> {
    /// The root of an object described by `schema` (None: a kind without a known schema).
    pub fn root(schema: Option<&KindSchema<'a>>) -> Self {
        Self {
            defs: schema.map(|s| s.schemas),
            schema: schema.and_then(KindSchema::definition),
            definition: schema.map_or("", |s| s.name),
            markers: None,
        }
    }

    const UNKNOWN: Self = Self {
        defs: None,
        schema: None,
        definition: "",
        markers: None,
    };

    /// The place of `key` in the value here: a field of an object, or a map's value (a map
    /// key has no markers). A list's elements are looked through, as patch paths leave out
    /// list indices.
    pub fn field(&self, key: &str) -> Self {
        let (Some(defs), Some(schema)) = (self.defs, self.schema) else {
            return Self::UNKNOWN;
        };
        let (name, mut s) = resolve(defs, schema);
        let mut definition = name.unwrap_or(self.definition);
        if s.get("type").and_then(Value::as_str) == Some("array") {
            let Some(items) = s.get("items") else {
                return Self::UNKNOWN;
            };
            let (name, items) = resolve(defs, items);
            definition = name.unwrap_or(definition);
            s = items;
        }
        if let Some(p) = s.get("properties").and_then(|p| p.get(key)) {
            return Self {
                defs: Some(defs),
                schema: Some(p),
                definition,
                markers: extensions::field(definition, key),
            };
        }
        match s.get("additionalProperties").filter(|a| a.is_object()) {
            Some(values) => Self {
                defs: Some(defs),
                schema: Some(values),
                definition,
                markers: None,
            },
            None => Self::UNKNOWN,
        }
    }

    /// How the list here merges; None: atomic.
    pub fn list_strategy(&self) -> Option<ListStrategy> {
        let m = self.markers.filter(|m| m.has_strategy("merge"))?;
        Some(match m.patch_merge_key {
            Some(key) => ListStrategy::MergeByKey(key),
            None => ListStrategy::MergePrimitives,
        })
    }

    /// Whether the map here is declared `patchStrategy=replace` (a patch replaces it whole
    /// instead of merging into it, e.g. a PodDisruptionBudget's selector).
    pub fn replaced(&self) -> bool {
        self.markers.is_some_and(|m| m.has_strategy("replace"))
    }
}

/// The cursor at `path` (field names from the object's root, list indices left out, map keys
/// kept), for one-off lookups.
fn at<'a>(schema: Option<&KindSchema<'a>>, path: &[String]) -> SchemaCursor<'a> {
    path.iter()
        .fold(SchemaCursor::root(schema), |c, seg| c.field(seg))
}

/// The strategy of the list at `path` in an object described by `schema`; None: atomic.
pub fn list_strategy(schema: Option<&KindSchema<'_>>, path: &[String]) -> Option<ListStrategy> {
    at(schema, path).list_strategy()
}

/// Whether the map field at `path` is declared `patchStrategy=replace`.
pub fn map_replaced(schema: Option<&KindSchema<'_>>, path: &[String]) -> bool {
    at(schema, path).replaced()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::openapi::kind_schema;

    fn s(gvk: (&str, &str, &str), path: &str) -> Option<ListStrategy> {
        let schema = kind_schema(gvk.0, gvk.1, gvk.2).expect("a served kind");
        let p: Vec<String> = path.split('.').map(str::to_string).collect();
        list_strategy(Some(&schema), &p)
    }

    #[test]
    fn strategies_from_upstream_types() {
        use ListStrategy::*;
        let deployment = ("apps", "v1", "Deployment");
        let pod = ("", "v1", "Pod");
        assert_eq!(
            s(deployment, "spec.template.spec.containers"),
            Some(MergeByKey("name"))
        );
        assert_eq!(
            s(deployment, "spec.template.spec.containers.env"),
            Some(MergeByKey("name"))
        );
        assert_eq!(
            s(
                ("batch", "v1", "CronJob"),
                "spec.jobTemplate.spec.template.spec.volumes"
            ),
            Some(MergeByKey("name"))
        );
        assert_eq!(
            s(pod, "spec.containers.ports"),
            Some(MergeByKey("containerPort"))
        );
        assert_eq!(
            s(pod, "spec.containers.volumeMounts"),
            Some(MergeByKey("mountPath"))
        );
        assert_eq!(
            s(("", "v1", "Service"), "spec.ports"),
            Some(MergeByKey("port"))
        );
        assert_eq!(s(pod, "metadata.finalizers"), Some(MergePrimitives));
        assert_eq!(s(pod, "metadata.ownerReferences"), Some(MergeByKey("uid")));
        assert_eq!(s(pod, "status.conditions"), Some(MergeByKey("type")));
        assert_eq!(
            s(("", "v1", "Node"), "status.addresses"),
            Some(MergeByKey("type"))
        );
        assert_eq!(s(("", "v1", "Node"), "spec.taints"), None);
        assert_eq!(s(pod, "spec.tolerations"), None);
        assert_eq!(s(pod, "spec.containers.args"), None);
        assert_eq!(s(("", "v1", "ConfigMap"), "data.key"), None);
        assert_eq!(s(pod, "spec.nope"), None);
        assert_eq!(
            s(("apps", "v1", "Deployment"), "status.conditions"),
            Some(MergeByKey("type"))
        );
        // The scale subresource's own type.
        assert_eq!(s(("apps", "v1", "Scale"), "spec.replicas"), None);
        let pdb = kind_schema("policy", "v1", "PodDisruptionBudget").unwrap();
        let path = |p: &str| p.split('.').map(str::to_string).collect::<Vec<_>>();
        assert!(map_replaced(Some(&pdb), &path("spec.selector")));
        assert!(!map_replaced(Some(&pdb), &path("spec")));
    }
}
