//! What lets several kubeshard processes share one etcd as kube-apiservers do:
//!
//! - each server's **identity Lease** in kube-system (`apiserver-<id>`, labels
//!   `apiserver.kubernetes.io/identity: kube-apiserver` and `kubernetes.io/hostname`), renewed
//!   every [`RENEW_INTERVAL`] (upstream's apiserver identity leases, 1.26+);
//! - the **lease endpoint reconciler**: the `default/kubernetes` Endpoints and EndpointSlice list
//!   the advertise address of every server whose lease was renewed within [`ENDPOINT_TTL`], so a
//!   dead server drops out and a new one joins; a server shutting down removes itself first.
//!
//! The advertise address is kept in the lease's `kubeshard.io/advertise-address` annotation
//! (upstream keeps it in `/registry/masterleases/<ip>` keys with an etcd TTL, which needs etcd
//! leases the embedded store does not have).

use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::api::object::decode_stored;
use crate::api::status::Status;
use crate::registry::resources::Resource;
use crate::registry::store::{DeleteOptions, ListOptions, RequestFacts, Store};
use crate::registry::strategy::{age_of, now_micro_rfc3339};
use crate::server::table_row;

/// How often a server renews its identity lease and reconciles the endpoints.
pub const RENEW_INTERVAL: Duration = Duration::from_secs(5);

/// A server whose lease is older than this is gone from the `kubernetes` endpoints (upstream's
/// master lease TTL).
pub const ENDPOINT_TTL: Duration = Duration::from_secs(15);

/// The identity label upstream puts on kube-apiserver leases.
pub const IDENTITY_LABEL: &str = "apiserver.kubernetes.io/identity";

const ADVERTISE_ANNOTATION: &str = "kubeshard.io/advertise-address";

/// One server's identity: its lease and where clients reach it.
#[derive(Clone, Debug)]
pub struct Identity {
    /// `apiserver-<hash of host and port>`.
    pub lease_name: String,
    /// The lease's holder: the lease name and a per-process id.
    pub holder: String,
    /// This host's name (the `kubernetes.io/hostname` label).
    pub hostname: String,
    /// `--advertise-address`.
    pub advertise: IpAddr,
    /// The secure port.
    pub port: u16,
}

impl Identity {
    /// The identity of the server on this host advertising `advertise:port`: stable across
    /// restarts, distinct for two servers on one host.
    pub fn new(advertise: IpAddr, port: u16) -> Self {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        // FNV-1a, twice with different offsets: stable across restarts and builds.
        let text = format!("{hostname}/{advertise}:{port}");
        let fnv = |offset: u64| {
            text.bytes().fold(offset, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            })
        };
        let hex = format!(
            "{:016x}{:010x}",
            fnv(0xcbf2_9ce4_8422_2325),
            fnv(0x84222325cbf29ce4) >> 24
        );
        let lease_name = format!("apiserver-{hex}");
        Identity {
            holder: format!("{lease_name}_{}", uuid::Uuid::new_v4()),
            lease_name,
            hostname,
            advertise,
            port,
        }
    }
}

/// Renews the identity lease and reconciles the endpoints every [`RENEW_INTERVAL`] until
/// `stop` completes; then removes this server from the endpoints and deletes its lease.
pub async fn run(store: Rc<Store>, id: Identity, stop: impl std::future::Future<Output = ()>) {
    let work = async {
        loop {
            if let Err(e) = renew(&store, &id).await {
                log::warn!("apiserver identity lease: {}", e.message);
            }
            if let Err(e) = reconcile_endpoints(&store, &id, true).await {
                log::warn!("kubernetes endpoints: {}", e.message);
            }
            shards::sleep(RENEW_INTERVAL).await;
        }
    };
    futures_lite::future::or(work, stop).await;
    // Leaving: clients of the `kubernetes` Service stop being sent here.
    let deadline = Instant::now() + Duration::from_secs(5);
    if let Ok(leases) = table_row(&store, "coordination.k8s.io", "leases") {
        let facts = RequestFacts::internal(Some("kube-system"), &id.lease_name, deadline);
        let _ = store
            .delete(&leases, &facts, &DeleteOptions::default())
            .await;
    }
    if let Err(e) = reconcile_endpoints(&store, &id, false).await {
        log::warn!("kubernetes endpoints at shutdown: {}", e.message);
    }
}

/// Creates or renews this server's lease.
async fn renew(store: &Store, id: &Identity) -> Result<(), Status> {
    let leases = table_row(store, "coordination.k8s.io", "leases")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let facts = RequestFacts::internal(Some("kube-system"), &id.lease_name, deadline);
    let now = now_micro_rfc3339();
    let advertise = format!("{}:{}", id.advertise, id.port);
    let fresh = json!({
        "metadata": {
            "name": id.lease_name,
            "labels": {IDENTITY_LABEL: "kube-apiserver", "kubernetes.io/hostname": id.hostname},
            "annotations": {ADVERTISE_ANNOTATION: advertise},
        },
        "spec": {"holderIdentity": id.holder, "leaseDurationSeconds": 3600, "acquireTime": now, "renewTime": now},
    });
    write_if_changed(
        store,
        &leases,
        &facts,
        |lease| {
            if let Some(spec) = lease
                .entry("spec")
                .or_insert_with(|| json!({}))
                .as_object_mut()
            {
                spec.insert("holderIdentity".into(), Value::from(id.holder.clone()));
                spec.insert("leaseDurationSeconds".into(), Value::from(3600));
                spec.insert("renewTime".into(), Value::from(now.clone()));
                spec.entry("acquireTime")
                    .or_insert_with(|| Value::from(now.clone()));
            }
            if let Some(meta) = lease.get_mut("metadata").and_then(Value::as_object_mut) {
                if let Some(ann) = meta
                    .entry("annotations")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                {
                    ann.insert(ADVERTISE_ANNOTATION.into(), Value::from(advertise.clone()));
                }
            }
            true // renewTime moved
        },
        fresh,
    )
    .await
}

/// The advertise addresses of every live server (renewed within [`ENDPOINT_TTL`]), sorted;
/// without this one when `include_self` is false.
async fn live_addresses(
    store: &Store,
    id: &Identity,
    include_self: bool,
) -> Result<Vec<IpAddr>, Status> {
    let leases = table_row(store, "coordination.k8s.io", "leases")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let facts = RequestFacts::internal(Some("kube-system"), "", deadline);
    let opts = ListOptions {
        label_selector: format!("{IDENTITY_LABEL}=kube-apiserver"),
        ..ListOptions::default()
    };
    let listed = store.list(&leases, &facts, &opts).await?;
    let mut out: Vec<IpAddr> = listed
        .items
        .iter()
        .filter_map(|i| decode_stored(&i.key, &i.json).ok())
        .filter(|l| {
            let name = l["metadata"]["name"].as_str().unwrap_or_default();
            if name == id.lease_name {
                return include_self;
            }
            l["spec"]["renewTime"]
                .as_str()
                .and_then(age_of)
                .is_some_and(|age| age <= ENDPOINT_TTL)
        })
        .filter_map(|l| {
            let a = l["metadata"]["annotations"][ADVERTISE_ANNOTATION].as_str()?;
            let ip = a.rsplit_once(':').map_or(a, |(ip, _)| ip);
            ip.trim_matches(['[', ']']).parse().ok()
        })
        .collect();
    if include_self {
        out.push(id.advertise);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Makes `default/kubernetes` Endpoints and EndpointSlice list exactly the live servers.
async fn reconcile_endpoints(
    store: &Store,
    id: &Identity,
    include_self: bool,
) -> Result<(), Status> {
    let ips = live_addresses(store, id, include_self).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let facts = RequestFacts::internal(Some("default"), "kubernetes", deadline);
    let port = json!({"name": "https", "port": id.port, "protocol": "TCP"});
    let subsets = if ips.is_empty() {
        json!([])
    } else {
        json!([{"addresses": ips.iter().map(|ip| json!({"ip": ip.to_string()})).collect::<Vec<_>>(), "ports": [port]}])
    };
    let endpoints = table_row(store, "", "endpoints")?;
    let labels = json!({"endpointslice.kubernetes.io/skip-mirror": "true"});
    write_if_changed(
        store,
        &endpoints,
        &facts,
        |obj| {
            let changed = obj.get("subsets") != Some(&subsets);
            obj.insert("subsets".into(), subsets.clone());
            changed
        },
        json!({"metadata": {"name": "kubernetes", "labels": labels}, "subsets": subsets}),
    )
    .await?;
    let slices = table_row(store, "discovery.k8s.io", "endpointslices")?;
    let family = if id.advertise.is_ipv6() {
        "IPv6"
    } else {
        "IPv4"
    };
    let slice_endpoints: Vec<Value> = ips
        .iter()
        .filter(|ip| ip.is_ipv6() == id.advertise.is_ipv6())
        .map(|ip| json!({"addresses": [ip.to_string()], "conditions": {"ready": true}}))
        .collect();
    let slice_ports = json!([port]);
    write_if_changed(store, &slices, &facts, |obj| {
        let changed = obj.get("endpoints") != Some(&Value::Array(slice_endpoints.clone()))
            || obj.get("ports") != Some(&slice_ports);
        obj.insert("endpoints".into(), Value::Array(slice_endpoints.clone()));
        obj.insert("ports".into(), slice_ports.clone());
        obj.insert("addressType".into(), Value::from(family));
        changed
    }, json!({
        "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "addressType": family,
        "endpoints": slice_endpoints,
        "ports": slice_ports,
    }))
    .await
}

/// Updates the object `facts` names with `change` (which says whether it changed anything),
/// or creates `fresh` when there is none.
async fn write_if_changed(
    store: &Store,
    res: &Resource,
    facts: &RequestFacts,
    mut change: impl FnMut(&mut Map<String, Value>) -> bool,
    fresh: Value,
) -> Result<(), Status> {
    let current = match store.get(res, facts, "").await {
        Ok(s) => Some(s),
        Err(e) if e.code == 404 => None,
        Err(e) => return Err(e),
    };
    match current {
        None => match store
            .create(res, facts, fresh.to_string().into_bytes())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        },
        Some(stored) => {
            let mut obj = decode_stored(b"", &stored.body)?;
            if !change(&mut obj) {
                return Ok(());
            }
            store
                .guaranteed_update(res, facts, &mut |cur| {
                    let mut next = cur.clone();
                    change(&mut next);
                    Ok(next)
                })
                .await
                .map(|_| ())
        }
    }
}
