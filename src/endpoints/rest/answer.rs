//! Rewriting an answer after the verb has built it: a whole JSON body, or each line of a
//! watch stream. Versions stored as another kind are converted to the served version here, in
//! one place, whichever path (cache, backend, write) produced the objects.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use hyper::Response;
use serde_json::Value;
use shards::server::Body;

use crate::registry::conversion::Conversion;

/// What to do to the JSON documents of an answer: convert stored objects to the served
/// version, and/or encode them as protobuf for a client that accepts nothing else.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rewrite {
    /// The conversion to apply to stored-form objects.
    pub(crate) conversion: Option<Conversion>,
    /// Encode as Kubernetes protobuf instead of JSON.
    pub(crate) protobuf: bool,
}

impl Rewrite {
    /// Whether the answer is passed on as it is.
    pub(crate) fn is_identity(self) -> bool {
        self.conversion.is_none() && !self.protobuf
    }

    /// One document (a body, or a watch line without its newline) rewritten; in a stream,
    /// with its terminator (a newline for JSON, a length prefix for protobuf). None: the
    /// document could not be read and goes out as it was.
    fn document(self, doc: &[u8], stream: bool) -> Option<Bytes> {
        let mut v: Value = serde_json::from_slice(doc).ok()?;
        if let Some(c) = self.conversion {
            c.present(&mut v);
        }
        if self.protobuf {
            let encoded = if stream {
                crate::codec::protobuf::watch_frame(&v)
            } else {
                crate::codec::protobuf::from_json(&v)
            };
            return encoded.ok().map(Bytes::from);
        }
        let mut out = serde_json::to_vec(&v).ok()?;
        if stream {
            out.push(b'\n');
        }
        Some(Bytes::from(out))
    }
}

/// Applies `rewrite` to the answer: to each line when `stream` (a watch), else to the body.
pub(crate) async fn rewrite(
    resp: Response<Body>,
    stream: bool,
    rewrite: Rewrite,
) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    parts.headers.remove(http::header::CONTENT_LENGTH);
    if rewrite.protobuf {
        let media = if stream {
            crate::codec::protobuf::STREAM_MEDIA_TYPE
        } else {
            crate::codec::protobuf::MEDIA_TYPE
        };
        parts.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(media),
        );
    }
    if stream {
        let lines = Lines {
            inner: body,
            rewrite,
        };
        return Response::from_parts(parts, shards::server::body(lines));
    }
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let out = rewrite.document(&bytes, false).unwrap_or(bytes);
    Response::from_parts(parts, shards::server::body(http_body_util::Full::new(out)))
}

/// A watch body whose every line goes through a rewrite (frames hold whole lines).
struct Lines {
    inner: Body,
    rewrite: Rewrite,
}

impl hyper::body::Body for Lines {
    type Data = Bytes;
    type Error = shards::server::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let frame = match frame.into_data() {
                    Ok(data) => Frame::data(rewrite_lines(&data, &this.rewrite)),
                    Err(other) => other,
                };
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn rewrite_lines(data: &Bytes, rewrite: &Rewrite) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 64);
    for line in data.split_inclusive(|b| *b == b'\n') {
        let doc = line.strip_suffix(b"\n").unwrap_or(line);
        match rewrite.document(doc, true) {
            Some(new) => out.extend_from_slice(&new),
            None => out.extend_from_slice(line),
        }
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn each_line_is_rewritten_and_unreadable_lines_kept() {
        let events = Rewrite {
            conversion: Some(Conversion::EventsV1),
            protobuf: false,
        };
        let data = Bytes::from_static(
            b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Event\",\"apiVersion\":\"v1\",\"message\":\"m\"}}\nnot json\n",
        );
        let out = rewrite_lines(&data, &events);
        let text = String::from_utf8(out.to_vec()).unwrap();
        let mut lines = text.lines();
        let first: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(first["object"]["note"], "m");
        assert_eq!(lines.next(), Some("not json"));
        assert!(text.ends_with('\n'));

        let pb = Rewrite {
            conversion: None,
            protobuf: true,
        };
        let out = rewrite_lines(
            &Bytes::from_static(b"{\"type\":\"DELETED\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\"}}\n"),
            &pb,
        );
        let len = u32::from_be_bytes(out[..4].try_into().unwrap()) as usize;
        assert_eq!(len + 4, out.len(), "one length-prefixed frame, no newline");
    }
}
