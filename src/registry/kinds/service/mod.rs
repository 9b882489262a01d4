//! Services: upstream's defaults (type, session affinity, IP families, target ports) and
//! validation (type, ports), and what a Service needs before it is stored: a cluster IP from
//! `--service-cluster-ip-range` on create and node ports from `--service-node-port-range`
//! for NodePort and LoadBalancer Services. Each shard hands out addresses and ports from its
//! own stripe of the ranges (`allocator`), checked against every stored Service.

pub mod allocator;
mod claims;
mod cluster_ip;
mod node_ports;

use std::rc::Rc;

use serde_json::{json, Map, Value};

use self::allocator::ServiceIps;
use self::cluster_ip::{assign_cluster_ip, Services};
use self::node_ports::assign_node_ports;
use super::fields::{default, missing};
use super::{Defaulter, Held, HookCtx, HookFuture, KindHooks, Object};
use crate::api::status::Status;
use crate::api::validation::FieldError;

/// The hooks of `v1` Services on one shard; without allocators (`ips` None) Services are
/// stored as given.
#[derive(Debug, Default)]
pub struct ServiceHooks {
    ips: Option<Rc<ServiceIps>>,
}

impl ServiceHooks {
    /// The hooks allocating from `ips`, this shard's allocator.
    pub fn new(ips: Option<ServiceIps>) -> Self {
        Self {
            ips: ips.map(Rc::new),
        }
    }
}

/// What a Service write holds until it is stored: its new cluster IP and node ports.
struct HeldAddresses {
    ips: Rc<ServiceIps>,
    cluster_ip: Option<std::net::Ipv4Addr>,
    _ports: node_ports::HeldPorts,
}

impl Drop for HeldAddresses {
    fn drop(&mut self) {
        if let Some(ip) = self.cluster_ip {
            self.ips.done(ip);
        }
    }
}

impl KindHooks for ServiceHooks {
    fn defaulter(&self) -> Option<Defaulter> {
        Some(service_object_defaults)
    }

    fn validate(&self, obj: &Object) -> Vec<FieldError> {
        let mut errs = Vec::new();
        validate_spec(obj.get("spec"), &mut errs);
        errs
    }

    fn allocate<'a>(
        &'a self,
        ctx: HookCtx<'a>,
        obj: &'a mut Object,
        old: Option<&'a Object>,
    ) -> HookFuture<'a, Result<Held, Status>> {
        Box::pin(async move {
            let Some(ips) = &self.ips else {
                return Ok(Held::none());
            };
            let mut services = Services::default();
            let ports = assign_node_ports(ips, ctx, obj, old, &mut services).await?;
            let cluster_ip = match old {
                None => assign_cluster_ip(ips, ctx, obj, &mut services).await?,
                Some(_) => None,
            };
            Ok(Held::new(HeldAddresses {
                ips: Rc::clone(ips),
                cluster_ip,
                _ports: ports,
            }))
        })
    }
}

/// upstream's defaults of Services.
pub fn service_object_defaults(o: &mut Object) {
    service_defaults(super::fields::obj(o, "spec"));
}

fn service_defaults(spec: &mut Map<String, Value>) {
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

fn validate_spec(spec: Option<&Value>, errs: &mut Vec<FieldError>) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::registry::kinds::object;

    #[test]
    fn defaults_and_validation_as_upstream() {
        let mut s = object(
            json!({"spec": {"type": "NodePort", "sessionAffinity": "ClientIP",
            "ports": [{"port": 80}]}}),
        );
        ServiceHooks::default().defaults(&mut s);
        let spec = &s["spec"];
        assert_eq!(
            spec["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(spec["externalTrafficPolicy"], "Cluster");
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert_eq!(
            spec["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"],
            10800
        );
        let errs = |v: Value| -> Vec<String> {
            ServiceHooks::default()
                .validate(&object(v))
                .into_iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect()
        };
        assert_eq!(errs(json!({"spec": {}})), ["spec.ports: Required value"]);
        assert!(errs(json!({"spec": {"clusterIP": "None"}})).is_empty());
        assert_eq!(
            errs(json!({"spec": {"type": "Bogus", "ports": [{"port": 0}]}})),
            [
                "spec.type: Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"
            ]
        );
    }
}
