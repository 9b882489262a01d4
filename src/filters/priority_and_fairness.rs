//! upstream's `WithPriorityAndFairness` at the max-in-flight point of the chain: the request
//! (its impersonated user) is classified by the shard's APF configuration, waits for its
//! level's seats (process-wide) for at most a quarter of its timeout (at most a minute), and
//! holds them until its handler has answered (a watch: until it has started). Refused, it
//! gets upstream's plain-text 429 with the level's `Retry-After`. Either way the answer
//! carries `X-Kubernetes-PF-FlowSchema-UID` and `X-Kubernetes-PF-PriorityLevel-UID`.
//! Long-running requests other than watches are not held (upstream lets them through).

use std::time::{Duration, Instant};

use http::{header, HeaderValue, StatusCode};
use hyper::Response;
use shards::server::Body;

use super::max_in_flight::TOO_MANY_REQUESTS;
use crate::endpoints::response;
use crate::flowcontrol::dispatch::{Admission, Ticket};
use crate::flowcontrol::width;
use crate::flowcontrol::ShardFlowControl;
use crate::metrics::families::FlowKey;
use crate::request::{Query, RequestInfo, UserInfo};

/// The longest a request waits in a queue.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// A request let through: its seats and the headers its answer carries.
#[derive(Debug)]
pub struct Admitted {
    _ticket: Option<Ticket>,
    key: FlowKey,
    seats: u32,
    schema_uid: HeaderValue,
    level_uid: HeaderValue,
}

impl Admitted {
    /// Adds the PF headers to the answer.
    pub fn decorate(&self, resp: &mut Response<Body>) {
        decorate(resp, &self.schema_uid, &self.level_uid);
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let (key, seats) = (self.key, self.seats);
        crate::metrics::record(|m| m.flow_finished(key, seats));
    }
}

fn decorate(resp: &mut Response<Body>, schema: &HeaderValue, level: &HeaderValue) {
    let h = resp.headers_mut();
    h.insert("x-kubernetes-pf-flowschema-uid", schema.clone());
    h.insert("x-kubernetes-pf-prioritylevel-uid", level.clone());
}

/// A request counted in `apiserver_flowcontrol_current_inqueue_requests` while it lives.
struct InQueue(FlowKey);

impl InQueue {
    fn enter(key: FlowKey) -> Self {
        crate::metrics::record(|m| m.flow_queued(key, 1));
        Self(key)
    }
}

impl Drop for InQueue {
    fn drop(&mut self) {
        let key = self.0;
        crate::metrics::record(|m| m.flow_queued(key, -1));
    }
}

/// A stable hash of the flow (schema name and distinguisher), for shuffle sharding.
fn flow_hash(schema: &str, distinguisher: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::quality::FixedState::with_seed(0x6170_665f_666c_6f77).build_hasher();
    h.write(schema.as_bytes());
    h.write_u8(0);
    h.write(distinguisher.as_bytes());
    h.finish()
}

/// Seats for the request (None: not held by APF), or the 429 to answer.
pub async fn admit(
    fc: &ShardFlowControl,
    info: &RequestInfo,
    user: &UserInfo,
    query: Option<&str>,
    received: Instant,
    request_timeout: Duration,
) -> Result<Option<Admitted>, Response<Body>> {
    if info.is_long_running() && info.verb != "watch" {
        return Ok(None);
    }
    let config = fc.config();
    let Some((schema, distinguisher)) = config.classify(info, user) else {
        return Ok(None);
    };
    let level = &schema.level;
    let key: FlowKey = (level.name, schema.name);
    let admitted = |ticket, seats| Admitted {
        _ticket: ticket,
        key,
        seats,
        schema_uid: schema.uid.clone(),
        level_uid: schema.level_uid.clone(),
    };
    if level.is_exempt() {
        crate::metrics::record(|m| m.flow_dispatched(key, None, 0));
        return Ok(Some(admitted(None, 0)));
    }
    // Only a LIST's width depends on its query and the objects it reads.
    let seats = if info.verb == "list" {
        let objects = fc.objects_of(&info.api_group, &info.resource, &info.namespace);
        width::seats(info, &Query::parse(query), objects, level.seat_cap())
    } else {
        1
    };
    // upstream: a quarter of the request's time (--request-timeout), at most a minute.
    let wait = (request_timeout / 4)
        .min(MAX_WAIT)
        .saturating_sub(received.elapsed());
    let flow = flow_hash(schema.name, distinguisher);
    // Polled only while the request waits in a queue; the guard leaves the in-queue gauge
    // when the wait ends, however it ends (dispatched, timed out, or the client gone).
    let give_up = async move {
        let _in_queue = InQueue::enter(key);
        shards::sleep(wait).await;
    };
    let started = Instant::now();
    let entered = fc.dispatcher().enter(level, flow, seats, give_up).await;
    match entered {
        Ok(Admission::Exempt) => {
            crate::metrics::record(|m| m.flow_dispatched(key, None, 0));
            Ok(Some(admitted(None, 0)))
        }
        Ok(Admission::Immediate(t)) => {
            crate::metrics::record(|m| m.flow_dispatched(key, Some(Duration::ZERO), seats));
            Ok(Some(admitted(Some(t), seats)))
        }
        Ok(Admission::Queued(t, waited)) => {
            crate::metrics::record(|m| m.flow_dispatched(key, Some(waited), seats));
            Ok(Some(admitted(Some(t), seats)))
        }
        Err(rejection) => {
            let waited = started.elapsed();
            crate::metrics::record(|m| m.flow_rejected(key, rejection.reason(), waited));
            let retry_after = level.rejected();
            let mut r = response::text(
                StatusCode::TOO_MANY_REQUESTS,
                format!("{TOO_MANY_REQUESTS}\n"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            decorate(&mut r, &schema.uid, &schema.level_uid);
            Err(r)
        }
    }
}
