//! The built-in kinds and subresources a scheduler, `kubectl drain` and `kubectl
//! certificate` use, end to end over real TLS on one server: `pods/binding` and `bindings`,
//! `pods/eviction` against a PodDisruptionBudget the in-process disruption controller keeps,
//! CertificateSigningRequests approved with kubectl and signed by the in-process signer (the
//! certificate then authenticates), and `componentstatuses`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::rt;
use support::server::Kubeshard;

fn kubectl(ks: &Kubeshard, args: &[&str]) -> (bool, String, String) {
    support::kubectl_bin("/usr/bin/kubectl", ks, args)
}

/// A client and the server it talks to.
struct At<'a> {
    ks: &'a Kubeshard,
    c: reqwest::Client,
}

async fn send(at: &At<'_>, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (ks, c) = (at.ks, &at.c);
    let mut req = c.request(method.parse().unwrap(), ks.url(path));
    if let Some(b) = body {
        let ct = if method == "PATCH" {
            "application/merge-patch+json"
        } else {
            "application/json"
        };
        req = req.header("content-type", ct).body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let code = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn namespace(c: &At<'_>, ns: &str) {
    let (code, body) = send(
        c,
        "POST",
        "/api/v1/namespaces",
        Some(json!({"metadata": {"name": ns}})),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    support::namespace_defaults(c.ks, ns).await;
}

async fn pod(c: &At<'_>, ns: &str, name: &str, labels: Value) {
    let body = json!({"metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    let (code, got) = send(
        c,
        "POST",
        &format!("/api/v1/namespaces/{ns}/pods"),
        Some(body),
    )
    .await;
    assert_eq!(code, 201, "{got}");
}

fn binding(name: &str, node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
}

#[test]
fn a_scheduler_binds_a_pod_once() {
    rt().block_on(async {
        let ks = Kubeshard::start(&[]);
        let c = At { ks: &ks, c: ks.client(true, true) };
        namespace(&c, "bind").await;
        pod(&c, "bind", "p1", json!({})).await;
        let (code, body) = send(&c, "POST", "/api/v1/namespaces/bind/pods/p1/binding", Some(binding("p1", "n1"))).await;
        assert_eq!((code, body.clone()), (201, json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})), "{body}");
        let (_, p) = send(&c, "GET", "/api/v1/namespaces/bind/pods/p1", None).await;
        assert_eq!(p["spec"]["nodeName"], "n1");
        let scheduled: Vec<&Value> = p["status"]["conditions"].as_array().unwrap().iter().filter(|c| c["type"] == "PodScheduled").collect();
        assert_eq!(scheduled.len(), 1, "{p}");
        assert_eq!(scheduled[0]["status"], "True");
        // A second binding is upstream's 409.
        let (code, body) = send(&c, "POST", "/api/v1/namespaces/bind/pods/p1/binding", Some(binding("p1", "n2"))).await;
        assert_eq!(code, 409, "{body}");
        assert_eq!(body["message"], "Operation cannot be fulfilled on pods/binding \"p1\": pod p1 is already assigned to node \"n1\"");
        // The names must agree.
        let (code, body) = send(&c, "POST", "/api/v1/namespaces/bind/pods/p1/binding", Some(binding("other", "n1"))).await;
        assert_eq!((code, body["message"].as_str()), (400, Some("name in URL does not match name in Binding object")));
        // The core `bindings` resource names the Pod in the body.
        pod(&c, "bind", "p2", json!({})).await;
        let (code, body) = send(&c, "POST", "/api/v1/namespaces/bind/bindings", Some(binding("p2", "n3"))).await;
        assert_eq!(code, 201, "{body}");
        let (_, p) = send(&c, "GET", "/api/v1/namespaces/bind/pods/p2", None).await;
        assert_eq!(p["spec"]["nodeName"], "n3");
        // A Binding to no node is refused, a missing Pod is 404.
        let mut bad = binding("p2", "");
        bad["target"]["name"] = json!("");
        let (code, _) = send(&c, "POST", "/api/v1/namespaces/bind/pods/p2/binding", Some(bad)).await;
        assert_eq!(code, 500);
        let (code, body) = send(&c, "POST", "/api/v1/namespaces/bind/pods/nope/binding", Some(binding("nope", "n1"))).await;
        assert_eq!((code, body["reason"].as_str()), (404, Some("NotFound")), "{body}");
    });
}

async fn wait_for(c: &At<'_>, path: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = send(c, "GET", path, None).await;
        if ok(&v) {
            return v;
        }
        assert!(Instant::now() < until, "{what}: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[test]
fn kubectl_drain_evicts_what_the_budget_allows_and_gets_429_for_the_rest() {
    rt().block_on(async {
        let ks = Kubeshard::start(&[]);
        let c = At { ks: &ks, c: ks.client(true, true) };
        namespace(&c, "drain").await;
        let (code, body) = send(&c, "POST", "/api/v1/nodes", Some(json!({"metadata": {"name": "drain-node"}}))).await;
        assert_eq!(code, 201, "{body}");
        for p in ["web1", "web2"] {
            pod(&c, "drain", p, json!({"app": "web"})).await;
            let (code, _) = send(&c, "POST", &format!("/api/v1/namespaces/drain/pods/{p}/binding"), Some(binding(p, "drain-node"))).await;
            assert_eq!(code, 201);
            let ready = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
            let (code, body) = send(&c, "PATCH", &format!("/api/v1/namespaces/drain/pods/{p}/status"), Some(ready)).await;
            assert_eq!(code, 200, "{body}");
        }
        let pdb = json!({"metadata": {"name": "web"}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}});
        let (code, body) = send(&c, "POST", "/apis/policy/v1/namespaces/drain/poddisruptionbudgets", Some(pdb)).await;
        assert_eq!(code, 201, "{body}");
        let st = wait_for(&c, "/apis/policy/v1/namespaces/drain/poddisruptionbudgets/web", "the controller counts the budget", |v| v["status"]["disruptionsAllowed"] == 1).await;
        assert_eq!((st["status"]["currentHealthy"].as_i64(), st["status"]["desiredHealthy"].as_i64(), st["status"]["expectedPods"].as_i64(), st["status"]["observedGeneration"].as_i64()), (Some(2), Some(1), Some(2), Some(1)), "{st}");
        let (ok, out, err) = kubectl(c.ks, &["drain", "drain-node", "--force", "--timeout=6s"]);
        assert!(!ok, "{out}{err}");
        assert!(err.contains("Cannot evict pod as it would violate the pod's disruption budget") || err.contains("global timeout reached"), "{err}");
        let (_, pods) = send(&c, "GET", "/api/v1/namespaces/drain/pods", None).await;
        let left: Vec<&str> = pods["items"].as_array().unwrap().iter().map(|p| p["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(left.len(), 1, "one Pod evicted, one kept: {left:?}");
        let (_, node) = send(&c, "GET", "/api/v1/nodes/drain-node", None).await;
        assert_eq!(node["spec"]["unschedulable"], true);
        // The budget recorded the eviction and allows no more; a direct eviction is a 429.
        let st = wait_for(&c, "/apis/policy/v1/namespaces/drain/poddisruptionbudgets/web", "the budget allows nothing", |v| v["status"]["disruptionsAllowed"] == 0).await;
        assert_eq!(st["status"]["conditions"][0]["reason"], "InsufficientPods", "{st}");
        let ev = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": left[0], "namespace": "drain"}});
        let (code, body) = send(&c, "POST", &format!("/api/v1/namespaces/drain/pods/{}/eviction", left[0]), Some(ev)).await;
        assert_eq!(code, 429, "{body}");
        assert_eq!(body["message"], "Cannot evict pod as it would violate the pod's disruption budget.");
        assert_eq!(body["details"]["causes"][0], json!({"reason": "DisruptionBudget", "message": "The disruption budget web needs 1 healthy pods and has 1 currently"}));
        // A Pod no budget covers goes at once; a Pending one too.
        pod(&c, "drain", "free", json!({"app": "other"})).await;
        let ev = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "free"}});
        let (code, body) = send(&c, "POST", "/api/v1/namespaces/drain/pods/free/eviction", Some(ev)).await;
        assert_eq!((code, body["status"].as_str()), (201, Some("Success")), "{body}");
        let (code, _) = send(&c, "GET", "/api/v1/namespaces/drain/pods/free", None).await;
        assert_eq!(code, 404);
    });
}

#[test]
fn a_client_certificate_through_a_csr_approved_with_kubectl() {
    rt().block_on(async {
        let ks = Kubeshard::start(&[]);
        let c = At { ks: &ks, c: ks.client(true, true) };
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, "jane");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "devs");
        let csr_pem = params.serialize_request(&key).unwrap().pem().unwrap();
        use base64::Engine;
        let request = base64::engine::general_purpose::STANDARD.encode(csr_pem.as_bytes());
        let csr = |name: &str| json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": request, "signerName": "kubernetes.io/kube-apiserver-client", "expirationSeconds": 86400, "usages": ["client auth"]}});
        let (code, body) = send(&c, "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", Some(csr("jane"))).await;
        assert_eq!(code, 201, "{body}");
        assert_eq!(body["spec"]["username"], "kubeshard-admin", "the requester is who created it");
        let (ok, out, _) = kubectl(c.ks, &["get", "csr", "jane"]);
        assert!(ok && out.contains("Pending") && out.contains("kubeshard-admin") && out.contains("24h"), "{out}");
        let (ok, out, err) = kubectl(c.ks, &["certificate", "approve", "jane"]);
        assert!(ok, "{out}{err}");
        let got = wait_for(&c, "/apis/certificates.k8s.io/v1/certificatesigningrequests/jane", "the signer issues", |v| v["status"]["certificate"].is_string()).await;
        let (ok, out, _) = kubectl(c.ks, &["get", "csr", "jane"]);
        assert!(ok && out.contains("Approved,Issued"), "{out}");
        let cert = base64::engine::general_purpose::STANDARD.decode(got["status"]["certificate"].as_str().unwrap()).unwrap();
        // The certificate authenticates as jane in devs.
        let mut pem = cert.clone();
        pem.extend(key.serialize_pem().as_bytes());
        let ca = reqwest::Certificate::from_pem(&ks.ca_pem()).unwrap();
        let jane = reqwest::Client::builder().use_rustls_tls().tls_built_in_root_certs(false).add_root_certificate(ca)
            .identity(reqwest::Identity::from_pem(&pem).unwrap()).build().unwrap();
        let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
        let jane = At { ks: &ks, c: jane };
        let (code, body) = send(&jane, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", Some(review)).await;
        assert_eq!(code, 201, "{body}");
        assert_eq!(body["status"]["userInfo"]["username"], "jane");
        assert!(body["status"]["userInfo"]["groups"].as_array().unwrap().contains(&json!("devs")), "{body}");
        // The spec never changes; a denied request cannot then be approved.
        let (code, body) = send(&c, "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", Some(csr("joe"))).await;
        assert_eq!(code, 201, "{body}");
        let (ok, out, err) = kubectl(c.ks, &["certificate", "deny", "joe"]);
        assert!(ok, "{out}{err}");
        let (_, mut joe) = send(&c, "GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests/joe", None).await;
        joe["status"]["conditions"].as_array_mut().unwrap().push(json!({"type": "Approved", "status": "True", "reason": "R"}));
        let (code, body) = send(&c, "PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/joe/approval", Some(joe)).await;
        assert_eq!(code, 422, "{body}");
        assert!(body["message"].as_str().unwrap().contains("Approved and Denied conditions are mutually exclusive"), "{body}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (_, joe) = send(&c, "GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests/joe", None).await;
        assert!(joe["status"]["certificate"].is_null(), "a denied request is never signed: {joe}");
        // Bad requests are 422 with upstream's fields.
        let mut bad = csr("bad");
        bad["spec"]["request"] = json!(base64::engine::general_purpose::STANDARD.encode("nonsense"));
        bad["spec"]["expirationSeconds"] = json!(60);
        bad["spec"].as_object_mut().unwrap().remove("signerName");
        let (code, body) = send(&c, "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", Some(bad)).await;
        assert_eq!(code, 422, "{body}");
        let fields: Vec<&str> = body["details"]["causes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["spec.request", "spec.signerName", "spec.expirationSeconds"], "{body}");
    });
}

#[test]
fn componentstatuses_report_the_storage_backend() {
    let ks = Kubeshard::start(&[]);
    let c = At {
        ks: &ks,
        c: ks.client(true, true),
    };
    let (ok, out, err) = kubectl(c.ks, &["get", "componentstatuses"]);
    assert!(ok, "{err}");
    assert!(
        err.contains("v1 ComponentStatus is deprecated in v1.19+"),
        "{err}"
    );
    let row = out
        .lines()
        .find(|l| l.starts_with("etcd-0"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.contains("Healthy") && row.contains("ok"), "{out}");
    assert!(out.lines().next().unwrap().contains("STATUS"), "{out}");
    let (ok, out, _) = kubectl(
        c.ks,
        &[
            "get",
            "cs",
            "etcd-0",
            "-o",
            "jsonpath={.conditions[0].status}",
        ],
    );
    assert!(ok);
    assert_eq!(out, "True");
    let (ok, _, err) = kubectl(c.ks, &["get", "cs", "nope"]);
    assert!(!ok && err.contains("Component not found: nope"), "{err}");
}

/// The text of a 422's message and its causes' fields, for asserting on.
fn invalid(code: u16, body: &Value) -> String {
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["reason"], "Invalid", "{body}");
    assert!(
        body["details"]["causes"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "{body}"
    );
    body["message"].as_str().unwrap().to_string()
}

#[test]
fn csi_address_and_device_kinds_default_validate_and_print() {
    let ks = Kubeshard::start(&[]);
    let c = At {
        ks: &ks,
        c: ks.client(true, true),
    };
    rt().block_on(async {
        // CSIDriver: upstream's defaults, and the fields an update may not change.
        let drivers = "/apis/storage.k8s.io/v1/csidrivers";
        let (code, d) = send(&c, "POST", drivers, Some(json!({"metadata": {"name": "csi.example.com"}, "spec": {}}))).await;
        assert_eq!(code, 201, "{d}");
        assert_eq!(d["spec"]["attachRequired"], true);
        assert_eq!(d["spec"]["fsGroupPolicy"], "ReadWriteOnceWithFSType");
        assert_eq!(d["spec"]["volumeLifecycleModes"], json!(["Persistent"]));
        let (code, body) = send(&c, "PATCH", &format!("{drivers}/csi.example.com"), Some(json!({"spec": {"attachRequired": false}}))).await;
        let msg = invalid(code, &body);
        assert_eq!(msg, "CSIDriver.storage.k8s.io \"csi.example.com\" is invalid: spec.attachedRequired: Invalid value: false: field is immutable");
        let (code, _) = send(&c, "PATCH", &format!("{drivers}/csi.example.com"), Some(json!({"spec": {"storageCapacity": true}}))).await;
        assert_eq!(code, 200);

        // VolumeAttachment: exactly one source; then printed as upstream's columns.
        let attachments = "/apis/storage.k8s.io/v1/volumeattachments";
        let va = json!({"metadata": {"name": "va1"}, "spec": {"attacher": "csi.example.com", "nodeName": "node-1", "source": {}}});
        let (code, body) = send(&c, "POST", attachments, Some(va.clone())).await;
        assert!(invalid(code, &body).contains("spec.source: Required value: must specify exactly one of inlineVolumeSpec and persistentVolumeName"), "{body}");
        let mut va = va;
        va["spec"]["source"] = json!({"persistentVolumeName": "pv-1"});
        let (code, body) = send(&c, "POST", attachments, Some(va)).await;
        assert_eq!(code, 201, "{body}");
        let (ok, out, err) = kubectl(c.ks, &["get", "volumeattachments"]);
        assert!(ok, "{err}");
        let mut lines = out.lines();
        let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(head, ["NAME", "ATTACHER", "PV", "NODE", "ATTACHED", "AGE"], "{out}");
        let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(row[..5], ["va1", "csi.example.com", "pv-1", "node-1", "false"], "{out}");
        let (ok, out, err) = kubectl(c.ks, &["get", "csidrivers"]);
        assert!(ok, "{err}");
        assert!(out.lines().next().unwrap().contains("ATTACHREQUIRED   PODINFOONMOUNT   STORAGECAPACITY   TOKENREQUESTS   REQUIRESREPUBLISH   MODES"), "{out}");
        assert!(out.contains("<unset>") && out.contains("Persistent"), "{out}");

        // IPAddress: named by its canonical address, IPv6 included.
        let ips = "/apis/networking.k8s.io/v1/ipaddresses";
        let parent = json!({"group": "", "resource": "services", "namespace": "default", "name": "web"});
        let (code, body) = send(&c, "POST", ips, Some(json!({"metadata": {"name": "fd00::10"}, "spec": {"parentRef": parent}}))).await;
        assert_eq!(code, 201, "{body}");
        let (code, body) = send(&c, "POST", ips, Some(json!({"metadata": {"name": "fd00:0::11"}, "spec": {"parentRef": parent}}))).await;
        assert!(invalid(code, &body).contains("metadata.name: Invalid value: \"fd00:0::11\": must be in canonical form (\"fd00::11\")"), "{body}");
        let (code, body) = send(&c, "POST", ips, Some(json!({"metadata": {"name": "fd00::12"}, "spec": {}}))).await;
        assert!(invalid(code, &body).contains("spec.parentRef: Required value"), "{body}");

        // ServiceCIDR: canonical ranges that may only grow to dual-stack.
        let cidrs = "/apis/networking.k8s.io/v1/servicecidrs";
        let (code, body) = send(&c, "POST", cidrs, Some(json!({"metadata": {"name": "extra"}, "spec": {"cidrs": ["10.200.0.1/16"]}}))).await;
        assert!(invalid(code, &body).contains("spec.cidrs[0]: Invalid value: \"10.200.0.1/16\": must not have bits set beyond the prefix length"), "{body}");
        let (code, body) = send(&c, "POST", cidrs, Some(json!({"metadata": {"name": "extra"}, "spec": {"cidrs": ["10.200.0.0/16"]}}))).await;
        assert_eq!(code, 201, "{body}");
        let (code, body) = send(&c, "PATCH", &format!("{cidrs}/extra"), Some(json!({"spec": {"cidrs": ["10.201.0.0/16"]}}))).await;
        assert!(invalid(code, &body).contains("spec.cidrs[0]: Invalid value: \"10.201.0.0/16\": field is immutable"), "{body}");
        let (code, body) = send(&c, "PATCH", &format!("{cidrs}/extra"), Some(json!({"spec": {"cidrs": ["10.200.0.0/16", "fd00:200::/108"]}}))).await;
        assert_eq!(code, 200, "{body}");

        // ResourceClaim: requests defaulted to one device, the spec fixed once created.
        let claims = "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims";
        let claim = json!({"metadata": {"name": "gpu"}, "spec": {"devices": {"requests": [
            {"name": "gpu", "exactly": {"deviceClassName": "gpu.example.com"}}]}}});
        let (code, body) = send(&c, "POST", claims, Some(claim)).await;
        assert_eq!(code, 201, "{body}");
        assert_eq!(body["spec"]["devices"]["requests"][0]["exactly"]["allocationMode"], "ExactCount");
        assert_eq!(body["spec"]["devices"]["requests"][0]["exactly"]["count"], 1);
        let (code, body) = send(&c, "PATCH", &format!("{claims}/gpu"), Some(json!({"spec": {"devices": {"requests": [
            {"name": "gpu", "exactly": {"deviceClassName": "other"}}]}}}))).await;
        assert!(invalid(code, &body).contains("spec: Invalid value: "), "{body}");
        let (code, body) = send(&c, "POST", claims, Some(json!({"metadata": {"name": "bad"}, "spec": {"devices": {"requests": [{"name": "r"}]}}}))).await;
        assert!(invalid(code, &body).contains("spec.devices.requests[0]: Required value: exactly one of `exactly` or `firstAvailable` is required"), "{body}");
        let (ok, out, err) = kubectl(c.ks, &["get", "resourceclaims"]);
        assert!(ok, "{err}");
        let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(row[..2], ["gpu", "pending"], "{out}");
    });
}
