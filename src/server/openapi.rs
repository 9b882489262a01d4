//! `/openapi/v3` and `/openapi/v3/<group-version>`: the index and the documents, with upstream's
//! ETags, `If-None-Match` (304), and immutable caching for URLs that carry the document's hash;
//! `/openapi/v2`: the Swagger 2.0 document as JSON or gnostic protobuf, chosen by Accept.

use std::sync::OnceLock;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use hyper::Response;
use shards::server::Body;

use crate::api::media::parse_accept;
use crate::api::status::{Reason, Status};
use crate::endpoints::response;
use crate::openapi::{get, swagger};

/// The media type kube-apiserver answers `/openapi/v2` protobuf with.
const V2_PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Answers OpenAPI requests; None for other paths.
pub fn serve<B>(req: &Request<B>) -> Option<Response<Body>> {
    let path = req.uri().path();
    let rest = path.strip_prefix("/openapi/")?;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Some(response::status(&Status::new(
            Reason::MethodNotAllowed,
            "the server does not allow this method on the requested resource",
        )));
    }
    let api = get();
    if rest == "v3" || rest == "v3/" {
        return Some(document(req, &api.index, &api.index_hash, false));
    }
    if rest == "v2" {
        return Some(v2(req));
    }
    let gv = rest.strip_prefix("v3/")?;
    let Some(doc) = api.docs.get(gv) else {
        return Some(response::status(&Status::path_not_found()));
    };
    let asked = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("hash=")));
    match asked {
        Some(h) if h != doc.hash => {
            // A stale hash: send the client to the current document, as upstream does.
            let mut r = Response::new(shards::server::body(http_body_util::Empty::<Bytes>::new()));
            *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
            if let Ok(v) = HeaderValue::from_str(&format!("/openapi/v3/{gv}?hash={}", doc.hash)) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            Some(r)
        }
        Some(_) => Some(document(req, &doc.bytes, &doc.hash, true)),
        None => Some(document(req, &doc.bytes, &doc.hash, false)),
    }
}

/// The encodings of `/openapi/v2`, in the order upstream tries them for each Accept clause.
#[derive(Clone, Copy)]
enum V2Form {
    Json,
    Protobuf,
}

/// Which form the first Accept clause that names one wants (no header: `*/*`, JSON); None: 406.
fn v2_form(accept: &str) -> Option<V2Form> {
    const FORMS: &[(&str, V2Form)] = &[
        ("json", V2Form::Json),
        (
            "com.github.proto-openapi.spec.v2@v1.0+protobuf",
            V2Form::Protobuf,
        ),
        (
            "com.github.proto-openapi.spec.v2.v1.0+protobuf",
            V2Form::Protobuf,
        ),
    ];
    let accept = if accept.trim().is_empty() {
        "*/*"
    } else {
        accept
    };
    parse_accept(accept).iter().find_map(|clause| {
        FORMS
            .iter()
            .find(|(sub, _)| clause.covers(sub))
            .map(|(_, form)| *form)
    })
}

/// When the documents were built: `Last-Modified`, as upstream sends the spec's update time.
fn last_modified() -> &'static str {
    static AT: OnceLock<String> = OnceLock::new();
    AT.get_or_init(|| {
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .map(|d| d.replace("+0000", "GMT"))
            .unwrap_or_default()
    })
}

fn v2<B>(req: &Request<B>) -> Response<Body> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(form) = v2_form(accept) else {
        // Upstream answers a bare 406 here, with no body.
        let mut r = response::full(StatusCode::NOT_ACCEPTABLE, "text/plain", Bytes::new());
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        return r;
    };
    let doc = swagger();
    let (bytes, content_type) = match form {
        V2Form::Json => (&doc.json, "application/json"),
        V2Form::Protobuf => (&doc.protobuf, V2_PROTOBUF),
    };
    let mut r = conditional(req, &doc.hash, || {
        response::full(StatusCode::OK, content_type, bytes.clone())
    });
    let h = r.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(last_modified()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    r
}

/// `ok()`, or 304 when the request's `If-None-Match` names the ETag; the ETag is set on both.
fn conditional<B>(
    req: &Request<B>,
    hash: &str,
    ok: impl FnOnce() -> Response<Body>,
) -> Response<Body> {
    let etag = format!("\"{hash}\"");
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut r = if matches {
        let mut r = Response::new(shards::server::body(http_body_util::Empty::<Bytes>::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        ok()
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

fn document<B>(req: &Request<B>, bytes: &Bytes, hash: &str, immutable: bool) -> Response<Body> {
    let mut r = conditional(req, hash, || response::json(StatusCode::OK, bytes.clone()));
    let h = r.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, immutable"
        } else {
            "no-cache, private"
        }),
    );
    r
}
