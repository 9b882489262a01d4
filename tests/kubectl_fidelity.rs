//! A user's everyday kubectl session against kubeshard: apply (twice, with changes), label,
//! annotate, patch of all three types, scale, explain, server-side field validation, and the
//! OpenAPI documents behind them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use support::rt;
use support::server::Kubeshard;

fn kubectl(ks: &Kubeshard, args: &[&str]) -> (bool, String, String) {
    support::kubectl_bin("kubectl", ks, args)
}

fn ok(ks: &Kubeshard, args: &[&str]) -> String {
    let (ok, out, err) = kubectl(ks, args);
    assert!(ok, "kubectl {args:?}: {err}");
    out
}

fn json(ks: &Kubeshard, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&ok(ks, &a)).unwrap()
}

const APP: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1
        env:
        - {name: MODE, value: "slow"}
      - name: sidecar
        image: busybox:1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
data:
  k: v
"#;

#[test]
fn apply_twice_label_annotate_patch_scale() {
    let ks = Kubeshard::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    std::fs::write(&file, APP).unwrap();
    let f = file.to_str().unwrap();

    let out = ok(&ks, &["apply", "-f", f]);
    assert!(out.contains("deployment.apps/web created"), "{out}");
    assert!(out.contains("configmap/conf created"), "{out}");
    // Change the replicas and one container's env; the other container must stay.
    std::fs::write(
        &file,
        APP.replace("replicas: 2", "replicas: 4")
            .replace("value: \"slow\"", "value: \"fast\""),
    )
    .unwrap();
    let out = ok(&ks, &["apply", "-f", f]);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    assert!(out.contains("configmap/conf unchanged"), "{out}");
    let d = json(&ks, &["get", "deployment", "web"]);
    assert_eq!(d["spec"]["replicas"], 4);
    let cs = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(cs.len(), 2);
    assert_eq!(cs[0]["env"][0]["value"], "fast");
    assert_eq!(cs[1]["name"], "sidecar");
    let last = d["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap();
    assert!(last.contains("\"replicas\":4"), "{last}");
    assert_eq!(d["metadata"]["generation"], 2);

    ok(&ks, &["label", "configmap", "conf", "tier=a"]);
    let (good, _, err) = kubectl(&ks, &["label", "configmap", "conf", "tier=b"]);
    assert!(!good && err.contains("already has a value (a)"), "{err}");
    ok(
        &ks,
        &["label", "configmap", "conf", "tier=b", "--overwrite"],
    );
    ok(&ks, &["annotate", "configmap", "conf", "note=hello"]);
    let c = json(&ks, &["get", "configmap", "conf"]);
    assert_eq!(c["metadata"]["labels"]["tier"], "b");
    assert_eq!(c["metadata"]["annotations"]["note"], "hello");
    ok(&ks, &["label", "configmap", "conf", "tier-"]);
    ok(&ks, &["annotate", "configmap", "conf", "note-"]);
    let c = json(&ks, &["get", "configmap", "conf"]);
    assert!(c["metadata"]["labels"].get("tier").is_none(), "{c}");
    assert!(c["metadata"]["annotations"].get("note").is_none(), "{c}");

    ok(
        &ks,
        &[
            "patch",
            "configmap",
            "conf",
            "--type=merge",
            "-p",
            r#"{"data":{"m":"1"}}"#,
        ],
    );
    ok(
        &ks,
        &[
            "patch",
            "configmap",
            "conf",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/data/k","value":"v"},{"op":"replace","path":"/data/k","value":"w"}]"#,
        ],
    );
    let c = json(&ks, &["get", "configmap", "conf"]);
    assert_eq!(c["data"], serde_json::json!({"k": "w", "m": "1"}));
    let (good, _, err) = kubectl(
        &ks,
        &[
            "patch",
            "configmap",
            "conf",
            "--type=json",
            "-p",
            r#"[{"op":"test","path":"/data/k","value":"nope"}]"#,
        ],
    );
    assert!(!good, "a failed test op must fail the patch");
    assert!(err.contains("The request is invalid"), "{err}");
    // Strategic (kubectl's default for built-in kinds): one container changes, one stays.
    ok(
        &ks,
        &[
            "patch",
            "deployment",
            "web",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:2"}]}}}}"#,
        ],
    );
    let d = json(&ks, &["get", "deployment", "web"]);
    let cs = d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!((cs.len(), cs[0]["image"].as_str()), (2, Some("nginx:2")));
    assert_eq!(cs[0]["env"][0]["value"], "fast", "merged, not replaced");

    let out = ok(&ks, &["scale", "deployment", "web", "--replicas=5"]);
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    assert_eq!(
        json(&ks, &["get", "deployment", "web"])["spec"]["replicas"],
        5
    );
    let (good, _, err) = kubectl(&ks, &["scale", "deployment", "web", "--replicas=-1"]);
    assert!(!good, "{err}");

    // A patch that would rename the object is refused.
    let (good, _, err) = kubectl(
        &ks,
        &[
            "patch",
            "configmap",
            "conf",
            "--type=merge",
            "-p",
            r#"{"metadata":{"name":"other"}}"#,
        ],
    );
    assert!(
        !good && err.contains("does not match the name on the URL"),
        "{err}"
    );
}

#[test]
fn field_validation_strict_and_warn() {
    let ks = Kubeshard::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  bogus: 1\ndata:\n  k: v\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let (good, _, err) = kubectl(&ks, &["create", "-f", f]);
    assert!(!good);
    assert!(
        err.contains("strict decoding error: unknown field \"metadata.bogus\""),
        "{err}"
    );
    let (good, out, err) = kubectl(&ks, &["create", "--validate=warn", "-f", f]);
    assert!(good, "{err}");
    assert!(out.contains("configmap/bad created"), "{out}");
    assert!(
        err.contains("Warning: unknown field \"metadata.bogus\""),
        "{err}"
    );
    let c = json(&ks, &["get", "configmap", "bad"]);
    assert!(
        c["metadata"].get("bogus").is_none(),
        "unknown fields are dropped"
    );

    rt().block_on(async {
        let c = ks.client(true, true);
        let r = c
            .post(ks.url("/api/v1/namespaces/default/pods"))
            .json(&serde_json::json!({"metadata": {"name": "p"}, "spec": {}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let s: Value = r.json().await.unwrap();
        assert_eq!(
            s["message"],
            "Pod \"p\" is invalid: spec.containers: Required value"
        );
        assert_eq!(s["details"]["causes"][0]["field"], "spec.containers");
        let r = c
            .post(ks.url("/api/v1/namespaces/default/configmaps?fieldValidation=Bogus"))
            .json(&serde_json::json!({"metadata": {"name": "x"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);

        // Duplicate fields: Strict names every one (after the unknown ones), Warn keeps the
        // last value and warns, Ignore says nothing.
        let dup = r#"{"metadata":{"name":"dup","name":"dup","bogus":1},"data":{"k":"1","k":"2"}}"#;
        let post = |validation: &'static str| {
            c.post(ks.url(&format!(
                "/api/v1/namespaces/default/configmaps?fieldValidation={validation}"
            )))
            .header("Content-Type", "application/json")
            .body(dup)
            .send()
        };
        let r = post("Strict").await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let s: Value = r.json().await.unwrap();
        assert_eq!(
            s["message"],
            r#"strict decoding error: unknown field "metadata.bogus", duplicate field "metadata.name", duplicate field "data.k""#
        );
        let r = post("Warn").await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let warnings: Vec<&str> = r
            .headers()
            .get_all("warning")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            warnings,
            [
                r#"299 - "unknown field \"metadata.bogus\"""#,
                r#"299 - "duplicate field \"metadata.name\"""#,
                r#"299 - "duplicate field \"data.k\"""#
            ]
        );
        let created: Value = r.json().await.unwrap();
        assert_eq!(created["data"]["k"], "2", "the last value wins, as upstream decodes");
        let r = c
            .put(ks.url("/api/v1/namespaces/default/configmaps/dup?fieldValidation=Ignore"))
            .header("Content-Type", "application/json")
            .body(dup)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().get("warning").is_none());
    });
}

#[test]
fn explain_and_openapi_documents() {
    let ks = Kubeshard::start(&[]);
    let out = ok(&ks, &["explain", "deployment.spec.replicas"]);
    assert!(out.contains("KIND:       Deployment"), "{out}");
    assert!(out.contains("replicas <integer>"), "{out}");
    let out = ok(&ks, &["explain", "pods.spec.containers"]);
    assert!(out.contains("containers <[]Container>"), "{out}");
    assert!(out.contains("image\t<string>"), "{out}");

    rt().block_on(async {
        let c = ks.client(true, true);
        let r = c.get(ks.url("/openapi/v3")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        let index: Value = r.json().await.unwrap();
        let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .to_string();
        let r = c
            .get(ks.url("/openapi/v3"))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

        let r = c.get(ks.url(&url)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "public, immutable");
        let doc: Value = r.json().await.unwrap();
        let dep = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            dep["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        let spec = &doc["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentSpec"];
        assert_eq!(spec["properties"]["replicas"]["type"], "integer");

        let stale = c
            .get(ks.url("/openapi/v3/apis/apps/v1?hash=0000"))
            .send()
            .await
            .unwrap();
        // reqwest follows the redirect to the current document.
        assert_eq!(stale.status(), StatusCode::OK);
        assert_eq!(stale.url().as_str(), ks.url(&url));

        let r = c
            .get(ks.url("/openapi/v3/apis/nope/v1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    });
}
