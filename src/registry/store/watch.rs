//! watch: a stream of newline-delimited JSON events.
//!
//! From resourceVersion "" or "0" the current state comes first as ADDED events, then changes;
//! from a given resourceVersion, changes after it. Selectors apply with transitions (an object
//! that stops matching is sent as DELETED). A revision older than the history kept ends the
//! stream with an ERROR event carrying a 410 Expired Status, as upstream does.
//!
//! Watches of cached resources read the shard's watch cache (`watch_cache.rs`); this file
//! holds the options, the stream type, and the backend watch used when the cache cannot
//! serve.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use shards::signal::Signal;

use super::facts::RequestFacts;
use super::list::Selectors;
use super::options::ListOptions;
use super::{storage_call, storage_status, Store};
use crate::api::object::with_resource_version;
use crate::api::status::{Status, StatusCause};
use crate::api::Revision;
use crate::registry::resources::{Normalizer, Resource};
use crate::storage::cache::object::watch_line as line;
use crate::storage::kv::{EventKind, StorageError, WatchEvent, WatchItem};

/// A watch's lines (`{"type":...,"object":...}` and a newline), in order; the stream ends when
/// the watch does.
pub type WatchStream = Pin<Box<dyn futures_lite::Stream<Item = Bytes>>>;

type Events = tokio::sync::mpsc::Receiver<Result<WatchItem, StorageError>>;

struct WatchState {
    queue: VecDeque<Bytes>,
    events: Events,
    sel: Selectors,
    kind: &'static str,
    api_version: String,
    bookmarks: bool,
    end: Instant,
    stopping: Arc<Signal>,
    done: bool,
    /// How the backend's objects are decoded before they are served.
    normalize: Normalizer,
}

/// A BOOKMARK line at `rev`; `initial_end` marks the end of the initial events.
pub fn bookmark_line(kind: &str, api_version: &str, rev: Revision, initial_end: bool) -> Bytes {
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
    /// A backend object as served: normalized (as the watch cache holds them), at `rev`.
    fn served(&self, stored: &[u8], rev: Revision) -> Bytes {
        if let Ok(serde_json::Value::Object(mut obj)) = serde_json::from_slice(stored) {
            (self.normalize)(&mut obj);
            if let Ok(bytes) = serde_json::to_vec(&obj) {
                return with_resource_version(&bytes, rev);
            }
        }
        with_resource_version(stored, rev)
    }

    fn bookmark(&self, rev: Revision, initial_end: bool) -> Bytes {
        bookmark_line(self.kind, &self.api_version, rev, initial_end)
    }

    /// Lines for one backend event, after selector transitions.
    fn push_event(&mut self, ev: &WatchEvent) {
        let rev = ev.kv.mod_revision;
        match ev.kind {
            EventKind::Put => {
                let now = self.sel.matches(&ev.kv.value);
                let before = ev.prev_kv.as_ref().map(|p| self.sel.matches(&p.value));
                let obj = self.served(&ev.kv.value, rev);
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
                        self.queue
                            .push_back(line("DELETED", &self.served(&prev.value, rev)));
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

impl Store {
    /// `watch`: the changes to the objects `opts` selects, as lines (the current state first
    /// when asked for), from the shard's watch cache when it can serve it.
    pub async fn watch(
        &self,
        res: &Resource,
        req: &RequestFacts,
        opts: &ListOptions,
    ) -> Result<WatchStream, Status> {
        let watch = WatchOptions::parse(opts)?;
        if let Some((cache, index)) = self.cache_for(&res.api) {
            if let Some(stream) = self
                .watch_cached(res, req, opts, cache, index, &watch)
                .await?
            {
                return Ok(stream);
            }
        }
        self.watch_backend(res, req, opts, &watch).await
    }

    /// A watch of its own on the backend, for resources the cache does not hold.
    async fn watch_backend(
        &self,
        res: &Resource,
        req: &RequestFacts,
        opts: &ListOptions,
        watch: &WatchOptions,
    ) -> Result<WatchStream, Status> {
        let sel = Selectors::new(res, opts)?;
        let mut queue = VecDeque::new();
        let mut initial_rev = None;
        let start = if watch.send_initial {
            let page = self.read_page(res, req, opts, &sel, 0, None).await?;
            for item in &page.items {
                queue.push_back(line("ADDED", &item.json));
            }
            initial_rev = Some(page.revision);
            page.revision
        } else {
            watch.from
        };
        let prefix = Bytes::from(self.collection(res, req.namespace.as_deref()));
        let events = storage_call(req.deadline, self.storage.watch(prefix, start)).await?;
        let mut state = WatchState {
            queue,
            events,
            sel,
            kind: res.api.kind,
            api_version: res.api.api_version(),
            bookmarks: watch.bookmarks,
            end: Instant::now() + watch.timeout,
            stopping: Arc::clone(&self.stopping),
            done: false,
            normalize: res.normalizer(),
        };
        if let (Some(rev), true, true) = (initial_rev, watch.bookmarks, watch.initial_events_end) {
            let b = state.bookmark(rev, true);
            state.queue.push_back(b);
        }
        let stream = futures_lite::stream::unfold(state, |mut s| async move {
            let l = s.next_line().await?;
            Some((l, s))
        });
        Ok(Box::pin(stream))
    }
}

/// A watch request's options, validated as upstream validates ListOptions for a watch.
pub(super) struct WatchOptions {
    /// The resourceVersion as given ("" when absent).
    pub(super) rv: String,
    /// Events after this revision (0: from now, or after the initial state).
    pub(super) from: Revision,
    /// Send the current state as ADDED events first.
    pub(super) send_initial: bool,
    /// The client asked with `sendInitialEvents=true`: mark the end of the initial state.
    pub(super) initial_events_end: bool,
    /// `allowWatchBookmarks`.
    pub(super) bookmarks: bool,
    /// How long the watch lasts.
    pub(super) timeout: Duration,
}

impl WatchOptions {
    fn parse(opts: &ListOptions) -> Result<Self, Status> {
        let rv = opts.resource_version.clone();
        let matching = opts.resource_version_match.as_str();
        let send_initial_param = opts.send_initial_events;
        let mut causes = Vec::new();
        let forbidden = |field: &str, msg: &str| StatusCause {
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
                causes.push(StatusCause {
                    reason: Some("FieldValueNotSupported".into()),
                    message: format!(
                        "Unsupported value: \"{matching}\": supported values: \"NotOlderThan\""
                    ),
                    field: Some("resourceVersionMatch".into()),
                });
            }
        }
        if !causes.is_empty() {
            return Err(Status::invalid("meta.k8s.io", "ListOptions", "", causes));
        }
        let from: Revision = if rv.is_empty() || rv == "0" {
            0
        } else {
            rv.parse()
                .map_err(|_| Status::bad_request(format!("invalid resource version: {rv:?}")))?
        };
        let send_initial = send_initial_param.unwrap_or(rv.is_empty() || rv == "0");
        Ok(Self {
            rv,
            from,
            send_initial,
            initial_events_end: send_initial_param == Some(true),
            bookmarks: opts.allow_watch_bookmarks,
            timeout: opts.watch_length(),
        })
    }
}
