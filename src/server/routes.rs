//! The server chain: aggregator -> core API -> apiextensions -> not found. Each delegate answers
//! or passes the request on, as upstream's chain does. Today the core delegate serves the
//! non-resource endpoints (health, version); the API groups arrive with the REST API issue.

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
use crate::request::RequestCtx;
use crate::storage::cache::CacheMetrics;

/// The end of the filter chain on one shard.
pub struct ServerChain {
    health: Health,
    discovery: Discovery,
    rest: RestApi,
    version_json: Bytes,
    cache_metrics: Option<Arc<CacheMetrics>>,
    in_flight_limits: Option<&'static InFlightLimits>,
    issuer: Option<super::oidc::IssuerDiscovery>,
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
            issuer: None,
        }
    }

    /// Serves ServiceAccount issuer discovery.
    pub fn with_issuer_discovery(mut self, d: super::oidc::IssuerDiscovery) -> Self {
        self.issuer = Some(d);
        self
    }

    /// Serves the max-in-flight seats in use at `/metrics`.
    pub fn with_in_flight_limits(mut self, l: &'static InFlightLimits) -> Self {
        self.in_flight_limits = Some(l);
        self
    }

    /// Serves the watch cache's counters at `/metrics`.
    pub fn with_cache_metrics(mut self, m: Option<Arc<CacheMetrics>>) -> Self {
        self.cache_metrics = m;
        self
    }

    /// Serves a request that passed the filters; large answers are gzipped for clients that
    /// ask (upstream's APIResponseCompression).
    pub async fn serve(&self, req: Request<Incoming>, ctx: RequestCtx) -> Response<Body> {
        let gzip = compression::accepts_gzip(req.headers().get(http::header::ACCEPT_ENCODING));
        let resp = self.answer(req, ctx).await;
        compression::gzip_if_accepted(gzip, resp)
    }

    async fn answer(&self, req: Request<Incoming>, ctx: RequestCtx) -> Response<Body> {
        if ctx.info.is_resource_request {
            return match self.rest.serve(req, &ctx).await {
                Some(r) => r,
                None => response::status(&Status::path_not_found()),
            };
        }
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
            let text = super::metrics::render(self.cache_metrics.as_deref(), self.in_flight_limits);
            let mut r = Response::new(shards::server::body(http_body_util::Full::new(
                Bytes::from(text),
            )));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            return r;
        }
        response::status(&Status::path_not_found())
    }
}
