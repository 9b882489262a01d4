//! Building responses: whole bodies, JSON, plain text, Status errors.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use shards::server::Body;

use crate::api::status::Status;

/// A whole-body response.
pub fn full(
    code: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut r = Response::new(shards::server::body(Full::new(body.into())));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A JSON response.
pub fn json(code: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    full(code, "application/json", body)
}

/// A plain-text response as Go's `http.Error` and health handlers write it.
pub fn text(code: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = full(code, "text/plain; charset=utf-8", body);
    r.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The plain-text 500 upstream's filters answer an internal error with
/// (`responsewriters.InternalError`): the request URI quoted, the error, HTML-escaped.
pub fn internal_error(request_uri: &str, err: &str) -> Response<Body> {
    let msg = format!("Internal Server Error: {request_uri:?}: {err}")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    text(StatusCode::INTERNAL_SERVER_ERROR, format!("{msg}\n"))
}

/// A `metav1.Status` error response.
pub fn status(err: &Status) -> Response<Body> {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json(code, err.to_json());
    if let Some(secs) = err.details.retry_after_seconds {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

/// Adds one `Warning: 299 - "<text>"` header per warning, as upstream reports them.
pub fn with_warnings(mut resp: Response<Body>, warnings: &[String]) -> Response<Body> {
    for w in warnings {
        let text = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = http::HeaderValue::from_str(&format!("299 - \"{text}\"")) {
            resp.headers_mut().append(http::header::WARNING, v);
        }
    }
    resp
}
