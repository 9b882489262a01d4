//! Columns for the kinds `columns.rs` leaves out: storage, policy, RBAC, scheduling, node,
//! discovery, autoscaling, networking extras and the core kinds with small printers
//! (PodTemplate, ResourceQuota, LimitRange, PersistentVolume, ControllerRevision).
//! (`events.k8s.io` Events are stored, and printed, as core Events.)

use serde_json::{json, Value};

use super::columns::{
    age_cell, containers_and_images, int, name, or_none, s, selector_string, st, storage_class,
    text, Cells, Col,
};

/// The columns and cells for the kinds this file prints, `None` for the others.
pub(super) fn for_kind(group: &str, kind: &str) -> Option<(&'static [Col], Cells)> {
    Some(match (group, kind) {
        ("", "PodTemplate") => (PODTEMPLATE, podtemplate),
        ("", "ResourceQuota") => (RESOURCEQUOTA, resourcequota),
        ("", "LimitRange") => (CREATED, created),
        ("", "PersistentVolume") => (PV, pv),
        ("apps", "ControllerRevision") => (CONTROLLERREVISION, controllerrevision),
        ("autoscaling", "HorizontalPodAutoscaler") => (HPA, hpa),
        ("networking.k8s.io", "IngressClass") => (INGRESSCLASS, ingressclass),
        ("networking.k8s.io", "NetworkPolicy") => (NETWORKPOLICY, networkpolicy),
        ("policy", "PodDisruptionBudget") => (PDB, pdb),
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => (CREATED, created),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            (ROLEBINDING, rolebinding)
        }
        ("storage.k8s.io", "StorageClass") => (STORAGECLASS, storageclass),
        ("scheduling.k8s.io", "PriorityClass") => (PRIORITYCLASS, priorityclass),
        ("node.k8s.io", "RuntimeClass") => (RUNTIMECLASS, runtimeclass),
        ("discovery.k8s.io", "EndpointSlice") => (ENDPOINTSLICE, endpointslice),
        ("certificates.k8s.io", "CertificateSigningRequest") => (CSR, csr),
        ("", "ComponentStatus") => (COMPONENTSTATUS, componentstatus),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema") => (FLOWSCHEMA, flowschema),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration") => {
            (PRIORITYLEVEL, prioritylevel)
        }
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration")
        | ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            (WEBHOOKCONFIGURATION, webhookconfiguration)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => {
            (ADMISSIONPOLICY, admissionpolicy)
        }
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            (POLICYBINDING, policybinding)
        }
        _ => return None,
    })
}

/// An int-or-string field as upstream prints it (`N/A` when unset).
fn int_or_string(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(x) => x.clone(),
        _ => "N/A".into(),
    }
}

fn labels_string(v: &Value) -> String {
    let mut parts: Vec<String> = v
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    parts.sort();
    or_none(parts.join(","))
}

const CREATED: &[Col] = &[("Name", "string", 0), ("Created At", "date", 0)];
fn created(o: &Value) -> Vec<Value> {
    vec![name(o), text(st(o, &["metadata", "creationTimestamp"]))]
}

const PODTEMPLATE: &[Col] = &[
    ("Name", "string", 0),
    ("Containers", "string", 0),
    ("Images", "string", 0),
    ("Pod Labels", "string", 0),
];
fn podtemplate(o: &Value) -> Vec<Value> {
    let (containers, images) = containers_and_images(s(o, &["template", "spec"]));
    vec![
        name(o),
        text(containers),
        text(images),
        text(labels_string(s(o, &["template", "metadata", "labels"]))),
    ]
}

const RESOURCEQUOTA: &[Col] = &[
    ("Name", "string", 0),
    ("Age", "string", 0),
    ("Request", "string", 0),
    ("Limit", "string", 0),
];
fn resourcequota(o: &Value) -> Vec<Value> {
    let mut names: Vec<&String> = s(o, &["status", "hard"])
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    names.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for r in names {
        let hard = st(o, &["status", "hard", r.as_str()]);
        let used = match st(o, &["status", "used", r.as_str()]) {
            u if u.is_empty() => "0".to_string(),
            u => u,
        };
        let cell = format!("{r}: {used}/{hard}");
        if r.starts_with("limits") {
            limits.push(cell);
        } else {
            requests.push(cell);
        }
    }
    vec![
        name(o),
        age_cell(o),
        text(requests.join(", ")),
        text(limits.join(", ")),
    ]
}

const PV: &[Col] = &[
    ("Name", "string", 0),
    ("Capacity", "string", 0),
    ("Access Modes", "string", 0),
    ("Reclaim Policy", "string", 0),
    ("Status", "string", 0),
    ("Claim", "string", 0),
    ("StorageClass", "string", 0),
    ("VolumeAttributesClass", "string", 0),
    ("Reason", "string", 0),
    ("Age", "string", 0),
    ("VolumeMode", "string", 1),
];
fn pv(o: &Value) -> Vec<Value> {
    let claim = match s(o, &["spec", "claimRef"]) {
        Value::Object(_) => format!(
            "{}/{}",
            st(o, &["spec", "claimRef", "namespace"]),
            st(o, &["spec", "claimRef", "name"])
        ),
        _ => String::new(),
    };
    let status = if s(o, &["metadata", "deletionTimestamp"]).is_string() {
        "Terminating".to_string()
    } else {
        st(o, &["status", "phase"])
    };
    let class = storage_class(o);
    let vac = match st(o, &["spec", "volumeAttributesClassName"]) {
        c if c.is_empty() => "<unset>".to_string(),
        c => c,
    };
    let mode = match st(o, &["spec", "volumeMode"]) {
        m if m.is_empty() => "<unset>".to_string(),
        m => m,
    };
    vec![
        name(o),
        text(st(o, &["spec", "capacity", "storage"])),
        text(access_modes(s(o, &["spec", "accessModes"]))),
        text(st(o, &["spec", "persistentVolumeReclaimPolicy"])),
        text(status),
        text(claim),
        text(class),
        text(vac),
        text(st(o, &["status", "reason"])),
        age_cell(o),
        text(mode),
    ]
}

/// Access modes in upstream's short form and fixed order (RWO,ROX,RWX,RWOP).
pub(super) fn access_modes(v: &Value) -> String {
    let modes: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(long, _)| modes.contains(long))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

const CONTROLLERREVISION: &[Col] = &[
    ("Name", "string", 0),
    ("Controller", "string", 0),
    ("Revision", "string", 0),
    ("Age", "string", 0),
];
fn controllerrevision(o: &Value) -> Vec<Value> {
    let owner = s(o, &["metadata", "ownerReferences"])
        .as_array()
        .and_then(|refs| {
            refs.iter()
                .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        });
    let controller = match owner {
        None => "<none>".to_string(),
        Some(r) => {
            let api_version = st(r, &["apiVersion"]);
            let group = api_version
                .split_once('/')
                .map(|(g, _)| g)
                .unwrap_or_default();
            let kind = st(r, &["kind"]).to_lowercase();
            let gk = if group.is_empty() {
                kind
            } else {
                format!("{kind}.{group}")
            };
            format!("{gk}/{}", st(r, &["name"]))
        }
    };
    vec![
        name(o),
        text(controller),
        Value::from(int(o, &["revision"])),
        age_cell(o),
    ]
}

const HPA: &[Col] = &[
    ("Name", "string", 0),
    ("Reference", "string", 0),
    ("Targets", "string", 0),
    ("MinPods", "string", 0),
    ("MaxPods", "string", 0),
    ("Replicas", "string", 0),
    ("Age", "string", 0),
];
fn hpa(o: &Value) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        st(o, &["spec", "scaleTargetRef", "kind"]),
        st(o, &["spec", "scaleTargetRef", "name"])
    );
    let min = match s(o, &["spec", "minReplicas"]).as_i64() {
        Some(n) => n.to_string(),
        None => "<unset>".into(),
    };
    vec![
        name(o),
        text(reference),
        text(hpa_targets(o)),
        text(min),
        Value::from(int(o, &["spec", "maxReplicas"])),
        Value::from(int(o, &["status", "currentReplicas"])),
        age_cell(o),
    ]
}

/// `current/target` per metric (at most two, then `+ N more...`); resource metrics are
/// prefixed with the resource name, average-value targets of Object and External metrics
/// end in `(avg)`.
fn hpa_targets(o: &Value) -> String {
    let specs = s(o, &["spec", "metrics"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    if specs.is_empty() {
        return "<none>".into();
    }
    let statuses = s(o, &["status", "currentMetrics"])
        .as_array()
        .cloned()
        .unwrap_or_default();
    let unknown = || "<unknown>".to_string();
    let mut out = Vec::new();
    for (i, m) in specs.iter().enumerate() {
        let key = match st(m, &["type"]).as_str() {
            "Resource" => "resource",
            "ContainerResource" => "containerResource",
            "Pods" => "pods",
            "Object" => "object",
            "External" => "external",
            _ => {
                out.push("<unknown type>".to_string());
                continue;
            }
        };
        let target = s(m, &[key, "target"]);
        // The status at the same index, if it reports this source.
        let current = statuses
            .get(i)
            .map(|c| s(c, &[key]))
            .filter(|c| c.is_object());
        let cur = |field: &str| {
            current
                .map(|c| st(c, &["current", field]))
                .filter(|v| !v.is_empty())
        };
        let has_avg_value = target.get("averageValue").is_some_and(|v| !v.is_null());
        let cell = match key {
            "resource" | "containerResource" => {
                let res = st(m, &[key, "name"]);
                if has_avg_value {
                    let c = cur("averageValue").unwrap_or_else(unknown);
                    format!("{res}: {c}/{}", st(target, &["averageValue"]))
                } else {
                    let c = cur("averageUtilization")
                        .map(|u| format!("{u}%"))
                        .unwrap_or_else(unknown);
                    let t = match st(target, &["averageUtilization"]) {
                        u if u.is_empty() => "<auto>".to_string(),
                        u => format!("{u}%"),
                    };
                    format!("{res}: {c}/{t}")
                }
            }
            "pods" => {
                let c = cur("averageValue").unwrap_or_else(unknown);
                format!("{c}/{}", st(target, &["averageValue"]))
            }
            _ if has_avg_value => {
                let c = cur("averageValue").unwrap_or_else(unknown);
                format!("{c}/{} (avg)", st(target, &["averageValue"]))
            }
            _ => {
                let c = cur("value").unwrap_or_else(unknown);
                format!("{c}/{}", st(target, &["value"]))
            }
        };
        out.push(cell);
    }
    if out.len() > 2 {
        let more = out.len() - 2;
        out.truncate(2);
        format!("{} + {more} more...", out.join(", "))
    } else {
        out.join(", ")
    }
}

const INGRESSCLASS: &[Col] = &[
    ("Name", "string", 0),
    ("Controller", "string", 0),
    ("Parameters", "string", 0),
    ("Age", "string", 0),
];
fn ingressclass(o: &Value) -> Vec<Value> {
    let params = match s(o, &["spec", "parameters"]) {
        Value::Object(_) => {
            let mut p = st(o, &["spec", "parameters", "kind"]);
            if let Some(g) = s(o, &["spec", "parameters", "apiGroup"]).as_str() {
                p = format!("{p}.{g}");
            }
            format!("{p}/{}", st(o, &["spec", "parameters", "name"]))
        }
        _ => "<none>".into(),
    };
    vec![
        name(o),
        text(st(o, &["spec", "controller"])),
        text(params),
        age_cell(o),
    ]
}

const NETWORKPOLICY: &[Col] = &[
    ("Name", "string", 0),
    ("Pod-Selector", "string", 0),
    ("Age", "string", 0),
];
fn networkpolicy(o: &Value) -> Vec<Value> {
    let sel = match s(o, &["spec", "podSelector"]) {
        Value::Null => json!({}),
        v => v.clone(),
    };
    vec![name(o), text(selector_string(&sel)), age_cell(o)]
}

const PDB: &[Col] = &[
    ("Name", "string", 0),
    ("Min Available", "string", 0),
    ("Max Unavailable", "string", 0),
    ("Allowed Disruptions", "integer", 0),
    ("Age", "string", 0),
];
fn pdb(o: &Value) -> Vec<Value> {
    vec![
        name(o),
        text(int_or_string(s(o, &["spec", "minAvailable"]))),
        text(int_or_string(s(o, &["spec", "maxUnavailable"]))),
        Value::from(int(o, &["status", "disruptionsAllowed"])),
        age_cell(o),
    ]
}

const ROLEBINDING: &[Col] = &[
    ("Name", "string", 0),
    ("Role", "string", 0),
    ("Age", "string", 0),
    ("Users", "string", 1),
    ("Groups", "string", 1),
    ("ServiceAccounts", "string", 1),
];
fn rolebinding(o: &Value) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        st(o, &["roleRef", "kind"]),
        st(o, &["roleRef", "name"])
    );
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for subj in s(o, &["subjects"]).as_array().into_iter().flatten() {
        let n = st(subj, &["name"]);
        match st(subj, &["kind"]).as_str() {
            "User" => users.push(n),
            "Group" => groups.push(n),
            "ServiceAccount" => sas.push(format!("{}:{n}", st(subj, &["namespace"]))),
            _ => {}
        }
    }
    vec![
        name(o),
        text(role),
        age_cell(o),
        text(users.join(", ")),
        text(groups.join(", ")),
        text(sas.join(", ")),
    ]
}

const STORAGECLASS: &[Col] = &[
    ("Name", "string", 0),
    ("Provisioner", "string", 0),
    ("ReclaimPolicy", "string", 0),
    ("VolumeBindingMode", "string", 0),
    ("AllowVolumeExpansion", "string", 0),
    ("Age", "string", 0),
];
fn storageclass(o: &Value) -> Vec<Value> {
    let is_default = [
        "storageclass.kubernetes.io/is-default-class",
        "storageclass.beta.kubernetes.io/is-default-class",
    ]
    .iter()
    .any(|a| st(o, &["metadata", "annotations", *a]) == "true");
    let mut n = st(o, &["metadata", "name"]);
    if is_default {
        n.push_str(" (default)");
    }
    let or = |v: String, d: &str| if v.is_empty() { d.to_string() } else { v };
    vec![
        text(n),
        text(st(o, &["provisioner"])),
        text(or(st(o, &["reclaimPolicy"]), "Delete")),
        text(or(st(o, &["volumeBindingMode"]), "Immediate")),
        text(or(st(o, &["allowVolumeExpansion"]), "false")),
        age_cell(o),
    ]
}

const PRIORITYCLASS: &[Col] = &[
    ("Name", "string", 0),
    ("Value", "integer", 0),
    ("Global-Default", "boolean", 0),
    ("Age", "string", 0),
    ("PreemptionPolicy", "string", 0),
];
fn priorityclass(o: &Value) -> Vec<Value> {
    let policy = match st(o, &["preemptionPolicy"]) {
        p if p.is_empty() => "<unset>".to_string(),
        p => p,
    };
    vec![
        name(o),
        Value::from(int(o, &["value"])),
        Value::Bool(s(o, &["globalDefault"]).as_bool().unwrap_or(false)),
        age_cell(o),
        text(policy),
    ]
}

const FLOWSCHEMA: &[Col] = &[
    ("Name", "string", 0),
    ("PriorityLevel", "string", 0),
    ("MatchingPrecedence", "string", 0),
    ("DistinguisherMethod", "string", 0),
    ("Age", "string", 0),
    ("MissingPL", "string", 0),
];
fn flowschema(o: &Value) -> Vec<Value> {
    // MissingPL: the Dangling condition's status, `?` before the controller wrote it.
    let missing = s(o, &["status", "conditions"])
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Dangling"))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("?")
        .to_string();
    vec![
        name(o),
        text(st(o, &["spec", "priorityLevelConfiguration", "name"])),
        Value::from(int(o, &["spec", "matchingPrecedence"])),
        text(or_none(st(o, &["spec", "distinguisherMethod", "type"]))),
        age_cell(o),
        text(missing),
    ]
}

const PRIORITYLEVEL: &[Col] = &[
    ("Name", "string", 0),
    ("Type", "string", 0),
    ("NominalConcurrencyShares", "string", 0),
    ("Queues", "string", 0),
    ("HandSize", "string", 0),
    ("QueueLengthLimit", "string", 0),
    ("Age", "string", 0),
];
fn prioritylevel(o: &Value) -> Vec<Value> {
    // An exempt level (or a missing value) shows `<none>` in every number column.
    let number =
        |path: &[&str]| match s(o, &["spec", "limited"]).pointer(&format!("/{}", path.join("/"))) {
            Some(Value::Number(n)) => Value::Number(n.clone()),
            _ => text("<none>"),
        };
    let queuing = ["limitResponse", "queuing"];
    vec![
        name(o),
        text(st(o, &["spec", "type"])),
        number(&["nominalConcurrencyShares"]),
        number(&[queuing[0], queuing[1], "queues"]),
        number(&[queuing[0], queuing[1], "handSize"]),
        number(&[queuing[0], queuing[1], "queueLengthLimit"]),
        age_cell(o),
    ]
}

const RUNTIMECLASS: &[Col] = &[
    ("Name", "string", 0),
    ("Handler", "string", 0),
    ("Age", "string", 0),
];
fn runtimeclass(o: &Value) -> Vec<Value> {
    vec![name(o), text(st(o, &["handler"])), age_cell(o)]
}

const ENDPOINTSLICE: &[Col] = &[
    ("Name", "string", 0),
    ("AddressType", "string", 0),
    ("Ports", "string", 0),
    ("Endpoints", "string", 0),
    ("Age", "string", 0),
];
fn endpointslice(o: &Value) -> Vec<Value> {
    let ports: Vec<String> = s(o, &["ports"])
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| match p.get("port").and_then(Value::as_i64) {
            Some(n) => n.to_string(),
            None => "<unset>".into(),
        })
        .collect();
    let ports = if ports.is_empty() {
        "<unset>".to_string()
    } else {
        ports.join(",")
    };
    let addrs: Vec<&str> = s(o, &["endpoints"])
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| {
            e.get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(Value::as_str)
        .collect();
    let endpoints = match addrs.len() {
        0 => "<unset>".to_string(),
        n if n > 3 => format!("{} + {} more...", addrs[..3].join(","), n - 3),
        _ => addrs.join(","),
    };
    vec![
        name(o),
        text(st(o, &["addressType"])),
        text(ports),
        text(endpoints),
        age_cell(o),
    ]
}

const CSR: &[Col] = &[
    ("Name", "string", 0),
    ("Age", "string", 0),
    ("SignerName", "string", 0),
    ("Requestor", "string", 0),
    ("RequestedDuration", "string", 0),
    ("Condition", "string", 0),
];
fn csr(o: &Value) -> Vec<Value> {
    let duration = match s(o, &["spec", "expirationSeconds"]).as_i64() {
        Some(secs) => super::age::human_duration(secs),
        None => "<none>".to_string(),
    };
    // upstream: Denied, else Approved, else Pending; then Failed, then Issued.
    let has = |kind: &str| {
        s(o, &["status", "conditions"])
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c.get("type").and_then(Value::as_str) == Some(kind))
    };
    let mut condition = if has("Denied") {
        "Denied".to_string()
    } else if has("Approved") {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if has("Failed") {
        condition.push_str(",Failed");
    }
    if s(o, &["status", "certificate"])
        .as_str()
        .is_some_and(|c| !c.is_empty())
    {
        condition.push_str(",Issued");
    }
    let signer = match st(o, &["spec", "signerName"]) {
        n if n.is_empty() => "<none>".to_string(),
        n => n,
    };
    vec![
        name(o),
        age_cell(o),
        text(signer),
        text(st(o, &["spec", "username"])),
        text(duration),
        text(condition),
    ]
}

const COMPONENTSTATUS: &[Col] = &[
    ("Name", "string", 0),
    ("Status", "string", 0),
    ("Message", "string", 0),
    ("Error", "string", 0),
];
fn componentstatus(o: &Value) -> Vec<Value> {
    let healthy = s(o, &["conditions"])
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Healthy"));
    let field = |k: &str| {
        healthy
            .and_then(|c| c.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let status = match field("status").as_str() {
        "True" => "Healthy",
        "False" => "Unhealthy",
        _ => "Unknown",
    };
    vec![
        name(o),
        text(status),
        text(field("message")),
        text(field("error")),
    ]
}

const WEBHOOKCONFIGURATION: &[Col] = &[
    ("Name", "string", 0),
    ("Webhooks", "integer", 0),
    ("Age", "string", 0),
];
fn webhookconfiguration(o: &Value) -> Vec<Value> {
    let n = s(o, &["webhooks"]).as_array().map_or(0, Vec::len);
    vec![name(o), Value::from(n), age_cell(o)]
}

const ADMISSIONPOLICY: &[Col] = &[
    ("Name", "string", 0),
    ("Validations", "integer", 0),
    ("ParamKind", "string", 0),
    ("Age", "string", 0),
];
fn admissionpolicy(o: &Value) -> Vec<Value> {
    let n = s(o, &["spec", "validations"])
        .as_array()
        .map_or(0, Vec::len);
    let param_kind = match s(o, &["spec", "paramKind"]) {
        Value::Object(_) => format!(
            "{}/{}",
            st(o, &["spec", "paramKind", "apiVersion"]),
            st(o, &["spec", "paramKind", "kind"])
        ),
        _ => "<unset>".into(),
    };
    vec![name(o), Value::from(n), text(param_kind), age_cell(o)]
}

const POLICYBINDING: &[Col] = &[
    ("Name", "string", 0),
    ("PolicyName", "string", 0),
    ("ParamRef", "string", 0),
    ("Age", "string", 0),
];
fn policybinding(o: &Value) -> Vec<Value> {
    let r = s(o, &["spec", "paramRef"]);
    let param = if !r.is_object() {
        "<unset>".to_string()
    } else {
        let (pname, pns) = (st(r, &["name"]), st(r, &["namespace"]));
        match (pname.is_empty(), pns.is_empty()) {
            (false, false) => format!("{pns}/{pname}"),
            // Whether the param is cluster-scoped is not known here: `*` namespace.
            (false, true) => format!("*/{pname}"),
            _ => selector_string(s(r, &["selector"])),
        }
    };
    vec![
        name(o),
        text(st(o, &["spec", "policyName"])),
        text(param),
        age_cell(o),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn cells(group: &str, kind: &str, o: Value) -> Vec<Value> {
        let (cols, f) = for_kind(group, kind).expect("printed kind");
        let c = f(&o);
        assert_eq!(c.len(), cols.len(), "{kind}: one cell per column");
        c
    }

    #[test]
    fn pv_bound_with_claim() {
        let c = cells(
            "",
            "PersistentVolume",
            json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "5Gi"},
                "accessModes": ["ReadWriteMany", "ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
                "claimRef": {"namespace": "ns", "name": "data"}, "storageClassName": "fast"},
                "status": {"phase": "Bound"}}),
        );
        assert_eq!(c[1], "5Gi");
        assert_eq!(c[2], "RWO,RWX");
        assert_eq!(c[3], "Retain");
        assert_eq!(c[4], "Bound");
        assert_eq!(c[5], "ns/data");
        assert_eq!(c[6], "fast");
        assert_eq!(c[7], "<unset>");
        assert_eq!(c[10], "<unset>");
    }

    #[test]
    fn rolebinding_subjects_by_kind() {
        let c = cells(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "admin"},
                "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
                    {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}, {"kind": "User", "name": "bob"}]}),
        );
        assert_eq!(c[1], "ClusterRole/admin");
        assert_eq!(c[3], "alice, bob");
        assert_eq!(c[4], "devs");
        assert_eq!(c[5], "ci:bot");
    }

    #[test]
    fn resourcequota_requests_and_limits() {
        let c = cells(
            "",
            "ResourceQuota",
            json!({"metadata": {"name": "q"}, "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.memory": "1Gi"},
                "used": {"pods": "3"}}}),
        );
        assert_eq!(c[2], "pods: 3/10, requests.memory: 0/1Gi");
        assert_eq!(c[3], "limits.cpu: 0/2");
    }

    #[test]
    fn pdb_storageclass_priorityclass() {
        let c = cells(
            "policy",
            "PodDisruptionBudget",
            json!({"metadata": {"name": "p"}, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}}),
        );
        assert_eq!(c[1..4], [json!("50%"), json!("N/A"), json!(1)]);
        let c = cells(
            "storage.k8s.io",
            "StorageClass",
            json!({"metadata": {"name": "std", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                "provisioner": "x.io/p", "allowVolumeExpansion": true}),
        );
        assert_eq!(
            c[..5],
            [
                json!("std (default)"),
                json!("x.io/p"),
                json!("Delete"),
                json!("Immediate"),
                json!("true")
            ]
        );
        let c = cells(
            "scheduling.k8s.io",
            "PriorityClass",
            json!({"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"}),
        );
        assert_eq!(c[1..3], [json!(1000), json!(false)]);
        assert_eq!(c[4], "Never");
    }

    #[test]
    fn endpointslice_hpa_controllerrevision() {
        let c = cells(
            "discovery.k8s.io",
            "EndpointSlice",
            json!({"metadata": {"name": "e"}, "addressType": "IPv4", "ports": [{"port": 80}, {"name": "x"}],
                "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3"]}, {"addresses": ["10.0.0.4"]}]}),
        );
        assert_eq!(c[2], "80,<unset>");
        assert_eq!(c[3], "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...");
        let c = cells(
            "autoscaling",
            "HorizontalPodAutoscaler",
            json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                "maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}}),
        );
        assert_eq!(c[1], "Deployment/web");
        assert_eq!(c[2], "cpu: <unknown>/80%");
        assert_eq!(c[3], "<unset>");
        let c = cells(
            "apps",
            "ControllerRevision",
            json!({"metadata": {"name": "r", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "controller": true}]}, "revision": 3}),
        );
        assert_eq!(c[1..3], [json!("daemonset.apps/ds"), json!(3)]);
    }

    #[test]
    fn podtemplate_networkpolicy() {
        let c = cells(
            "",
            "PodTemplate",
            json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"b": "2", "a": "1"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}),
        );
        assert_eq!(c[1..4], [json!("c"), json!("nginx"), json!("a=1,b=2")]);
        let c = cells(
            "networking.k8s.io",
            "NetworkPolicy",
            json!({"metadata": {"name": "np"}, "spec": {"podSelector": {}}}),
        );
        assert_eq!(c[1], "<none>");
    }

    #[test]
    fn hpa_targets_like_upstream() {
        let o = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 5, "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}},
                {"type": "Object", "object": {"target": {"type": "AverageValue", "averageValue": "10"}}},
                {"type": "Pods", "pods": {"target": {"type": "AverageValue", "averageValue": "1k"}}}]},
            "status": {"currentReplicas": 3, "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42}}}]}});
        let c = cells("autoscaling", "HorizontalPodAutoscaler", o);
        assert_eq!(c[2], "cpu: 42%/80%, <unknown>/10 (avg) + 1 more...");
        assert_eq!(c[3..6], [json!("2"), json!(5), json!(3)]);
    }
}
