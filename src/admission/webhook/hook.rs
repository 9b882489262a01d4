//! One webhook of a Mutating- or ValidatingWebhookConfiguration, compiled once per
//! configuration revision: its rules, selectors, CEL match conditions, failure and side-effect
//! policies, timeout and endpoint.

use std::cell::RefCell;
use std::time::Duration;

use serde_json::Value;

use crate::admission::matching::{self, Rule};
use crate::cel::Expression;
use crate::registry::kinds::Object;
use crate::registry::store::Attributes;
use crate::request::selector::LabelSelector;

/// Where the webhook is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `clientConfig.url`.
    Url(reqwest::Url),
    /// `clientConfig.service`.
    Service {
        /// The Service's namespace.
        namespace: String,
        /// The Service's name.
        name: String,
        /// The path (`/` when unset).
        path: String,
        /// The Service port (443 when unset).
        port: u16,
    },
}

/// A compiled webhook.
pub struct Webhook {
    /// The configuration's name.
    pub configuration: String,
    /// The webhook's name (what messages quote).
    pub name: String,
    /// A key unique within the shard's webhooks (reinvocation bookkeeping).
    pub key: String,
    rules: Vec<Rule>,
    /// `failurePolicy: Fail` (else Ignore).
    pub fail_closed: bool,
    namespace_selector: LabelSelector,
    object_selector: LabelSelector,
    /// `matchConditions`: name and compiled expression.
    pub conditions: Vec<(String, Expression)>,
    /// `sideEffects` is None or NoneOnDryRun: it may be called for dry-run requests.
    pub dry_run_safe: bool,
    /// `timeoutSeconds`.
    pub timeout: Duration,
    /// `reinvocationPolicy: IfNeeded` (mutating only).
    pub reinvoke: bool,
    /// Where it is called.
    pub endpoint: Endpoint,
    /// `clientConfig.caBundle`, decoded.
    pub ca_bundle: Option<Vec<u8>>,
    /// The HTTPS client last built, and the address a Service resolved to for it.
    pub client: RefCell<Option<(Option<std::net::SocketAddr>, reqwest::Client)>>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("configuration", &self.configuration)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// Compiles `webhooks[index]` of configuration `config` (its JSON `w`); Err says why the
    /// webhook cannot run (validation keeps such configurations out; objects another writer
    /// stored may still hold one).
    pub fn compile(config: &str, uid: &str, index: usize, w: &Value) -> Result<Self, String> {
        let name = w
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let s = |k: &str| w.get(k).and_then(Value::as_str).unwrap_or_default();
        let cc = w.get("clientConfig").unwrap_or(&Value::Null);
        let endpoint = match (cc.get("url").and_then(Value::as_str), cc.get("service")) {
            (Some(u), _) => Endpoint::Url(reqwest::Url::parse(u).map_err(|e| e.to_string())?),
            (None, Some(svc)) if svc.is_object() => {
                let f = |k: &str| svc.get(k).and_then(Value::as_str).unwrap_or_default();
                Endpoint::Service {
                    namespace: f("namespace").to_string(),
                    name: f("name").to_string(),
                    path: match f("path") {
                        "" => "/".to_string(),
                        p => p.to_string(),
                    },
                    port: svc
                        .get("port")
                        .and_then(Value::as_u64)
                        .and_then(|p| u16::try_from(p).ok())
                        .unwrap_or(443),
                }
            }
            _ => return Err("exactly one of url or service is required".into()),
        };
        let ca_bundle = match cc.get("caBundle").and_then(Value::as_str) {
            Some(b) if !b.is_empty() => Some(
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b)
                    .map_err(|e| format!("caBundle: {e}"))?,
            ),
            _ => None,
        };
        let mut conditions = Vec::new();
        for c in w
            .get("matchConditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let cname = c.get("name").and_then(Value::as_str).unwrap_or_default();
            let expr = c
                .get("expression")
                .and_then(Value::as_str)
                .unwrap_or_default();
            conditions.push((cname.to_string(), Expression::compile(expr)?));
        }
        Ok(Self {
            configuration: config.to_string(),
            key: format!("{uid}/{index}"),
            rules: Rule::parse_all(w.get("rules")),
            fail_closed: s("failurePolicy") != "Ignore",
            namespace_selector: matching::selector(w.get("namespaceSelector"))?,
            object_selector: matching::selector(w.get("objectSelector"))?,
            conditions,
            dry_run_safe: matches!(s("sideEffects"), "None" | "NoneOnDryRun"),
            timeout: Duration::from_secs(
                w.get("timeoutSeconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(10)
                    .clamp(1, 30),
            ),
            reinvoke: s("reinvocationPolicy") == "IfNeeded",
            endpoint,
            ca_bundle,
            client: RefCell::new(None),
            name,
        })
    }

    /// Whether a rule covers the request.
    pub fn rules_match(&self, attrs: &Attributes<'_>) -> bool {
        self.rules.iter().any(|r| r.matches(attrs, attrs.name))
    }

    /// The namespace selector, None when it selects everything.
    pub fn namespace_selector(&self) -> Option<&LabelSelector> {
        (!self.namespace_selector.is_empty()).then_some(&self.namespace_selector)
    }

    /// Whether the object selector matches the new or the old object's labels (upstream's
    /// object matcher: either one).
    pub fn object_matches(&self, new: Option<&Object>, old: Option<&Object>) -> bool {
        matching::object_matches(&self.object_selector, new, old)
    }
}
