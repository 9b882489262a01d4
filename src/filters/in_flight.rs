//! The in-flight wait group: graceful termination waits for the requests counted here.
//! Long-running requests (watches, and later exec/attach/proxy) are not counted, as upstream.

use shards::gate::{Gate, GateGuard};

use crate::request::RequestInfo;

/// Counts the request until the returned guard drops; None for long-running requests.
pub fn enter(gate: &Gate, info: &RequestInfo) -> Option<GateGuard> {
    if info.is_long_running() {
        None
    } else {
        Some(gate.enter())
    }
}
