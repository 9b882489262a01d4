//! The workload kinds (Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
//! ReplicationControllers, PodTemplates): upstream's defaults (replicas, strategies, history
//! limits, job completions) and validation (replicas, selector, the template's labels and pod
//! spec), and the fields selectors may use on them.

use serde_json::{json, Map, Value};

use super::fields::{default, missing, obj, objects};
use super::pod_spec::{template_defaults, validate_template};
use super::{Defaulter, KindHooks, Object};
use crate::api::validation::FieldError;

/// Which workload kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` DaemonSet.
    DaemonSet,
    /// `batch/v1` Job.
    Job,
    /// `batch/v1` CronJob.
    CronJob,
    /// `v1` ReplicationController.
    ReplicationController,
    /// `v1` PodTemplate.
    PodTemplate,
}

/// The hooks of one workload kind.
#[derive(Debug)]
pub struct WorkloadHooks(pub Workload);

impl KindHooks for WorkloadHooks {
    fn defaulter(&self) -> Option<Defaulter> {
        Some(match self.0 {
            Workload::Deployment => deployment_defaults,
            Workload::ReplicaSet => replica_set_defaults,
            Workload::StatefulSet => stateful_set_defaults,
            Workload::DaemonSet => daemon_set_defaults,
            Workload::Job => job_defaults,
            Workload::CronJob => cron_job_defaults,
            Workload::ReplicationController => replication_controller_defaults,
            Workload::PodTemplate => pod_template_defaults,
        })
    }

    fn validate(&self, obj: &Object) -> Vec<FieldError> {
        let mut errs = Vec::new();
        match self.0 {
            Workload::Deployment | Workload::ReplicaSet | Workload::StatefulSet => {
                workload(obj.get("spec"), true, &mut errs)
            }
            Workload::DaemonSet => workload(obj.get("spec"), false, &mut errs),
            Workload::ReplicationController => {
                let spec = obj.get("spec");
                replicas(spec, &mut errs);
                // An RC's selector is a plain label map.
                let selector = spec
                    .and_then(|s| s.get("selector"))
                    .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
                    .map(|s| serde_json::json!({ "matchLabels": s }));
                validate_template(
                    spec.and_then(|s| s.get("template")),
                    "spec.template",
                    selector.as_ref(),
                    &mut errs,
                );
            }
            Workload::Job => validate_template(
                obj.get("spec").and_then(|s| s.get("template")),
                "spec.template",
                None,
                &mut errs,
            ),
            Workload::PodTemplate => {
                validate_template(obj.get("template"), "template", None, &mut errs)
            }
            Workload::CronJob => {}
        }
        errs
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        match self.0 {
            Workload::ReplicationController | Workload::ReplicaSet => &["status.replicas"],
            Workload::Job => &["status.successful"],
            _ => &[],
        }
    }
}

/// upstream's defaults of Deployments.
pub fn deployment_defaults(o: &mut Object) {
    let spec = obj(o, "spec");
    default(spec, "replicas", json!(1));
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    let strategy = obj(spec, "strategy");
    default(strategy, "type", json!("RollingUpdate"));
    if strategy.get("type") == Some(&json!("RollingUpdate")) {
        let ru = obj(strategy, "rollingUpdate");
        default(ru, "maxUnavailable", json!("25%"));
        default(ru, "maxSurge", json!("25%"));
    }
    template_defaults(obj(spec, "template"));
}

/// upstream's defaults of ReplicaSets.
pub fn replica_set_defaults(o: &mut Object) {
    let spec = obj(o, "spec");
    default(spec, "replicas", json!(1));
    template_defaults(obj(spec, "template"));
}

/// upstream's defaults of StatefulSets.
pub fn stateful_set_defaults(o: &mut Object) {
    let spec = obj(o, "spec");
    default(spec, "replicas", json!(1));
    default(spec, "podManagementPolicy", json!("OrderedReady"));
    default(spec, "revisionHistoryLimit", json!(10));
    let us = obj(spec, "updateStrategy");
    default(us, "type", json!("RollingUpdate"));
    if us.get("type") == Some(&json!("RollingUpdate")) {
        default(obj(us, "rollingUpdate"), "partition", json!(0));
    }
    let retention = obj(spec, "persistentVolumeClaimRetentionPolicy");
    default(retention, "whenDeleted", json!("Retain"));
    default(retention, "whenScaled", json!("Retain"));
    for claim in objects(spec.get_mut("volumeClaimTemplates")) {
        default(obj(claim, "spec"), "volumeMode", json!("Filesystem"));
        default(obj(claim, "status"), "phase", json!("Pending"));
    }
    template_defaults(obj(spec, "template"));
}

/// upstream's defaults of DaemonSets.
pub fn daemon_set_defaults(o: &mut Object) {
    let spec = obj(o, "spec");
    default(spec, "revisionHistoryLimit", json!(10));
    let us = obj(spec, "updateStrategy");
    default(us, "type", json!("RollingUpdate"));
    if us.get("type") == Some(&json!("RollingUpdate")) {
        let ru = obj(us, "rollingUpdate");
        default(ru, "maxUnavailable", json!(1));
        default(ru, "maxSurge", json!(0));
    }
    template_defaults(obj(spec, "template"));
}

/// upstream's defaults of CronJobs.
pub fn cron_job_defaults(o: &mut Object) {
    let spec = obj(o, "spec");
    default(spec, "concurrencyPolicy", json!("Allow"));
    if !spec.contains_key("suspend") {
        spec.insert("suspend".into(), json!(false));
    }
    default(spec, "successfulJobsHistoryLimit", json!(3));
    default(spec, "failedJobsHistoryLimit", json!(1));
    job_spec(obj(obj(spec, "jobTemplate"), "spec"));
}

/// upstream's defaults of ReplicationControllers.
pub fn replication_controller_defaults(o: &mut Object) {
    let spec = obj(o, "spec");
    default(spec, "replicas", json!(1));
    template_defaults(obj(spec, "template"));
}

/// upstream's defaults of Jobs.
pub fn job_defaults(o: &mut Object) {
    job_spec(obj(o, "spec"));
}

/// upstream's defaults of PodTemplates.
pub fn pod_template_defaults(o: &mut Object) {
    template_defaults(obj(o, "template"));
}

fn job_spec(spec: &mut Map<String, Value>) {
    if missing(spec, "completions") && missing(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default(spec, "parallelism", json!(1));
    default(spec, "backoffLimit", json!(6));
    default(spec, "completionMode", json!("NonIndexed"));
    if !spec.contains_key("suspend") {
        spec.insert("suspend".into(), json!(false));
    }
    default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    template_defaults(obj(spec, "template"));
}

fn replicas(spec: Option<&Value>, errs: &mut Vec<FieldError>) {
    if let Some(r) = spec.and_then(|s| s.get("replicas")).and_then(Value::as_i64) {
        if r < 0 {
            errs.push(FieldError {
                reason: "FieldValueInvalid",
                field: "spec.replicas".into(),
                message: format!("Invalid value: {r}: must be greater than or equal to 0"),
            });
        }
    }
}

fn workload(spec: Option<&Value>, has_replicas: bool, errs: &mut Vec<FieldError>) {
    if has_replicas {
        replicas(spec, errs);
    }
    let selector = spec.and_then(|s| s.get("selector"));
    let empty = selector.is_none_or(|s| {
        s.get("matchLabels")
            .and_then(Value::as_object)
            .is_none_or(|m| m.is_empty())
            && s.get("matchExpressions")
                .and_then(Value::as_array)
                .is_none_or(|a| a.is_empty())
    });
    if empty {
        errs.push(FieldError::required("spec.selector", ""));
    }
    validate_template(
        spec.and_then(|s| s.get("template")),
        "spec.template",
        if empty { None } else { selector },
        errs,
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::registry::kinds::object;

    fn errs(w: Workload, v: Value) -> Vec<String> {
        WorkloadHooks(w)
            .validate(&object(v))
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn deployment_defaults_as_upstream() {
        let mut d = object(
            json!({"spec": {"selector": {}, "template": {"spec": {"containers": [
            {"name": "a", "image": "nginx"}, {"name": "b", "image": "reg:5000/app:1.2", "ports": [{"containerPort": 80}]}]}}}}),
        );
        WorkloadHooks(Workload::Deployment).defaults(&mut d);
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["dnsPolicy"], "ClusterFirst");
        assert!(
            pod.get("enableServiceLinks").is_none(),
            "templates do not get it"
        );
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(pod["containers"][1]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(pod["containers"][1]["ports"][0]["protocol"], "TCP");
        assert_eq!(
            pod["containers"][0]["terminationMessagePath"],
            "/dev/termination-log"
        );
    }

    #[test]
    fn templates_get_no_pod_only_defaults_and_explicit_values_stay() {
        let mut d = object(
            json!({"spec": {"template": {"spec": {"hostNetwork": true, "containers": [{
            "name": "a", "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "1"}}}]}}}}),
        );
        WorkloadHooks(Workload::Deployment).defaults(&mut d);
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert!(c["resources"].get("requests").is_none(), "{c}");
        assert!(c["ports"][0].get("hostPort").is_none(), "{c}");

        let mut d = object(json!({"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}}));
        WorkloadHooks(Workload::Deployment).defaults(&mut d);
        assert_eq!(d["spec"]["replicas"], 0);
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));

        let mut j = object(json!({"spec": {"template": {"spec": {}}}}));
        WorkloadHooks(Workload::Job).defaults(&mut j);
        assert_eq!(
            (&j["spec"]["completions"], &j["spec"]["parallelism"]),
            (&json!(1), &json!(1))
        );
        assert_eq!(j["spec"]["backoffLimit"], 6);
    }

    #[test]
    fn validation_messages_as_upstream() {
        assert_eq!(
            errs(Workload::Deployment, json!({"spec": {"replicas": -1, "selector": {"matchLabels": {"app": "a"}},
                "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})),
            [
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.metadata.labels: Invalid value: map[string]string{app:b}: `selector` does not match template `labels`"
            ]
        );
        assert_eq!(
            errs(
                Workload::ReplicaSet,
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}})
            ),
            ["spec.selector: Required value"]
        );
        assert_eq!(
            errs(Workload::PodTemplate, json!({"template": {"spec": {}}})),
            ["template.spec.containers: Required value"]
        );
        assert_eq!(
            WorkloadHooks(Workload::ReplicationController).selectable_fields(),
            &["status.replicas"]
        );
    }
}
