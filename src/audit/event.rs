//! One request's audit event (`audit.k8s.io/v1` Event), filled in as the request goes through
//! the chain and written once per stage as a JSON line, fields in upstream's order.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::SystemTime;

use serde_json::{json, Value};

use super::policy::{Level, Stage};
use crate::request::{RequestInfo, UserInfo};

/// Who sent a request, as an event records it.
#[derive(Clone, Debug, Default)]
pub struct Client {
    /// `X-Forwarded-For` entries, `X-Real-Ip`, then the peer ([`source_ips`]).
    pub source_ips: Vec<String>,
    /// The `User-Agent` header.
    pub user_agent: String,
}

/// What an event holds besides its stage. What cannot change once the request is known
/// (level, audit id, URI, verb, user, client, objectRef, arrival) is rendered to JSON once;
/// each stage's line joins those fragments with what the chain learned since.
#[derive(Clone, Debug)]
pub struct Event {
    /// The policy's level for this request.
    pub level: Level,
    /// `{"kind":..,"apiVersion":..,"level":..,"auditID":..` (the stage follows).
    head: Vec<u8>,
    /// `,"requestURI":..,"verb":..,"user":{..}`.
    who: Vec<u8>,
    /// `,"sourceIPs":[..],"userAgent":..,"objectRef":{..}`.
    client: Vec<u8>,
    /// `,"requestReceivedTimestamp":".."`.
    received: Vec<u8>,
    /// The user acted as, when impersonating.
    pub impersonated_user: Option<UserInfo>,
    /// `,"responseStatus":{..}`, once the answer is known.
    response_status: Option<Vec<u8>>,
    /// The request body (Request level and up).
    pub request_object: Option<Value>,
    /// The response body (RequestResponse level).
    pub response_object: Option<Value>,
    /// Annotations (`authorization.k8s.io/decision`, ...).
    pub annotations: BTreeMap<String, String>,
}

impl Event {
    /// The event of a request that arrived at `received`.
    pub fn new(
        level: Level,
        audit_id: &str,
        request_uri: &str,
        info: &RequestInfo,
        user: &UserInfo,
        client: Client,
        received: SystemTime,
    ) -> Self {
        let mut head = Vec::with_capacity(128);
        head.extend_from_slice(
            b"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"",
        );
        head.extend_from_slice(level.as_str().as_bytes());
        head.extend_from_slice(b"\",\"auditID\":");
        put_str(&mut head, audit_id);
        let mut who = Vec::with_capacity(256);
        who.extend_from_slice(b",\"requestURI\":");
        put_str(&mut who, request_uri);
        who.extend_from_slice(b",\"verb\":");
        put_str(&mut who, &info.verb);
        who.extend_from_slice(b",\"user\":");
        put_user(&mut who, user);
        let mut c = Vec::with_capacity(256);
        c.extend_from_slice(b",\"sourceIPs\":[");
        for (i, ip) in client.source_ips.iter().enumerate() {
            if i > 0 {
                c.push(b',');
            }
            put_str(&mut c, ip);
        }
        c.push(b']');
        if !client.user_agent.is_empty() {
            c.extend_from_slice(b",\"userAgent\":");
            put_str(&mut c, &client.user_agent);
        }
        if info.is_resource_request {
            c.extend_from_slice(b",\"objectRef\":{");
            let mut first = true;
            for (k, v) in [
                ("resource", &info.resource),
                ("namespace", &info.namespace),
                ("name", &info.name),
                ("apiGroup", &info.api_group),
                ("apiVersion", &info.api_version),
                ("subresource", &info.subresource),
            ] {
                if v.is_empty() {
                    continue;
                }
                if !first {
                    c.push(b',');
                }
                first = false;
                put_str(&mut c, k);
                c.push(b':');
                put_str(&mut c, v);
            }
            c.push(b'}');
        }
        let mut r = Vec::with_capacity(64);
        r.extend_from_slice(b",\"requestReceivedTimestamp\":\"");
        put_micro_time(&mut r, received);
        r.push(b'"');
        Self {
            level,
            head,
            who,
            client: c,
            received: r,
            impersonated_user: None,
            response_status: None,
            request_object: None,
            response_object: None,
            annotations: BTreeMap::new(),
        }
    }

    /// Sets the response status from the code and, for a failure, the answered Status body.
    pub fn set_response(&mut self, code: u16, status_body: Option<&Value>) {
        let mut s = Vec::with_capacity(64);
        s.extend_from_slice(b",\"responseStatus\":{\"metadata\":{}");
        if let Some(body) = status_body.filter(|b| b.get("kind") == Some(&json!("Status"))) {
            for k in ["status", "message", "reason", "details"] {
                if let Some(v) = body.get(k) {
                    s.push(b',');
                    put_str(&mut s, k);
                    s.push(b':');
                    put_json(&mut s, v);
                }
            }
        }
        s.extend_from_slice(format!(",\"code\":{code}}}").as_bytes());
        self.response_status = Some(s);
    }

    /// Sets the response status to `code` with `message` (a refused credential's).
    pub fn set_response_message(&mut self, code: u16, message: &str) {
        let mut s = Vec::with_capacity(96);
        s.extend_from_slice(b",\"responseStatus\":{\"metadata\":{},\"message\":");
        put_str(&mut s, message);
        s.extend_from_slice(format!(",\"code\":{code}}}").as_bytes());
        self.response_status = Some(s);
    }

    /// The event at `stage`, as one JSON line.
    pub fn line(&self, stage: Stage, now: SystemTime) -> Vec<u8> {
        let mut e = Vec::with_capacity(self.line_len_hint());
        self.write_line(stage, now, &mut e);
        e
    }

    /// About how long a line is (its fixed fragments and some).
    fn line_len_hint(&self) -> usize {
        self.head.len() + self.who.len() + self.client.len() + self.received.len() + 160
    }

    /// Appends the event at `stage` as one JSON line to `e` (a shard's buffer: no line is
    /// built on its own and copied).
    pub fn write_line(&self, stage: Stage, now: SystemTime, e: &mut Vec<u8>) {
        e.reserve(self.line_len_hint());
        e.extend_from_slice(&self.head);
        e.extend_from_slice(b",\"stage\":\"");
        e.extend_from_slice(stage.as_str().as_bytes());
        e.push(b'"');
        e.extend_from_slice(&self.who);
        if let Some(u) = &self.impersonated_user {
            e.extend_from_slice(b",\"impersonatedUser\":");
            put_user(e, u);
        }
        e.extend_from_slice(&self.client);
        if stage != Stage::RequestReceived {
            if let Some(s) = &self.response_status {
                e.extend_from_slice(s);
            }
        }
        if let Some(o) = &self.request_object {
            e.extend_from_slice(b",\"requestObject\":");
            put_json(e, o);
        }
        if stage == Stage::ResponseComplete {
            if let Some(o) = &self.response_object {
                e.extend_from_slice(b",\"responseObject\":");
                put_json(e, o);
            }
        }
        e.extend_from_slice(&self.received);
        e.extend_from_slice(b",\"stageTimestamp\":\"");
        put_micro_time(e, now);
        e.push(b'"');
        if !self.annotations.is_empty() {
            e.extend_from_slice(b",\"annotations\":");
            put_json(e, &self.annotations);
        }
        e.extend_from_slice(b"}\n");
    }
}

/// Writes `s` as a JSON string.
fn put_str(out: &mut Vec<u8>, s: &str) {
    put_json(out, s);
}

/// Writes `v` as JSON (serializing plain data into a Vec cannot fail).
fn put_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    let _ = serde_json::to_writer(&mut *out, v);
}

fn put_user(out: &mut Vec<u8>, u: &UserInfo) {
    out.extend_from_slice(b"{\"username\":");
    put_str(out, &u.name);
    if !u.uid.is_empty() {
        out.extend_from_slice(b",\"uid\":");
        put_str(out, &u.uid);
    }
    if !u.groups.is_empty() {
        out.extend_from_slice(b",\"groups\":");
        put_json(out, &u.groups);
    }
    if !u.extra.is_empty() {
        out.extend_from_slice(b",\"extra\":");
        put_json(out, &u.extra);
    }
    out.push(b'}');
}

/// metav1.MicroTime: RFC 3339 in UTC with microseconds, appended to `out`. The date and
/// time of day are rendered once per second per thread; each stamp then only adds its
/// microseconds.
fn put_micro_time(out: &mut Vec<u8>, t: SystemTime) {
    thread_local! {
        static SECOND: std::cell::RefCell<(u64, Vec<u8>)> = const { std::cell::RefCell::new((u64::MAX, Vec::new())) };
    }
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let (secs, micros) = (since.as_secs(), since.subsec_micros());
    SECOND.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            let (stamp, _) = super::utc_stamp(t, ':');
            *c = (secs, stamp.into_bytes());
        }
        out.extend_from_slice(&c.1);
    });
    let mut digits = [b'0'; 6];
    let mut m = micros;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (m % 10) as u8;
        m /= 10;
    }
    out.push(b'.');
    out.extend_from_slice(&digits);
    out.push(b'Z');
}

/// upstream's source IPs: the `X-Forwarded-For` list, `X-Real-Ip`, then the peer, each once.
pub fn source_ips(forwarded_for: Option<&str>, real_ip: Option<&str>, peer: IpAddr) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let parsed = forwarded_for
        .into_iter()
        .flat_map(|v| v.split(','))
        .chain(real_ip)
        .filter_map(|s| s.trim().parse::<IpAddr>().ok());
    for ip in parsed.chain(std::iter::once(peer)) {
        let s = ip.to_string();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use http::Method;

    use super::*;

    #[test]
    fn lines_in_upstreams_shape() {
        let info = RequestInfo::resolve(&Method::POST, "/api/v1/namespaces/d/configmaps", None);
        let user = UserInfo {
            name: "alice".into(),
            groups: vec!["system:authenticated".into()],
            ..UserInfo::default()
        };
        let t = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let mut e = Event::new(
            Level::Metadata,
            "id-1",
            "/api/v1/namespaces/d/configmaps",
            &info,
            &user,
            Client {
                source_ips: vec!["127.0.0.1".into()],
                user_agent: "kubectl/v1.33.0".into(),
            },
            t,
        );
        let first: Value = serde_json::from_slice(&e.line(Stage::RequestReceived, t)).unwrap();
        assert_eq!(first["stage"], "RequestReceived");
        assert_eq!(
            first["requestReceivedTimestamp"],
            "2023-11-14T22:13:20.123456Z"
        );
        assert!(first.get("responseStatus").is_none());
        assert_eq!(
            first["objectRef"],
            json!({"resource": "configmaps", "namespace": "d", "apiVersion": "v1"})
        );
        e.set_response(409, Some(&json!({"kind": "Status", "status": "Failure", "message": "exists", "reason": "AlreadyExists", "code": 409})));
        let line = e.line(Stage::ResponseComplete, t);
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(text.starts_with("{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\",\"auditID\":\"id-1\",\"stage\":\"ResponseComplete\""), "{text}");
        let done: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            done["responseStatus"],
            json!({"metadata": {}, "status": "Failure", "message": "exists", "reason": "AlreadyExists", "code": 409})
        );
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn source_ips_as_upstream_lists_them() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(source_ips(None, None, peer), vec!["127.0.0.1"]);
        assert_eq!(
            source_ips(Some("10.0.0.1, 10.0.0.2"), Some("10.0.0.3"), peer),
            vec!["10.0.0.1", "10.0.0.2", "10.0.0.3", "127.0.0.1"]
        );
    }
}
