//! kubectl 1.32 and later send typed writes as Kubernetes protobuf: `kubectl create ...` must
//! work with them as with kube-apiserver, and a body that is not protobuf is a 400 Status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;
use support::rt;
use support::server::Kubeshard;

fn run(bin: &str, ks: &Kubeshard, args: &[&str]) -> (bool, String, String) {
    support::kubectl_bin(bin, ks, args)
}

fn get(ks: &Kubeshard, path: &str) -> Value {
    rt().block_on(async {
        let r = ks
            .client(true, true)
            .get(ks.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().await.unwrap()
    })
}

#[test]
fn typed_kubectl_creates_in_protobuf() {
    let ks = Kubeshard::start(&[]);
    let mut tried = 0;
    for v in ["1.32", "1.33"] {
        let bin = format!("/usr/lib/google-cloud-sdk/bin/kubectl.{v}");
        if !Path::new(&bin).exists() {
            continue;
        }
        tried += 1;
        let n = v.replace('.', "-");
        let ok = |args: &[&str]| {
            let (good, out, err) = run(&bin, &ks, args);
            assert!(good, "kubectl {v} {args:?}: {err}");
            out
        };
        let ns = format!("ns-{n}");
        assert!(ok(&["create", "namespace", &ns]).contains("created"));
        ok(&["create", "configmap", "c", "-n", &ns, "--from-literal=a=b"]);
        ok(&[
            "create",
            "secret",
            "generic",
            "s",
            "-n",
            &ns,
            "--from-literal=p=hunter2",
        ]);
        ok(&[
            "create",
            "deployment",
            "d",
            "-n",
            &ns,
            "--image=nginx:1",
            "--replicas=2",
            "--port=80",
        ]);
        ok(&[
            "create",
            "deployment",
            "zero",
            "-n",
            &ns,
            "--image=nginx:1",
            "--replicas=0",
        ]);
        ok(&[
            "create",
            "service",
            "clusterip",
            "svc",
            "-n",
            &ns,
            "--tcp=80:8080",
        ]);

        let c = get(&ks, &format!("/api/v1/namespaces/{ns}/configmaps/c"));
        assert_eq!(c["data"], serde_json::json!({"a": "b"}));
        let s = get(&ks, &format!("/api/v1/namespaces/{ns}/secrets/s"));
        assert_eq!(s["data"]["p"], "aHVudGVyMg==");
        assert_eq!(s["type"], "Opaque");
        let d = get(&ks, &format!("/apis/apps/v1/namespaces/{ns}/deployments/d"));
        assert_eq!(d["spec"]["replicas"], 2);
        assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "d");
        let c0 = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c0["image"], "nginx:1");
        assert_eq!(c0["ports"][0]["containerPort"], 80);
        let z = get(
            &ks,
            &format!("/apis/apps/v1/namespaces/{ns}/deployments/zero"),
        );
        assert_eq!(z["spec"]["replicas"], 0);
        let svc = get(&ks, &format!("/api/v1/namespaces/{ns}/services/svc"));
        assert_eq!(svc["spec"]["ports"][0]["port"], 80);
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);

        ok(&["delete", "configmap", "c", "-n", &ns]);
        ok(&["scale", "deployment", "d", "-n", &ns, "--replicas=3"]);
        let d = get(&ks, &format!("/apis/apps/v1/namespaces/{ns}/deployments/d"));
        assert_eq!(d["spec"]["replicas"], 3);
    }
    assert!(tried > 0, "no kubectl 1.32+ on this machine");

    rt().block_on(async {
        let r = ks
            .client(true, true)
            .post(ks.url("/api/v1/namespaces/default/configmaps"))
            .header("Content-Type", "application/vnd.kubernetes.protobuf")
            .body(b"k8s\0\x0a\xff\xff".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let s: Value = r.json().await.unwrap();
        assert_eq!(s["kind"], "Status");
        assert_eq!(s["reason"], "BadRequest");
    });
}
