//! A response body watched as it is sent: each data frame's length reported, and an end
//! reported once, when the body finishes or is dropped (the client went away). Metrics and
//! audit use it to record streamed answers when they end.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::Response;
use shards::server::{Body, BoxError};

/// What watches a body.
pub trait BodyObserver: Unpin + 'static {
    /// A data frame of `len` bytes was sent on.
    fn on_data(&mut self, _len: usize) {}
    /// The body ended or was dropped.
    fn on_end(&mut self);
}

/// `resp` with its body watched by `observer`.
pub fn observe(resp: Response<Body>, observer: impl BodyObserver) -> Response<Body> {
    resp.map(|inner| Box::pin(Observed { inner, observer }) as Body)
}

struct Observed<O: BodyObserver> {
    inner: Body,
    observer: O,
}

impl<O: BodyObserver> hyper::body::Body for Observed<O> {
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
                this.observer.on_data(data.len());
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

impl<O: BodyObserver> Drop for Observed<O> {
    fn drop(&mut self) {
        self.observer.on_end();
    }
}
