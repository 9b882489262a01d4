//! Audit: after authentication, the policy decides the request's level; an audited request
//! writes its event at `RequestReceived`, at `ResponseStarted` for long-running requests, and
//! at `ResponseComplete` (when a streamed answer ends), each stage unless the rule omits it;
//! a failed authentication writes one `ResponseStarted` event, as upstream's
//! WithFailedAuthenticationAudit. Impersonation and authorization add what they learn; the
//! REST body reader fills the request body for Request-level events.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{Request, Response};
use serde_json::Value;
use shards::server::{Body, ConnInfo};

use crate::audit::event::{source_ips, Client, Event};
use crate::audit::policy::Decision;
use crate::audit::{BodyTap, Level, ShardAuditing, Stage};
use crate::endpoints::observed::{observe, BodyObserver};
use crate::registry::store::AuditAnnotations;
use crate::request::{RequestInfo, UserInfo};

/// One request's event while the chain serves it.
pub struct AuditRecord {
    event: RefCell<Event>,
    decision: Decision,
    /// The shard's auditing (shard-local: no shared counter is touched per request).
    auditing: Rc<ShardAuditing>,
    tap: Option<BodyTap>,
    /// What admission adds to the event.
    annotations: AuditAnnotations,
}

/// The first event could not be stored under `--audit-log-mode=blocking-strict`.
#[derive(Debug)]
pub struct NotStored;

/// The event of an authenticated request, if the policy audits it (its `RequestReceived`
/// stage written); `Err` when blocking-strict could not store that first event.
pub fn begin<B>(
    auditing: Option<&Rc<ShardAuditing>>,
    user: &UserInfo,
    info: &RequestInfo,
    req: &mut Request<B>,
    conn: &ConnInfo,
    audit_id: &str,
    received: Instant,
) -> Result<Option<Rc<AuditRecord>>, NotStored> {
    let Some(record) = record(auditing, user, info, req, conn, audit_id, received) else {
        return Ok(None);
    };
    req.extensions_mut().insert(record.annotations.clone());
    if let Some(tap) = &record.tap {
        req.extensions_mut().insert(tap.clone());
    }
    if record.auditing.strict && record.auditing.buffer.sink().is_full() {
        return Err(NotStored);
    }
    record.stage(Stage::RequestReceived);
    Ok(Some(Rc::new(record)))
}

/// The one event of a request whose credential was refused (no user: rules naming users or
/// groups do not match it).
pub fn failed_authentication<B>(
    auditing: Option<&Rc<ShardAuditing>>,
    info: &RequestInfo,
    req: &Request<B>,
    conn: &ConnInfo,
    audit_id: &str,
    received: Instant,
) {
    let Some(record) = record(
        auditing,
        &UserInfo::default(),
        info,
        req,
        conn,
        audit_id,
        received,
    ) else {
        return;
    };
    let mut methods = Vec::new();
    let authorization = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    if authorization.to_ascii_lowercase().starts_with("basic ") {
        methods.push("basic");
    }
    let mut parts = authorization.split(' ');
    if parts
        .next()
        .is_some_and(|s| s.eq_ignore_ascii_case("bearer"))
        && parts.next().is_some()
    {
        methods.push("bearer");
    }
    if !conn.peer_certificates.is_empty() {
        methods.push("x509");
    }
    let message = if methods.is_empty() {
        "Authentication failed, no credentials provided".to_string()
    } else {
        format!("Authentication failed, attempted: {}", methods.join(", "))
    };
    record
        .event
        .borrow_mut()
        .set_response_message(401, &message);
    record.stage(Stage::ResponseStarted);
}

fn record<B>(
    auditing: Option<&Rc<ShardAuditing>>,
    user: &UserInfo,
    info: &RequestInfo,
    req: &Request<B>,
    conn: &ConnInfo,
    audit_id: &str,
    received: Instant,
) -> Option<AuditRecord> {
    let auditing = auditing?;
    // The wall-clock arrival, read only for audited requests.
    let received = SystemTime::now() - received.elapsed();
    let decision = auditing.policy.evaluate(user, info);
    crate::metrics::record(|m| m.audit_level(decision.level.as_str()));
    if decision.level == Level::None {
        return None;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let client = Client {
        source_ips: source_ips(
            header("x-forwarded-for"),
            header("x-real-ip"),
            conn.peer.ip(),
        ),
        user_agent: header("user-agent").unwrap_or("").to_string(),
    };
    let uri = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let event = Event::new(decision.level, audit_id, uri, info, user, client, received);
    Some(AuditRecord {
        event: RefCell::new(event),
        decision,
        auditing: Rc::clone(auditing),
        tap: (decision.level >= Level::Request).then(BodyTap::default),
        annotations: AuditAnnotations::default(),
    })
}

impl AuditRecord {
    /// Writes the event at `stage` unless the rule omits it.
    fn stage(&self, stage: Stage) {
        if self.decision.omit_stages.contains(stage) {
            return;
        }
        let event = self.event.borrow();
        self.auditing
            .buffer
            .push_with(|out| event.write_line(stage, SystemTime::now(), out));
    }

    /// The user the request acts as, when it impersonates.
    pub fn impersonated(&self, user: &UserInfo) {
        self.event.borrow_mut().impersonated_user = Some(user.clone());
    }

    /// The authorization decision and its reason, as upstream's annotations.
    pub fn authorized(&self, allowed: bool, reason: &str) {
        let mut e = self.event.borrow_mut();
        let decision = if allowed { "allow" } else { "forbid" };
        e.annotations
            .insert("authorization.k8s.io/decision".into(), decision.into());
        e.annotations
            .insert("authorization.k8s.io/reason".into(), reason.into());
    }

    /// Records the answer and writes its stages: `ResponseComplete` now, or for a
    /// long-running answer `ResponseStarted` now and `ResponseComplete` when its body ends.
    pub async fn respond(
        self: Rc<Self>,
        resp: Response<Body>,
        long_running: bool,
    ) -> Response<Body> {
        let code = resp.status().as_u16();
        let whole = resp
            .body()
            .size_hint()
            .exact()
            .is_some_and(|n| n <= MAX_RECORDED_BODY);
        let json = resp
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/json"));
        let wants_body =
            whole && json && (code >= 400 || self.decision.level == Level::RequestResponse);
        let (resp, body) = if wants_body {
            let (parts, body) = resp.into_parts();
            match body.collect().await {
                Ok(c) => {
                    let bytes = c.to_bytes();
                    let parsed = serde_json::from_slice::<Value>(&bytes).ok();
                    let full = shards::server::body(http_body_util::Full::new(bytes));
                    (Response::from_parts(parts, full), parsed)
                }
                Err(e) => {
                    log::error!("reading an answer for its audit event: {e}");
                    let empty = shards::server::body(http_body_util::Empty::<Bytes>::new());
                    (Response::from_parts(parts, empty), None)
                }
            }
        } else {
            (resp, None)
        };
        {
            let mut e = self.event.borrow_mut();
            for (k, v) in self.annotations.take() {
                e.annotations.entry(k).or_insert(v);
            }
            e.set_response(code, body.as_ref().filter(|_| code >= 400));
            if let Some(bytes) = self.tap.as_ref().and_then(BodyTap::take) {
                e.request_object = serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .map(|v| self.without_managed_fields(v));
            }
            if self.decision.level == Level::RequestResponse {
                e.response_object = body.map(|v| self.without_managed_fields(v));
            }
        }
        if !long_running {
            self.stage(Stage::ResponseComplete);
            return resp;
        }
        self.stage(Stage::ResponseStarted);
        observe(resp, Completes(self))
    }

    /// The handler panicked with `what`: upstream's `Panic` stage, a 500 InternalError Status
    /// saying so (the panic then goes on to panic recovery, which answers).
    pub fn panicked(&self, what: &str) {
        let status = serde_json::json!({"kind": "Status", "status": "Failure",
            "message": format!("APIServer panic'd: {what}"), "reason": "InternalError"});
        self.event.borrow_mut().set_response(500, Some(&status));
        self.stage(Stage::Panic);
    }

    fn without_managed_fields(&self, mut v: Value) -> Value {
        if self.decision.omit_managed_fields {
            if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("managedFields");
            }
        }
        v
    }
}

/// Bodies recorded in RequestResponse events at most (a larger answer is left out).
const MAX_RECORDED_BODY: u64 = 3 * 1024 * 1024;

/// A long-running answer's watcher: writes `ResponseComplete` when the body ends or is
/// dropped.
struct Completes(Rc<AuditRecord>);

impl BodyObserver for Completes {
    fn on_end(&mut self) {
        self.0.stage(Stage::ResponseComplete);
    }
}

/// Runs `serve` for an audited request: a panic inside it is recorded as the `Panic` stage,
/// then resumed for panic recovery to answer.
pub async fn guard_panics(
    record: Option<&AuditRecord>,
    serve: impl std::future::Future<Output = Response<Body>>,
) -> Response<Body> {
    let Some(record) = record else {
        return serve.await;
    };
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(serve).catch_unwind().await {
        Ok(resp) => resp,
        Err(panic) => {
            record.panicked(&super::panic_recovery::message(&*panic));
            std::panic::resume_unwind(panic)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::Arc;

    use super::*;
    use crate::audit::log::{AuditCounters, Plugin, Sink};
    use crate::audit::{Auditing, Policy};

    /// A Metadata-level audited request of alice's, and the batches its events go to.
    fn audited() -> (
        Rc<ShardAuditing>,
        Rc<AuditRecord>,
        Request<()>,
        crossbeam::channel::Receiver<Vec<u8>>,
    ) {
        let (tx, rx) = crossbeam::channel::bounded(16);
        let auditing = Auditing {
            policy: Arc::new(
                Policy::parse(
                    "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n",
                )
                .unwrap(),
            ),
            sink: Sink::new(vec![(Plugin::Log, tx)], Arc::new(AuditCounters::default())),
            strict: false,
        };
        let shard = Rc::new(auditing.for_shard());
        let mut req = Request::builder()
            .uri("/api/v1/namespaces/default/configmaps")
            .body(())
            .unwrap();
        let info = RequestInfo::resolve(&http::Method::GET, req.uri().path(), None);
        let user = UserInfo {
            name: "alice".into(),
            ..UserInfo::default()
        };
        let conn = ConnInfo {
            shard: shards::shard::ShardId { index: 0, cpu: 0 },
            peer: "127.0.0.1:5000".parse().unwrap(),
            protocol: shards::server::Protocol::Http2,
            peer_certificates: Vec::new(),
        };
        let record = begin(
            Some(&shard),
            &user,
            &info,
            &mut req,
            &conn,
            "id-1",
            Instant::now(),
        )
        .unwrap()
        .expect("audited");
        (shard, record, req, rx)
    }

    fn events(shard: &ShardAuditing, rx: &crossbeam::channel::Receiver<Vec<u8>>) -> Vec<Value> {
        shard.buffer.flush();
        rx.try_iter()
            .flat_map(|batch| {
                String::from_utf8(batch)
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn a_panic_is_the_panic_stage_with_upstreams_status() {
        let (shard, record, _req, rx) = audited();
        let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            futures_lite::future::block_on(guard_panics(Some(&record), async {
                panic!("handler bug")
            }))
        }));
        assert!(served.is_err(), "the panic goes on to panic recovery");
        let lines = events(&shard, &rx);
        let stages: Vec<&str> = lines.iter().filter_map(|e| e["stage"].as_str()).collect();
        assert_eq!(stages, ["RequestReceived", "Panic"]);
        let status = &lines[1]["responseStatus"];
        assert_eq!(status["code"], 500);
        assert_eq!(status["reason"], "InternalError");
        assert_eq!(status["message"], "APIServer panic'd: handler bug");
    }

    #[test]
    fn annotations_admission_adds_are_in_the_completed_event() {
        let (shard, record, req, rx) = audited();
        // What the REST layer hands the Store, and a plugin annotating through it.
        let facts = crate::registry::store::RequestFacts {
            audit_annotations: req.extensions().get::<AuditAnnotations>().cloned(),
            ..crate::registry::store::RequestFacts::internal(None, "x", Instant::now())
        };
        facts.annotate("example.io/decision", "kept");
        facts.annotate("example.io/decision", "second value ignored");
        let resp = crate::endpoints::response::text(http::StatusCode::OK, "ok");
        let _ = futures_lite::future::block_on(record.respond(resp, false));
        let lines = events(&shard, &rx);
        assert_eq!(lines.len(), 2);
        assert!(lines[0]["annotations"].get("example.io/decision").is_none());
        assert_eq!(lines[1]["stage"], "ResponseComplete");
        assert_eq!(lines[1]["annotations"]["example.io/decision"], "kept");
    }
}
