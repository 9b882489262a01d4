//! The REST verbs over HTTP for every row of the resource table: route a request to its row,
//! turn the URL and query into the Store's typed facts and options, read the body, call the
//! Store, and render its answer (JSON, Table, PartialObjectMetadata, protobuf, watch streams).
//! No object lifecycle lives here: that is `registry::store`.

mod answer;
mod body;
mod component_status;
mod render;
pub mod reviews;

use std::rc::Rc;
use std::time::Duration;

use http::StatusCode;
use hyper::body::Incoming;
use hyper::{Request, Response};
use shards::server::Body;

use self::body::{BodyReader, Failure};
use super::response;
use crate::api::resources::Subresource;
use crate::api::status::Status;
use crate::openapi::validate::Directive;
use crate::printers::Output;
use crate::registry::patch::PatchType;
use crate::registry::resources::Resource;
use crate::registry::store::{
    dry_run, randomized_watch_timeout, DeleteOptions, ListOptions, Listed, RequestFacts, Store,
    Stored,
};
use crate::request::{Query, RequestCtx, RequestInfo};

/// Serves resource requests for one shard.
pub struct RestApi {
    store: Rc<Store>,
    body: BodyReader,
    reviewers: Option<Rc<reviews::Reviewers>>,
    connect: Option<Rc<crate::endpoints::connect::ConnectApi>>,
    /// `--min-request-timeout`; zero: a watch without `timeoutSeconds` lasts the default.
    min_request_timeout: Duration,
}

/// What a resource request addresses: its row and subresource.
pub struct Route {
    /// The resource table's row.
    pub res: Rc<Resource>,
    /// The subresource, if the path names one.
    pub sub: Option<Subresource>,
}

/// One routed request: its row, what it addresses, its query and what reads return.
struct Routed {
    res: Rc<Resource>,
    facts: RequestFacts,
    query: Query,
    /// What reads return (JSON, Table, PartialObjectMetadata), from the Accept header.
    output: Output,
    /// The client accepts only protobuf.
    protobuf: bool,
    /// Who asks.
    user: Rc<crate::request::UserInfo>,
}

/// Marks a response rendered whole by its verb (version conversion and encoding included),
/// so the answer rewrite passes it on.
#[derive(Clone, Copy)]
struct Rendered;

impl RestApi {
    /// The API over `store`, reading bodies up to `max_body` bytes.
    pub fn new(store: Rc<Store>, max_body: usize) -> Self {
        Self {
            store,
            body: BodyReader { max_body },
            reviewers: None,
            connect: None,
            min_request_timeout: Duration::ZERO,
        }
    }

    /// Watches without `timeoutSeconds` last `min` times a random factor in [1, 2), as
    /// upstream's `--min-request-timeout`.
    pub fn with_min_request_timeout(mut self, min: Duration) -> Self {
        self.min_request_timeout = min;
        self
    }

    /// Forwards the connect subresources (log, exec, attach, portforward, proxy) with `connect`.
    pub fn with_connect(mut self, connect: Rc<crate::endpoints::connect::ConnectApi>) -> Self {
        self.connect = Some(connect);
        self
    }

    /// Answers the review resources and TokenRequests with `reviewers`.
    pub fn with_reviewers(mut self, reviewers: Rc<reviews::Reviewers>) -> Self {
        self.reviewers = Some(reviewers);
        self
    }

    /// The row (and subresource) a resource request addresses, or None when nothing matches
    /// (the chain continues): the route upstream's installer would have registered.
    pub fn route(&self, info: &RequestInfo) -> Option<Route> {
        if !info.is_resource_request {
            return None;
        }
        let res = self
            .store
            .table()
            .get(&info.api_group, &info.api_version, &info.resource)?;
        let sub = match info.subresource.as_str() {
            "" => None,
            s => Some(res.api.subresource(s)?),
        };
        let scope_ok = if res.api.namespaced {
            !info.namespace.is_empty() || matches!(info.verb.as_str(), "list" | "watch")
        } else {
            info.namespace.is_empty()
        };
        scope_ok.then_some(Route { res, sub })
    }

    /// Answers a resource request on its route.
    pub async fn serve(
        &self,
        req: Request<Incoming>,
        ctx: &RequestCtx,
        route: Route,
    ) -> Response<Body> {
        let info = &ctx.info;
        let Route { res, sub } = route;
        let ns_given = !info.namespace.is_empty();
        let verb = info.verb.as_str();
        let allowed = match sub {
            None => res.api.allows(verb),
            Some(s) => s.verbs().contains(&verb),
        };
        if !allowed {
            return response::status(&Status::method_not_supported(
                res.api.group,
                res.api.plural,
                verb,
            ));
        }
        let accept = req
            .headers()
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let protobuf = crate::codec::protobuf::accepts_only_protobuf(accept);
        let query = Query::parse(req.uri().query());
        let output = if matches!(verb, "get" | "list" | "watch") && sub.is_none() && !protobuf {
            match crate::printers::negotiate(accept, query.get("includeObject")) {
                Ok(o) => o,
                Err(e) => return response::status(&e),
            }
        } else {
            Output::Json
        };
        let options_kind = match verb {
            "create" => Some("CreateOptions"),
            "update" => Some("UpdateOptions"),
            "patch" => Some("PatchOptions"),
            _ => None,
        };
        let (field_validation, dry_run) = match options_kind {
            Some(kind) => match Directive::parse(query.get("fieldValidation"))
                .and_then(|d| Ok((d, dry_run(&query, kind)?)))
            {
                Ok(v) => v,
                Err(e) => return response::status(&e),
            },
            // Deletes read dryRun with their DeleteOptions; reads have none.
            None => (Directive::Warn, false),
        };
        let field_manager = query.get("fieldManager");
        if let Some(kind) = options_kind {
            let apply = verb == "patch"
                && PatchType::from_content_type(&body::content_type(&req))
                    .is_ok_and(|t| t == PatchType::Apply);
            let errs =
                field_manager_errors(field_manager, query.get("force").is_some(), apply, verb);
            if !errs.is_empty() {
                return response::status(&Status::invalid("meta.k8s.io", kind, "", errs));
            }
        }
        let user_agent = req
            .headers()
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let facts = RequestFacts {
            user: Rc::clone(&ctx.user),
            namespace: (res.api.namespaced && ns_given).then(|| info.namespace.clone()),
            name: info.name.clone(),
            subresource: sub,
            dry_run,
            // Only writes have a manager (reads skip the allocation).
            field_manager: options_kind
                .map(|_| crate::registry::fieldmanager::manager_name(field_manager, user_agent)),
            force: query.flag("force"),
            field_validation,
            deadline: ctx.deadline,
            audit_annotations: req
                .extensions()
                .get::<crate::registry::store::AuditAnnotations>()
                .cloned(),
            warnings: crate::registry::store::Warnings::default(),
        };
        let conversion = res.conversion;
        let routed = Routed {
            res,
            facts,
            query,
            output,
            protobuf,
            user: Rc::clone(&ctx.user),
        };
        let resp = self
            .dispatch(verb, req, &routed)
            .await
            .unwrap_or_else(Failure::respond);
        // Admission's warnings go out whether the request succeeded or not.
        let resp = response::with_warnings(resp, &routed.facts.warnings.take());
        let rewrite = answer::Rewrite {
            conversion: conversion.filter(|_| resp.status().is_success()),
            protobuf,
        };
        if rewrite.is_identity() || resp.extensions().get::<Rendered>().is_some() {
            return resp;
        }
        let stream = verb == "watch" && resp.status().is_success();
        answer::rewrite(resp, stream, rewrite).await
    }

    async fn dispatch(
        &self,
        verb: &str,
        req: Request<Incoming>,
        r: &Routed,
    ) -> Result<Response<Body>, Failure> {
        let store = &self.store;
        let (res, facts) = (&*r.res, &r.facts);
        let scale = facts.subresource == Some(Subresource::Scale);
        let token = facts.subresource == Some(Subresource::Token);
        if let Some(sub) = facts.subresource.filter(|s| s.is_connect()) {
            let Some(connect) = &self.connect else {
                return Err(
                    Status::method_not_supported(res.api.group, res.api.plural, verb).into(),
                );
            };
            return Ok(connect
                .serve(req, res, sub, facts, &r.query)
                .await
                .unwrap_or_else(|e| response::status(&e)));
        }
        let bindings = res.api.group.is_empty() && res.api.plural == "bindings";
        if verb == "create"
            && (bindings
                || matches!(
                    facts.subresource,
                    Some(Subresource::Binding | Subresource::Eviction)
                ))
        {
            return self.pod_action(req, res, facts).await;
        }
        if res.api.group.is_empty() && res.api.plural == "componentstatuses" {
            return Ok(component_status::serve(store, r, verb));
        }
        if (!res.api.stored || token) && verb == "create" {
            let Some(reviewers) = &self.reviewers else {
                return Err(
                    Status::method_not_supported(res.api.group, res.api.plural, verb).into(),
                );
            };
            let body = self.body.json(req).await?;
            let answered = if token {
                reviewers.token_request(store, res, facts, &body).await?
            } else {
                reviewers
                    .create(res, &r.user, facts.namespace.as_deref(), &body)
                    .await?
            };
            return Ok(response::json(StatusCode::CREATED, answered));
        }
        match verb {
            "get" if scale => store
                .get_scale(res, facts)
                .await
                .map(stored)
                .map_err(Failure::from),
            "update" if scale => {
                let body = self.body.json(req).await?;
                store
                    .update_scale(res, facts, &body)
                    .await
                    .map(stored)
                    .map_err(Failure::from)
            }
            "patch" => {
                let patch_type = PatchType::from_content_type(&body::content_type(&req))?;
                let body = self.body.raw(req).await?;
                store
                    .patch(res, facts, patch_type, &body)
                    .await
                    .map(stored)
                    .map_err(Failure::from)
            }
            "get" => {
                let rv = r.query.get("resourceVersion").unwrap_or_default();
                let got = store.get(res, facts, rv).await?;
                Ok(response::json(
                    StatusCode::OK,
                    render::one(r.output, res, &got.body),
                ))
            }
            "list" => {
                let opts = ListOptions::from_query(&r.query)?;
                let listed = store.list(res, facts, &opts).await?;
                self.list_answer(r, listed)
            }
            "watch" => {
                let mut opts = ListOptions::from_query(&r.query)?;
                if opts.watch_timeout.is_none() && !self.min_request_timeout.is_zero() {
                    opts.watch_timeout = Some(randomized_watch_timeout(self.min_request_timeout));
                }
                let lines = store.watch(res, facts, &opts).await?;
                Ok(render::watch(r.output, &r.res, lines))
            }
            "create" if facts.subresource.is_none() => {
                let body = self.body.json(req).await?;
                store
                    .create(res, facts, body)
                    .await
                    .map(stored)
                    .map_err(Failure::from)
            }
            "update" => {
                let body = self.body.json(req).await?;
                store
                    .update(res, facts, body)
                    .await
                    .map(stored)
                    .map_err(Failure::from)
            }
            "delete" if facts.subresource.is_none() => {
                let body = self.body.json(req).await?;
                let opts = DeleteOptions::parse(&body, &r.query)?;
                store
                    .delete(res, facts, &opts)
                    .await
                    .map(stored)
                    .map_err(Failure::from)
            }
            "deletecollection" if facts.subresource.is_none() => {
                let body = self.body.json(req).await?;
                let opts = DeleteOptions::parse(&body, &r.query)?;
                let list = ListOptions::from_query(&r.query)?;
                let deleted = store.delete_collection(res, facts, &list, &opts).await?;
                self.list_answer(r, deleted)
            }
            _ => Err(Status::method_not_supported(res.api.group, res.api.plural, verb).into()),
        }
    }
}

impl RestApi {
    /// `pods/binding`, `bindings` and `pods/eviction`: writes the Store makes on a Pod's
    /// behalf, answered with a bare Success.
    async fn pod_action(
        &self,
        req: Request<Incoming>,
        res: &Resource,
        facts: &RequestFacts,
    ) -> Result<Response<Body>, Failure> {
        let table = self.store.table();
        let pods = table
            .get("", "v1", "pods")
            .ok_or_else(|| Status::method_not_supported(res.api.group, res.api.plural, "create"))?;
        let body = self.body.json(req).await?;
        let done = if facts.subresource == Some(Subresource::Eviction) {
            let budgets = table
                .get("policy", "v1", "poddisruptionbudgets")
                .ok_or_else(|| {
                    Status::method_not_supported(res.api.group, res.api.plural, "create")
                })?;
            self.store.evict(&pods, &budgets, facts, &body).await?
        } else {
            self.store.bind(&pods, facts, &body).await?
        };
        Ok(stored(done))
    }

    /// A list's answer: printed (Table, metadata) whole, else streamed item by item.
    fn list_answer(&self, r: &Routed, listed: Listed) -> Result<Response<Body>, Failure> {
        if r.output != Output::Json {
            let body = render::printed_list(r.output, &r.res, &listed);
            return Ok(response::json(StatusCode::OK, body));
        }
        let mut resp = render::streamed_list(&r.res, listed, r.protobuf)?;
        resp.extensions_mut().insert(Rendered);
        Ok(resp)
    }
}

/// The response for an answer carrying one object.
fn stored(s: Stored) -> Response<Body> {
    let code = StatusCode::from_u16(s.code).unwrap_or(StatusCode::OK);
    response::with_warnings(response::json(code, s.body), &s.warnings)
}

/// upstream's checks of `fieldManager` and `force` (`ValidatePatchOptions` and
/// `ValidateFieldManager`): at most 128 bytes of printable characters, required by an
/// apply, and `force` only with an apply.
fn field_manager_errors(
    manager: Option<&str>,
    force_given: bool,
    apply: bool,
    verb: &str,
) -> Vec<crate::api::status::StatusCause> {
    use crate::api::validation::FieldError;
    let mut errs = Vec::new();
    let m = manager.unwrap_or_default();
    if verb == "patch" && !apply && force_given {
        errs.push(FieldError::forbidden(
            "force",
            "may not be specified for non-apply patch",
        ));
    }
    if apply && m.is_empty() {
        errs.push(FieldError::required(
            "fieldManager",
            "is required for apply patch",
        ));
    }
    if m.len() > crate::registry::fieldmanager::MAX_MANAGER_LENGTH {
        errs.push(FieldError::too_long(
            "fieldManager",
            crate::registry::fieldmanager::MAX_MANAGER_LENGTH,
        ));
    }
    for (i, c) in m.char_indices() {
        if c.is_control() || (c.is_whitespace() && c != ' ') {
            errs.push(FieldError::invalid(
                "fieldManager",
                m,
                format!("invalid character U+{:04X} (at position {i})", u32::from(c)),
            ));
        }
    }
    errs.into_iter().map(|e| e.cause()).collect()
}
