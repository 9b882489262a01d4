//! The filter chain, written in the order it runs (kube-apiserver's `DefaultBuildHandlerChain`,
//! read top to bottom):
//!
//! 1. panic recovery: a panic below answers 500 for this request; the shard keeps serving
//! 2. request info: verb, group, version, namespace, resource, name from the path
//! 3. authentication: the user from a client certificate or bearer token, else anonymous
//!    (401 for a credential that fails)
//! 4. audit: the policy's level for the request; its event at each stage (`filters::audit`)
//! 5. impersonation: `Impersonate-*` headers, each part authorized (`impersonate`)
//! 6. API Priority and Fairness (`priority_and_fairness`): the FlowSchema and priority level,
//!    seats or a queue, 429 when refused; with `--enable-priority-and-fairness=false`,
//!    max-in-flight instead: `--max-requests-inflight` / `--max-mutating-requests-inflight`
//!    across the process, 429 beyond them
//! 7. authorization: the `--authorization-mode` chain (403 unless allowed)
//! 8. retry-after: during graceful termination with `--shutdown-send-retry-after`, 429
//! 9. in-flight wait group: counts non-long-running requests so a drain can wait for them
//! 10. timeout: a non-long-running request unanswered after `--request-timeout` gets a 504
//! 11. the server chain (`server::routes`): aggregator -> core -> apiextensions -> not found

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderValue;
use hyper::body::Incoming;
use hyper::{Request, Response};
use shards::gate::Gate;
use shards::server::{Body, ConnInfo, Handler};

use super::audit::{self, AuditRecord};
use super::max_in_flight::InFlightLimits;
use super::{
    authentication, authorization, impersonation, in_flight, panic_recovery, priority_and_fairness,
    retry_after,
};
use crate::authn::Authentication;
use crate::authz::AuthorizerChain;
use crate::request::{RequestCtx, RequestInfo, UserInfo};
use crate::server::lifecycle::Lifecycle;
use crate::server::routes::ServerChain;

/// What the chain needs on one shard.
pub struct ChainState {
    /// The process-wide lifecycle signals.
    pub lifecycle: Arc<Lifecycle>,
    /// Counts this shard's in-flight non-long-running requests.
    pub in_flight: Gate,
    /// The process-wide max-in-flight limits (with APF: only counted).
    pub limits: &'static InFlightLimits,
    /// API Priority and Fairness, unless `--enable-priority-and-fairness=false`.
    pub flow_control: Option<Rc<crate::flowcontrol::ShardFlowControl>>,
    /// `--request-timeout`.
    pub request_timeout: Duration,
    /// `--shutdown-send-retry-after`.
    pub send_retry_after: bool,
    /// Who requests come from.
    pub authn: Rc<Authentication>,
    /// `--audit-policy-file` and its backend, when auditing.
    pub auditing: Option<Rc<crate::audit::ShardAuditing>>,
    /// What they may do.
    pub authz: Rc<AuthorizerChain>,
    /// The server chain the filters end in.
    pub server: ServerChain,
}

/// Builds the shard's request handler.
pub struct HandlerChain;

impl HandlerChain {
    /// The handler for one shard: every request runs the filters above, in order.
    pub fn build(state: Rc<ChainState>) -> Handler {
        Rc::new(move |req, conn| Box::pin(handle(Rc::clone(&state), req, conn)))
    }
}

async fn handle(
    state: Rc<ChainState>,
    req: Request<Incoming>,
    conn: Rc<ConnInfo>,
) -> Response<Body> {
    let received = Instant::now();
    let http_log = crate::logs::enabled(3).then(|| RequestLog::of(&req, &conn));
    // A version 4 UUID from the thread's fast generator (not a getrandom call per request):
    // audit ids must be unique, not secret.
    let audit_id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes())
        .into_uuid()
        .to_string();
    let ctx_audit_id = audit_id.clone();
    let path = req.uri().path().to_string();
    let mut resp = panic_recovery::recover(&path, async move {
        let mut req = req;
        let info = Rc::new(RequestInfo::resolve(
            req.method(),
            req.uri().path(),
            req.uri().query(),
        ));
        let auditing = state.auditing.as_ref();
        let user = match authentication::authenticate(&state.authn, &req, &conn).await {
            Ok(u) => u,
            Err(s) => {
                audit::failed_authentication(auditing, &info, &req, &conn, &ctx_audit_id, received);
                return crate::endpoints::response::status(&s);
            }
        };
        let record = match audit::begin(
            auditing,
            &user,
            &info,
            &mut req,
            &conn,
            &ctx_audit_id,
            received,
        ) {
            Ok(r) => r,
            Err(audit::NotStored) => {
                let uri = req.uri().path_and_query().map_or("/", |p| p.as_str());
                return crate::endpoints::response::internal_error(
                    uri,
                    "failed to store audit event",
                );
            }
        };
        let long_running = info.is_long_running();
        let who = Authenticated {
            req,
            conn,
            info,
            user,
            received,
            audit_id: ctx_audit_id,
        };
        let resp = audit::guard_panics(
            record.as_deref(),
            serve_authenticated(state, who, record.as_deref()),
        )
        .await;
        match record {
            Some(r) => r.respond(resp, long_running).await,
            None => resp,
        }
    })
    .await;
    crate::metrics::count_answer();
    if let Ok(v) = HeaderValue::from_str(&audit_id) {
        resp.headers_mut().insert("audit-id", v);
    }
    if let Some(l) = http_log {
        l.write(&audit_id, received, resp.status().as_u16());
    }
    resp
}

/// upstream's request log at `-v=3` (httplog's fields), taken only when it is on.
struct RequestLog {
    method: String,
    uri: String,
    user_agent: String,
    peer: String,
}

impl RequestLog {
    fn of(req: &Request<Incoming>, conn: &ConnInfo) -> Self {
        Self {
            method: req.method().to_string(),
            uri: req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
            user_agent: req
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            peer: conn.peer.to_string(),
        }
    }

    /// One line when the answer is ready (a watch's when it starts).
    fn write(&self, audit_id: &str, received: Instant, code: u16) {
        use crate::logs::Value::{Int, Str};
        let latency = tuning::format_duration(received.elapsed());
        crate::logs::info_s(
            3,
            "filters/chain.rs:httplog",
            "HTTP",
            &[
                ("verb", Str(&self.method)),
                ("URI", Str(&self.uri)),
                ("latency", Str(&latency)),
                ("userAgent", Str(&self.user_agent)),
                ("audit-ID", Str(audit_id)),
                ("srcIP", Str(&self.peer)),
                ("resp", Int(i64::from(code))),
            ],
        );
    }
}

/// A request past authentication (and audit's first stage); past impersonation and
/// priority and fairness its user is shared (`Rc<UserInfo>`).
struct Authenticated<U = UserInfo> {
    req: Request<Incoming>,
    conn: Rc<ConnInfo>,
    info: Rc<RequestInfo>,
    user: U,
    received: Instant,
    audit_id: String,
}

/// The filters after audit: impersonation and priority and fairness (or max-in-flight),
/// then the rest (`serve_admitted`); the answer gets the PF headers.
async fn serve_authenticated(
    state: Rc<ChainState>,
    who: Authenticated,
    record: Option<&AuditRecord>,
) -> Response<Body> {
    let Authenticated {
        req,
        conn,
        info,
        user,
        received,
        audit_id,
    } = who;
    let uri = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let user = match impersonation::apply(&state.authz, user, &req).await {
        Ok(u) => Rc::new(u),
        Err(r) => return r.response(uri),
    };
    if let Some(r) = record.filter(|_| impersonation::requested(&req)) {
        r.impersonated(&user);
    }
    let mut admitted = None;
    let _seat = match &state.flow_control {
        Some(fc) => {
            let query = req.uri().query();
            match priority_and_fairness::admit(
                fc,
                &info,
                &user,
                query,
                received,
                state.request_timeout,
            )
            .await
            {
                Ok(a) => admitted = a,
                Err(refused) => {
                    count_refusal(&state, &req, &info, received);
                    return refused;
                }
            }
            state.limits.count(&info)
        }
        None => match state.limits.enter(&info, &user) {
            Ok(seat) => seat,
            Err(refused) => {
                count_refusal(&state, &req, &info, received);
                return refused.response();
            }
        },
    };
    let who = Authenticated {
        req,
        conn,
        info,
        user,
        received,
        audit_id,
    };
    let mut resp = serve_admitted(&state, who, record).await;
    if let Some(a) = &admitted {
        a.decorate(&mut resp);
    }
    resp
}

/// upstream counts a request refused for load in apiserver_request_total too.
fn count_refusal(
    state: &ChainState,
    req: &Request<Incoming>,
    info: &RequestInfo,
    received: Instant,
) {
    let apply = crate::metrics::labels::is_apply_patch(req.headers());
    let labels = state
        .server
        .labels_for(req.method(), info, req.uri().query(), apply);
    if let Some(l) = labels {
        crate::metrics::record(|m| {
            m.termination(l, 429);
            m.request(l, 429, None, received.elapsed());
        });
    }
}

/// The filters after priority and fairness: authorization, retry-after, the in-flight wait
/// group and the timeout, then the server chain.
async fn serve_admitted(
    state: &ChainState,
    who: Authenticated<Rc<UserInfo>>,
    record: Option<&AuditRecord>,
) -> Response<Body> {
    let Authenticated {
        req,
        conn,
        info,
        user,
        received,
        audit_id,
    } = who;
    let uri = req.uri().path_and_query().map_or("/", |p| p.as_str());
    if let Some(r) = authorization::check(&state.authz, &user, &info, uri, record).await {
        return r;
    }
    if let Some(r) = retry_after::check(state, &req) {
        return r;
    }
    let _counted = in_flight::enter(&state.in_flight, &info);
    let ctx = RequestCtx {
        info: Rc::clone(&info),
        conn,
        received,
        deadline: received + state.request_timeout,
        audit_id,
        user,
    };
    let labels = Cell::new(None);
    if info.is_long_running() {
        return state.server.serve(req, ctx, &labels).await;
    }
    // upstream's timeout filter: a request not answered within --request-timeout (e.g. a
    // body that never arrives) gets a 504 Status; its work is dropped.
    let timeout = state.request_timeout;
    futures_lite::future::or(state.server.serve(req, ctx, &labels), async {
        shards::sleep(timeout).await;
        if let Some(l) = labels.get() {
            crate::metrics::record(|m| m.termination(l, 504));
        }
        crate::endpoints::response::status(&crate::api::status::Status::timeout())
    })
    .await
}
