//! The connect subresources: `pods/log`, `exec`, `attach`, `portforward` (to the kubelet of
//! the pod's node) and `pods`, `services`, `nodes` `/proxy` (to the Pod IP, a Service
//! endpoint, the kubelet or a node port), forwarded as upstream's registries and proxy
//! handler do. Upgrades (WebSocket, SPDY) are handed through as they come: the backend's
//! `101` answers the client and the two connections are spliced.

mod kubelet;
mod location;

use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::Value;
use shards::outbound::{self, Target};
use shards::server::{Body, BoxError};

pub use self::kubelet::{insecure_client_config, KubeletClient};
use crate::api::resources::Subresource;
use crate::api::status::{Reason, Status};
use crate::registry::resources::Resource;
use crate::registry::store::{RequestFacts, Store};
use crate::request::Query;

/// Serves the connect subresources of one shard.
pub struct ConnectApi {
    store: Rc<Store>,
    kubelet: Arc<KubeletClient>,
    /// Toward Pods and Service endpoints over `https:`: no verification (upstream's proxy
    /// transport).
    proxy_tls: Arc<rustls::ClientConfig>,
}

/// Hop-by-hop headers (RFC 7230 §6.1) a proxy does not pass on.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether a request asks to switch protocols (`Connection: upgrade` and an `Upgrade`).
fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// What one connect request turned into: where it goes and how its answer is read.
struct Forward {
    target: Target,
    /// Origin-form path and query at the backend.
    path_and_query: String,
    kind: ForwardKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ForwardKind {
    /// `pods/log`: a non-2xx answer becomes an error Status.
    Log,
    /// `exec`, `attach`, `portforward`: must be an upgrade.
    Stream,
    /// `proxy`: the backend's answer as it is.
    Proxy,
}

fn boxed(b: Incoming) -> Body {
    Box::pin(b.map_err(|e| Box::new(e) as BoxError))
}

fn empty() -> Body {
    Box::pin(Full::new(Bytes::new()).map_err(|never| match never {}))
}

impl ConnectApi {
    pub fn new(store: Rc<Store>, kubelet: Arc<KubeletClient>) -> Self {
        Self {
            store,
            kubelet,
            proxy_tls: insecure_client_config(),
        }
    }

    /// Reads one object of `group/v1/plural` by name (namespace from `facts`).
    async fn object(
        &self,
        plural: &str,
        facts: &RequestFacts,
        namespace: Option<String>,
        name: &str,
    ) -> Result<Value, Status> {
        let res = self
            .store
            .table()
            .get("", "v1", plural)
            .ok_or_else(|| Status::not_found("", plural, name))?;
        let facts = RequestFacts {
            namespace,
            name: name.to_string(),
            subresource: None,
            ..facts.clone()
        };
        let got = self.store.get(&res, &facts, "").await?;
        serde_json::from_slice(&got.body).map_err(Status::internal)
    }

    /// Answers one connect request (`sub` is a connect subresource of `res`).
    pub async fn serve(
        &self,
        mut req: Request<Incoming>,
        res: &Resource,
        sub: Subresource,
        facts: &RequestFacts,
        query: &Query,
    ) -> Result<Response<Body>, Status> {
        let plural = res.api.plural;
        let upgrade = is_upgrade(req.headers());
        let fwd = match (plural, sub) {
            ("pods", Subresource::Proxy)
            | ("services", Subresource::Proxy)
            | ("nodes", Subresource::Proxy) => {
                let Some(rest) = proxy_rest(req.uri().path(), plural, &facts.name) else {
                    return Err(Status::bad_request("invalid proxy path"));
                };
                if rest.is_empty() {
                    // Upstream redirects `.../proxy` to `.../proxy/` (kubernetes#4958).
                    let mut to = format!("{}/", req.uri().path());
                    if let Some(q) = req.uri().query() {
                        to = format!("{to}?{q}");
                    }
                    return Ok(redirect(&to));
                }
                let rest = rest.to_string();
                let with_query = match req.uri().query() {
                    Some(q) => format!("{rest}?{q}"),
                    None => rest,
                };
                self.proxy_target(plural, facts, with_query).await?
            }
            ("pods", Subresource::Log) => {
                let pod = self
                    .object("pods", facts, facts.namespace.clone(), &facts.name)
                    .await?;
                let c = location::container(&pod, query.get("container"), &facts.name)?;
                let q = location::log_query(query, &facts.name)?;
                let Some(node) = location::node_name(&pod) else {
                    // Upstream: an unscheduled pod has no log location, an empty answer.
                    return Ok(text_response(empty()));
                };
                let node = self.object("nodes", facts, None, node).await?;
                let skip = query.flag("insecureSkipTLSVerifyBackend");
                let ns = facts.namespace.as_deref().unwrap_or_default();
                Forward {
                    target: self.kubelet.target(&node, skip)?,
                    path_and_query: with_query(
                        format!("/containerLogs/{ns}/{}/{c}", facts.name),
                        &q,
                    ),
                    kind: ForwardKind::Log,
                }
            }
            ("pods", Subresource::Exec | Subresource::Attach | Subresource::PortForward) => {
                let pod = self
                    .object("pods", facts, facts.namespace.clone(), &facts.name)
                    .await?;
                let ns = facts.namespace.as_deref().unwrap_or_default();
                let path = if sub == Subresource::PortForward {
                    format!("/portForward/{ns}/{}", facts.name)
                } else {
                    let c = location::container(&pod, query.get("container"), &facts.name)?;
                    let verb = if sub == Subresource::Exec {
                        "exec"
                    } else {
                        "attach"
                    };
                    format!("/{verb}/{ns}/{}/{c}", facts.name)
                };
                let Some(node) = location::node_name(&pod) else {
                    return Err(Status::bad_request(format!(
                        "pod {} does not have a host assigned",
                        facts.name
                    )));
                };
                let node = self.object("nodes", facts, None, node).await?;
                let q = location::stream_query(
                    query,
                    sub == Subresource::Exec,
                    sub == Subresource::PortForward,
                );
                Forward {
                    target: self.kubelet.target(&node, false)?,
                    path_and_query: with_query(path, &q),
                    kind: ForwardKind::Stream,
                }
            }
            _ => {
                return Err(Status::method_not_supported(
                    res.api.group,
                    plural,
                    "connect",
                ))
            }
        };
        if fwd.kind == ForwardKind::Stream && !upgrade {
            return Err(Status::bad_request("Upgrade request required"));
        }
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let out = outbound_request(req, &fwd, upgrade);
        let shown_url = format!(
            "{}://{}:{}{}",
            if fwd.target.tls.is_some() {
                "https"
            } else {
                "http"
            },
            fwd.target.host,
            fwd.target.port,
            fwd.path_and_query
        );
        let mut resp = match outbound::send(&fwd.target, out, self.kubelet.timeout).await {
            Ok(r) => r,
            Err(e) => {
                return Err(match fwd.kind {
                    ForwardKind::Proxy => {
                        Status::unavailable(format!("error trying to reach service: {e}"))
                    }
                    ForwardKind::Stream => {
                        Status::new(Reason::Unknown, format!("error dialing backend: {e}"))
                    }
                    ForwardKind::Log => {
                        Status::new(Reason::Unknown, format!("Get {shown_url:?}: {e}"))
                    }
                })
            }
        };
        if let (Some(client_up), StatusCode::SWITCHING_PROTOCOLS) = (client_upgrade, resp.status())
        {
            let backend_up = hyper::upgrade::on(&mut resp);
            shards::spawn_local(async move {
                match futures_lite::future::zip(client_up, backend_up).await {
                    (Ok(c), Ok(b)) => {
                        outbound::splice(c, b, std::future::pending()).await;
                    }
                    (c, b) => log::debug!(
                        "upgrade not completed: client {:?}, backend {:?}",
                        c.err(),
                        b.err()
                    ),
                }
            })
            .detach();
            let (parts, _) = resp.into_parts();
            return Ok(Response::from_parts(parts, empty()));
        }
        if fwd.kind == ForwardKind::Log {
            if !resp.status().is_success() {
                return Err(log_failure(resp, &facts.name).await);
            }
            return Ok(text_response(boxed(resp.into_body())));
        }
        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, boxed(body)))
    }

    /// Where a `proxy` request goes: the Pod IP, a Service endpoint, or the node's kubelet
    /// (or another port of the node).
    async fn proxy_target(
        &self,
        plural: &str,
        facts: &RequestFacts,
        rest: String,
    ) -> Result<Forward, Status> {
        let what = match plural {
            "pods" => "pod",
            "services" => "service",
            _ => "node",
        };
        let Some((scheme, name, port)) = location::split_scheme_name_port(&facts.name) else {
            return Err(Status::bad_request(format!(
                "invalid {what} request {:?}",
                facts.name
            )));
        };
        let tls_for = |scheme: &str| (scheme == "https").then(|| Arc::clone(&self.proxy_tls));
        let (target, kind) = match plural {
            "pods" => {
                let pod = self
                    .object("pods", facts, facts.namespace.clone(), name)
                    .await?;
                let port = location::pod_port(&pod, port);
                let ip = location::proxyable_pod_ip(&pod)?;
                let port = match port {
                    None => 80,
                    Some(p) => p.parse::<u16>().map_err(|_| {
                        Status::bad_request(format!("invalid pod request {:?}", facts.name))
                    })?,
                };
                (
                    Target {
                        host: ip.to_string(),
                        port,
                        tls: tls_for(scheme),
                    },
                    ForwardKind::Proxy,
                )
            }
            "services" => {
                let svc = self
                    .object("services", facts, facts.namespace.clone(), name)
                    .await?;
                let eps = self
                    .object("endpoints", facts, facts.namespace.clone(), name)
                    .await
                    .ok();
                let (host, port) =
                    location::service_endpoint(&svc, eps.as_ref(), port, &facts.name)?;
                (
                    Target {
                        host,
                        port,
                        tls: tls_for(scheme),
                    },
                    ForwardKind::Proxy,
                )
            }
            _ => {
                let node = self.object("nodes", facts, None, name).await?;
                let kubelet_port = kubelet::kubelet_port(&node);
                if port.is_empty() || port == kubelet_port.to_string() {
                    (self.kubelet.target(&node, false)?, ForwardKind::Proxy)
                } else {
                    let port = port.parse::<u16>().map_err(|_| {
                        Status::bad_request(format!("invalid node request {:?}", facts.name))
                    })?;
                    (
                        Target {
                            host: self.kubelet.address(&node)?,
                            port,
                            tls: tls_for(scheme),
                        },
                        ForwardKind::Proxy,
                    )
                }
            }
        };
        Ok(Forward {
            target,
            path_and_query: rest,
            kind,
        })
    }
}

fn with_query(path: String, q: &str) -> String {
    if q.is_empty() {
        path
    } else {
        format!("{path}?{q}")
    }
}

/// What follows `/{plural}/{name}/proxy` in the request's path ("" when nothing does).
fn proxy_rest<'a>(path: &'a str, plural: &str, name: &str) -> Option<&'a str> {
    let marker = format!("/{plural}/{name}/proxy");
    let at = path.find(&marker)? + marker.len();
    let rest = &path[at..];
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

fn redirect(to: &str) -> Response<Body> {
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A log stream: upstream answers `text/plain` whatever the kubelet says.
fn text_response(body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

fn strip_hop_by_hop(h: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        h.remove(*name);
    }
}

/// The request the backend gets: same method, headers less the hop-by-hop ones (kept for an
/// upgrade) and the client's credentials, `Host` set to the backend.
fn outbound_request(req: Request<Incoming>, fwd: &Forward, upgrade: bool) -> Request<Body> {
    let (parts, body) = req.into_parts();
    let mut headers = parts.headers;
    let (connection, upgrade_to) = (
        headers.get(header::CONNECTION).cloned(),
        headers.get(header::UPGRADE).cloned(),
    );
    strip_hop_by_hop(&mut headers);
    headers.remove(header::AUTHORIZATION);
    let impersonation: Vec<_> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("impersonate-"))
        .cloned()
        .collect();
    for k in impersonation {
        headers.remove(k);
    }
    if upgrade {
        if let (Some(c), Some(u)) = (connection, upgrade_to) {
            headers.insert(header::CONNECTION, c);
            headers.insert(header::UPGRADE, u);
        }
    }
    let host = if fwd.target.host.contains(':') {
        format!("[{}]:{}", fwd.target.host, fwd.target.port)
    } else {
        format!("{}:{}", fwd.target.host, fwd.target.port)
    };
    if let Ok(v) = HeaderValue::from_str(&host) {
        headers.insert(header::HOST, v);
    }
    let mut out = Request::new(
        if parts.method == Method::GET || parts.method == Method::HEAD {
            empty()
        } else {
            boxed(body)
        },
    );
    *out.method_mut() = parts.method;
    *out.headers_mut() = headers;
    if let Ok(uri) = fwd.path_and_query.parse() {
        *out.uri_mut() = uri;
    }
    out
}

/// A kubelet's non-2xx log answer as upstream's response checker words it.
async fn log_failure(resp: Response<Incoming>, name: &str) -> Status {
    let code = resp.status().as_u16();
    let text = match resp.into_body().collect().await {
        Ok(b) => {
            let b = b.to_bytes();
            String::from_utf8_lossy(&b[..b.len().min(4096)]).into_owned()
        }
        Err(e) => return Status::internal(e),
    };
    match code {
        400 => Status::bad_request(text),
        500 => Status::internal(text),
        _ => {
            let reason = match code {
                401 => Reason::Unauthorized,
                403 => Reason::Forbidden,
                404 => Reason::NotFound,
                409 => Reason::Conflict,
                429 => Reason::TooManyRequests,
                503 => Reason::ServiceUnavailable,
                504 => Reason::Timeout,
                _ => Reason::InternalError,
            };
            let what = match reason {
                Reason::Unauthorized => "the server has asked for the client to provide credentials",
                Reason::Forbidden => "the server does not allow access to the requested resource",
                Reason::NotFound => "the server could not find the requested resource",
                Reason::Conflict => "the server reported a conflict",
                Reason::TooManyRequests => "the server has received too many requests and has asked us to try again later",
                Reason::ServiceUnavailable => "the server is currently unable to handle the request",
                Reason::Timeout => "the server was unable to return a response in the time allotted, but may still be processing the request",
                _ => "an error on the server has prevented the request from succeeding",
            };
            let mut s = Status::new(reason, format!("{what} ( pods/log {name})"));
            s.code = code;
            s.details.name = Some(name.to_string());
            s.details.kind = Some("pods/log".to_string());
            s.details.causes.push(crate::api::status::StatusCause {
                reason: Some("UnexpectedServerResponse".into()),
                message: text,
                field: None,
            });
            s
        }
    }
}
