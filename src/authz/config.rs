//! `--authorization-config` (structured authorization, `AuthorizationConfiguration`): the
//! authorizer chain as a list (`Node`, `RBAC`, `AlwaysAllow`, `AlwaysDeny`, and any number of
//! `Webhook`s, each with its own timeout, review version, cache TTLs, failure policy and
//! kubeconfig file, and `matchConditions`: CEL over the review's `request`, compiled when the
//! file is read, all of which must hold for the webhook to be asked). `server::authorizers`
//! reads the file again when it changes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// What a webhook's failure to answer decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// No decision, and an error: a 500 unless another mode allows (the flag form).
    #[default]
    Error,
    /// No opinion: the next authorizer decides.
    NoOpinion,
    /// Denied.
    Deny,
}

/// One authorizer of the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizerSpec {
    /// A built-in mode by its `--authorization-mode` name.
    Builtin(String),
    /// A webhook.
    Webhook(WebhookSpec),
}

/// A webhook authorizer's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSpec {
    /// Its name (unique in the file).
    pub name: String,
    /// The kubeconfig-format file naming the endpoint.
    pub kubeconfig: PathBuf,
    /// `v1` or `v1beta1`.
    pub version: String,
    /// How long allowed answers are cached.
    pub authorized_ttl: Duration,
    /// How long other answers are cached.
    pub unauthorized_ttl: Duration,
    /// How long one review may take.
    pub timeout: Duration,
    /// What a failure decides.
    pub failure_policy: FailurePolicy,
    /// CEL conditions over `request` (the v1 SubjectAccessReview spec); the webhook is asked
    /// only when all are true.
    pub match_conditions: Vec<crate::cel::Expression>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    kind: String,
    #[serde(default)]
    authorizers: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    webhook: Option<Value>,
}

fn duration(v: &Value, field: &str, default: Duration) -> Result<Duration, String> {
    match v.get(field).and_then(Value::as_str) {
        None => Ok(default),
        Some(s) => tuning::parse_duration(s).map_err(|e| format!("{field}: {e}")),
    }
}

/// Reads the file into the chain it describes, with upstream's validation messages.
pub fn read(path: &Path) -> Result<Vec<AuthorizerSpec>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: Value =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: File = serde_json::from_value(doc).map_err(|e| format!("{}: {e}", path.display()))?;
    if file.kind != "AuthorizationConfiguration" {
        return Err(format!(
            "{}: kind must be AuthorizationConfiguration",
            path.display()
        ));
    }
    let mut errs = Vec::new();
    let mut out = Vec::new();
    let mut names: Vec<String> = Vec::new();
    if file.authorizers.is_empty() {
        errs.push(
            "authorizers: Required value: at least one authorization mode must be defined"
                .to_string(),
        );
    }
    for (i, a) in file.authorizers.iter().enumerate() {
        let at = format!("authorizers[{i}]");
        if a.name.is_empty() {
            errs.push(format!("{at}.name: Required value"));
        } else if names.contains(&a.name) {
            errs.push(format!("{at}.name: Duplicate value: {:?}", a.name));
        }
        names.push(a.name.clone());
        match a.kind.as_str() {
            "AlwaysAllow" | "AlwaysDeny" | "Node" | "RBAC" => {
                if out.contains(&AuthorizerSpec::Builtin(a.kind.clone())) {
                    errs.push(format!("{at}.type: Duplicate value: {:?}", a.kind));
                }
                if a.webhook.is_some() {
                    errs.push(format!("{at}.webhook: Invalid value: non-null: non-null webhook config is only valid for type Webhook"));
                }
                out.push(AuthorizerSpec::Builtin(a.kind.clone()));
            }
            "Webhook" => {
                let Some(w) = &a.webhook else {
                    errs.push(format!("{at}.webhook: Required value: required when type=Webhook"));
                    continue;
                };
                let mut match_conditions = Vec::new();
                for (k, m) in w["matchConditions"].as_array().into_iter().flatten().enumerate() {
                    let src = m["expression"].as_str().unwrap_or_default();
                    match crate::cel::Expression::compile(src) {
                        Ok(e) if !src.is_empty() => match_conditions.push(e),
                        Ok(_) => errs.push(format!("{at}.webhook.matchConditions[{k}].expression: Required value")),
                        Err(e) => errs.push(format!("{at}.webhook.matchConditions[{k}].expression: Invalid value: {src:?}: {e}")),
                    }
                }
                let version = w["subjectAccessReviewVersion"].as_str().unwrap_or_default().to_string();
                if !matches!(version.as_str(), "v1" | "v1beta1") {
                    errs.push(format!("{at}.webhook.subjectAccessReviewVersion: Unsupported value: {version:?}: supported values: \"v1\", \"v1beta1\""));
                }
                let failure_policy = match w["failurePolicy"].as_str() {
                    Some("NoOpinion") => FailurePolicy::NoOpinion,
                    Some("Deny") => FailurePolicy::Deny,
                    other => {
                        let other = other.unwrap_or_default();
                        errs.push(format!("{at}.webhook.failurePolicy: Unsupported value: {other:?}: supported values: \"NoOpinion\", \"Deny\""));
                        FailurePolicy::NoOpinion
                    }
                };
                let conn = &w["connectionInfo"];
                let kubeconfig = match (conn["type"].as_str(), conn["kubeConfigFile"].as_str()) {
                    (Some("KubeConfigFile"), Some(f)) if !f.is_empty() => PathBuf::from(f),
                    (Some("KubeConfigFile"), _) => {
                        errs.push(format!("{at}.webhook.connectionInfo.kubeConfigFile: Required value"));
                        continue;
                    }
                    (other, _) => {
                        let other = other.unwrap_or_default();
                        errs.push(format!("{at}.webhook.connectionInfo.type: Unsupported value: {other:?}: supported values: \"KubeConfigFile\" (kubeshard runs outside a cluster: no \"InClusterConfig\")"));
                        continue;
                    }
                };
                let parsed = (|| -> Result<WebhookSpec, String> {
                    let timeout = duration(w, "timeout", Duration::from_secs(30))?;
                    if timeout.is_zero() || timeout > Duration::from_secs(30) {
                        return Err("timeout must be greater than 0s and at most 30s".into());
                    }
                    Ok(WebhookSpec {
                        name: a.name.clone(),
                        kubeconfig,
                        version,
                        authorized_ttl: duration(w, "authorizedTTL", Duration::from_secs(300))?,
                        unauthorized_ttl: duration(w, "unauthorizedTTL", Duration::from_secs(30))?,
                        timeout,
                        failure_policy,
                        match_conditions: match_conditions.clone(),
                    })
                })();
                match parsed {
                    Ok(spec) => out.push(AuthorizerSpec::Webhook(spec)),
                    Err(e) => errs.push(format!("{at}.webhook: {e}")),
                }
            }
            other => errs.push(format!("{at}.type: Unsupported value: {other:?}: supported values: \"AlwaysAllow\", \"AlwaysDeny\", \"Node\", \"RBAC\", \"Webhook\"")),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(format!("{}: {}", path.display(), errs.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_chain_as_the_file_gives_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("authz.yaml");
        std::fs::write(
            &p,
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n- type: Node\n  name: node\n- type: RBAC\n  name: rbac\n- type: Webhook\n  name: hook\n  webhook:\n    timeout: 3s\n    subjectAccessReviewVersion: v1\n    matchConditionSubjectAccessReviewVersion: v1\n    failurePolicy: Deny\n    authorizedTTL: 1m\n    unauthorizedTTL: 5s\n    connectionInfo:\n      type: KubeConfigFile\n      kubeConfigFile: /etc/hook.yaml\n",
        )
        .unwrap();
        let chain = read(&p).unwrap();
        assert_eq!(chain[0], AuthorizerSpec::Builtin("Node".into()));
        let AuthorizerSpec::Webhook(w) = &chain[2] else {
            panic!("{chain:?}")
        };
        assert_eq!(
            (
                w.timeout,
                w.authorized_ttl,
                w.unauthorized_ttl,
                w.failure_policy
            ),
            (
                Duration::from_secs(3),
                Duration::from_secs(60),
                Duration::from_secs(5),
                FailurePolicy::Deny
            )
        );
        std::fs::write(
            &p,
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthorizationConfiguration\nauthorizers:\n- type: RBAC\n  name: a\n- type: RBAC\n  name: a\n- type: Webhook\n  name: w\n  webhook:\n    subjectAccessReviewVersion: v2\n    failurePolicy: Deny\n    matchConditions:\n    - expression: 'request.user =='\n    connectionInfo:\n      type: InClusterConfig\n",
        )
        .unwrap();
        let e = read(&p).unwrap_err();
        for want in [
            "Duplicate value: \"a\"",
            "Duplicate value: \"RBAC\"",
            "matchConditions[0].expression: Invalid value",
            "subjectAccessReviewVersion: Unsupported value",
            "connectionInfo.type",
        ] {
            assert!(e.contains(want), "{want} in {e}");
        }
    }
}
