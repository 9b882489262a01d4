//! The pod spec every Pod and workload embeds: upstream's defaults for it (restart and DNS
//! policy, containers with their probes, lifecycle hooks and env field references, volumes with
//! their file modes) and its validation (containers, names, images, ports), with upstream's
//! field paths and messages. Pods add what [`pod_only_defaults`] says.

use serde_json::{json, Map, Value};

use super::fields::{default, missing, obj, objects, present};
use crate::api::validation::{dns1123_label, FieldError};

/// The file mode upstream gives projected files when a volume names none (0644).
const DEFAULT_MODE: i64 = 0o644;

/// Defaults of a pod template (`template.spec`).
pub fn template_defaults(t: &mut Map<String, Value>) {
    pod_spec_defaults(obj(t, "spec"), false);
}

/// Defaults of a pod spec; `pod` for a Pod's own spec (templates do not get
/// `enableServiceLinks`).
pub fn pod_spec_defaults(spec: &mut Map<String, Value>, pod: bool) {
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
pub fn pod_only_defaults(spec: &mut Map<String, Value>) {
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

/// Checks a pod template; with a label selector, its labels must match it.
pub fn validate_template(
    t: Option<&Value>,
    path: &str,
    selector: Option<&Value>,
    errs: &mut Vec<FieldError>,
) {
    if let Some(sel) = selector {
        let labels = t
            .and_then(|t| t.get("metadata"))
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        let matches = sel
            .get("matchLabels")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !matches {
            let shown = labels
                .map(|l| {
                    l.iter()
                        .map(|(k, v)| format!("{k}:{}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            errs.push(FieldError {
                reason: "FieldValueInvalid",
                field: format!("{path}.metadata.labels"),
                message: format!(
                    "Invalid value: map[string]string{{{shown}}}: `selector` does not match template `labels`"
                ),
            });
        }
    }
    validate_pod_spec(t.and_then(|t| t.get("spec")), &format!("{path}.spec"), errs);
}

/// Checks a pod spec at `path`.
pub fn validate_pod_spec(spec: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    let containers = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array);
    match containers {
        None => errs.push(FieldError::required(format!("{path}.containers"), "")),
        Some(cs) if cs.is_empty() => {
            errs.push(FieldError::required(format!("{path}.containers"), ""))
        }
        Some(cs) => containers_ok(cs, &format!("{path}.containers"), errs),
    }
    if let Some(inits) = spec
        .and_then(|s| s.get("initContainers"))
        .and_then(Value::as_array)
    {
        containers_ok(inits, &format!("{path}.initContainers"), errs);
    }
}

fn containers_ok(cs: &[Value], path: &str, errs: &mut Vec<FieldError>) {
    let mut seen = Vec::new();
    for (i, c) in cs.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let name = c.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            errs.push(FieldError::required(format!("{at}.name"), ""));
        } else {
            for m in dns1123_label(name) {
                errs.push(FieldError::invalid(format!("{at}.name"), name, m));
            }
            if seen.contains(&name) {
                errs.push(FieldError {
                    reason: "FieldValueDuplicate",
                    field: format!("{at}.name"),
                    message: format!(
                        "Duplicate value: {}",
                        serde_json::to_string(name).unwrap_or_default()
                    ),
                });
            }
            seen.push(name);
        }
        if c.get("image")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            errs.push(FieldError::required(format!("{at}.image"), ""));
        }
        for (j, p) in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let port = p.get("containerPort").and_then(Value::as_i64).unwrap_or(0);
            if !(1..=65535).contains(&port) {
                errs.push(FieldError {
                    reason: "FieldValueInvalid",
                    field: format!("{at}.ports[{j}].containerPort"),
                    message: format!(
                        "Invalid value: {port}: must be between 1 and 65535, inclusive"
                    ),
                });
            }
        }
    }
}
