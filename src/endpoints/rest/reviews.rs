//! The resources the server answers instead of storing: authorization.k8s.io's
//! SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview and
//! SelfSubjectRulesReview, authentication.k8s.io's TokenReview and SelfSubjectReview, and
//! the TokenRequest of `serviceaccounts/<name>/token`. Each is created (201) with its spec
//! echoed and its status filled, as upstream's create-only REST handlers answer.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::api::status::{Status, StatusCause};
use crate::authn::service_account::claims::{self, BoundRef};
use crate::authn::service_account::TokenSettings;
use crate::authn::{Authentication, Credentials};
use crate::authz::{Attributes, AuthorizerChain, Decision};
use crate::codec::go_json;
use crate::registry::resources::Resource;
use crate::registry::store::{RequestFacts, Store};
use crate::request::UserInfo;

/// What the reviews need: who authenticates tokens, who authorizes, how tokens are issued.
pub struct Reviewers {
    /// The shard's authenticator union (TokenReview).
    pub authn: Rc<Authentication>,
    /// The shard's authorizers (access reviews).
    pub authz: Rc<AuthorizerChain>,
    /// ServiceAccount token issuing (TokenRequest).
    pub tokens: Arc<TokenSettings>,
}

impl std::fmt::Debug for Reviewers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reviewers").finish_non_exhaustive()
    }
}

fn invalid(group: &str, kind: &str, field: &str, message: &str) -> Status {
    Status::invalid(
        group,
        kind,
        "",
        vec![StatusCause {
            reason: Some("FieldValueRequired".into()),
            message: message.into(),
            field: Some(field.into()),
        }],
    )
}

fn decode(res: &Resource, body: &[u8]) -> Result<Map<String, Value>, Status> {
    let mut body = body.to_vec();
    let mut obj = crate::registry::strategy::decode_object(res, &mut body)?;
    crate::registry::strategy::check_type(res.api.api_version(), &mut obj, res.api.kind)?;
    Ok(obj)
}

/// The answer: the review with its status, Go's always-written fields filled.
fn answer(res: &Resource, mut obj: Map<String, Value>, status: Value) -> Vec<u8> {
    obj.insert("status".into(), status);
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    go_json::fill_go_zero_values(res.api.group, res.api.version, res.api.kind, &mut obj);
    let obj = crate::registry::strategy::canonical(obj);
    serde_json::to_vec(&obj).unwrap_or_default()
}

fn user_info_json(u: &UserInfo) -> Value {
    let mut v = json!({"username": u.name, "groups": u.groups});
    if !u.uid.is_empty() {
        v["uid"] = json!(u.uid);
    }
    if !u.extra.is_empty() {
        v["extra"] = json!(u.extra);
    }
    v
}

fn strs(v: Option<&Value>) -> Vec<String> {
    crate::api::meta::string_list(v)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

impl Reviewers {
    /// The audiences a review or token request asks for, else the API audiences.
    fn audiences(&self, spec: &Value) -> Vec<String> {
        let asked = strs(spec.get("audiences"));
        if asked.is_empty() {
            self.tokens.audiences.clone()
        } else {
            asked
        }
    }

    /// Creates a review of `res` for `user` (`namespace`: the URL's).
    pub async fn create(
        &self,
        res: &Resource,
        user: &UserInfo,
        namespace: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<u8>, Status> {
        let obj = decode(res, body)?;
        let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
        let kind = res.api.kind;
        let group = res.api.group;
        let status = match kind {
            "SelfSubjectAccessReview" => self.access(user, &spec, None, group, kind).await?,
            "LocalSubjectAccessReview" => {
                let ns = namespace.unwrap_or_default();
                let given = spec
                    .get("resourceAttributes")
                    .map(|r| s(r, "namespace"))
                    .unwrap_or_default();
                if given != ns {
                    return Err(Status::bad_request(format!(
                        "spec.resourceAttributes.namespace must match namespace: {ns}"
                    )));
                }
                self.access(&subject(&spec), &spec, Some(ns), group, kind)
                    .await?
            }
            "SubjectAccessReview" => {
                let subject = subject(&spec);
                if subject.name.is_empty() && subject.groups.is_empty() {
                    return Err(invalid(
                        group,
                        kind,
                        "spec.user",
                        "at least one of user or group must be specified",
                    ));
                }
                self.access(&subject, &spec, None, group, kind).await?
            }
            "SelfSubjectRulesReview" => {
                let ns = s(&spec, "namespace");
                let rules = self.authz.rules_for(user, ns);
                let resource_rules: Vec<Value> = rules
                    .resource_rules
                    .iter()
                    .map(|r| {
                        let mut v = json!({"verbs": r.verbs, "apiGroups": r.api_groups, "resources": r.resources});
                        if !r.resource_names.is_empty() {
                            v["resourceNames"] = json!(r.resource_names);
                        }
                        v
                    })
                    .collect();
                let non_resource: Vec<Value> = rules
                    .non_resource_rules
                    .iter()
                    .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
                    .collect();
                json!({"resourceRules": resource_rules, "nonResourceRules": non_resource, "incomplete": rules.incomplete})
            }
            "SelfSubjectReview" => json!({"userInfo": user_info_json(user)}),
            "TokenReview" => {
                let token = s(&spec, "token");
                let auth_header = format!("Bearer {token}");
                let checked = self
                    .authn
                    .authenticate(Credentials {
                        certificates: &[],
                        authorization: Some(&auth_header),
                        path: "",
                    })
                    .await;
                match checked {
                    Ok(u) if !token.is_empty() => {
                        let audiences = self.audiences(&spec);
                        json!({"authenticated": true, "user": user_info_json(&u), "audiences": audiences})
                    }
                    _ => {
                        json!({"user": {}, "error": "[invalid bearer token, token could not be verified]"})
                    }
                }
            }
            other => return Err(Status::internal(format!("no review named {other}"))),
        };
        Ok(answer(res, obj, status))
    }

    async fn access(
        &self,
        user: &UserInfo,
        spec: &Value,
        namespace: Option<&str>,
        group: &str,
        kind: &str,
    ) -> Result<Value, Status> {
        let resource = spec.get("resourceAttributes");
        let non_resource = spec.get("nonResourceAttributes");
        let empty = Value::Null;
        let a = match (resource, non_resource) {
            (Some(r), None) => Attributes {
                user,
                verb: s(r, "verb"),
                resource_request: true,
                namespace: namespace.unwrap_or(s(r, "namespace")),
                api_group: s(r, "group"),
                api_version: s(r, "version"),
                resource: s(r, "resource"),
                subresource: s(r, "subresource"),
                name: s(r, "name"),
                path: "",
            },
            (None, Some(n)) => Attributes {
                user,
                verb: s(n, "verb"),
                resource_request: false,
                namespace: "",
                api_group: "",
                api_version: "",
                resource: "",
                subresource: "",
                name: "",
                path: s(n, "path"),
            },
            (Some(_), Some(_)) => {
                return Err(invalid(
                    group,
                    kind,
                    "spec.nonResourceAttributes",
                    "cannot be specified in combination with resourceAttributes",
                ))
            }
            (None, None) => {
                let _ = &empty;
                return Err(invalid(
                    group,
                    kind,
                    "spec.resourceAttributes",
                    "exactly one of nonResourceAttributes or resourceAttributes must be specified",
                ));
            }
        };
        Ok(match self.authz.authorize(&a).await {
            Decision::Allow(reason) => {
                let mut v = json!({"allowed": true});
                if !reason.is_empty() {
                    v["reason"] = json!(reason);
                }
                v
            }
            Decision::Deny(reason) => {
                let mut v = json!({"allowed": false, "denied": true});
                if !reason.is_empty() {
                    v["reason"] = json!(reason);
                }
                v
            }
            Decision::NoOpinion(reason) => {
                let mut v = json!({"allowed": false});
                if !reason.is_empty() {
                    v["reason"] = json!(reason);
                }
                v
            }
            Decision::Error(e) => json!({"allowed": false, "evaluationError": e}),
        })
    }

    /// `serviceaccounts/<name>/token`: a bound token for the ServiceAccount the request names.
    pub async fn token_request(
        &self,
        store: &Store,
        sa_res: &Resource,
        facts: &RequestFacts,
        body: &[u8],
    ) -> Result<Vec<u8>, Status> {
        const GROUP: &str = "authentication.k8s.io";
        const KIND: &str = "TokenRequest";
        let mut obj: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match serde_json::from_slice(body) {
                Ok(Value::Object(m)) => m,
                _ => {
                    return Err(Status::bad_request(
                        "the object provided is unrecognized (must be of type TokenRequest)",
                    ))
                }
            }
        };
        obj.insert("kind".into(), json!(KIND));
        obj.insert("apiVersion".into(), json!("authentication.k8s.io/v1"));
        let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
        let seconds = spec
            .get("expirationSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(3600);
        if seconds < 600 {
            return Err(invalid_value(
                GROUP,
                KIND,
                "spec.expirationSeconds",
                seconds,
                "may not specify a duration less than 10 minutes",
            ));
        }
        if seconds > 1 << 32 {
            return Err(invalid_value(
                GROUP,
                KIND,
                "spec.expirationSeconds",
                seconds,
                "may not specify a duration larger than 2^32 seconds",
            ));
        }
        let seconds = match self.tokens.max_expiration {
            Some(max) => seconds.min(max.as_secs() as i64),
            None => seconds,
        };
        let ns = facts.namespace.as_deref().unwrap_or_default();
        let sa = parsed(&store.get(sa_res, facts, "").await?.body);
        let sa_ref = BoundRef {
            name: facts.name.clone(),
            uid: s(&sa["metadata"], "uid").to_string(),
        };
        let bound = match spec.get("boundObjectRef") {
            None | Some(Value::Null) => None,
            Some(r) => {
                let kind = s(r, "kind");
                let (plural, namespaced) = match kind {
                    "Pod" => ("pods", true),
                    "Secret" => ("secrets", true),
                    "Node" => ("nodes", false),
                    other => {
                        return Err(Status::bad_request(format!(
                            "cannot bind token for serviceaccount {:?} to object of kind {other:?}: only Pod, Secret and Node are supported",
                            facts.name
                        )))
                    }
                };
                let row = store
                    .table()
                    .get("", "v1", plural)
                    .ok_or_else(|| Status::internal("no such resource"))?;
                let object_facts = RequestFacts {
                    namespace: namespaced.then(|| ns.to_string()),
                    name: s(r, "name").to_string(),
                    subresource: None,
                    ..facts.clone()
                };
                let found = parsed(&store.get(&row, &object_facts, "").await?.body);
                let uid = s(&found["metadata"], "uid").to_string();
                let want_uid = s(r, "uid");
                if !want_uid.is_empty() && want_uid != uid {
                    return Err(Status::conflict(
                        "",
                        plural,
                        s(r, "name"),
                        &format!("the UID in the bound object reference ({want_uid}) does not match the UID in record. The object might have been deleted and then recreated"),
                    ));
                }
                Some((
                    kind,
                    BoundRef {
                        name: s(r, "name").to_string(),
                        uid,
                    },
                ))
            }
        };
        let audiences = self.audiences(&spec);
        let issuer = self.tokens.issuers.first().cloned().unwrap_or_default();
        let c = claims::bound(&issuer, audiences.clone(), ns, sa_ref, bound, seconds);
        let token = claims::sign(&self.tokens.signing_key, &c).map_err(Status::internal)?;
        let exp = c.exp.unwrap_or_default();
        let expires = time::OffsetDateTime::from_unix_timestamp(exp)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        let mut spec_out = spec.as_object().cloned().unwrap_or_default();
        spec_out.insert("audiences".into(), json!(audiences));
        spec_out.insert("expirationSeconds".into(), json!(seconds));
        obj.insert("spec".into(), Value::Object(spec_out));
        let meta = obj.entry("metadata").or_insert_with(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            m.insert("name".into(), json!(facts.name));
            m.insert("namespace".into(), json!(ns));
            m.insert(
                "creationTimestamp".into(),
                json!(crate::registry::strategy::now_rfc3339()),
            );
        }
        obj.insert(
            "status".into(),
            json!({"token": token, "expirationTimestamp": expires}),
        );
        go_json::fill_go_zero_values(GROUP, "v1", KIND, &mut obj);
        let obj = crate::registry::strategy::canonical(obj);
        Ok(serde_json::to_vec(&obj).unwrap_or_default())
    }
}

fn invalid_value(group: &str, kind: &str, field: &str, value: i64, detail: &str) -> Status {
    Status::invalid(
        group,
        kind,
        "",
        vec![StatusCause {
            reason: Some("FieldValueInvalid".into()),
            message: format!("Invalid value: {value}: {detail}"),
            field: Some(field.into()),
        }],
    )
}

fn parsed(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or(Value::Null)
}

/// The user a SubjectAccessReview asks about.
fn subject(spec: &Value) -> UserInfo {
    let mut extra = BTreeMap::new();
    if let Some(m) = spec.get("extra").and_then(Value::as_object) {
        for (k, v) in m {
            extra.insert(k.clone(), strs(Some(v)));
        }
    }
    UserInfo {
        name: s(spec, "user").to_string(),
        uid: s(spec, "uid").to_string(),
        groups: strs(spec.get("groups")),
        extra,
    }
}
