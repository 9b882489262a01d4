//! The `Webhook` mode (`--authorization-webhook-config-file`): a request's attributes are sent
//! as a SubjectAccessReview (`authorization.k8s.io`, `--authorization-webhook-version`, v1beta1
//! by default as upstream) to the webhook, whose `status.allowed` / `status.denied` decide.
//! Allowed answers are cached per shard for `--authorization-webhook-cache-authorized-ttl`
//! (5m), the others for `--authorization-webhook-cache-unauthorized-ttl` (30s), keyed by the
//! whole review; a webhook that cannot be reached or answers an error gives no decision and
//! an error (a 500 unless another mode allows), and is not cached.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::config::{FailurePolicy, WebhookSpec};
use super::{Attributes, Decision};
use crate::webhook::{WebhookClient, WebhookTarget};

/// Entries a shard's cache keeps at most (then it starts over).
const MAX_CACHED: usize = 4096;

/// What every shard's webhook mode shares: the client and its settings.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    client: WebhookClient,
    api_version: &'static str,
    authorized_ttl: Duration,
    unauthorized_ttl: Duration,
    failure_policy: FailurePolicy,
    name: &'static str,
    match_conditions: Vec<crate::cel::Expression>,
}

impl WebhookSettings {
    /// Starts the `authz-webhook` thread for the webhook `spec` describes.
    pub fn start(spec: &WebhookSpec) -> Result<Self, String> {
        let api_version = match spec.version.as_str() {
            "v1" => "authorization.k8s.io/v1",
            "v1beta1" => "authorization.k8s.io/v1beta1",
            other => {
                return Err(format!(
                    "unsupported webhook version {other:?} (v1, v1beta1)"
                ))
            }
        };
        let target = WebhookTarget::read(&spec.kubeconfig)?.with_timeout(spec.timeout);
        Ok(Self {
            client: WebhookClient::start("authz-webhook", target)?,
            api_version,
            authorized_ttl: spec.authorized_ttl,
            unauthorized_ttl: spec.unauthorized_ttl,
            failure_policy: spec.failure_policy,
            name: crate::api::intern::intern(&spec.name),
            match_conditions: spec.match_conditions.clone(),
        })
    }
}

/// The mode on one shard, with its cache.
#[derive(Debug)]
pub struct WebhookAuthorizer {
    settings: WebhookSettings,
    cache: RefCell<HashMap<String, (Instant, Decision), foldhash::fast::RandomState>>,
}

/// The review's spec for `a`, fields left out when empty as Go's omitempty does; the groups
/// under `groups_field` (`groups` in v1, `group` in v1beta1).
pub fn review_spec(a: &Attributes<'_>, groups_field: &str) -> Value {
    let mut spec = Map::new();
    let put = |m: &mut Map<String, Value>, k: &str, v: &str| {
        if !v.is_empty() {
            m.insert(k.into(), json!(v));
        }
    };
    if a.resource_request {
        let mut r = Map::new();
        put(&mut r, "namespace", a.namespace);
        put(&mut r, "verb", a.verb);
        put(&mut r, "group", a.api_group);
        put(&mut r, "version", a.api_version);
        put(&mut r, "resource", a.resource);
        put(&mut r, "subresource", a.subresource);
        put(&mut r, "name", a.name);
        spec.insert("resourceAttributes".into(), Value::Object(r));
    } else {
        let mut n = Map::new();
        put(&mut n, "path", a.path);
        put(&mut n, "verb", a.verb);
        spec.insert("nonResourceAttributes".into(), Value::Object(n));
    }
    put(&mut spec, "user", &a.user.name);
    if !a.user.groups.is_empty() {
        spec.insert(groups_field.into(), json!(a.user.groups));
    }
    if !a.user.extra.is_empty() {
        spec.insert("extra".into(), json!(a.user.extra));
    }
    put(&mut spec, "uid", &a.user.uid);
    Value::Object(spec)
}

/// What a SubjectAccessReview's status decides.
pub fn read_status(status: &Value) -> Decision {
    let reason = status["reason"].as_str().unwrap_or_default().to_string();
    if status["allowed"] == true {
        Decision::Allow(reason)
    } else if status["denied"] == true {
        Decision::Deny(reason)
    } else {
        Decision::NoOpinion(reason)
    }
}

impl WebhookAuthorizer {
    /// The mode on one shard.
    /// The webhook's name in the authorization configuration (`webhook` from the flags).
    pub fn name(&self) -> &'static str {
        self.settings.name
    }

    pub fn new(settings: WebhookSettings) -> Self {
        Self {
            settings,
            cache: RefCell::new(HashMap::default()),
        }
    }

    /// What a failure to decide becomes under the webhook's failure policy.
    fn failed(&self, why: String) -> Decision {
        log::warn!("authorization webhook {}: {why}", self.settings.name);
        match self.settings.failure_policy {
            FailurePolicy::Error => Decision::Error(format!("webhook authorizer: {why}")),
            FailurePolicy::NoOpinion => Decision::NoOpinion(String::new()),
            FailurePolicy::Deny => Decision::Deny(String::new()),
        }
    }

    /// The webhook's decision for `a`.
    pub async fn authorize(&self, a: &Attributes<'_>) -> Decision {
        let v1 = self.settings.api_version.ends_with("/v1");
        let spec = review_spec(a, if v1 { "groups" } else { "group" });
        if !self.settings.match_conditions.is_empty() {
            // `request` is the v1 spec, whatever version the webhook is sent.
            let v1_spec;
            let request = if v1 {
                &spec
            } else {
                v1_spec = review_spec(a, "groups");
                &v1_spec
            };
            for c in &self.settings.match_conditions {
                match c.eval_bool(&[("request", request)]) {
                    Ok(true) => {}
                    Ok(false) => return Decision::NoOpinion(String::new()),
                    Err(e) => return self.failed(format!("matchCondition: {e}")),
                }
            }
        }
        let key = spec.to_string();
        if let Some((at, d)) = self.cache.borrow().get(&key) {
            let ttl = match d {
                Decision::Allow(_) => self.settings.authorized_ttl,
                _ => self.settings.unauthorized_ttl,
            };
            if at.elapsed() < ttl {
                return d.clone();
            }
        }
        let body = json!({"apiVersion": self.settings.api_version, "kind": "SubjectAccessReview",
            "metadata": {"creationTimestamp": null}, "spec": spec, "status": {"allowed": false}});
        match self.settings.client.call(body.to_string()).await {
            Ok(v) => {
                let d = read_status(&v["status"]);
                let mut cache = self.cache.borrow_mut();
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
                cache.insert(key, (Instant::now(), d.clone()));
                d
            }
            Err(e) => self.failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::UserInfo;

    #[test]
    fn reviews_and_answers_as_upstream() {
        let u = UserInfo {
            name: "jane".into(),
            groups: vec!["dev".into()],
            ..UserInfo::default()
        };
        let a = Attributes {
            user: &u,
            verb: "list",
            resource_request: true,
            namespace: "ns",
            api_group: "",
            api_version: "v1",
            resource: "pods",
            subresource: "",
            name: "",
            path: "/api/v1/namespaces/ns/pods",
        };
        assert_eq!(
            review_spec(&a, "group"),
            json!({"resourceAttributes": {"namespace": "ns", "verb": "list", "version": "v1", "resource": "pods"},
                "user": "jane", "group": ["dev"]})
        );
        assert_eq!(
            read_status(&json!({"allowed": true, "reason": "ok"})),
            Decision::Allow("ok".into())
        );
        assert_eq!(
            read_status(&json!({"allowed": false, "denied": true})),
            Decision::Deny(String::new())
        );
        assert_eq!(
            read_status(&json!({"allowed": false})),
            Decision::NoOpinion(String::new())
        );
    }
}
