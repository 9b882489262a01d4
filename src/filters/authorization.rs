//! Authorization: the request's attributes (user, verb, resource or path) asked of the
//! `--authorization-mode` chain; anything not allowed is upstream's 403.

use std::time::Instant;

use hyper::Response;
use shards::server::Body;

use crate::authz::{forbidden, Attributes, AuthorizerChain, Decision};
use crate::endpoints::response;
use crate::metrics::AuthzResult;
use crate::request::{RequestInfo, UserInfo};

/// The 403 (or, when an authorizer failed and none allowed, upstream's plain-text 500) to
/// answer instead of serving, if any.
pub async fn check(
    authz: &AuthorizerChain,
    user: &UserInfo,
    info: &RequestInfo,
    request_uri: &str,
    audit: Option<&super::audit::AuditRecord>,
) -> Option<Response<Body>> {
    let a = Attributes::of_request(user, info);
    let started = Instant::now();
    let (decision, by) = authz.authorize_by(&a).await;
    let result = match decision {
        Decision::Allow(_) => AuthzResult::Allowed,
        Decision::Deny(_) => AuthzResult::Denied,
        Decision::NoOpinion(_) => AuthzResult::NoOpinion,
        Decision::Error(_) => AuthzResult::Error,
    };
    crate::metrics::record(|m| {
        m.authorization(result, started.elapsed());
        if let Some(by) = by {
            let verdict = if result == AuthzResult::Allowed {
                "allowed"
            } else {
                "denied"
            };
            m.authorization_decision(by.kind, by.name, verdict);
        }
    });
    if let Some(record) = audit {
        match &decision {
            Decision::Allow(reason) => record.authorized(true, reason),
            Decision::Deny(reason) | Decision::NoOpinion(reason) => {
                record.authorized(false, reason)
            }
            Decision::Error(_) => {}
        }
    }
    match decision {
        Decision::Allow(_) => None,
        Decision::Deny(reason) | Decision::NoOpinion(reason) => {
            Some(response::status(&forbidden(&a, &reason)))
        }
        Decision::Error(e) => Some(response::internal_error(request_uri, &e)),
    }
}
