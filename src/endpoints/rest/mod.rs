//! The REST verbs for every resource in the table: get, list, watch, create, update, delete,
//! deletecollection, on the main resource and its `status` subresource. Routes come from the
//! table, not from code per resource.

mod answer;
mod cached;
mod cluster_ip;
mod list;
mod node_ports;
pub mod object;
mod patch;

pub use list::selectable_fields;
mod scale;
mod watch;
mod watch_cache;
mod write;

use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use shards::server::Body;
use shards::signal::Signal;

use super::{response, status::StatusError};
use crate::registry::keys;
use crate::registry::strategy::Resource;
use crate::request::info::url_pairs;
use crate::request::RequestCtx;
use crate::storage::cache::WatchCache;
use crate::storage::kv::StorageError;
use crate::storage::thread::StorageClient;

/// Serves resource requests for one shard.
pub struct RestApi {
    resources: HashMap<(String, String, String), Rc<Resource>>,
    storage: StorageClient,
    prefix: String,
    max_body: usize,
    stopping: Arc<Signal>,
    /// The shard's watch cache replica; None: every read goes to the backend.
    cache: Option<WatchCache>,
    /// Each cached resource's ring in the replica, by key segment (found once, not per read).
    cache_slots: HashMap<String, usize>,
    /// Cluster IPs for Services created on this shard.
    service_ips: Option<crate::registry::service_ips::ServiceIps>,
}

/// Query parameters of a resource request, as given.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Self(url_pairs(q.unwrap_or("")).collect())
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("1" | "true" | "True"))
    }

    pub(crate) fn dry_run(&self) -> bool {
        self.0.iter().any(|(k, v)| k == "dryRun" && v == "All")
    }
}

/// One request's view of what it addresses.
pub(crate) struct Target<'a> {
    pub(crate) res: &'a Resource,
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    pub(crate) subresource: String,
    pub(crate) query: Query,
    pub(crate) deadline: Instant,
    /// What reads return (JSON, Table, PartialObjectMetadata), from the Accept header.
    pub(crate) output: crate::printers::Output,
}

impl RestApi {
    /// The API over `resources`, storing under `prefix` (e.g. `/registry`).
    pub fn new(
        resources: Vec<Resource>,
        storage: StorageClient,
        prefix: String,
        max_body: usize,
        stopping: Arc<Signal>,
        cache: Option<WatchCache>,
    ) -> Self {
        let cache_slots = match &cache {
            Some(c) => resources
                .iter()
                .filter_map(|r| {
                    let root = keys::collection_prefix(&prefix, &r.key_segment, None);
                    let slot = c.resource_index(root.as_bytes())?;
                    Some((r.key_segment.clone(), slot))
                })
                .collect(),
            None => HashMap::new(),
        };
        let resources = resources
            .into_iter()
            .map(|r| {
                (
                    (r.group.clone(), r.version.clone(), r.plural.clone()),
                    Rc::new(r),
                )
            })
            .collect();
        Self {
            resources,
            storage,
            prefix,
            max_body,
            stopping,
            cache_slots,
            cache,
            service_ips: None,
        }
    }

    /// Allocates Service cluster IPs with `ips`.
    pub fn with_service_ips(mut self, ips: crate::registry::service_ips::ServiceIps) -> Self {
        self.service_ips = Some(ips);
        self
    }

    /// Answers a resource request, or None when no resource matches (the chain continues).
    pub async fn serve(&self, req: Request<Incoming>, ctx: &RequestCtx) -> Option<Response<Body>> {
        let info = &ctx.info;
        if !info.is_resource_request {
            return None;
        }
        let res = self.resources.get(&(
            info.api_group.clone(),
            info.api_version.clone(),
            info.resource.clone(),
        ))?;
        let sub = info.subresource.as_str();
        if !sub.is_empty() && !res.subresources.iter().any(|s| s == sub) {
            return None;
        }
        let ns_given = !info.namespace.is_empty();
        let scope_ok = if res.namespaced {
            ns_given || matches!(info.verb.as_str(), "list" | "watch")
        } else {
            !ns_given
        };
        if !scope_ok {
            return None;
        }
        let accept = req
            .headers()
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let protobuf = crate::codec::protobuf::accepts_only_protobuf(accept);
        let output = if matches!(info.verb.as_str(), "get" | "list" | "watch")
            && sub.is_empty()
            && !protobuf
        {
            let q = Query::parse(req.uri().query());
            match crate::printers::negotiate(accept, q.get("includeObject")) {
                Ok(o) => o,
                Err(e) => return Some(response::status(&e)),
            }
        } else {
            crate::printers::Output::Json
        };
        let target = Target {
            output,
            res,
            namespace: (res.namespaced && !info.namespace.is_empty())
                .then(|| info.namespace.clone()),
            name: info.name.clone(),
            subresource: sub.to_string(),
            query: Query::parse(req.uri().query()),
            deadline: ctx.deadline,
        };
        let verb = info.verb.as_str();
        let allowed = if sub.is_empty() {
            res.allows(verb)
        } else if sub == "finalize" {
            verb == "update"
        } else {
            matches!(verb, "get" | "update" | "patch")
        };
        if !allowed {
            return Some(response::status(&StatusError::method_not_supported(
                &res.group,
                &res.plural,
                verb,
            )));
        }
        let result = match verb {
            "get" if sub == "scale" => self.get_scale(&target).await,
            "update" if sub == "scale" => match self.body(req).await {
                Ok(b) => self.update_scale(&target, b).await,
                Err(e) => Err(e),
            },
            "patch" => {
                let ct = content_type(&req);
                match self.raw_body(req).await {
                    Ok(b) => self.patch(&target, &ct, b).await,
                    Err(e) => Err(e),
                }
            }
            "get" => self.get(&target).await,
            "list" => self.list(&target).await,
            "watch" => self.watch(&target).await,
            "create" if sub.is_empty() => match self.body(req).await {
                Ok(b) => self.create(&target, b).await,
                Err(e) => Err(e),
            },
            "update" if sub == "finalize" => match self.body(req).await {
                Ok(b) => self.finalize(&target, b).await,
                Err(e) => Err(e),
            },
            "update" => match self.body(req).await {
                Ok(b) => self.update(&target, b).await,
                Err(e) => Err(e),
            },
            "delete" if sub.is_empty() => match self.optional_body(req).await {
                Ok(b) => self.delete(&target, b).await,
                Err(e) => Err(e),
            },
            "deletecollection" if sub.is_empty() => match self.optional_body(req).await {
                Ok(b) => self.delete_collection(&target, b).await,
                Err(e) => Err(e),
            },
            _ => Err(StatusError::method_not_supported(
                &res.group,
                &res.plural,
                verb,
            )),
        };
        let resp = result.unwrap_or_else(|e| response::status(&e));
        let rewrite = answer::Rewrite {
            conversion: res.conversion.filter(|_| resp.status().is_success()),
            protobuf,
        };
        if rewrite.is_identity() {
            return Some(resp);
        }
        let stream = verb == "watch" && resp.status().is_success();
        Some(answer::rewrite(resp, stream, rewrite).await)
    }

    /// Reads a JSON request body, bounded by the body limit.
    async fn body(&self, req: Request<Incoming>) -> Result<Vec<u8>, StatusError> {
        let ct = content_type(&req);
        let media = crate::endpoints::response::media_type(&ct);
        if media == crate::codec::protobuf::MEDIA_TYPE {
            let raw = self.raw_body(req).await?;
            if raw.is_empty() {
                return Ok(raw);
            }
            let obj = crate::codec::protobuf::to_json(&raw).map_err(|e| {
                StatusError::bad_request(format!(
                    "the body of the request could not be decoded: {}",
                    e.0
                ))
            })?;
            return serde_json::to_vec(&obj)
                .map_err(|e| StatusError::internal(format!("encoding: {e}")));
        }
        if !(media.is_empty() || media == "application/json" || media == "*/*") {
            return Err(StatusError::unsupported_media_type(&ct));
        }
        self.raw_body(req).await
    }

    /// Reads a request body of any type, bounded by the body limit.
    async fn raw_body(&self, req: Request<Incoming>) -> Result<Vec<u8>, StatusError> {
        let limited = http_body_util::Limited::new(req.into_body(), self.max_body);
        match limited.collect().await {
            Ok(c) => Ok(c.to_bytes().to_vec()),
            Err(e)
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                Err(StatusError::too_large(self.max_body))
            }
            Err(e) => Err(StatusError::bad_request(format!(
                "error reading the request body: {e}"
            ))),
        }
    }

    async fn optional_body(&self, req: Request<Incoming>) -> Result<Vec<u8>, StatusError> {
        let b = self.body(req).await?;
        Ok(b)
    }

    fn key(&self, t: &Target<'_>, name: &str) -> Bytes {
        Bytes::from(keys::object_key(
            &self.prefix,
            &t.res.key_segment,
            t.namespace.as_deref(),
            name,
        ))
    }

    fn collection(&self, t: &Target<'_>) -> String {
        keys::collection_prefix(&self.prefix, &t.res.key_segment, t.namespace.as_deref())
    }

    async fn get(&self, t: &Target<'_>) -> Result<Response<Body>, StatusError> {
        let key = self.key(t, &t.name);
        if let Some((cache, _)) = self.cache_for(t) {
            let want = cached::freshness(t.query.get("resourceVersion").unwrap_or(""))?;
            if self.cache_fresh(t, cache, want).await? {
                let (obj, _) = cache.get(&key);
                let obj = obj
                    .ok_or_else(|| StatusError::not_found(&t.res.group, &t.res.plural, &t.name))?;
                return Ok(response::json(StatusCode::OK, render_one(t, &obj.json)));
            }
        }
        let (kv, _) = storage_call(t.deadline, self.storage.get(key, 0)).await?;
        let kv = kv.ok_or_else(|| StatusError::not_found(&t.res.group, &t.res.plural, &t.name))?;
        let json = object::with_resource_version(&kv.value, kv.mod_revision);
        Ok(response::json(StatusCode::OK, render_one(t, &json)))
    }
}

/// The object as the client asked for it (itself, a Table, or its metadata).
fn render_one(t: &Target<'_>, json: &Bytes) -> Bytes {
    match t.output {
        crate::printers::Output::Json => json.clone(),
        out => {
            let (group, kind) = t.res.printed_as();
            crate::printers::render_one(out, group, kind, json)
        }
    }
}

/// The request's Content-Type (JSON when absent).
fn content_type(req: &Request<Incoming>) -> String {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string()
}

/// Runs a storage call bounded by the request's deadline; storage errors become Statuses.
pub(crate) async fn storage_call<T>(
    deadline: Instant,
    fut: impl Future<Output = Result<T, StorageError>>,
) -> Result<T, StatusError> {
    let left = deadline.saturating_duration_since(Instant::now());
    let raced = futures_lite::future::or(async { Some(fut.await) }, async {
        shards::sleep(left).await;
        None
    })
    .await;
    match raced {
        None => Err(StatusError::timeout()),
        Some(r) => r.map_err(storage_status),
    }
}

/// How a storage error reaches the client.
pub(crate) fn storage_status(e: StorageError) -> StatusError {
    match e {
        StorageError::Compacted {
            requested,
            compacted,
        } => StatusError::expired(format!(
            "too old resource version: {requested} ({compacted})"
        )),
        StorageError::FutureRevision { requested, current } => {
            let mut s = StatusError::new(
                504,
                "Timeout",
                format!("Too large resource version: {requested}, current: {current}"),
            );
            s.details.retry_after_seconds = Some(1);
            s
        }
        StorageError::Unavailable(m) => StatusError::unavailable(m),
        other => StatusError::internal(other),
    }
}
