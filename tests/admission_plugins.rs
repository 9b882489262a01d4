//! The admission flags and the built-in plugins kubeshard has, end to end:
//! `DefaultTolerationSeconds` on by default (and its duration flags), `--disable-admission-plugins`
//! turning it off, `--enable-admission-plugins=AlwaysDeny` refusing writes with upstream's 403
//! as kubectl shows it, and upstream's errors for unknown and overlapping plugin names.
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
fn plugins_turned_off_and_on() {
    let ks = Kubeshard::start(&[
        "--disable-admission-plugins=DefaultTolerationSeconds",
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
    let out = std::process::Command::new(support::server::binary())
        .args([
            "--enable-admission-plugins=Nope,Priority",
            "--disable-admission-plugins=Priority,Nope2",
            &format!("--data-dir={}", dir.path().join("data").display()),
            "--bind-address=127.0.0.1",
            &format!("--secure-port={}", support::server::free_port()),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "enable-admission-plugins plugin \"Nope\" is unknown",
        "disable-admission-plugins plugin \"Nope2\" is unknown",
        "[Priority] in enable-admission-plugins and disable-admission-plugins overlapped",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
}
