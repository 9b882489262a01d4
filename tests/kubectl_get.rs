//! `kubectl get` in every output format, with kube-apiserver's server-side columns (Table),
//! `-o wide`, watches, and the Table / PartialObjectMetadata forms over raw HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::rt;
use support::server::Kubeshard;

fn kubectl(ks: &Kubeshard, args: &[&str]) -> String {
    let out = std::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", ks.kubeconfig().display()))
        .args(args)
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn header(out: &str) -> Vec<String> {
    out.lines()
        .next()
        .unwrap_or("")
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn post(ks: &Kubeshard, path: &str, body: Value) {
    rt().block_on(async {
        let r = ks
            .client(true, true)
            .post(ks.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{path}");
    });
}

#[test]
fn columns_and_output_formats() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(support::namespace_defaults(&ks, "default"));
    post(
        &ks,
        "/api/v1/namespaces/default/configmaps",
        json!({"metadata": {"name": "conf"}, "data": {"a": "1", "b": "2"}}),
    );
    post(
        &ks,
        "/apis/apps/v1/namespaces/default/deployments",
        json!({"metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}}),
    );
    post(
        &ks,
        "/api/v1/namespaces/default/services",
        json!({"metadata": {"name": "svc"},
        "spec": {"ports": [{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}], "selector": {"app": "web"}}}),
    );
    post(
        &ks,
        "/api/v1/namespaces/default/pods",
        json!({"metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}),
    );

    let out = kubectl(&ks, &["get", "configmap", "conf"]);
    assert_eq!(header(&out), ["NAME", "DATA", "AGE"]);
    assert!(
        out.lines().nth(1).unwrap().starts_with("conf   2 "),
        "{out}"
    );
    let out = kubectl(&ks, &["get", "deployments"]);
    assert_eq!(
        header(&out),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    );
    assert!(out.contains("web    0/3"), "{out}");
    let out = kubectl(&ks, &["get", "deployments", "-o", "wide"]);
    assert_eq!(
        header(&out),
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    assert!(out.contains("nginx:1") && out.contains("app=web"), "{out}");
    let out = kubectl(&ks, &["get", "services", "svc"]);
    assert_eq!(
        header(&out),
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    assert!(out.contains("80/TCP,53/UDP"), "{out}");
    let out = kubectl(&ks, &["get", "pods", "-o", "wide"]);
    assert_eq!(
        header(&out),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ]
    );
    assert!(out.contains("0/2") && out.contains("Pending"), "{out}");
    let out = kubectl(&ks, &["get", "namespaces"]);
    assert!(
        out.contains("kube-system") && out.contains("Active"),
        "{out}"
    );

    let v: Value =
        serde_json::from_str(&kubectl(&ks, &["get", "configmap", "conf", "-o", "json"])).unwrap();
    assert_eq!(v["data"]["a"], "1");
    assert!(kubectl(&ks, &["get", "configmap", "conf", "-o", "yaml"]).contains("  a: \"1\""));
    assert_eq!(
        kubectl(&ks, &["get", "configmaps", "-o", "name"]).trim(),
        "configmap/conf\nconfigmap/kube-root-ca.crt"
    );
    assert_eq!(
        kubectl(
            &ks,
            &["get", "configmap", "conf", "-o", "jsonpath={.data.b}"]
        ),
        "2"
    );
    let out = kubectl(
        &ks,
        &[
            "get",
            "configmaps",
            "-o",
            "custom-columns=N:.metadata.name,A:.data.a",
        ],
    );
    assert_eq!(
        out.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["conf", "1"]
    );

    // get -w prints a row when the object changes.
    let child = std::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", ks.kubeconfig().display()))
        .args(["get", "configmaps", "-w", "--request-timeout=6s"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    post(
        &ks,
        "/api/v1/namespaces/default/configmaps",
        json!({"metadata": {"name": "later"}, "data": {"x": "y"}}),
    );
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("later ") && l.contains(" 1 ")),
        "{text}"
    );

    rt().block_on(async {
        let c = ks.client(true, true);
        let table = "application/json;as=Table;v=v1;g=meta.k8s.io";
        let r = c
            .get(ks.url("/api/v1/namespaces/default/configmaps?includeObject=None"))
            .header("Accept", table)
            .send()
            .await
            .unwrap();
        let t: Value = r.json().await.unwrap();
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["columnDefinitions"][0]["name"], "Name");
        assert!(t["rows"][0].get("object").is_none());
        let r = c
            .get(ks.url("/api/v1/namespaces/default/configmaps/conf?includeObject=Object"))
            .header("Accept", table)
            .send()
            .await
            .unwrap();
        let t: Value = r.json().await.unwrap();
        assert_eq!(t["rows"][0]["object"]["data"]["a"], "1");
        let r = c
            .get(ks.url("/api/v1/namespaces/default/configmaps"))
            .header(
                "Accept",
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
            )
            .send()
            .await
            .unwrap();
        let l: Value = r.json().await.unwrap();
        assert_eq!(l["kind"], "PartialObjectMetadataList");
        assert_eq!(l["items"][0]["kind"], "PartialObjectMetadata");
        assert!(l["items"][0].get("data").is_none());
        let r = c
            .get(ks.url("/api/v1/namespaces/default/configmaps"))
            .header("Accept", "application/json;as=Table;v=v7;g=meta.k8s.io")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
        let s: Value = r.json().await.unwrap();
        assert_eq!(s["reason"], "NotAcceptable");
    });
}

#[test]
fn services_get_cluster_ips_and_the_kubernetes_service_exists() {
    let ks = Kubeshard::start(&[]);
    let out = kubectl(&ks, &["get", "service", "kubernetes"]);
    assert!(out.contains("10.0.0.1") && out.contains("443/TCP"), "{out}");
    let mut ips = std::collections::BTreeSet::new();
    for i in 0..6 {
        post(
            &ks,
            "/api/v1/namespaces/default/services",
            json!({"metadata": {"name": format!("s{i}")}, "spec": {"ports": [{"port": 80}]}}),
        );
        let v: Value = serde_json::from_str(&kubectl(
            &ks,
            &["get", "service", &format!("s{i}"), "-o", "json"],
        ))
        .unwrap();
        let ip = v["spec"]["clusterIP"].as_str().unwrap().to_string();
        assert!(ip.starts_with("10.0.0.") && ip != "10.0.0.1", "{ip}");
        assert_eq!(v["spec"]["clusterIPs"], json!([ip]));
        assert_eq!(v["spec"]["type"], "ClusterIP");
        assert_eq!(v["spec"]["ports"][0]["targetPort"], 80);
        assert!(ips.insert(ip), "cluster IPs are unique");
    }
    rt().block_on(async {
        let taken = ips.iter().next().unwrap();
        let r = ks
            .client(true, true)
            .post(ks.url("/api/v1/namespaces/default/services"))
            .json(&json!({"metadata": {"name": "dup"}, "spec": {"clusterIP": taken, "ports": [{"port": 80}]}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let s: Value = r.json().await.unwrap();
        assert!(s["message"].as_str().unwrap().contains("provided IP is already allocated"), "{s}");
    });
}

#[test]
fn node_port_services_get_ports_from_the_range() {
    let ks = Kubeshard::start(&["--service-node-port-range=31000-31009"]);
    let out = kubectl(
        &ks,
        &["create", "service", "nodeport", "web", "--tcp=80:8080"],
    );
    assert!(out.contains("service/web created"), "{out}");
    let get = |name: &str| -> Value {
        serde_json::from_str(&kubectl(&ks, &["get", "service", name, "-o", "json"])).unwrap()
    };
    let web = get("web");
    let port = web["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((31000..=31009).contains(&port), "{web}");
    let table = kubectl(&ks, &["get", "service", "web"]);
    assert!(table.contains(&format!("80:{port}/TCP")), "{table}");

    // Kept across an update that does not name it; released when the type changes.
    kubectl(&ks, &["label", "service", "web", "tier=front"]);
    assert_eq!(get("web")["spec"]["ports"][0]["nodePort"], port);

    rt().block_on(async {
        let c = ks.client(true, true);
        let create = |body: Value| {
            c.post(ks.url("/api/v1/namespaces/default/services"))
                .json(&body)
                .send()
        };
        let r = create(json!({"metadata": {"name": "taken"}, "spec": {"type": "NodePort",
            "ports": [{"port": 80, "nodePort": port}]}}))
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let s: Value = r.json().await.unwrap();
        assert_eq!(
            s["message"],
            format!("Service \"taken\" is invalid: spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated")
        );
        let r = create(json!({"metadata": {"name": "far"}, "spec": {"type": "NodePort",
            "ports": [{"port": 80, "nodePort": 30000}]}}))
        .await
        .unwrap();
        let s: Value = r.json().await.unwrap();
        assert_eq!(
            s["message"],
            "Service \"far\" is invalid: spec.ports[0].nodePort: Invalid value: 30000: provided port is not in the valid range. The range of valid ports is 31000-31009"
        );
        let r = create(json!({"metadata": {"name": "cip"}, "spec": {"type": "ClusterIP",
            "ports": [{"port": 80, "nodePort": 31005}]}}))
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let s: Value = r.json().await.unwrap();
        assert_eq!(s["details"]["causes"][0]["field"], "spec.ports[0].nodePort");
        // Nine more ports fill the range of ten; the eleventh is refused.
        for i in 0..9 {
            let r = create(json!({"metadata": {"name": format!("lb{i}")},
                "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}))
            .await
            .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED, "lb{i}");
        }
        let r = create(json!({"metadata": {"name": "full"}, "spec": {"type": "NodePort",
            "ports": [{"port": 80}]}}))
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    });
    let mut all: Vec<i64> = (0..9)
        .map(|i| {
            get(&format!("lb{i}"))["spec"]["ports"][0]["nodePort"]
                .as_i64()
                .unwrap()
        })
        .collect();
    all.push(port);
    all.sort_unstable();
    assert_eq!(
        all,
        (31000..=31009).collect::<Vec<i64>>(),
        "each port handed out once"
    );

    let patch = r#"{"spec":{"type":"ClusterIP"}}"#;
    kubectl(
        &ks,
        &["patch", "service", "web", "--type=merge", "-p", patch],
    );
    assert!(get("web")["spec"]["ports"][0].get("nodePort").is_none());
}

#[test]
fn columns_for_cluster_kinds_and_event_wide() {
    let ks = Kubeshard::start(&[]);
    post(
        &ks,
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        json!({"metadata": {"name": "high"}, "value": 1000, "preemptionPolicy": "Never"}),
    );
    post(
        &ks,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
        json!({"metadata": {"name": "rb"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"},
                     {"kind": "ServiceAccount", "name": "bot", "namespace": "ci"}]}),
    );
    post(
        &ks,
        "/apis/storage.k8s.io/v1/storageclasses",
        json!({"metadata": {"name": "std", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "example.io/disk"}),
    );
    post(
        &ks,
        "/api/v1/namespaces/default/events",
        json!({"metadata": {"name": "ev1"}, "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web", "fieldPath": "spec.containers{c}"},
        "reason": "Pulled", "message": "pulled image", "type": "Normal", "count": 2,
        "source": {"component": "kubelet", "host": "node1"}}),
    );

    let out = kubectl(&ks, &["get", "priorityclasses"]);
    assert_eq!(
        header(&out),
        ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("high "))
        .expect("high row");
    assert!(
        row.contains("1000") && row.contains("false") && row.contains("Never"),
        "{row}"
    );

    let out = kubectl(&ks, &["get", "rolebindings", "-o", "wide"]);
    assert_eq!(
        header(&out),
        ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    );
    let row = out.lines().nth(1).unwrap_or("");
    assert!(
        row.contains("ClusterRole/view") && row.contains("alice") && row.contains("ci:bot"),
        "{out}"
    );

    let out = kubectl(&ks, &["get", "storageclasses"]);
    assert_eq!(
        header(&out),
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE"
        ]
    );
    assert!(
        out.contains("std (default)") && out.contains("Immediate"),
        "{out}"
    );

    let out = kubectl(&ks, &["get", "events", "-o", "wide"]);
    assert_eq!(
        header(&out),
        [
            "LAST SEEN",
            "TYPE",
            "REASON",
            "OBJECT",
            "SUBOBJECT",
            "SOURCE",
            "MESSAGE",
            "FIRST SEEN",
            "COUNT",
            "NAME"
        ]
    );
    let row = out.lines().nth(1).unwrap_or("");
    assert!(
        row.contains("pod/web")
            && row.contains("spec.containers{c}")
            && row.contains("kubelet, node1")
            && row.ends_with("ev1"),
        "{out}"
    );
    let out = kubectl(&ks, &["get", "events"]);
    assert_eq!(
        header(&out),
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
}
