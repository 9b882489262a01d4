//! Calls whose endpoint comes with each call (admission webhooks: every configuration names
//! its own URL or Service, CA bundle and timeout), made on one `webhook-calls` thread with a
//! tokio runtime while the shard that asks awaits the answer, so a slow or dead endpoint
//! costs only the requests that wait for it. Failures read as Go's HTTP client words them
//! (`Post "https://…?timeout=10s": context deadline exceeded`), since upstream's messages
//! embed them.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// One POST: the client (its trust roots), where, the JSON body and how long it may take.
#[derive(Debug)]
pub struct Outbound {
    /// The HTTPS client for the endpoint (built once per configuration).
    pub client: reqwest::Client,
    /// The endpoint, with `?timeout=` as upstream sends it.
    pub url: reqwest::Url,
    /// The JSON document sent.
    pub body: Vec<u8>,
    /// The call's deadline.
    pub timeout: Duration,
}

type Call = (Outbound, oneshot::Sender<Result<Value, String>>);

/// The handle shards hold (cheap to clone, shared by every shard).
#[derive(Debug, Clone)]
pub struct Caller {
    calls: mpsc::UnboundedSender<Call>,
}

impl Caller {
    /// Starts the thread `name` that makes the calls.
    pub fn start(name: &str) -> Result<Self, String> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Call>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                rt.block_on(async move {
                    while let Some((out, reply)) = rx.recv().await {
                        tokio::spawn(async move {
                            let _ = reply.send(post(out).await);
                        });
                    }
                });
            })
            .map_err(|e| e.to_string())?;
        Ok(Self { calls: tx })
    }

    /// POSTs the call and returns the JSON answer of a 2xx, else why not (Go's words).
    pub async fn call(&self, out: Outbound) -> Result<Value, String> {
        let (tx, rx) = oneshot::channel();
        if self.calls.send((out, tx)).is_err() {
            return Err("the webhook thread is gone".into());
        }
        rx.await
            .unwrap_or_else(|_| Err("the webhook thread is gone".into()))
    }
}

/// An HTTPS client trusting `ca_pem` (else the system's roots); `resolve` pins a host name
/// to an address (a Service reached at one of its endpoints is still verified as
/// `<name>.<namespace>.svc`).
pub fn https_client(
    ca_pem: Option<&[u8]>,
    resolve: Option<(&str, std::net::SocketAddr)>,
) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .pool_idle_timeout(Duration::from_secs(90));
    if let Some((host, addr)) = resolve {
        b = b.resolve(host, addr);
    }
    if let Some(ca) = ca_pem.filter(|c| !c.is_empty()) {
        b = b.tls_built_in_root_certs(false);
        let certs = reqwest::Certificate::from_pem_bundle(ca).map_err(|e| e.to_string())?;
        if certs.is_empty() {
            return Err("unable to load root certificates: no certificates found".into());
        }
        for cert in certs {
            b = b.add_root_certificate(cert);
        }
    }
    b.build().map_err(|e| e.to_string())
}

async fn post(out: Outbound) -> Result<Value, String> {
    let url = out.url.to_string();
    let call = async {
        let resp = out
            .client
            .post(out.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, */*")
            .body(out.body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let code = resp.status();
        let bytes = resp.bytes().await.map_err(|e| transport_error(&e))?;
        if !code.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            return Err(format!(
                "an error on the server ({:?}) has prevented the request from succeeding",
                text.trim()
            ));
        }
        serde_json::from_slice::<Value>(&bytes)
            .map_err(|e| format!("unable to decode the response: {e}"))
    };
    match tokio::time::timeout(out.timeout, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("Post {url:?}: {e}")),
        Err(_) => Err(format!("Post {url:?}: context deadline exceeded")),
    }
}

/// A transport failure as Go's net/http words the common ones.
fn transport_error(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset => {
                    "EOF".into()
                }
                _ => io.to_string(),
            };
        }
        if s.to_string()
            .contains("connection closed before message completed")
        {
            return "EOF".into();
        }
        source = s.source();
    }
    if e.is_connect() {
        return format!("dial tcp: {e}");
    }
    e.to_string()
}
