//! Retry-After during graceful termination (upstream's `WithRetryAfter`): with
//! `--shutdown-send-retry-after`, once the shutdown delay has elapsed every new request is
//! answered 429 with `Retry-After: 5` and `Connection: close`, except health checks and
//! requests from kube-apiserver itself.

use http::{header, HeaderValue, StatusCode};
use hyper::{Request, Response};
use shards::server::Body;

use super::chain::ChainState;
use crate::endpoints::response;

/// Paths that keep being served while shutting down.
const EXEMPT_PREFIXES: [&str; 4] = ["/readyz", "/livez", "/healthz", "/metrics"];

/// upstream's message for a request refused during shutdown.
pub const SHUTTING_DOWN: &str = "The apiserver is shutting down, please try again later.";

/// The 429 to send instead of serving `req`, if any.
pub fn check<B>(state: &ChainState, req: &Request<B>) -> Option<Response<Body>> {
    if !state.send_retry_after || !state.lifecycle.after_shutdown_delay.is_fired() {
        return None;
    }
    let path = req.uri().path();
    let from_apiserver = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("kube-apiserver/"));
    if from_apiserver || EXEMPT_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return None;
    }
    let mut r = response::text(StatusCode::TOO_MANY_REQUESTS, format!("{SHUTTING_DOWN}\n"));
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    Some(r)
}
