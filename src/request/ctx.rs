//! `RequestCtx`: the facts every filter and handler below the request-info filter may rely on.

use std::rc::Rc;
use std::time::Instant;

use shards::server::ConnInfo;

use super::{RequestInfo, UserInfo};

/// Request facts, typed, set once by the filters that learn them (no lookups that can fail).
#[derive(Clone, Debug)]
pub struct RequestCtx {
    /// What the request addresses.
    pub info: Rc<RequestInfo>,
    /// The connection it came on (peer, protocol, verified client certificates).
    pub conn: Rc<ConnInfo>,
    /// When the request arrived (its metrics' durations count from here).
    pub received: Instant,
    /// When the request must be finished (`--request-timeout` from arrival).
    pub deadline: Instant,
    /// The audit id, echoed in the `Audit-Id` response header as upstream does.
    pub audit_id: String,
    /// Who asks (empty until authentication sets users).
    pub user: Rc<UserInfo>,
}
