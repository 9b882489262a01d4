//! Server-side printing, as kubectl asks for it: `meta.k8s.io` Table (the columns `kubectl get`
//! shows) and PartialObjectMetadata, chosen by the Accept header; `includeObject` says what
//! each row carries.

mod age;
mod allocation;
mod cluster;
mod columns;
mod storage;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{json, Map, Value};

use crate::api::status::{Reason, Status};

/// What a read returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The objects themselves.
    Json,
    /// A `Table` of `meta.k8s.io/<version>`.
    Table {
        /// `v1` or `v1beta1`.
        version: &'static str,
        /// What each row's `object` holds.
        include: Include,
    },
    /// `PartialObjectMetadata` (or `...List`) of `meta.k8s.io/<version>`.
    Metadata {
        /// `v1` or `v1beta1`.
        version: &'static str,
    },
}

/// `includeObject`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Include {
    /// No object in rows.
    None,
    /// PartialObjectMetadata in rows (the default).
    Metadata,
    /// The whole object in rows.
    Object,
}

/// Picks the output from the Accept header (first acceptable entry wins) and `includeObject`.
pub fn negotiate(accept: Option<&str>, include_object: Option<&str>) -> Result<Output, Status> {
    let include = match include_object {
        None | Some("") | Some("Metadata") => Include::Metadata,
        Some("None") => Include::None,
        Some("Object") => Include::Object,
        Some(other) => {
            return Err(Status::bad_request(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"Metadata\", \"None\", \"Object\""
            )))
        }
    };
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Output::Json);
    };
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let (mut as_, mut g, mut v) = ("", "", "");
        for p in parts {
            match p.split_once('=') {
                Some(("as", x)) => as_ = x,
                Some(("g", x)) => g = x,
                Some(("v", x)) => v = x,
                _ => {}
            }
        }
        if !matches!(media.as_str(), "application/json" | "*/*" | "application/*") {
            continue;
        }
        let version = match v {
            "v1" => "v1",
            "v1beta1" => "v1beta1",
            _ => "",
        };
        match (as_, g) {
            ("", _) => return Ok(Output::Json),
            ("Table", "meta.k8s.io") if !version.is_empty() => {
                return Ok(Output::Table { version, include })
            }
            ("PartialObjectMetadata" | "PartialObjectMetadataList", "meta.k8s.io")
                if !version.is_empty() =>
            {
                return Ok(Output::Metadata { version })
            }
            _ => {}
        }
    }
    Err(Status::new(
        Reason::NotAcceptable,
        "only the following media types are accepted: application/json, application/vnd.kubernetes.protobuf, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
    ))
}

fn partial(version: &str, obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// How one kind's Table rows are printed: its columns and the function that computes a row's
/// cells. Resolved once per resource (a row of the resource table holds its printer).
#[derive(Clone, Copy)]
pub struct Printer {
    columns: &'static [columns::Col],
    cells: columns::Cells,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.columns.iter().map(|c| c.0).collect();
        f.debug_struct("Printer").field("columns", &names).finish()
    }
}

impl Printer {
    /// upstream's printer for `kind` of `group` (the stored kind's: every version of a kind
    /// prints alike); kinds without one get Name and Created At.
    pub fn for_kind(group: &str, kind: &str) -> Self {
        let (columns, cells) = columns::for_kind(group, kind);
        Self { columns, cells }
    }

    /// The column definitions.
    pub fn column_definitions(&self) -> Value {
        column_definitions(self.columns)
    }
}

fn column_definitions(cols: &[columns::Col]) -> Value {
    Value::Array(
        cols.iter()
            .map(|(name, ty, priority)| {
                let mut c = json!({"name": name, "type": ty, "format": "", "description": name, "priority": priority});
                if *name == "Name" {
                    c["format"] = json!("name");
                }
                c
            })
            .collect(),
    )
}

/// One Table row for an object.
fn row(p: &Printer, version: &str, include: Include, obj: &Value) -> Value {
    let mut r = json!({"cells": (p.cells)(obj)});
    match include {
        Include::None => {}
        Include::Metadata => r["object"] = partial(version, obj),
        Include::Object => r["object"] = obj.clone(),
    }
    r
}

/// Renders a list of objects (JSON bytes) as the negotiated output.
pub fn render_list(
    out: Output,
    p: &Printer,
    list_meta: Map<String, Value>,
    items: impl Iterator<Item = Bytes>,
) -> Bytes {
    let parsed: Vec<Value> = items
        .filter_map(|b| serde_json::from_slice(&b).ok())
        .collect();
    let doc = match out {
        Output::Table { version, include } => json!({
            "kind": "Table",
            "apiVersion": format!("meta.k8s.io/{version}"),
            "metadata": list_meta,
            "columnDefinitions": p.column_definitions(),
            "rows": parsed.iter().map(|o| row(p, version, include, o)).collect::<Vec<_>>(),
        }),
        Output::Metadata { version } => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": format!("meta.k8s.io/{version}"),
            "metadata": list_meta,
            "items": parsed.iter().map(|o| partial(version, o)).collect::<Vec<_>>(),
        }),
        Output::Json => Value::Null,
    };
    Bytes::from(serde_json::to_vec(&doc).unwrap_or_default())
}

/// Renders one object (JSON bytes) as the negotiated output.
pub fn render_one(out: Output, p: &Printer, obj: &[u8]) -> Bytes {
    render_object(out, p, obj, true)
}

/// [`render_one`], with the Table's `columnDefinitions` only when `headers` (upstream sends
/// them on a watch's first event only, `null` after).
fn render_object(out: Output, p: &Printer, obj: &[u8], headers: bool) -> Bytes {
    if out == Output::Json {
        return Bytes::copy_from_slice(obj);
    }
    let Ok(v) = serde_json::from_slice::<Value>(obj) else {
        return Bytes::copy_from_slice(obj);
    };
    Bytes::from(serde_json::to_vec(&rendered(out, p, &v, headers)).unwrap_or_default())
}

/// The rendered form of a parsed object (`out` is not JSON).
fn rendered(out: Output, p: &Printer, v: &Value, headers: bool) -> Value {
    match out {
        Output::Table { version, include } => {
            let rv = v
                .get("metadata")
                .and_then(|m| m.get("resourceVersion"))
                .cloned()
                .unwrap_or(Value::Null);
            json!({
                "kind": "Table",
                "apiVersion": format!("meta.k8s.io/{version}"),
                "metadata": {"resourceVersion": rv},
                "columnDefinitions": if headers { p.column_definitions() } else { Value::Null },
                "rows": [row(p, version, include, v)],
            })
        }
        Output::Metadata { version } => partial(version, v),
        Output::Json => v.clone(),
    }
}

/// A watch line whose object is rendered as the negotiated output; `first` is true for the
/// stream's first event, the only one whose Table carries `columnDefinitions`. The line is
/// parsed once and encoded once.
pub fn render_watch_line(out: Output, p: &Printer, line: &[u8], first: bool) -> Bytes {
    let Ok(mut ev) = serde_json::from_slice::<Value>(line) else {
        return Bytes::copy_from_slice(line);
    };
    let is_object = matches!(
        ev.get("type").and_then(Value::as_str),
        Some("ADDED" | "MODIFIED" | "DELETED")
    );
    if is_object {
        if let Some(obj) = ev.get("object") {
            let r = rendered(out, p, obj, first);
            ev["object"] = r;
        }
    }
    let mut b = BytesMut::from(serde_json::to_vec(&ev).unwrap_or_default().as_slice());
    b.put_u8(b'\n');
    b.freeze()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const KUBECTL: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

    #[test]
    fn watch_tables_carry_columns_on_the_first_event_only() {
        let out = negotiate(Some(KUBECTL), None).unwrap();
        let cm = Printer::for_kind("", "ConfigMap");
        let line = br#"{"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"a","resourceVersion":"5"},"data":{"k":"v"}}}"#;
        let first: Value =
            serde_json::from_slice(&render_watch_line(out, &cm, line, true)).unwrap();
        let later: Value =
            serde_json::from_slice(&render_watch_line(out, &cm, line, false)).unwrap();
        assert_eq!(first["object"]["kind"], "Table");
        assert_eq!(first["object"]["columnDefinitions"][1]["name"], "Data");
        assert!(later["object"]
            .as_object()
            .unwrap()
            .get("columnDefinitions")
            .unwrap()
            .is_null());
        assert_eq!(later["object"]["rows"][0]["cells"][0], "a");
        assert_eq!(later["object"]["rows"][0]["cells"][1], 1);
    }

    #[test]
    fn negotiation() {
        assert_eq!(
            negotiate(Some(KUBECTL), None).unwrap(),
            Output::Table {
                version: "v1",
                include: Include::Metadata
            }
        );
        assert_eq!(negotiate(None, None).unwrap(), Output::Json);
        assert_eq!(
            negotiate(
                Some("application/vnd.kubernetes.protobuf,application/json"),
                None
            )
            .unwrap(),
            Output::Json
        );
        assert_eq!(
            negotiate(
                Some("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"),
                None
            )
            .unwrap(),
            Output::Metadata { version: "v1" }
        );
        assert_eq!(
            negotiate(Some("application/json;as=Table;v=v9;g=meta.k8s.io"), None)
                .unwrap_err()
                .code,
            406
        );
        assert_eq!(
            negotiate(Some(KUBECTL), Some("Bogus")).unwrap_err().code,
            400
        );
    }

    #[test]
    fn pod_and_deployment_rows() {
        let pod = json!({"metadata": {"name": "p", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"},
            "status": {"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [
                {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": false, "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let (_, cells) = columns::for_kind("", "Pod");
        let c = cells(&pod);
        assert_eq!(c[0], "p");
        assert_eq!(c[1], "1/2");
        assert_eq!(c[2], "CrashLoopBackOff");
        assert_eq!(c[3], "3");
        assert_eq!(c[5], "10.0.0.5");
        assert_eq!(c[6], "n1");
        let dep = json!({"metadata": {"name": "d"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let (cols, cells) = columns::for_kind("apps", "Deployment");
        assert_eq!(
            cols.iter().map(|c| c.0).collect::<Vec<_>>(),
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let c = cells(&dep);
        assert_eq!(c[1], "2/3");
        assert_eq!(c[7], "app=web");
        let svc = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.10",
            "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]}});
        let hpa = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}});
        let (_, cells) = columns::for_kind("autoscaling", "HorizontalPodAutoscaler");
        let c = cells(&hpa);
        assert_eq!(
            &c[1..6],
            &[
                json!("Deployment/web"),
                json!("cpu: <unknown>/50%"),
                json!("1"),
                json!(3),
                json!(0)
            ]
        );
        let (_, cells) = columns::for_kind("", "Service");
        let c = cells(&svc);
        assert_eq!(c[3], "<none>");
        assert_eq!(c[4], "80:30080/TCP,53/UDP");
    }
}
