//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl 1.32+
//! and client-go's typed clients send them, turned into the JSON object the rest of the server
//! works on.
//!
//! A body is the magic `k8s\0` and a `runtime.Unknown` envelope: the apiVersion and kind, and
//! the object's own protobuf encoding. The fields of every message come from a table generated
//! from the k8s-pb and k8s-openapi crates (`tools/gen-proto-schema.py`).

mod decode;
mod encode;
mod schema;

use serde_json::{Map, Value};

pub use decode::DecodeError;

/// The media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";

/// The message that holds objects of `apiVersion`/`kind`, by the k8s-pb naming
/// (`api.<group's first label or core>.<version>.<Kind>`).
fn message_name(api_version: &str, kind: &str) -> String {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    // meta.k8s.io kinds, and the ones every group version shares.
    if group == "meta.k8s.io"
        || matches!(
            kind,
            "DeleteOptions" | "Status" | "WatchEvent" | "APIResourceList"
        )
    {
        return format!("apimachinery.pkg.apis.meta.{version}.{kind}");
    }
    let package = if group.is_empty() {
        "core"
    } else {
        group.split('.').next().unwrap_or(group)
    };
    format!("api.{package}.{version}.{kind}")
}

/// Decodes a protobuf body into the JSON object it encodes (with `apiVersion` and `kind`).
pub fn to_json(body: &[u8]) -> Result<Value, DecodeError> {
    let Some(envelope) = body.strip_prefix(MAGIC) else {
        return Err(DecodeError(
            "the body is not Kubernetes protobuf (no k8s magic prefix)".into(),
        ));
    };
    let unknown = decode::message("apimachinery.pkg.runtime.Unknown", envelope, 0)?;
    let type_meta = unknown.get("typeMeta");
    let api_version = type_meta
        .and_then(|t| t.get("apiVersion"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = type_meta
        .and_then(|t| t.get("kind"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if kind.is_empty() {
        return Err(DecodeError("the envelope names no kind".into()));
    }
    let name = message_name(api_version, kind);
    if !decode::known(&name) {
        return Err(DecodeError(format!(
            "no protobuf message is known for {api_version}, Kind={kind}"
        )));
    }
    let raw = unknown
        .get("raw")
        .and_then(Value::as_str)
        .map(|b64| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b64)
        })
        .transpose()
        .map_err(|_| DecodeError("envelope raw bytes".into()))?
        .unwrap_or_default();
    let obj = decode::message(&name, &raw, 0)?;
    let mut out = Map::new();
    if !api_version.is_empty() {
        out.insert("apiVersion".into(), Value::String(api_version.to_string()));
    }
    out.insert("kind".into(), Value::String(kind.to_string()));
    if let Value::Object(fields) = obj {
        out.extend(fields);
    }
    Ok(Value::Object(out))
}

/// Whether an Accept header asks for protobuf and takes no JSON: then answers are encoded as
/// protobuf (a client that takes both gets JSON, which every reader of the API can read).
pub fn accepts_only_protobuf(accept: Option<&str>) -> bool {
    let clauses = crate::api::media::parse_accept(accept.unwrap_or(""));
    let taken = clauses.iter().filter(|c| c.q > 0.0);
    let mut protobuf = false;
    for c in taken {
        if c.covers("json") {
            return false;
        }
        protobuf |= c.ty == "application"
            && c.sub.eq_ignore_ascii_case("vnd.kubernetes.protobuf")
            && c.param("as").is_none();
    }
    protobuf
}

/// The media type of a protobuf watch stream.
pub const STREAM_MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf;stream=watch";

/// Encodes a JSON object (with `apiVersion` and `kind`) as a protobuf body: the magic and a
/// `runtime.Unknown` envelope around the object's message.
pub fn from_json(obj: &Value) -> Result<Vec<u8>, DecodeError> {
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = message_name(api_version, kind);
    if kind.is_empty() || !decode::known(&name) {
        return Err(DecodeError(format!(
            "no protobuf message is known for {api_version}, Kind={kind}"
        )));
    }
    let raw = encode::message(&name, obj, 0)?;
    let mut out = MAGIC.to_vec();
    out.extend(encode::unknown(api_version, kind, &raw));
    Ok(out)
}

/// A list (`<kind>List` of `api_version`) as the protobuf body upstream sends, in pieces so it
/// can be written as it is made: each item is encoded on its own (the caller parses them one
/// at a time), so the peak is one item's parse, not the whole list's. `meta` is the list's
/// `metadata`. The pieces concatenated are the whole body.
pub fn list_pieces(
    api_version: &str,
    kind: &str,
    meta: &Value,
    items: impl Iterator<Item = Value>,
) -> Result<Vec<Vec<u8>>, DecodeError> {
    let item_name = message_name(api_version, kind);
    let list_kind = format!("{kind}List");
    let list_name = message_name(api_version, &list_kind);
    if !decode::known(&item_name) || !decode::known(&list_name) {
        return Err(DecodeError(format!(
            "no protobuf message is known for {api_version}, Kind={list_kind}"
        )));
    }
    let mut pieces = Vec::new();
    let meta_msg = encode::message("apimachinery.pkg.apis.meta.v1.ListMeta", meta, 1)?;
    let mut head = Vec::new();
    encode::bytes_field(&mut head, 1, &meta_msg);
    let mut raw_len = head.len();
    pieces.push(head);
    for v in items {
        let mut item = Vec::new();
        encode::bytes_field(&mut item, 2, &encode::message(&item_name, &v, 1)?);
        raw_len += item.len();
        pieces.push(item);
    }
    // The envelope's fields around the list message (`raw`), written before and after it.
    let mut type_meta = Vec::new();
    encode::bytes_field(&mut type_meta, 1, api_version.as_bytes());
    encode::bytes_field(&mut type_meta, 2, list_kind.as_bytes());
    let mut prefix = MAGIC.to_vec();
    encode::bytes_field(&mut prefix, 1, &type_meta);
    encode::length_prefix(&mut prefix, 2, raw_len);
    let mut suffix = Vec::new();
    encode::bytes_field(&mut suffix, 3, b"");
    encode::bytes_field(&mut suffix, 4, b"");
    pieces.insert(0, prefix);
    pieces.push(suffix);
    Ok(pieces)
}

/// One watch event (a JSON watch line, `{"type":..,"object":..}`) as upstream's protobuf
/// watch streams frame it: a 4-byte big-endian length, then a `metav1.WatchEvent` without
/// envelope whose object is the full protobuf encoding of the object.
pub fn watch_frame(line: &Value) -> Result<Vec<u8>, DecodeError> {
    let ty = line.get("type").and_then(Value::as_str).unwrap_or("");
    let object = from_json(line.get("object").unwrap_or(&Value::Null))?;
    let event = serde_json::json!({"type": ty});
    let mut body = encode::message("apimachinery.pkg.apis.meta.v1.WatchEvent", &event, 0)?;
    // object: a RawExtension whose raw bytes are the encoded object (not embedded JSON).
    let mut raw_ext = Vec::new();
    encode::bytes_field(&mut raw_ext, 1, &object);
    encode::bytes_field(&mut body, 2, &raw_ext);
    let len = u32::try_from(body.len()).map_err(|_| DecodeError("event too large".into()))?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend(body);
    Ok(out)
}

#[cfg(test)]
mod list_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_list_in_pieces_is_the_whole_list_encoded() {
        let items = [
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "a", "resourceVersion": "3"}, "data": {"k": "v"}}),
            json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "b", "resourceVersion": "4"}}),
        ];
        let whole = json!({"kind": "ConfigMapList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "9", "continue": "c"}, "items": items});
        let pieces = list_pieces(
            "v1",
            "ConfigMap",
            &json!({"resourceVersion": "9", "continue": "c"}),
            items.iter().cloned(),
        )
        .unwrap();
        assert_eq!(pieces.concat(), from_json(&whole).unwrap());
        assert_eq!(pieces.len(), 2 + 1 + items.len());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use k8s_pb::api::apps::v1 as apps;
    use k8s_pb::api::core::v1 as core;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
    use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
    use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
    use prost::Message;
    use serde_json::json;

    fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
        let u = Unknown {
            type_meta: Some(TypeMeta {
                api_version: Some(api_version.into()),
                kind: Some(kind.into()),
            }),
            raw: Some(raw),
            content_encoding: Some(String::new()),
            content_type: Some(String::new()),
        };
        let mut out = MAGIC.to_vec();
        out.extend(u.encode_to_vec());
        out
    }

    fn meta(name: &str) -> Option<meta::ObjectMeta> {
        Some(meta::ObjectMeta {
            name: Some(name.into()),
            namespace: Some(String::new()),
            creation_timestamp: Some(meta::Time {
                seconds: Some(0),
                nanos: Some(0),
            }),
            ..Default::default()
        })
    }

    #[test]
    fn a_configmap_with_data_and_binary_data() {
        let cm = core::ConfigMap {
            metadata: meta("c"),
            data: [("k".to_string(), "v".to_string())].into(),
            binary_data: [("b".to_string(), vec![0u8, 1, 2])].into(),
            immutable: None,
        };
        let got = to_json(&envelope("v1", "ConfigMap", cm.encode_to_vec())).unwrap();
        assert_eq!(
            got,
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "c", "creationTimestamp": null},
                   "data": {"k": "v"}, "binaryData": {"b": "AAEC"}})
        );
    }

    #[test]
    fn a_deployment_and_a_service_with_int_or_string_and_zero_replicas() {
        let d = apps::Deployment {
            metadata: meta("d"),
            spec: Some(apps::DeploymentSpec {
                replicas: Some(0),
                template: Some(core::PodTemplateSpec {
                    metadata: meta(""),
                    spec: Some(core::PodSpec {
                        containers: vec![core::Container {
                            name: Some("c".into()),
                            image: Some("nginx".into()),
                            ports: vec![core::ContainerPort {
                                container_port: Some(80),
                                protocol: Some("TCP".into()),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        };
        let got = to_json(&envelope("apps/v1", "Deployment", d.encode_to_vec())).unwrap();
        assert_eq!(got["spec"]["replicas"], 0, "an explicit 0 is kept");
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"],
            json!([{"name": "c", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}]}])
        );
        let s = core::Service {
            metadata: meta("s"),
            spec: Some(core::ServiceSpec {
                ports: vec![core::ServicePort {
                    port: Some(80),
                    target_port: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(8080),
                        str_val: Some(String::new()),
                    }),
                    ..Default::default()
                }],
                cluster_ip: Some("10.0.0.1".into()),
                ..Default::default()
            }),
            status: None,
        };
        let got = to_json(&envelope("v1", "Service", s.encode_to_vec())).unwrap();
        assert_eq!(
            got["spec"]["ports"],
            json!([{"port": 80, "targetPort": 8080}])
        );
        assert_eq!(got["spec"]["clusterIP"], "10.0.0.1");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(to_json(b"not protobuf").is_err());
        assert!(to_json(b"k8s\0\xff\xff\xff").is_err());
        let mut truncated = envelope("v1", "ConfigMap", vec![0x0a, 0x50, 0x01]);
        truncated.truncate(truncated.len() - 1);
        assert!(to_json(&truncated).is_err());
        assert!(to_json(&envelope("v1", "NoSuchKind", Vec::new())).is_err());
    }

    #[test]
    fn encoding_round_trips_through_prost_and_back() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "default", "resourceVersion": "42",
                "creationTimestamp": "2026-11-22T10:00:00Z", "labels": {"b": "2", "a": "1"}},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"a": "1"}},
                "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                "template": {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [
                    {"name": "c", "image": "nginx", "args": ["-x", "-y"],
                     "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                     "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}});
        let bytes = from_json(&obj).unwrap();
        assert!(bytes.starts_with(MAGIC));
        let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(&bytes[4..]).unwrap();
        assert_eq!(
            unknown.type_meta.as_ref().unwrap().kind.as_deref(),
            Some("Deployment")
        );
        let d = apps::Deployment::decode(unknown.raw.as_deref().unwrap()).unwrap();
        let meta = d.metadata.as_ref().unwrap();
        assert_eq!(meta.resource_version.as_deref(), Some("42"));
        assert_eq!(
            meta.creation_timestamp.as_ref().unwrap().seconds,
            Some(1_795_341_600)
        );
        let spec = d.spec.as_ref().unwrap();
        assert_eq!(spec.replicas, Some(0));
        let ru = spec
            .strategy
            .as_ref()
            .unwrap()
            .rolling_update
            .as_ref()
            .unwrap();
        assert_eq!(
            ru.max_surge.as_ref().unwrap().str_val.as_deref(),
            Some("25%")
        );
        assert_eq!(ru.max_unavailable.as_ref().unwrap().int_val, Some(1));
        let c = &spec
            .template
            .as_ref()
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .containers[0];
        assert_eq!(c.args, ["-x", "-y"]);
        assert_eq!(
            c.resources.as_ref().unwrap().limits["cpu"]
                .string
                .as_deref(),
            Some("500m")
        );
        assert_eq!(to_json(&bytes).unwrap(), obj);
    }

    #[test]
    fn protobuf_only_when_json_is_not_taken() {
        assert!(accepts_only_protobuf(Some(
            "application/vnd.kubernetes.protobuf"
        )));
        assert!(accepts_only_protobuf(Some(
            "application/vnd.kubernetes.protobuf, application/json;q=0"
        )));
        assert!(!accepts_only_protobuf(Some(
            "application/vnd.kubernetes.protobuf,application/json"
        )));
        assert!(!accepts_only_protobuf(Some(
            "application/vnd.kubernetes.protobuf, */*"
        )));
        assert!(!accepts_only_protobuf(Some(
            "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io"
        )));
        assert!(!accepts_only_protobuf(None));
    }

    #[test]
    fn status_and_lists_and_watch_frames() {
        let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": "configmaps \"x\" not found", "reason": "NotFound",
            "details": {"name": "x", "kind": "configmaps"}, "code": 404});
        let bytes = from_json(&status).unwrap();
        let u = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(&bytes[4..]).unwrap();
        let s = meta::Status::decode(u.raw.as_deref().unwrap()).unwrap();
        assert_eq!((s.code, s.reason.as_deref()), (Some(404), Some("NotFound")));

        let list = json!({"kind": "ConfigMapList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "7"},
            "items": [{"metadata": {"name": "a"}, "data": {"k": "v"}}]});
        let bytes = from_json(&list).unwrap();
        let u = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(&bytes[4..]).unwrap();
        let l = core::ConfigMapList::decode(u.raw.as_deref().unwrap()).unwrap();
        assert_eq!(l.items[0].data["k"], "v");

        let frame = watch_frame(&json!({"type": "ADDED", "object":
            {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "a"}}}))
        .unwrap();
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        let ev = meta::WatchEvent::decode(&frame[4..]).unwrap();
        assert_eq!(ev.r#type.as_deref(), Some("ADDED"));
        let inner = ev.object.unwrap().raw.unwrap();
        assert_eq!(to_json(&inner).unwrap()["metadata"]["name"], "a");
        assert!(from_json(&json!({"kind": "Nope", "apiVersion": "v1"})).is_err());
    }
}
