//! `/openapi/v3` and `/openapi/v3/<group-version>`: the index and the documents, with upstream's
//! ETags, `If-None-Match` (304), and immutable caching for URLs that carry the document's hash.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use hyper::Response;
use shards::server::Body;

use super::get;
use crate::endpoints::{response, status::StatusError};

/// Answers OpenAPI requests; None for other paths.
pub fn serve<B>(req: &Request<B>) -> Option<Response<Body>> {
    let path = req.uri().path();
    let rest = path.strip_prefix("/openapi/")?;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Some(response::status(&StatusError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )));
    }
    let api = get();
    if rest == "v3" || rest == "v3/" {
        return Some(document(req, &api.index, &api.index_hash, false));
    }
    if rest == "v2" {
        // Only v3 is served; an explicit 406 makes clients that ask for v2 fall back (kubectl
        // builds strategic merge patches from its own types then), as for any form upstream
        // cannot give.
        return Some(response::status(&StatusError::new(
            406,
            "NotAcceptable",
            "only OpenAPI v3 is served: see /openapi/v3",
        )));
    }
    let gv = rest.strip_prefix("v3/")?;
    let Some(doc) = api.docs.get(gv) else {
        return Some(response::status(&StatusError::path_not_found()));
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

fn document<B>(req: &Request<B>, bytes: &Bytes, hash: &str, immutable: bool) -> Response<Body> {
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
        response::json(StatusCode::OK, bytes.clone())
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
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
