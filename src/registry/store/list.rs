//! list: a range read at one revision, with selectors, `limit` and `continue` paging, and
//! upstream's resourceVersion semantics; from the shard's watch cache when it can answer.

use base64::Engine;
use bytes::Bytes;
use serde_json::Value;

use super::cached::{freshness, page_of};
use super::facts::RequestFacts;
use super::options::ListOptions;
use super::{storage_call, Store};
use crate::api::status::{Status, StatusCause};
use crate::api::Revision;
use crate::registry::resources::Resource;
use crate::request::selector::{FieldSelector, LabelSelector};
use crate::storage::cache::WatchCache;
use crate::storage::kv::ListRequest;

/// The selectors of a list or watch request.
pub(super) struct Selectors {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Selectors {
    /// The request's selectors; the field selector may name the kind's selectable fields.
    pub(super) fn new(res: &Resource, opts: &ListOptions) -> Result<Self, Status> {
        let labels = LabelSelector::parse(&opts.label_selector).map_err(Status::bad_request)?;
        let fields = FieldSelector::parse(&opts.field_selector, res.hooks.selectable_fields())
            .map_err(Status::bad_request)?;
        Ok(Self { labels, fields })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether stored bytes match (parsed only when there is something to check).
    pub(super) fn matches(&self, stored: &[u8]) -> bool {
        if self.is_empty() {
            return true;
        }
        let Ok(v) = serde_json::from_slice::<Value>(stored) else {
            return false;
        };
        self.matches_value(&v)
    }

    pub(super) fn matches_value(&self, v: &Value) -> bool {
        let labels = v
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        self.labels.matches(labels) && self.fields.matches(v)
    }
}

/// The continue token: upstream's shape (base64 of JSON with the revision and start key).
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: Revision,
    start: String,
}

fn encode_continue(rv: Revision, last_key_rel: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: format!("{last_key_rel}\u{0}"),
    };
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&t).unwrap_or_default())
}

fn decode_continue(token: &str) -> Result<ContinueToken, Status> {
    let bad = || {
        Status::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if t.v != "meta.k8s.io/v1" || t.rv <= 0 || t.start.contains("..") || t.start.starts_with('/') {
        return Err(bad());
    }
    Ok(t)
}

/// One item of a page: its key and its response bytes.
#[derive(Clone, Debug)]
pub struct PageItem {
    /// The storage key.
    pub key: Bytes,
    /// The object's JSON, with its resourceVersion.
    pub json: Bytes,
}

/// A page of matching items at one revision: a list's answer (or what a deletecollection
/// deleted).
#[derive(Debug)]
pub struct Listed {
    /// The items, in key order.
    pub items: Vec<PageItem>,
    /// The revision the list is at.
    pub revision: Revision,
    /// The token for the next page, when more items follow.
    pub continue_token: Option<String>,
}

impl Store {
    /// `list`: the items of `res` under the request's namespace matching `opts`.
    pub async fn list(
        &self,
        res: &Resource,
        req: &RequestFacts,
        opts: &ListOptions,
    ) -> Result<Listed, Status> {
        let sel = Selectors::new(res, opts)?;
        self.read_page(
            res,
            req,
            opts,
            &sel,
            opts.limit,
            opts.continue_token.as_deref(),
        )
        .await
    }

    /// Reads matching items under the request's collection at one revision: from the
    /// shard's watch cache when it can answer, else from the backend.
    pub(super) async fn read_page(
        &self,
        res: &Resource,
        req: &RequestFacts,
        opts: &ListOptions,
        sel: &Selectors,
        limit: usize,
        cont: Option<&str>,
    ) -> Result<Listed, Status> {
        let backend_revision = list_revision(opts)?;
        if let Some((cache, _)) = self.cache_for(&res.api) {
            if let Some(page) = self
                .read_page_cached(res, req, opts, cache, sel, limit, cont)
                .await?
            {
                return Ok(page);
            }
        }
        self.read_page_backend(res, req, sel, limit, cont, backend_revision)
            .await
    }

    // One parameter per fact a cached page depends on.
    #[allow(clippy::too_many_arguments)]
    async fn read_page_cached(
        &self,
        res: &Resource,
        req: &RequestFacts,
        opts: &ListOptions,
        cache: &WatchCache,
        sel: &Selectors,
        limit: usize,
        cont: Option<&str>,
    ) -> Result<Option<Listed>, Status> {
        let prefix = self.collection(res, req.namespace.as_deref());
        let (objects, revision, start_after) = match cont {
            Some(c) => {
                let tok = decode_continue(c)?;
                let Some(objects) = cache.snapshot_at(tok.rv) else {
                    return Ok(None);
                };
                let start = format!("{prefix}{}", tok.start.trim_end_matches('\u{0}'));
                (objects, tok.rv, Some(start))
            }
            None => {
                let rv = opts.resource_version.as_str();
                if opts.resource_version_match == "Exact" {
                    let exact = rv.parse::<Revision>().unwrap_or(0);
                    match cache.snapshot_at(exact) {
                        Some(o) => (o, exact, None),
                        None => return Ok(None),
                    }
                } else {
                    if !self.cache_fresh(req, cache, freshness(rv)?).await? {
                        return Ok(None);
                    }
                    let (o, r) = cache.snapshot();
                    (o, r, None)
                }
            }
        };
        let (items, last) = page_of(
            &objects,
            prefix.as_bytes(),
            start_after.as_deref().map(str::as_bytes),
            sel,
            limit,
        );
        let continue_token = last.map(|k| {
            let rel = String::from_utf8_lossy(&k[prefix.len().min(k.len())..]).into_owned();
            encode_continue(revision, &rel)
        });
        if continue_token.is_some() {
            cache.keep_snapshot(objects, revision);
        }
        Ok(Some(Listed {
            items,
            revision,
            continue_token,
        }))
    }

    /// Reads a page from the backend at `revision` (0: its latest), or at the token's.
    async fn read_page_backend(
        &self,
        res: &Resource,
        req: &RequestFacts,
        sel: &Selectors,
        limit: usize,
        cont: Option<&str>,
        revision: Revision,
    ) -> Result<Listed, Status> {
        let prefix = self.collection(res, req.namespace.as_deref());
        let (mut start_after, mut revision) = match cont {
            Some(c) => {
                let tok = decode_continue(c)?;
                (
                    Some(Bytes::from(format!(
                        "{prefix}{}",
                        tok.start.trim_end_matches('\u{0}')
                    ))),
                    tok.rv,
                )
            }
            None => (None, revision),
        };
        let mut items = Vec::new();
        loop {
            let want = if limit == 0 { 0 } else { limit - items.len() };
            let resp = storage_call(
                req.deadline,
                self.storage.list(ListRequest {
                    prefix: Bytes::from(prefix.clone()),
                    start_after: start_after.clone(),
                    limit: want,
                    revision,
                }),
            )
            .await
            .map_err(|e| {
                if cont.is_some() && e.code == 410 {
                    expired_continue()
                } else {
                    e
                }
            })?;
            revision = resp.revision;
            let last_key = resp.items.last().map(|kv| kv.key.clone());
            items.extend(
                resp.items
                    .into_iter()
                    .filter(|kv| sel.matches(&kv.value))
                    .map(|kv| PageItem {
                        json: super::served(res, &kv.value, kv.mod_revision),
                        key: kv.key,
                    }),
            );
            let Some(k) = last_key.filter(|_| resp.more) else {
                return Ok(Listed {
                    items,
                    revision,
                    continue_token: None,
                });
            };
            if limit != 0 && items.len() >= limit {
                let rel = String::from_utf8_lossy(&k[prefix.len().min(k.len())..]).into_owned();
                return Ok(Listed {
                    items,
                    revision,
                    continue_token: Some(encode_continue(revision, &rel)),
                });
            }
            start_after = Some(k);
        }
    }
}

/// The revision a list reads at: latest for "" / "0" / NotOlderThan, exactly N for Exact.
fn list_revision(opts: &ListOptions) -> Result<Revision, Status> {
    let rv = opts.resource_version.as_str();
    let matching = opts.resource_version_match.as_str();
    let parsed = if rv.is_empty() {
        None
    } else {
        Some(
            rv.parse::<Revision>()
                .map_err(|_| Status::bad_request(format!("invalid resource version: {rv:?}")))?,
        )
    };
    match (matching, parsed) {
        ("", _) | ("NotOlderThan", Some(_)) => Ok(0),
        ("Exact", Some(r)) if r > 0 => Ok(r),
        ("Exact", _) | ("NotOlderThan", None) => Err(Status::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            vec![StatusCause {
                reason: Some("FieldValueForbidden".into()),
                message: format!("Forbidden: resourceVersionMatch \"{matching}\" is forbidden for resourceVersion \"{rv}\""),
                field: Some("resourceVersionMatch".into()),
            }],
        )),
        (other, _) => Err(Status::bad_request(format!("unsupported resourceVersionMatch {other:?}"))),
    }
}

fn expired_continue() -> Status {
    Status::expired(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
    )
}
