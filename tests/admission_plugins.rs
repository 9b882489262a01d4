//! The admission flags and the built-in plugins kubeshard has, end to end:
//! `DefaultTolerationSeconds` on by default (and its duration flags), `Priority` with the two
//! system PriorityClasses and a global default, `--disable-admission-plugins`
//! turning it off, `--enable-admission-plugins=AlwaysDeny` refusing writes with upstream's 403
//! as kubectl shows it, `ServiceAccount` defaulting the account and mounting the
//! `kube-api-access-*` projected token (or refusing a Pod whose account does not exist, as
//! kubectl shows it), `LimitRanger` defaults and limits from a LimitRange, and upstream's
//! errors for unknown and overlapping plugin names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::rt;
use support::server::Kubeshard;

const PODS: &str = "/api/v1/namespaces/default/pods";

fn pod(name: &str, tolerations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], "tolerations": tolerations}})
}

async fn create(ks: &Kubeshard, body: &Value) -> (u16, Value) {
    let r = ks
        .client(true, true)
        .post(ks.url(PODS))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[test]
fn default_toleration_seconds_and_its_flags() {
    let ks = Kubeshard::start(&["--default-not-ready-toleration-seconds=60"]);
    rt().block_on(async {
        // Pods need their namespace's `default` ServiceAccount (ServiceAccount admission).
        support::namespace_defaults(&ks, "default").await;
        let (code, v) = create(&ks, &pod("plain", json!([]))).await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(
            v["spec"]["tolerations"],
            json!([
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ])
        );
        // A pod that tolerates not-ready itself keeps its own and gets only unreachable's.
        let own = json!([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]);
        let (code, v) = create(&ks, &pod("own", own.clone())).await;
        assert_eq!(code, 201, "{v}");
        let t = v["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(t.len(), 2, "{t:?}");
        assert_eq!(t[0], own[0]);
        assert_eq!(t[1]["key"], "node.kubernetes.io/unreachable");
    });
}

#[test]
fn priority_from_priority_classes() {
    let ks = Kubeshard::start(&[]);
    let spec_pod = |name: &str, spec: Value| {
        let mut p = pod(name, json!([]));
        p["spec"]
            .as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        p
    };
    rt().block_on(async {
        support::namespace_defaults(&ks, "default").await;
        let admin = ks.client(true, true);
        // The system classes exist once the server is up.
        let pcs = "/apis/scheduling.k8s.io/v1/priorityclasses";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let listed: Value = loop {
            let v: Value = admin.get(ks.url(pcs)).send().await.unwrap().json().await.unwrap();
            if v["items"].as_array().is_some_and(|i| i.len() == 2) || std::time::Instant::now() > deadline {
                break v;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        let values: Vec<(String, i64)> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["metadata"]["name"].as_str().unwrap().to_string(), i["value"].as_i64().unwrap()))
            .collect();
        assert_eq!(
            values,
            vec![("system-cluster-critical".into(), 2_000_000_000), ("system-node-critical".into(), 2_000_001_000)]
        );
        // No class: priority 0 and the default preemption policy.
        let (code, v) = create(&ks, &pod("none", json!([]))).await;
        assert_eq!(code, 201, "{v}");
        assert_eq!((v["spec"]["priority"].clone(), v["spec"]["preemptionPolicy"].clone()), (json!(0), json!("PreemptLowerPriority")));
        // A system class.
        let (code, v) = create(&ks, &spec_pod("critical", json!({"priorityClassName": "system-cluster-critical"}))).await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["spec"]["priority"], 2_000_000_000);
        // upstream's refusals.
        let (code, v) = create(&ks, &spec_pod("missing", json!({"priorityClassName": "nope"}))).await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["message"], "pods \"missing\" is forbidden: no PriorityClass with name nope was found");
        let (code, v) = create(&ks, &spec_pod("stated", json!({"priority": 5}))).await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["message"], "pods \"stated\" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name");
        // A global default class names itself in the pods that name none.
        let r = admin
            .post(ks.url(pcs))
            .json(&json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": "everyday"}, "value": 1000, "globalDefault": true, "preemptionPolicy": "Never"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let (code, v) = create(&ks, &pod("defaulted", json!([]))).await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(
            (v["spec"]["priorityClassName"].clone(), v["spec"]["priority"].clone(), v["spec"]["preemptionPolicy"].clone()),
            (json!("everyday"), json!(1000), json!("Never"))
        );
    });
}

#[test]
fn plugins_turned_off_and_on() {
    // ServiceAccount is off too: AlwaysDeny also refuses the controller's `default`
    // ServiceAccount, so ServiceAccount admission would refuse every Pod first (as upstream's).
    let ks = Kubeshard::start(&[
        "--disable-admission-plugins=DefaultTolerationSeconds,ServiceAccount",
        "--enable-admission-plugins=AlwaysDeny",
    ]);
    rt().block_on(async {
        let (code, v) = create(&ks, &pod("p", json!([]))).await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["reason"], "Forbidden");
        assert_eq!(
            v["message"],
            "pods \"p\" is forbidden: admission control is denying all modifications"
        );
        // Reads are not admission's.
        let r = ks
            .client(true, true)
            .get(ks.url(PODS))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pod.yaml");
    std::fs::write(
        &file,
        serde_json::to_string(&pod("from-kubectl", json!([]))).unwrap(),
    )
    .unwrap();
    let (ok, _, err) = support::kubectl_bin(
        "kubectl",
        &ks,
        &["create", "-f", &file.display().to_string()],
    );
    assert!(!ok);
    assert!(
        err.contains("Error from server (Forbidden): error when creating")
            && err.contains("pods \"from-kubectl\" is forbidden: admission control is denying all modifications"),
        "{err}"
    );
}

#[test]
fn unknown_and_overlapping_plugin_names_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let err = support::server::refused_start(
        &dir.path().join("data"),
        &[
            "--enable-admission-plugins=Nope,Priority",
            "--disable-admission-plugins=Priority,Nope2",
        ],
    );
    for want in [
        "enable-admission-plugins plugin \"Nope\" is unknown",
        "disable-admission-plugins plugin \"Nope2\" is unknown",
        "[Priority] in enable-admission-plugins and disable-admission-plugins overlapped",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn service_account_mounts_a_bound_token() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        support::namespace_defaults(&ks, "default").await;
        let (code, v) = create(&ks, &pod("runs-as-default", json!([]))).await;
        assert_eq!(code, 201, "{v}");
        let spec = &v["spec"];
        assert_eq!(spec["serviceAccountName"], "default");
        let volume = &spec["volumes"][0];
        let name = volume["name"].as_str().unwrap();
        assert!(name.starts_with("kube-api-access-"), "{name}");
        assert_eq!(
            volume["projected"],
            json!({"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]})
        );
        assert_eq!(
            spec["containers"][0]["volumeMounts"],
            json!([{"name": name, "readOnly": true, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}])
        );
        // An account that turns automounting off.
        let r = ks
            .client(true, true)
            .post(ks.url("/api/v1/namespaces/default/serviceaccounts"))
            .json(&json!({"metadata": {"name": "quiet"}, "automountServiceAccountToken": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let mut quiet = pod("quiet", json!([]));
        quiet["spec"]["serviceAccountName"] = json!("quiet");
        let (code, v) = create(&ks, &quiet).await;
        assert_eq!(code, 201, "{v}");
        assert!(v["spec"]["volumes"].as_array().is_none_or(Vec::is_empty), "{v}");
    });
    // An account that does not exist, as kubectl shows it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pod.yaml");
    let mut p = pod("lost", json!([]));
    p["spec"]["serviceAccountName"] = json!("nobody");
    std::fs::write(&file, serde_json::to_string(&p).unwrap()).unwrap();
    let (ok, _, err) = support::kubectl_bin(
        "kubectl",
        &ks,
        &["create", "-f", &file.display().to_string()],
    );
    assert!(!ok);
    assert!(
        err.contains("Error from server (Forbidden): error when creating")
            && err.contains("pods \"lost\" is forbidden: error looking up service account default/nobody: serviceaccount \"nobody\" not found"),
        "{err}"
    );
}

#[test]
fn limit_ranger_defaults_and_limits() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = ks.client(true, true);
        let post = |path: &'static str, body: Value| {
            let c = c.clone();
            let url = ks.url(path);
            async move {
                let r = c.post(url).json(&body).send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let (code, v) = post("/api/v1/namespaces", json!({"metadata": {"name": "lr"}})).await;
        assert_eq!(code, 201, "{v}");
        support::namespace_defaults(&ks, "lr").await;
        let (code, v) = post(
            "/api/v1/namespaces/lr/limitranges",
            json!({"metadata": {"name": "limits"}, "spec": {"limits": [{"type": "Container",
                "default": {"cpu": "500m", "memory": "128Mi"}, "defaultRequest": {"cpu": "100m"},
                "max": {"cpu": "1"}}]}}),
        )
        .await;
        assert_eq!(code, 201, "{v}");
        // Each shard reads LimitRanges from its own replica: wait until a dry run is defaulted
        // on twelve fresh connections in a row.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let mut in_a_row = 0;
        while in_a_row < 12 {
            let (code, v) = post("/api/v1/namespaces/lr/pods?dryRun=All", pod("probe", json!([]))).await;
            assert_eq!(code, 201, "{v}");
            if v["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "500m" {
                in_a_row += 1;
            } else {
                in_a_row = 0;
                assert!(std::time::Instant::now() < deadline, "never defaulted: {v}");
            }
        }
        let (code, v) = post("/api/v1/namespaces/lr/pods", pod("defaulted", json!([]))).await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(
            v["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}})
        );
        assert_eq!(
            v["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
            // The stored LimitRange's defaultRequest took the memory default (upstream's
            // LimitRange defaults).
            "LimitRanger plugin set: cpu, memory request for container c; cpu, memory limit for container c"
        );
        let mut big = pod("big", json!([]));
        big["spec"]["containers"][0]["resources"] = json!({"limits": {"cpu": "2"}});
        let (code, v) = post("/api/v1/namespaces/lr/pods", big).await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["message"], "pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2");
    });
}

/// Posts `body` to `path` until twelve answers in a row (fresh connections, spread over the
/// shards, whose replicas see new objects one after the other) satisfy `ok`; the last answer.
async fn settled(
    ks: &Kubeshard,
    path: &str,
    body: &Value,
    ok: impl Fn(u16, &Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut in_a_row = 0;
    loop {
        let r = ks
            .client(true, true)
            .post(ks.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let code = r.status().as_u16();
        let v: Value = r.json().await.unwrap();
        if ok(code, &v) {
            in_a_row += 1;
            if in_a_row == 12 {
                return v;
            }
        } else {
            in_a_row = 0;
            assert!(
                std::time::Instant::now() < deadline,
                "never settled: {code} {v}"
            );
        }
    }
}

async fn created(ks: &Kubeshard, path: &str, body: Value) -> Value {
    let r = ks
        .client(true, true)
        .post(ks.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    assert_eq!(code, 201, "{path}: {v}");
    v
}

#[test]
fn storage_ingress_node_runtime_and_certificate_plugins() {
    let ks = Kubeshard::start(&["--enable-admission-plugins=AlwaysPullImages"]);
    rt().block_on(async {
        support::namespace_defaults(&ks, "default").await;
        // DefaultStorageClass.
        created(&ks, "/apis/storage.k8s.io/v1/storageclasses", json!({"metadata": {"name": "fast",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "example.com/fast"})).await;
        let claim = |name: &str| json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}}});
        let pvcs = "/api/v1/namespaces/default/persistentvolumeclaims";
        settled(&ks, &format!("{pvcs}?dryRun=All"), &claim("probe"), |c, v| c == 201 && v["spec"]["storageClassName"] == "fast").await;
        let v = created(&ks, pvcs, claim("data")).await;
        assert_eq!(v["spec"]["storageClassName"], "fast");
        let mut none = claim("no-class");
        none["spec"]["storageClassName"] = json!("");
        let v = created(&ks, pvcs, none).await;
        assert_eq!(v["spec"]["storageClassName"], "", "an explicit empty class stays");
        // PersistentVolumeClaimResize: growing needs a bound claim and an expandable class.
        let grow = json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}});
        let patch = |path: String, body: Value| {
            let c = ks.client(true, true);
            let url = ks.url(&path);
            async move {
                let r = c.patch(url).header("content-type", "application/merge-patch+json").json(&body).send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let (code, v) = patch(format!("{pvcs}/data"), grow.clone()).await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["message"], "persistentvolumeclaims \"data\" is forbidden: Only bound persistent volume claims can be expanded");
        let (code, v) = patch(format!("{pvcs}/data/status"), json!({"status": {"phase": "Bound"}})).await;
        assert_eq!(code, 200, "{v}");
        let (code, v) = patch(format!("{pvcs}/data"), grow).await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["message"], "persistentvolumeclaims \"data\" is forbidden: only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize");
        // DefaultIngressClass.
        created(&ks, "/apis/networking.k8s.io/v1/ingressclasses", json!({"metadata": {"name": "nginx",
            "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}}, "spec": {"controller": "k8s.io/ingress-nginx"}})).await;
        let ingress = json!({"metadata": {"name": "web"}, "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}});
        let ingresses = "/apis/networking.k8s.io/v1/namespaces/default/ingresses";
        settled(&ks, &format!("{ingresses}?dryRun=All"), &ingress, |c, v| c == 201 && v["spec"]["ingressClassName"] == "nginx").await;
        // TaintNodesByCondition.
        let v = created(&ks, "/api/v1/nodes", json!({"metadata": {"name": "n1"}})).await;
        assert_eq!(v["spec"]["taints"], json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]));
        // RuntimeClass, and AlwaysPullImages (enabled here).
        let mut sandboxed = pod("sandboxed", json!([]));
        sandboxed["spec"]["runtimeClassName"] = json!("gvisor");
        let (code, v) = create(&ks, &sandboxed).await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["message"], "pods \"sandboxed\" is forbidden: pod rejected: RuntimeClass \"gvisor\" not found");
        created(&ks, "/apis/node.k8s.io/v1/runtimeclasses", json!({"metadata": {"name": "gvisor"}, "handler": "runsc",
            "overhead": {"podFixed": {"cpu": "250m"}}, "scheduling": {"nodeSelector": {"sandbox": "true"},
            "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}]}})).await;
        let v = settled(&ks, &format!("{PODS}?dryRun=All"), &sandboxed, |c, _| c == 201).await;
        assert_eq!(v["spec"]["overhead"], json!({"cpu": "250m"}));
        assert_eq!(v["spec"]["nodeSelector"], json!({"sandbox": "true"}));
        assert!(v["spec"]["tolerations"].as_array().unwrap().contains(&json!({"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"})), "{v}");
        assert_eq!(v["spec"]["containers"][0]["imagePullPolicy"], "Always");
        sandboxed["spec"]["nodeSelector"] = json!({"sandbox": "false"});
        let (code, v) = create(&ks, &sandboxed).await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["message"], "pods \"sandboxed\" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[sandbox] = true; pod.spec.nodeSelector[sandbox] = false");
        // CertificateSubjectRestriction.
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "mallory");
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "system:masters");
        let pem = params.serialize_request(&key).unwrap().pem().unwrap();
        use base64::Engine;
        let request = base64::engine::general_purpose::STANDARD.encode(pem);
        let r = ks.client(true, true).post(ks.url("/apis/certificates.k8s.io/v1/certificatesigningrequests"))
            .json(&json!({"metadata": {"name": "escalate"}, "spec": {"request": request,
                "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"]}}))
            .send().await.unwrap();
        assert_eq!(r.status(), 403);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["message"], "certificatesigningrequests.certificates.k8s.io \"escalate\" is forbidden: use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed");
    });
}

#[test]
fn storage_objects_in_use_are_protected() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        support::namespace_defaults(&ks, "default").await;
        let c = ks.client(true, true);
        let pvcs = "/api/v1/namespaces/default/persistentvolumeclaims";
        let claim = |name: &str| json!({"metadata": {"name": name}, "spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}}}});
        let v = created(&ks, pvcs, claim("used")).await;
        assert_eq!(v["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]));
        created(&ks, pvcs, claim("unused")).await;
        let v = created(&ks, "/api/v1/persistentvolumes", json!({"metadata": {"name": "pv1"}, "spec": {
            "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/pv1"}}})).await;
        assert_eq!(v["metadata"]["finalizers"], json!(["kubernetes.io/pv-protection"]));
        let mut user = pod("user", json!([]));
        user["spec"]["nodeName"] = json!("n1");
        user["spec"]["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": "used"}}]);
        let (code, v) = create(&ks, &user).await;
        assert_eq!(code, 201, "{v}");
        for path in [format!("{pvcs}/used"), format!("{pvcs}/unused"), "/api/v1/persistentvolumes/pv1".to_string()] {
            let r = c.delete(ks.url(&path)).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
        }
        let gone = |path: String| {
            let c = c.clone();
            let url = ks.url(&path);
            async move {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                loop {
                    if c.get(&url).send().await.unwrap().status() == 404 {
                        return;
                    }
                    assert!(std::time::Instant::now() < deadline, "{path} never went away");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        };
        gone(format!("{pvcs}/unused")).await;
        gone("/api/v1/persistentvolumes/pv1".to_string()).await;
        // The claim a scheduled Pod uses stays, deleting, until the Pod is gone.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let v: Value = c.get(ks.url(&format!("{pvcs}/used"))).send().await.unwrap().json().await.unwrap();
        assert!(v["metadata"]["deletionTimestamp"].is_string(), "{v}");
        let r = c.delete(ks.url(&format!("{PODS}/user?gracePeriodSeconds=0"))).send().await.unwrap();
        assert!(r.status().is_success());
        gone(format!("{pvcs}/used")).await;
    });
}
