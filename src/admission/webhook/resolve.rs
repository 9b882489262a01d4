//! Where a webhook's `clientConfig.service` is reached, as kube-apiserver resolves it: the
//! Service's cluster IP and port (upstream's default resolver), or with
//! `--enable-aggregator-routing` one ready address of its Endpoints at the target port.
//! TLS still verifies the Service's DNS name, `<name>.<namespace>.svc`.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use serde_json::Value;

use super::source::HookSource;
use crate::api::resources::lookup;
use crate::api::status::Status;
use crate::registry::kinds::ObjectReads;

/// The address to dial for Service `namespace/name` port `port`; Err is why there is none
/// (worded as upstream's resolvers word it).
pub async fn service_address(
    source: &HookSource,
    reads: &dyn ObjectReads,
    (namespace, name, port): (&str, &str, u16),
    endpoint_routing: bool,
    deadline: Instant,
) -> Result<SocketAddr, String> {
    let services = lookup("", "v1", "services").ok_or("no services resource")?;
    let svc = source
        .replica
        .object(reads, services, Some(namespace), name, deadline)
        .await
        .map_err(|e: Status| e.message)?
        .ok_or_else(|| format!("service \"{name}\" not found"))?;
    let spec = svc.get("spec").unwrap_or(&Value::Null);
    let svc_type = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    let svc_port = spec
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| p.get("port").and_then(Value::as_u64) == Some(u64::from(port)))
        .ok_or_else(|| format!("no service port {port} found for service {name:?}"))?;
    if !matches!(svc_type, "ClusterIP" | "LoadBalancer" | "NodePort") {
        return Err(format!("unsupported service type {svc_type:?}"));
    }
    if !endpoint_routing {
        let ip = spec.get("clusterIP").and_then(Value::as_str).unwrap_or("");
        if ip == "None" {
            return Err("cannot route to service with ClusterIP \"None\"".into());
        }
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| format!("service {name:?} has no cluster IP"))?;
        return Ok(SocketAddr::new(ip, port));
    }
    let endpoints = lookup("", "v1", "endpoints").ok_or("no endpoints resource")?;
    let eps = source
        .replica
        .object(reads, endpoints, Some(namespace), name, deadline)
        .await
        .map_err(|e: Status| e.message)?
        .ok_or_else(|| format!("endpoints \"{name}\" not found"))?;
    let port_name = svc_port.get("name").and_then(Value::as_str).unwrap_or("");
    for subset in eps
        .get("subsets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(p) = subset
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p.get("name").and_then(Value::as_str).unwrap_or("") == port_name)
        else {
            continue;
        };
        let addresses: Vec<IpAddr> = subset
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| a.get("ip").and_then(Value::as_str)?.parse().ok())
            .collect();
        let target = p
            .get("port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok());
        if let (false, Some(target)) = (addresses.is_empty(), target) {
            let pick = addresses[fastrand::usize(..addresses.len())];
            return Ok(SocketAddr::new(pick, target));
        }
    }
    Err(format!("service {namespace}/{name} has no endpoints"))
}
