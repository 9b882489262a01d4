//! The REST API end to end with real clients: the `kube` crate (typed CRUD, selectors, paging,
//! watch and resume, finalizers, errors) and kubectl, on the embedded store and on a real etcd.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use support::etcd::EtcdServer;
use support::rt;
use support::server::Kubeshard;

async fn client(ks: &Kubeshard) -> Client {
    support::kube_client(ks).await
}

/// Runs `body` against kubeshard on the embedded store, then on a real etcd.
fn on_both_backends(body: impl Fn(&Kubeshard, &str)) {
    let embedded = Kubeshard::start(&[]);
    body(&embedded, "embedded");
    drop(embedded);
    let etcd = EtcdServer::start_new();
    let on_etcd = Kubeshard::start(&[&format!("--etcd-servers={}", etcd.endpoint())]);
    body(&on_etcd, "etcd");
}

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
        ..Default::default()
    }
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn typed_crud_with_upstream_errors() {
    on_both_backends(|ks, backend| {
        rt().block_on(async {
            let c = client(ks).await;
            let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
            let created = cms.create(&PostParams::default(), &cm("c1", &[("app", "web")])).await.unwrap();
            let rv1: i64 = created.metadata.resource_version.clone().unwrap().parse().unwrap();
            assert!(rv1 > 0, "{backend}");
            assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
            assert_eq!(created.metadata.namespace.as_deref(), Some("default"));

            let got = cms.get("c1").await.unwrap();
            assert_eq!(got.metadata.resource_version, created.metadata.resource_version);
            assert_eq!(got.data, created.data);

            let dup = api_error(cms.create(&PostParams::default(), &cm("c1", &[])).await.unwrap_err());
            assert_eq!((dup.code, dup.reason.as_str()), (409, "AlreadyExists"));
            assert_eq!(dup.message, r#"configmaps "c1" already exists"#);

            let mut newer = got.clone();
            newer.data = Some(BTreeMap::from([("k".to_string(), "v2".to_string())]));
            let updated = cms.replace("c1", &PostParams::default(), &newer).await.unwrap();
            let rv2: i64 = updated.metadata.resource_version.clone().unwrap().parse().unwrap();
            assert!(rv2 > rv1);
            assert_eq!(updated.metadata.uid, created.metadata.uid);

            let stale = api_error(cms.replace("c1", &PostParams::default(), &newer).await.unwrap_err());
            assert_eq!((stale.code, stale.reason.as_str()), (409, "Conflict"));
            assert_eq!(
                stale.message,
                r#"Operation cannot be fulfilled on configmaps "c1": the object has been modified; please apply your changes to the latest version and try again"#
            );

            let bad = api_error(cms.create(&PostParams::default(), &cm("Bad_Name", &[])).await.unwrap_err());
            assert_eq!((bad.code, bad.reason.as_str()), (422, "Invalid"));
            assert!(bad.message.starts_with(r#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#), "{}", bad.message);

            let elsewhere: Api<ConfigMap> = Api::namespaced(c.clone(), "nope");
            let missing_ns = api_error(elsewhere.create(&PostParams::default(), &cm("x", &[])).await.unwrap_err());
            assert_eq!((missing_ns.code, missing_ns.message.as_str()), (404, r#"namespaces "nope" not found"#));

            let mut generated = cm("", &[]);
            generated.metadata.name = None;
            generated.metadata.generate_name = Some("gen-".into());
            let g = cms.create(&PostParams::default(), &generated).await.unwrap();
            assert!(g.metadata.name.unwrap().starts_with("gen-"));

            cms.delete("c1", &DeleteParams::default()).await.unwrap();
            let gone = api_error(cms.get("c1").await.unwrap_err());
            assert_eq!((gone.code, gone.reason.as_str(), gone.message.as_str()), (404, "NotFound", r#"configmaps "c1" not found"#));
        });
    });
}

#[test]
fn list_selectors_paging_watch_and_resume() {
    on_both_backends(|ks, backend| {
        rt().block_on(async {
            let c = client(ks).await;
            let ns: Api<Namespace> = Api::all(c.clone());
            let mut n = Namespace::default();
            n.metadata.name = Some("lists".into());
            ns.create(&PostParams::default(), &n).await.unwrap();
            let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "lists");
            for i in 0..5 {
                let tier = if i % 2 == 0 { "front" } else { "back" };
                cms.create(
                    &PostParams::default(),
                    &cm(&format!("cm{i}"), &[("tier", tier)]),
                )
                .await
                .unwrap();
            }
            let front = cms
                .list(&ListParams::default().labels("tier=front"))
                .await
                .unwrap();
            assert_eq!(front.items.len(), 3, "{backend}");
            let not_front = cms
                .list(&ListParams::default().labels("tier notin (front)"))
                .await
                .unwrap();
            assert_eq!(not_front.items.len(), 2);
            let by_name = cms
                .list(&ListParams::default().fields("metadata.name=cm3"))
                .await
                .unwrap();
            assert_eq!(by_name.items.len(), 1);
            let bad_field = api_error(
                cms.list(&ListParams::default().fields("data.k=v"))
                    .await
                    .unwrap_err(),
            );
            assert_eq!(bad_field.code, 400);

            // Paging: one revision for every page, even while writes happen.
            let first = cms.list(&ListParams::default().limit(2)).await.unwrap();
            assert_eq!(first.items.len(), 2);
            let token = first.metadata.continue_.clone().expect("continue token");
            cms.create(&PostParams::default(), &cm("cm9", &[]))
                .await
                .unwrap();
            let mut names: Vec<String> = first
                .items
                .iter()
                .map(|i| i.metadata.name.clone().unwrap())
                .collect();
            let mut cont = Some(token);
            while let Some(t) = cont {
                let page = cms
                    .list(&ListParams::default().limit(2).continue_token(&t))
                    .await
                    .unwrap();
                assert_eq!(
                    page.metadata.resource_version,
                    first.metadata.resource_version
                );
                names.extend(page.items.iter().map(|i| i.metadata.name.clone().unwrap()));
                cont = page.metadata.continue_.filter(|c| !c.is_empty());
            }
            assert_eq!(names, ["cm0", "cm1", "cm2", "cm3", "cm4"]);
            let all = cms.list(&ListParams::default()).await.unwrap();
            assert_eq!(all.items.len(), 6);
            let everywhere: Api<ConfigMap> = Api::all(c.clone());
            assert!(
                everywhere
                    .list(&ListParams::default())
                    .await
                    .unwrap()
                    .items
                    .len()
                    >= 6
            );

            // Watch from a resourceVersion: ADDED, MODIFIED, DELETED in order; a selector turns
            // "stops matching" into DELETED.
            let start = all.metadata.resource_version.clone().unwrap();
            let stream = cms
                .watch(&WatchParams::default().timeout(20), &start)
                .await
                .unwrap();
            let mut stream = stream.boxed();
            let w = cms
                .create(&PostParams::default(), &cm("watched", &[("tier", "front")]))
                .await
                .unwrap();
            let mut w2 = w.clone();
            w2.data = Some(BTreeMap::from([("k".to_string(), "changed".to_string())]));
            cms.replace("watched", &PostParams::default(), &w2)
                .await
                .unwrap();
            cms.delete("watched", &DeleteParams::default())
                .await
                .unwrap();
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(15);
            while seen.len() < 3 && Instant::now() < deadline {
                match stream.try_next().await.unwrap() {
                    Some(WatchEvent::Added(o)) => {
                        seen.push(("ADDED", o.metadata.resource_version.unwrap()))
                    }
                    Some(WatchEvent::Modified(o)) => {
                        seen.push(("MODIFIED", o.metadata.resource_version.unwrap()))
                    }
                    Some(WatchEvent::Deleted(o)) => {
                        seen.push(("DELETED", o.metadata.resource_version.unwrap()))
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            let kinds: Vec<&str> = seen.iter().map(|(k, _)| *k).collect();
            assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"], "{backend}");
            let revs: Vec<i64> = seen.iter().map(|(_, r)| r.parse().unwrap()).collect();
            assert!(revs.windows(2).all(|p| p[0] < p[1]), "{revs:?}");

            // Resume from the ADDED event's resourceVersion: the rest, nothing twice.
            let resumed = cms
                .watch(&WatchParams::default().timeout(5), &seen[0].1)
                .await
                .unwrap();
            let again: Vec<_> = resumed.take(2).collect().await;
            let kinds: Vec<&str> = again
                .iter()
                .map(|e| match e {
                    Ok(WatchEvent::Modified(_)) => "MODIFIED",
                    Ok(WatchEvent::Deleted(_)) => "DELETED",
                    other => panic!("unexpected {other:?}"),
                })
                .collect();
            assert_eq!(kinds, ["MODIFIED", "DELETED"]);

            // A selector watch: the object that stops matching arrives as DELETED.
            let now = cms
                .list(&ListParams::default())
                .await
                .unwrap()
                .metadata
                .resource_version
                .unwrap();
            let sel = cms
                .watch(
                    &WatchParams::default().labels("tier=front").timeout(10),
                    &now,
                )
                .await
                .unwrap();
            let mut sel = sel.boxed();
            let mut moved = cms.get("cm0").await.unwrap();
            moved.metadata.labels =
                Some(BTreeMap::from([("tier".to_string(), "back".to_string())]));
            cms.replace("cm0", &PostParams::default(), &moved)
                .await
                .unwrap();
            match sel.try_next().await.unwrap() {
                Some(WatchEvent::Deleted(o)) => assert_eq!(o.metadata.name.as_deref(), Some("cm0")),
                other => panic!("expected DELETED, got {other:?}"),
            }
        });
    });
}

#[test]
fn finalizers_keep_an_object_until_the_last_one_goes() {
    on_both_backends(|ks, _| {
        rt().block_on(async {
            let c = client(ks).await;
            let cms: Api<ConfigMap> = Api::namespaced(c, "default");
            let mut held = cm("held", &[]);
            held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
            cms.create(&PostParams::default(), &held).await.unwrap();
            cms.delete("held", &DeleteParams::default()).await.unwrap();
            let deleting = cms.get("held").await.unwrap();
            assert!(deleting.metadata.deletion_timestamp.is_some());
            let mut released = deleting.clone();
            released.metadata.finalizers = Some(vec![]);
            cms.replace("held", &PostParams::default(), &released)
                .await
                .unwrap();
            assert_eq!(api_error(cms.get("held").await.unwrap_err()).code, 404);
        });
    });
}

#[test]
fn generation_status_and_cluster_scope() {
    let etcd = EtcdServer::start_new();
    let ks = Kubeshard::start(&[&format!("--etcd-servers={}", etcd.endpoint())]);
    rt().block_on(async {
        let c = client(&ks).await;
        let deploys: Api<Deployment> = Api::namespaced(c.clone(), "default");
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        }))
        .unwrap();
        let d = deploys.create(&PostParams::default(), &d).await.unwrap();
        assert_eq!(d.metadata.generation, Some(1));
        let mut scaled = d.clone();
        scaled.spec.as_mut().unwrap().replicas = Some(3);
        let scaled = deploys.replace("web", &PostParams::default(), &scaled).await.unwrap();
        assert_eq!(scaled.metadata.generation, Some(2));
        let mut with_status = scaled.clone();
        with_status.status = Some(serde_json::from_value(serde_json::json!({"replicas": 3, "readyReplicas": 3})).unwrap());
        let ignored = deploys.replace("web", &PostParams::default(), &with_status).await.unwrap();
        assert_eq!(ignored.status.as_ref().and_then(|s| s.ready_replicas), None, "main resource ignores status");
        let st = deploys
            .replace_status("web", &PostParams::default(), &with_status)
            .await
            .unwrap();
        assert_eq!(st.status.as_ref().and_then(|s| s.ready_replicas), Some(3));
        assert_eq!(st.metadata.generation, Some(2), "status updates do not bump generation");

        let nodes: Api<Node> = Api::all(c.clone());
        let mut n = Node::default();
        n.metadata.name = Some("node-1".into());
        nodes.create(&PostParams::default(), &n).await.unwrap();

        // Upstream's etcd layout: /registry/minions/<name>, JSON without resourceVersion.
        let mut raw = etcd_client::Client::connect([etcd.endpoint()], None).await.unwrap();
        let got = raw.get("/registry/minions/node-1", None).await.unwrap();
        let kv = &got.kvs()[0];
        let stored: serde_json::Value = serde_json::from_slice(kv.value()).unwrap();
        assert_eq!(stored["kind"], "Node");
        assert_eq!(stored["metadata"]["name"], "node-1");
        assert!(stored["metadata"].get("resourceVersion").is_none());
        let n = nodes.get("node-1").await.unwrap();
        assert_eq!(n.metadata.resource_version, Some(kv.mod_revision().to_string()));
        let dep = raw.get("/registry/deployments/default/web", None).await.unwrap();
        assert_eq!(dep.kvs().len(), 1);
    });
}

#[test]
fn bad_bodies_get_upstreams_status_codes() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let admin = ks.client(true, true);
        let r = admin
            .get(ks.url("/api/v1/namespaces/default/configmaps"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // Bodies over the limit: 413; not JSON: 400; not a known content type: 415.
        let big = vec![b' '; 4 << 20];
        let r = admin
            .post(ks.url("/api/v1/namespaces/default/configmaps"))
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
        let r = admin
            .post(ks.url("/api/v1/namespaces/default/configmaps"))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let r = admin
            .post(ks.url("/api/v1/namespaces/default/configmaps"))
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415);
        let s: serde_json::Value = r.json().await.unwrap();
        assert_eq!(s["reason"], "UnsupportedMediaType");
    });
}

fn kubectl(ks: &Kubeshard, args: &[&str]) -> (bool, String, String) {
    support::kubectl_bin("kubectl", ks, args)
}

#[test]
fn kubectl_create_get_delete_and_namespace_cleanup() {
    on_both_backends(|ks, backend| {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("objs.yaml");
        std::fs::write(
            &manifest,
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team\n  labels:\n    app: demo\ndata:\n  mode: fast\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: team\ntype: Opaque\nstringData:\n  password: hunter2\n",
        )
        .unwrap();
        // kubectl's default validation: the server validates (fieldValidation=Strict).
        let (ok, out, err) = kubectl(ks, &["create", "-f", manifest.to_str().unwrap()]);
        assert!(ok, "{backend}: {err}");
        assert!(
            out.contains("namespace/team created") && out.contains("configmap/settings created"),
            "{out}"
        );

        let (ok, out, err) = kubectl(
            ks,
            &["get", "configmap", "settings", "-n", "team", "-o", "json"],
        );
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["data"]["mode"], "fast");
        let (_, out, _) = kubectl(
            ks,
            &["get", "configmap", "settings", "-n", "team", "-o", "yaml"],
        );
        assert!(out.contains("mode: fast"), "{out}");
        rt().block_on(support::namespace_defaults(ks, "team"));
        let (_, out, _) = kubectl(ks, &["get", "configmaps", "-n", "team", "-o", "name"]);
        assert_eq!(out.trim(), "configmap/kube-root-ca.crt\nconfigmap/settings");
        let (_, out, _) = kubectl(
            ks,
            &[
                "get",
                "configmap",
                "settings",
                "-n",
                "team",
                "-o",
                "jsonpath={.metadata.labels.app}",
            ],
        );
        assert_eq!(out, "demo");
        let (ok, out, err) = kubectl(
            ks,
            &["get", "configmaps", "-A", "--chunk-size=1", "-o", "name"],
        );
        assert!(ok, "{err}");
        assert!(out.contains("configmap/settings"), "{out}");
        let (ok, _, err) = kubectl(ks, &["get", "configmap", "missing", "-n", "team"]);
        assert!(!ok);
        assert!(err.contains(r#"configmaps "missing" not found"#), "{err}");

        // get -w prints the change made while it watches.
        let mut watch = std::process::Command::new("kubectl")
            .arg(format!("--kubeconfig={}", ks.kubeconfig().display()))
            .args([
                "get",
                "configmaps",
                "-n",
                "team",
                "-w",
                "-o",
                "name",
                "--request-timeout=20s",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(800));
        let (ok, _, err) = kubectl(
            ks,
            &[
                "create",
                "configmap",
                "later",
                "-n",
                "team",
                "--from-literal=a=b",
            ],
        );
        assert!(ok, "{err}");
        std::thread::sleep(Duration::from_millis(800));
        let _ = watch.kill();
        let out = watch.wait_with_output().unwrap();
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("configmap/later"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );

        let (ok, out, err) = kubectl(ks, &["delete", "configmap", "later", "-n", "team"]);
        assert!(
            ok && out.contains("configmap \"later\" deleted"),
            "{out}{err}"
        );

        // Deleting the namespace deletes what it holds, then the namespace.
        let (ok, _, err) = kubectl(ks, &["delete", "namespace", "team", "--wait=false"]);
        assert!(ok, "{err}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (found, _, _) = kubectl(ks, &["get", "namespace", "team"]);
            if !found {
                break;
            }
            assert!(Instant::now() < deadline, "namespace team still there");
            std::thread::sleep(Duration::from_millis(300));
        }
        let (_, out, _) = kubectl(
            ks,
            &["get", "configmaps,secrets", "-n", "team", "-o", "name"],
        );
        assert_eq!(out.trim(), "", "contents left behind");
        let (_, out, _) = kubectl(ks, &["get", "namespaces", "-o", "name"]);
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            assert!(out.contains(&format!("namespace/{ns}")), "{out}");
        }
    });
}

#[test]
fn scale_subresource_reads_and_writes_replicas() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = client(&ks).await;
        let deploys: Api<Deployment> = Api::namespaced(c, "default");
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api"}},
                     "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        }))
        .unwrap();
        deploys.create(&PostParams::default(), &d).await.unwrap();
        let s = deploys.get_scale("api").await.unwrap();
        assert_eq!(s.spec.as_ref().and_then(|s| s.replicas), Some(2));
        assert_eq!(s.status.as_ref().and_then(|s| s.selector.clone()).as_deref(), Some("app=api"));
        let mut want = s.clone();
        want.spec.as_mut().unwrap().replicas = Some(5);
        let out = deploys.replace_scale("api", &PostParams::default(), &want).await.unwrap();
        assert_eq!(out.spec.as_ref().and_then(|s| s.replicas), Some(5));
        let after = deploys.get("api").await.unwrap();
        assert_eq!(after.spec.unwrap().replicas, Some(5));
        assert_eq!(after.metadata.generation, Some(2));
    });
}

/// `namespaces/<name>/finalize` replaces only `spec.finalizers`; a namespace being deleted
/// whose last finalizer goes is removed.
#[test]
fn namespace_finalize_subresource() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = ks.client(true, true);
        let r = c
            .post(ks.url("/api/v1/namespaces"))
            .json(&serde_json::json!({"metadata": {"name": "fin"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::CREATED);
        let put = |fins: serde_json::Value| {
            c.put(ks.url("/api/v1/namespaces/fin/finalize"))
                .json(&serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "fin", "labels": {"ignored": "yes"}}, "spec": {"finalizers": fins}}))
                .send()
        };
        let r = put(serde_json::json!(["kubernetes", "example.com/hold"])).await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        let ns: serde_json::Value = r.json().await.unwrap();
        assert_eq!(ns["spec"]["finalizers"], serde_json::json!(["kubernetes", "example.com/hold"]));
        // Only spec.finalizers changes: the labels are the ones every namespace gets.
        assert_eq!(
            ns["metadata"]["labels"],
            serde_json::json!({"kubernetes.io/metadata.name": "fin"}),
            "only spec.finalizers changes"
        );
        // Other verbs on finalize are not allowed.
        let r = c.get(ks.url("/api/v1/namespaces/fin/finalize")).send().await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::METHOD_NOT_ALLOWED);
        // Deleting: the in-process finalizer removes `kubernetes`; `example.com/hold` keeps it.
        let r = c.delete(ks.url("/api/v1/namespaces/fin")).send().await.unwrap();
        assert!(r.status().is_success());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let r = c.get(ks.url("/api/v1/namespaces/fin")).send().await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK, "held by example.com/hold");
        let r = put(serde_json::json!([])).await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        let r = c.get(ks.url("/api/v1/namespaces/fin")).send().await.unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
    });
}

/// deletecollection honours a DeleteOptions body (here dryRun) and bad options are 422.
#[test]
fn deletecollection_with_delete_options() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = ks.client(true, true);
        for n in ["a", "b"] {
            let r = c
                .post(ks.url("/api/v1/namespaces/default/configmaps"))
                .json(&serde_json::json!({"metadata": {"name": n, "labels": {"set": "x"}}}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), reqwest::StatusCode::CREATED);
        }
        let url = ks.url("/api/v1/namespaces/default/configmaps?labelSelector=set%3Dx");
        let r = c
            .delete(&url)
            .json(&serde_json::json!({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        let l: serde_json::Value = r.json().await.unwrap();
        assert_eq!(l["items"].as_array().unwrap().len(), 2, "reported, not deleted");
        let r = c.get(&url).send().await.unwrap();
        let l: serde_json::Value = r.json().await.unwrap();
        assert_eq!(l["items"].as_array().unwrap().len(), 2);
        let r = c
            .delete(&url)
            .json(&serde_json::json!({"propagationPolicy": "Sideways"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
        let r = c
            .delete(&url)
            .json(&serde_json::json!({"propagationPolicy": "Background"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::OK);
        let l: serde_json::Value = c.get(&url).send().await.unwrap().json().await.unwrap();
        assert!(l["items"].as_array().unwrap().is_empty());
    });
}
