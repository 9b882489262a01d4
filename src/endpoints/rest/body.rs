//! Request bodies: read whole, bounded by the body limit (413 past it), and decoded from the
//! media types kube-apiserver accepts for objects (JSON, and Kubernetes protobuf as JSON).
//!
//! A body over the limit is read on (and thrown away) up to as much again, so that a client
//! still sending gets its 413 on a connection that stays usable. A body larger than that is
//! kept unread until the 413 has been sent: over HTTP/2, dropping an unfinished request body
//! before the response is complete resets the stream (CANCEL) and the client never sees the
//! Status; dropped after it, the stream ends with RST_STREAM(NO_ERROR), as RFC 9113 §8.1 asks
//! of early responses.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::{Request, Response};
use shards::server::{Body, BoxError};

use crate::api::media::media_type;
use crate::api::status::Status;

/// Why a body was not read: a Status to answer with, and the unread rest of an oversized
/// body to keep until that answer is sent.
pub(super) struct Failure {
    pub(super) status: Status,
    pub(super) unread: Option<Incoming>,
}

impl From<Status> for Failure {
    fn from(status: Status) -> Self {
        Self {
            status,
            unread: None,
        }
    }
}

impl Failure {
    /// The Status response; an unread body is dropped only after it has been sent.
    pub(super) fn respond(self) -> Response<Body> {
        let resp = super::response::status(&self.status);
        match self.unread {
            None => resp,
            Some(unread) => {
                let (parts, body) = resp.into_parts();
                Response::from_parts(
                    parts,
                    shards::server::body(HeldUntilSent {
                        inner: body,
                        _unread: unread,
                    }),
                )
            }
        }
    }
}

/// A response body that keeps the request's unread body alive until it is itself dropped
/// (after its last frame is sent).
struct HeldUntilSent {
    inner: Body,
    _unread: Incoming,
}

impl hyper::body::Body for HeldUntilSent {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.inner.as_mut().poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Reads request bodies for one shard.
#[derive(Clone, Copy, Debug)]
pub(super) struct BodyReader {
    /// The largest body read (`--max-request-body-bytes` of the tuning profile).
    pub(super) max_body: usize,
}

/// The request's Content-Type (JSON when absent).
pub(super) fn content_type(req: &Request<Incoming>) -> String {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string()
}

impl BodyReader {
    /// An object body as JSON bytes: JSON as sent, protobuf decoded; other types are 415.
    pub(super) async fn json(&self, req: Request<Incoming>) -> Result<Vec<u8>, Failure> {
        let ct = content_type(&req);
        let media = media_type(&ct);
        if media == crate::codec::protobuf::MEDIA_TYPE {
            let raw = self.raw(req).await?;
            if raw.is_empty() {
                return Ok(raw);
            }
            let obj = crate::codec::protobuf::to_json(&raw).map_err(|e| {
                Status::bad_request(format!(
                    "the body of the request could not be decoded: {}",
                    e.0
                ))
            })?;
            return serde_json::to_vec(&obj)
                .map_err(|e| Status::internal(format!("encoding: {e}")).into());
        }
        if !(media.is_empty() || media == "application/json" || media == "*/*") {
            return Err(Status::unsupported_media_type(&ct).into());
        }
        self.raw(req).await
    }

    /// A body of any type, bounded by the body limit.
    pub(super) async fn raw(&self, req: Request<Incoming>) -> Result<Vec<u8>, Failure> {
        // A Request-level audit event records the body as read.
        let tap = req.extensions().get::<crate::audit::BodyTap>().cloned();
        let mut body = req.into_body();
        let mut out = Vec::new();
        let mut over = false;
        let mut discarded = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| Status::bad_request(format!("error reading the request body: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if !over && out.len() + data.len() <= self.max_body {
                out.extend_from_slice(&data);
                continue;
            }
            over = true;
            out = Vec::new();
            discarded += data.len();
            if discarded > self.max_body {
                return Err(Failure {
                    status: Status::too_large(self.max_body),
                    unread: Some(body),
                });
            }
        }
        if over {
            return Err(Status::too_large(self.max_body).into());
        }
        if let Some(tap) = tap {
            tap.keep(&out);
        }
        Ok(out)
    }
}
