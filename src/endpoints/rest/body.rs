//! Request bodies: read whole, bounded by the body limit (413 past it), and decoded from the
//! media types kube-apiserver accepts for objects (JSON, and Kubernetes protobuf as JSON).

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Request;

use crate::api::media::media_type;
use crate::api::status::Status;

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
    pub(super) async fn json(&self, req: Request<Incoming>) -> Result<Vec<u8>, Status> {
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
                .map_err(|e| Status::internal(format!("encoding: {e}")));
        }
        if !(media.is_empty() || media == "application/json" || media == "*/*") {
            return Err(Status::unsupported_media_type(&ct));
        }
        self.raw(req).await
    }

    /// A body of any type, bounded by the body limit.
    pub(super) async fn raw(&self, req: Request<Incoming>) -> Result<Vec<u8>, Status> {
        let limited = http_body_util::Limited::new(req.into_body(), self.max_body);
        match limited.collect().await {
            Ok(c) => Ok(c.to_bytes().to_vec()),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                Err(Status::too_large(self.max_body))
            }
            Err(e) => Err(Status::bad_request(format!(
                "error reading the request body: {e}"
            ))),
        }
    }
}
