//! Authentication, for now: API resource requests need a client certificate verified against
//! the client CA (rustls did the verifying during the handshake); anything else is 401.
//! Health, version and discovery stay public, as upstream's default RBAC leaves them.

use hyper::Response;
use shards::server::{Body, ConnInfo};

use crate::api::status::Status;
use crate::endpoints::response;
use crate::request::RequestInfo;

/// The 401 to answer instead of serving, if any.
pub fn check(info: &RequestInfo, conn: &ConnInfo) -> Option<Response<Body>> {
    if info.is_resource_request && conn.peer_certificates.is_empty() {
        return Some(response::status(&Status::unauthorized()));
    }
    None
}
