//! upstream's validation of the specs users write most (pods and pod templates, the workload
//! kinds, Services, ConfigMap and Secret keys), with its field paths and messages, so a bad
//! object is a 422 with the causes kubectl prints. Other kinds are checked for metadata only.

use serde_json::{Map, Value};

use super::strategy::Resource;
use super::validation::{dns1123_label, FieldError};

/// The spec problems of `obj`, an object of `res`.
pub fn spec_errors(res: &Resource, obj: &Map<String, Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Pod") => pod_spec(obj.get("spec"), "spec", &mut errs),
        ("", "PodTemplate") => template(obj.get("template"), "template", None, &mut errs),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet") => {
            workload(obj.get("spec"), res.kind != "DaemonSet", &mut errs)
        }
        ("", "ReplicationController") => {
            let spec = obj.get("spec");
            replicas(spec, &mut errs);
            // An RC's selector is a plain label map.
            let selector = spec
                .and_then(|s| s.get("selector"))
                .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
                .map(|s| serde_json::json!({ "matchLabels": s }));
            template(
                spec.and_then(|s| s.get("template")),
                "spec.template",
                selector.as_ref(),
                &mut errs,
            );
        }
        ("batch", "Job") => template(
            obj.get("spec").and_then(|s| s.get("template")),
            "spec.template",
            None,
            &mut errs,
        ),
        ("", "Service") => service(obj.get("spec"), &mut errs),
        ("", "ConfigMap") => {
            config_keys(obj.get("data"), "data", &mut errs);
            config_keys(obj.get("binaryData"), "binaryData", &mut errs);
        }
        ("", "Secret") => config_keys(obj.get("data"), "data", &mut errs),
        _ => {}
    }
    errs
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
    template(
        spec.and_then(|s| s.get("template")),
        "spec.template",
        if empty { None } else { selector },
        errs,
    );
}

/// Checks a pod template; with a label selector, its labels must match it.
fn template(t: Option<&Value>, path: &str, selector: Option<&Value>, errs: &mut Vec<FieldError>) {
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
    pod_spec(t.and_then(|t| t.get("spec")), &format!("{path}.spec"), errs);
}

fn pod_spec(spec: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
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

fn service(spec: Option<&Value>, errs: &mut Vec<FieldError>) {
    let ty = spec
        .and_then(|s| s.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if !matches!(
        ty,
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"
    ) {
        errs.push(FieldError {
            reason: "FieldValueNotSupported",
            field: "spec.type".into(),
            message: format!("Unsupported value: \"{ty}\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""),
        });
    }
    let headless = spec
        .and_then(|s| s.get("clusterIP"))
        .and_then(Value::as_str)
        == Some("None");
    let ports = spec.and_then(|s| s.get("ports")).and_then(Value::as_array);
    if ty != "ExternalName" && !headless && ports.is_none_or(|p| p.is_empty()) {
        errs.push(FieldError::required("spec.ports", ""));
    }
    for (i, p) in ports.into_iter().flatten().enumerate() {
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=65535).contains(&port) {
            errs.push(FieldError {
                reason: "FieldValueInvalid",
                field: format!("spec.ports[{i}].port"),
                message: format!("Invalid value: {port}: must be between 1 and 65535, inclusive"),
            });
        }
        let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
        if !matches!(proto, "TCP" | "UDP" | "SCTP") {
            errs.push(FieldError {
                reason: "FieldValueNotSupported",
                field: format!("spec.ports[{i}].protocol"),
                message: format!(
                    "Unsupported value: \"{proto}\": supported values: \"SCTP\", \"TCP\", \"UDP\""
                ),
            });
        }
        if ports.is_some_and(|ps| ps.len() > 1)
            && p.get("name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            errs.push(FieldError::required(format!("spec.ports[{i}].name"), ""));
        }
    }
}

fn config_keys(data: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    for k in data
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        let ok = !k.is_empty()
            && k.len() <= 253
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && k != "."
            && k != ".."
            && !k.starts_with("..");
        if !ok {
            errs.push(FieldError::invalid(
                format!("{path}[{k}]"),
                k,
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::registry::resources::all_resources;
    use serde_json::json;

    fn errs(kind: &str, obj: Value) -> Vec<String> {
        let res = all_resources()
            .into_iter()
            .find(|r| r.kind == kind)
            .unwrap();
        spec_errors(&res, obj.as_object().unwrap())
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
    }

    #[test]
    fn upstreams_messages() {
        assert_eq!(
            errs("Pod", json!({"spec": {}})),
            ["spec.containers: Required value"]
        );
        assert_eq!(
            errs(
                "Pod",
                json!({"spec": {"containers": [{"name": "a"}, {"name": "a", "image": "x"}]}})
            ),
            [
                "spec.containers[0].image: Required value",
                "spec.containers[1].name: Duplicate value: \"a\""
            ]
        );
        assert_eq!(
            errs("Deployment", json!({"spec": {"replicas": -1, "selector": {"matchLabels": {"app": "a"}},
                "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})),
            [
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.metadata.labels: Invalid value: map[string]string{app:b}: `selector` does not match template `labels`"
            ]
        );
        assert_eq!(
            errs("Service", json!({"spec": {}})),
            ["spec.ports: Required value"]
        );
        assert!(errs("Service", json!({"spec": {"clusterIP": "None"}})).is_empty());
        assert_eq!(
            errs("ConfigMap", json!({"data": {"ok": "1", "a b": "2"}})).len(),
            1
        );
    }
}
