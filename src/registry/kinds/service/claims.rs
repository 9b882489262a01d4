//! Cluster IPs and node ports reserved in storage, so that several servers sharing one etcd
//! never hand out the same one: a cluster IP is an `IPAddress` object (networking.k8s.io/v1,
//! upstream's allocator since 1.33) named by the address, a node port a claim at
//! `kubeshard.io/servicenodeports/<port>`; each names the Service it is for. A value is
//! allocated only by the create of its claim, which storage makes atomic.
//!
//! A claim outlives its Service when the Service is deleted or changed, or when the create
//! that claimed it failed. Such a claim is taken over when the value is asked for again: when
//! its Service no longer holds the value, and it is older than [`STALE_AFTER`] (a claim that
//! young may belong to a create still running on another server).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::api::status::Status;
use crate::registry::kinds::{HookCtx, Object};
use crate::registry::strategy::now_rfc3339;

/// How old a claim whose Service does not hold its value must be before another Service takes
/// it: longer than a create can run (`--request-timeout`'s default is 60 s).
pub(super) const STALE_AFTER: Duration = Duration::from_secs(75);

/// The claim key of a cluster IP: its IPAddress object.
pub(super) fn ip_key(ip: std::net::Ipv4Addr) -> String {
    format!("ipaddresses/{ip}")
}

/// The claim key of a node port.
pub(super) fn node_port_key(port: u16) -> String {
    format!("kubeshard.io/servicenodeports/{port}")
}

/// Which Service a claim is for.
#[derive(Clone, Copy, Debug)]
pub(super) struct Owner<'a> {
    pub(super) namespace: &'a str,
    pub(super) name: &'a str,
}

fn ip_address(ip: std::net::Ipv4Addr, owner: Owner<'_>) -> Value {
    json!({
        "kind": "IPAddress",
        "apiVersion": "networking.k8s.io/v1",
        "metadata": {
            "name": ip.to_string(),
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": now_rfc3339(),
            "labels": {
                "ipaddress.kubernetes.io/ip-family": "IPv4",
                "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io",
            },
        },
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": owner.namespace, "name": owner.name}},
    })
}

fn node_port_claim(port: u16, owner: Owner<'_>) -> Value {
    json!({
        "port": port,
        "metadata": {"creationTimestamp": now_rfc3339()},
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": owner.namespace, "name": owner.name}},
    })
}

/// What a claim is for.
#[derive(Clone, Copy, Debug)]
pub(super) enum Claimed {
    /// A cluster IP.
    Ip(std::net::Ipv4Addr),
    /// A node port.
    NodePort(u16),
}

impl Claimed {
    fn key(self) -> String {
        match self {
            Claimed::Ip(ip) => ip_key(ip),
            Claimed::NodePort(p) => node_port_key(p),
        }
    }

    fn claim_object(self, owner: Owner<'_>) -> Value {
        match self {
            Claimed::Ip(ip) => ip_address(ip, owner),
            Claimed::NodePort(p) => node_port_claim(p, owner),
        }
    }

    /// Whether the Service `svc` holds this value.
    fn held_by(self, svc: &Object) -> bool {
        let spec = svc.get("spec");
        match self {
            Claimed::Ip(ip) => spec
                .and_then(|s| s.get("clusterIPs"))
                .and_then(Value::as_array)
                .is_some_and(|ips| ips.iter().any(|v| v.as_str() == Some(&ip.to_string()))),
            Claimed::NodePort(p) => spec
                .and_then(|s| s.get("ports"))
                .and_then(Value::as_array)
                .is_some_and(|ports| {
                    ports
                        .iter()
                        .any(|x| x.get("nodePort").and_then(Value::as_u64) == Some(u64::from(p)))
                }),
        }
    }
}

/// Reserves `value` for `owner` in storage. False when another Service holds it (or may: a
/// young claim whose create may still be running).
pub(super) async fn claim(
    ctx: HookCtx<'_>,
    value: Claimed,
    owner: Owner<'_>,
) -> Result<bool, Status> {
    let key = value.key();
    let body = serde_json::to_vec(&value.claim_object(owner)).unwrap_or_default();
    if ctx.reads.claim(&key, body.clone(), ctx.deadline).await? {
        return Ok(true);
    }
    // Someone holds it: take it over only if that claim is stale.
    let Some(existing) = ctx.reads.read_claim(&key, ctx.deadline).await? else {
        return ctx.reads.claim(&key, body, ctx.deadline).await; // released meanwhile
    };
    let parent = existing
        .get("spec")
        .and_then(|s| s.get("parentRef"))
        .cloned()
        .unwrap_or(Value::Null);
    let (ns, name) = (
        parent.get("namespace").and_then(Value::as_str),
        parent.get("name").and_then(Value::as_str),
    );
    if let (Some(ns), Some(name)) = (ns, name) {
        if let Some(svc) = ctx
            .reads
            .get(ctx.resource, Some(ns), name, ctx.deadline)
            .await?
        {
            if value.held_by(&svc) {
                return Ok(false); // in use
            }
        }
    }
    if !older_than(&existing, STALE_AFTER) {
        return Ok(false);
    }
    log::info!(
        "service allocator: taking over the stale claim {key} ({ns:?}/{name:?} no longer holds it)"
    );
    ctx.reads.release(&key, ctx.deadline).await?;
    ctx.reads.claim(&key, body, ctx.deadline).await
}

/// Whether the object's `metadata.creationTimestamp` is more than `age` ago (true when it has
/// none that parses: such a claim was not written by this module).
pub(super) fn older_than(obj: &Object, age: Duration) -> bool {
    let Some(ts) = obj
        .get("metadata")
        .and_then(|m| m.get("creationTimestamp"))
        .and_then(Value::as_str)
    else {
        return true;
    };
    let Ok(t) = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
    else {
        return true;
    };
    let elapsed = time::OffsetDateTime::now_utc() - t;
    elapsed > time::Duration::try_from(age).unwrap_or(time::Duration::MAX)
}

/// How long the allocation of one Service may keep trying values others claimed first.
pub(super) const MAX_ATTEMPTS: usize = 32;

/// The deadline check shared by the allocation loops.
pub(super) fn out_of_time(ctx: HookCtx<'_>) -> bool {
    Instant::now() >= ctx.deadline
}
