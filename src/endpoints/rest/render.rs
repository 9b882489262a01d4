//! Rendering the Store's answers as the client asked: objects and lists as JSON, or as a
//! `meta.k8s.io` Table or PartialObjectMetadata(List); watch lines as a chunked stream, each
//! line re-rendered for Table watches (`kubectl get -w`).

use std::rc::Rc;

use bytes::{BufMut, Bytes, BytesMut};
use http::{header, HeaderValue, StatusCode};
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper::Response;
use serde_json::Value;
use shards::server::{Body, BoxError};

use crate::printers::Output;
use crate::registry::resources::Resource;
use crate::registry::store::{Listed, WatchStream};

/// One object as the client asked for it (itself, a Table, or its metadata).
pub(super) fn one(out: Output, res: &Resource, json: &Bytes) -> Bytes {
    match out {
        Output::Json => json.clone(),
        out => crate::printers::render_one(out, &res.printer, json),
    }
}

/// A list as the client asked for it: `<Kind>List` JSON assembled from the items' bytes, or
/// a Table / PartialObjectMetadataList.
pub(super) fn list(out: Output, res: &Resource, listed: &Listed) -> Bytes {
    if out != Output::Json {
        let mut meta = serde_json::Map::new();
        meta.insert(
            "resourceVersion".into(),
            Value::String(listed.revision.to_string()),
        );
        if let Some(c) = &listed.continue_token {
            meta.insert("continue".into(), Value::String(c.clone()));
        }
        return crate::printers::render_list(
            out,
            &res.printer,
            meta,
            listed.items.iter().map(|i| i.json.clone()),
        );
    }
    let mut body =
        BytesMut::with_capacity(128 + listed.items.iter().map(|i| i.json.len() + 2).sum::<usize>());
    body.put_slice(
        format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\"",
            res.api.kind,
            res.api.api_version(),
            listed.revision
        )
        .as_bytes(),
    );
    if let Some(c) = &listed.continue_token {
        body.put_slice(format!(",\"continue\":\"{c}\"").as_bytes());
    }
    body.put_slice(b"},\"items\":[");
    for (i, item) in listed.items.iter().enumerate() {
        if i > 0 {
            body.put_u8(b',');
        }
        body.put_slice(&item.json);
    }
    body.put_slice(b"]}");
    body.freeze()
}

/// A 200 response streaming the watch's lines (re-rendered for Table and metadata watches;
/// a Table's column definitions ride on the first event only, as upstream's).
pub(super) fn watch(out: Output, res: &Rc<Resource>, lines: WatchStream) -> Response<Body> {
    use futures_lite::StreamExt;
    let res = Rc::clone(res);
    let mut first = true;
    let frames = lines.map(move |line| {
        let line = match out {
            Output::Json => line,
            out => {
                let headers = std::mem::replace(&mut first, false);
                crate::printers::render_watch_line(out, &res.printer, &line, headers)
            }
        };
        Ok::<_, BoxError>(Frame::data(line))
    });
    let mut resp = Response::new(shards::server::body(StreamBody::new(frames)));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
