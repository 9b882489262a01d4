//! Service node ports, from `--service-node-port-range`: every port of a NodePort or
//! LoadBalancer Service gets one (kept across updates, checked when given), other types may
//! not name one on create and lose theirs when they stop being NodePort — as upstream's
//! Service REST storage allocates them.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde_json::Value;

use super::allocator::ServiceIps;
use super::claims::{self, Claimed, Owner};
use super::cluster_ip::Services;
use crate::api::meta::Meta;
use crate::api::status::{Status, StatusCause};
use crate::registry::kinds::{HookCtx, Object};

/// Node ports this shard is handing out until the write that holds them is done; released
/// when dropped, whichever way the write ended.
pub(super) struct HeldPorts {
    ips: Rc<ServiceIps>,
    ports: Vec<u16>,
}

impl Drop for HeldPorts {
    fn drop(&mut self) {
        for p in &self.ports {
            self.ips.port_done(*p);
        }
    }
}

fn port_key(p: &Value) -> (i64, String) {
    (
        p.get("port").and_then(Value::as_i64).unwrap_or(0),
        p.get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP")
            .to_string(),
    )
}

fn node_port(p: &Value) -> Option<i64> {
    p.get("nodePort")
        .and_then(Value::as_i64)
        .filter(|n| *n != 0)
}

/// Sets `spec.ports[*].nodePort` of a Service being created (`old` None) or updated; the
/// ports newly handed out are held until the returned value is dropped.
pub(super) async fn assign_node_ports(
    ips: &Rc<ServiceIps>,
    ctx: HookCtx<'_>,
    obj: &mut Object,
    old: Option<&Object>,
    services: &mut Services,
) -> Result<HeldPorts, Status> {
    let mut held = HeldPorts {
        ips: Rc::clone(ips),
        ports: Vec::new(),
    };
    {
        let meta = Meta::of(obj);
        let name = meta.name().unwrap_or_default().to_string();
        let namespace = meta.namespace().unwrap_or_default().to_string();
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return Ok(held);
        };
        let ty = spec
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("ClusterIP")
            .to_string();
        let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) else {
            return Ok(held);
        };
        let invalid = |i: usize, reason: &str, message: String| {
            Status::invalid(
                "",
                "Service",
                &name,
                vec![StatusCause {
                    reason: Some(reason.into()),
                    message,
                    field: Some(format!("spec.ports[{i}].nodePort")),
                }],
            )
        };
        if !matches!(ty.as_str(), "NodePort" | "LoadBalancer") {
            for (i, p) in ports.iter_mut().enumerate() {
                if node_port(p).is_none() {
                    continue;
                }
                if old.is_none() {
                    return Err(invalid(
                        i,
                        "FieldValueForbidden",
                        format!("Forbidden: may not be used when `type` is '{ty}'"),
                    ));
                }
                // An update away from NodePort releases the ports.
                if let Some(m) = p.as_object_mut() {
                    m.remove("nodePort");
                }
            }
            return Ok(held);
        }
        let kept: HashMap<(i64, String), i64> = old
            .and_then(|o| o.get("spec"))
            .and_then(|s| s.get("ports"))
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| Some((port_key(p), node_port(p)?)))
                    .collect()
            })
            .unwrap_or_default();
        let mut used: HashSet<u16> = services
            .get(ctx)
            .await?
            .iter()
            .filter(|s| {
                let m = s.get("metadata");
                let same = |f: &str, want: &str| {
                    m.and_then(|m| m.get(f)).and_then(Value::as_str) == Some(want)
                };
                !(same("name", &name) && same("namespace", &namespace))
            })
            .filter_map(|s| s.get("spec")?.get("ports")?.as_array().cloned())
            .flatten()
            .filter_map(|p| u16::try_from(node_port(&p)?).ok())
            .collect();
        let range = ips.node_ports();
        let owner = Owner {
            namespace: &namespace,
            name: &name,
        };
        for (i, p) in ports.iter_mut().enumerate() {
            let port = match node_port(p) {
                Some(n) => {
                    let in_range = u16::try_from(n).ok().filter(|n| range.contains(*n));
                    let Some(n16) = in_range else {
                        return Err(invalid(i, "FieldValueInvalid", format!(
                            "Invalid value: {n}: provided port is not in the valid range. The range of valid ports is {}",
                            range.describe()
                        )));
                    };
                    let already = || {
                        invalid(
                            i,
                            "FieldValueInvalid",
                            format!("Invalid value: {n}: provided port is already allocated"),
                        )
                    };
                    if used.contains(&n16) {
                        return Err(already());
                    }
                    let mine = kept.values().any(|k| *k == n);
                    if !mine && !claims::claim(ctx, Claimed::NodePort(n16), owner).await? {
                        return Err(already());
                    }
                    n16
                }
                None => match kept.get(&port_key(p)).and_then(|n| u16::try_from(*n).ok()) {
                    Some(n) if !used.contains(&n) => n,
                    _ => {
                        let full = || {
                            invalid(
                                i,
                                "FieldValueInvalid",
                                "Invalid value: 0: failed to allocate a nodePort: range is full"
                                    .to_string(),
                            )
                        };
                        let mut attempts = 0;
                        loop {
                            let n = ips.allocate_port(&used).ok_or_else(full)?;
                            held.ports.push(n);
                            if claims::claim(ctx, Claimed::NodePort(n), owner).await? {
                                break n;
                            }
                            // Another server claimed it first.
                            used.insert(n);
                            attempts += 1;
                            if attempts >= claims::MAX_ATTEMPTS
                                || std::time::Instant::now() >= ctx.deadline
                            {
                                return Err(full());
                            }
                        }
                    }
                },
            };
            used.insert(port);
            if let Some(m) = p.as_object_mut() {
                m.insert("nodePort".into(), Value::from(port));
            }
        }
        Ok(held)
    }
}
