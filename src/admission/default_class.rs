//! `DefaultStorageClass` and `DefaultIngressClass`: a new PersistentVolumeClaim without
//! `storageClassName` gets the default StorageClass (`storageclass.kubernetes.io/is-default-class:
//! "true"`), a new Ingress without `ingressClassName` the default IngressClass
//! (`ingressclass.kubernetes.io/is-default-class: "true"`); with several defaults the newest
//! wins, as in upstream's plugins of those names. A claim that names a class (even `""`, no
//! class) or carries the beta class annotation, and an Ingress with the
//! `kubernetes.io/ingress.class` annotation, keep what they say.

use serde_json::Value;

use crate::admission::replica::Replica;
use crate::api::meta::Meta;
use crate::api::resources::lookup;
use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// Which default the plugin gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassKind {
    /// `DefaultStorageClass`: claims get a StorageClass.
    Storage,
    /// `DefaultIngressClass`: Ingresses get an IngressClass.
    Ingress,
}

struct Facts {
    plugin: &'static str,
    /// What the plugin writes: (group, plural).
    target: (&'static str, &'static str),
    /// The class kind: (group, plural).
    class: (&'static str, &'static str),
    /// The spec field naming the class.
    field: &'static str,
    /// The annotations marking a default class.
    default_annotations: &'static [&'static str],
    /// The annotation on the target that names a class the old way.
    legacy_annotation: &'static str,
}

impl ClassKind {
    fn facts(self) -> Facts {
        match self {
            Self::Storage => Facts {
                plugin: "DefaultStorageClass",
                target: ("", "persistentvolumeclaims"),
                class: ("storage.k8s.io", "storageclasses"),
                field: "storageClassName",
                default_annotations: &[
                    "storageclass.kubernetes.io/is-default-class",
                    "storageclass.beta.kubernetes.io/is-default-class",
                ],
                legacy_annotation: "volume.beta.kubernetes.io/storage-class",
            },
            Self::Ingress => Facts {
                plugin: "DefaultIngressClass",
                target: ("networking.k8s.io", "ingresses"),
                class: ("networking.k8s.io", "ingressclasses"),
                field: "ingressClassName",
                default_annotations: &["ingressclass.kubernetes.io/is-default-class"],
                legacy_annotation: "kubernetes.io/ingress.class",
            },
        }
    }
}

/// The plugin.
#[derive(Debug)]
pub struct DefaultClass {
    kind: ClassKind,
    replica: Replica,
}

impl DefaultClass {
    /// The plugin of `kind`, reading classes from `replica`.
    pub fn new(kind: ClassKind, replica: Replica) -> Self {
        Self { kind, replica }
    }
}

/// The newest default class among `classes` (by creation time, then name, as upstream).
pub fn newest_default<'a>(classes: &'a [Value], annotations: &[&str]) -> Option<&'a str> {
    classes
        .iter()
        .filter(|c| {
            let meta = Meta::of_value(c);
            annotations.iter().any(|a| {
                meta.annotations()
                    .and_then(|m| m.get(*a))
                    .and_then(Value::as_str)
                    == Some("true")
            })
        })
        .max_by(|a, b| {
            let key = |c: &'a Value| {
                let m = Meta::of_value(c);
                (m.creation_timestamp().unwrap_or(""), m.name().unwrap_or(""))
            };
            let (ta, na) = key(a);
            let (tb, nb) = key(b);
            ta.cmp(tb).then_with(|| nb.cmp(na))
        })
        .and_then(|c| Meta::of_value(c).name())
}

impl AdmissionPlugin for DefaultClass {
    fn name(&self) -> &'static str {
        self.kind.facts().plugin
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let f = self.kind.facts();
            let Some(o) = obj else { return Ok(()) };
            let r = attrs.resource;
            if (r.group, r.plural) != f.target
                || attrs.operation != Operation::Create
                || attrs.request.subresource.is_some()
            {
                return Ok(());
            }
            let named = o
                .get("spec")
                .and_then(|s| s.get(f.field))
                .is_some_and(|v| !v.is_null());
            let legacy = Meta::of(o)
                .annotations()
                .is_some_and(|a| a.contains_key(f.legacy_annotation));
            if named || legacy {
                return Ok(());
            }
            let Some(res) = lookup(f.class.0, "v1", f.class.1) else {
                return Ok(());
            };
            let classes = self
                .replica
                .objects(attrs.reads, res, None, attrs.request.deadline)
                .await?;
            if let Some(name) = newest_default(&classes, f.default_annotations) {
                if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.insert(f.field.into(), Value::from(name));
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_newest_default_wins() {
        let class = |name: &str, at: &str, default: bool| {
            json!({"metadata": {"name": name, "creationTimestamp": at,
                "annotations": {"storageclass.kubernetes.io/is-default-class": default.to_string()}}})
        };
        let classes = [
            class("old", "2024-01-01T00:00:00Z", true),
            class("new", "2025-01-01T00:00:00Z", true),
            class("newer-but-not-default", "2026-01-01T00:00:00Z", false),
        ];
        let facts = ClassKind::Storage.facts();
        assert_eq!(
            newest_default(&classes, facts.default_annotations),
            Some("new")
        );
        assert_eq!(
            newest_default(&classes[2..], facts.default_annotations),
            None
        );
    }
}
