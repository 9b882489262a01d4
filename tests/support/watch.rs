//! Watch responses read as upstream's JSON stream: one event object per line.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::Value;

/// The events of one watch response, in order.
pub struct WatchEvents {
    stream: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: Vec<u8>,
}

/// Why no next event came.
#[derive(Debug)]
pub enum WatchEnd {
    /// The stream ended cleanly (after whole events only).
    Closed,
    /// The stream broke, ended inside an event, or sent a line that is not JSON.
    Broken(String),
    /// Nothing came within the limit.
    Silent,
}

impl WatchEvents {
    /// Reads `r`'s body as events.
    pub fn new(r: reqwest::Response) -> Self {
        Self {
            stream: Box::pin(r.bytes_stream()),
            buf: Vec::new(),
        }
    }

    /// The next event, waiting at most `limit` for it.
    pub async fn next(&mut self, limit: Duration) -> Result<Value, WatchEnd> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=nl).collect();
                return serde_json::from_slice(&line)
                    .map_err(|e| WatchEnd::Broken(format!("a torn watch event: {e}")));
            }
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return Err(WatchEnd::Silent),
                Ok(None) if self.buf.is_empty() => return Err(WatchEnd::Closed),
                Ok(None) => {
                    return Err(WatchEnd::Broken(format!(
                        "the watch ended inside an event ({} bytes)",
                        self.buf.len()
                    )))
                }
                Ok(Some(Err(e))) => {
                    return Err(WatchEnd::Broken(format!("the watch broke: {e:?}")))
                }
                Ok(Some(Ok(chunk))) => self.buf.extend_from_slice(&chunk),
            }
        }
    }
}
