//! Authentication: the request's user from its client certificate or bearer token, or
//! `system:anonymous` (see `authn`); a credential that does not authenticate is a 401.
//! Upstream removes the `Authorization` header once it is read; nothing below needs it.

use std::time::Instant;

use hyper::Request;
use shards::server::ConnInfo;

use crate::api::status::Status;
use crate::authn::{Authentication, Credentials};
use crate::metrics::AuthnResult;
use crate::request::UserInfo;

/// The request's user, or the 401 to answer.
pub async fn authenticate<B>(
    authn: &Authentication,
    req: &Request<B>,
    conn: &ConnInfo,
) -> Result<UserInfo, Status> {
    let authorization = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let started = Instant::now();
    let user = authn
        .authenticate(Credentials {
            certificates: &conn.peer_certificates,
            authorization,
            path: req.uri().path(),
        })
        .await;
    // A refused credential is a failure; a 500 (an authenticator that could not decide) is
    // upstream's error.
    let result = match &user {
        Ok(_) => AuthnResult::Success,
        Err(s) if s.code == 401 => AuthnResult::Failure,
        Err(_) => AuthnResult::Error,
    };
    crate::metrics::record(|m| m.authentication(result, started.elapsed()));
    user
}
