//! Two kubeshard processes on one etcd, as kube-apiservers run: Service cluster IPs and node
//! ports never collide across them, each keeps its identity Lease, the `kubernetes` Service's
//! endpoints list every live server and drop a killed one, a client switching servers reads
//! its own writes, and a watch resumed on the other server from the last seen revision misses
//! nothing.
//!
//! `KUBESHARD_HA_SERVICES` sets the Service creates (default 400; `scripts/ha.sh` runs 10,000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::etcd::EtcdServer;
use support::server::Kubeshard;
use support::watch::WatchEvents;

fn services() -> usize {
    std::env::var("KUBESHARD_HA_SERVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

async fn get_json(c: &reqwest::Client, url: String) -> Value {
    let r = c.get(url).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

/// The `kubernetes` Endpoints' addresses as `ks` serves them.
async fn endpoint_ips(ks: &Kubeshard) -> Vec<String> {
    let r = ks
        .client(true, true)
        .get(ks.url("/api/v1/namespaces/default/endpoints/kubernetes"))
        .send()
        .await
        .unwrap();
    if r.status() != StatusCode::OK {
        return Vec::new();
    }
    let ep: Value = r.json().await.unwrap();
    let mut ips: Vec<String> = ep["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["addresses"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["ip"].as_str().map(str::to_string))
        .collect();
    ips.sort();
    ips
}

async fn wait_endpoints(ks: &Kubeshard, want: &[&str], limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let ips = endpoint_ips(ks).await;
        if ips == want {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < limit, "endpoints {ips:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn two_servers_share_one_etcd() {
    let etcd = EtcdServer::start_new();
    let servers = format!("--etcd-servers={}", etcd.endpoint());
    let common = [
        servers.as_str(),
        "--service-cluster-ip-range=10.96.0.0/16",
        "--request-timeout=20s",
    ];
    let a = Kubeshard::start(&[&common[..], &["--advertise-address=127.0.0.2"]].concat());
    let b = Kubeshard::start(&[&common[..], &["--advertise-address=127.0.0.3"]].concat());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Both servers' identities, and both in the kubernetes endpoints.
        let joined = wait_endpoints(&a, &["127.0.0.2", "127.0.0.3"], Duration::from_secs(20)).await;
        let leases = get_json(
            &a.client(true, true),
            a.url("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?labelSelector=apiserver.kubernetes.io%2Fidentity%3Dkube-apiserver"),
        )
        .await;
        let items = leases["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{leases}");
        for l in items {
            assert!(l["metadata"]["name"].as_str().unwrap().starts_with("apiserver-"), "{l}");
            assert!(l["metadata"]["labels"]["kubernetes.io/hostname"].is_string(), "{l}");
            assert_eq!(l["spec"]["leaseDurationSeconds"], 3600);
        }
        let slice = get_json(
            &b.client(true, true),
            b.url("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes"),
        )
        .await;
        assert_eq!(slice["endpoints"].as_array().map(Vec::len), Some(2), "{slice}");

        // Services created on both at once: no cluster IP or node port twice.
        let n = services();
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..8 {
            let ks = if w % 2 == 0 { &a } else { &b };
            let (c, url) = (ks.client(true, true), ks.url("/api/v1/namespaces/default/services"));
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                for i in (w..n).step_by(8) {
                    let node_port = i % 4 == 0;
                    let body = json!({"metadata": {"name": format!("svc-{i}")},
                        "spec": {"type": if node_port {"NodePort"} else {"ClusterIP"},
                                 "ports": [{"port": 80, "protocol": "TCP"}]}});
                    let r = c.post(&url).json(&body).send().await.unwrap();
                    let status = r.status();
                    let s: Value = r.json().await.unwrap();
                    assert_eq!(status, StatusCode::CREATED, "{s}");
                    let ip = s["spec"]["clusterIP"].as_str().unwrap().to_string();
                    let port = s["spec"]["ports"][0]["nodePort"].as_u64();
                    got.push((ip, port));
                }
                got
            }));
        }
        let mut ips = HashSet::new();
        let mut ports = HashSet::new();
        for t in tasks {
            for (ip, port) in t.await.unwrap() {
                assert!(ips.insert(ip.clone()), "cluster IP {ip} handed out twice");
                if let Some(p) = port {
                    assert!(ports.insert(p), "node port {p} handed out twice");
                }
            }
        }
        let took = t0.elapsed();
        assert_eq!(ips.len(), n);
        // Every address is an IPAddress object naming its Service.
        let claimed = get_json(&b.client(true, true), b.url("/apis/networking.k8s.io/v1/ipaddresses")).await;
        let claimed: HashSet<String> = claimed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        assert!(ips.is_subset(&claimed), "every cluster IP has its IPAddress");

        // A client switching servers reads its own writes.
        let (ca, cb) = (a.client(true, true), b.client(true, true));
        let mut last_rv = String::new();
        for i in 0..20 {
            let (writer, reader, wks, rks) = if i % 2 == 0 { (&ca, &cb, &a, &b) } else { (&cb, &ca, &b, &a) };
            let body = json!({"metadata": {"name": "ryw"}, "data": {"i": i.to_string()}});
            let r = if i == 0 {
                writer.post(wks.url("/api/v1/namespaces/default/configmaps")).json(&body).send().await.unwrap()
            } else {
                writer.put(wks.url("/api/v1/namespaces/default/configmaps/ryw")).json(&body).send().await.unwrap()
            };
            assert!(r.status().is_success(), "{}", r.status());
            let w: Value = r.json().await.unwrap();
            let read = get_json(reader, rks.url("/api/v1/namespaces/default/configmaps/ryw")).await;
            assert_eq!(read["data"]["i"], i.to_string(), "read on the other server");
            assert_eq!(read["metadata"]["resourceVersion"], w["metadata"]["resourceVersion"]);
            last_rv = w["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        }
        assert!(!last_rv.is_empty());

        // A watch on A, cut, resumed on B from the last revision it saw: no gap, no repeat.
        let list = get_json(&ca, a.url("/api/v1/namespaces/default/configmaps?labelSelector=resume%3D1")).await;
        let from = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        let mut written = Vec::new();
        for i in 0..30 {
            let c = if i % 2 == 0 { &ca } else { &cb };
            let ks = if i % 2 == 0 { &a } else { &b };
            let r: Value = c
                .post(ks.url("/api/v1/namespaces/default/configmaps"))
                .json(&json!({"metadata": {"name": format!("resume-{i}"), "labels": {"resume": "1"}}}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            written.push(r["metadata"]["resourceVersion"].as_str().unwrap().to_string());
        }
        let read_events = |ks: &Kubeshard, from: String, count: usize| {
            let c = ks.watch_client(true, true);
            let url = ks.url(&format!(
                "/api/v1/namespaces/default/configmaps?watch=1&labelSelector=resume%3D1&resourceVersion={from}"
            ));
            async move {
                let r = c.get(url).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                let mut events = WatchEvents::new(r);
                let mut rvs = Vec::new();
                while rvs.len() < count {
                    let ev = events.next(Duration::from_secs(10)).await.expect("events in time");
                    assert_eq!(ev["type"], "ADDED", "{ev}");
                    rvs.push(ev["object"]["metadata"]["resourceVersion"].as_str().unwrap().to_string());
                }
                rvs
            }
        };
        let first = read_events(&a, from, 12).await;
        let resumed_from = first.last().unwrap().clone();
        let rest = read_events(&b, resumed_from, written.len() - first.len()).await;
        let all: Vec<String> = first.into_iter().chain(rest).collect();
        assert_eq!(all, written, "the watch resumed on the other server");

        // One of them runs the controllers.
        let lease_of = |advertise: &str| {
            items
                .iter()
                .find(|l| {
                    l["metadata"]["annotations"]["kubeshard.io/advertise-address"]
                        .as_str()
                        .is_some_and(|a| a.starts_with(advertise))
                })
                .and_then(|l| l["metadata"]["name"].as_str())
                .unwrap()
                .to_string()
        };
        let (lease_a, lease_b) = (lease_of("127.0.0.2:"), lease_of("127.0.0.3:"));
        let holder = get_json(&ca, a.url("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kubeshard-controllers")).await["spec"]["holderIdentity"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(holder == lease_a || holder == lease_b, "{holder}");

        // The leader dies (A, which started first, unless B won): it drops out of the
        // endpoints once its lease is stale, and the other server leads.
        let (dead, alive, alive_ip, alive_lease) = if holder == lease_a {
            (&a, &b, "127.0.0.3", &lease_b)
        } else {
            (&b, &a, "127.0.0.2", &lease_a)
        };
        dead.signal(9);
        let dropped = wait_endpoints(alive, &[alive_ip], Duration::from_secs(30)).await;
        let c_alive = alive.client(true, true);
        let leader_url = alive.url("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kubeshard-controllers");
        let t0 = Instant::now();
        loop {
            let l = get_json(&c_alive, leader_url.clone()).await;
            if l["spec"]["holderIdentity"] == alive_lease.as_str() {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(25), "the survivor never took the lead: {l}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let took_over = t0.elapsed() + dropped;
        // The controllers run on the survivor now: a new namespace gets its defaults.
        let r = c_alive
            .post(alive.url("/api/v1/namespaces"))
            .json(&json!({"metadata": {"name": "after-failover"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        support::namespace_defaults(alive, "after-failover").await;
        println!(
            "ha: two servers on one etcd: {n} Services created across both in {took:?} ({:.0}/s), {} node ports, no IP or port twice; both in the kubernetes endpoints after {joined:?}; a killed server dropped out after {dropped:?}; the controllers' leader was killed and the other server led {took_over:?} after the kill",
            n as f64 / took.as_secs_f64(),
            ports.len(),
        );
    });
}
