//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), as kubectl 1.32+
//! and client-go's typed clients send them, turned into the JSON object the rest of the server
//! works on.
//!
//! A body is the magic `k8s\0` and a `runtime.Unknown` envelope: the apiVersion and kind, and
//! the object's own protobuf encoding. The fields of every message come from a table generated
//! from the k8s-pb and k8s-openapi crates (`tools/gen-proto-schema.py`).

mod decode;
mod schema;

use serde_json::{Map, Value};

pub use decode::DecodeError;

/// The media type.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";

/// The message that holds objects of `apiVersion`/`kind`, by the k8s-pb naming
/// (`api.<group's first label or core>.<version>.<Kind>`).
fn message_name(api_version: &str, kind: &str) -> String {
    if kind == "DeleteOptions" {
        return "apimachinery.pkg.apis.meta.v1.DeleteOptions".into();
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
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
}
