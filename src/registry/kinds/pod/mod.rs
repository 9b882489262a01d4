//! Pods: their defaults (the pod spec's, plus requests from limits and host ports on the host
//! network), a new Pod's status (`Pending`, with its QoS class computed after defaulting), the
//! pod spec's validation, and the fields selectors may use.

pub mod qos;

use serde_json::{json, Value};

use super::pod_spec::{pod_only_defaults, pod_spec_defaults, validate_pod_spec};
use super::{Defaulter, KindHooks, Object};
use crate::api::validation::FieldError;

/// The fields selectors may use on Pods (upstream's `PodToSelectableFields`).
const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

/// The hooks of `v1` Pods.
#[derive(Debug, Default)]
pub struct PodHooks;

impl KindHooks for PodHooks {
    fn defaulter(&self) -> Option<Defaulter> {
        Some(pod_defaults)
    }

    fn initial_status(&self) -> Value {
        json!({"phase": "Pending", "qosClass": "BestEffort"})
    }

    fn prepare_create(&self, obj: &mut Object) {
        // After defaulting (requests from limits), as upstream's pod strategy computes it.
        let class = obj
            .get("spec")
            .and_then(Value::as_object)
            .map_or("BestEffort", qos::qos_class);
        if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
            status.insert("qosClass".into(), Value::from(class));
        }
    }

    fn validate(&self, obj: &Object) -> Vec<FieldError> {
        let mut errs = Vec::new();
        validate_pod_spec(obj.get("spec"), "spec", &mut errs);
        errs
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        POD_FIELDS
    }
}

/// upstream's defaults of Pods.
pub fn pod_defaults(obj: &mut Object) {
    let spec = super::fields::obj(obj, "spec");
    pod_spec_defaults(spec, true);
    pod_only_defaults(spec);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::registry::kinds::object;

    #[test]
    fn pods_probes_volumes_and_requests_as_upstream() {
        let mut p = object(
            json!({"metadata": {"name": "p"}, "spec": {"hostNetwork": true, "containers": [{
            "name": "a", "image": "x:1", "ports": [{"containerPort": 8080}],
            "readinessProbe": {"httpGet": {"port": 8080}, "periodSeconds": 5},
            "lifecycle": {"preStop": {"httpGet": {"port": 1, "path": "/stop"}}},
            "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Mi"}}}],
            "volumes": [{"name": "plain"}, {"name": "c", "configMap": {"name": "c"}},
                        {"name": "s", "secret": {"secretName": "s", "defaultMode": 256}},
                        {"name": "h", "hostPath": {"path": "/x"}},
                        {"name": "pr", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}]}}),
        );
        PodHooks.defaults(&mut p);
        let spec = &p["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(
            spec["enableServiceLinks"], true,
            "Pods get it, templates not"
        );
        let c = &spec["containers"][0];
        assert_eq!(
            c["readinessProbe"],
            json!({"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "periodSeconds": 5,
                   "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["lifecycle"]["preStop"]["httpGet"]["path"], "/stop");
        assert_eq!(c["lifecycle"]["preStop"]["httpGet"]["scheme"], "HTTP");
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(
            c["resources"]["requests"],
            json!({"memory": "1Mi", "cpu": "1"})
        );
        assert_eq!(c["ports"][0]["hostPort"], 8080);
        let v = &spec["volumes"];
        assert_eq!(v[0], json!({"name": "plain", "emptyDir": {}}));
        assert_eq!(v[1]["configMap"]["defaultMode"], 420);
        assert_eq!(v[2]["secret"]["defaultMode"], 256);
        assert_eq!(v[3]["hostPath"], json!({"path": "/x", "type": ""}));
        assert_eq!(v[4]["projected"]["defaultMode"], 420);
        assert_eq!(
            v[4]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3600
        );
    }

    #[test]
    fn a_new_pod_is_pending_with_its_qos_class() {
        let mut p = object(json!({"spec": {"containers": [{"name": "a", "image": "i",
            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}));
        PodHooks.defaults(&mut p);
        p.insert("status".into(), PodHooks.initial_status());
        PodHooks.prepare_create(&mut p);
        assert_eq!(
            p["status"],
            json!({"phase": "Pending", "qosClass": "Guaranteed"})
        );
    }

    #[test]
    fn validation_messages_as_upstream() {
        let errs = |v: Value| -> Vec<String> {
            PodHooks
                .validate(&object(v))
                .into_iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect()
        };
        assert_eq!(
            errs(json!({"spec": {}})),
            ["spec.containers: Required value"]
        );
        assert_eq!(
            errs(json!({"spec": {"containers": [{"name": "a"}, {"name": "a", "image": "x"}]}})),
            [
                "spec.containers[0].image: Required value",
                "spec.containers[1].name: Duplicate value: \"a\""
            ]
        );
        assert!(PodHooks.selectable_fields().contains(&"spec.nodeName"));
    }
}
