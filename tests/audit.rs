//! Auditing end to end: with `--audit-policy-file` and `--audit-log-path`, each request's
//! events appear in the log as upstream writes them (stages per level and rule, the audit id
//! of the `Audit-Id` header, user, impersonated user, objectRef, responseStatus, request and
//! response objects, authorization annotations), a refused credential gets its one event,
//! unaudited paths none, `/metrics` counts events and levels, and the log rotates at
//! `--audit-log-maxsize` keeping `--audit-log-maxbackup` gzipped backups.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::rt;
use support::server::Kubeshard;

const POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/metrics"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps"]
  namespaces: ["audited"]
- level: Request
  resources:
  - group: ""
    resources: ["secrets"]
  omitStages: ["RequestReceived"]
- level: Metadata
"#;

/// Every event written so far.
fn events(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The events of one request (by audit id), once `n` of them are written.
fn request_events(log: &Path, audit_id: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<Value> = events(log)
            .into_iter()
            .filter(|e| e["auditID"] == audit_id)
            .collect();
        if found.len() >= n || Instant::now() > deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stages(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["stage"].as_str().unwrap())
        .collect()
}

fn audit_id(r: &reqwest::Response) -> String {
    r.headers()["audit-id"].to_str().unwrap().to_string()
}

#[test]
fn requests_are_audited_as_the_policy_says() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let log: PathBuf = dir.path().join("logs/audit.log");
    let mut ks = Kubeshard::start(&[
        &format!("--audit-policy-file={}", policy.display()),
        &format!("--audit-log-path={}", log.display()),
        "--audit-log-maxsize=1",
        "--audit-log-maxbackup=1",
        "--audit-log-compress",
    ]);
    rt().block_on(async {
        let c = ks.client(true, true);
        let cm = |name: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}});
        let cms = ks.url("/api/v1/namespaces/default/configmaps");

        // Metadata: both stages, no bodies, the authorization annotations.
        let r = c.post(&cms).json(&cm("one")).header("user-agent", "audit-test/1.0").send().await.unwrap();
        assert_eq!(r.status(), 201);
        let id = audit_id(&r);
        let evs = request_events(&log, &id, 2);
        assert_eq!(stages(&evs), ["RequestReceived", "ResponseComplete"], "{evs:?}");
        let done = &evs[1];
        assert_eq!(done["kind"], "Event");
        assert_eq!(done["apiVersion"], "audit.k8s.io/v1");
        assert_eq!(done["level"], "Metadata");
        assert_eq!(done["verb"], "create");
        assert_eq!(done["requestURI"], "/api/v1/namespaces/default/configmaps");
        assert_eq!(done["user"]["username"], "kubeshard-admin");
        assert!(done["user"]["groups"].as_array().unwrap().contains(&json!("system:masters")));
        assert_eq!(done["sourceIPs"], json!(["127.0.0.1"]));
        assert_eq!(done["userAgent"], "audit-test/1.0");
        assert_eq!(done["objectRef"], json!({"resource": "configmaps", "namespace": "default", "apiVersion": "v1"}));
        assert_eq!(done["responseStatus"], json!({"metadata": {}, "code": 201}));
        assert_eq!(done["annotations"]["authorization.k8s.io/decision"], "allow");
        assert!(done.get("requestObject").is_none() && done.get("responseObject").is_none());
        assert!(evs[0].get("responseStatus").is_none());
        assert!(done["stageTimestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(done["requestReceivedTimestamp"], evs[0]["requestReceivedTimestamp"]);

        // A failure carries its Status.
        let r = c.post(&cms).json(&cm("one")).send().await.unwrap();
        assert_eq!(r.status(), 409);
        let evs = request_events(&log, &audit_id(&r), 2);
        let status = &evs[1]["responseStatus"];
        assert_eq!(status["code"], 409);
        assert_eq!(status["reason"], "AlreadyExists");
        assert_eq!(status["status"], "Failure");
        assert_eq!(status["message"], "configmaps \"one\" already exists");

        // RequestResponse: both bodies on ResponseComplete.
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "audited"}});
        assert_eq!(c.post(ks.url("/api/v1/namespaces")).json(&ns).send().await.unwrap().status(), 201);
        let r = c.post(ks.url("/api/v1/namespaces/audited/configmaps")).json(&cm("two")).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let created: Value = {
            let id = audit_id(&r);
            let body: Value = r.json().await.unwrap();
            let evs = request_events(&log, &id, 2);
            assert_eq!(evs[1]["level"], "RequestResponse");
            assert_eq!(evs[1]["requestObject"]["data"], json!({"k": "v"}));
            assert!(evs[0].get("responseObject").is_none());
            assert_eq!(evs[1]["responseObject"]["metadata"]["uid"], body["metadata"]["uid"]);
            body
        };
        assert_eq!(created["metadata"]["name"], "two");

        // Request level, RequestReceived omitted: one event, the request body only.
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}});
        let r = c.post(ks.url("/api/v1/namespaces/default/secrets")).json(&secret).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let id = audit_id(&r);
        let evs = request_events(&log, &id, 1);
        std::thread::sleep(Duration::from_millis(200));
        let evs_later = request_events(&log, &id, 1);
        assert_eq!(stages(&evs_later), ["ResponseComplete"], "{evs:?}");
        assert_eq!(evs[0]["level"], "Request");
        assert_eq!(evs[0]["requestObject"]["stringData"], json!({"a": "b"}));
        assert!(evs[0].get("responseObject").is_none());

        // A watch: ResponseStarted when it starts, ResponseComplete when it ends.
        let r = c.get(format!("{cms}?watch=true&timeoutSeconds=1")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let id = audit_id(&r);
        let _ = r.bytes().await;
        let evs = request_events(&log, &id, 3);
        assert_eq!(stages(&evs), ["RequestReceived", "ResponseStarted", "ResponseComplete"], "{evs:?}");
        assert_eq!(evs[0]["verb"], "watch");
        assert_eq!(evs[1]["responseStatus"]["code"], 200);

        // Impersonation: the user and the one acted as; a forbidden request's decision.
        let r = c.get(&cms).header("impersonate-user", "bob").send().await.unwrap();
        assert_eq!(r.status(), 403);
        let evs = request_events(&log, &audit_id(&r), 2);
        assert_eq!(evs[1]["user"]["username"], "kubeshard-admin");
        assert_eq!(evs[1]["impersonatedUser"]["username"], "bob");
        assert_eq!(evs[1]["annotations"]["authorization.k8s.io/decision"], "forbid");
        assert_eq!(evs[1]["responseStatus"]["code"], 403);

        // A refused credential: one ResponseStarted event without a user.
        let r = ks.token_client(Some("nobody")).get(&cms).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let evs = request_events(&log, &audit_id(&r), 1);
        assert_eq!(stages(&evs), ["ResponseStarted"], "{evs:?}");
        assert_eq!(
            evs[0]["responseStatus"],
            json!({"metadata": {}, "message": "Authentication failed, attempted: bearer", "code": 401})
        );
        assert_eq!(evs[0]["user"], json!({"username": ""}));

        // Unaudited paths write nothing; the counters see every audited request.
        let r = c.get(ks.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let health_id = audit_id(&r);
        let metrics = c.get(ks.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(events(&log).iter().all(|e| e["auditID"] != health_id.as_str()));
        assert!(metrics.contains("apiserver_audit_level_total{level=\"RequestResponse\"} 1\n"), "{metrics}");
        assert!(metrics.contains("apiserver_audit_level_total{level=\"Request\"} 1\n"), "{metrics}");
        assert!(metrics.contains("apiserver_audit_error_total{plugin=\"log\"} 0\n"), "{metrics}");
        let written = metrics
            .lines()
            .find_map(|l| l.strip_prefix("apiserver_audit_event_total "))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap();
        assert!(written >= 15.0, "{metrics}");

        // Rotation at 1 MB: about 1.6 KB of events per request.
        for i in 0..1500 {
            let r = c.get(format!("{cms}/one?n={i}")).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let backups = loop {
        let backups: Vec<PathBuf> = std::fs::read_dir(log.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p != &log)
            .collect();
        let gz = backups
            .iter()
            .all(|p| p.to_string_lossy().ends_with(".log.gz"));
        if (!backups.is_empty() && gz) || Instant::now() > deadline {
            break backups;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(backups.len(), 1, "one backup kept: {backups:?}");
    let name = backups[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("audit-") && name.ends_with(".log.gz"),
        "{name}"
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&backups[0]).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        text.len() <= 1024 * 1024 && text.len() > 900 * 1024,
        "{}",
        text.len()
    );
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        assert_eq!(e["kind"], "Event");
    }
    assert!(std::fs::metadata(&log).unwrap().len() <= 1024 * 1024);

    // Graceful termination writes what the shards still buffered and does not wait on the
    // log.
    let last = rt().block_on(async {
        let r = ks
            .client(true, true)
            .get(ks.url("/api/v1/namespaces/default/configmaps/one"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        audit_id(&r)
    });
    ks.signal(15);
    let status = ks.wait_exit(Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    let evs: Vec<Value> = events(&log)
        .into_iter()
        .filter(|e| e["auditID"] == last.as_str())
        .collect();
    assert_eq!(
        stages(&evs),
        ["RequestReceived", "ResponseComplete"],
        "the last request's events are written: {evs:?}"
    );
}

#[test]
fn a_bad_policy_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n",
    )
    .unwrap();
    let err = support::server::refused_start(
        &dir.path().join("data"),
        &[
            &format!("--audit-policy-file={}", policy.display()),
            &format!("--audit-log-path={}", dir.path().join("a.log").display()),
        ],
    );
    assert!(
        err.contains("rules[0].level: Unsupported value: \"Loud\""),
        "{err}"
    );
}

#[test]
fn events_reach_the_audit_webhook_in_event_lists() {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let refuse = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (seen, no) = (Arc::clone(&received), Arc::clone(&refuse));
    let (port, ca_file, _hook_dir) = support::https::serve_https(Arc::new(move |head, body| {
        seen.lock().unwrap().push((head.to_string(), body.clone()));
        if no.load(std::sync::atomic::Ordering::Relaxed) {
            ("500 Internal Server Error", json!({}))
        } else {
            ("200 OK", json!({}))
        }
    }));
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  omitStages: [\"RequestReceived\"]\n").unwrap();
    let kubeconfig = dir.path().join("audit-webhook.yaml");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: audit\n  cluster:\n    server: https://127.0.0.1:{port}/audit\n    certificate-authority: {}\nusers:\n- name: api\n  user:\n    token: audit-token\ncontexts:\n- name: c\n  context:\n    cluster: audit\n    user: api\ncurrent-context: c\n",
            ca_file.display()
        ),
    )
    .unwrap();
    let ks = Kubeshard::start(&[
        &format!("--audit-policy-file={}", policy.display()),
        &format!("--audit-webhook-config-file={}", kubeconfig.display()),
        "--audit-webhook-batch-max-wait=200ms",
        "--audit-webhook-initial-backoff=10ms",
    ]);
    let items_with = |id: &str| -> Vec<Value> {
        received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, list)| list["items"].as_array().cloned().unwrap_or_default())
            .filter(|e| e["auditID"] == id)
            .collect()
    };
    rt().block_on(async {
        let c = ks.client(true, true);
        let r = c
            .get(ks.url("/api/v1/namespaces/default/configmaps"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let id = audit_id(&r);
        let deadline = Instant::now() + Duration::from_secs(10);
        while items_with(&id).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let items = items_with(&id);
        assert_eq!(items.len(), 1, "ResponseComplete only: {items:?}");
        assert_eq!(items[0]["stage"], "ResponseComplete");
        assert_eq!(items[0]["verb"], "list");
        {
            let got = received.lock().unwrap();
            let (head, list) = got
                .iter()
                .find(|(_, l)| {
                    l["items"]
                        .as_array()
                        .is_some_and(|i| i.iter().any(|e| e["auditID"] == id.as_str()))
                })
                .unwrap();
            assert!(head.starts_with("post /audit http/1.1"), "{head}");
            assert!(head.contains("authorization: bearer audit-token"), "{head}");
            assert_eq!(list["kind"], "EventList");
            assert_eq!(list["apiVersion"], "audit.k8s.io/v1");
        }

        // A webhook that refuses: the batch is retried, then dropped and counted.
        refuse.store(true, std::sync::atomic::Ordering::Relaxed);
        let calls_before = received.lock().unwrap().len();
        let r = c
            .get(ks.url("/api/v1/namespaces/default/secrets"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let deadline = Instant::now() + Duration::from_secs(10);
        let dropped = loop {
            let metrics = c
                .get(ks.url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let dropped = metrics
                .lines()
                .find_map(|l| l.strip_prefix("apiserver_audit_error_total{plugin=\"webhook\"} "))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            if dropped >= 1.0 || Instant::now() > deadline {
                break dropped;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(dropped >= 1.0, "the refused batch is counted");
        assert!(
            received.lock().unwrap().len() >= calls_before + 3,
            "three attempts"
        );
    });
}
