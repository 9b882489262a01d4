//! The columns kube-apiserver prints for each kind (what `kubectl get` and `-o wide` show),
//! and how each cell is computed from the object. Kinds without their own printer get the
//! default: Name and Created At.

use serde_json::Value;

use super::age::{age, human_duration, seconds_since};

/// One column: name, type, priority (1: only with `-o wide`).
pub(super) type Col = (&'static str, &'static str, u8);

pub(super) fn s<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p).unwrap_or(&Value::Null);
    }
    cur
}

pub(super) fn st(v: &Value, path: &[&str]) -> String {
    match s(v, path) {
        Value::String(x) => x.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

pub(super) fn int(v: &Value, path: &[&str]) -> i64 {
    s(v, path).as_i64().unwrap_or(0)
}

/// A string cell.
pub(super) fn text(x: impl Into<String>) -> Value {
    Value::String(x.into())
}

/// The strings of the list at `path`, joined with `,` ("" when there are none).
pub(super) fn joined(v: &Value, path: &[&str]) -> String {
    let items: Vec<&str> = s(v, path)
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    items.join(",")
}

pub(super) fn or_none(x: String) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x
    }
}

pub(super) fn len_of(v: &Value) -> i64 {
    match v {
        Value::Object(m) => m.len() as i64,
        Value::Array(a) => a.len() as i64,
        _ => 0,
    }
}

pub(super) fn name(o: &Value) -> Value {
    Value::String(st(o, &["metadata", "name"]))
}

pub(super) fn age_cell(o: &Value) -> Value {
    Value::String(age(s(o, &["metadata", "creationTimestamp"]).as_str()))
}

pub(super) fn selector_string(sel: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push(format!("{k}={}", v.as_str().unwrap_or("")));
        }
    } else if let Some(m) = sel.as_object() {
        if !sel.get("matchExpressions").is_some_and(|e| e.is_array()) {
            for (k, v) in m {
                if let Some(v) = v.as_str() {
                    parts.push(format!("{k}={v}"));
                }
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = st(e, &["key"]);
            let vals: Vec<&str> = s(e, &["values"])
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            parts.push(match st(e, &["operator"]).as_str() {
                "In" => format!("{key} in ({})", vals.join(",")),
                "NotIn" => format!("{key} notin ({})", vals.join(",")),
                "Exists" => key,
                "DoesNotExist" => format!("!{key}"),
                _ => key,
            });
        }
    }
    or_none(parts.join(","))
}

pub(super) fn containers_and_images(spec: &Value) -> (String, String) {
    let cs = spec
        .get("containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    (
        cs.iter()
            .map(|c| st(c, &["name"]))
            .collect::<Vec<_>>()
            .join(","),
        cs.iter()
            .map(|c| st(c, &["image"]))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// Computes a row's cells from an object.
pub(super) type Cells = fn(&Value) -> Vec<Value>;

/// The columns and a row's cells for `kind`.
pub(super) fn for_kind(group: &str, kind: &str) -> (&'static [Col], Cells) {
    match (group, kind) {
        ("", "Pod") => (POD, pod),
        ("apps", "Deployment") => (DEPLOYMENT, deployment),
        ("apps", "ReplicaSet") | ("", "ReplicationController") => (REPLICASET, replicaset),
        ("apps", "StatefulSet") => (STATEFULSET, statefulset),
        ("apps", "DaemonSet") => (DAEMONSET, daemonset),
        ("", "Service") => (SERVICE, service),
        ("", "ConfigMap") => (CONFIGMAP, configmap),
        ("", "Secret") => (SECRET, secret),
        ("", "Namespace") => (NAMESPACE, namespace),
        ("", "Node") => (NODE, node),
        ("", "ServiceAccount") => (SERVICEACCOUNT, serviceaccount),
        ("", "Endpoints") => (ENDPOINTS, endpoints),
        ("", "Event") => (EVENT, event),
        ("batch", "Job") => (JOB, job),
        ("batch", "CronJob") => (CRONJOB, cronjob),
        ("coordination.k8s.io", "Lease") => (LEASE, lease),
        ("networking.k8s.io", "Ingress") => (INGRESS, ingress),
        ("", "PersistentVolumeClaim") => (PVC, pvc),
        _ => super::cluster::for_kind(group, kind)
            .or_else(|| super::storage::for_kind(group, kind))
            .or_else(|| super::allocation::for_kind(group, kind))
            .unwrap_or((DEFAULT, default)),
    }
}

const DEFAULT: &[Col] = &[("Name", "string", 0), ("Created At", "date", 0)];
fn default(o: &Value) -> Vec<Value> {
    vec![
        name(o),
        Value::String(st(o, &["metadata", "creationTimestamp"])),
    ]
}

const CONFIGMAP: &[Col] = &[
    ("Name", "string", 0),
    ("Data", "string", 0),
    ("Age", "string", 0),
];
fn configmap(o: &Value) -> Vec<Value> {
    let n = len_of(s(o, &["data"])) + len_of(s(o, &["binaryData"]));
    vec![name(o), Value::from(n), age_cell(o)]
}

const SECRET: &[Col] = &[
    ("Name", "string", 0),
    ("Type", "string", 0),
    ("Data", "string", 0),
    ("Age", "string", 0),
];
fn secret(o: &Value) -> Vec<Value> {
    let n = len_of(s(o, &["data"]));
    vec![
        name(o),
        Value::String(st(o, &["type"])),
        Value::from(n),
        age_cell(o),
    ]
}

const NAMESPACE: &[Col] = &[
    ("Name", "string", 0),
    ("Status", "string", 0),
    ("Age", "string", 0),
];
fn namespace(o: &Value) -> Vec<Value> {
    let phase = st(o, &["status", "phase"]);
    let phase = if phase.is_empty() {
        "Active".into()
    } else {
        phase
    };
    vec![name(o), Value::String(phase), age_cell(o)]
}

const SERVICEACCOUNT: &[Col] = &[
    ("Name", "string", 0),
    ("Secrets", "string", 0),
    ("Age", "string", 0),
];
fn serviceaccount(o: &Value) -> Vec<Value> {
    vec![
        name(o),
        Value::from(len_of(s(o, &["secrets"]))),
        age_cell(o),
    ]
}

const DEPLOYMENT: &[Col] = &[
    ("Name", "string", 0),
    ("Ready", "string", 0),
    ("Up-to-date", "string", 0),
    ("Available", "string", 0),
    ("Age", "string", 0),
    ("Containers", "string", 1),
    ("Images", "string", 1),
    ("Selector", "string", 1),
];
fn deployment(o: &Value) -> Vec<Value> {
    let desired = s(o, &["spec", "replicas"]).as_i64().unwrap_or(1);
    let (cs, is) = containers_and_images(s(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        Value::String(format!(
            "{}/{desired}",
            int(o, &["status", "readyReplicas"])
        )),
        Value::from(int(o, &["status", "updatedReplicas"])),
        Value::from(int(o, &["status", "availableReplicas"])),
        age_cell(o),
        Value::String(cs),
        Value::String(is),
        Value::String(selector_string(s(o, &["spec", "selector"]))),
    ]
}

const REPLICASET: &[Col] = &[
    ("Name", "string", 0),
    ("Desired", "integer", 0),
    ("Current", "integer", 0),
    ("Ready", "integer", 0),
    ("Age", "string", 0),
    ("Containers", "string", 1),
    ("Images", "string", 1),
    ("Selector", "string", 1),
];
fn replicaset(o: &Value) -> Vec<Value> {
    let (cs, is) = containers_and_images(s(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        Value::from(s(o, &["spec", "replicas"]).as_i64().unwrap_or(1)),
        Value::from(int(o, &["status", "replicas"])),
        Value::from(int(o, &["status", "readyReplicas"])),
        age_cell(o),
        Value::String(cs),
        Value::String(is),
        Value::String(selector_string(s(o, &["spec", "selector"]))),
    ]
}

const STATEFULSET: &[Col] = &[
    ("Name", "string", 0),
    ("Ready", "string", 0),
    ("Age", "string", 0),
    ("Containers", "string", 1),
    ("Images", "string", 1),
];
fn statefulset(o: &Value) -> Vec<Value> {
    let desired = s(o, &["spec", "replicas"]).as_i64().unwrap_or(1);
    let (cs, is) = containers_and_images(s(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        Value::String(format!(
            "{}/{desired}",
            int(o, &["status", "readyReplicas"])
        )),
        age_cell(o),
        Value::String(cs),
        Value::String(is),
    ]
}

const DAEMONSET: &[Col] = &[
    ("Name", "string", 0),
    ("Desired", "integer", 0),
    ("Current", "integer", 0),
    ("Ready", "integer", 0),
    ("Up-to-date", "integer", 0),
    ("Available", "integer", 0),
    ("Node Selector", "string", 0),
    ("Age", "string", 0),
    ("Containers", "string", 1),
    ("Images", "string", 1),
    ("Selector", "string", 1),
];
fn daemonset(o: &Value) -> Vec<Value> {
    let spec = s(o, &["spec", "template", "spec"]);
    let (cs, is) = containers_and_images(spec);
    let node_sel = spec
        .get("nodeSelector")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    vec![
        name(o),
        Value::from(int(o, &["status", "desiredNumberScheduled"])),
        Value::from(int(o, &["status", "currentNumberScheduled"])),
        Value::from(int(o, &["status", "numberReady"])),
        Value::from(int(o, &["status", "updatedNumberScheduled"])),
        Value::from(int(o, &["status", "numberAvailable"])),
        Value::String(or_none(node_sel)),
        age_cell(o),
        Value::String(cs),
        Value::String(is),
        Value::String(selector_string(s(o, &["spec", "selector"]))),
    ]
}

const SERVICE: &[Col] = &[
    ("Name", "string", 0),
    ("Type", "string", 0),
    ("Cluster-IP", "string", 0),
    ("External-IP", "string", 0),
    ("Port(s)", "string", 0),
    ("Age", "string", 0),
    ("Selector", "string", 1),
];
fn service(o: &Value) -> Vec<Value> {
    let ty = st(o, &["spec", "type"]);
    let mut external: Vec<String> = s(o, &["status", "loadBalancer", "ingress"])
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    let ip = st(i, &["ip"]);
                    if ip.is_empty() {
                        st(i, &["hostname"])
                    } else {
                        ip
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(ips) = s(o, &["spec", "externalIPs"]).as_array() {
        external.extend(ips.iter().filter_map(Value::as_str).map(str::to_string));
    }
    let external = match ty.as_str() {
        "ExternalName" => st(o, &["spec", "externalName"]),
        "LoadBalancer" if external.is_empty() => "<pending>".into(),
        _ => or_none(external.join(",")),
    };
    let ports: Vec<String> = s(o, &["spec", "ports"])
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let proto = st(p, &["protocol"]);
                    let proto = if proto.is_empty() {
                        "TCP".into()
                    } else {
                        proto
                    };
                    match p.get("nodePort").and_then(Value::as_i64) {
                        Some(np) if np != 0 => format!("{}:{np}/{proto}", int(p, &["port"])),
                        _ => format!("{}/{proto}", int(p, &["port"])),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let cluster_ip = st(o, &["spec", "clusterIP"]);
    let selector = s(o, &["spec", "selector"])
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    vec![
        name(o),
        Value::String(ty),
        Value::String(or_none(cluster_ip)),
        Value::String(external),
        Value::String(or_none(ports.join(","))),
        age_cell(o),
        Value::String(or_none(selector)),
    ]
}

const ENDPOINTS: &[Col] = &[
    ("Name", "string", 0),
    ("Endpoints", "string", 0),
    ("Age", "string", 0),
];
fn endpoints(o: &Value) -> Vec<Value> {
    let mut eps = Vec::new();
    for subset in s(o, &["subsets"]).as_array().into_iter().flatten() {
        let ports: Vec<i64> = subset
            .get("ports")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|p| int(p, &["port"])).collect())
            .unwrap_or_default();
        for addr in subset
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let ip = st(addr, &["ip"]);
            if ports.is_empty() {
                eps.push(ip.clone());
            }
            for p in &ports {
                eps.push(format!("{ip}:{p}"));
            }
        }
    }
    let shown = if eps.len() > 3 {
        format!("{} + {} more...", eps[..3].join(","), eps.len() - 3)
    } else {
        or_none(eps.join(","))
    };
    vec![name(o), Value::String(shown), age_cell(o)]
}

const NODE: &[Col] = &[
    ("Name", "string", 0),
    ("Status", "string", 0),
    ("Roles", "string", 0),
    ("Age", "string", 0),
    ("Version", "string", 0),
    ("Internal-IP", "string", 1),
    ("External-IP", "string", 1),
    ("OS-Image", "string", 1),
    ("Kernel-Version", "string", 1),
    ("Container-Runtime", "string", 1),
];
fn node(o: &Value) -> Vec<Value> {
    let mut status = "Unknown".to_string();
    for c in s(o, &["status", "conditions"])
        .as_array()
        .into_iter()
        .flatten()
    {
        if st(c, &["type"]) == "Ready" {
            status = if st(c, &["status"]) == "True" {
                "Ready".into()
            } else {
                "NotReady".into()
            };
        }
    }
    if s(o, &["spec", "unschedulable"]).as_bool() == Some(true) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = s(o, &["metadata", "labels"])
        .as_object()
        .map(|m| {
            m.keys()
                .filter_map(|k| {
                    k.strip_prefix("node-role.kubernetes.io/")
                        .map(str::to_string)
                        .or_else(|| {
                            (k == "kubernetes.io/role")
                                .then(|| st(o, &["metadata", "labels", "kubernetes.io/role"]))
                        })
                })
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    let addr = |t: &str| {
        s(o, &["status", "addresses"])
            .as_array()
            .and_then(|a| a.iter().find(|x| st(x, &["type"]) == t))
            .map(|x| st(x, &["address"]))
            .unwrap_or_default()
    };
    let info = |f: &str| or_none(st(o, &["status", "nodeInfo", f]));
    vec![
        name(o),
        Value::String(status),
        Value::String(or_none(roles.join(","))),
        age_cell(o),
        Value::String(st(o, &["status", "nodeInfo", "kubeletVersion"])),
        Value::String(or_none(addr("InternalIP"))),
        Value::String(or_none(addr("ExternalIP"))),
        Value::String(info("osImage")),
        Value::String(info("kernelVersion")),
        Value::String(info("containerRuntimeVersion")),
    ]
}

const POD: &[Col] = &[
    ("Name", "string", 0),
    ("Ready", "string", 0),
    ("Status", "string", 0),
    ("Restarts", "string", 0),
    ("Age", "string", 0),
    ("IP", "string", 1),
    ("Node", "string", 1),
    ("Nominated Node", "string", 1),
    ("Readiness Gates", "string", 1),
];
fn pod(o: &Value) -> Vec<Value> {
    let total = len_of(s(o, &["spec", "containers"]));
    let mut ready = 0;
    let mut restarts = 0;
    let mut last_restart: Option<i64> = None;
    let mut reason = st(o, &["status", "phase"]);
    if !st(o, &["status", "reason"]).is_empty() {
        reason = st(o, &["status", "reason"]);
    }
    let mut initializing = false;
    let inits = s(o, &["status", "initContainerStatuses"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    let n_init = len_of(s(o, &["spec", "initContainers"]));
    for (i, c) in inits.iter().enumerate() {
        restarts += int(c, &["restartCount"]);
        let term = s(c, &["state", "terminated"]);
        if term.is_object() && int(term, &["exitCode"]) == 0 {
            continue;
        }
        initializing = true;
        let waiting = st(c, &["state", "waiting", "reason"]);
        reason = if term.is_object() {
            let r = st(term, &["reason"]);
            if r.is_empty() {
                format!("Init:ExitCode:{}", int(term, &["exitCode"]))
            } else {
                format!("Init:{r}")
            }
        } else if !waiting.is_empty() && waiting != "PodInitializing" {
            format!("Init:{waiting}")
        } else {
            format!("Init:{i}/{n_init}")
        };
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in s(o, &["status", "containerStatuses"])
            .as_array()
            .into_iter()
            .flatten()
        {
            restarts += int(c, &["restartCount"]);
            if let Some(t) = s(c, &["lastState", "terminated", "finishedAt"]).as_str() {
                let ago = seconds_since(t);
                last_restart = Some(last_restart.map_or(ago, |l: i64| l.min(ago)));
            }
            let waiting = st(c, &["state", "waiting", "reason"]);
            let term = s(c, &["state", "terminated"]);
            if !waiting.is_empty() {
                reason = waiting;
            } else if term.is_object() {
                let r = st(term, &["reason"]);
                reason = if !r.is_empty() {
                    r
                } else if int(term, &["signal"]) != 0 {
                    format!("Signal:{}", int(term, &["signal"]))
                } else {
                    format!("ExitCode:{}", int(term, &["exitCode"]))
                };
            } else if s(c, &["state", "running"]).is_object() {
                has_running = true;
                if s(c, &["ready"]).as_bool() == Some(true) {
                    ready += 1;
                }
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if s(o, &["metadata", "deletionTimestamp"]).is_string() {
        reason = if st(o, &["status", "reason"]) == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    if reason.is_empty() {
        reason = "Pending".into();
    }
    let restarts_cell = match last_restart {
        Some(ago) => format!("{restarts} ({} ago)", human_duration(ago)),
        None => restarts.to_string(),
    };
    let gates = s(o, &["spec", "readinessGates"]).as_array().map(Vec::len);
    vec![
        name(o),
        Value::String(format!("{ready}/{total}")),
        Value::String(reason),
        Value::String(restarts_cell),
        age_cell(o),
        Value::String(or_none(st(o, &["status", "podIP"]))),
        Value::String(or_none(st(o, &["spec", "nodeName"]))),
        Value::String(or_none(st(o, &["status", "nominatedNodeName"]))),
        Value::String(match gates {
            Some(n) if n > 0 => format!("0/{n}"),
            _ => "<none>".into(),
        }),
    ]
}

pub(super) const EVENT: &[Col] = &[
    ("Last Seen", "string", 0),
    ("Type", "string", 0),
    ("Reason", "string", 0),
    ("Object", "string", 0),
    ("Subobject", "string", 1),
    ("Source", "string", 1),
    ("Message", "string", 0),
    ("First Seen", "string", 1),
    ("Count", "string", 1),
    ("Name", "string", 1),
];
fn event(o: &Value) -> Vec<Value> {
    let since = |v: &Value| v.as_str().filter(|t| !t.is_empty()).map(|t| age(Some(t)));
    let first = since(s(o, &["firstTimestamp"]))
        .or_else(|| since(s(o, &["eventTime"])))
        .unwrap_or_else(|| "<unknown>".into());
    let mut last = since(s(o, &["lastTimestamp"])).unwrap_or_else(|| first.clone());
    let mut count = int(o, &["count"]);
    if s(o, &["series"]).is_object() {
        last = since(s(o, &["series", "lastObservedTime"])).unwrap_or_else(|| "<unknown>".into());
        count = int(o, &["series", "count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = st(o, &["involvedObject", "kind"]).to_lowercase();
    let obj = match st(o, &["involvedObject", "name"]) {
        n if n.is_empty() => kind,
        n => format!("{kind}/{n}"),
    };
    let (component, host) = match st(o, &["source", "component"]) {
        c if c.is_empty() => (
            st(o, &["reportingComponent"]),
            st(o, &["reportingInstance"]),
        ),
        c => (c, st(o, &["source", "host"])),
    };
    let source = if host.is_empty() {
        component
    } else {
        format!("{component}, {host}")
    };
    vec![
        Value::String(last),
        Value::String(st(o, &["type"])),
        Value::String(st(o, &["reason"])),
        Value::String(obj),
        Value::String(st(o, &["involvedObject", "fieldPath"])),
        Value::String(source),
        Value::String(st(o, &["message"]).trim().to_string()),
        Value::String(first),
        Value::from(count),
        name(o),
    ]
}

const JOB: &[Col] = &[
    ("Name", "string", 0),
    ("Status", "string", 0),
    ("Completions", "string", 0),
    ("Duration", "string", 0),
    ("Age", "string", 0),
    ("Containers", "string", 1),
    ("Images", "string", 1),
    ("Selector", "string", 1),
];
fn job(o: &Value) -> Vec<Value> {
    let completions = match s(o, &["spec", "completions"]).as_i64() {
        Some(c) => format!("{}/{c}", int(o, &["status", "succeeded"])),
        None => format!("{}/1", int(o, &["status", "succeeded"])),
    };
    let mut status = "Running".to_string();
    for c in s(o, &["status", "conditions"])
        .as_array()
        .into_iter()
        .flatten()
    {
        if st(c, &["status"]) == "True" {
            match st(c, &["type"]).as_str() {
                "Complete" => status = "Complete".into(),
                "Failed" => status = "Failed".into(),
                "Suspended" => status = "Suspended".into(),
                _ => {}
            }
        }
    }
    let duration = match (
        s(o, &["status", "startTime"]).as_str(),
        s(o, &["status", "completionTime"]).as_str(),
    ) {
        (Some(a), Some(b)) => human_duration(seconds_since(a) - seconds_since(b)),
        (Some(a), None) => human_duration(seconds_since(a)),
        _ => String::new(),
    };
    let (cs, is) = containers_and_images(s(o, &["spec", "template", "spec"]));
    vec![
        name(o),
        Value::String(status),
        Value::String(completions),
        Value::String(duration),
        age_cell(o),
        Value::String(cs),
        Value::String(is),
        Value::String(selector_string(s(o, &["spec", "selector"]))),
    ]
}

const CRONJOB: &[Col] = &[
    ("Name", "string", 0),
    ("Schedule", "string", 0),
    ("Timezone", "string", 0),
    ("Suspend", "boolean", 0),
    ("Active", "integer", 0),
    ("Last Schedule", "string", 0),
    ("Age", "string", 0),
    ("Containers", "string", 1),
    ("Images", "string", 1),
    ("Selector", "string", 1),
];
fn cronjob(o: &Value) -> Vec<Value> {
    let last = s(o, &["status", "lastScheduleTime"])
        .as_str()
        .map(|t| age(Some(t)))
        .unwrap_or_else(|| "<none>".into());
    let spec = s(o, &["spec", "jobTemplate", "spec", "template", "spec"]);
    let (cs, is) = containers_and_images(spec);
    vec![
        name(o),
        Value::String(st(o, &["spec", "schedule"])),
        Value::String(or_none(st(o, &["spec", "timeZone"]))),
        Value::Bool(s(o, &["spec", "suspend"]).as_bool().unwrap_or(false)),
        Value::from(len_of(s(o, &["status", "active"]))),
        Value::String(last),
        age_cell(o),
        Value::String(cs),
        Value::String(is),
        Value::String(selector_string(s(
            o,
            &["spec", "jobTemplate", "spec", "selector"],
        ))),
    ]
}

const LEASE: &[Col] = &[
    ("Name", "string", 0),
    ("Holder", "string", 0),
    ("Age", "string", 0),
];
fn lease(o: &Value) -> Vec<Value> {
    vec![
        name(o),
        Value::String(st(o, &["spec", "holderIdentity"])),
        age_cell(o),
    ]
}

const INGRESS: &[Col] = &[
    ("Name", "string", 0),
    ("Class", "string", 0),
    ("Hosts", "string", 0),
    ("Address", "string", 0),
    ("Ports", "string", 0),
    ("Age", "string", 0),
];
fn ingress(o: &Value) -> Vec<Value> {
    let hosts: Vec<String> = s(o, &["spec", "rules"])
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| st(r, &["host"]))
                .filter(|h| !h.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let tls = s(o, &["spec", "tls"])
        .as_array()
        .is_some_and(|a| !a.is_empty());
    let addrs: Vec<String> = s(o, &["status", "loadBalancer", "ingress"])
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| st(i, &["ip"]))
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default();
    vec![
        name(o),
        Value::String(or_none(st(o, &["spec", "ingressClassName"]))),
        Value::String(if hosts.is_empty() {
            "*".into()
        } else {
            hosts.join(",")
        }),
        Value::String(addrs.join(",")),
        Value::String(if tls { "80, 443".into() } else { "80".into() }),
        age_cell(o),
    ]
}

const PVC: &[Col] = &[
    ("Name", "string", 0),
    ("Status", "string", 0),
    ("Volume", "string", 0),
    ("Capacity", "string", 0),
    ("Access Modes", "string", 0),
    ("StorageClass", "string", 0),
    ("VolumeAttributesClass", "string", 0),
    ("Age", "string", 0),
    ("VolumeMode", "string", 1),
];
fn pvc(o: &Value) -> Vec<Value> {
    let phase = if s(o, &["metadata", "deletionTimestamp"]).is_string() {
        "Terminating".to_string()
    } else {
        match st(o, &["status", "phase"]) {
            p if p.is_empty() => "Pending".into(),
            p => p,
        }
    };
    let volume = st(o, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            st(o, &["status", "capacity", "storage"]),
            super::cluster::access_modes(s(o, &["status", "accessModes"])),
        )
    };
    let unset = |v: String| {
        if v.is_empty() {
            "<unset>".to_string()
        } else {
            v
        }
    };
    let class = storage_class(o);
    vec![
        name(o),
        Value::String(phase),
        Value::String(volume),
        Value::String(capacity),
        Value::String(modes),
        Value::String(class),
        Value::String(unset(st(o, &["spec", "volumeAttributesClassName"]))),
        age_cell(o),
        Value::String(unset(st(o, &["spec", "volumeMode"]))),
    ]
}

/// A volume's or claim's storage class: the field, else the beta annotation upstream still
/// reads.
pub(super) fn storage_class(o: &Value) -> String {
    match st(o, &["spec", "storageClassName"]) {
        c if c.is_empty() => st(
            o,
            &[
                "metadata",
                "annotations",
                "volume.beta.kubernetes.io/storage-class",
            ],
        ),
        c => c,
    }
}
