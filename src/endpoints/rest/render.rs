//! Rendering the Store's answers as the client asked: objects and lists as JSON, or as a
//! `meta.k8s.io` Table or PartialObjectMetadata(List); watch lines as a chunked stream, each
//! line re-rendered for Table watches (`kubectl get -w`).
//!
//! A JSON or protobuf list is written item by item from the replica's snapshot (KEP-5116's
//! streaming lists): a [`ListBody`] copies the items' shared bytes into bounded chunks as the
//! connection takes them, with the whole length known up front, so the bytes on the wire are
//! the whole-body form's and the transient memory is a chunk, not the response.

use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http::{header, HeaderValue, StatusCode};
use http_body_util::StreamBody;
use hyper::body::{Frame, SizeHint};
use hyper::Response;
use serde_json::Value;
use shards::server::{Body, BoxError};

use crate::api::status::Status;
use crate::printers::Output;
use crate::registry::conversion::Conversion;
use crate::registry::resources::Resource;
use crate::registry::store::{Listed, PageItem, WatchStream};

/// How much of a list one chunk carries (an item larger than this is one chunk).
const LIST_CHUNK_BYTES: usize = 64 << 10;

/// One object as the client asked for it (itself, a Table, or its metadata).
pub(super) fn one(out: Output, res: &Resource, json: &Bytes) -> Bytes {
    match out {
        Output::Json => json.clone(),
        out => crate::printers::render_one(out, &res.printer, json),
    }
}

/// A list as a Table or PartialObjectMetadataList (built whole: the printers read every row).
pub(super) fn printed_list(out: Output, res: &Resource, listed: &Listed) -> Bytes {
    crate::printers::render_list(
        out,
        &res.printer,
        list_meta(listed),
        listed.items.iter().map(|i| i.json.clone()),
    )
}

fn list_meta(listed: &Listed) -> serde_json::Map<String, Value> {
    let mut meta = serde_json::Map::new();
    meta.insert(
        "resourceVersion".into(),
        Value::String(listed.revision.to_string()),
    );
    if let Some(c) = &listed.continue_token {
        meta.insert("continue".into(), Value::String(c.clone()));
    }
    meta
}

/// A `<Kind>List` response written item by item: JSON (each stored-form item converted to
/// the served version when the row converts), or Kubernetes protobuf.
pub(super) fn streamed_list(
    res: &Resource,
    listed: Listed,
    protobuf: bool,
) -> Result<Response<Body>, Status> {
    let conversion = res.conversion;
    let (body, media) = if protobuf {
        let meta = Value::Object(list_meta(&listed));
        let items = listed.items.iter().filter_map(|i| {
            let mut v: Value = serde_json::from_slice(&i.json).ok()?;
            if let Some(c) = conversion {
                c.present(&mut v);
            }
            Some(v)
        });
        let pieces =
            crate::codec::protobuf::list_pieces(&res.api.api_version(), res.api.kind, &meta, items)
                .map_err(|e| Status::internal(e.0))?;
        let pieces: VecDeque<Bytes> = pieces.into_iter().map(Bytes::from).collect();
        (ListBody::new(pieces), crate::codec::protobuf::MEDIA_TYPE)
    } else {
        let mut head = format!(
            "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\"",
            res.api.kind,
            res.api.api_version(),
            listed.revision
        );
        if let Some(c) = &listed.continue_token {
            head.push_str(&format!(",\"continue\":\"{c}\""));
        }
        head.push_str("},\"items\":[");
        let items = listed
            .items
            .into_iter()
            .map(|PageItem { json, .. }| match conversion {
                Some(c) => converted(c, json),
                None => json,
            });
        let mut pieces = VecDeque::with_capacity(items.len() * 2 + 2);
        pieces.push_back(Bytes::from(head));
        for (i, item) in items.enumerate() {
            if i > 0 {
                pieces.push_back(Bytes::from_static(b","));
            }
            pieces.push_back(item);
        }
        pieces.push_back(Bytes::from_static(b"]}"));
        (ListBody::new(pieces), "application/json")
    };
    let mut resp = Response::new(shards::server::body(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    Ok(resp)
}

/// One stored-form item as the served version (as it was when it cannot be read).
fn converted(c: Conversion, json: Bytes) -> Bytes {
    let Ok(mut v) = serde_json::from_slice::<Value>(&json) else {
        return json;
    };
    c.present(&mut v);
    serde_json::to_vec(&v).map(Bytes::from).unwrap_or(json)
}

/// A body of pieces (shared bytes) sent in chunks of at most [`LIST_CHUNK_BYTES`] (bigger
/// pieces alone), its length known up front.
struct ListBody {
    pieces: VecDeque<Bytes>,
    remaining: u64,
}

impl ListBody {
    fn new(pieces: VecDeque<Bytes>) -> Self {
        let remaining = pieces.iter().map(|p| p.len() as u64).sum();
        Self { pieces, remaining }
    }
}

impl hyper::body::Body for ListBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some(first) = self.pieces.pop_front() else {
            return Poll::Ready(None);
        };
        let chunk = if first.len() >= LIST_CHUNK_BYTES {
            first
        } else {
            let mut chunk = BytesMut::with_capacity(LIST_CHUNK_BYTES);
            chunk.put_slice(&first);
            while let Some(next) = self.pieces.front() {
                if chunk.len() + next.len() > LIST_CHUNK_BYTES {
                    break;
                }
                chunk.put_slice(next);
                self.pieces.pop_front();
            }
            chunk.freeze()
        };
        self.remaining -= chunk.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.pieces.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
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
        let api = &res.api;
        crate::metrics::record(|m| m.watch_event(api.group, api.version, api.plural, line.len()));
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
