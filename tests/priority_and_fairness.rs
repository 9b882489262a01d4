//! API Priority and Fairness end to end, on one server whose total seats are 3
//! (`--max-requests-inflight=2 --max-mutating-requests-inflight=1`):
//!
//! - the bootstrap configuration is stored and printed with upstream's columns, each
//!   FlowSchema's `Dangling` condition is written, invalid objects get upstream's 422;
//! - every answer names the FlowSchema and priority level that admitted it (by uid);
//! - a user's own level with one seat: over it, `Reject` answers upstream's plain-text 429
//!   with `Retry-After` and the PF headers, a queuing level holds the next request until the
//!   seat is free and refuses the one after as queue-full, while `system:masters` (the exempt
//!   level) is always served; the rejections and dispatches are at `/metrics`;
//! - `--enable-priority-and-fairness=false` serves without APF.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::rt;
use support::server::Kubeshard;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FC: &str = "/apis/flowcontrol.apiserver.k8s.io/v1";

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
}

/// A POST whose body is still arriving: it holds its seat until `finish`.
struct SlowWrite {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    rest: Vec<u8>,
}

impl SlowWrite {
    async fn start(ks: &Kubeshard, token: &str, name: &str) -> Self {
        let body = configmap(name).to_string();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", ks.port))
            .await
            .unwrap();
        let server = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut stream = support::tls::tls_connector(ks)
            .connect(server, tcp)
            .await
            .unwrap();
        let head = format!(
            "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: localhost\r\n\
             Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{}",
            body.len(),
            &body[..10]
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.flush().await.unwrap();
        Self {
            stream,
            rest: body.as_bytes()[10..].to_vec(),
        }
    }

    /// Sends the rest of the body; the answer's status line.
    async fn finish(mut self) -> String {
        self.stream.write_all(&self.rest).await.unwrap();
        let mut answer = vec![0u8; 64];
        let n = self.stream.read(&mut answer).await.unwrap();
        String::from_utf8_lossy(&answer[..n])
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    }
}

async fn get_json(c: &reqwest::Client, url: String) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

async fn metrics(admin: &reqwest::Client, ks: &Kubeshard) -> String {
    admin
        .get(ks.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits until `f` holds (the status writer runs every second).
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let until = Instant::now() + Duration::from_secs(15);
    while !f().await {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn priority_and_fairness_classifies_queues_and_sheds_load() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(
        &tokens,
        "alice-token,alice,uid-alice\nbob-token,bob,uid-bob\n",
    )
    .unwrap();
    let ks = Kubeshard::start(&[
        &format!("--token-auth-file={}", tokens.display()),
        "--max-requests-inflight=2",
        "--max-mutating-requests-inflight=1",
    ]);

    // The bootstrap configuration, as kubectl prints it.
    let (ok, out, err) =
        support::kubectl_bin("kubectl", &ks, &["get", "prioritylevelconfigurations"]);
    assert!(ok, "{err}");
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "NOMINALCONCURRENCYSHARES",
            "QUEUES",
            "HANDSIZE",
            "QUEUELENGTHLIMIT",
            "AGE"
        ]
    );
    let row = |name: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} in {out}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        row("workload-low")[..6],
        ["workload-low", "Limited", "100", "128", "6", "50"]
    );
    assert_eq!(
        row("exempt")[..6],
        ["exempt", "Exempt", "<none>", "<none>", "<none>", "<none>"]
    );
    assert_eq!(
        row("catch-all")[..6],
        ["catch-all", "Limited", "5", "<none>", "<none>", "<none>"]
    );
    let (ok, out, err) = support::kubectl_bin("kubectl", &ks, &["get", "flowschemas"]);
    assert!(ok, "{err}");
    for name in [
        "exempt",
        "probes",
        "system-nodes",
        "service-accounts",
        "global-default",
        "catch-all",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} in {out}"
        );
    }

    rt().block_on(async {
        let admin = ks.client(true, true);
        let alice = ks.token_client(Some("alice-token"));
        let bob = ks.token_client(Some("bob-token"));
        let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "users-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
                         {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]});
        let r = admin.post(ks.url("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"))
            .json(&binding).send().await.unwrap();
        assert_eq!(r.status(), 201);
        for token in ["alice-token", "bob-token"] {
            support::until_authorized(&ks, token, "/api/v1/namespaces/default/configmaps").await;
        }

        // Every answer names what admitted it: system:masters -> exempt, alice -> global-default.
        let uid = |v: &Value| v["metadata"]["uid"].as_str().unwrap().to_string();
        let exempt_fs = uid(&get_json(&admin, ks.url(&format!("{FC}/flowschemas/exempt"))).await);
        let exempt_pl = uid(&get_json(&admin, ks.url(&format!("{FC}/prioritylevelconfigurations/exempt"))).await);
        let r = admin.get(ks.url("/api/v1/namespaces")).send().await.unwrap();
        assert_eq!(r.headers()["x-kubernetes-pf-flowschema-uid"], exempt_fs.as_str());
        assert_eq!(r.headers()["x-kubernetes-pf-prioritylevel-uid"], exempt_pl.as_str());
        let global_fs = uid(&get_json(&admin, ks.url(&format!("{FC}/flowschemas/global-default"))).await);
        let r = alice.get(ks.url("/api/v1/namespaces/default/configmaps")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-kubernetes-pf-flowschema-uid"], global_fs.as_str());

        // The Dangling condition of the bootstrap schemas.
        eventually("the Dangling condition", || async {
            let fs = get_json(&admin, ks.url(&format!("{FC}/flowschemas/global-default"))).await;
            fs["status"]["conditions"][0]["reason"] == "Found"
        })
        .await;
        let fs = get_json(&admin, ks.url(&format!("{FC}/flowschemas/global-default"))).await;
        let c = &fs["status"]["conditions"][0];
        assert_eq!((c["type"].as_str(), c["status"].as_str()), (Some("Dangling"), Some("False")));
        assert_eq!(
            c["message"],
            "This FlowSchema references the PriorityLevelConfiguration object named \"global-default\" and it exists"
        );

        // Invalid objects: upstream's 422.
        let bad = json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "FlowSchema",
            "metadata": {"name": "bad"},
            "spec": {"matchingPrecedence": 20000, "priorityLevelConfiguration": {"name": "x"}, "rules": []}});
        let r = admin.post(ks.url(&format!("{FC}/flowschemas"))).json(&bad).send().await.unwrap();
        assert_eq!(r.status(), 422);
        let s: Value = r.json().await.unwrap();
        assert_eq!(s["details"]["causes"][0]["field"], "spec.matchingPrecedence");
        assert_eq!(s["details"]["causes"][0]["message"], "Invalid value: 20000: must not be greater than 10000");

        // Alice and Bob get a level of their own with one seat that neither lends nor borrows.
        let level = |name: &str, response: Value| json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "PriorityLevelConfiguration", "metadata": {"name": name},
            "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 1, "lendablePercent": 0,
                     "borrowingLimitPercent": 0, "limitResponse": response}}});
        let schema = |name: &str, user: &str, pl: &str| json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema", "metadata": {"name": name},
            "spec": {"matchingPrecedence": 100, "priorityLevelConfiguration": {"name": pl},
                     "distinguisherMethod": {"type": "ByUser"},
                     "rules": [{"subjects": [{"kind": "User", "user": {"name": user}}],
                                "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"],
                                                   "clusterScope": true, "namespaces": ["*"]}]}]}});
        for (path, body) in [
            ("prioritylevelconfigurations", level("alice-level", json!({"type": "Reject"}))),
            ("prioritylevelconfigurations", level("bob-level", json!({"type": "Queue",
                "queuing": {"queues": 1, "handSize": 1, "queueLengthLimit": 1}}))),
            ("flowschemas", schema("alice", "alice", "alice-level")),
            ("flowschemas", schema("bob", "bob", "bob-level")),
            ("flowschemas", schema("carol", "carol", "no-such-level")),
        ] {
            let r = admin.post(ks.url(&format!("{FC}/{path}"))).json(&body).send().await.unwrap();
            assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        }
        let alice_fs = uid(&get_json(&admin, ks.url(&format!("{FC}/flowschemas/alice"))).await);
        let alice_pl = uid(&get_json(&admin, ks.url(&format!("{FC}/prioritylevelconfigurations/alice-level"))).await);
        eventually("carol's schema marked dangling", || async {
            let fs = get_json(&admin, ks.url(&format!("{FC}/flowschemas/carol"))).await;
            fs["status"]["conditions"][0]["reason"] == "NotFound"
        })
        .await;
        let cms = ks.url("/api/v1/namespaces/default/configmaps");
        // Each shard classifies from its own replica: wait until fresh connections (spread over
        // the shards by SO_REUSEPORT) all see the new schemas.
        let bob_fs = uid(&get_json(&admin, ks.url(&format!("{FC}/flowschemas/bob"))).await);
        for (token, want) in [("alice-token", &alice_fs), ("bob-token", &bob_fs)] {
            eventually("every shard classifying by the new schemas", || async {
                for _ in 0..12 {
                    let r = ks.token_client(Some(token)).get(&cms).send().await.unwrap();
                    if r.headers()["x-kubernetes-pf-flowschema-uid"] != want.as_str() {
                        return false;
                    }
                }
                true
            })
            .await;
        }

        // Reject: Alice's one seat held by a write whose body is still arriving, her next
        // request is refused at once.
        let executing = |who: &str| {
            format!("apiserver_flowcontrol_current_executing_requests{{flow_schema=\"{who}\",priority_level=\"{who}-level\"}} 1\n")
        };
        let slow = SlowWrite::start(&ks, "alice-token", "slow-alice").await;
        eventually("the slow write holding alice's seat", || async {
            metrics(&admin, &ks).await.contains(&executing("alice"))
        })
        .await;
        let refused = alice.post(&cms).json(&configmap("a-over")).send().await.unwrap();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["retry-after"], "1");
        assert_eq!(refused.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(refused.headers()["x-kubernetes-pf-flowschema-uid"], alice_fs.as_str());
        assert_eq!(refused.headers()["x-kubernetes-pf-prioritylevel-uid"], alice_pl.as_str());
        assert_eq!(refused.text().await.unwrap(), "Too many requests, please try again later.\n");
        // The exempt level and other levels are served meanwhile.
        let r = admin.post(&cms).json(&configmap("by-admin")).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let r = bob.get(&cms).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(slow.finish().await.starts_with("HTTP/1.1 201"));
        let r = alice.post(&cms).json(&configmap("alice-after")).send().await.unwrap();
        assert_eq!(r.status(), 201);

        // Queue: Bob's next request waits for the seat, the one after finds the queue full.
        let slow = SlowWrite::start(&ks, "bob-token", "slow-bob").await;
        eventually("the slow write holding bob's seat", || async {
            metrics(&admin, &ks).await.contains(&executing("bob"))
        })
        .await;
        let (c, url) = (bob.clone(), cms.clone());
        let waiting = tokio::spawn(async move {
            c.post(url).json(&configmap("b-queued")).send().await.unwrap().status()
        });
        let in_queue = "apiserver_flowcontrol_current_inqueue_requests{flow_schema=\"bob\",priority_level=\"bob-level\"} 1\n";
        eventually("bob's second write queued", || async {
            metrics(&admin, &ks).await.contains(in_queue)
        })
        .await;
        assert!(!waiting.is_finished());
        let full = bob.post(&cms).json(&configmap("b-over")).send().await.unwrap();
        assert_eq!(full.status(), 429);
        assert!(slow.finish().await.starts_with("HTTP/1.1 201"));
        assert_eq!(waiting.await.unwrap(), 201, "the queued write is served once the seat is free");

        // What /metrics says happened.
        let m = metrics(&admin, &ks).await;
        for line in [
            "apiserver_flowcontrol_rejected_requests_total{flow_schema=\"alice\",priority_level=\"alice-level\",reason=\"concurrency-limit\"} 1\n",
            "apiserver_flowcontrol_rejected_requests_total{flow_schema=\"bob\",priority_level=\"bob-level\",reason=\"queue-full\"} 1\n",
            "apiserver_flowcontrol_nominal_limit_seats{priority_level=\"alice-level\"} 1\n",
            "apiserver_flowcontrol_current_inqueue_requests{flow_schema=\"bob\",priority_level=\"bob-level\"} 0\n",
            "apiserver_flowcontrol_request_wait_duration_seconds_count{execute=\"true\",flow_schema=\"bob\",priority_level=\"bob-level\"}",
        ] {
            assert!(m.contains(line), "{line} in {m}");
        }
        assert!(m.contains("apiserver_flowcontrol_dispatched_requests_total{flow_schema=\"exempt\",priority_level=\"exempt\"}"), "{m}");
    });
}

#[test]
fn disabled_priority_and_fairness_serves_without_it() {
    let ks = Kubeshard::start(&["--enable-priority-and-fairness=false"]);
    rt().block_on(async {
        let admin = ks.client(true, true);
        let r = admin
            .get(ks.url("/api/v1/namespaces"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("x-kubernetes-pf-flowschema-uid").is_none());
        // The API is still served; nothing bootstraps it.
        let l = get_json(&admin, ks.url(&format!("{FC}/flowschemas"))).await;
        assert_eq!(l["items"], json!([]));
    });
}
