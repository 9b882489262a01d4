//! Webhook token authentication (`--authentication-token-webhook-config-file`): a bearer
//! token no other authenticator knows is sent as a TokenReview (`authentication.k8s.io`,
//! `--authentication-token-webhook-version`, v1beta1 by default as upstream) to the webhook;
//! its `status.user` is the request's user. Answers, authenticated or not, are cached per
//! shard for `--authentication-token-webhook-cache-ttl` (2m), as upstream caches them; a
//! webhook that cannot be reached or answers an error is a 401 and is not cached.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::Outcome;
use crate::request::UserInfo;
use crate::webhook::{WebhookClient, WebhookTarget};

/// Entries a shard's cache keeps at most (then it starts over).
const MAX_CACHED: usize = 4096;

/// The handle shards hold.
#[derive(Debug, Clone)]
pub struct WebhookTokenAuthenticator {
    client: WebhookClient,
    api_version: &'static str,
    audiences: Vec<String>,
    /// `--authentication-token-webhook-cache-ttl`.
    pub ttl: Duration,
}

impl WebhookTokenAuthenticator {
    /// Starts the webhook thread for `target`; reviews ask for `audiences` in `version`
    /// (`v1` or `v1beta1`).
    pub fn start(
        target: WebhookTarget,
        version: &str,
        audiences: Vec<String>,
        ttl: Duration,
    ) -> Result<Self, String> {
        let api_version = match version {
            "v1" => "authentication.k8s.io/v1",
            "v1beta1" => "authentication.k8s.io/v1beta1",
            other => {
                return Err(format!(
                    "unsupported webhook version {other:?} (v1, v1beta1)"
                ))
            }
        };
        Ok(Self {
            client: WebhookClient::start("authn-webhook", target)?,
            api_version,
            audiences,
            ttl,
        })
    }

    /// The webhook's answer for `token`.
    pub async fn authenticate(&self, token: &str) -> Outcome {
        let mut spec = json!({"token": token});
        if !self.audiences.is_empty() {
            spec["audiences"] = json!(self.audiences);
        }
        let body = json!({"apiVersion": self.api_version, "kind": "TokenReview",
            "metadata": {"creationTimestamp": null}, "spec": spec, "status": {"user": {}}});
        match self.client.call(body.to_string()).await {
            Ok(v) => read_status(&v["status"], &self.audiences),
            Err(e) => Outcome::Invalid(format!("webhook: {e}")),
        }
    }
}

/// What a TokenReview's status says.
pub fn read_status(status: &Value, audiences: &[String]) -> Outcome {
    if status["authenticated"] != true {
        return match status["error"].as_str() {
            Some(e) if !e.is_empty() => Outcome::Invalid(format!("webhook: {e}")),
            _ => Outcome::Unknown,
        };
    }
    // Audiences answered must meet the ones asked for, when the webhook says any.
    if let Some(got) = status["audiences"].as_array() {
        if !audiences.is_empty()
            && !got
                .iter()
                .any(|a| audiences.iter().any(|w| a == w.as_str()))
        {
            return Outcome::Invalid(
                "webhook: token audiences is invalid for the target audiences".into(),
            );
        }
    }
    let u = &status["user"];
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut extra = BTreeMap::new();
    if let Some(m) = u["extra"].as_object() {
        for (k, v) in m {
            extra.insert(k.clone(), strs(v));
        }
    }
    Outcome::User(UserInfo {
        name: u["username"].as_str().unwrap_or_default().to_string(),
        uid: u["uid"].as_str().unwrap_or_default().to_string(),
        groups: strs(&u["groups"]),
        extra,
    })
}

/// A shard's cache of the webhook's answers (users and refusals, not errors).
#[derive(Debug, Default)]
pub struct WebhookCache {
    entries: RefCell<HashMap<Box<str>, (Instant, Outcome), foldhash::fast::RandomState>>,
}

impl WebhookCache {
    /// The cached answer for `token`, if younger than `ttl`.
    pub fn get(&self, token: &str, ttl: Duration) -> Option<Outcome> {
        let entries = self.entries.borrow();
        let (at, out) = entries.get(token)?;
        (at.elapsed() < ttl).then(|| out.clone())
    }

    /// Remembers `out` unless it is an error.
    pub fn put(&self, token: &str, out: &Outcome) {
        if matches!(out, Outcome::Invalid(_)) {
            return;
        }
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= MAX_CACHED {
            entries.clear();
        }
        entries.insert(token.into(), (Instant::now(), out.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_upstream_reads_them() {
        let ok = read_status(
            &json!({"authenticated": true, "user": {"username": "jane", "groups": ["g"], "extra": {"k": ["v"]}}}),
            &[],
        );
        let Outcome::User(u) = ok else {
            panic!("{ok:?}")
        };
        assert_eq!(
            (u.name.as_str(), u.groups.as_slice()),
            ("jane", &["g".to_string()][..])
        );
        assert_eq!(
            read_status(&json!({"authenticated": false}), &[]),
            Outcome::Unknown
        );
        assert!(matches!(
            read_status(&json!({"error": "boom"}), &[]),
            Outcome::Invalid(_)
        ));
        let wrong_aud = read_status(
            &json!({"authenticated": true, "user": {"username": "jane"}, "audiences": ["other"]}),
            &["api".to_string()],
        );
        assert!(matches!(wrong_aud, Outcome::Invalid(_)));
    }
}
