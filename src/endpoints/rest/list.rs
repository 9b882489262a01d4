//! list and deletecollection: a range read at one revision, with selectors, `limit` and
//! `continue` paging, and resourceVersion semantics.

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use http::StatusCode;
use hyper::Response;
use serde_json::Value;
use shards::server::Body;

use super::cached::{freshness, page_of, PageItem};
use super::{object, storage_call, RestApi, Target};
use crate::endpoints::{response, status::StatusError};
use crate::request::selector::{FieldSelector, LabelSelector};
use crate::storage::cache::WatchCache;
use crate::storage::kv::{ListRequest, Precondition, Revision, WriteOutcome};

/// Fields a kind may be selected on besides metadata.name/namespace (upstream's field sets).
pub fn selectable_fields(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Secret") => &["type"],
        ("", "Namespace") => &["status.phase"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Event") | ("events.k8s.io", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "ReplicationController") | ("apps", "ReplicaSet") => &["status.replicas"],
        ("batch", "Job") => &["status.successful"],
        ("certificates.k8s.io", "CertificateSigningRequest") => &["spec.signerName"],
        _ => &[],
    }
}

/// The selectors of a list or watch request.
pub(crate) struct Selectors {
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
}

impl Selectors {
    pub(crate) fn from_target(t: &Target<'_>) -> Result<Self, StatusError> {
        let labels = LabelSelector::parse(t.query.get("labelSelector").unwrap_or(""))
            .map_err(StatusError::bad_request)?;
        let fields = FieldSelector::parse(
            t.query.get("fieldSelector").unwrap_or(""),
            selectable_fields(&t.res.group, &t.res.kind),
        )
        .map_err(StatusError::bad_request)?;
        Ok(Self { labels, fields })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// Whether stored bytes match (parsed only when there is something to check).
    pub(crate) fn matches(&self, stored: &[u8]) -> bool {
        if self.is_empty() {
            return true;
        }
        let Ok(v) = serde_json::from_slice::<Value>(stored) else {
            return false;
        };
        self.matches_value(&v)
    }

    pub(crate) fn matches_value(&self, v: &Value) -> bool {
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

fn decode_continue(token: &str) -> Result<ContinueToken, StatusError> {
    let bad = || {
        StatusError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
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

/// A page of matching items at one revision.
pub(crate) struct Page {
    pub(crate) items: Vec<PageItem>,
    pub(crate) revision: Revision,
    pub(crate) continue_token: Option<String>,
}

impl RestApi {
    /// Reads matching items under the target's collection at one revision: from the shard's
    /// watch cache when it can answer, else from the backend.
    pub(crate) async fn read_page(
        &self,
        t: &Target<'_>,
        sel: &Selectors,
        limit: usize,
        cont: Option<&str>,
    ) -> Result<Page, StatusError> {
        let backend_revision = list_revision(t)?;
        if let Some((cache, _)) = self.cache_for(t) {
            if let Some(page) = self.read_page_cached(t, cache, sel, limit, cont).await? {
                return Ok(page);
            }
        }
        self.read_page_backend(t, sel, limit, cont, backend_revision)
            .await
    }

    async fn read_page_cached(
        &self,
        t: &Target<'_>,
        cache: &WatchCache,
        sel: &Selectors,
        limit: usize,
        cont: Option<&str>,
    ) -> Result<Option<Page>, StatusError> {
        let prefix = self.collection(t);
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
                let rv = t.query.get("resourceVersion").unwrap_or("");
                if t.query.get("resourceVersionMatch") == Some("Exact") {
                    let exact = rv.parse::<Revision>().unwrap_or(0);
                    match cache.snapshot_at(exact) {
                        Some(o) => (o, exact, None),
                        None => return Ok(None),
                    }
                } else {
                    if !self.cache_fresh(t, cache, freshness(rv)?).await? {
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
        Ok(Some(Page {
            items,
            revision,
            continue_token,
        }))
    }

    /// Reads a page from the backend at `revision` (0: its latest), or at the token's.
    async fn read_page_backend(
        &self,
        t: &Target<'_>,
        sel: &Selectors,
        limit: usize,
        cont: Option<&str>,
        revision: Revision,
    ) -> Result<Page, StatusError> {
        let prefix = self.collection(t);
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
                t.deadline,
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
                        json: object::with_resource_version(&kv.value, kv.mod_revision),
                        key: kv.key,
                    }),
            );
            let Some(k) = last_key.filter(|_| resp.more) else {
                return Ok(Page {
                    items,
                    revision,
                    continue_token: None,
                });
            };
            if limit != 0 && items.len() >= limit {
                let rel = String::from_utf8_lossy(&k[prefix.len().min(k.len())..]).into_owned();
                return Ok(Page {
                    items,
                    revision,
                    continue_token: Some(encode_continue(revision, &rel)),
                });
            }
            start_after = Some(k);
        }
    }

    pub(crate) async fn list(&self, t: &Target<'_>) -> Result<Response<Body>, StatusError> {
        let sel = Selectors::from_target(t)?;
        let limit = match t.query.get("limit") {
            None | Some("") => 0,
            Some(l) => l
                .parse::<i64>()
                .map_err(|_| StatusError::bad_request(format!("invalid limit {l:?}")))?
                .max(0) as usize,
        };
        let page = self
            .read_page(
                t,
                &sel,
                limit,
                t.query.get("continue").filter(|c| !c.is_empty()),
            )
            .await?;
        if t.output != crate::printers::Output::Json {
            let mut meta = serde_json::Map::new();
            meta.insert(
                "resourceVersion".into(),
                Value::String(page.revision.to_string()),
            );
            if let Some(c) = &page.continue_token {
                meta.insert("continue".into(), Value::String(c.clone()));
            }
            let (group, kind) = t.res.printed_as();
            let body = crate::printers::render_list(
                t.output,
                group,
                kind,
                meta,
                page.items.iter().map(|i| i.json.clone()),
            );
            return Ok(response::json(StatusCode::OK, body));
        }
        let mut out = BytesMut::with_capacity(
            128 + page.items.iter().map(|i| i.json.len() + 2).sum::<usize>(),
        );
        out.put_slice(format!("{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\"", t.res.kind, t.res.api_version(), page.revision).as_bytes());
        if let Some(c) = &page.continue_token {
            out.put_slice(format!(",\"continue\":\"{c}\"").as_bytes());
        }
        out.put_slice(b"},\"items\":[");
        for (i, item) in page.items.iter().enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            out.put_slice(&item.json);
        }
        out.put_slice(b"]}");
        Ok(response::json(StatusCode::OK, out.freeze()))
    }

    pub(crate) async fn delete_collection(
        &self,
        t: &Target<'_>,
        body: Vec<u8>,
    ) -> Result<Response<Body>, StatusError> {
        let (opts, policy) = super::write::delete_options(t, &body)?;
        let dry_run = opts.dry_run.iter().any(|d| d == "All");
        let sel = Selectors::from_target(t)?;
        let page = self.read_page(t, &sel, 0, None).await?;
        let mut deleted = Vec::new();
        for item in page.items {
            if dry_run {
                deleted.push(item);
                continue;
            }
            let name = String::from_utf8_lossy(&item.key)
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string();
            match self.delete_one(t, &name, None, policy.clone()).await {
                Ok(_) => deleted.push(item),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let mut out = BytesMut::new();
        out.put_slice(format!("{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{}\"}},\"items\":[", t.res.kind, t.res.api_version(), page.revision).as_bytes());
        for (i, item) in deleted.iter().enumerate() {
            if i > 0 {
                out.put_u8(b',');
            }
            out.put_slice(&item.json);
        }
        out.put_slice(b"]}");
        Ok(response::json(StatusCode::OK, out.freeze()))
    }

    /// Deletes `name` unconditionally or at a mod revision; 404 when it is gone.
    pub(crate) async fn delete_raw(
        &self,
        t: &Target<'_>,
        name: &str,
        pre: Precondition,
    ) -> Result<WriteOutcome, StatusError> {
        storage_call(t.deadline, self.storage.delete(self.key(t, name), pre)).await
    }
}

/// The revision a list reads at: latest for "" / "0" / NotOlderThan, exactly N for Exact.
fn list_revision(t: &Target<'_>) -> Result<Revision, StatusError> {
    let rv = t.query.get("resourceVersion").unwrap_or("");
    let matching = t.query.get("resourceVersionMatch").unwrap_or("");
    let parsed =
        if rv.is_empty() {
            None
        } else {
            Some(rv.parse::<Revision>().map_err(|_| {
                StatusError::bad_request(format!("invalid resource version: {rv:?}"))
            })?)
        };
    match (matching, parsed) {
        ("", _) | ("NotOlderThan", Some(_)) => Ok(0),
        ("Exact", Some(r)) if r > 0 => Ok(r),
        ("Exact", _) | ("NotOlderThan", None) => Err(StatusError::invalid(
            "meta.k8s.io",
            "ListOptions",
            "",
            vec![crate::endpoints::status::StatusCause {
                reason: Some("FieldValueForbidden".into()),
                message: format!("Forbidden: resourceVersionMatch \"{matching}\" is forbidden for resourceVersion \"{rv}\""),
                field: Some("resourceVersionMatch".into()),
            }],
        )),
        (other, _) => Err(StatusError::bad_request(format!("unsupported resourceVersionMatch {other:?}"))),
    }
}

fn expired_continue() -> StatusError {
    StatusError::expired(
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
    )
}
