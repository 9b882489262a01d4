//! Server-side apply and managed fields end to end, as users meet them: every kubectl's
//! `apply --server-side` (create, update, a conflict with upstream's message, the forced
//! takeover, a field dropped from the file disappearing while another manager's stays,
//! `diff --server-side`), the managedFields every kind of write records, apply to `status`
//! and `scale`, dry-run and precondition applies, upstream's errors for bad applies, and the
//! `kube` crate's `Patch::Apply` as a controller uses it. One server for the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use support::rt;
use support::server::Kubeshard;

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const APPLY: &str = "application/apply-patch+yaml";

fn entries(v: &Value) -> Vec<(String, String, String, Value)> {
    v["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
                    (
                        s("manager"),
                        s("operation"),
                        s("subresource"),
                        e["fieldsV1"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

fn kubectl_cases(ks: &Kubeshard) {
    let dir = tempfile::tempdir().unwrap();
    for (i, bin) in support::kubectls().iter().enumerate() {
        let kc = ks.kubeconfig();
        let run = |args: &[&str]| support::kubectl_with(bin, &kc, args);
        let name = format!("ssa-{i}");
        let file = |labels: &str, replicas: u32| {
            let path = dir
                .path()
                .join(format!("{name}-{replicas}-{}.yaml", labels.len()));
            std::fs::write(
                &path,
                format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\n\
                     spec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {name}}}}}\n\
                     \x20 template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n\
                     \x20     - name: web\n        image: nginx\n        ports: [{{containerPort: 80}}]\n"
                ),
            )
            .unwrap();
            path.display().to_string()
        };
        let v = format!("{}", bin.display());
        let first = file("team: a, tier: web", 2);
        let (ok, out, err) = run(&["apply", "--server-side", "-f", &first]);
        assert!(ok, "{v}: {err}");
        assert_eq!(
            out.trim(),
            format!("deployment.apps/{name} serverside-applied"),
            "{v}"
        );
        // Applying the same file again changes nothing, not even the resourceVersion.
        let rv = || {
            run(&[
                "get",
                "deploy",
                &name,
                "-o",
                "jsonpath={.metadata.resourceVersion}",
            ])
            .1
        };
        let before = rv();
        assert!(run(&["apply", "--server-side", "-f", &first]).0, "{v}");
        assert_eq!(rv(), before, "{v}: a no-op apply wrote");

        // Another manager wanting other replicas: upstream's conflict, then the takeover.
        let other = dir.path().join(format!("{name}-ops.yaml"));
        std::fs::write(
            &other,
            format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 3\n"),
        )
        .unwrap();
        let other = other.display().to_string();
        let (ok, _, err) = run(&[
            "apply",
            "--server-side",
            "--field-manager=ops",
            "-f",
            &other,
        ]);
        assert!(!ok, "{v}");
        assert!(
            err.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"),
            "{v}: {err}"
        );
        let (ok, _, err) = run(&[
            "apply",
            "--server-side",
            "--field-manager=ops",
            "--force-conflicts",
            "-f",
            &other,
        ]);
        assert!(ok, "{v}: {err}");
        let (_, replicas, _) = run(&["get", "deploy", &name, "-o", "jsonpath={.spec.replicas}"]);
        assert_eq!(replicas, "3", "{v}");

        // A label another manager set stays when kubectl's file never had it; a label
        // dropped from kubectl's file goes.
        assert!(run(&["label", "deploy", &name, "owner=me"]).0, "{v}");
        let fewer = file("team: a", 3);
        let (ok, _, err) = run(&["apply", "--server-side", "--force-conflicts", "-f", &fewer]);
        assert!(ok, "{v}: {err}");
        let (_, labels, _) = run(&["get", "deploy", &name, "-o", "jsonpath={.metadata.labels}"]);
        let labels: Value = serde_json::from_str(&labels).unwrap();
        assert_eq!(labels, json!({"team": "a", "owner": "me"}), "{v}");

        // diff --server-side: 1 with a change to show, 0 without.
        let (ok, out, _) = run(&["diff", "--server-side", "--force-conflicts", "-f", &first]);
        assert!(!ok && out.contains("+    tier: web"), "{v}: {out}");
        let (ok, out, err) = run(&["diff", "--server-side", "--force-conflicts", "-f", &fewer]);
        assert!(ok, "{v}: {out} {err}");

        // The managers as `--show-managed-fields` prints them.
        let (_, yaml, _) = run(&[
            "get",
            "deploy",
            &name,
            "-o",
            "json",
            "--show-managed-fields",
        ]);
        let got: Value = serde_json::from_str(&yaml).unwrap();
        let managers: Vec<(String, String)> = entries(&got)
            .into_iter()
            .map(|(m, op, _, _)| (m, op))
            .collect();
        for want in [
            ("kubectl", "Apply"),
            ("ops", "Apply"),
            ("kubectl-label", "Update"),
        ] {
            assert!(
                managers.contains(&(want.0.to_string(), want.1.to_string())),
                "{v}: {managers:?}"
            );
        }
        // From client-side to server-side apply: kubectl's upgrade takes over the fields
        // client-side apply owned, so a changed value is no conflict.
        let cm = |data: &str| {
            let path = dir.path().join(format!("{name}-cm-{}.yaml", data.len()));
            std::fs::write(&path, format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata: {{{data}}}\n")).unwrap();
            path.display().to_string()
        };
        let (ok, _, err) = run(&["apply", "-f", &cm("a: '1', b: '1'")]);
        assert!(ok, "{v}: {err}");
        let (ok, _, err) = run(&["apply", "--server-side", "-f", &cm("a: '1', b: '22'")]);
        assert!(ok, "{v}: {err}");
        let (_, json_cm, _) = run(&["get", "cm", &name, "-o", "json", "--show-managed-fields"]);
        let got: Value = serde_json::from_str(&json_cm).unwrap();
        assert_eq!(got["data"], json!({"a": "1", "b": "22"}), "{v}");
        let owners: Vec<(String, Value)> = entries(&got)
            .into_iter()
            .map(|(m, _, _, f)| (m, f))
            .collect();
        let kubectl = owners
            .iter()
            .find(|(m, _)| m == "kubectl")
            .map(|(_, f)| f.clone());
        assert_eq!(
            kubectl.map(|f| f["f:data"].clone()),
            Some(json!({"f:a": {}, "f:b": {}})),
            "{v}: {owners:?}"
        );
        assert!(
            !owners
                .iter()
                .any(|(m, f)| m == "kubectl-client-side-apply" && f.get("f:data").is_some()),
            "{v}: {owners:?}"
        );
        assert!(run(&["delete", "cm", &name]).0, "{v}");

        let (_, hidden, _) = run(&["get", "deploy", &name, "-o", "yaml"]);
        assert!(!hidden.contains("managedFields"), "{v}");
        assert!(run(&["delete", "deploy", &name]).0, "{v}");
    }
}

fn managed_fields_of_every_write(ks: &Kubeshard) {
    rt().block_on(async {
        let admin = ks.client(true, true);
        let url = |q: &str| ks.url(&format!("{CMS}{q}"));
        // create: the manager from fieldManager owns what it wrote.
        let (code, v) = send(
            admin
                .post(url("?fieldManager=alpha"))
                .json(&json!({"metadata": {"name": "mf", "labels": {"l": "1"}}, "data": {"a": "1"}})),
        )
        .await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(
            entries(&v),
            vec![(
                "alpha".into(),
                "Update".into(),
                String::new(),
                json!({"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:l": {}}}})
            )]
        );
        let e = &v["metadata"]["managedFields"][0];
        assert_eq!(e["apiVersion"], "v1");
        assert_eq!(e["fieldsType"], "FieldsV1");
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
        // update (PUT) by beta: the field it changed moves to it.
        let mut obj = v.clone();
        obj["data"]["a"] = json!("2");
        let (code, v) = send(admin.put(url("/mf?fieldManager=beta")).json(&obj)).await;
        assert_eq!(code, 200, "{v}");
        assert_eq!(
            entries(&v),
            vec![
                ("alpha".into(), "Update".into(), String::new(), json!({"f:data": {}, "f:metadata": {"f:labels": {".": {}, "f:l": {}}}})),
                ("beta".into(), "Update".into(), String::new(), json!({"f:data": {"f:a": {}}})),
            ]
        );
        // patch without fieldManager: the manager is the user agent's product.
        let (code, v) = send(
            admin
                .patch(url("/mf"))
                .header("Content-Type", "application/merge-patch+json")
                .header("User-Agent", "my-tool/1.2 (linux)")
                .body(r#"{"data":{"b":"1"}}"#),
        )
        .await;
        assert_eq!(code, 200, "{v}");
        assert!(entries(&v).contains(&("my-tool".into(), "Update".into(), String::new(), json!({"f:data": {"f:b": {}}}))));
        // `managedFields: []` resets them: nothing else changed, so none are left.
        let (code, v) = send(
            admin
                .patch(url("/mf"))
                .header("Content-Type", "application/merge-patch+json")
                .body(r#"{"metadata":{"managedFields":[]}}"#),
        )
        .await;
        assert_eq!(code, 200, "{v}");
        assert!(v["metadata"].get("managedFields").is_none(), "{v}");
        // What the in-process controllers write is recorded as kube-controller-manager's.
        support::namespace_defaults(ks, "default").await;
        let (_, ca) = send(admin.get(url("/kube-root-ca.crt"))).await;
        let owners: Vec<(String, String)> = entries(&ca).into_iter().map(|(m, o, _, _)| (m, o)).collect();
        assert_eq!(owners, vec![("kube-controller-manager".to_string(), "Update".to_string())], "{ca}");
        // Bootstrap objects the server writes straight to storage name their producer.
        for (path, manager) in [
            ("/api/v1/namespaces/kube-system", "kube-apiserver"),
            ("/api/v1/namespaces/default/services/kubernetes", "kube-apiserver"),
            ("/apis/rbac.authorization.k8s.io/v1/clusterroles/cluster-admin", "kube-apiserver"),
            ("/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas/exempt", "api-priority-and-fairness-config-producer-v1"),
        ] {
            // Post-start hooks make them; a slow machine may still be at it.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            let (code, o) = loop {
                let got = send(admin.get(ks.url(path))).await;
                if got.0 == 200 || std::time::Instant::now() > deadline {
                    break got;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            };
            assert_eq!(code, 200, "{path}");
            let owners: Vec<String> = entries(&o).into_iter().map(|(m, _, _, _)| m).collect();
            assert!(owners.contains(&manager.to_string()), "{path}: {owners:?}");
        }
        // A managedFields value that is not upstream's form is replaced by the stored ones.
        let (code, v) = send(
            admin
                .patch(url("/mf?fieldManager=delta"))
                .header("Content-Type", "application/merge-patch+json")
                .body(r#"{"metadata":{"managedFields":[{"manager":"x","operation":"Bogus"}]},"data":{"c":"1"}}"#),
        )
        .await;
        assert_eq!(code, 200, "{v}");
        assert_eq!(entries(&v), vec![("delta".into(), "Update".into(), String::new(), json!({"f:data": {"f:c": {}}}))]);
    });
}

fn apply_through_the_rest_api(ks: &Kubeshard) {
    rt().block_on(async {
        let admin = ks.client(true, true);
        let apply = |path: &str, body: String| {
            admin
                .patch(ks.url(path))
                .header("Content-Type", APPLY)
                .body(body)
        };
        let cm = |data: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\ndata: {data}\n");
        // Dry run creates nothing.
        let (code, _) = send(apply(&format!("{CMS}/ap?fieldManager=a&dryRun=All"), cm("{x: '1'}"))).await;
        assert_eq!(code, 201);
        let (code, _) = send(admin.get(ks.url(&format!("{CMS}/ap")))).await;
        assert_eq!(code, 404);
        // Apply creates (201), then updates (200).
        let (code, v) = send(apply(&format!("{CMS}/ap?fieldManager=a"), cm("{x: '1', y: '1'}"))).await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(entries(&v), vec![("a".into(), "Apply".into(), String::new(), json!({"f:data": {"f:x": {}, "f:y": {}}}))]);
        let rv = v["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        // Two conflicting fields: upstream's grouped message and one cause per field.
        let (code, v) = send(apply(&format!("{CMS}/ap?fieldManager=b"), cm("{x: '2', y: '2'}"))).await;
        assert_eq!(code, 409, "{v}");
        assert_eq!(v["reason"], "Conflict");
        assert_eq!(v["message"], "Apply failed with 2 conflicts: conflicts with \"a\":\n- .data.x\n- .data.y");
        assert_eq!(
            v["details"]["causes"],
            json!([{"reason": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".data.x"},
                   {"reason": "FieldManagerConflict", "message": "conflict with \"a\"", "field": ".data.y"}])
        );
        // An Update manager is named with its apiVersion.
        let (code, _) = send(
            admin
                .patch(ks.url(&format!("{CMS}/ap?fieldManager=editor")))
                .header("Content-Type", "application/merge-patch+json")
                .body(r#"{"data":{"z":"1"}}"#),
        )
        .await;
        assert_eq!(code, 200);
        let (code, v) = send(apply(&format!("{CMS}/ap?fieldManager=a"), cm("{x: '1', y: '1', z: '2'}"))).await;
        assert_eq!(code, 409);
        assert_eq!(v["message"], "Apply failed with 1 conflict: conflict with \"editor\" using v1: .data.z");
        // A stale resourceVersion in the configuration is upstream's 409.
        let stale = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ap\n  resourceVersion: \"{rv}\"\ndata: {{x: '3'}}\n");
        let (code, v) = send(apply(&format!("{CMS}/ap?fieldManager=a&force=true"), stale)).await;
        assert_eq!(code, 409, "{v}");
        assert!(v["message"].as_str().unwrap().contains("the object has been modified"), "{v}");

        // Bad applies get upstream's answers.
        let cases: Vec<(String, String, u16, &str)> = vec![
            (format!("{CMS}/ap"), cm("{}"), 422, "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"),
            (format!("{CMS}/ap?fieldManager=a%09b"), cm("{}"), 422, "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Invalid value: \"a\\tb\": invalid character U+0009 (at position 1)"),
            (format!("{CMS}/ap?fieldManager={}", "m".repeat(129)), cm("{}"), 422, "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes"),
            (format!("{CMS}/ap?fieldManager=a"), "apiVersion: v2\nkind: ConfigMap\n".into(), 400, "Incorrect version specified in apply patch. Specified patch version: v2, expected: v1"),
            (format!("{CMS}/ap?fieldManager=a"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ap, managedFields: []}\n".into(), 400, "metadata.managedFields must be nil"),
            (format!("{CMS}/ap?fieldManager=a"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ap, namespace: default}\nspec: {}\n".into(), 500, "failed to create typed patch object (default/ap; /v1, Kind=ConfigMap): .spec: field not declared in schema"),
            (format!("{CMS}/ap?fieldManager=a"), "- not\n- a map\n".into(), 400, ""),
        ];
        for (path, body, want, message) in cases {
            let (code, v) = send(apply(&path, body)).await;
            assert_eq!(code, want, "{path}: {v}");
            if !message.is_empty() {
                assert_eq!(v["message"], message, "{path}");
            }
        }
        let (code, v) = send(
            admin
                .patch(ks.url(&format!("{CMS}/ap?force=false")))
                .header("Content-Type", "application/merge-patch+json")
                .body("{}"),
        )
        .await;
        assert_eq!(code, 422);
        assert_eq!(v["message"], "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch");

        // Apply to status and to scale: the subresource is recorded with the manager.
        let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: sub}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: sub}}\n  template:\n    metadata: {labels: {app: sub}}\n    spec: {containers: [{name: c, image: i}]}\n";
        let deps = "/apis/apps/v1/namespaces/default/deployments";
        let (code, v) = send(apply(&format!("{deps}/sub?fieldManager=a"), deploy.into())).await;
        assert_eq!(code, 201, "{v}");
        let status = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: sub}\nstatus: {observedGeneration: 1, replicas: 1}\n";
        let (code, v) = send(apply(&format!("{deps}/sub/status?fieldManager=ctl"), status.into())).await;
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["status"]["replicas"], 1);
        assert!(entries(&v).contains(&("ctl".into(), "Apply".into(), "status".into(), json!({"f:status": {"f:observedGeneration": {}, "f:replicas": {}}}))), "{v}");
        let scale = "apiVersion: autoscaling/v1\nkind: Scale\nmetadata: {name: sub}\nspec: {replicas: 4}\n";
        let (code, v) = send(apply(&format!("{deps}/sub/scale?fieldManager=hpa&force=true"), scale.into())).await;
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["kind"], "Scale");
        assert_eq!(v["spec"]["replicas"], 4);
        let (_, d) = send(admin.get(ks.url(&format!("{deps}/sub")))).await;
        assert_eq!(d["spec"]["replicas"], 4);
        let e = entries(&d);
        assert!(e.contains(&("hpa".into(), "Apply".into(), "scale".into(), json!({"f:spec": {"f:replicas": {}}}))), "{e:?}");
        // The forced scale took replicas from the apply that set it.
        let a = e.iter().find(|x| x.0 == "a").unwrap();
        assert!(a.3["f:spec"].get("f:replicas").is_none(), "{e:?}");
    });
}

fn kube_crate_apply(ks: &Kubeshard) {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, Patch, PatchParams};
    rt().block_on(async {
        let client = support::kube_client(ks).await;
        let api: Api<ConfigMap> = Api::namespaced(client, "default");
        let desired = |v: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ctrl"}, "data": {"k": v}})
        };
        // A controller applies its desired state each reconcile.
        for _ in 0..2 {
            let cm = api
                .patch("ctrl", &PatchParams::apply("my-controller"), &Patch::Apply(desired("1")))
                .await
                .unwrap();
            assert_eq!(cm.data.unwrap()["k"], "1");
            let mf = cm.metadata.managed_fields.unwrap();
            assert_eq!(mf.len(), 1);
            assert_eq!(mf[0].manager.as_deref(), Some("my-controller"));
            assert_eq!(mf[0].operation.as_deref(), Some("Apply"));
        }
        let err = api
            .patch("ctrl", &PatchParams::apply("intruder"), &Patch::Apply(desired("2")))
            .await
            .unwrap_err();
        match err {
            kube::Error::Api(s) => {
                assert_eq!(s.code, 409);
                assert_eq!(s.reason, "Conflict");
                assert_eq!(s.message, "Apply failed with 1 conflict: conflict with \"my-controller\": .data.k");
            }
            other => panic!("{other:?}"),
        }
        let cm = api
            .patch("ctrl", &PatchParams::apply("intruder").force(), &Patch::Apply(desired("2")))
            .await
            .unwrap();
        assert_eq!(cm.data.unwrap()["k"], "2");
    });
}

#[test]
fn server_side_apply_and_managed_fields() {
    let ks = Kubeshard::start(&[]);
    support::run_cases(
        &ks,
        &[
            (
                "managed fields of every write",
                managed_fields_of_every_write,
            ),
            ("apply through the REST API", apply_through_the_rest_api),
            ("the kube crate's Patch::Apply", kube_crate_apply),
            ("kubectl apply --server-side", kubectl_cases),
        ],
    );
}
