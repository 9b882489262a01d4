//! A new Service's cluster IP: allocated from `--service-cluster-ip-range` when not given,
//! checked when given, `None` for headless Services, none at all for ExternalName.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::{storage_call, RestApi, Target};
use crate::endpoints::status::{StatusCause, StatusError};
use crate::storage::kv::ListRequest;

impl RestApi {
    /// Sets `spec.clusterIP(s)` of a Service being created; returns the address it holds
    /// while the create is in flight (release it with `ServiceIps::done`).
    pub(crate) async fn assign_cluster_ip(
        &self,
        t: &Target<'_>,
        obj: &mut Map<String, Value>,
        services: &mut Services,
    ) -> Result<Option<Ipv4Addr>, StatusError> {
        let Some(ips) = &self.service_ips else {
            return Ok(None);
        };
        if !(t.res.group.is_empty() && t.res.kind == "Service") {
            return Ok(None);
        }
        let name = obj
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(None);
        };
        if spec.get("type").and_then(Value::as_str) == Some("ExternalName") {
            return Ok(None);
        }
        let given = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if given == "None" {
            spec.insert("clusterIPs".into(), json!(["None"]));
            return Ok(None);
        }
        let used = used_cluster_ips(self.services(t, services).await?);
        let invalid = |msg: String| {
            StatusError::invalid(
                "",
                "Service",
                &name,
                vec![StatusCause {
                    reason: Some("FieldValueInvalid".into()),
                    message: msg,
                    field: Some("spec.clusterIPs".into()),
                }],
            )
        };
        let ip = if given.is_empty() {
            ips.allocate(&used).ok_or_else(|| {
                invalid(
                    "Invalid value: []string(nil): failed to allocate a serviceIP: range is full"
                        .to_string(),
                )
            })?
        } else {
            let ip: Ipv4Addr = given.parse().map_err(|_| {
                invalid(format!(
                    "Invalid value: []string{{\"{given}\"}}: must be a valid IP address"
                ))
            })?;
            if !ips.range().contains(ip) {
                return Err(invalid(format!("Invalid value: []string{{\"{given}\"}}: failed to allocate IP {given}: the provided IP ({given}) is not in the valid range")));
            }
            if used.contains(&ip) {
                return Err(invalid(format!("Invalid value: []string{{\"{given}\"}}: failed to allocate IP {given}: provided IP is already allocated")));
            }
            spec.insert("clusterIPs".into(), json!([given]));
            return Ok(None);
        };
        spec.insert("clusterIP".into(), json!(ip.to_string()));
        spec.insert("clusterIPs".into(), json!([ip.to_string()]));
        Ok(Some(ip))
    }

    /// Every Service now, in all namespaces (from the replica, or the backend), listed at
    /// most once per write.
    pub(crate) async fn services<'s>(
        &self,
        t: &Target<'_>,
        services: &'s mut Services,
    ) -> Result<&'s [Value], StatusError> {
        if services.0.is_none() {
            services.0 = Some(self.list_services(t).await?);
        }
        Ok(services.0.as_deref().unwrap_or_default())
    }

    async fn list_services(&self, t: &Target<'_>) -> Result<Vec<Value>, StatusError> {
        let root = super::keys::collection_prefix(&self.prefix, &t.res.key_segment, None);
        let values: Vec<Bytes> = match self.cache_for(t) {
            Some((cache, _))
                if self
                    .cache_fresh(t, cache, super::cached::Freshness::Consistent)
                    .await? =>
            {
                let (objects, _) = cache.snapshot();
                objects
                    .range(Bytes::from(root.clone())..)
                    .take_while(|(k, _)| k.starts_with(root.as_bytes()))
                    .map(|(_, o)| o.json.clone())
                    .collect()
            }
            _ => storage_call(
                t.deadline,
                self.storage.list(ListRequest {
                    prefix: Bytes::from(root),
                    start_after: None,
                    limit: 0,
                    revision: 0,
                }),
            )
            .await?
            .items
            .into_iter()
            .map(|kv| kv.value)
            .collect(),
        };
        Ok(values
            .iter()
            .filter_map(|v| serde_json::from_slice::<Value>(v).ok())
            .collect())
    }
}

/// Every Service, listed lazily and at most once for one write: cluster IPs and node ports
/// both read it.
#[derive(Default)]
pub(crate) struct Services(Option<Vec<Value>>);

/// Every cluster IP a Service holds.
fn used_cluster_ips(services: &[Value]) -> HashSet<Ipv4Addr> {
    services
        .iter()
        .filter_map(|v| {
            v.get("spec")?
                .get("clusterIP")?
                .as_str()?
                .parse::<Ipv4Addr>()
                .ok()
        })
        .collect()
}
