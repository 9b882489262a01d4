//! `/metrics` end to end: after a scripted session (creates, a dry run, reads, a 404, lists,
//! a watch, an anonymous health check, a refused token) the scrape holds kube-apiserver's
//! families with upstream's labels and the counts the session made; a watch counts as
//! long-running while open and in `apiserver_request_total` once closed; OpenMetrics is
//! answered when asked; anonymous users may not scrape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use support::rt;
use support::server::Kubeshard;

/// The value of the sample `name{labels}`, if the scrape has it.
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let head = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    text.lines()
        .find_map(|l| l.strip_prefix(head.as_str()))
        .and_then(|v| v.parse().ok())
}

/// `apiserver_request_total`'s labels for a core/v1 configmaps route.
fn configmaps(verb: &str, scope: &str, code: u16, dry_run: &str) -> String {
    format!(
        "code=\"{code}\",component=\"apiserver\",dry_run=\"{dry_run}\",group=\"\",resource=\"configmaps\",scope=\"{scope}\",subresource=\"\",verb=\"{verb}\",version=\"v1\""
    )
}

async fn scrape(c: &reqwest::Client, ks: &Kubeshard) -> String {
    let r = c.get(ks.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[test]
fn a_session_shows_in_upstreams_families() {
    let ks = Kubeshard::start(&[]);
    rt().block_on(async {
        let c = ks.client(true, true);
        let cms = ks.url("/api/v1/namespaces/default/configmaps");
        let cm = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        assert_eq!(c.post(&cms).json(&cm("one")).send().await.unwrap().status(), 201);
        let dry = format!("{cms}?dryRun=All");
        assert_eq!(c.post(&dry).json(&cm("two")).send().await.unwrap().status(), 201);
        // Refused by admission (NamespaceLifecycle): no such namespace.
        let nowhere = ks.url("/api/v1/namespaces/nowhere/configmaps");
        assert_eq!(c.post(&nowhere).json(&cm("three")).send().await.unwrap().status(), 404);
        assert_eq!(c.get(format!("{cms}/one")).send().await.unwrap().status(), 200);
        assert_eq!(c.get(format!("{cms}/none")).send().await.unwrap().status(), 404);
        let list: serde_json::Value = c.get(&cms).send().await.unwrap().json().await.unwrap();
        let rv = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        assert_eq!(c.get(ks.url("/api/v1/configmaps")).send().await.unwrap().status(), 200);
        // Not a route: not recorded (no series a client could invent).
        assert_eq!(c.get(ks.url("/api/v1/bogus")).send().await.unwrap().status(), 404);
        assert_eq!(c.get(ks.url("/apis")).send().await.unwrap().status(), 200);
        // An anonymous health check (allowed by RBAC's system:public-info-viewer) and a
        // token nobody issued (a 401).
        let anonymous = ks.client(false, true);
        assert_eq!(anonymous.get(ks.url("/healthz")).send().await.unwrap().status(), 200);
        let stranger = ks.token_client(Some("no-such-token"));
        assert_eq!(stranger.get(ks.url("/api")).send().await.unwrap().status(), 401);
        // Anonymous users may not read /metrics (a non-resource URL RBAC guards).
        assert_eq!(anonymous.get(ks.url("/metrics")).send().await.unwrap().status(), 403);

        // A watch: long-running while open, one event sent.
        let watcher = ks.watch_client(true, true);
        let resp = watcher
            .get(format!("{cms}?watch=true&resourceVersion={rv}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut events = resp.bytes_stream();
        let mut update = cm("one");
        update["data"] = json!({"k": "v"});
        assert_eq!(c.put(format!("{cms}/one")).json(&update).send().await.unwrap().status(), 200);
        let first = tokio::time::timeout(Duration::from_secs(10), events.next()).await.unwrap();
        assert!(String::from_utf8_lossy(&first.unwrap().unwrap()).contains("MODIFIED"));
        let open = scrape(&c, &ks).await;
        let watch_route = "component=\"apiserver\",group=\"\",resource=\"configmaps\",scope=\"namespace\",subresource=\"\",verb=\"WATCH\",version=\"v1\"";
        assert_eq!(sample(&open, "apiserver_longrunning_requests", watch_route), Some(1.0), "{open}");
        assert_eq!(sample(&open, "apiserver_registered_watchers", "group=\"\",kind=\"ConfigMap\""), Some(1.0), "{open}");
        assert_eq!(sample(&open, "apiserver_request_total", &configmaps("WATCH", "namespace", 200, "")), None, "{open}");
        drop(events);

        // Closed: the gauge falls back, the watch is counted with its code.
        let deadline = Instant::now() + Duration::from_secs(10);
        let text = loop {
            let text = scrape(&c, &ks).await;
            if sample(&text, "apiserver_longrunning_requests", watch_route) == Some(0.0) || Instant::now() > deadline {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(sample(&text, "apiserver_longrunning_requests", watch_route), Some(0.0), "{text}");
        assert_eq!(sample(&text, "apiserver_registered_watchers", "group=\"\",kind=\"ConfigMap\""), Some(0.0), "{text}");
        assert_eq!(sample(&text, "apiserver_request_total", &configmaps("WATCH", "namespace", 200, "")), Some(1.0), "{text}");

        // The session's requests, with upstream's verbs, scopes and codes.
        for (verb, scope, code, dry_run, n) in [
            ("POST", "resource", 201, "", 1.0),
            ("POST", "resource", 201, "All", 1.0),
            ("GET", "resource", 200, "", 1.0),
            ("GET", "resource", 404, "", 1.0),
            ("LIST", "namespace", 200, "", 1.0),
            ("LIST", "cluster", 200, "", 1.0),
            ("PUT", "resource", 200, "", 1.0),
        ] {
            let labels = configmaps(verb, scope, code, dry_run);
            assert_eq!(sample(&text, "apiserver_request_total", &labels), Some(n), "{labels}\n{text}");
        }
        assert!(!text.contains("resource=\"bogus\""), "{text}");
        let discovery = "code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"\",scope=\"\",subresource=\"/apis\",verb=\"GET\",version=\"\"";
        assert_eq!(sample(&text, "apiserver_request_total", discovery), Some(1.0), "{text}");
        let health = "code=\"200\",component=\"\",dry_run=\"\",group=\"\",resource=\"\",scope=\"\",subresource=\"/healthz\",verb=\"GET\",version=\"\"";
        assert_eq!(sample(&text, "apiserver_request_total", health), Some(1.0), "{text}");

        // Durations: every GET in a bucket; sizes for reads only.
        let get = "component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"configmaps\",scope=\"resource\",subresource=\"\",verb=\"GET\",version=\"v1\"";
        assert_eq!(sample(&text, "apiserver_request_duration_seconds_count", get), Some(2.0), "{text}");
        assert_eq!(sample(&text, "apiserver_request_duration_seconds_bucket", &format!("{get},le=\"60\"")), Some(2.0), "{text}");
        assert!(text.contains("apiserver_request_duration_seconds_bucket{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"configmaps\",scope=\"resource\",subresource=\"\",verb=\"GET\",version=\"v1\",le=\"0.005\"} "), "{text}");
        let get_size = "component=\"apiserver\",group=\"\",resource=\"configmaps\",scope=\"resource\",subresource=\"\",verb=\"GET\",version=\"v1\"";
        assert_eq!(sample(&text, "apiserver_response_sizes_count", get_size), Some(2.0), "{text}");
        assert_eq!(sample(&text, "apiserver_response_sizes_bucket", &format!("{get_size},le=\"1e+09\"")), Some(2.0), "{text}");
        assert!(!text.contains("apiserver_response_sizes_count{component=\"apiserver\",group=\"\",resource=\"configmaps\",scope=\"resource\",subresource=\"\",verb=\"POST\""), "{text}");

        // Watch events, authentication, authorization, shards, the process.
        let events = "group=\"\",resource=\"configmaps\",version=\"v1\"";
        assert_eq!(sample(&text, "apiserver_watch_events_total", events), Some(1.0), "{text}");
        assert_eq!(sample(&text, "apiserver_watch_events_sizes_count", events), Some(1.0), "{text}");
        assert_eq!(sample(&text, "authentication_attempts", "result=\"failure\""), Some(1.0), "{text}");
        assert!(sample(&text, "authentication_attempts", "result=\"success\"").unwrap() >= 14.0, "{text}");
        assert!(sample(&text, "authentication_duration_seconds_count", "result=\"success\"").unwrap() >= 14.0, "{text}");
        assert!(sample(&text, "authorization_attempts_total", "result=\"allowed\"").unwrap() >= 13.0, "{text}");
        assert_eq!(sample(&text, "authorization_attempts_total", "result=\"no-opinion\""), Some(1.0), "{text}");
        // The anonymous health check and the refused scrape were RBAC's to decide; admin's
        // requests are system:masters', which upstream does not count either.
        assert_eq!(sample(&text, "apiserver_authorization_decisions_total", "decision=\"allowed\",name=\"rbac\",type=\"RBAC\""), Some(1.0), "{text}");
        // Every request answered before this scrape, summed over the shards.
        let answered: f64 = text
            .lines()
            .filter(|l| l.starts_with("kubeshard_shard_requests_total{shard=\""))
            .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
            .sum();
        assert!(answered >= 14.0, "{text}");
        let per_shard = |name: &str| -> f64 {
            text.lines()
                .filter(|l| l.starts_with(&format!("{name}{{shard=\"")))
                .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
                .sum()
        };
        assert!(per_shard("kubeshard_shard_connections") >= 1.0, "this scrape's connection\n{text}");
        assert!(per_shard("kubeshard_shard_connections_accepted_total") >= 3.0, "{text}");
        assert!(per_shard("kubeshard_shard_response_bytes_total") > 1000.0, "{text}");
        assert!(text.contains("\nkubeshard_storage_request_queue_depth "), "{text}");
        assert!(text.contains("\nkubeshard_event_lane_depth{shard=\"0\"} "), "{text}");
        assert_eq!(sample(&text, "kubeshard_event_lane_overflows_total", "shard=\"0\""), Some(0.0), "{text}");
        for gauge in ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds"] {
            assert!(sample(&text, gauge, "").unwrap() > 0.0, "{gauge}\n{text}");
        }
        assert!(text.contains("# HELP apiserver_request_total [STABLE] "), "{text}");
        assert!(text.contains("# TYPE apiserver_request_duration_seconds histogram\n"), "{text}");

        // Admission: each phase and each plugin, by operation and whether it refused.
        assert!(sample(&text, "apiserver_admission_step_duration_seconds_count", "operation=\"CREATE\",rejected=\"false\",type=\"validate\"").unwrap() >= 1.0, "{text}");
        assert!(sample(&text, "apiserver_admission_step_duration_seconds_count", "operation=\"UPDATE\",rejected=\"false\",type=\"admit\"").unwrap() >= 1.0, "{text}");
        assert!(text.contains("apiserver_admission_controller_admission_duration_seconds_count{name=\"NamespaceLifecycle\",operation=\"CREATE\",rejected=\"true\","), "{text}");
        assert!(text.contains("apiserver_admission_controller_admission_duration_seconds_bucket{name=\"NamespaceLifecycle\",operation=\"CREATE\",rejected=\"false\",type=\"admit\",le=\"0.005\"} "), "{text}");

        // Storage: objects per resource in the replica, the backend's operation latencies.
        assert_eq!(sample(&text, "apiserver_storage_objects", "resource=\"flowschemas.flowcontrol.apiserver.k8s.io\""), Some(11.0), "{text}");
        assert!(sample(&text, "apiserver_storage_objects", "resource=\"namespaces\"").unwrap() >= 4.0, "{text}");
        assert!(sample(&text, "apiserver_storage_objects", "resource=\"configmaps\"").unwrap() >= 1.0, "{text}");
        assert!(sample(&text, "etcd_request_duration_seconds_count", "operation=\"create\",type=\"configmaps\"").unwrap() >= 1.0, "{text}");
        assert!(sample(&text, "etcd_request_duration_seconds_count", "operation=\"update\",type=\"configmaps\"").unwrap() >= 1.0, "{text}");
        assert!(text.contains("etcd_request_duration_seconds_bucket{operation=\"create\",type=\"configmaps\",le=\"0.005\"} "), "{text}");
        // As the last health probe (every second) read it.
        assert!(sample(&text, "apiserver_storage_size_bytes", "storage_cluster_id=\"embedded\"").unwrap() > 0.0, "{text}");
        // What the one upstream watch delivered (the create and the update), and the lag.
        assert!(sample(&text, "apiserver_watch_cache_events_received_total", "resource=\"configmaps\"").unwrap() >= 2.0, "{text}");
        assert!(sample(&text, "apiserver_watch_cache_resource_version", "resource=\"configmaps\"").unwrap() >= rv.parse::<f64>().unwrap(), "{text}");
        assert!(text.contains("\nkubeshard_watch_cache_lag_revisions{shard=\""), "{text}");

        // OpenMetrics when asked.
        let r = c
            .get(ks.url("/metrics"))
            .header("accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/openmetrics-text; version=1.0.0; charset=utf-8");
        let om = r.text().await.unwrap();
        assert!(om.contains("# TYPE apiserver_request counter\n"), "{om}");
        assert!(om.contains("# TYPE authentication_attempts counter\nauthentication_attempts_total{result=\"failure\"} 1\n"), "{om}");
        assert!(om.ends_with("# EOF\n"), "{om}");
    });
}

#[test]
fn a_request_past_the_timeout_is_a_504_counted_as_a_termination() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ks = Kubeshard::start(&["--request-timeout=1s"]);
    rt().block_on(async {
        // A create whose body never finishes arriving.
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ks.port)).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut conn = support::tls::tls_connector_admin(&ks).connect(name, tcp).await.unwrap();
        conn.write_all(
            b"POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"kind\"",
        )
        .await
        .unwrap();
        conn.flush().await.unwrap();
        let mut answer = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut answer))
            .await
            .unwrap()
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]).to_string();
        assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
        assert!(answer.contains("\"reason\":\"Timeout\""), "{answer}");
        let text = scrape(&ks.client(true, true), &ks).await;
        let labels = "code=\"504\",component=\"apiserver\",group=\"\",resource=\"configmaps\",scope=\"resource\",subresource=\"\",verb=\"POST\",version=\"v1\"";
        assert_eq!(sample(&text, "apiserver_request_terminations_total", labels), Some(1.0), "{text}");
    });
}
