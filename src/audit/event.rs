//! One request's audit event (`audit.k8s.io/v1` Event), filled in as the request goes through
//! the chain and written once per stage as a JSON line, fields in upstream's order.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::SystemTime;

use serde_json::{json, Map, Value};

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

/// What an event holds besides its stage.
#[derive(Clone, Debug)]
pub struct Event {
    /// The policy's level for this request.
    pub level: Level,
    /// The request's audit id (also its `Audit-Id` header).
    pub audit_id: String,
    /// Path and query as sent.
    pub request_uri: String,
    /// The Kubernetes verb (or lower-cased method).
    pub verb: String,
    /// The authenticated user.
    pub user: UserInfo,
    /// The user acted as, when impersonating.
    pub impersonated_user: Option<UserInfo>,
    /// `X-Forwarded-For` entries, `X-Real-Ip`, then the peer.
    pub source_ips: Vec<String>,
    /// The client's `User-Agent`.
    pub user_agent: String,
    /// What a resource request addresses.
    pub object_ref: Option<Value>,
    /// The answer's status (`{"metadata":{},"code":200}`, or a failure's Status fields).
    pub response_status: Option<Value>,
    /// The request body (Request level and up).
    pub request_object: Option<Value>,
    /// The response body (RequestResponse level).
    pub response_object: Option<Value>,
    /// When the request arrived.
    pub received: SystemTime,
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
        let object_ref = info.is_resource_request.then(|| {
            let mut r = Map::new();
            let mut put = |k: &str, v: &str| {
                if !v.is_empty() {
                    r.insert(k.into(), Value::String(v.into()));
                }
            };
            put("resource", &info.resource);
            put("namespace", &info.namespace);
            put("name", &info.name);
            put("apiGroup", &info.api_group);
            put("apiVersion", &info.api_version);
            put("subresource", &info.subresource);
            Value::Object(r)
        });
        Self {
            level,
            audit_id: audit_id.into(),
            request_uri: request_uri.into(),
            verb: info.verb.clone(),
            user: user.clone(),
            impersonated_user: None,
            source_ips: client.source_ips,
            user_agent: client.user_agent,
            object_ref,
            response_status: None,
            request_object: None,
            response_object: None,
            received,
            annotations: BTreeMap::new(),
        }
    }

    /// Sets the response status from the code and, for a failure, the answered Status body.
    pub fn set_response(&mut self, code: u16, status_body: Option<&Value>) {
        let mut s = Map::new();
        s.insert("metadata".into(), json!({}));
        if let Some(body) = status_body.filter(|b| b.get("kind") == Some(&json!("Status"))) {
            for k in ["status", "message", "reason", "details"] {
                if let Some(v) = body.get(k) {
                    s.insert(k.into(), v.clone());
                }
            }
        }
        s.insert("code".into(), json!(code));
        self.response_status = Some(Value::Object(s));
    }

    /// The event at `stage`, as one JSON line.
    pub fn line(&self, stage: Stage, now: SystemTime) -> Vec<u8> {
        let mut e = Map::new();
        e.insert("kind".into(), json!("Event"));
        e.insert("apiVersion".into(), json!("audit.k8s.io/v1"));
        e.insert("level".into(), json!(self.level.as_str()));
        e.insert("auditID".into(), json!(self.audit_id));
        e.insert("stage".into(), json!(stage.as_str()));
        e.insert("requestURI".into(), json!(self.request_uri));
        e.insert("verb".into(), json!(self.verb));
        e.insert("user".into(), user_json(&self.user));
        if let Some(u) = &self.impersonated_user {
            e.insert("impersonatedUser".into(), user_json(u));
        }
        e.insert("sourceIPs".into(), json!(self.source_ips));
        if !self.user_agent.is_empty() {
            e.insert("userAgent".into(), json!(self.user_agent));
        }
        if let Some(r) = &self.object_ref {
            e.insert("objectRef".into(), r.clone());
        }
        if stage != Stage::RequestReceived {
            if let Some(s) = &self.response_status {
                e.insert("responseStatus".into(), s.clone());
            }
        }
        if let Some(o) = &self.request_object {
            e.insert("requestObject".into(), o.clone());
        }
        if stage == Stage::ResponseComplete {
            if let Some(o) = &self.response_object {
                e.insert("responseObject".into(), o.clone());
            }
        }
        e.insert(
            "requestReceivedTimestamp".into(),
            json!(micro_time(self.received)),
        );
        e.insert("stageTimestamp".into(), json!(micro_time(now)));
        if !self.annotations.is_empty() {
            e.insert("annotations".into(), json!(self.annotations));
        }
        let mut line = serde_json::to_vec(&Value::Object(e)).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

fn user_json(u: &UserInfo) -> Value {
    let mut m = Map::new();
    m.insert("username".into(), json!(u.name));
    if !u.uid.is_empty() {
        m.insert("uid".into(), json!(u.uid));
    }
    if !u.groups.is_empty() {
        m.insert("groups".into(), json!(u.groups));
    }
    if !u.extra.is_empty() {
        m.insert("extra".into(), json!(u.extra));
    }
    Value::Object(m)
}

/// metav1.MicroTime: RFC 3339 in UTC with microseconds.
fn micro_time(t: SystemTime) -> String {
    let (stamp, utc) = super::utc_stamp(t, ':');
    format!("{stamp}.{:06}Z", utc.microsecond())
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
