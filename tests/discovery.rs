//! Discovery end to end: the documents over real TLS (legacy JSON, aggregated v2 and v2beta1
//! by Accept, ETag and 304, upstream's 404 and 406), and real clients reading them: kubectl
//! 1.27-1.33 (`api-resources`, `api-versions`; 1.27-1.29 ask for v2beta1, later ones for v2)
//! and the `kube` crate (legacy discovery).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use kubeshard::registry::resources;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use serde_json::{json, Value};
use support::rt;
use support::server::Kubeshard;

const V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const V2BETA1: &str = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
/// What kubectl 1.30+ sends (client-go `acceptDiscoveryFormats`).
const KUBECTL_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

struct Got {
    status: u16,
    content_type: Option<String>,
    etag: Option<String>,
    vary: Option<String>,
    cache_control: Option<String>,
    body: Vec<u8>,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&self.body));
        })
    }
}

async fn get(c: &reqwest::Client, ks: &Kubeshard, path: &str, headers: &[(&str, &str)]) -> Got {
    let mut req = c.get(ks.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    let h = |name| {
        r.headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_string())
    };
    let (content_type, etag, vary, cache_control) =
        (h(CONTENT_TYPE), h(ETAG), h(VARY), h(CACHE_CONTROL));
    let status = r.status().as_u16();
    let body = r.bytes().await.unwrap().to_vec();
    Got {
        status,
        content_type,
        etag,
        vary,
        cache_control,
        body,
    }
}

fn find<'a>(list: &'a Value, key: &str, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[test]
fn legacy_documents_have_upstreams_shape() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = ks.client(true, true);

        let api = get(&c, &ks, "/api", &[]).await;
        assert_eq!(api.status, 200);
        assert_eq!(api.content_type.as_deref(), Some("application/json"));
        let v = api.json();
        assert_eq!(v["kind"], "APIVersions");
        assert!(v.get("apiVersion").is_none());
        assert_eq!(v["versions"], json!(["v1"]));
        assert_eq!(v["serverAddressByClientCIDRs"][0]["clientCIDR"], "0.0.0.0/0");
        assert!(v["serverAddressByClientCIDRs"][0]["serverAddress"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{}", ks.port)));

        let core = get(&c, &ks, "/api/v1", &[("Accept", KUBECTL_ACCEPT)]).await;
        assert_eq!(core.status, 200);
        assert_eq!(core.content_type.as_deref(), Some("application/json"));
        let v = core.json();
        assert_eq!(v["kind"], "APIResourceList");
        assert!(v.get("apiVersion").is_none(), "upstream strips it for core");
        assert_eq!(v["groupVersion"], "v1");
        let pods = find(&v["resources"], "name", "pods");
        assert_eq!(
            pods,
            &json!({"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod",
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                "shortNames": ["po"], "categories": ["all"], "storageVersionHash": "xPOwRZ+Yhw8="})
        );
        assert_eq!(
            find(&v["resources"], "name", "pods/status"),
            &json!({"name": "pods/status", "singularName": "", "namespaced": true, "kind": "Pod",
                "verbs": ["get", "patch", "update"]})
        );
        assert_eq!(
            find(&v["resources"], "name", "namespaces/finalize")["verbs"],
            json!(["update"])
        );
        assert_eq!(
            find(&v["resources"], "name", "namespaces")["verbs"],
            json!(["create", "delete", "get", "list", "patch", "update", "watch"])
        );
        let rc_scale = find(&v["resources"], "name", "replicationcontrollers/scale");
        assert_eq!(
            (&rc_scale["group"], &rc_scale["version"], &rc_scale["kind"]),
            (&json!("autoscaling"), &json!("v1"), &json!("Scale"))
        );
        let nodes = find(&v["resources"], "name", "nodes");
        assert_eq!(nodes["namespaced"], false);
        let names: Vec<&str> = v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "upstream lists resources sorted by name");

        let apps = get(&c, &ks, "/apis/apps/v1", &[]).await.json();
        assert_eq!(apps["apiVersion"], "v1");
        assert_eq!(apps["groupVersion"], "apps/v1");
        assert_eq!(
            find(&apps["resources"], "name", "deployments/scale"),
            &json!({"name": "deployments/scale", "singularName": "", "namespaced": true,
                "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]})
        );
        assert_eq!(
            find(&apps["resources"], "name", "deployments")["storageVersionHash"],
            "8aSe+NMegvE="
        );

        let group = get(&c, &ks, "/apis/autoscaling", &[]).await.json();
        assert_eq!(
            group,
            json!({"kind": "APIGroup", "apiVersion": "v1", "name": "autoscaling",
                "versions": [{"groupVersion": "autoscaling/v2", "version": "v2"},
                    {"groupVersion": "autoscaling/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "autoscaling/v2", "version": "v2"}})
        );

        let apis = get(&c, &ks, "/apis", &[("Accept", "application/json")]).await;
        assert_eq!(apis.content_type.as_deref(), Some("application/json"));
        let v = apis.json();
        assert_eq!((&v["kind"], &v["apiVersion"]), (&json!("APIGroupList"), &json!("v1")));
        let order: Vec<&str> = v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            order,
            [
                "apps",
                "events.k8s.io",
                "authentication.k8s.io",
                "authorization.k8s.io",
                "autoscaling",
                "batch",
                "certificates.k8s.io",
                "networking.k8s.io",
                "policy",
                "rbac.authorization.k8s.io",
                "storage.k8s.io",
                "admissionregistration.k8s.io",
                "scheduling.k8s.io",
                "coordination.k8s.io",
                "node.k8s.io",
                "discovery.k8s.io",
                "flowcontrol.apiserver.k8s.io",
                "resource.k8s.io"
            ]
        );
        assert_eq!(
            find(&v["groups"], "name", "batch"),
            &json!({"name": "batch", "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"}})
        );

        // Unknown groups and versions: upstream's 404 Status.
        for path in ["/apis/nope.example.com", "/apis/apps/v1beta9", "/api/v2"] {
            let r = get(&c, &ks, path, &[]).await;
            assert_eq!(r.status, 404, "{path}");
            assert_eq!(
                r.json(),
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "the server could not find the requested resource", "reason": "NotFound",
                    "details": {}, "code": 404})
            );
        }
        // Nothing acceptable: 406.
        let r = get(&c, &ks, "/apis", &[("Accept", "text/html")]).await;
        assert_eq!(r.status, 406);
        assert_eq!(r.json()["reason"], "NotAcceptable");
    });
}

#[test]
fn aggregated_discovery_by_accept_with_etags() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = ks.client(true, false);
        for (accept, version) in [
            (V2, "v2"),
            (V2BETA1, "v2beta1"),
            (KUBECTL_ACCEPT, "v2"),
            (
                "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
                "v2beta1",
            ),
        ] {
            let ct = format!(
                "application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
            );
            let api = get(&c, &ks, "/api", &[("Accept", accept)]).await;
            assert_eq!(api.status, 200);
            assert_eq!(api.content_type.as_deref(), Some(ct.as_str()), "{accept}");
            assert_eq!(api.vary.as_deref(), Some("Accept"));
            assert_eq!(api.cache_control.as_deref(), Some("public"));
            let v = api.json();
            assert_eq!(v["kind"], "APIGroupDiscoveryList");
            assert_eq!(v["apiVersion"], format!("apidiscovery.k8s.io/{version}"));
            assert_eq!(v["metadata"], json!({}));
            let core = &v["items"][0];
            assert_eq!(core["metadata"], json!({"creationTimestamp": null}));
            assert_eq!(core["versions"][0]["version"], "v1");
            assert_eq!(core["versions"][0]["freshness"], "Current");
            assert_eq!(
                find(&core["versions"][0]["resources"], "resource", "pods"),
                &json!({"resource": "pods", "responseKind": {"group": "", "version": "", "kind": "Pod"},
                    "scope": "Namespaced", "singularResource": "pod",
                    "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                    "shortNames": ["po"], "categories": ["all"],
                    "subresources": [
                        {"subresource": "attach", "responseKind": {"group": "", "version": "", "kind": "PodAttachOptions"}, "verbs": ["create", "get"]},
                        {"subresource": "binding", "responseKind": {"group": "", "version": "", "kind": "Binding"}, "verbs": ["create"]},
                        {"subresource": "ephemeralcontainers", "responseKind": {"group": "", "version": "", "kind": "Pod"}, "verbs": ["get", "patch", "update"]},
                        {"subresource": "eviction", "responseKind": {"group": "policy", "version": "v1", "kind": "Eviction"}, "verbs": ["create"]},
                        {"subresource": "exec", "responseKind": {"group": "", "version": "", "kind": "PodExecOptions"}, "verbs": ["create", "get"]},
                        {"subresource": "log", "responseKind": {"group": "", "version": "", "kind": "Pod"}, "verbs": ["get"]},
                        {"subresource": "portforward", "responseKind": {"group": "", "version": "", "kind": "PodPortForwardOptions"}, "verbs": ["create", "get"]},
                        {"subresource": "proxy", "responseKind": {"group": "", "version": "", "kind": "PodProxyOptions"}, "verbs": ["create", "delete", "get", "patch", "update"]},
                        {"subresource": "resize", "responseKind": {"group": "", "version": "", "kind": "Pod"}, "verbs": ["get", "patch", "update"]},
                        {"subresource": "status", "responseKind": {"group": "", "version": "", "kind": "Pod"}, "verbs": ["get", "patch", "update"]}]})
            );
            assert_eq!(
                find(&core["versions"][0]["resources"], "resource", "nodes")["scope"],
                "Cluster"
            );

            let apis = get(&c, &ks, "/apis", &[("Accept", accept)]).await;
            assert_eq!(apis.content_type.as_deref(), Some(ct.as_str()));
            let v = apis.json();
            let apps = &v["items"][0];
            assert_eq!(apps["metadata"]["name"], "apps");
            let deploy = find(&apps["versions"][0]["resources"], "resource", "deployments");
            assert_eq!(deploy["shortNames"], json!(["deploy"]));
            assert_eq!(
                deploy["subresources"],
                json!([
                    {"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]},
                    {"subresource": "status", "responseKind": {"group": "", "version": "", "kind": "Deployment"}, "verbs": ["get", "patch", "update"]}
                ])
            );
            let autoscaling = v["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["metadata"]["name"] == "autoscaling")
                .expect("autoscaling");
            let versions: Vec<&Value> = autoscaling["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| &v["version"])
                .collect();
            assert_eq!(versions, [&json!("v2"), &json!("v1")]);
            let v1 = find(&autoscaling["versions"][1]["resources"], "resource", "horizontalpodautoscalers");
            // upstream leaves a kind's group and version empty when they are the resource's own.
            assert_eq!(
                v1["responseKind"],
                json!({"group": "", "version": "", "kind": "HorizontalPodAutoscaler"})
            );
        }

        // ETag and If-None-Match, aggregated and legacy.
        for (path, accept) in [("/apis", V2), ("/api", V2BETA1), ("/apis", "application/json"), ("/api/v1", "")] {
            let first = get(&c, &ks, path, &[("Accept", accept)]).await;
            let etag = first.etag.clone().expect("ETag");
            assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 130, "{etag}");
            let again = get(&c, &ks, path, &[("Accept", accept)]).await;
            assert_eq!(again.etag.as_deref(), Some(etag.as_str()), "stable ETag");
            let cached = get(&c, &ks, path, &[("Accept", accept), (IF_NONE_MATCH.as_str(), &etag)]).await;
            assert_eq!(cached.status, 304, "{path} {accept}");
            assert!(cached.body.is_empty());
            assert_eq!(cached.etag.as_deref(), Some(etag.as_str()));
            let stale = get(&c, &ks, path, &[("Accept", accept), (IF_NONE_MATCH.as_str(), "\"other\"")]).await;
            assert_eq!(stale.status, 200);
        }
    });
}

fn run(kubectl: &Path, ks: &Kubeshard, cache: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new(kubectl)
        .arg(format!("--kubeconfig={}", ks.kubeconfig().display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .args(args)
        .output()
        .expect("kubectl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} {args:?}: {stderr}",
        kubectl.display()
    );
    assert!(
        !stderr.contains("couldn't get") && !stderr.contains("unable to retrieve"),
        "{} {args:?}: {stderr}",
        kubectl.display()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn kubectl_api_resources_and_api_versions_across_versions() {
    let ks = Kubeshard::start(&[]);
    for kubectl in support::kubectls() {
        let cache = tempfile::tempdir().unwrap();
        let name = kubectl.display().to_string();
        let out = run(&kubectl, &ks, cache.path(), &["api-resources"]);
        let lines: Vec<Vec<&str>> = out.lines().map(words).collect();
        assert_eq!(
            lines[0],
            ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
            "{name}"
        );
        for want in [
            "deployments deploy apps/v1 true Deployment",
            "pods po v1 true Pod",
            "namespaces ns v1 false Namespace",
            "nodes no v1 false Node",
            "horizontalpodautoscalers hpa autoscaling/v2 true HorizontalPodAutoscaler",
            "events ev events.k8s.io/v1 true Event",
            "clusterroles rbac.authorization.k8s.io/v1 false ClusterRole",
            "leases coordination.k8s.io/v1 true Lease",
        ] {
            assert!(
                lines.contains(&words(want)),
                "{name}: no line {want:?} in\n{out}"
            );
        }
        let preferred = resources::RESOURCES
            .iter()
            .filter(|r| resources::preferred_version(r.group) == Some(r.version))
            .count();
        assert_eq!(
            lines.len(),
            1 + preferred,
            "{name}: one line per resource at its group's preferred version\n{out}"
        );

        // A second run answers from its discovery cache the same way.
        let again = run(&kubectl, &ks, cache.path(), &["api-resources"]);
        assert_eq!(again, out, "{name}");

        let ns = run(
            &kubectl,
            &ks,
            cache.path(),
            &["api-resources", "--namespaced=false", "-o", "name"],
        );
        assert!(ns.lines().any(|l| l == "namespaces"), "{name}: {ns}");
        assert!(!ns.lines().any(|l| l == "pods"), "{name}: {ns}");

        let versions = run(&kubectl, &ks, cache.path(), &["api-versions"]);
        let versions: Vec<&str> = versions.lines().collect();
        for want in [
            "apps/v1",
            "v1",
            "autoscaling/v2",
            "autoscaling/v1",
            "batch/v1",
            "events.k8s.io/v1",
        ] {
            assert!(versions.contains(&want), "{name}: {versions:?}");
        }

        let raw = run(
            &kubectl,
            &ks,
            cache.path(),
            &["get", "--raw", "/apis/batch/v1"],
        );
        let raw: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(raw["groupVersion"], "batch/v1");
    }
}

#[test]
fn kube_crate_discovery_reads_every_group() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let kc = kube::config::Kubeconfig::read_from(ks.kubeconfig()).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(cfg).unwrap();
        let d = kube::Discovery::new(client).run().await.unwrap();
        let groups: Vec<String> = d.groups().map(|g| g.name().to_string()).collect();
        assert!(groups.iter().any(|g| g.is_empty()), "{groups:?}");
        assert!(groups.iter().any(|g| g == "apps"), "{groups:?}");
        let autoscaling = d.get("autoscaling").expect("autoscaling");
        assert_eq!(autoscaling.preferred_version_or_latest(), "v2");
        let (ar, caps) = d
            .get("apps")
            .and_then(|g| g.recommended_kind("Deployment"))
            .expect("Deployment");
        assert_eq!(ar.plural, "deployments");
        assert!(caps
            .subresources
            .iter()
            .any(|(s, _)| s.plural == "deployments/scale" || s.plural == "scale"));
    });
}
