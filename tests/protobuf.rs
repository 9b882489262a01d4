//! kubectl 1.32 and later send typed writes as Kubernetes protobuf: `kubectl create ...` must
//! work with them as with kube-apiserver, and a body that is not protobuf is a 400 Status. A
//! client that accepts only protobuf gets every answer (objects, lists, Status errors, watch
//! streams) in protobuf, read back here with the k8s-pb crate's generated types.
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

const PB: &str = "application/vnd.kubernetes.protobuf";

/// The object inside a protobuf body's `k8s\0` + `runtime.Unknown` envelope.
fn unwrap_envelope(body: &[u8]) -> (String, Vec<u8>) {
    use prost::Message;
    assert_eq!(&body[..4], b"k8s\0", "protobuf magic");
    let u = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(&body[4..]).unwrap();
    let kind = u.type_meta.and_then(|t| t.kind).unwrap_or_default();
    (kind, u.raw.unwrap_or_default())
}

#[test]
fn protobuf_only_clients_get_protobuf_answers() {
    use k8s_pb::api::core::v1 as core;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
    use prost::Message;

    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        support::namespace_defaults(&ks, "default").await;
        let c = ks.client(true, false);
        let base = "/api/v1/namespaces/default/configmaps";
        let created = c
            .post(ks.url(base))
            .header("Accept", PB)
            .json(&serde_json::json!({"metadata": {"name": "pb"}, "data": {"k": "v"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(created.headers()["content-type"], PB);
        let (kind, raw) = unwrap_envelope(&created.bytes().await.unwrap());
        assert_eq!(kind, "ConfigMap");
        let cm = core::ConfigMap::decode(&raw[..]).unwrap();
        assert_eq!(cm.data["k"], "v");
        let rv = cm.metadata.unwrap().resource_version.unwrap();

        let list = c
            .get(ks.url(base))
            .header("Accept", PB)
            .send()
            .await
            .unwrap();
        let (kind, raw) = unwrap_envelope(&list.bytes().await.unwrap());
        assert_eq!(kind, "ConfigMapList");
        let list = core::ConfigMapList::decode(&raw[..]).unwrap();
        let names: Vec<_> = list
            .items
            .iter()
            .map(|i| i.metadata.as_ref().unwrap().name())
            .collect();
        assert_eq!(names, ["kube-root-ca.crt", "pb"]);
        assert!(list.metadata.unwrap().resource_version.is_some());

        let missing = c
            .get(ks.url(&format!("{base}/nope")))
            .header("Accept", PB)
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        let (kind, raw) = unwrap_envelope(&missing.bytes().await.unwrap());
        assert_eq!(kind, "Status");
        let status = meta::Status::decode(&raw[..]).unwrap();
        assert_eq!(
            status.message.as_deref(),
            Some(r#"configmaps "nope" not found"#)
        );

        // A watch from the create's revision: one MODIFIED frame after an update.
        let watch = c
            .get(ks.url(&format!(
                "{base}?watch=1&resourceVersion={rv}&timeoutSeconds=2"
            )))
            .header("Accept", PB)
            .send()
            .await
            .unwrap();
        assert_eq!(
            watch.headers()["content-type"],
            "application/vnd.kubernetes.protobuf;stream=watch"
        );
        let put = c
            .put(ks.url(&format!("{base}/pb")))
            .json(&serde_json::json!({"metadata": {"name": "pb"}, "data": {"k": "w"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), StatusCode::OK);
        let body = watch.bytes().await.unwrap();
        let len = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
        let ev = meta::WatchEvent::decode(&body[4..4 + len]).unwrap();
        assert_eq!(ev.r#type.as_deref(), Some("MODIFIED"));
        let (kind, raw) = unwrap_envelope(&ev.object.unwrap().raw.unwrap());
        assert_eq!(kind, "ConfigMap");
        assert_eq!(core::ConfigMap::decode(&raw[..]).unwrap().data["k"], "w");
        assert_eq!(
            body.len(),
            4 + len,
            "one event, then the timeout ends the stream"
        );

        // A client taking both gets JSON, as before.
        let both = c
            .get(ks.url(base))
            .header(
                "Accept",
                "application/vnd.kubernetes.protobuf,application/json",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(both.headers()["content-type"], "application/json");
    });
}
