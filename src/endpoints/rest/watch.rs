//! watch: newline-delimited JSON events over a chunked HTTP/1.1 or HTTP/2 stream.
//!
//! From resourceVersion "" or "0" the current state comes first as ADDED events, then changes;
//! from a given resourceVersion, changes after it. Selectors apply with transitions (an object
//! that stops matching is sent as DELETED). A revision older than the history kept ends the
//! stream with an ERROR event carrying a 410 Expired Status, as upstream does.
//!
//! Watches of cached resources read the shard's watch cache (`watch_cache.rs`); this file
//! holds the options, the response, and the backend watch used when the cache cannot serve.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper::Response;
use shards::server::{Body, BoxError};
use shards::signal::Signal;

use super::list::Selectors;
use super::{object, storage_call, storage_status, RestApi, Target};
use crate::endpoints::status::StatusError;
use crate::storage::cache::object::watch_line as line;
use crate::storage::kv::{EventKind, Revision, StorageError, WatchEvent, WatchItem};

/// upstream's default watch length is a random 30-60 minutes; kubeshard picks the middle.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(45 * 60);

type Events = tokio::sync::mpsc::Receiver<Result<WatchItem, StorageError>>;

struct WatchState {
    queue: VecDeque<Bytes>,
    events: Events,
    sel: Selectors,
    kind: String,
    api_version: String,
    bookmarks: bool,
    end: Instant,
    stopping: Arc<Signal>,
    done: bool,
}

/// A BOOKMARK line at `rev`; `initial_end` marks the end of the initial events.
pub(crate) fn bookmark_line(
    kind: &str,
    api_version: &str,
    rev: Revision,
    initial_end: bool,
) -> Bytes {
    let annotations = if initial_end {
        ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}"
    } else {
        ""
    };
    let obj = format!(
        "{{\"kind\":\"{kind}\",\"apiVersion\":\"{api_version}\",\"metadata\":{{\"resourceVersion\":\"{rev}\",\"creationTimestamp\":null{annotations}}}}}"
    );
    line("BOOKMARK", obj.as_bytes())
}

impl WatchState {
    fn bookmark(&self, rev: Revision, initial_end: bool) -> Bytes {
        bookmark_line(&self.kind, &self.api_version, rev, initial_end)
    }

    /// Lines for one backend event, after selector transitions.
    fn push_event(&mut self, ev: &WatchEvent) {
        let rev = ev.kv.mod_revision;
        match ev.kind {
            EventKind::Put => {
                let now = self.sel.matches(&ev.kv.value);
                let before = ev.prev_kv.as_ref().map(|p| self.sel.matches(&p.value));
                let obj = object::with_resource_version(&ev.kv.value, rev);
                match (before, now) {
                    (None | Some(false), true) => self.queue.push_back(line("ADDED", &obj)),
                    (Some(true), true) => self.queue.push_back(line("MODIFIED", &obj)),
                    (Some(true), false) => self.queue.push_back(line("DELETED", &obj)),
                    (_, false) => {}
                }
            }
            EventKind::Delete => {
                if let Some(prev) = &ev.prev_kv {
                    if self.sel.matches(&prev.value) {
                        self.queue.push_back(line(
                            "DELETED",
                            &object::with_resource_version(&prev.value, rev),
                        ));
                    }
                }
            }
        }
    }

    async fn next_line(&mut self) -> Option<Bytes> {
        loop {
            if let Some(l) = self.queue.pop_front() {
                return Some(l);
            }
            if self.done {
                return None;
            }
            let left = self.end.saturating_duration_since(Instant::now());
            let stopping = Arc::clone(&self.stopping);
            let next = futures_lite::future::or(async { Some(self.events.recv().await) }, async {
                futures_lite::future::or(shards::sleep(left), stopping.wait()).await;
                None
            })
            .await;
            match next {
                None | Some(None) => return None,
                Some(Some(Ok(WatchItem::Events(evs)))) => {
                    for ev in &evs {
                        self.push_event(ev);
                    }
                }
                Some(Some(Ok(WatchItem::Progress(rev)))) => {
                    if self.bookmarks {
                        let b = self.bookmark(rev, false);
                        self.queue.push_back(b);
                    }
                }
                Some(Some(Err(e))) => {
                    self.done = true;
                    if matches!(e, StorageError::Compacted { .. }) {
                        let status = storage_status(e);
                        self.queue.push_back(line("ERROR", &status.to_json()));
                    }
                }
            }
        }
    }
}

impl RestApi {
    pub(crate) async fn watch(&self, t: &Target<'_>) -> Result<Response<Body>, StatusError> {
        let opts = WatchOptions::parse(t)?;
        if let Some((cache, index)) = self.cache_for(t) {
            if let Some(resp) = self.watch_cached(t, cache, index, &opts).await? {
                return Ok(resp);
            }
        }
        self.watch_backend(t, &opts).await
    }

    /// A watch of its own on the backend, for resources the cache does not hold.
    async fn watch_backend(
        &self,
        t: &Target<'_>,
        opts: &WatchOptions,
    ) -> Result<Response<Body>, StatusError> {
        let sel = Selectors::from_target(t)?;
        let send_initial = opts.send_initial;
        let bookmarks = opts.bookmarks;
        let timeout = opts.timeout;
        let from = opts.from;

        let mut queue = VecDeque::new();
        let mut initial_rev = None;
        let start = if send_initial {
            let page = self.read_page(t, &sel, 0, None).await?;
            for item in &page.items {
                queue.push_back(line("ADDED", &item.json));
            }
            initial_rev = Some(page.revision);
            page.revision
        } else {
            from
        };
        let prefix = Bytes::from(self.collection(t));
        let events = storage_call(t.deadline, self.storage.watch(prefix, start)).await?;
        let mut state = WatchState {
            queue,
            events,
            sel,
            kind: t.res.kind.clone(),
            api_version: t.res.api_version(),
            bookmarks,
            end: Instant::now() + timeout,
            stopping: Arc::clone(&self.stopping),
            done: false,
        };
        if let (Some(rev), true, true) = (initial_rev, bookmarks, opts.initial_events_end) {
            let b = state.bookmark(rev, true);
            state.queue.push_back(b);
        }
        let stream = futures_lite::stream::unfold(state, |mut s| async move {
            let l = s.next_line().await?;
            Some((Ok::<_, BoxError>(Frame::data(l)), s))
        });
        Ok(stream_response(stream))
    }
}

/// A 200 response streaming watch lines.
pub(crate) fn stream_response(
    stream: impl futures_lite::Stream<Item = Result<Frame<Bytes>, BoxError>> + 'static,
) -> Response<Body> {
    let mut resp = Response::new(shards::server::body(StreamBody::new(stream)));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A watch request's options, validated as upstream validates ListOptions for a watch.
pub(crate) struct WatchOptions {
    /// The resourceVersion as given ("" when absent).
    pub(crate) rv: String,
    /// Events after this revision (0: from now, or after the initial state).
    pub(crate) from: Revision,
    /// Send the current state as ADDED events first.
    pub(crate) send_initial: bool,
    /// The client asked with `sendInitialEvents=true`: mark the end of the initial state.
    pub(crate) initial_events_end: bool,
    /// `allowWatchBookmarks`.
    pub(crate) bookmarks: bool,
    /// How long the watch lasts.
    pub(crate) timeout: Duration,
}

impl WatchOptions {
    fn parse(t: &Target<'_>) -> Result<Self, StatusError> {
        let rv = t.query.get("resourceVersion").unwrap_or("").to_string();
        let matching = t.query.get("resourceVersionMatch").unwrap_or("");
        let send_initial_param = t
            .query
            .get("sendInitialEvents")
            .map(|v| matches!(v, "true" | "1" | "True"));
        let mut causes = Vec::new();
        let forbidden = |field: &str, msg: &str| crate::endpoints::status::StatusCause {
            reason: Some("FieldValueForbidden".into()),
            message: format!("Forbidden: {msg}"),
            field: Some(field.into()),
        };
        if send_initial_param.is_some() && matching != "NotOlderThan" {
            causes.push(forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !matching.is_empty() {
            if send_initial_param.is_none() {
                causes.push(forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ));
            }
            if matching != "NotOlderThan" {
                causes.push(crate::endpoints::status::StatusCause {
                    reason: Some("FieldValueNotSupported".into()),
                    message: format!(
                        "Unsupported value: \"{matching}\": supported values: \"NotOlderThan\""
                    ),
                    field: Some("resourceVersionMatch".into()),
                });
            }
        }
        if !causes.is_empty() {
            return Err(StatusError::invalid(
                "meta.k8s.io",
                "ListOptions",
                "",
                causes,
            ));
        }
        let from: Revision = if rv.is_empty() || rv == "0" {
            0
        } else {
            rv.parse().map_err(|_| {
                StatusError::bad_request(format!("invalid resource version: {rv:?}"))
            })?
        };
        let send_initial = send_initial_param.unwrap_or(rv.is_empty() || rv == "0");
        let timeout = t
            .query
            .get("timeoutSeconds")
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_WATCH_TIMEOUT);
        Ok(Self {
            rv,
            from,
            send_initial,
            initial_events_end: send_initial_param == Some(true),
            bookmarks: t.query.flag("allowWatchBookmarks"),
            timeout,
        })
    }
}
