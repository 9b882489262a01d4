//! Rewriting an answer after the verb has built it: a whole JSON body, or each line of a
//! watch stream. Versions stored as another kind are converted to the served version here, in
//! one place, whichever path (cache, backend, write) produced the objects.

use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use hyper::Response;
use serde_json::Value;
use shards::server::Body;

use crate::registry::conversion::Conversion;

/// What to do to one JSON document (a body, or one watch line without its newline).
pub(crate) type Rewrite = Rc<dyn Fn(&[u8]) -> Option<Bytes>>;

/// The rewrite that shows stored objects in the served version.
pub(crate) fn converting(conversion: Conversion) -> Rewrite {
    Rc::new(move |doc: &[u8]| {
        let mut v: Value = serde_json::from_slice(doc).ok()?;
        conversion.present(&mut v);
        serde_json::to_vec(&v).ok().map(Bytes::from)
    })
}

/// Applies `rewrite` to the answer: to each line when `stream` (a watch), else to the body.
/// A document the rewrite cannot read is passed on as it was.
pub(crate) async fn rewrite(
    resp: Response<Body>,
    stream: bool,
    rewrite: Rewrite,
) -> Response<Body> {
    let (mut parts, body) = resp.into_parts();
    parts.headers.remove(http::header::CONTENT_LENGTH);
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
    let out = rewrite(&bytes).unwrap_or(bytes);
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
        let (doc, newline) = match line.strip_suffix(b"\n") {
            Some(d) => (d, true),
            None => (line, false),
        };
        match rewrite(doc) {
            Some(new) => out.extend_from_slice(&new),
            None => out.extend_from_slice(doc),
        }
        if newline {
            out.extend_from_slice(b"\n");
        }
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_is_rewritten_and_newlines_kept() {
        let upper: Rewrite = Rc::new(|d: &[u8]| Some(Bytes::from(d.to_ascii_uppercase())));
        let out = rewrite_lines(&Bytes::from_static(b"{\"a\":1}\n{\"b\":2}\n"), &upper);
        assert_eq!(&out[..], b"{\"A\":1}\n{\"B\":2}\n");
        let none: Rewrite = Rc::new(|_: &[u8]| None);
        let kept = rewrite_lines(&Bytes::from_static(b"x\ny"), &none);
        assert_eq!(&kept[..], b"x\ny");
    }
}
