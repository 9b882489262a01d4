//! A new Service's cluster IP: allocated from `--service-cluster-ip-range` when not given,
//! checked when given, `None` for headless Services, none at all for ExternalName.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde_json::{json, Value};

use super::allocator::ServiceIps;
use super::claims::{self, Claimed, Owner};
use crate::api::meta::Meta;
use crate::api::resources::lookup;
use crate::api::status::{Status, StatusCause};
use crate::registry::kinds::{HookCtx, Object};

/// Sets `spec.clusterIP(s)` of a Service being created; returns the address it holds while
/// the create is in flight (release it with `ServiceIps::done`).
pub(super) async fn assign_cluster_ip(
    ips: &ServiceIps,
    ctx: HookCtx<'_>,
    obj: &mut Object,
    services: &mut Services,
) -> Result<Option<Ipv4Addr>, Status> {
    let name = Meta::of(obj).name().unwrap_or_default().to_string();
    let namespace = Meta::of(obj).namespace().unwrap_or_default().to_string();
    let owner = Owner {
        namespace: &namespace,
        name: &name,
    };
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(None);
    };
    if spec.get("type").and_then(Value::as_str) == Some("ExternalName") {
        return Ok(None);
    }
    let given = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if given == "None" {
        spec.insert("clusterIPs".into(), json!(["None"]));
        return Ok(None);
    }
    let held = used_cluster_ips(services.get(ctx).await?);
    let invalid = |msg: String| {
        Status::invalid(
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
    let full = || {
        invalid(
            "Invalid value: []string(nil): failed to allocate a serviceIP: range is full"
                .to_string(),
        )
    };
    let ip = if given.is_empty() {
        let mut used = held;
        used.extend(young_claims(ctx).await?);
        let mut attempts = 0;
        loop {
            let ip = ips.allocate(&used).ok_or_else(full)?;
            if claims::claim(ctx, Claimed::Ip(ip), owner).await? {
                break ip;
            }
            // Another server claimed it first.
            ips.done(ip);
            used.insert(ip);
            attempts += 1;
            if attempts >= claims::MAX_ATTEMPTS || std::time::Instant::now() >= ctx.deadline {
                return Err(full());
            }
        }
    } else {
        let ip: Ipv4Addr = given.parse().map_err(|_| {
            invalid(format!(
                "Invalid value: []string{{\"{given}\"}}: must be a valid IP address"
            ))
        })?;
        if !ips.range().contains(ip) {
            return Err(invalid(format!("Invalid value: []string{{\"{given}\"}}: failed to allocate IP {given}: the provided IP ({given}) is not in the valid range")));
        }
        let taken = || {
            invalid(format!("Invalid value: []string{{\"{given}\"}}: failed to allocate IP {given}: provided IP is already allocated"))
        };
        if held.contains(&ip) {
            return Err(taken());
        }
        if !claims::claim(ctx, Claimed::Ip(ip), owner).await? {
            return Err(taken());
        }
        spec.insert("clusterIPs".into(), json!([given]));
        return Ok(None);
    };
    spec.insert("clusterIP".into(), json!(ip.to_string()));
    spec.insert("clusterIPs".into(), json!([ip.to_string()]));
    Ok(Some(ip))
}

/// Addresses claimed by a create that may still be running (a young claim no Service holds
/// yet): not free either. An old claim no Service holds (its Service was deleted or changed)
/// is free: claiming it takes it over.
async fn young_claims(ctx: HookCtx<'_>) -> Result<Vec<Ipv4Addr>, Status> {
    let Some(ips_row) = lookup("networking.k8s.io", "v1", "ipaddresses") else {
        return Ok(Vec::new());
    };
    Ok(ctx
        .reads
        .list_all(ips_row, ctx.deadline)
        .await?
        .iter()
        .filter(|ip| {
            ip.as_object()
                .is_some_and(|o| !claims::older_than(o, claims::STALE_AFTER))
        })
        .filter_map(|ip| ip.get("metadata")?.get("name")?.as_str()?.parse().ok())
        .collect())
}

/// Every Service, listed lazily and at most once for one write: cluster IPs and node ports
/// both read it.
#[derive(Default)]
pub(super) struct Services(Option<Vec<Value>>);

impl Services {
    /// Every Service now, in all namespaces (listed on first use).
    pub(super) async fn get(&mut self, ctx: HookCtx<'_>) -> Result<&[Value], Status> {
        if self.0.is_none() {
            self.0 = Some(ctx.reads.list_all(ctx.resource, ctx.deadline).await?);
        }
        Ok(self.0.as_deref().unwrap_or_default())
    }
}

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
