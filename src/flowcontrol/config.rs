//! The configuration APF serves by: FlowSchemas and PriorityLevelConfigurations as read from
//! the replica, turned into matching rules in upstream's order (matchingPrecedence, then
//! name) and priority levels with their share of the server's seats.
//!
//! As upstream's config controller: a FlowSchema whose priority level does not exist is
//! dangling and matches nothing; when the mandatory `exempt` or `catch-all` objects are
//! missing their bootstrap copies stand in (with no uid); an object that does not parse is
//! skipped with a warning.

use std::sync::Arc;

use http::HeaderValue;
use serde_json::Value;

use super::dispatch::{Dispatcher, Level, LevelLimits, Queuing};
use crate::api::meta::string_list as strings;
use crate::request::{RequestInfo, UserInfo};

/// How a FlowSchema tells flows apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distinguisher {
    /// One flow per user name.
    ByUser,
    /// One flow per namespace.
    ByNamespace,
    /// One flow.
    None,
}

/// One FlowSchema, ready to match.
#[derive(Debug)]
pub struct Schema {
    /// Its name.
    pub name: &'static str,
    /// `X-Kubernetes-PF-FlowSchema-UID` (empty for a stand-in).
    pub uid: HeaderValue,
    precedence: i64,
    distinguisher: Distinguisher,
    rules: Vec<Rules>,
    /// Its priority level.
    pub level: Arc<Level>,
    /// `X-Kubernetes-PF-PriorityLevel-UID`.
    pub level_uid: HeaderValue,
}

#[derive(Debug, Default)]
struct Rules {
    subjects: Vec<Subject>,
    resource: Vec<ResourceRule>,
    non_resource: Vec<NonResourceRule>,
}

#[derive(Debug)]
enum Subject {
    User(String),
    Group(String),
    ServiceAccount { namespace: String, name: String },
}

#[derive(Debug)]
struct ResourceRule {
    verbs: Vec<String>,
    groups: Vec<String>,
    resources: Vec<String>,
    cluster_scope: bool,
    namespaces: Vec<String>,
}

#[derive(Debug)]
struct NonResourceRule {
    verbs: Vec<String>,
    urls: Vec<String>,
}

/// A parsed PriorityLevelConfiguration.
#[derive(Debug, Clone)]
struct LevelSpec {
    name: String,
    uid: String,
    exempt: bool,
    shares: u64,
    lendable_percent: u64,
    borrowing_limit_percent: Option<u64>,
    queuing: Option<Queuing>,
}

/// What one shard classifies requests by.
#[derive(Debug)]
pub struct Config {
    /// In matching order.
    schemas: Vec<Schema>,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn u64_at(v: &Value, path: &[&str]) -> Option<u64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_u64()
}

fn header(uid: &str) -> HeaderValue {
    HeaderValue::from_str(uid).unwrap_or(HeaderValue::from_static(""))
}

fn level_spec(o: &Value) -> Option<LevelSpec> {
    let name = str_at(o, &["metadata", "name"])?.to_string();
    let uid = str_at(o, &["metadata", "uid"]).unwrap_or("").to_string();
    let spec = o.get("spec")?;
    match spec.get("type").and_then(Value::as_str)? {
        "Exempt" => Some(LevelSpec {
            name,
            uid,
            exempt: true,
            shares: u64_at(spec, &["exempt", "nominalConcurrencyShares"]).unwrap_or(0),
            lendable_percent: u64_at(spec, &["exempt", "lendablePercent"]).unwrap_or(0),
            borrowing_limit_percent: Some(0),
            queuing: None,
        }),
        "Limited" => {
            let limited = spec.get("limited")?;
            let response = limited.get("limitResponse");
            let queuing = match response.and_then(|r| r.get("type")).and_then(Value::as_str) {
                Some("Reject") => None,
                _ => {
                    // upstream's defaults for a 0 or missing value.
                    let q = response.and_then(|r| r.get("queuing"));
                    let n = |k: &str, default: u64| {
                        let v = q.and_then(|q| q.get(k)).and_then(Value::as_u64);
                        u32::try_from(v.filter(|&v| v > 0).unwrap_or(default)).unwrap_or(1)
                    };
                    Some(Queuing {
                        queues: n("queues", 64),
                        hand_size: n("handSize", 8),
                        queue_length_limit: n("queueLengthLimit", 50),
                    })
                }
            };
            Some(LevelSpec {
                name,
                uid,
                exempt: false,
                shares: u64_at(limited, &["nominalConcurrencyShares"]).unwrap_or(30),
                lendable_percent: u64_at(limited, &["lendablePercent"]).unwrap_or(0),
                borrowing_limit_percent: u64_at(limited, &["borrowingLimitPercent"]),
                queuing,
            })
        }
        _ => None,
    }
}

fn subject(v: &Value) -> Option<Subject> {
    Some(match v.get("kind")?.as_str()? {
        "User" => Subject::User(str_at(v, &["user", "name"])?.to_string()),
        "Group" => Subject::Group(str_at(v, &["group", "name"])?.to_string()),
        "ServiceAccount" => Subject::ServiceAccount {
            namespace: str_at(v, &["serviceAccount", "namespace"])?.to_string(),
            name: str_at(v, &["serviceAccount", "name"])?.to_string(),
        },
        _ => return None,
    })
}

fn rules(v: &Value) -> Rules {
    let list = |k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    Rules {
        subjects: list("subjects").iter().filter_map(subject).collect(),
        resource: list("resourceRules")
            .iter()
            .map(|r| ResourceRule {
                verbs: strings(r.get("verbs")),
                groups: strings(r.get("apiGroups")),
                resources: strings(r.get("resources")),
                cluster_scope: r
                    .get("clusterScope")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                namespaces: strings(r.get("namespaces")),
            })
            .collect(),
        non_resource: list("nonResourceRules")
            .iter()
            .map(|r| NonResourceRule {
                verbs: strings(r.get("verbs")),
                urls: strings(r.get("nonResourceURLs")),
            })
            .collect(),
    }
}

/// The bootstrap configuration's mandatory objects, standing in for missing ones.
fn mandatory(kind: &str) -> Vec<Value> {
    super::bootstrap::objects(true, kind)
}

/// Each level's share of `server_limit` seats: `ceil(limit × shares / Σ shares)`, lendable
/// and borrowable seats rounded from their percentages, as upstream divides them.
fn limits(specs: &[LevelSpec], server_limit: u32) -> Vec<LevelLimits> {
    let total: u64 = specs.iter().map(|s| s.shares).sum::<u64>().max(1);
    specs
        .iter()
        .map(|s| {
            let nominal = (u64::from(server_limit) * s.shares).div_ceil(total);
            let percent = |p: u64| ((nominal * p) as f64 / 100.0).round() as u64;
            LevelLimits {
                exempt: s.exempt,
                nominal: u32::try_from(nominal).unwrap_or(u32::MAX),
                lendable: u32::try_from(percent(s.lendable_percent.min(100))).unwrap_or(0),
                borrowing_limit: s
                    .borrowing_limit_percent
                    .map_or(u32::MAX, |p| u32::try_from(percent(p)).unwrap_or(u32::MAX)),
                queuing: s.queuing,
            }
        })
        .collect()
}

impl Config {
    /// The configuration of `flow_schemas` and `levels` (objects as stored), the levels'
    /// seats set in `dispatcher`.
    pub fn build(dispatcher: &Dispatcher, flow_schemas: &[Value], levels: &[Value]) -> Self {
        let mut specs: Vec<LevelSpec> = Vec::new();
        for o in levels {
            match level_spec(o) {
                Some(s) => specs.push(s),
                None => log::warn!(
                    "priority level {:?} does not parse; ignored",
                    str_at(o, &["metadata", "name"])
                ),
            }
        }
        for o in mandatory("PriorityLevelConfiguration") {
            if let Some(s) = level_spec(&o) {
                if !specs.iter().any(|x| x.name == s.name) {
                    specs.push(LevelSpec {
                        uid: String::new(),
                        ..s
                    });
                }
            }
        }
        let limits = limits(&specs, dispatcher.server_limit());
        let levels: Vec<(String, Arc<Level>, HeaderValue)> = specs
            .iter()
            .zip(&limits)
            .map(|(s, l)| (s.name.clone(), dispatcher.level(&s.name, l), header(&s.uid)))
            .collect();
        let mut schemas: Vec<Schema> = Vec::new();
        let mut add = |o: &Value, stand_in: bool| {
            let Some(name) = str_at(o, &["metadata", "name"]) else {
                return;
            };
            if schemas.iter().any(|s| s.name == name) {
                return;
            }
            let Some(spec) = o.get("spec") else {
                return;
            };
            let pl = str_at(spec, &["priorityLevelConfiguration", "name"]).unwrap_or("");
            // Dangling: its level does not exist.
            let Some((_, level, level_uid)) = levels.iter().find(|(n, _, _)| n == pl) else {
                return;
            };
            schemas.push(Schema {
                name: crate::api::intern::intern(name),
                uid: if stand_in {
                    HeaderValue::from_static("")
                } else {
                    header(str_at(o, &["metadata", "uid"]).unwrap_or(""))
                },
                precedence: spec
                    .get("matchingPrecedence")
                    .and_then(Value::as_i64)
                    .unwrap_or(1000),
                distinguisher: match str_at(spec, &["distinguisherMethod", "type"]) {
                    Some("ByUser") => Distinguisher::ByUser,
                    Some("ByNamespace") => Distinguisher::ByNamespace,
                    _ => Distinguisher::None,
                },
                rules: spec
                    .get("rules")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(rules).collect())
                    .unwrap_or_default(),
                level: Arc::clone(level),
                level_uid: level_uid.clone(),
            });
        };
        for o in flow_schemas {
            add(o, false);
        }
        for o in mandatory("FlowSchema") {
            add(&o, true);
        }
        schemas.sort_by(|a, b| a.precedence.cmp(&b.precedence).then(a.name.cmp(b.name)));
        Self { schemas }
    }

    /// The first FlowSchema that matches, and the flow's distinguisher.
    pub fn classify<'a>(
        &self,
        info: &'a RequestInfo,
        user: &'a UserInfo,
    ) -> Option<(&Schema, &'a str)> {
        // upstream: a request nothing matches goes to catch-all.
        let schema = self
            .schemas
            .iter()
            .find(|s| s.rules.iter().any(|r| r.matches(info, user)))
            .or_else(|| self.schemas.iter().find(|s| s.name == "catch-all"))?;
        let flow = match schema.distinguisher {
            Distinguisher::ByUser => user.name.as_str(),
            Distinguisher::ByNamespace => info.namespace.as_str(),
            Distinguisher::None => "",
        };
        Some((schema, flow))
    }

    /// The schemas in matching order (tests, status).
    pub fn schema_names(&self) -> Vec<&'static str> {
        self.schemas.iter().map(|s| s.name).collect()
    }
}

fn has(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x == value)
}

impl Rules {
    fn matches(&self, info: &RequestInfo, user: &UserInfo) -> bool {
        if !self.subjects.iter().any(|s| s.matches(user)) {
            return false;
        }
        if info.is_resource_request {
            self.resource.iter().any(|r| r.matches(info))
        } else {
            self.non_resource.iter().any(|r| r.matches(info))
        }
    }
}

impl Subject {
    fn matches(&self, user: &UserInfo) -> bool {
        match self {
            Self::User(n) => n == "*" || *n == user.name,
            Self::Group(g) => g == "*" || user.in_group(g),
            Self::ServiceAccount { namespace, name } => {
                let Some(rest) = user.name.strip_prefix("system:serviceaccount:") else {
                    return false;
                };
                match rest.split_once(':') {
                    Some((ns, n)) => ns == namespace && (name == "*" || n == name),
                    None => false,
                }
            }
        }
    }
}

impl ResourceRule {
    fn matches(&self, info: &RequestInfo) -> bool {
        if !has(&self.verbs, &info.verb) || !has(&self.groups, &info.api_group) {
            return false;
        }
        let resource_matches = if info.subresource.is_empty() {
            has(&self.resources, &info.resource)
        } else {
            has(
                &self.resources,
                &format!("{}/{}", info.resource, info.subresource),
            )
        };
        if !resource_matches {
            return false;
        }
        if info.namespace.is_empty() {
            self.cluster_scope
        } else {
            has(&self.namespaces, &info.namespace)
        }
    }
}

impl NonResourceRule {
    fn matches(&self, info: &RequestInfo) -> bool {
        // upstream: "*", the path itself, or the path under the URL (a trailing `*` cut,
        // a `/` added): `/healthz` also matches `/healthz/etcd`.
        has(&self.verbs, &info.verb)
            && self.urls.iter().any(|u| {
                if u == "*" || *u == info.path {
                    return true;
                }
                let base = u.strip_suffix('*').unwrap_or(u);
                if base.ends_with('/') {
                    info.path.starts_with(base)
                } else {
                    info.path
                        .strip_prefix(base)
                        .is_some_and(|rest| rest.starts_with('/'))
                }
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn info(method: &str, path: &str) -> RequestInfo {
        RequestInfo::resolve(&method.parse().unwrap(), path, None)
    }

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..UserInfo::default()
        }
    }

    fn bootstrap() -> Config {
        let d = Dispatcher::new(600);
        let all = |kind| {
            let mut v = super::super::bootstrap::objects(false, kind);
            v.extend(super::super::bootstrap::objects(true, kind));
            v
        };
        Config::build(d, &all("FlowSchema"), &all("PriorityLevelConfiguration"))
    }

    fn schema(c: &Config, method: &str, path: &str, u: &UserInfo) -> &'static str {
        c.classify(&info(method, path), u).unwrap().0.name
    }

    #[test]
    fn the_bootstrap_schemas_classify_as_upstream() {
        let c = bootstrap();
        let names = c.schema_names();
        assert_eq!(names.first(), Some(&"exempt"));
        assert_eq!(names.last(), Some(&"catch-all"));
        let admin = user("admin", &["system:masters", "system:authenticated"]);
        assert_eq!(schema(&c, "GET", "/api/v1/pods", &admin), "exempt");
        let anon = user("system:anonymous", &["system:unauthenticated"]);
        assert_eq!(schema(&c, "GET", "/readyz", &anon), "probes");
        assert_eq!(schema(&c, "GET", "/api/v1/pods", &anon), "global-default");
        let node = user("system:node:n1", &["system:nodes", "system:authenticated"]);
        assert_eq!(schema(&c, "GET", "/api/v1/pods", &node), "system-nodes");
        let kcm = user("system:kube-controller-manager", &["system:authenticated"]);
        assert_eq!(
            schema(&c, "GET", "/api/v1/namespaces/a/pods", &kcm),
            "kube-controller-manager"
        );
        let sa = user(
            "system:serviceaccount:kube-system:foo",
            &["system:serviceaccounts", "system:authenticated"],
        );
        assert_eq!(
            schema(&c, "GET", "/api/v1/namespaces/a/pods", &sa),
            "kube-system-service-accounts"
        );
        let other_sa = user(
            "system:serviceaccount:team:foo",
            &["system:serviceaccounts", "system:authenticated"],
        );
        assert_eq!(
            schema(&c, "GET", "/api/v1/namespaces/a/pods", &other_sa),
            "service-accounts"
        );
        let alice = user("alice", &["system:authenticated"]);
        let pods = info("GET", "/api/v1/namespaces/a/pods");
        let (s, flow) = c.classify(&pods, &alice).unwrap();
        assert_eq!(
            (s.name, s.level.name, flow),
            ("global-default", "global-default", "alice")
        );
    }

    #[test]
    fn rules_match_subresources_scope_and_url_prefixes_and_dangling_is_skipped() {
        let d = Dispatcher::new(100);
        let fs = |name: &str, prec: i64, pl: &str, rule: Value| {
            json!({"metadata": {"name": name, "uid": format!("uid-{name}")},
                   "spec": {"priorityLevelConfiguration": {"name": pl}, "matchingPrecedence": prec,
                            "distinguisherMethod": {"type": "ByNamespace"}, "rules": [rule]}})
        };
        let bob = json!([{"kind": "User", "user": {"name": "bob"}}]);
        let schemas = vec![
            fs(
                "status-writes",
                10,
                "slow",
                json!({"subjects": bob, "resourceRules": [
                {"verbs": ["update"], "apiGroups": [""], "resources": ["pods/status"], "namespaces": ["*"]}]}),
            ),
            fs(
                "cluster",
                20,
                "slow",
                json!({"subjects": bob, "resourceRules": [
                {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": true}]}),
            ),
            fs(
                "metrics",
                30,
                "slow",
                json!({"subjects": bob, "nonResourceRules": [
                {"verbs": ["get"], "nonResourceURLs": ["/metrics", "/debug/*"]}]}),
            ),
            fs(
                "dangling",
                1,
                "no-such-level",
                json!({"subjects": bob, "resourceRules": [
                {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"], "clusterScope": true, "namespaces": ["*"]}]}),
            ),
        ];
        let levels = vec![json!({"metadata": {"name": "slow", "uid": "uid-slow"},
            "spec": {"type": "Limited", "limited": {"nominalConcurrencyShares": 10,
                     "limitResponse": {"type": "Reject"}}}})];
        let c = Config::build(d, &schemas, &levels);
        let b = user("bob", &["system:authenticated"]);
        let status = info("PUT", "/api/v1/namespaces/ns1/pods/p/status");
        let (s, flow) = c.classify(&status, &b).unwrap();
        assert_eq!((s.name, flow), ("status-writes", "ns1"));
        assert_eq!(s.uid, "uid-status-writes");
        assert_eq!(s.level_uid, "uid-slow");
        // The pod itself is not pods/status; namespaced, so not the cluster-scope rule.
        assert_eq!(
            schema(&c, "PUT", "/api/v1/namespaces/ns1/pods/p", &b),
            "catch-all"
        );
        assert_eq!(schema(&c, "GET", "/api/v1/nodes", &b), "cluster");
        assert_eq!(schema(&c, "GET", "/debug/pprof/heap", &b), "metrics");
        assert_eq!(schema(&c, "GET", "/metrics", &b), "metrics");
        assert_eq!(schema(&c, "GET", "/metricsx", &b), "catch-all");
        assert_eq!(schema(&c, "GET", "/metrics/slis", &b), "metrics");
        assert_eq!(schema(&c, "GET", "/debug", &b), "catch-all");
        assert!(!c.schema_names().contains(&"dangling"));
        // The stand-ins for the missing mandatory objects have no uid.
        let pods = info("GET", "/api/v1/pods");
        let (s, _) = c.classify(&pods, &user("carol", &[])).unwrap();
        assert_eq!((s.name, s.uid.to_str().unwrap()), ("catch-all", ""));
    }

    #[test]
    fn seats_are_shared_out_by_shares() {
        let spec = |name: &str, shares: u64, lend: u64| LevelSpec {
            name: name.into(),
            uid: String::new(),
            exempt: false,
            shares,
            lendable_percent: lend,
            borrowing_limit_percent: None,
            queuing: None,
        };
        let l = limits(&[spec("a", 30, 50), spec("b", 10, 0)], 600);
        assert_eq!((l[0].nominal, l[0].lendable), (450, 225));
        assert_eq!(l[1].nominal, 150);
        assert_eq!(l[1].borrowing_limit, u32::MAX);
    }
}
