//! Admission webhooks end to end, against a webhook server in the test (HTTPS on loopback,
//! its own CA in `caBundle`): a validating webhook denying with its message (as the REST API
//! and kubectl show it), a mutating webhook's JSON patch, warnings and the AdmissionReview it
//! is sent, dry run, `timeoutSeconds` with `failurePolicy` Fail and Ignore (and the shard
//! serving other requests while a webhook is slow), a webhook that closes the connection,
//! `matchConditions` and selectors, reinvocation, a webhook reached through a Service and its
//! Endpoints (`--enable-aggregator-routing`), the configurations' own validation and table,
//! and upstream's `apiserver_admission_webhook_*` metrics of all that.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use support::https::{serve_https, Handler};
use support::rt;
use support::server::Kubeshard;

const VALIDATING: &str = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations";
const MUTATING: &str = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";

/// The webhook server: what it was sent, by path.
struct Hooks {
    port: u16,
    ca_bundle: String,
    seen: Arc<Mutex<Vec<(String, Value)>>>,
    _dir: tempfile::TempDir,
}

fn review(uid: &Value, response: Value) -> Value {
    let mut r = response;
    r["uid"] = uid.clone();
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": r})
}

fn patch(ops: Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(ops.to_string())
}

/// Answers by path: `/deny` refuses objects named `bad-*`; `/deny-all` refuses everything;
/// `/mutate` labels the object and warns; `/slow` answers after 3 s; `/close` drops the
/// connection; `/set-b` labels `b`; `/see-b` records in an annotation whether `b` is there.
fn start_hooks() -> Hooks {
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let handler: Handler = Arc::new(move |head, body| {
        let target = head.split(' ').nth(1).unwrap_or("");
        let path = target.split('?').next().unwrap_or("").to_string();
        log.lock().unwrap().push((target.to_string(), body.clone()));
        let req = &body["request"];
        let uid = &req["uid"];
        let name = req["object"]["metadata"]["name"].as_str().unwrap_or("");
        let labels = &req["object"]["metadata"]["labels"];
        match path.as_str() {
            "/deny" | "/deny-all" => {
                let refuse = path == "/deny-all" || name.starts_with("bad-");
                let status = json!({"code": 403, "reason": "Forbidden", "message": "no configmaps named bad"});
                (
                    "200 OK",
                    review(uid, json!({"allowed": !refuse, "status": status})),
                )
            }
            "/mutate" => {
                let mut ops = Vec::new();
                if labels.is_null() {
                    ops.push(json!({"op": "add", "path": "/metadata/labels", "value": {}}));
                }
                ops.push(json!({"op": "add", "path": "/metadata/labels/mutated", "value": "true"}));
                (
                    "200 OK",
                    review(
                        uid,
                        json!({"allowed": true, "patchType": "JSONPatch",
                        "patch": patch(Value::from(ops)), "warnings": ["the mutating webhook was here"],
                        "auditAnnotations": {"touched": "yes"}}),
                    ),
                )
            }
            "/set-b" => {
                let mut ops = Vec::new();
                if labels.is_null() {
                    ops.push(json!({"op": "add", "path": "/metadata/labels", "value": {}}));
                }
                ops.push(json!({"op": "add", "path": "/metadata/labels/b", "value": "set"}));
                (
                    "200 OK",
                    review(
                        uid,
                        json!({"allowed": true, "patchType": "JSONPatch", "patch": patch(Value::from(ops))}),
                    ),
                )
            }
            "/see-b" => {
                let saw = (!labels["b"].is_null()).to_string();
                let mut ops = Vec::new();
                if req["object"]["metadata"]["annotations"].is_null() {
                    ops.push(json!({"op": "add", "path": "/metadata/annotations", "value": {}}));
                }
                ops.push(json!({"op": "add", "path": "/metadata/annotations/saw-b", "value": saw}));
                (
                    "200 OK",
                    review(
                        uid,
                        json!({"allowed": true, "patchType": "JSONPatch", "patch": patch(Value::from(ops))}),
                    ),
                )
            }
            "/slow" => ("sleep 3000", review(uid, json!({"allowed": true}))),
            "/close" => ("close", Value::Null),
            _ => ("404 Not Found", json!({})),
        }
    });
    let (port, ca, dir) = serve_https(handler);
    let ca_bundle = base64::engine::general_purpose::STANDARD.encode(std::fs::read(ca).unwrap());
    Hooks {
        port,
        ca_bundle,
        seen,
        _dir: dir,
    }
}

impl Hooks {
    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The AdmissionReviews sent to `path`, in order.
    fn sent_to(&self, path: &str) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t.split('?').next() == Some(path))
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// A webhook on ConfigMap creates in namespaces labelled `case=<case>`.
    fn webhook(&self, name: &str, path: &str, case: &str, extra: Value) -> Value {
        let mut w = json!({
            "name": name,
            "clientConfig": {"url": self.url(path), "caBundle": self.ca_bundle},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
            "namespaceSelector": {"matchLabels": {"case": case}},
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            w[k] = v.clone();
        }
        w
    }
}

async fn post(ks: &Kubeshard, path: &str, body: &Value) -> (u16, Value, Vec<String>) {
    let r = ks
        .client(true, true)
        .post(ks.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    let warnings = r
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (code, r.json().await.unwrap(), warnings)
}

async fn namespace(ks: &Kubeshard, case: &str) -> String {
    let ns = format!("wh-{case}");
    let (code, v, _) = post(
        ks,
        "/api/v1/namespaces",
        &json!({"metadata": {"name": ns, "labels": {"case": case}}}),
    )
    .await;
    assert_eq!(code, 201, "{v}");
    ns
}

async fn configure(ks: &Kubeshard, collection: &str, name: &str, webhooks: Vec<Value>) {
    let (code, v, _) = post(
        ks,
        collection,
        &json!({"metadata": {"name": name}, "webhooks": webhooks}),
    )
    .await;
    assert_eq!(code, 201, "{v}");
}

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}})
}

/// Waits until every shard acts on a new configuration: twelve dry-run creates of `probe` in
/// `ns` in a row (fresh connections, spread over the shards) must answer `code`. Each shard
/// reads the configurations from its own watch cache replica.
async fn in_effect(ks: &Kubeshard, ns: &str, probe: &Value, code: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let path = format!("/api/v1/namespaces/{ns}/configmaps?dryRun=All");
    let mut in_a_row = 0;
    while in_a_row < 12 {
        let (got, v, _) = post(ks, &path, probe).await;
        if got == code {
            in_a_row += 1;
            continue;
        }
        in_a_row = 0;
        assert!(Instant::now() < deadline, "never {code}: {got} {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn deny_with_a_message(ks: &Kubeshard, hooks: &Hooks) {
    rt().block_on(async {
        let ns = namespace(ks, "deny").await;
        configure(ks, VALIDATING, "deny", vec![hooks.webhook("deny.kubeshard.test", "/deny", "deny", json!({}))]).await;
        in_effect(ks, &ns, &cm("bad-probe"), 403).await;
        let path = format!("/api/v1/namespaces/{ns}/configmaps");
        let (code, v, _) = post(ks, &path, &cm("bad-one")).await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["reason"], "Forbidden");
        assert_eq!(
            v["message"],
            "admission webhook \"deny.kubeshard.test\" denied the request: no configmaps named bad"
        );
        let (code, v, _) = post(ks, &path, &cm("good-one")).await;
        assert_eq!(code, 201, "{v}");
        // What the webhook was told.
        let sent = hooks.sent_to("/deny");
        let r = &sent.iter().rev().find(|b| b["request"]["object"]["metadata"]["name"] == "good-one").unwrap()["request"];
        assert_eq!(r["operation"], "CREATE");
        assert_eq!(r["namespace"], ns.as_str());
        assert_eq!(r["kind"], json!({"group": "", "version": "v1", "kind": "ConfigMap"}));
        assert_eq!(r["resource"], json!({"group": "", "version": "v1", "resource": "configmaps"}));
        assert_eq!(r["userInfo"]["username"], "kubeshard-admin");
        assert_eq!(r["dryRun"], false);
        assert_eq!(r["options"]["kind"], "CreateOptions");
        assert!(r["oldObject"].is_null());
        // Upstream sends the timeout it allows in the query.
        let targets: Vec<String> = hooks.seen.lock().unwrap().iter().map(|(t, _)| t.clone()).collect();
        assert!(targets.iter().any(|t| t == "/deny?timeout=10s"), "{targets:?}");
        // kubectl shows the refusal as it does against kube-apiserver.
        let yaml = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad-kubectl\n  namespace: {ns}\n");
        let out = kubectl_stdin(ks, &["create", "-f", "-"], &yaml);
        assert!(!out.0, "{out:?}");
        assert!(
            out.2.contains("Error from server (Forbidden): error when creating \"STDIN\": admission webhook \"deny.kubeshard.test\" denied the request: no configmaps named bad"),
            "{}",
            out.2
        );
        // Nothing for other namespaces (the namespace selector).
        let (code, v, _) = post(ks, "/api/v1/namespaces/default/configmaps", &cm("bad-elsewhere")).await;
        assert_eq!(code, 201, "{v}");
    });
}

fn kubectl_stdin(ks: &Kubeshard, args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("kubectl")
        .arg(format!("--kubeconfig={}", ks.kubeconfig().display()))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn mutate_with_a_patch(ks: &Kubeshard, hooks: &Hooks) {
    rt().block_on(async {
        let ns = namespace(ks, "mutate").await;
        configure(
            ks,
            MUTATING,
            "mutate",
            vec![hooks.webhook("mutate.kubeshard.test", "/mutate", "mutate", json!({}))],
        )
        .await;
        in_effect(ks, &ns, &cm("probe"), 201).await;
        let path = format!("/api/v1/namespaces/{ns}/configmaps");
        let deadline = Instant::now() + Duration::from_secs(15);
        let (v, warnings) = loop {
            let (code, v, warnings) = post(ks, &format!("{path}?dryRun=All"), &cm("probe")).await;
            assert_eq!(code, 201, "{v}");
            if v["metadata"]["labels"]["mutated"] == "true" {
                break (v, warnings);
            }
            assert!(Instant::now() < deadline, "never mutated: {v}");
        };
        assert_eq!(warnings, ["299 - \"the mutating webhook was here\""]);
        assert!(hooks
            .sent_to("/mutate")
            .iter()
            .any(|b| b["request"]["dryRun"] == true));
        let _ = v;
        let (code, v, _) = post(ks, &path, &cm("real")).await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["metadata"]["labels"]["mutated"], "true");
        // Stored as mutated.
        let got: Value = ks
            .client(true, true)
            .get(ks.url(&format!("{path}/real")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(got["metadata"]["labels"]["mutated"], "true");
        // kubectl prints the warning.
        let out = support::kubectl_bin(
            "kubectl",
            ks,
            &["create", "configmap", "by-kubectl", "-n", &ns],
        );
        assert!(out.0, "{out:?}");
        assert!(
            out.2.contains("Warning: the mutating webhook was here"),
            "{}",
            out.2
        );
    });
}

fn timeouts_and_failure_policies(ks: &Kubeshard, hooks: &Hooks) {
    rt().block_on(async {
        let ns = namespace(ks, "slow").await;
        let slow = |name: &str, policy: &str, sel: &str| {
            hooks.webhook(name, "/slow", "slow", json!({"timeoutSeconds": 1, "failurePolicy": policy,
                "objectSelector": {"matchLabels": {"policy": sel}}}))
        };
        // A quick webhook in the same configuration tells when a shard has all three.
        let probe = hooks.webhook("probe.kubeshard.test", "/deny-all", "slow",
            json!({"objectSelector": {"matchLabels": {"policy": "probe"}}}));
        configure(ks, VALIDATING, "slow", vec![slow("slow-fail.kubeshard.test", "Fail", "fail"), slow("slow-ignore.kubeshard.test", "Ignore", "ignore"), probe]).await;
        let labelled = |name: &str, policy: &str| {
            let mut c = cm(name);
            c["metadata"]["labels"] = json!({"policy": policy});
            c
        };
        in_effect(ks, &ns, &labelled("probe", "probe"), 403).await;
        let path = format!("/api/v1/namespaces/{ns}/configmaps");
        let (code, v, _) = post(ks, &path, &labelled("failed", "fail")).await;
        assert_eq!(code, 500, "{v}");
        assert_eq!(v["reason"], "InternalError");
        let want = format!("Internal error occurred: failed calling webhook \"slow-fail.kubeshard.test\": failed to call webhook: Post \"https://127.0.0.1:{}/slow?timeout=1s\": context deadline exceeded", hooks.port);
        assert_eq!(v["message"], want.as_str());
        let (code, v, _) = post(ks, &path, &labelled("ignored", "ignore")).await;
        assert_eq!(code, 201, "{v}");
        // While a matched webhook is slow, the shard answers everything else: GETs on the
        // same connection pool finish before the slow create does.
        let c = ks.client(true, false);
        let slow_create = {
            let (c, url, body) = (c.clone(), ks.url(&path), labelled("slow-again", "fail"));
            tokio::spawn(async move { c.post(url).json(&body).send().await.map(|r| r.status().as_u16()) })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..20 {
            let r = c.get(ks.url("/api/v1/namespaces/default")).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
        assert!(!slow_create.is_finished(), "the GETs waited for the slow webhook");
        assert_eq!(slow_create.await.unwrap().unwrap(), 500);
    });
}

fn a_webhook_that_hangs_up(ks: &Kubeshard, hooks: &Hooks) {
    rt().block_on(async {
        let ns = namespace(ks, "close").await;
        configure(ks, VALIDATING, "close", vec![hooks.webhook("close.kubeshard.test", "/close", "close", json!({}))]).await;
        in_effect(ks, &ns, &cm("probe"), 500).await;
        let (code, v, _) = post(ks, &format!("/api/v1/namespaces/{ns}/configmaps"), &cm("x")).await;
        assert_eq!(code, 500, "{v}");
        let want = format!("Internal error occurred: failed calling webhook \"close.kubeshard.test\": failed to call webhook: Post \"https://127.0.0.1:{}/close?timeout=10s\": EOF", hooks.port);
        assert_eq!(v["message"], want.as_str());
    });
}

fn match_conditions_and_selectors(ks: &Kubeshard, hooks: &Hooks) {
    rt().block_on(async {
        let ns = namespace(ks, "match").await;
        let w = hooks.webhook("match.kubeshard.test", "/deny-all", "match", json!({
            "matchConditions": [{"name": "checked-names", "expression": "object.metadata.name.startsWith('check-')"}],
            "objectSelector": {"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]},
        }));
        configure(ks, VALIDATING, "match", vec![w]).await;
        in_effect(ks, &ns, &cm("check-probe"), 403).await;
        let path = format!("/api/v1/namespaces/{ns}/configmaps");
        let (code, v, _) = post(ks, &path, &cm("other")).await;
        assert_eq!(code, 201, "condition false: {v}");
        let (code, v, _) = post(ks, &path, &cm("check-me")).await;
        assert_eq!(code, 403, "{v}");
        let mut skipped = cm("check-skipped");
        skipped["metadata"]["labels"] = json!({"skip": "yes"});
        let (code, v, _) = post(ks, &path, &skipped).await;
        assert_eq!(code, 201, "object selector: {v}");
        // A condition that fails to evaluate, failurePolicy Fail: refused with a 403.
        let broken = hooks.webhook("broken.kubeshard.test", "/deny", "match", json!({
            "matchConditions": [{"name": "missing-field", "expression": "object.data.nope == 'x'"}],
            "objectSelector": {"matchLabels": {"broken": "yes"}},
        }));
        configure(ks, VALIDATING, "match-broken", vec![broken]).await;
        let mut b = cm("good-but-broken");
        b["metadata"]["labels"] = json!({"broken": "yes"});
        in_effect(ks, &ns, &b, 403).await;
        let (code, v, _) = post(ks, &path, &b).await;
        assert_eq!(code, 403, "{v}");
        let msg = v["message"].as_str().unwrap();
        assert!(
            msg.starts_with("configmaps \"good-but-broken\" is forbidden: matchCondition \"missing-field\""),
            "{msg}"
        );
    });
}

fn reinvocation(ks: &Kubeshard, hooks: &Hooks) {
    rt().block_on(async {
        let ns = namespace(ks, "reinvoke").await;
        // Configurations run in name order: `a-sees` first, then `b-sets`.
        configure(
            ks,
            MUTATING,
            "a-sees",
            vec![hooks.webhook(
                "see.kubeshard.test",
                "/see-b",
                "reinvoke",
                json!({"reinvocationPolicy": "IfNeeded"}),
            )],
        )
        .await;
        configure(
            ks,
            MUTATING,
            "b-sets",
            vec![hooks.webhook("set.kubeshard.test", "/set-b", "reinvoke", json!({}))],
        )
        .await;
        let path = format!("/api/v1/namespaces/{ns}/configmaps");
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut in_a_row = 0;
        while in_a_row < 12 {
            let (code, v, _) = post(ks, &format!("{path}?dryRun=All"), &cm("probe")).await;
            assert_eq!(code, 201, "{v}");
            if v["metadata"]["labels"]["b"] == "set"
                && v["metadata"]["annotations"]["saw-b"] == "true"
            {
                in_a_row += 1;
            } else {
                in_a_row = 0;
                assert!(Instant::now() < deadline, "never reinvoked: {v}");
            }
        }
        let before = hooks.sent_to("/see-b").len();
        let (code, v, _) = post(ks, &path, &cm("once")).await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(v["metadata"]["annotations"]["saw-b"], "true");
        assert_eq!(
            hooks.sent_to("/see-b").len() - before,
            2,
            "called, then reinvoked once"
        );
    });
}

fn through_a_service(ks: &Kubeshard, hooks: &Hooks) {
    rt().block_on(async {
        let (code, v, _) = post(ks, "/api/v1/namespaces", &json!({"metadata": {"name": "webhooks"}})).await;
        assert_eq!(code, 201, "{v}");
        let svc = json!({"metadata": {"name": "hook"}, "spec": {"ports": [{"port": 443, "targetPort": hooks.port}]}});
        let (code, v, _) = post(ks, "/api/v1/namespaces/webhooks/services", &svc).await;
        assert_eq!(code, 201, "{v}");
        let eps = json!({"metadata": {"name": "hook"}, "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": hooks.port}]}]});
        let (code, v, _) = post(ks, "/api/v1/namespaces/webhooks/endpoints", &eps).await;
        assert_eq!(code, 201, "{v}");
        let ns = namespace(ks, "service").await;
        let mut w = hooks.webhook("service.kubeshard.test", "/deny", "service", json!({}));
        w["clientConfig"] = json!({"service": {"namespace": "webhooks", "name": "hook", "path": "/deny"}, "caBundle": hooks.ca_bundle});
        configure(ks, VALIDATING, "service", vec![w]).await;
        in_effect(ks, &ns, &cm("bad-probe"), 403).await;
        let (code, v, _) = post(ks, &format!("/api/v1/namespaces/{ns}/configmaps"), &cm("bad-svc")).await;
        assert_eq!(code, 403, "{v}");
        assert_eq!(v["message"], "admission webhook \"service.kubeshard.test\" denied the request: no configmaps named bad");
    });
}

fn configurations_are_validated(ks: &Kubeshard, hooks: &Hooks) {
    rt().block_on(async {
        let mut w = hooks.webhook("short", "/deny", "x", json!({"timeoutSeconds": 40}));
        w["clientConfig"] = json!({"url": "http://127.0.0.1/x"});
        w.as_object_mut().unwrap().remove("sideEffects");
        let (code, v, _) = post(ks, VALIDATING, &json!({"metadata": {"name": "bad"}, "webhooks": [w]})).await;
        assert_eq!(code, 422, "{v}");
        let msg = v["message"].as_str().unwrap();
        assert!(msg.starts_with("ValidatingWebhookConfiguration.admissionregistration.k8s.io \"bad\" is invalid: ["), "{msg}");
        for want in [
            "webhooks[0].name: Invalid value: \"short\": should be a domain with at least three segments separated by dots",
            "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
            "webhooks[0].timeoutSeconds: Invalid value: 40: the timeout value must be between 1 and 30 seconds",
            "webhooks[0].clientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
        ] {
            assert!(msg.contains(want), "missing {want:?} in {msg}");
        }
        // Defaults, generation, and the table kubectl prints.
        let (code, v, _) = post(ks, MUTATING, &json!({"metadata": {"name": "defaults"}, "webhooks": [hooks.webhook("d.kubeshard.test", "/mutate", "nowhere", json!({}))]})).await;
        assert_eq!(code, 201, "{v}");
        let w = &v["webhooks"][0];
        assert_eq!((w["failurePolicy"].as_str(), w["matchPolicy"].as_str(), w["timeoutSeconds"].as_i64(), w["reinvocationPolicy"].as_str()), (Some("Fail"), Some("Equivalent"), Some(10), Some("Never")));
        assert_eq!(v["metadata"]["generation"], 1);
        let out = support::kubectl_bin("kubectl", ks, &["get", "mutatingwebhookconfigurations", "defaults"]);
        assert!(out.0, "{out:?}");
        let header: Vec<&str> = out.1.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["NAME", "WEBHOOKS", "AGE"]);
        assert!(out.1.lines().nth(1).unwrap().starts_with("defaults"), "{}", out.1);
        // Writes of admission configuration are never sent to webhooks (a deny-all webhook on
        // everything cannot lock itself in).
    });
}

/// Runs last: what the cases before did, as upstream's webhook metrics count it.
fn metrics_count_the_calls(ks: &Kubeshard, _hooks: &Hooks) {
    rt().block_on(async {
        let text = ks
            .client(true, true)
            .get(ks.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let value = |prefix: &str| -> f64 {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {prefix} in the metrics"))
        };
        assert!(value("apiserver_admission_webhook_request_total{code=\"200\",name=\"deny.kubeshard.test\",operation=\"CREATE\",rejected=\"false\",type=\"validating\"}") >= 1.0);
        assert!(value("apiserver_admission_webhook_request_total{code=\"403\",name=\"deny.kubeshard.test\",operation=\"CREATE\",rejected=\"true\",type=\"validating\"}") >= 1.0);
        assert!(value("apiserver_admission_webhook_rejection_count{error_type=\"no_error\",name=\"deny.kubeshard.test\",operation=\"CREATE\",rejection_code=\"403\",type=\"validating\"}") >= 1.0);
        assert!(value("apiserver_admission_webhook_rejection_count{error_type=\"calling_webhook_error\",name=\"slow-fail.kubeshard.test\",operation=\"CREATE\",rejection_code=\"503\",type=\"validating\"}") >= 1.0);
        assert!(value("apiserver_admission_webhook_fail_open_count{name=\"slow-ignore.kubeshard.test\",type=\"validating\"}") >= 1.0);
        assert!(value("apiserver_admission_webhook_admission_duration_seconds_count{name=\"mutate.kubeshard.test\",operation=\"CREATE\",rejected=\"false\",type=\"admit\"}") >= 1.0);
    });
}

/// A named case run against the shared server and webhook server.
type Case = (&'static str, fn(&Kubeshard, &Hooks));

#[test]
fn admission_webhooks() {
    let hooks = start_hooks();
    let ks = Kubeshard::start(&["--enable-aggregator-routing"]);
    let cases: &[Case] = &[
        ("deny_with_a_message", deny_with_a_message),
        ("mutate_with_a_patch", mutate_with_a_patch),
        (
            "timeouts_and_failure_policies",
            timeouts_and_failure_policies,
        ),
        ("a_webhook_that_hangs_up", a_webhook_that_hangs_up),
        (
            "match_conditions_and_selectors",
            match_conditions_and_selectors,
        ),
        ("reinvocation", reinvocation),
        ("through_a_service", through_a_service),
        ("configurations_are_validated", configurations_are_validated),
        ("metrics_count_the_calls", metrics_count_the_calls),
    ];
    let mut failed = Vec::new();
    for (name, case) in cases {
        eprintln!("case {name}");
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&ks, &hooks))).is_err() {
            failed.push(*name);
        }
    }
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}
