//! Which list fields merge in a strategic merge patch, and by what: the `+patchStrategy` and
//! `+patchMergeKey` markers of upstream's Go types (the same facts the OpenAPI documents
//! publish as `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`), found by
//! walking the kind's schema along the field path. Lists without a merge strategy are
//! atomic: a patch replaces them.

use serde_json::Value;

use crate::openapi::{extensions, resolve, KindSchema};

/// How a list field merges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// Elements are objects matched by this key.
    MergeByKey(&'static str),
    /// Elements are scalars merged as a set.
    MergePrimitives,
}

/// Nesting deeper than this has no markers (schemas are finite; paths might not be).
const MAX_DEPTH: usize = 64;

/// The strategy of the list at `path` (field names from the object's root, list indices left
/// out, map keys kept) in an object described by `schema`; None: atomic.
pub fn list_strategy(schema: Option<&KindSchema<'_>>, path: &[String]) -> Option<ListStrategy> {
    let m = field_markers(schema?, path)?;
    if !m.has_strategy("merge") {
        return None;
    }
    Some(match m.patch_merge_key {
        Some(key) => ListStrategy::MergeByKey(key),
        None => ListStrategy::MergePrimitives,
    })
}

/// Whether the map field at `path` is declared `patchStrategy=replace` (a patch replaces it
/// whole instead of merging into it, e.g. a PodDisruptionBudget's selector).
pub fn map_replaced(schema: Option<&KindSchema<'_>>, path: &[String]) -> bool {
    schema
        .and_then(|s| field_markers(s, path))
        .is_some_and(|m| m.has_strategy("replace"))
}

/// The markers of the field `path` ends at, if it is a field of a definition that has any.
fn field_markers(schema: &KindSchema<'_>, path: &[String]) -> Option<&'static extensions::M> {
    if path.len() > MAX_DEPTH {
        return None;
    }
    let defs = schema.schemas;
    let mut current = schema.definition()?;
    let mut definition = schema.name;
    let mut field: Option<(&str, &str)> = None;
    for seg in path {
        let (name, mut s) = resolve(defs, current);
        if let Some(n) = name {
            definition = n;
        }
        // A list's elements: the path leaves out their indices.
        if s.get("type").and_then(Value::as_str) == Some("array") {
            let (name, items) = resolve(defs, s.get("items")?);
            if let Some(n) = name {
                definition = n;
            }
            s = items;
        }
        if let Some(p) = s.get("properties").and_then(|p| p.get(seg.as_str())) {
            field = Some((definition, seg.as_str()));
            current = p;
        } else if let Some(values) = s.get("additionalProperties").filter(|a| a.is_object()) {
            // A map key: the value's schema, not a field.
            field = None;
            current = values;
        } else {
            return None;
        }
    }
    let (definition, name) = field?;
    extensions::field(definition, name)
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
