//! Records each answered request in this shard's metrics, as upstream's route instrumentation
//! does: an answer of known length at once, a streamed one (a watch, a connect, a gzipped
//! list) when its stream ends, with the bytes it sent; long-running ones count in
//! `apiserver_longrunning_requests` (and watches in `apiserver_registered_watchers`) while
//! open.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::Response;
use shards::server::{Body, BoxError};

use crate::metrics::{self, RequestLabels};

/// Records `resp` under `labels` (now, or when a long-running body ends) and returns it;
/// `kind` is the resource's kind (a watch counts in `apiserver_registered_watchers`).
pub fn answered(
    labels: RequestLabels,
    kind: &'static str,
    started: Instant,
    long_running: bool,
    resp: Response<Body>,
) -> Response<Body> {
    let code = resp.status().as_u16();
    let size = resp.body().size_hint().exact();
    if let (false, Some(size)) = (long_running, size) {
        metrics::record(|m| m.request(labels, code, Some(size), started.elapsed()));
        return resp;
    }
    let watched = (long_running && labels.verb == "WATCH").then_some(kind);
    if long_running {
        metrics::record(|m| {
            m.long_running(labels, 1);
            if let Some(kind) = watched {
                m.watcher(labels.group, kind, 1);
            }
        });
    }
    resp.map(|inner| {
        Box::pin(Metered {
            inner,
            labels,
            long_running,
            watched,
            code,
            started,
            bytes: 0,
        }) as Body
    })
}

/// A streamed answer's body: counts what it sends and records the request when it ends
/// (the stream finished, or the client went away and the body was dropped).
struct Metered {
    inner: Body,
    labels: RequestLabels,
    long_running: bool,
    watched: Option<&'static str>,
    code: u16,
    started: Instant,
    bytes: u64,
}

impl hyper::body::Body for Metered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = this.inner.as_mut().poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                this.bytes += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        let (labels, code, bytes, took) =
            (self.labels, self.code, self.bytes, self.started.elapsed());
        let (long_running, watched) = (self.long_running, self.watched);
        metrics::record(|m| {
            if long_running {
                m.long_running(labels, -1);
            }
            if let Some(kind) = watched {
                m.watcher(labels.group, kind, -1);
            }
            m.request(labels, code, Some(bytes), took);
        });
    }
}
