//! upstream's defaulting (the `SetDefaults_*` functions of the v1 API types) for the fields
//! users see in `kubectl get -o yaml`: pod specs, their containers (probes, lifecycle hooks,
//! env field references) and volumes (file modes, host path type, empty dirs), Pods' requests
//! from limits, the workload kinds' strategies and limits, Secrets, Services, Namespaces' name
//! label, PersistentVolumes and claims, Endpoints. Applied to every create and update, as
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

/// The object elements of the list `v` (absent or not a list: none).
fn objects(v: Option<&mut Value>) -> impl Iterator<Item = &mut Map<String, Value>> {
    v.and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// The object at `k` in `m`, if there is one (defaults apply only to what the user set).
fn present<'a>(m: &'a mut Map<String, Value>, k: &str) -> Option<&'a mut Map<String, Value>> {
    m.get_mut(k).and_then(Value::as_object_mut)
}

/// The file mode upstream gives projected files when a volume names none (0644).
const DEFAULT_MODE: i64 = 0o644;

/// Applies the defaults of `res`'s kind to `o`.
pub fn apply(res: &Resource, o: &mut Map<String, Value>) {
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Secret") => default(o, "type", json!("Opaque")),
        ("", "Service") => service(obj(o, "spec")),
        ("", "Pod") => {
            let spec = obj(o, "spec");
            pod_spec(spec, true);
            pod_only(spec);
        }
        ("", "Namespace") => namespace(o),
        ("", "PersistentVolumeClaim") => {
            default(obj(o, "spec"), "volumeMode", json!("Filesystem"));
            default(obj(o, "status"), "phase", json!("Pending"));
        }
        ("", "PersistentVolume") => {
            let spec = obj(o, "spec");
            default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
            default(spec, "volumeMode", json!("Filesystem"));
            default(obj(o, "status"), "phase", json!("Pending"));
        }
        ("", "Endpoints") => {
            for subset in objects(o.get_mut("subsets")) {
                for port in objects(subset.get_mut("ports")) {
                    default(port, "protocol", json!("TCP"));
                }
            }
        }
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
            for claim in objects(spec.get_mut("volumeClaimTemplates")) {
                default(obj(claim, "spec"), "volumeMode", json!("Filesystem"));
                default(obj(claim, "status"), "phase", json!("Pending"));
            }
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
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in objects(spec.get_mut(list)) {
            container(c);
        }
    }
    for v in objects(spec.get_mut("volumes")) {
        volume(v);
    }
}

/// What upstream defaults on a Pod but not on a pod template: requests from limits, and host
/// ports on the host network.
fn pod_only(spec: &mut Map<String, Value>) {
    let host_network = spec.get("hostNetwork") == Some(&Value::Bool(true));
    for list in ["initContainers", "containers"] {
        for c in objects(spec.get_mut(list)) {
            if let Some(resources) = present(c, "resources") {
                if let Some(limits) = present(resources, "limits").cloned() {
                    let requests = obj(resources, "requests");
                    for (k, v) in limits {
                        requests.entry(k).or_insert(v);
                    }
                }
            }
            if host_network {
                for p in objects(c.get_mut("ports")) {
                    if p.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0 {
                        if let Some(port) = p.get("containerPort").cloned() {
                            p.insert("hostPort".into(), port);
                        }
                    }
                }
            }
        }
    }
}

fn volume(v: &mut Map<String, Value>) {
    if v.keys().all(|k| k == "name") {
        v.insert("emptyDir".into(), json!({}));
    }
    for source in ["configMap", "secret", "downwardAPI", "projected"] {
        if let Some(s) = present(v, source) {
            default(s, "defaultMode", json!(DEFAULT_MODE));
        }
    }
    if let Some(host_path) = present(v, "hostPath") {
        if !host_path.contains_key("type") {
            host_path.insert("type".into(), json!(""));
        }
    }
    if let Some(d) = present(v, "downwardAPI") {
        downward_api_items(d);
    }
    if let Some(p) = present(v, "projected") {
        for source in objects(p.get_mut("sources")) {
            if let Some(d) = present(source, "downwardAPI") {
                downward_api_items(d);
            }
            if let Some(t) = present(source, "serviceAccountToken") {
                default(t, "expirationSeconds", json!(3600));
            }
        }
    }
}

fn downward_api_items(d: &mut Map<String, Value>) {
    for item in objects(d.get_mut("items")) {
        if let Some(f) = present(item, "fieldRef") {
            default(f, "apiVersion", json!("v1"));
        }
    }
}

fn probe(p: &mut Map<String, Value>) {
    for (k, v) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        if p.get(k).and_then(Value::as_i64).unwrap_or(0) == 0 {
            p.insert(k.into(), json!(v));
        }
    }
    if let Some(h) = present(p, "httpGet") {
        http_get(h);
    }
}

fn http_get(h: &mut Map<String, Value>) {
    default(h, "path", json!("/"));
    default(h, "scheme", json!("HTTP"));
}

fn namespace(o: &mut Map<String, Value>) {
    let meta = obj(o, "metadata");
    if let Some(name) = meta
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
    {
        obj(meta, "labels").insert("kubernetes.io/metadata.name".into(), json!(name));
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
    for k in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = present(c, k) {
            probe(p);
        }
    }
    if let Some(lifecycle) = present(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = present(lifecycle, hook).and_then(|h| present(h, "httpGet")) {
                http_get(h);
            }
        }
    }
    for e in objects(c.get_mut("env")) {
        if let Some(f) = present(e, "valueFrom").and_then(|v| present(v, "fieldRef")) {
            default(f, "apiVersion", json!("v1"));
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
    if ty == "LoadBalancer" && !spec.contains_key("allocateLoadBalancerNodePorts") {
        spec.insert("allocateLoadBalancerNodePorts".into(), json!(true));
    }
    match spec.get("sessionAffinity").and_then(Value::as_str) {
        Some("None") => {
            spec.remove("sessionAffinityConfig");
        }
        Some("ClientIP") => {
            let timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"));
            if timeout.is_none() {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
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
    fn pods_probes_volumes_and_other_kinds_as_upstream() {
        let mut p = json!({"metadata": {"name": "p"}, "spec": {"hostNetwork": true, "containers": [{
            "name": "a", "image": "x:1", "ports": [{"containerPort": 8080}],
            "readinessProbe": {"httpGet": {"port": 8080}, "periodSeconds": 5},
            "lifecycle": {"preStop": {"httpGet": {"port": 1, "path": "/stop"}}},
            "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Mi"}}}],
            "volumes": [{"name": "plain"}, {"name": "c", "configMap": {"name": "c"}},
                        {"name": "s", "secret": {"secretName": "s", "defaultMode": 256}},
                        {"name": "h", "hostPath": {"path": "/x"}},
                        {"name": "pr", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}]}})
        .as_object()
        .cloned()
        .unwrap();
        apply(&res("Pod"), &mut p);
        let c = &p["spec"]["containers"][0];
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
        let v = &p["spec"]["volumes"];
        assert_eq!(v[0], json!({"name": "plain", "emptyDir": {}}));
        assert_eq!(v[1]["configMap"]["defaultMode"], 420);
        assert_eq!(v[2]["secret"]["defaultMode"], 256);
        assert_eq!(v[3]["hostPath"], json!({"path": "/x", "type": ""}));
        assert_eq!(v[4]["projected"]["defaultMode"], 420);
        assert_eq!(
            v[4]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3600
        );

        // A template gets neither requests from limits nor host ports.
        let mut d = json!({"spec": {"template": {"spec": {"hostNetwork": true, "containers": [{
            "name": "a", "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "1"}}}]}}}})
        .as_object()
        .cloned()
        .unwrap();
        apply(&res("Deployment"), &mut d);
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert!(c["resources"].get("requests").is_none(), "{c}");
        assert!(c["ports"][0].get("hostPort").is_none(), "{c}");

        let mut ns = json!({"metadata": {"name": "team-a"}})
            .as_object()
            .cloned()
            .unwrap();
        apply(&res("Namespace"), &mut ns);
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "team-a"
        );
        let mut pvc = json!({"spec": {}}).as_object().cloned().unwrap();
        apply(&res("PersistentVolumeClaim"), &mut pvc);
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pvc["status"]["phase"], "Pending");
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
