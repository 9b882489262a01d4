//! What real clients see, as against kube-apiserver: the body limit's 413 on HTTP/1.1 and
//! HTTP/2 (with and without a Content-Length), boolean query parameters decoded as upstream's
//! query decoder decodes them, and the connection staying usable after a refused body. One
//! server serves every case in this file; each case runs even when another fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use bytes::Bytes;
use kubeshard::storage::etcd::{EtcdConfig, EtcdStore};
use kubeshard::storage::kv::{KvStore, Precondition};
use serde_json::{json, Value};
use support::etcd::EtcdServer;
use support::rt;
use support::server::Kubeshard;

/// Objects another writer put in etcd (an older server, a restore tool) are served as
/// upstream decodes them: defaulted, with every field their Go type always encodes, in
/// GETs, lists and watches alike.
#[test]
fn objects_stored_by_another_writer_are_served_defaulted_with_go_fields() {
    let etcd = EtcdServer::start_new();
    rt().block_on(async {
        let store = EtcdStore::connect(EtcdConfig::new(vec![etcd.endpoint()]))
            .await
            .unwrap();
        let raw = [
            (
                "/registry/namespaces/legacy",
                json!({"kind": "Namespace", "apiVersion": "v1",
                    "metadata": {"name": "legacy", "uid": "u1", "creationTimestamp": "2020-01-01T00:00:00Z"},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
            ),
            (
                "/registry/controllers/legacy/rc",
                json!({"kind": "ReplicationController", "apiVersion": "v1",
                    "metadata": {"name": "rc", "namespace": "legacy", "uid": "u2", "creationTimestamp": "2020-01-01T00:00:00Z"},
                    "spec": {"selector": {"a": "b"}, "template": {"metadata": {"labels": {"a": "b"}},
                        "spec": {"containers": [{"name": "c", "image": "i"}]}}}}),
            ),
        ];
        for (key, obj) in &raw {
            store
                .put(
                    Bytes::from_static(key.as_bytes()),
                    Bytes::from(serde_json::to_vec(obj).unwrap()),
                    Precondition::Absent,
                )
                .await
                .unwrap();
        }
    });
    let ks = Kubeshard::start(&[&format!("--etcd-servers={}", etcd.endpoint())]);
    rt().block_on(async {
        let c = ks.client(true, true);
        let get = |path: String| {
            let c = c.clone();
            async move {
                let r = c.get(path).send().await.unwrap();
                assert_eq!(r.status(), 200);
                r.json::<Value>().await.unwrap()
            }
        };
        let ns = get(ks.url("/api/v1/namespaces/legacy")).await;
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "legacy",
            "defaulted on read"
        );
        let rc = get(ks.url("/api/v1/namespaces/legacy/replicationcontrollers/rc")).await;
        assert_eq!(rc["spec"]["replicas"], 1, "defaulted: {rc}");
        assert_eq!(rc["status"], json!({"replicas": 0}), "Go's status fields: {rc}");
        assert_eq!(
            rc["spec"]["template"]["metadata"]["creationTimestamp"],
            Value::Null
        );
        assert!(rc["spec"]["template"]["metadata"]
            .as_object()
            .unwrap()
            .contains_key("creationTimestamp"));
        let c0 = &rc["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c0["terminationMessagePolicy"], "File");
        assert_eq!(c0["resources"], json!({}));
        let list = get(ks.url("/api/v1/replicationcontrollers")).await;
        assert_eq!(list["items"][0]["status"], json!({"replicas": 0}));
        let watched = c
            .get(ks.url(
                "/api/v1/namespaces/legacy/replicationcontrollers?watch=1&timeoutSeconds=1",
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let ev: Value = serde_json::from_str(watched.lines().next().unwrap()).unwrap();
        assert_eq!(ev["object"]["status"], json!({"replicas": 0}), "{watched}");
        // A new ReplicationController answers its status as upstream's does.
        let made = c
            .post(ks.url("/api/v1/namespaces/legacy/replicationcontrollers"))
            .header("content-type", "application/json")
            .body(
                serde_json::to_vec(&json!({"metadata": {"name": "new"}, "spec": {"selector": {"a": "b"},
                    "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
                .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), 201);
        let made: Value = made.json().await.unwrap();
        assert_eq!(made["status"], json!({"replicas": 0}));
    });
}

#[test]
fn client_fidelity() {
    let ks = Kubeshard::start(&[]);
    let cases: &[support::Case] = &[
        (
            "an_oversized_body_gets_the_413_status_on_both_protocols",
            an_oversized_body_gets_the_413_status_on_both_protocols,
        ),
        (
            "boolean_query_parameters_decode_as_upstream",
            boolean_query_parameters_decode_as_upstream,
        ),
        (
            "lists_stream_the_whole_body_form_and_large_answers_are_gzipped",
            lists_stream_the_whole_body_form_and_large_answers_are_gzipped,
        ),
    ];
    support::run_cases(&ks, cases);
}

/// A ConfigMap body of about `bytes` bytes.
fn configmap(name: &str, bytes: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"metadata": {"name": name}, "data": {"k": "a".repeat(bytes)}}))
        .unwrap()
}

fn an_oversized_body_gets_the_413_status_on_both_protocols(ks: &Kubeshard) {
    rt().block_on(async {
        let url = ks.url("/api/v1/namespaces/default/configmaps");
        for http2 in [false, true] {
            let c = ks.client(true, http2);
            // With a Content-Length over the limit.
            let r = c
                .post(&url)
                .header("content-type", "application/json")
                .body(configmap("big", 4 << 20))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 413, "http2={http2}");
            let expected_version = if http2 {
                reqwest::Version::HTTP_2
            } else {
                reqwest::Version::HTTP_11
            };
            assert_eq!(r.version(), expected_version);
            let s: Value = r.json().await.unwrap();
            assert_eq!(s["reason"], "RequestEntityTooLarge");
            assert_eq!(s["message"], "Request entity too large: limit is 3145728");

            // Streamed, with no Content-Length: the limit is found while reading.
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = configmap("streamed", 4 << 20)
                .chunks(64 << 10)
                .map(|c| Ok(c.to_vec()))
                .collect();
            let r = c
                .post(&url)
                .header("content-type", "application/json")
                .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                    chunks,
                )))
                .send()
                .await
                .unwrap_or_else(|e| panic!("http2={http2}: no answer: {e:?}"));
            assert_eq!(r.status(), 413, "http2={http2}");
            let s: Value = r.json().await.unwrap();
            assert_eq!(s["code"], 413);

            // Far over the limit and streamed over HTTP/2: the stream ends after the 413.
            if http2 {
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> = configmap("huge", 12 << 20)
                    .chunks(64 << 10)
                    .map(|c| Ok(c.to_vec()))
                    .collect();
                let r = c
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                        chunks,
                    )))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 413);
            }

            // The client goes on (over HTTP/2: the same connection).
            let r = c
                .get(ks.url("/api/v1/namespaces/default/configmaps"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "http2={http2}");
        }
    });
}

fn boolean_query_parameters_decode_as_upstream(ks: &Kubeshard) {
    rt().block_on(async {
        let c = ks.client(true, true);
        let path = "/api/v1/namespaces/default/configmaps";
        // A watch for every form upstream reads as true (the Python client sends `True`);
        // a list for the false forms.
        for (value, watch) in [
            ("true", true),
            ("True", true),
            ("TRUE", true),
            ("1", true),
            ("t", true),
            ("yes", true),
            ("", true),
            ("false", false),
            ("False", false),
            ("FALSE", false),
            ("0", false),
        ] {
            let r = c
                .get(ks.url(&format!("{path}?watch={value}&timeoutSeconds=1")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "watch={value}");
            let body = r.text().await.unwrap();
            let first: Value = serde_json::from_str(body.lines().next().unwrap_or("{}")).unwrap();
            if watch {
                assert!(
                    first.get("type").is_some() || body.is_empty(),
                    "watch={value:?} should watch: {body}"
                );
                assert!(first.get("kind").is_none(), "watch={value:?}: {body}");
            } else {
                assert_eq!(first["kind"], "ConfigMapList", "watch={value:?}: {body}");
            }
        }
        // sendInitialEvents=True with bookmarks: the initial-events-end bookmark comes.
        let r = c
            .get(ks.url(&format!(
                "{path}?watch=1&sendInitialEvents=True&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=True&timeoutSeconds=1"
            )))
            .send()
            .await
            .unwrap();
        let body = r.text().await.unwrap();
        assert!(
            body.contains("\"k8s.io/initial-events-end\":\"true\""),
            "{body}"
        );

        // dryRun accepts only All, with upstream's 422.
        let r = c
            .post(ks.url(&format!("{path}?dryRun=Bogus")))
            .header("content-type", "application/json")
            .body(configmap("dry", 1))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let s: Value = r.json().await.unwrap();
        assert_eq!(
            s["message"],
            "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Bogus\"}: supported values: \"All\""
        );
        // orphanDependents=True in the query: the orphan finalizer.
        let made = c
            .post(ks.url(path))
            .header("content-type", "application/json")
            .body(
                serde_json::to_vec(
                    &json!({"metadata": {"name": "orphaned", "finalizers": ["example.com/keep"]}}),
                )
                .unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), 201);
        let r = c
            .delete(ks.url(&format!("{path}/orphaned?orphanDependents=True")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let obj: Value = r.json().await.unwrap();
        assert_eq!(
            obj["metadata"]["finalizers"],
            json!(["example.com/keep", "orphan"])
        );
    });
}

fn lists_stream_the_whole_body_form_and_large_answers_are_gzipped(ks: &Kubeshard) {
    use std::io::Read;
    rt().block_on(async {
        let c = ks.client(true, true);
        let r = c
            .post(ks.url("/api/v1/namespaces"))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&json!({"metadata": {"name": "lists"}})).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        support::namespace_defaults(ks, "lists").await;
        let path = "/api/v1/namespaces/lists/configmaps";
        for i in 0..300 {
            let r = c
                .post(ks.url(path))
                .header("content-type", "application/json")
                .body(configmap(&format!("cm-{i:03}"), 1000))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
        // The streamed list is, byte for byte, the whole-body form: the envelope around
        // each item's bytes as a GET answers them, at the list's revision.
        let r = c.get(ks.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let length: usize = r.headers()["content-length"].to_str().unwrap().parse().unwrap();
        let listed = r.bytes().await.unwrap();
        assert_eq!(listed.len(), length);
        let v: Value = serde_json::from_slice(&listed).unwrap();
        let rv = v["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        let mut whole = format!(
            "{{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{{\"resourceVersion\":\"{rv}\"}},\"items\":["
        )
        .into_bytes();
        // Every namespace also holds the kube-root-ca.crt ConfigMap, as upstream's do.
        let names: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 301, "{names:?}");
        assert_eq!(names[300], "kube-root-ca.crt");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                whole.push(b',');
            }
            let one = c
                .get(ks.url(&format!("{path}/{name}")))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            whole.extend_from_slice(&one);
        }
        whole.extend_from_slice(b"]}");
        assert!(listed == whole, "the streamed list differs from the whole-body form");

        // gzip: asked for, a list over 128 KiB comes gzipped; the same bytes unzipped.
        let r = c
            .get(ks.url(path))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-encoding"], "gzip");
        assert_eq!(r.headers()["vary"], "Accept-Encoding");
        let zipped = r.bytes().await.unwrap();
        assert!(zipped.len() < listed.len());
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_end(&mut plain)
            .unwrap();
        // Background writes (leases) may move the list's resourceVersion between the calls.
        let without_rv = |b: &[u8]| {
            let mut v: Value = serde_json::from_slice(b).unwrap();
            v["metadata"]["resourceVersion"] = Value::Null;
            v
        };
        assert!(without_rv(&plain) == without_rv(&listed), "gzip round trip");
        // Small answers, and clients that do not ask, get plain bodies.
        let small = c
            .get(ks.url(&format!("{path}/cm-000")))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert!(small.headers().get("content-encoding").is_none());
        let plain_list = c.get(ks.url(path)).send().await.unwrap();
        assert!(plain_list.headers().get("content-encoding").is_none());
        // Discovery and OpenAPI documents over the threshold too; watches never.
        let doc = c
            .get(ks.url("/openapi/v2"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(doc.headers()["content-encoding"], "gzip");
        let watch = c
            .get(ks.url(&format!("{path}?watch=1&timeoutSeconds=1")))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert!(watch.headers().get("content-encoding").is_none());
        assert!(watch.text().await.unwrap().contains("\"ADDED\""));

        // A protobuf list, item by item, decodes to the same items (read at the JSON list's
        // revision: the servers' leases are renewed meanwhile, so "now" has moved on).
        use prost::Message;
        let r = c
            .get(ks.url(&format!(
                "{path}?resourceVersion={rv}&resourceVersionMatch=Exact"
            )))
            .header("accept", "application/vnd.kubernetes.protobuf")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["content-type"],
            "application/vnd.kubernetes.protobuf"
        );
        let pb = r.bytes().await.unwrap();
        assert_eq!(&pb[..4], b"k8s\0");
        let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(&pb[4..]).unwrap();
        assert_eq!(
            unknown.type_meta.unwrap().kind.as_deref(),
            Some("ConfigMapList")
        );
        let list =
            k8s_pb::api::core::v1::ConfigMapList::decode(unknown.raw.unwrap().as_slice()).unwrap();
        assert_eq!(list.items.len(), 301);
        assert_eq!(list.metadata.unwrap().resource_version.as_deref(), Some(rv.as_str()));
        assert_eq!(
            list.items[7].metadata.as_ref().unwrap().name.as_deref(),
            Some("cm-007")
        );
    });
}
