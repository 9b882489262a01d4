//! Response compression as kube-apiserver's `APIResponseCompression` does it: a client whose
//! `Accept-Encoding` lists `gzip` gets a body over 128 KiB gzipped at level 1, with
//! `Content-Encoding: gzip` and `Vary: Accept-Encoding`; smaller bodies and streams of unknown
//! length (watches) go out as they are. Compression streams: each frame of the body is
//! compressed as it is sent, so a streamed list stays streamed.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::{header, HeaderValue};
use hyper::body::{Frame, SizeHint};
use hyper::Response;
use shards::server::{Body, BoxError};
use std::io::Write;

/// Bodies at most this long are never compressed (upstream's `defaultGzipThresholdBytes`).
pub const GZIP_THRESHOLD_BYTES: u64 = 128 * 1024;

/// upstream's level: the least CPU for a ratio within 1.1-1.5x of the best.
const GZIP_LEVEL: u32 = 1;

/// Whether an `Accept-Encoding` value offers gzip (a `gzip` token, as upstream reads it).
pub fn accepts_gzip(accept_encoding: Option<&HeaderValue>) -> bool {
    accept_encoding
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == "gzip"))
}

/// `resp`, gzipped when the client accepts it and its body is longer than the threshold.
pub fn gzip_if_accepted(accepted: bool, resp: Response<Body>) -> Response<Body> {
    let size = hyper::body::Body::size_hint(resp.body()).exact();
    if !accepted
        || size.is_none_or(|n| n <= GZIP_THRESHOLD_BYTES)
        || resp.headers().contains_key(header::CONTENT_ENCODING)
    {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let gz = GzipBody {
        inner: body,
        encoder: Some(GzEncoder::new(Vec::new(), Compression::new(GZIP_LEVEL))),
    };
    Response::from_parts(parts, shards::server::body(gz))
}

/// A body compressed frame by frame.
struct GzipBody {
    inner: Body,
    /// None once the trailer has been written.
    encoder: Option<GzEncoder<Vec<u8>>>,
}

impl hyper::body::Body for GzipBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            let Some(encoder) = this.encoder.as_mut() else {
                return Poll::Ready(None);
            };
            match this.inner.as_mut().poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if let Err(e) = encoder.write_all(&data) {
                        return Poll::Ready(Some(Err(e.into())));
                    }
                    let out = std::mem::take(encoder.get_mut());
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                    }
                }
                Poll::Ready(None) => {
                    let Some(encoder) = this.encoder.take() else {
                        return Poll::Ready(None);
                    };
                    return match encoder.finish() {
                        Ok(rest) => Poll::Ready(Some(Ok(Frame::data(Bytes::from(rest))))),
                        Err(e) => Poll::Ready(Some(Err(e.into()))),
                    };
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.encoder.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use http_body_util::BodyExt;
    use std::io::Read;

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        futures_lite::future::block_on(f)
    }

    #[test]
    fn large_bodies_are_gzipped_for_clients_that_ask() {
        assert!(accepts_gzip(Some(&HeaderValue::from_static(
            "deflate, gzip"
        ))));
        assert!(!accepts_gzip(Some(&HeaderValue::from_static("gzip;q=1"))));
        assert!(!accepts_gzip(None));
        let big = Bytes::from("x".repeat(200 << 10));
        let resp = |b: Bytes| Response::new(shards::server::body(http_body_util::Full::new(b)));
        let gz = gzip_if_accepted(true, resp(big.clone()));
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(gz.headers()[header::VARY], "Accept-Encoding");
        let bytes = run(gz.into_body().collect()).unwrap().to_bytes();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, big);
        let small = gzip_if_accepted(true, resp(Bytes::from_static(b"{}")));
        assert!(small.headers().get(header::CONTENT_ENCODING).is_none());
        let not_asked = gzip_if_accepted(false, resp(big));
        assert!(not_asked.headers().get(header::CONTENT_ENCODING).is_none());
    }
}
