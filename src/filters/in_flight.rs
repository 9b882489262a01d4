//! The in-flight wait group: graceful termination waits for the requests counted here.
//! Long-running requests (watches, and later exec/attach/proxy) are not counted, as upstream.

use shards::gate::{Gate, GateGuard};

use crate::request::RequestInfo;

/// Counts the request until the returned guard drops; None for long-running requests.
pub fn enter(gate: &Gate, info: &RequestInfo) -> Option<GateGuard> {
    if is_long_running(info) {
        None
    } else {
        Some(gate.enter())
    }
}

/// upstream's long-running test: watch and proxy verbs, and the attach/exec/log/portforward
/// style subresources.
pub fn is_long_running(info: &RequestInfo) -> bool {
    matches!(info.verb.as_str(), "watch" | "proxy")
        || matches!(
            info.subresource.as_str(),
            "attach" | "exec" | "proxy" | "log" | "portforward"
        )
}
