//! The server chain: aggregator -> core API -> apiextensions -> not found. Each delegate answers
//! or passes the request on, as upstream's chain does. Today the core delegate serves the
//! non-resource endpoints (health, version); the API groups arrive with the REST API issue.

use std::cell::Cell;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use shards::server::Body;

use super::discovery::Discovery;
use super::health::Health;
use super::version::VersionInfo;
use crate::api::status::Status;
use crate::endpoints::rest::RestApi;
use crate::endpoints::{compression, response};
use crate::filters::max_in_flight::InFlightLimits;
use crate::metrics::exposition::Format;
use crate::metrics::labels::APISERVER;
use crate::metrics::RequestLabels;
use crate::request::{RequestCtx, RequestInfo};
use crate::storage::cache::CacheMetrics;

/// The end of the filter chain on one shard.
pub struct ServerChain {
    health: Health,
    discovery: Discovery,
    rest: RestApi,
    version_json: Bytes,
    cache_metrics: Option<Arc<CacheMetrics>>,
    in_flight_limits: Option<&'static InFlightLimits>,
    flow_dispatcher: Option<&'static crate::flowcontrol::dispatch::Dispatcher>,
    audit: Option<crate::audit::Sink>,
    issuer: Option<super::oidc::IssuerDiscovery>,
    storage: Option<(crate::storage::thread::StorageClient, String)>,
    replica: Option<crate::storage::cache::WatchCache>,
}

impl ServerChain {
    /// The chain with its health checks.
    pub fn new(health: Health, discovery: Discovery, rest: RestApi) -> Self {
        Self {
            health,
            discovery,
            rest,
            version_json: Bytes::from(VersionInfo::current().to_json()),
            cache_metrics: None,
            in_flight_limits: None,
            flow_dispatcher: None,
            audit: None,
            issuer: None,
            storage: None,
            replica: None,
        }
    }

    /// Serves ServiceAccount issuer discovery.
    pub fn with_issuer_discovery(mut self, d: super::oidc::IssuerDiscovery) -> Self {
        self.issuer = Some(d);
        self
    }

    /// APF's levels, read at each scrape.
    pub fn with_flow_dispatcher(
        mut self,
        d: Option<&'static crate::flowcontrol::dispatch::Dispatcher>,
    ) -> Self {
        self.flow_dispatcher = d;
        self
    }

    /// Serves the max-in-flight seats in use at `/metrics`.
    pub fn with_in_flight_limits(mut self, l: &'static InFlightLimits) -> Self {
        self.in_flight_limits = Some(l);
        self
    }

    /// Serves the audit backend's counters at `/metrics`.
    pub fn with_audit(mut self, sink: Option<crate::audit::Sink>) -> Self {
        self.audit = sink;
        self
    }

    /// Serves the storage thread's timings and the shard replica's object counts at
    /// `/metrics` (keys under `prefix`).
    pub fn with_storage(
        mut self,
        storage: crate::storage::thread::StorageClient,
        prefix: &str,
        replica: Option<crate::storage::cache::WatchCache>,
    ) -> Self {
        self.storage = Some((storage, prefix.to_string()));
        self.replica = replica;
        self
    }

    /// Serves the watch cache's counters at `/metrics`.
    pub fn with_cache_metrics(mut self, m: Option<Arc<CacheMetrics>>) -> Self {
        self.cache_metrics = m;
        self
    }

    /// Serves a request that passed the filters; large answers are gzipped for clients that
    /// ask (upstream's APIResponseCompression). The routes upstream instruments (resource
    /// routes, health checks, discovery) are recorded in this shard's metrics; their labels
    /// are also left in `labels` (for the timeout filter, should it answer instead).
    pub async fn serve(
        &self,
        req: Request<Incoming>,
        ctx: RequestCtx,
        labels: &Cell<Option<RequestLabels>>,
    ) -> Response<Body> {
        let gzip = compression::accepts_gzip(req.headers().get(http::header::ACCEPT_ENCODING));
        let (started, long_running) = (ctx.received, ctx.info.is_long_running());
        let (resp, recorded) = self.answer(req, ctx, labels).await;
        let resp = compression::gzip_if_accepted(gzip, resp);
        match recorded {
            Some((l, kind)) => super::instrument::answered(l, kind, started, long_running, resp),
            None => resp,
        }
    }

    /// The metric labels of a request, when it addresses a route that is recorded (for the
    /// filters that answer before the route runs: 429s and 504s).
    pub fn labels_for(
        &self,
        method: &Method,
        info: &RequestInfo,
        query: Option<&str>,
        apply_patch: bool,
    ) -> Option<RequestLabels> {
        let route = self.rest.route(info)?;
        Some(RequestLabels::of_resource(
            method,
            info,
            query,
            apply_patch,
            &route.res.api,
            route.sub.map_or("", |s| s.name()),
        ))
    }

    async fn answer(
        &self,
        req: Request<Incoming>,
        ctx: RequestCtx,
        slot: &Cell<Option<RequestLabels>>,
    ) -> (Response<Body>, Option<(RequestLabels, &'static str)>) {
        if ctx.info.is_resource_request {
            let Some(route) = self.rest.route(&ctx.info) else {
                return (response::status(&Status::path_not_found()), None);
            };
            let labels = RequestLabels::of_resource(
                req.method(),
                &ctx.info,
                req.uri().query(),
                crate::metrics::labels::is_apply_patch(req.headers()),
                &route.res.api,
                route.sub.map_or("", |s| s.name()),
            );
            let kind = route.res.api.kind;
            slot.set(Some(labels));
            return (
                self.rest.serve(req, &ctx, route).await,
                Some((labels, kind)),
            );
        }
        let labels = instrumented_handler(req.uri().path()).map(|l| (l, ""));
        (self.answer_non_resource(req).await, labels)
    }

    async fn answer_non_resource(&self, req: Request<Incoming>) -> Response<Body> {
        if let Some(r) = self.discovery.serve(&req) {
            return r;
        }
        if let Some(r) = self.issuer.as_ref().and_then(|d| d.serve(&req)) {
            return r;
        }
        if let Some(r) = super::openapi::serve(&req) {
            return r;
        }
        let path = req.uri().path();
        if let Some(r) = self.health.serve(path, req.uri().query()) {
            return r;
        }
        if (path == "/version" || path == "/version/")
            && (req.method() == Method::GET || req.method() == Method::HEAD)
        {
            return response::json(StatusCode::OK, self.version_json.clone());
        }
        if path == "/metrics" && req.method() == Method::GET {
            let accept = req
                .headers()
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let format = Format::negotiate(accept);
            let replica = self.replica.as_ref();
            let sources = super::metrics::Sources {
                cache: self.cache_metrics.as_deref(),
                limits: self.in_flight_limits,
                audit: self.audit.as_ref().map(crate::audit::Sink::counters),
                flow: self.flow_dispatcher,
                replica: replica.zip(self.storage.as_ref().map(|(_, p)| p.as_str())),
                storage: self.storage.as_ref().map(|(s, _)| s),
            };
            let text = super::metrics::render(format, &sources);
            let mut r = Response::new(shards::server::body(http_body_util::Full::new(
                Bytes::from(text),
            )));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(format.content_type()),
            );
            return r;
        }
        response::status(&Status::path_not_found())
    }
}

/// The non-resource handlers upstream instruments: the health checks (component "") and
/// discovery (component `apiserver`), each labelled with its path.
fn instrumented_handler(path: &str) -> Option<RequestLabels> {
    let (path, component) = match path {
        "/healthz" => ("/healthz", ""),
        "/livez" => ("/livez", ""),
        "/readyz" => ("/readyz", ""),
        "/api" => ("/api", APISERVER),
        "/apis" => ("/apis", APISERVER),
        _ => return None,
    };
    Some(RequestLabels::of_handler(path, component))
}
