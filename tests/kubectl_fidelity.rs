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

    // A merge patch of the ConfigMap that kubectl reports refused: its error output.
    let refused = |patch: &str| {
        let (good, _, err) = kubectl(
            &ks,
            &["patch", "configmap", "conf", "--type=merge", "-p", patch],
        );
        assert!(!good, "{patch} was applied: {err}");
        err
    };
    // A patch that would rename the object is refused.
    let err = refused(r#"{"metadata":{"name":"other"}}"#);
    assert!(err.contains("does not match the name on the URL"), "{err}");
    // Nor may a patch change the uid (422, where a PUT's uid is a 409 precondition).
    let err = refused(r#"{"metadata":{"uid":"abc"}}"#);
    assert!(
        err.contains(r#"The ConfigMap "conf" is invalid: metadata.uid: Invalid value: "abc": field is immutable"#),
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
        // ServiceAccount admission runs before validation and needs the `default` account.
        support::namespace_defaults(&ks, "default").await;
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
    // The int-or-string and quantity types are named, as upstream's v3 schemas make kubectl do.
    let out = ok(&ks, &["explain", "service.spec.ports.targetPort"]);
    assert!(out.contains("FIELD: targetPort <IntOrString>"), "{out}");
    let out = ok(&ks, &["explain", "pod.spec.containers.resources.limits"]);
    assert!(out.contains("FIELD: limits <map[string]Quantity>"), "{out}");

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

/// Every `$ref` in `v` names one of `definitions`.
fn refs_resolve(
    v: &Value,
    definitions: &serde_json::Map<String, Value>,
    missing: &mut Vec<String>,
) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                let name = r.strip_prefix("#/definitions/").unwrap_or(r);
                if !definitions.contains_key(name) {
                    missing.push(r.to_string());
                }
            }
            m.values()
                .for_each(|x| refs_resolve(x, definitions, missing));
        }
        Value::Array(a) => a.iter().for_each(|x| refs_resolve(x, definitions, missing)),
        _ => {}
    }
}

#[test]
fn openapi_v2_json_and_protobuf() {
    const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = ks.client(true, true);
        let r = c
            .get(ks.url("/openapi/v2"))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["vary"], "Accept");
        assert!(r.headers().contains_key("last-modified"));
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.len() == 130, "{etag}");
        let doc: Value = r.json().await.unwrap();
        assert_eq!(doc["swagger"], "2.0");
        assert_eq!(doc["info"]["title"], "Kubernetes");
        let defs = doc["definitions"].as_object().unwrap();
        let mut missing = Vec::new();
        refs_resolve(&doc, defs, &mut missing);
        assert!(missing.is_empty(), "unresolved refs: {missing:?}");
        assert_eq!(
            defs["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"],
            serde_json::json!([{"group": "apps", "kind": "Deployment", "version": "v1"}])
        );
        let spec = &defs["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"];
        assert_eq!(
            spec["$ref"],
            "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
        );
        let containers = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-list-type"], "map");
        assert_eq!(
            defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["type"],
            "string"
        );
        assert_eq!(
            defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
            "int-or-string"
        );
        let ports = &defs["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"];
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            serde_json::json!(["port", "protocol"])
        );
        let item = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
        let patch = &item["patch"];
        let consumes: Vec<&str> = patch["consumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(
            consumes.contains(&"application/strategic-merge-patch+json"),
            "{consumes:?}"
        );
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        let params = patch["parameters"].as_array().unwrap();
        assert_eq!(params[0]["in"], "body");
        let fv = params
            .iter()
            .find(|p| p["name"] == "fieldValidation")
            .unwrap();
        assert_eq!(
            (fv["in"].as_str(), fv["type"].as_str()),
            (Some("query"), Some("string"))
        );
        assert!(item["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "namespace" && p["in"] == "path"));

        let cached = c
            .get(ks.url("/openapi/v2"))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

        // Protobuf, as client-go asks for it (the deprecated subtype too), with the same ETag.
        for accept in [
            PROTOBUF,
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
        ] {
            let r = c
                .get(ks.url("/openapi/v2"))
                .header("Accept", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()["content-type"], PROTOBUF);
            assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
            let body = r.bytes().await.unwrap();
            // Field 1 (swagger), length-delimited: "2.0".
            assert_eq!(&body[..5], b"\x0a\x032.0");
            assert!(body.len() > 100_000, "{}", body.len());
        }
        let r = c
            .get(ks.url("/openapi/v2"))
            .header("Accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
        let r = c.get(ks.url("/openapi/v2")).send().await.unwrap();
        assert_eq!(
            r.headers()["content-type"],
            "application/json",
            "*/* is JSON"
        );
    });
}

/// Every kubectl version reads `/openapi/v2` (protobuf): `apply` builds its strategic merge
/// patch from the document's merge keys, and `explain` prints from it.
#[test]
fn kubectl_reads_openapi_v2_across_versions() {
    let ks = Kubeshard::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    for (i, bin) in support::kubectls().iter().enumerate() {
        let bin = bin.to_str().unwrap();
        let name = format!("web{i}");
        let file = dir.path().join(format!("{name}.yaml"));
        let manifest = APP
            .split("---")
            .next()
            .unwrap()
            .replace("name: web", &format!("name: {name}"));
        std::fs::write(&file, &manifest).unwrap();
        let f = file.to_str().unwrap();
        let run = |args: &[&str]| {
            let (good, out, err) = support::kubectl_bin(bin, &ks, args);
            assert!(good, "{bin} {args:?}: {err}");
            (out, err)
        };
        run(&["apply", "-f", f]);
        // Another writer adds a container the file does not name; apply must keep it.
        run(&[
            "patch",
            "deployment",
            &name,
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"extra","image":"pause:3"}]}}}}"#,
        ]);
        std::fs::write(
            &file,
            manifest.replace("value: \"slow\"", "value: \"fast\""),
        )
        .unwrap();
        let (_, log) = run(&["apply", "-f", f, "-v=6"]);
        // kubectl 1.3x builds the patch from the group-version's v3 document when its PATCH
        // takes strategic merge; older ones (and newer ones as a fallback) from /openapi/v2.
        let read = |path: &str| {
            log.lines()
                .any(|l| l.contains(path) && l.contains("200 OK"))
        };
        let (v3, v2) = (read("/openapi/v3/apis/apps/v1?"), read("/openapi/v2"));
        eprintln!("{bin}: apply read openapi v3: {v3}, v2: {v2}");
        assert!(v3 || v2, "{bin} read no OpenAPI document: {log}");
        assert!(
            !log.contains("warning: error calculating patch"),
            "{bin}: {log}"
        );
        let (out, _) = run(&["get", "deployment", &name, "-o", "json"]);
        let d: Value = serde_json::from_str(&out).unwrap();
        let cs = d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        let names: Vec<&str> = cs.iter().map(|c| c["name"].as_str().unwrap()).collect();
        // The patch put the new container first, as upstream merges; apply kept it there.
        assert_eq!(names, ["extra", "app", "sidecar"], "{bin}");
        assert_eq!(cs[1]["env"][0]["value"], "fast", "{bin}");

        let (out, _) = run(&[
            "explain",
            "--output=plaintext-openapiv2",
            "deployment.spec.template.spec.containers",
        ]);
        assert!(
            out.contains("RESOURCE: containers <[]Object>"),
            "{bin}: {out}"
        );
        assert!(out.contains("image\t<string>"), "{bin}: {out}");
        let (out, _) = run(&[
            "explain",
            "--output=plaintext-openapiv2",
            "service.spec.ports.targetPort",
        ]);
        assert!(out.contains("targetPort <string>"), "{bin}: {out}");
    }
}

/// `kubectl diff` asks for a dry-run patch: the answer is what would be stored, with the
/// current resourceVersion, so only the change shows.
#[test]
fn diff_shows_only_the_change() {
    let ks = Kubeshard::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    std::fs::write(&file, APP).unwrap();
    let f = file.to_str().unwrap();
    ok(&ks, &["apply", "-f", f]);
    let (same, out, err) = kubectl(&ks, &["diff", "-f", f]);
    assert!(same && out.is_empty(), "{out}{err}");
    std::fs::write(&file, APP.replace("replicas: 2", "replicas: 3")).unwrap();
    let (same, out, err) = kubectl(&ks, &["diff", "-f", f]);
    assert!(!same, "kubectl diff exits 1 on a difference: {err}");
    let changed: Vec<&str> = out
        .lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .map(str::trim_end)
        .collect();
    assert_eq!(
        changed,
        [
            "-  generation: 1",
            "+  generation: 2",
            "-  replicas: 2",
            "+  replicas: 3"
        ],
        "{out}"
    );
    // Nothing was written.
    let d = json(&ks, &["get", "deployment", "web"]);
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["metadata"]["generation"], 1);
}

/// What `kubectl get -o yaml` shows after upstream's defaulting: probe and volume defaults,
/// requests from limits and the QoS class they make, and every namespace's name label.
#[test]
fn defaults_and_qos_as_upstream() {
    let ks = Kubeshard::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pod.yaml");
    std::fs::write(
        &file,
        r#"apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: app
    image: nginx:1
    readinessProbe:
      httpGet: {port: 80}
    resources:
      limits: {cpu: 500m, memory: 64Mi}
    volumeMounts: [{name: conf, mountPath: /etc/conf}]
  volumes:
  - name: conf
    configMap: {name: conf}
"#,
    )
    .unwrap();
    ok(&ks, &["apply", "-f", file.to_str().unwrap()]);
    let p = json(&ks, &["get", "pod", "p"]);
    let c = &p["spec"]["containers"][0];
    assert_eq!(
        c["readinessProbe"],
        serde_json::json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
            "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(c["resources"]["requests"], c["resources"]["limits"]);
    assert_eq!(p["spec"]["volumes"][0]["configMap"]["defaultMode"], 420);
    assert_eq!(p["status"]["qosClass"], "Guaranteed");

    let out = ok(
        &ks,
        &[
            "get",
            "namespaces",
            "-l",
            "kubernetes.io/metadata.name=kube-system",
            "-o",
            "name",
        ],
    );
    assert_eq!(out.trim(), "namespace/kube-system");
}
