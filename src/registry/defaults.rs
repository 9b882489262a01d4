//! upstream's defaulting (the `SetDefaults_*` functions of the v1 API types) for the fields
//! users see in `kubectl get -o yaml`: pod specs and their containers, the workload kinds'
//! strategies and limits, Secrets and Services. Applied to every create and update, as
//! upstream applies defaults whenever it decodes an object.

use serde_json::{json, Map, Value};

use super::strategy::Resource;

fn obj<'a>(m: &'a mut Map<String, Value>, k: &str) -> &'a mut Map<String, Value> {
    let v = m.entry(k).or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(o) => o,
        _ => unreachable!("just made an object"),
    }
}

fn missing(m: &Map<String, Value>, k: &str) -> bool {
    match m.get(k) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

fn default(m: &mut Map<String, Value>, k: &str, v: Value) {
    if missing(m, k) {
        m.insert(k.into(), v);
    }
}

/// Applies the defaults of `res`'s kind to `o`.
pub fn apply(res: &Resource, o: &mut Map<String, Value>) {
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Secret") => default(o, "type", json!("Opaque")),
        ("", "Service") => service(obj(o, "spec")),
        ("", "Pod") => pod_spec(obj(o, "spec"), true),
        ("", "PodTemplate") => template(obj(o, "template")),
        ("", "ReplicationController") => {
            let spec = obj(o, "spec");
            default(spec, "replicas", json!(1));
            template(obj(spec, "template"));
        }
        ("apps", "Deployment") => {
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
            template(obj(spec, "template"));
        }
        ("apps", "ReplicaSet") => {
            let spec = obj(o, "spec");
            default(spec, "replicas", json!(1));
            template(obj(spec, "template"));
        }
        ("apps", "StatefulSet") => {
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
            template(obj(spec, "template"));
        }
        ("apps", "DaemonSet") => {
            let spec = obj(o, "spec");
            default(spec, "revisionHistoryLimit", json!(10));
            let us = obj(spec, "updateStrategy");
            default(us, "type", json!("RollingUpdate"));
            if us.get("type") == Some(&json!("RollingUpdate")) {
                let ru = obj(us, "rollingUpdate");
                default(ru, "maxUnavailable", json!(1));
                default(ru, "maxSurge", json!(0));
            }
            template(obj(spec, "template"));
        }
        ("batch", "Job") => job_spec(obj(o, "spec")),
        ("batch", "CronJob") => {
            let spec = obj(o, "spec");
            default(spec, "concurrencyPolicy", json!("Allow"));
            if !spec.contains_key("suspend") {
                spec.insert("suspend".into(), json!(false));
            }
            default(spec, "successfulJobsHistoryLimit", json!(3));
            default(spec, "failedJobsHistoryLimit", json!(1));
            job_spec(obj(obj(spec, "jobTemplate"), "spec"));
        }
        _ => {}
    }
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
    template(obj(spec, "template"));
}

fn template(t: &mut Map<String, Value>) {
    pod_spec(obj(t, "spec"), false);
}

fn pod_spec(spec: &mut Map<String, Value>, pod: bool) {
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "schedulerName", json!("default-scheduler"));
    if !spec.contains_key("securityContext") {
        spec.insert("securityContext".into(), json!({}));
    }
    if pod && !spec.contains_key("enableServiceLinks") {
        spec.insert("enableServiceLinks".into(), json!(true));
    }
    for list in ["initContainers", "containers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                container(c);
            }
        }
    }
}

fn container(c: &mut Map<String, Value>) {
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    if missing(c, "imagePullPolicy") {
        let image = c.get("image").and_then(Value::as_str).unwrap_or("");
        // The tag is after the last ':' that follows the last '/', unless pinned by digest.
        let name = image.rsplit('/').next().unwrap_or(image);
        let latest =
            !image.contains('@') && name.rsplit_once(':').is_none_or(|(_, tag)| tag == "latest");
        let policy = if latest { "Always" } else { "IfNotPresent" };
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    if !c.contains_key("resources") {
        c.insert("resources".into(), json!({}));
    }
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(p, "protocol", json!("TCP"));
        }
    }
}

fn service(spec: &mut Map<String, Value>) {
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if ty != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
        if missing(spec, "ipFamilies") || spec.get("ipFamilies") == Some(&json!([])) {
            spec.insert("ipFamilies".into(), json!(["IPv4"]));
        }
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
        default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(p, "protocol", json!("TCP"));
            if missing(p, "targetPort") {
                if let Some(port) = p.get("port").cloned() {
                    p.insert("targetPort".into(), port);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::registry::resources::all_resources;

    fn res(kind: &str) -> Resource {
        all_resources()
            .into_iter()
            .find(|r| r.kind == kind)
            .unwrap()
    }

    #[test]
    fn deployment_defaults_as_upstream() {
        let mut d = json!({"spec": {"selector": {}, "template": {"spec": {"containers": [
            {"name": "a", "image": "nginx"}, {"name": "b", "image": "reg:5000/app:1.2", "ports": [{"containerPort": 80}]}]}}}})
        .as_object()
        .cloned()
        .unwrap();
        apply(&res("Deployment"), &mut d);
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
    fn explicit_values_are_kept() {
        let mut d = json!({"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}})
            .as_object()
            .cloned()
            .unwrap();
        apply(&res("Deployment"), &mut d);
        assert_eq!(d["spec"]["replicas"], 0);
        assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    }
}
