//! JWT authenticators from `--authentication-config` (structured authentication,
//! `AuthenticationConfiguration`) and the `--oidc-*` flags, which map onto one of them as
//! upstream maps them: tokens from an OpenID Connect issuer, verified with the keys its
//! discovery document points to, mapped to a user by claims and prefixes, checked by required
//! claim values. The configuration's `anonymous` section decides anonymous requests (on, off,
//! or only for some paths).
//!
//! A `jwt-issuers` thread fetches every issuer's discovery document and keys (with the CA the
//! configuration gives) at start and every minute, re-reads the configuration file when it
//! changes, and publishes the result for the shards, which only read it. The CEL forms
//! (claim mapping expressions, `extra`, expression validation rules on claims and on the
//! user) are compiled when the file is read, through the CEL module (`crate::cel`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::service_account::claims::now;
use super::{Outcome, TokenAuthenticator};
use crate::cel::Expression;
use crate::request::UserInfo;

/// How often keys are fetched again and the file is looked at.
const REFRESH: Duration = Duration::from_secs(60);
const FILE_POLL: Duration = Duration::from_secs(10);

/// `AuthenticationConfiguration` (apiserver.config.k8s.io v1, v1beta1, v1alpha1).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationConfiguration {
    /// The JWT authenticators.
    #[serde(default)]
    pub jwt: Vec<JwtAuthenticator>,
    /// Anonymous requests.
    #[serde(default)]
    pub anonymous: Option<AnonymousConfig>,
}

/// The `anonymous` section.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnonymousConfig {
    /// Whether anonymous requests are allowed.
    #[serde(default)]
    pub enabled: bool,
    /// When set, only these exact paths may be anonymous.
    #[serde(default)]
    pub conditions: Vec<AnonymousCondition>,
}

/// One path anonymous requests may have.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AnonymousCondition {
    /// The exact request path.
    pub path: String,
}

/// One JWT authenticator.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtAuthenticator {
    /// Where tokens come from.
    pub issuer: Issuer,
    /// `claim` = `requiredValue` rules.
    #[serde(default)]
    pub claim_validation_rules: Vec<ClaimValidationRule>,
    /// How claims become the user.
    #[serde(default)]
    pub claim_mappings: ClaimMappings,
    /// CEL rules on the user.
    #[serde(default)]
    pub user_validation_rules: Vec<ExpressionRule>,
    /// The expressions above, compiled when the file is read.
    #[serde(skip)]
    pub compiled: Compiled,
}

/// An expression with the message to refuse with when it is false.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExpressionRule {
    /// The CEL expression (a bool).
    #[serde(default)]
    pub expression: String,
    /// The message when it is false.
    #[serde(default)]
    pub message: String,
}

/// One `extra` mapping: a key and the expression giving its values.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtraMapping {
    /// The key (domain-prefixed, lower case).
    #[serde(default)]
    pub key: String,
    /// The CEL expression (a string or a list of strings).
    #[serde(default)]
    pub value_expression: String,
}

/// An authenticator's compiled expressions.
#[derive(Debug, Clone, Default)]
pub struct Compiled {
    username: Option<Expression>,
    groups: Option<Expression>,
    uid: Option<Expression>,
    extra: Vec<(String, Expression)>,
    claim_rules: Vec<(Expression, String)>,
    user_rules: Vec<(Expression, String)>,
}

/// The issuer section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issuer {
    /// The issuer URL (`iss` must equal it).
    pub url: String,
    /// Where the discovery document is, if not under `url`.
    #[serde(default, rename = "discoveryURL")]
    pub discovery_url: Option<String>,
    /// PEM CA bundle for the discovery and key requests.
    #[serde(default)]
    pub certificate_authority: Option<String>,
    /// Audiences a token must have one of.
    #[serde(default)]
    pub audiences: Vec<String>,
}

/// A required claim value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimValidationRule {
    /// The claim.
    #[serde(default)]
    pub claim: String,
    /// The value it must have.
    #[serde(default)]
    pub required_value: String,
    /// A CEL expression (a bool) instead of `claim`.
    #[serde(default)]
    pub expression: Option<String>,
    /// The message when the expression is false.
    #[serde(default)]
    pub message: String,
}

/// The claim mappings.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClaimMappings {
    /// The user name.
    #[serde(default)]
    pub username: PrefixedClaim,
    /// The groups.
    #[serde(default)]
    pub groups: PrefixedClaim,
    /// The uid.
    #[serde(default)]
    pub uid: PrefixedClaim,
    /// Extra values, by CEL expression.
    #[serde(default)]
    pub extra: Vec<ExtraMapping>,
}

/// A claim with its prefix (or a CEL expression, refused).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PrefixedClaim {
    /// The claim's name.
    #[serde(default)]
    pub claim: String,
    /// Prepended to each value; must be given for `username` and `groups` when `claim` is.
    #[serde(default)]
    pub prefix: Option<String>,
    /// A CEL expression instead of `claim`.
    #[serde(default)]
    pub expression: Option<String>,
}

impl AuthenticationConfiguration {
    /// Reads and validates the file.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let doc: Value =
            serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if doc["kind"] != "AuthenticationConfiguration" {
            return Err(format!(
                "{}: kind must be AuthenticationConfiguration",
                path.display()
            ));
        }
        let mut cfg: Self =
            serde_json::from_value(doc).map_err(|e| format!("{}: {e}", path.display()))?;
        let errs = cfg.validate();
        if errs.is_empty() {
            Ok(cfg)
        } else {
            Err(format!("{}: {}", path.display(), errs.join(", ")))
        }
    }

    fn compile(j: &mut JwtAuthenticator, at: &str, errs: &mut Vec<String>) {
        let mut compile = |field: String, src: &str| match Expression::compile(src) {
            Ok(e) => Some(e),
            Err(e) => {
                errs.push(format!("{field}: Invalid value: {src:?}: {e}"));
                None
            }
        };
        let m = &j.claim_mappings;
        let mut c = Compiled::default();
        if let Some(src) = &m.username.expression {
            c.username = compile(format!("{at}.claimMappings.username.expression"), src);
        }
        if let Some(src) = &m.groups.expression {
            c.groups = compile(format!("{at}.claimMappings.groups.expression"), src);
        }
        if let Some(src) = &m.uid.expression {
            c.uid = compile(format!("{at}.claimMappings.uid.expression"), src);
        }
        for (k, x) in m.extra.iter().enumerate() {
            if let Some(e) = compile(
                format!("{at}.claimMappings.extra[{k}].valueExpression"),
                &x.value_expression,
            ) {
                c.extra.push((x.key.clone(), e));
            }
        }
        for (k, r) in j.claim_validation_rules.iter().enumerate() {
            if let Some(src) = &r.expression {
                if let Some(e) = compile(format!("{at}.claimValidationRules[{k}].expression"), src)
                {
                    c.claim_rules.push((e, r.message.clone()));
                }
            }
        }
        for (k, r) in j.user_validation_rules.iter().enumerate() {
            if let Some(e) = compile(
                format!("{at}.userValidationRules[{k}].expression"),
                &r.expression,
            ) {
                c.user_rules.push((e, r.message.clone()));
            }
        }
        j.compiled = c;
    }

    /// upstream's validation, and the expressions compiled.
    pub fn validate(&mut self) -> Vec<String> {
        let mut errs = Vec::new();
        let mut seen = Vec::new();
        for (i, j) in self.jwt.iter_mut().enumerate() {
            let at = format!("jwt[{i}]");
            if !j.issuer.url.starts_with("https://") {
                errs.push(format!(
                    "{at}.issuer.url: Invalid value: {:?}: URL scheme must be https",
                    j.issuer.url
                ));
            }
            if seen.contains(&j.issuer.url) {
                errs.push(format!(
                    "{at}.issuer.url: Duplicate value: {:?}",
                    j.issuer.url
                ));
            }
            seen.push(j.issuer.url.clone());
            if j.issuer.audiences.is_empty() {
                errs.push(format!("{at}.issuer.audiences: Required value: at least one jwt.issuer.audiences is required"));
            }
            let m = &j.claim_mappings;
            for (name, c) in [
                ("username", &m.username),
                ("groups", &m.groups),
                ("uid", &m.uid),
            ] {
                let field = format!("{at}.claimMappings.{name}");
                if c.expression.is_some() && !c.claim.is_empty() {
                    errs.push(format!(
                        "{field}: Invalid value: \"\": claim and expression can't both be set"
                    ));
                }
                if c.expression.is_some() && c.prefix.is_some() {
                    errs.push(format!(
                        "{field}.prefix: Invalid value: may not be set when expression is set"
                    ));
                }
                if name != "uid" && !c.claim.is_empty() && c.prefix.is_none() {
                    errs.push(format!("{field}.prefix: Required value: prefix is required when claim is set. It can be set to an empty string to disable prefixing"));
                }
            }
            if m.username.claim.is_empty() && m.username.expression.is_none() {
                errs.push(format!(
                    "{at}.claimMappings.username: Required value: claim or expression is required"
                ));
            }
            for (k, x) in m.extra.iter().enumerate() {
                let domain_path = x.key.contains('/')
                    && x.key == x.key.to_lowercase()
                    && x.key.split('/').next().is_some_and(|d| d.contains('.'));
                if !domain_path {
                    errs.push(format!("{at}.claimMappings.extra[{k}].key: Invalid value: {:?}: must be a domain-prefixed path (such as \"acme.io/foo\")", x.key));
                }
            }
            for (k, r) in j.claim_validation_rules.iter().enumerate() {
                match (&r.expression, r.claim.is_empty()) {
                    (Some(_), false) => errs.push(format!("{at}.claimValidationRules[{k}]: Invalid value: claim and expression can't both be set")),
                    (None, true) => errs.push(format!("{at}.claimValidationRules[{k}].claim: Required value: claim or expression is required")),
                    _ => {}
                }
            }
            Self::compile(j, &at, &mut errs);
        }
        errs
    }
}

/// The `--oidc-*` flags, as upstream maps them onto one JWT authenticator.
#[derive(Debug, Clone, Default)]
pub struct OidcFlags {
    /// `--oidc-issuer-url`.
    pub issuer_url: String,
    /// `--oidc-client-id`.
    pub client_id: String,
    /// `--oidc-ca-file`.
    pub ca_file: Option<PathBuf>,
    /// `--oidc-username-claim` (default `sub`).
    pub username_claim: String,
    /// `--oidc-username-prefix`.
    pub username_prefix: String,
    /// `--oidc-groups-claim`.
    pub groups_claim: String,
    /// `--oidc-groups-prefix`.
    pub groups_prefix: String,
    /// `--oidc-required-claim` (key=value).
    pub required_claims: Vec<(String, String)>,
}

impl OidcFlags {
    /// The authenticator the flags describe. As upstream: an empty username prefix means
    /// `<issuer>#` unless the claim is `email`; `-` means none.
    pub fn to_config(&self) -> Result<AuthenticationConfiguration, String> {
        let ca = match &self.ca_file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|e| format!("--oidc-ca-file {}: {e}", p.display()))?,
            ),
            None => None,
        };
        let username_prefix = match self.username_prefix.as_str() {
            "-" => String::new(),
            "" if self.username_claim != "email" => format!("{}#", self.issuer_url),
            p => p.to_string(),
        };
        let jwt = JwtAuthenticator {
            issuer: Issuer {
                url: self.issuer_url.clone(),
                discovery_url: None,
                certificate_authority: ca,
                audiences: vec![self.client_id.clone()],
            },
            claim_validation_rules: self
                .required_claims
                .iter()
                .map(|(k, v)| ClaimValidationRule {
                    claim: k.clone(),
                    required_value: v.clone(),
                    ..ClaimValidationRule::default()
                })
                .collect(),
            claim_mappings: ClaimMappings {
                username: PrefixedClaim {
                    claim: self.username_claim.clone(),
                    prefix: Some(username_prefix),
                    expression: None,
                },
                groups: PrefixedClaim {
                    claim: self.groups_claim.clone(),
                    prefix: Some(self.groups_prefix.clone()),
                    expression: None,
                },
                ..ClaimMappings::default()
            },
            user_validation_rules: vec![],
            compiled: Compiled::default(),
        };
        let mut cfg = AuthenticationConfiguration {
            jwt: vec![jwt],
            anonymous: None,
        };
        let errs = cfg.validate();
        if errs.is_empty() {
            Ok(cfg)
        } else {
            Err(format!("--oidc-*: {}", errs.join(", ")))
        }
    }
}

/// One issuer's keys, as last fetched.
struct IssuerKeys {
    config: JwtAuthenticator,
    keys: Vec<(Option<String>, Algorithm, DecodingKey)>,
}

/// What the shards read: the authenticators with their keys, and the anonymous section.
#[derive(Default)]
pub struct JwtState {
    issuers: Vec<IssuerKeys>,
    /// The configuration's `anonymous` section, if it has one.
    pub anonymous: Option<AnonymousConfig>,
}

/// The shared, refreshed state.
pub type SharedJwtState = Arc<RwLock<Arc<JwtState>>>;

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let r = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("{url}: {}", r.status()));
    }
    let body = r.bytes().await.map_err(|e| format!("{url}: {e}"))?;
    serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))
}

async fn fetch_keys(
    j: &JwtAuthenticator,
) -> Result<Vec<(Option<String>, Algorithm, DecodingKey)>, String> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_secs(10));
    if let Some(ca) = &j.issuer.certificate_authority {
        for c in reqwest::Certificate::from_pem_bundle(ca.as_bytes()).map_err(|e| e.to_string())? {
            b = b.add_root_certificate(c);
        }
    }
    let client = b.build().map_err(|e| e.to_string())?;
    let discovery = j.issuer.discovery_url.clone().unwrap_or_else(|| {
        format!(
            "{}/.well-known/openid-configuration",
            j.issuer.url.trim_end_matches('/')
        )
    });
    let doc: Value = get_json(&client, &discovery).await?;
    if doc["issuer"] != j.issuer.url.as_str() {
        return Err(format!(
            "{discovery}: oidc: issuer did not match the issuer returned by provider, expected {:?} got {}",
            j.issuer.url, doc["issuer"]
        ));
    }
    let jwks_uri = doc["jwks_uri"]
        .as_str()
        .ok_or_else(|| format!("{discovery}: no jwks_uri"))?;
    let set: JwkSet = serde_json::from_value(get_json(&client, jwks_uri).await?)
        .map_err(|e| format!("{jwks_uri}: {e}"))?;
    let mut keys = Vec::new();
    for k in &set.keys {
        let alg = match &k.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
            jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(p) => match p.curve {
                jsonwebtoken::jwk::EllipticCurve::P384 => Algorithm::ES384,
                _ => Algorithm::ES256,
            },
            _ => continue,
        };
        if let Ok(key) = DecodingKey::from_jwk(k) {
            keys.push((k.common.key_id.clone(), alg, key));
        }
    }
    Ok(keys)
}

async fn build_state(cfg: &AuthenticationConfiguration) -> JwtState {
    let mut issuers = Vec::new();
    for j in &cfg.jwt {
        let keys = match fetch_keys(j).await {
            Ok(k) => k,
            Err(e) => {
                log::warn!("jwt authenticator {}: {e}", j.issuer.url);
                Vec::new()
            }
        };
        issuers.push(IssuerKeys {
            config: j.clone(),
            keys,
        });
    }
    JwtState {
        issuers,
        anonymous: cfg.anonymous.clone(),
    }
}

/// Fetches the issuers' keys once (before the server serves), then keeps them, and the
/// file's configuration, current on a `jwt-issuers` thread.
pub fn start(
    cfg: AuthenticationConfiguration,
    file: Option<PathBuf>,
) -> Result<SharedJwtState, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let first = rt.block_on(build_state(&cfg));
    let shared: SharedJwtState = Arc::new(RwLock::new(Arc::new(first)));
    let out = Arc::clone(&shared);
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    std::thread::Builder::new()
        .name("jwt-issuers".into())
        .spawn(move || {
            let mut cfg = cfg;
            let mut seen: Option<SystemTime> = file.as_deref().and_then(mtime);
            let mut since_fetch = Duration::ZERO;
            loop {
                std::thread::sleep(FILE_POLL);
                since_fetch += FILE_POLL;
                let mut changed = false;
                if let Some(p) = &file {
                    let now = mtime(p);
                    if now != seen {
                        seen = now;
                        match AuthenticationConfiguration::read(p) {
                            Ok(c) => {
                                log::info!("--authentication-config {}: reloaded", p.display());
                                cfg = c;
                                changed = true;
                            }
                            Err(e) => log::error!(
                                "--authentication-config: kept the last good configuration: {e}"
                            ),
                        }
                    }
                }
                if changed || since_fetch >= REFRESH {
                    since_fetch = Duration::ZERO;
                    let state = rt.block_on(build_state(&cfg));
                    if let Ok(mut w) = shared.write() {
                        *w = Arc::new(state);
                    }
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The JWT authenticators on one shard (they read the shared state).
pub struct JwtTokens {
    state: SharedJwtState,
}

impl std::fmt::Debug for JwtTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtTokens").finish_non_exhaustive()
    }
}

impl JwtTokens {
    /// The authenticators over `state`.
    pub fn new(state: SharedJwtState) -> Self {
        Self { state }
    }
}

fn claim_strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// A CEL value that is a string or a list of strings, as strings.
fn cel_strings(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{what}: not a string or a list of strings"))
            })
            .collect(),
        Value::Null => Ok(vec![]),
        _ => Err(format!("{what}: not a string or a list of strings")),
    }
}

/// The user `claims` map to under `j`, or why not.
pub fn map_claims(j: &JwtAuthenticator, claims: &Value) -> Result<UserInfo, String> {
    let c = &j.compiled;
    let vars = [("claims", claims)];
    for r in j
        .claim_validation_rules
        .iter()
        .filter(|r| r.expression.is_none())
    {
        let got = &claims[r.claim.as_str()];
        let ok = match got {
            Value::String(s) => *s == r.required_value,
            Value::Array(a) => a.iter().any(|v| v == r.required_value.as_str()),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "oidc: required claim {} not present or does not match",
                r.claim
            ));
        }
    }
    for (e, message) in &c.claim_rules {
        if !e.eval_bool(&vars)? {
            return Err(if message.is_empty() {
                format!("oidc: error evaluating claim validation expression: expression {:?} resulted in error", e.source())
            } else {
                format!("oidc: {message}")
            });
        }
    }
    let m = &j.claim_mappings;
    let name = match &c.username {
        Some(e) => match e.eval(&vars)? {
            Value::String(s) if !s.is_empty() => s,
            _ => {
                return Err(
                    "oidc: error evaluating username expression: must be a non-empty string".into(),
                )
            }
        },
        None => {
            let name = claims[m.username.claim.as_str()]
                .as_str()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    format!(
                        "oidc: parse username claims {:?}: claim not present",
                        m.username.claim
                    )
                })?;
            if m.username.claim == "email"
                && claims.get("email_verified").is_some_and(|v| v != true)
            {
                return Err("oidc: email not verified".into());
            }
            format!("{}{name}", m.username.prefix.as_deref().unwrap_or_default())
        }
    };
    let mut user = UserInfo {
        name,
        ..UserInfo::default()
    };
    if let Some(e) = &c.groups {
        user.groups = cel_strings(&e.eval(&vars)?, "groups expression")?;
    } else if !m.groups.claim.is_empty() {
        let prefix = m.groups.prefix.as_deref().unwrap_or_default();
        user.groups = claim_strings(&claims[m.groups.claim.as_str()])
            .into_iter()
            .map(|g| format!("{prefix}{g}"))
            .collect();
    }
    if let Some(e) = &c.uid {
        user.uid = e.eval(&vars)?.as_str().unwrap_or_default().to_string();
    } else if !m.uid.claim.is_empty() {
        user.uid = claims[m.uid.claim.as_str()]
            .as_str()
            .unwrap_or_default()
            .to_string();
    }
    let mut extra = BTreeMap::new();
    for (key, e) in &c.extra {
        let values = cel_strings(&e.eval(&vars)?, key)?;
        if !values.is_empty() {
            extra.insert(key.clone(), values);
        }
    }
    user.extra = extra;
    if !c.user_rules.is_empty() {
        let u = serde_json::json!({"username": user.name, "uid": user.uid, "groups": user.groups, "extra": user.extra});
        for (e, message) in &c.user_rules {
            if !e.eval_bool(&[("user", &u)])? {
                return Err(if message.is_empty() {
                    format!("oidc: error evaluating user info validation rule: expression {:?} resulted in error", e.source())
                } else {
                    format!("oidc: {message}")
                });
            }
        }
    }
    Ok(user)
}

impl TokenAuthenticator for JwtTokens {
    fn name(&self) -> &'static str {
        "jwt"
    }

    fn authenticate(&self, token: &str) -> Outcome {
        let Some(iss) = token
            .split('.')
            .nth(1)
            .and_then(|p| {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(p.trim_end_matches('='))
                    .ok()
            })
            .and_then(|raw| serde_json::from_slice::<Value>(&raw).ok())
            .and_then(|c| c["iss"].as_str().map(str::to_string))
        else {
            return Outcome::Unknown;
        };
        let state = match self.state.read() {
            Ok(s) => Arc::clone(&s),
            Err(_) => return Outcome::Unknown,
        };
        let Some(issuer) = state.issuers.iter().find(|i| i.config.issuer.url == iss) else {
            return Outcome::Unknown;
        };
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return Outcome::Invalid("oidc: malformed jwt".into());
        };
        let mut v = Validation::new(header.alg);
        v.set_audience(&issuer.config.issuer.audiences);
        v.set_issuer(&[issuer.config.issuer.url.as_str()]);
        v.validate_nbf = true;
        v.leeway = 0;
        let keys = issuer.keys.iter().filter(|(kid, alg, _)| {
            *alg == header.alg && (header.kid.is_none() || kid.is_none() || *kid == header.kid)
        });
        for (_, _, key) in keys {
            if let Ok(data) = jsonwebtoken::decode::<Value>(token, key, &v) {
                if data.claims["exp"].as_i64().is_none_or(|exp| exp < now()) {
                    return Outcome::Invalid("oidc: token is expired".into());
                }
                return match map_claims(&issuer.config, &data.claims) {
                    Ok(u) => Outcome::User(u),
                    Err(e) => Outcome::Invalid(e),
                };
            }
        }
        Outcome::Invalid("oidc: verify: failed to verify signature".into())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn configuration_and_claims_as_upstream() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("authn.yaml");
        std::fs::write(
            &p,
            "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: https://issuer.example\n    audiences: [kubeshard]\n  claimValidationRules:\n  - claim: hd\n    requiredValue: example.com\n  claimMappings:\n    username:\n      claim: email\n      prefix: \"\"\n    groups:\n      claim: groups\n      prefix: \"oidc:\"\nanonymous:\n  enabled: true\n  conditions:\n  - path: /livez\n",
        )
        .unwrap();
        let cfg = AuthenticationConfiguration::read(&p).unwrap();
        assert_eq!(cfg.anonymous.as_ref().unwrap().conditions[0].path, "/livez");
        let j = &cfg.jwt[0];
        let u = map_claims(j, &json!({"email": "jane@example.com", "email_verified": true, "hd": "example.com", "groups": ["dev", "ops"]})).unwrap();
        assert_eq!(u.name, "jane@example.com");
        assert_eq!(u.groups, ["oidc:dev", "oidc:ops"]);
        assert!(map_claims(j, &json!({"email": "jane@example.com", "hd": "other.com"})).is_err());
        assert!(map_claims(
            j,
            &json!({"email": "jane@example.com", "email_verified": false, "hd": "example.com"})
        )
        .is_err());
        std::fs::write(
            &p,
            "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: http://issuer.example\n    audiences: []\n  claimMappings:\n    username:\n      expression: claims.sub\n",
        )
        .unwrap();
        let e = AuthenticationConfiguration::read(&p).unwrap_err();
        assert!(
            e.contains("URL scheme must be https") && e.contains("audiences is required"),
            "{e}"
        );
        std::fs::write(
            &p,
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: https://issuer.example\n    audiences: [k]\n  claimValidationRules:\n  - expression: claims.hd == 'example.com'\n    message: wrong domain\n  claimMappings:\n    username:\n      expression: \"'sso:' + claims.sub\"\n    groups:\n      expression: claims.roles.map(r, 'role:' + r)\n    extra:\n    - key: example.com/tenant\n      valueExpression: claims.tenant\n  userValidationRules:\n  - expression: \"!user.username.startsWith('sso:system')\"\n    message: no system users\n",
        )
        .unwrap();
        let cfg = AuthenticationConfiguration::read(&p).unwrap();
        let j = &cfg.jwt[0];
        let u = map_claims(
            j,
            &json!({"sub": "7", "hd": "example.com", "roles": ["a"], "tenant": "t1"}),
        )
        .unwrap();
        assert_eq!(
            (u.name.as_str(), u.groups.as_slice()),
            ("sso:7", &["role:a".to_string()][..])
        );
        assert_eq!(u.extra["example.com/tenant"], ["t1"]);
        assert_eq!(
            map_claims(
                j,
                &json!({"sub": "7", "hd": "x.com", "roles": [], "tenant": "t"})
            )
            .unwrap_err(),
            "oidc: wrong domain"
        );
        assert_eq!(
            map_claims(
                j,
                &json!({"sub": "system", "hd": "example.com", "roles": [], "tenant": "t"})
            )
            .unwrap_err(),
            "oidc: no system users"
        );
        std::fs::write(
            &p,
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: https://issuer.example\n    audiences: [k]\n  claimMappings:\n    username:\n      expression: \"claims.sub +\"\n",
        )
        .unwrap();
        let e = AuthenticationConfiguration::read(&p).unwrap_err();
        assert!(
            e.contains("claimMappings.username.expression: Invalid value"),
            "{e}"
        );
        let flags = OidcFlags {
            issuer_url: "https://issuer.example".into(),
            client_id: "kubeshard".into(),
            username_claim: "sub".into(),
            ..OidcFlags::default()
        };
        let cfg = flags.to_config().unwrap();
        assert_eq!(
            cfg.jwt[0].claim_mappings.username.prefix.as_deref(),
            Some("https://issuer.example#")
        );
    }
}
