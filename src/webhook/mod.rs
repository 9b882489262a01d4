//! The HTTPS client of kube-style webhooks (token authentication, authorization, and later
//! admission): where to call, read from a kubeconfig-format file as upstream reads it (the
//! current context's cluster and user: server URL, CA, client certificate or bearer token),
//! and a `webhook` thread per client that makes the calls on a tokio runtime while the shards
//! that ask await the answer. Nothing here knows what the JSON it carries means.

pub mod caller;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// How long one review may take (upstream's webhook request timeout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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
    timeout: Duration,
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
            timeout: REQUEST_TIMEOUT,
        })
    }

    /// The target with each call limited to `timeout` (upstream's default: 30s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// An HTTPS client for this target (its CA, client certificate, timeout).
    pub fn http_client(&self) -> Result<reqwest::Client, String> {
        self.client()
    }

    /// POSTs `body` (JSON) with the target's token; any 2xx is success and its body is not
    /// read (the audit webhook's protocol).
    pub async fn post(&self, client: &reqwest::Client, body: String) -> Result<(), String> {
        let resp = self.send(client, body).await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("{}: {}", self.server, resp.status()))
        }
    }

    /// POSTs `body` (JSON, JSON answers accepted) with the target's token.
    async fn send(
        &self,
        client: &reqwest::Client,
        body: String,
    ) -> Result<reqwest::Response, String> {
        let mut req = client
            .post(&self.server)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req.send()
            .await
            .map_err(|e| format!("{}: {e}", self.server))
    }

    fn client(&self) -> Result<reqwest::Client, String> {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(self.timeout);
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

/// A call the webhook thread is asked to make: the JSON body, and where the answer goes.
type Call = (String, oneshot::Sender<Result<Value, String>>);

/// The handle shards hold: sends bodies to the webhook thread and awaits the JSON answers.
#[derive(Debug, Clone)]
pub struct WebhookClient {
    calls: mpsc::UnboundedSender<Call>,
    /// The endpoint called (for messages).
    pub server: String,
}

impl WebhookClient {
    /// Starts the thread `name` that calls `target`.
    pub fn start(name: &str, target: WebhookTarget) -> Result<Self, String> {
        let client = target.client()?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let server = target.server.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                rt.block_on(async move {
                    while let Some((body, reply)) = rx.recv().await {
                        let (client, target) = (client.clone(), target.clone());
                        tokio::spawn(async move {
                            let _ = reply.send(post(&client, &target, body).await);
                        });
                    }
                });
            })
            .map_err(|e| e.to_string())?;
        Ok(Self { calls: tx, server })
    }

    /// POSTs `body` (JSON) and returns the JSON answer of a 2xx, else why not.
    pub async fn call(&self, body: String) -> Result<Value, String> {
        let (tx, rx) = oneshot::channel();
        if self.calls.send((body, tx)).is_err() {
            return Err("the webhook thread is gone".into());
        }
        rx.await
            .unwrap_or_else(|_| Err("the webhook thread is gone".into()))
    }
}

async fn post(
    client: &reqwest::Client,
    target: &WebhookTarget,
    body: String,
) -> Result<Value, String> {
    let resp = target.send(client, body).await?;
    let code = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| format!("{}: {e}", target.server))?;
    if !code.is_success() {
        return Err(format!("{}: {code}", target.server));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: the answer is not JSON: {e}", target.server))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn kubeconfig_as_upstream_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("hook.yaml");
        std::fs::write(
            &p,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: https://other\n- name: hook\n  cluster:\n    server: https://127.0.0.1:9443/authenticate\n    certificate-authority-data: LS0tLQ==\nusers:\n- name: api\n  user:\n    token: secret\ncontexts:\n- name: c\n  context:\n    cluster: hook\n    user: api\ncurrent-context: c\n",
        )
        .unwrap();
        let t = WebhookTarget::read(&p).unwrap();
        assert_eq!(t.server, "https://127.0.0.1:9443/authenticate");
        assert_eq!(t.token.as_deref(), Some("secret"));
        assert_eq!(t.ca_pem.as_deref(), Some(&b"----"[..]));
        std::fs::write(&p, "clusters: []\n").unwrap();
        assert!(WebhookTarget::read(&p).is_err());
    }
}
