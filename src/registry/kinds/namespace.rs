//! Namespaces: the `kubernetes.io/metadata.name` label, `Active` on create with the
//! `kubernetes` finalizer of the namespace controller in `spec.finalizers`, `Terminating` once
//! deleted, kept until those finalizers are gone, and the `finalize` subresource that writes
//! them. The controller that deletes a namespace's contents runs in `server::namespaces`.

use serde_json::{json, Value};

use super::fields::obj;
use super::{Defaulter, KindHooks, Object};
use crate::api::meta::string_list;
use crate::api::resources::Subresource;
use crate::api::status::Status;

/// The finalizer of the namespace controller, in `spec.finalizers`.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

/// The label every namespace carries with its own name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The hooks of `v1` Namespaces.
#[derive(Debug, Default)]
pub struct NamespaceHooks;

impl KindHooks for NamespaceHooks {
    fn defaulter(&self) -> Option<Defaulter> {
        Some(namespace_defaults)
    }

    fn initial_status(&self) -> Value {
        json!({"phase": "Active"})
    }

    fn prepare_create(&self, o: &mut Object) {
        // upstream: a new namespace always carries the controller's finalizer.
        let spec = obj(o, "spec");
        let mut finalizers = string_list(spec.get("finalizers"));
        if !finalizers.iter().any(|f| f == KUBERNETES_FINALIZER) {
            finalizers.push(KUBERNETES_FINALIZER.into());
        }
        spec.insert("finalizers".into(), json!(finalizers));
    }

    fn update_subresource(
        &self,
        sub: Subresource,
        body: &Object,
        current: &Object,
    ) -> Result<Object, Status> {
        if sub != Subresource::Finalize {
            return Err(Status::bad_request(format!(
                "the {} subresource does not write",
                sub.name()
            )));
        }
        let wanted = body
            .get("spec")
            .and_then(|s| s.get("finalizers"))
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        if !wanted.is_array() {
            return Err(Status::bad_request("spec.finalizers must be a list"));
        }
        let mut out = current.clone();
        obj(&mut out, "spec").insert("finalizers".into(), wanted);
        Ok(out)
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["status.phase"]
    }

    fn mark_deleting(&self, o: &mut Object) {
        obj(o, "status").insert("phase".into(), json!("Terminating"));
    }

    fn kind_finalizers(&self, o: &Object) -> Vec<String> {
        string_list(o.get("spec").and_then(|s| s.get("finalizers")))
    }
}

/// upstream's defaults of Namespaces.
pub fn namespace_defaults(o: &mut Object) {
    let meta = obj(o, "metadata");
    if let Some(name) = meta
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
    {
        obj(meta, "labels").insert(NAME_LABEL.into(), json!(name));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::registry::kinds::object;

    #[test]
    fn label_finalizer_and_deletion() {
        let h = NamespaceHooks;
        let mut ns = object(json!({"metadata": {"name": "team-a"}}));
        h.defaults(&mut ns);
        assert_eq!(ns["metadata"]["labels"][NAME_LABEL], "team-a");
        h.prepare_create(&mut ns);
        assert_eq!(h.kind_finalizers(&ns), ["kubernetes"]);
        let mut own = object(json!({"spec": {"finalizers": ["example.com/x"]}}));
        h.prepare_create(&mut own);
        assert_eq!(h.kind_finalizers(&own), ["example.com/x", "kubernetes"]);
        h.mark_deleting(&mut ns);
        assert_eq!(ns["status"]["phase"], "Terminating");
    }

    #[test]
    fn finalize_replaces_spec_finalizers_only() {
        let h = NamespaceHooks;
        let current =
            object(json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}}));
        let out = h
            .update_subresource(
                Subresource::Finalize,
                &object(json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {}})),
                &current,
            )
            .unwrap();
        assert_eq!(out["spec"]["finalizers"], json!([]));
        assert!(
            out["metadata"].get("labels").is_none(),
            "only the finalizers"
        );
        let bad = h.update_subresource(
            Subresource::Finalize,
            &object(json!({"spec": {"finalizers": "kubernetes"}})),
            &current,
        );
        assert_eq!(bad.unwrap_err().code, 400);
    }
}
