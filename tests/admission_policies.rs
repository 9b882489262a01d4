//! ValidatingAdmissionPolicy end to end: a policy with params from a ConfigMap denying with
//! its messageExpression (the REST API's Status and kubectl's line, as upstream's docs show
//! them), a missing param with `parameterNotFoundAction: Deny`, Warn (the `Warning` header)
//! and Audit (the audit event's `validation_failure` annotation) actions, `failurePolicy` for
//! an expression that fails, `matchConditions`, `variables` and excluded resources.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::rt;
use support::server::Kubeshard;

const POLICIES: &str = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies";
const BINDINGS: &str = "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings";

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

async fn created(ks: &Kubeshard, path: &str, body: Value) {
    let (code, v, _) = post(ks, path, &body).await;
    assert_eq!(code, 201, "{path}: {v}");
}

async fn namespace(ks: &Kubeshard, case: &str) -> String {
    let ns = format!("vap-{case}");
    created(
        ks,
        "/api/v1/namespaces",
        json!({"metadata": {"name": ns, "labels": {"case": case}}}),
    )
    .await;
    ns
}

fn deployment(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
}

fn policy(name: &str, spec: Value) -> Value {
    json!({"metadata": {"name": name}, "spec": spec})
}

fn deployments_rule() -> Value {
    json!({"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}]})
}

fn binding(name: &str, policy: &str, case: &str, actions: &[&str], param_ref: Value) -> Value {
    let mut spec = json!({"policyName": policy, "validationActions": actions,
        "matchResources": {"namespaceSelector": {"matchLabels": {"case": case}}}});
    if !param_ref.is_null() {
        spec["paramRef"] = param_ref;
    }
    json!({"metadata": {"name": name}, "spec": spec})
}

/// Waits until every shard enforces a new policy: twelve dry-run creates of `probe` in `ns`
/// in a row (fresh connections, spread over the shards) answer `code`.
async fn in_effect(ks: &Kubeshard, ns: &str, probe: &Value, code: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let path = format!("/apis/apps/v1/namespaces/{ns}/deployments?dryRun=All");
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

fn deny_with_params(ks: &Kubeshard) {
    rt().block_on(async {
        let ns = namespace(ks, "deny").await;
        created(ks, &format!("/api/v1/namespaces/{ns}/configmaps"),
            json!({"metadata": {"name": "limits"}, "data": {"maxReplicas": "3"}})).await;
        created(ks, POLICIES, policy("max-replicas", json!({
            "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
            "matchConstraints": deployments_rule(),
            "validations": [{"expression": "object.spec.replicas <= int(params.data.maxReplicas)",
                "messageExpression": "'replicas must be at most ' + params.data.maxReplicas"}],
        }))).await;
        created(ks, BINDINGS, binding("max-replicas-binding", "max-replicas", "deny", &["Deny"],
            json!({"name": "limits", "parameterNotFoundAction": "Deny"}))).await;
        in_effect(ks, &ns, &deployment("probe", 9), 422).await;
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments");
        let (code, v, _) = post(ks, &path, &deployment("big", 5)).await;
        assert_eq!(code, 422, "{v}");
        assert_eq!(v["reason"], "Invalid");
        let want = "deployments.apps \"big\" is forbidden: ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-binding' denied request: replicas must be at most 3";
        assert_eq!(v["message"], want);
        assert_eq!(v["details"]["causes"][0]["message"], want.split_once("forbidden: ").unwrap().1);
        let (code, v, _) = post(ks, &path, &deployment("small", 2)).await;
        assert_eq!(code, 201, "{v}");
        // An update is judged too.
        let mut scaled = v.clone();
        scaled["spec"]["replicas"] = json!(7);
        let r = ks.client(true, true).put(ks.url(&format!("{path}/small"))).json(&scaled).send().await.unwrap();
        assert_eq!(r.status(), 422);
        // kubectl, as upstream's documentation shows the refusal.
        let yaml = serde_json::to_string(&deployment("big-kubectl", 5)).unwrap();
        let out = kubectl_stdin(ks, &["create", "-n", &ns, "-f", "-"], &yaml);
        assert!(!out.0, "{out:?}");
        assert!(out.2.contains("The deployments \"big-kubectl\" is invalid: : ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-binding' denied request: replicas must be at most 3"), "{}", out.2);
        // Where the param is missing, parameterNotFoundAction Deny refuses everything.
        let bare = namespace(ks, "deny-bare").await;
        created(ks, BINDINGS, binding("max-replicas-bare", "max-replicas", "deny-bare", &["Deny"],
            json!({"name": "limits", "parameterNotFoundAction": "Deny"}))).await;
        in_effect(ks, &bare, &deployment("probe", 1), 422).await;
        let (code, v, _) = post(ks, &format!("/apis/apps/v1/namespaces/{bare}/deployments"), &deployment("tiny", 1)).await;
        assert_eq!(code, 422, "{v}");
        assert_eq!(v["message"], "deployments.apps \"tiny\" is forbidden: ValidatingAdmissionPolicy 'max-replicas' with binding 'max-replicas-bare' denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction");
    });
}

fn warn_and_audit(ks: &Kubeshard, audit_log: &std::path::Path) {
    rt().block_on(async {
        let ns = namespace(ks, "warn").await;
        created(ks, POLICIES, policy("no-latest", json!({
            "matchConstraints": deployments_rule(),
            "validations": [{"expression": "object.spec.template.spec.containers.all(c, !c.image.endsWith(':latest'))",
                "message": "images must be pinned", "reason": "Forbidden"}],
        }))).await;
        created(ks, BINDINGS, binding("no-latest-warn", "no-latest", "warn", &["Warn", "Audit"], Value::Null)).await;
        let mut latest = deployment("latest", 1);
        latest["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:latest");
        let deadline = Instant::now() + Duration::from_secs(15);
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments");
        let mut in_a_row = 0;
        while in_a_row < 12 {
            let (code, v, warnings) = post(ks, &format!("{path}?dryRun=All"), &latest).await;
            assert_eq!(code, 201, "Warn does not deny: {v}");
            if warnings.is_empty() {
                in_a_row = 0;
                assert!(Instant::now() < deadline, "never warned");
            } else {
                in_a_row += 1;
            }
        }
        let (code, v, warnings) = post(ks, &path, &latest).await;
        assert_eq!(code, 201, "{v}");
        assert_eq!(warnings, ["299 - \"Validation failed for ValidatingAdmissionPolicy 'no-latest' with binding 'no-latest-warn': images must be pinned\""]);
        // The audit event of that create carries the failure.
        let deadline = Instant::now() + Duration::from_secs(10);
        let annotation = loop {
            let text = std::fs::read_to_string(audit_log).unwrap_or_default();
            let text = text.as_str();
            let found = text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|e| {
                e["stage"] == "ResponseComplete" && e["objectRef"]["namespace"] == ns.as_str()
                    && e["verb"] == "create" && e["requestURI"].as_str().is_some_and(|u| !u.contains("dryRun"))
            });
            if let Some(e) = found {
                break e["annotations"]["validation.policy.admission.k8s.io/validation_failure"].clone();
            }
            assert!(Instant::now() < deadline, "no audit event in {text}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let failures: Value = serde_json::from_str(annotation.as_str().unwrap()).unwrap();
        assert_eq!(failures, json!([{"message": "images must be pinned", "policy": "no-latest",
            "binding": "no-latest-warn", "expressionIndex": 0, "validationActions": ["Warn", "Audit"]}]));
    });
}

fn failure_policies_conditions_and_variables(ks: &Kubeshard) {
    rt().block_on(async {
        let ns = namespace(ks, "fail").await;
        // Deployments have no spec.nope: the expression fails to evaluate.
        for (name, policy_name, failure) in [("fails-closed", "broken-fail", "Fail"), ("fails-open", "broken-ignore", "Ignore")] {
            created(ks, POLICIES, policy(policy_name, json!({
                "failurePolicy": failure,
                "matchConstraints": deployments_rule(),
                "matchConditions": [{"name": "only-named", "expression": format!("object.metadata.name.startsWith('{name}')")}],
                "validations": [{"expression": "object.spec.nope > 1"}],
            }))).await;
            created(ks, BINDINGS, binding(&format!("{policy_name}-binding"), policy_name, "fail", &["Deny"], Value::Null)).await;
        }
        created(ks, POLICIES, policy("replica-cap", json!({
            "matchConstraints": {"resourceRules": deployments_rule()["resourceRules"].clone(),
                "excludeResourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"], "resourceNames": ["exempt"]}]},
            "variables": [{"name": "replicas", "expression": "object.spec.replicas"}],
            "validations": [{"expression": "variables.replicas < 10"}],
        }))).await;
        created(ks, BINDINGS, binding("replica-cap-binding", "replica-cap", "fail", &["Deny"], Value::Null)).await;
        in_effect(ks, &ns, &deployment("fails-closed-probe", 1), 422).await;
        in_effect(ks, &ns, &deployment("probe", 20), 422).await;
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments");
        let (code, v, _) = post(ks, &path, &deployment("fails-closed-1", 1)).await;
        assert_eq!(code, 422, "{v}");
        let msg = v["message"].as_str().unwrap();
        assert!(msg.starts_with("deployments.apps \"fails-closed-1\" is forbidden: ValidatingAdmissionPolicy 'broken-fail' with binding 'broken-fail-binding' denied request: "), "{msg}");
        let (code, v, _) = post(ks, &path, &deployment("fails-open-1", 1)).await;
        assert_eq!(code, 201, "Ignore: {v}");
        let (code, v, _) = post(ks, &path, &deployment("many", 12)).await;
        assert_eq!(code, 422, "{v}");
        assert_eq!(v["message"], "deployments.apps \"many\" is forbidden: ValidatingAdmissionPolicy 'replica-cap' with binding 'replica-cap-binding' denied request: failed expression: variables.replicas < 10");
        let (code, v, _) = post(ks, &path, &deployment("exempt", 12)).await;
        assert_eq!(code, 201, "excluded by name: {v}");
    });
}

fn policies_are_validated(ks: &Kubeshard) {
    rt().block_on(async {
        let (code, v, _) = post(ks, POLICIES, &policy("bad", json!({"validations": [{"expression": "object.spec >"}]}))).await;
        assert_eq!(code, 422, "{v}");
        let msg = v["message"].as_str().unwrap();
        assert!(msg.contains("spec.matchConstraints: Required value"), "{msg}");
        assert!(msg.contains("spec.validations[0].expression: Invalid value: \"object.spec >\": compilation failed"), "{msg}");
        let out = support::kubectl_bin("kubectl", ks, &["get", "validatingadmissionpolicies"]);
        assert!(out.0, "{out:?}");
        let header: Vec<&str> = out.1.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["NAME", "VALIDATIONS", "PARAMKIND", "AGE"]);
        assert!(out.1.contains("v1/ConfigMap"), "{}", out.1);
    });
}

#[test]
fn validating_admission_policies() {
    let dir = tempfile::tempdir().unwrap();
    let audit_policy = dir.path().join("audit.yaml");
    std::fs::write(&audit_policy, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  resources:\n  - group: apps\n    resources: [deployments]\n").unwrap();
    let audit_log = dir.path().join("audit.log");
    let ks = Kubeshard::start(&[
        &format!("--audit-policy-file={}", audit_policy.display()),
        &format!("--audit-log-path={}", audit_log.display()),
    ]);
    type Case<'a> = (&'static str, Box<dyn Fn(&Kubeshard) + 'a>);
    let cases: Vec<Case> = vec![
        ("deny_with_params", Box::new(deny_with_params)),
        (
            "warn_and_audit",
            Box::new(|ks: &Kubeshard| warn_and_audit(ks, &audit_log)),
        ),
        (
            "failure_policies_conditions_and_variables",
            Box::new(failure_policies_conditions_and_variables),
        ),
        ("policies_are_validated", Box::new(policies_are_validated)),
    ];
    let mut failed = Vec::new();
    for (name, case) in &cases {
        eprintln!("case {name}");
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&ks))).is_err() {
            failed.push(*name);
        }
    }
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}
