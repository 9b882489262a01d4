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

use std::time::Duration;

use serde_json::{json, Value};

use crate::api::status::Status;
use crate::registry::kinds::{HookCtx, Object};
use crate::registry::strategy::{age_of, now_rfc3339};

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
    obj.get("metadata")
        .and_then(|m| m.get("creationTimestamp"))
        .and_then(Value::as_str)
        .and_then(age_of)
        .is_none_or(|elapsed| elapsed > age)
}

/// How many values others claimed first one Service's allocation tries before it gives up.
pub(super) const MAX_ATTEMPTS: usize = 32;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::net::Ipv4Addr;
    use std::time::Instant;

    use super::*;
    use crate::api::resources::{lookup, ApiResource};
    use crate::registry::kinds::{HookFuture, ObjectReads};

    /// Storage as the claims see it: claim keys, and Services by namespace/name.
    #[derive(Default)]
    struct Fake {
        claims: RefCell<HashMap<String, Vec<u8>>>,
        services: HashMap<(String, String), Object>,
    }

    impl ObjectReads for Fake {
        fn list_all<'a>(
            &'a self,
            _: &'a ApiResource,
            _: Instant,
        ) -> HookFuture<'a, Result<Vec<Value>, Status>> {
            Box::pin(async { Ok(Vec::new()) })
        }
        fn get<'a>(
            &'a self,
            _: &'a ApiResource,
            ns: Option<&'a str>,
            name: &'a str,
            _: Instant,
        ) -> HookFuture<'a, Result<Option<Object>, Status>> {
            let key = (ns.unwrap_or_default().to_string(), name.to_string());
            Box::pin(async move { Ok(self.services.get(&key).cloned()) })
        }
        fn claim<'a>(
            &'a self,
            key: &'a str,
            value: Vec<u8>,
            _: Instant,
        ) -> HookFuture<'a, Result<bool, Status>> {
            Box::pin(async move {
                let mut c = self.claims.borrow_mut();
                if c.contains_key(key) {
                    return Ok(false);
                }
                c.insert(key.to_string(), value);
                Ok(true)
            })
        }
        fn read_claim<'a>(
            &'a self,
            key: &'a str,
            _: Instant,
        ) -> HookFuture<'a, Result<Option<Object>, Status>> {
            Box::pin(async move {
                Ok(self
                    .claims
                    .borrow()
                    .get(key)
                    .and_then(|v| serde_json::from_slice(v).ok()))
            })
        }
        fn release<'a>(&'a self, key: &'a str, _: Instant) -> HookFuture<'a, Result<(), Status>> {
            Box::pin(async move {
                self.claims.borrow_mut().remove(key);
                Ok(())
            })
        }
    }

    fn age(fake: &Fake, key: &str) {
        let mut c = fake.claims.borrow_mut();
        let mut v: Value = serde_json::from_slice(&c[key]).unwrap();
        v["metadata"]["creationTimestamp"] = json!("2020-01-01T00:00:00Z");
        c.insert(key.to_string(), serde_json::to_vec(&v).unwrap());
    }

    #[test]
    fn a_value_is_claimed_once_and_a_stale_claim_is_taken_over() {
        let services = lookup("", "v1", "services").unwrap();
        let ip = Ipv4Addr::new(10, 96, 0, 7);
        let (a, b) = (
            Owner {
                namespace: "ns",
                name: "a",
            },
            Owner {
                namespace: "ns",
                name: "b",
            },
        );
        let mut fake = Fake::default();
        futures_lite::future::block_on(async {
            assert!(claim(ctx(&fake, services), Claimed::Ip(ip), a)
                .await
                .unwrap());
            // A young claim whose Service is not stored yet: a create may still be running.
            assert!(!claim(ctx(&fake, services), Claimed::Ip(ip), b)
                .await
                .unwrap());
            // Old, and its Service is gone: taken over.
            age(&fake, &ip_key(ip));
            assert!(claim(ctx(&fake, services), Claimed::Ip(ip), b)
                .await
                .unwrap());
            let now: Value = serde_json::from_slice(&fake.claims.borrow()[&ip_key(ip)]).unwrap();
            assert_eq!(now["spec"]["parentRef"]["name"], "b");
        });
        // Old, but its Service holds the address: in use, never taken.
        fake.services.insert(
            ("ns".into(), "b".into()),
            json!({"spec": {"clusterIPs": [ip.to_string()], "ports": [{"nodePort": 30001}]}})
                .as_object()
                .cloned()
                .unwrap(),
        );
        age(&fake, &ip_key(ip));
        futures_lite::future::block_on(async {
            assert!(!claim(ctx(&fake, services), Claimed::Ip(ip), a)
                .await
                .unwrap());
            assert!(claim(ctx(&fake, services), Claimed::NodePort(30001), b)
                .await
                .unwrap());
            age(&fake, &node_port_key(30001));
            assert!(!claim(ctx(&fake, services), Claimed::NodePort(30001), a)
                .await
                .unwrap());
        });
    }

    fn ctx<'a>(f: &'a Fake, services: &'a ApiResource) -> HookCtx<'a> {
        HookCtx {
            resource: services,
            reads: f,
            deadline: Instant::now() + Duration::from_secs(5),
        }
    }
}
