//! Webhook token authentication (`--authentication-token-webhook-config-file`): a bearer
//! token no other authenticator knows is sent as a TokenReview (`authentication.k8s.io`,
//! `--authentication-token-webhook-version`, v1beta1 by default as upstream) to the HTTPS
//! endpoint the kubeconfig-format file names; its `status.user` is the request's user.
//! Answers, authenticated or not, are cached per shard for
//! `--authentication-token-webhook-cache-ttl` (2m), as upstream caches them; a webhook that
//! cannot be reached or answers an error is a 401 and is not cached.
//!
//! The calls run on one `authn-webhook` thread (a tokio runtime with an HTTPS client); shards
//! hand it the token and await the answer, so no shard blocks.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::Outcome;
use crate::request::UserInfo;

/// How long one review may take (upstream's webhook request timeout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Entries a shard's cache keeps at most (then it starts over).
const MAX_CACHED: usize = 4096;

#[derive(Deserialize, Default)]
struct Kubeconfig {
    #[serde(default)]
    clusters: Vec<NamedCluster>,
    #[serde(default)]
    users: Vec<NamedUser>,
    #[serde(default)]
    contexts: Vec<NamedContext>,
    #[serde(default, rename = "current-context")]
    current_context: String,
}

#[derive(Deserialize)]
struct NamedCluster {
    #[serde(default)]
    name: String,
    #[serde(default)]
    cluster: Cluster,
}

#[derive(Deserialize)]
struct NamedUser {
    #[serde(default)]
    name: String,
    #[serde(default)]
    user: User,
}

#[derive(Deserialize)]
struct NamedContext {
    #[serde(default)]
    name: String,
    #[serde(default)]
    context: Context,
}

#[derive(Deserialize, Default)]
struct Cluster {
    #[serde(default)]
    server: String,
    #[serde(default, rename = "certificate-authority")]
    certificate_authority: Option<PathBuf>,
    #[serde(default, rename = "certificate-authority-data")]
    certificate_authority_data: Option<String>,
    #[serde(default, rename = "insecure-skip-tls-verify")]
    insecure_skip_tls_verify: bool,
}

#[derive(Deserialize, Default)]
struct User {
    #[serde(default, rename = "client-certificate")]
    client_certificate: Option<PathBuf>,
    #[serde(default, rename = "client-certificate-data")]
    client_certificate_data: Option<String>,
    #[serde(default, rename = "client-key")]
    client_key: Option<PathBuf>,
    #[serde(default, rename = "client-key-data")]
    client_key_data: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize, Default)]
struct Context {
    #[serde(default)]
    cluster: String,
    #[serde(default)]
    user: String,
}

/// Where and how to call the webhook, read from its kubeconfig-format file.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// The endpoint's URL.
    pub server: String,
    ca_pem: Option<Vec<u8>>,
    insecure: bool,
    identity_pem: Option<Vec<u8>>,
    token: Option<String>,
}

fn data_or_file(
    data: &Option<String>,
    file: &Option<PathBuf>,
    base: &Path,
) -> Result<Option<Vec<u8>>, String> {
    if let Some(d) = data {
        return base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .map(Some)
            .map_err(|e| format!("invalid base64 data: {e}"));
    }
    match file {
        Some(f) => {
            let path = if f.is_relative() {
                base.join(f)
            } else {
                f.clone()
            };
            std::fs::read(&path)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        None => Ok(None),
    }
}

impl WebhookTarget {
    /// Reads a kubeconfig-format file: the current context's cluster and user, else the
    /// first of each (as upstream's webhook client loads it).
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let kc: Kubeconfig =
            serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let ctx = kc
            .contexts
            .iter()
            .find(|c| c.name == kc.current_context)
            .or_else(|| kc.contexts.first())
            .map(|c| &c.context);
        let cluster = kc
            .clusters
            .iter()
            .find(|c| ctx.is_some_and(|x| x.cluster == c.name))
            .or_else(|| kc.clusters.first())
            .map(|c| &c.cluster)
            .ok_or_else(|| format!("{}: no cluster", path.display()))?;
        let default_user = User::default();
        let user = kc
            .users
            .iter()
            .find(|u| ctx.is_some_and(|x| x.user == u.name))
            .or_else(|| kc.users.first())
            .map(|u| &u.user)
            .unwrap_or(&default_user);
        if !cluster.server.starts_with("https://") && !cluster.server.starts_with("http://") {
            return Err(format!(
                "{}: the cluster's server must be a URL",
                path.display()
            ));
        }
        let ca_pem = data_or_file(
            &cluster.certificate_authority_data,
            &cluster.certificate_authority,
            base,
        )?;
        let cert = data_or_file(
            &user.client_certificate_data,
            &user.client_certificate,
            base,
        )?;
        let key = data_or_file(&user.client_key_data, &user.client_key, base)?;
        let identity_pem = match (cert, key) {
            (Some(mut c), Some(k)) => {
                c.push(b'\n');
                c.extend(k);
                Some(c)
            }
            _ => None,
        };
        Ok(Self {
            server: cluster.server.clone(),
            ca_pem,
            insecure: cluster.insecure_skip_tls_verify,
            identity_pem,
            token: user.token.clone(),
        })
    }

    fn client(&self) -> Result<reqwest::Client, String> {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(REQUEST_TIMEOUT);
        if let Some(ca) = &self.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(ca).map_err(|e| e.to_string())? {
                b = b.add_root_certificate(cert);
            }
        }
        if self.insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        if let Some(pem) = &self.identity_pem {
            b = b.identity(reqwest::Identity::from_pem(pem).map_err(|e| e.to_string())?);
        }
        b.build().map_err(|e| e.to_string())
    }
}

/// A review the webhook thread is asked for.
type Ask = (String, oneshot::Sender<Outcome>);

/// The handle shards hold: sends tokens to the webhook thread.
#[derive(Debug, Clone)]
pub struct WebhookTokenAuthenticator {
    asks: mpsc::UnboundedSender<Ask>,
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
        let client = target.client()?;
        let api_version = match version {
            "v1" => "authentication.k8s.io/v1",
            "v1beta1" => "authentication.k8s.io/v1beta1",
            other => {
                return Err(format!(
                    "unsupported webhook version {other:?} (v1, v1beta1)"
                ))
            }
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Ask>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name("authn-webhook".into())
            .spawn(move || {
                rt.block_on(async move {
                    while let Some((token, reply)) = rx.recv().await {
                        let (client, target, audiences) =
                            (client.clone(), target.clone(), audiences.clone());
                        tokio::spawn(async move {
                            let out =
                                review(&client, &target, api_version, &token, &audiences).await;
                            let _ = reply.send(out);
                        });
                    }
                });
            })
            .map_err(|e| e.to_string())?;
        Ok(Self { asks: tx, ttl })
    }

    /// The webhook's answer for `token`.
    pub async fn authenticate(&self, token: &str) -> Outcome {
        let (tx, rx) = oneshot::channel();
        if self.asks.send((token.to_string(), tx)).is_err() {
            return Outcome::Invalid("the webhook thread is gone".into());
        }
        rx.await
            .unwrap_or_else(|_| Outcome::Invalid("the webhook thread is gone".into()))
    }
}

async fn review(
    client: &reqwest::Client,
    target: &WebhookTarget,
    api_version: &str,
    token: &str,
    audiences: &[String],
) -> Outcome {
    let mut spec = json!({"token": token});
    if !audiences.is_empty() {
        spec["audiences"] = json!(audiences);
    }
    let body = json!({"apiVersion": api_version, "kind": "TokenReview", "metadata": {"creationTimestamp": null}, "spec": spec, "status": {"user": {}}});
    let mut req = client
        .post(&target.server)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.to_string());
    if let Some(t) = &target.token {
        req = req.bearer_auth(t);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Invalid(format!("webhook: {e}")),
    };
    let code = resp.status();
    let Ok(bytes) = resp.bytes().await else {
        return Outcome::Invalid("webhook: the answer was cut short".into());
    };
    if !code.is_success() {
        return Outcome::Invalid(format!("webhook: {code}"));
    }
    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
        return Outcome::Invalid("webhook: the answer is not a TokenReview".into());
    };
    read_status(&v["status"], audiences)
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
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn kubeconfig_and_answers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hook.yaml");
        std::fs::write(
            &p,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: hook\n  cluster:\n    server: https://127.0.0.1:9443/authenticate\n    certificate-authority-data: LS0tLQ==\nusers:\n- name: api\n  user:\n    token: secret\ncontexts:\n- name: c\n  context:\n    cluster: hook\n    user: api\ncurrent-context: c\n",
        )
        .unwrap();
        let t = WebhookTarget::read(&p).unwrap();
        assert_eq!(t.server, "https://127.0.0.1:9443/authenticate");
        assert_eq!(t.token.as_deref(), Some("secret"));
        assert_eq!(t.ca_pem.as_deref(), Some(&b"----"[..]));
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
