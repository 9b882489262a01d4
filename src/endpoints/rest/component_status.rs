//! `componentstatuses` (core/v1, deprecated upstream since 1.19 but still served): one
//! ComponentStatus per storage backend, `etcd-0`, Healthy when the backend answered its last
//! probe, as kube-apiserver reports its etcd servers. Never stored.

use bytes::Bytes;
use http::StatusCode;
use hyper::Response;
use serde_json::{json, Map, Value};
use shards::server::Body;

use super::render;
use super::response;
use super::Routed;
use crate::api::status::Status;
use crate::printers::Output;
use crate::registry::store::Store;

/// upstream's deprecation warning on every ComponentStatus answer.
const DEPRECATED: &str = "v1 ComponentStatus is deprecated in v1.19+";

/// The statuses now, sorted by name.
fn statuses(store: &Store) -> Vec<Value> {
    let healthy = store.backend_healthy();
    let (st, message, error) = if healthy {
        ("True", "ok", "")
    } else {
        ("False", "", "storage backend is unreachable")
    };
    let mut cond = json!({"type": "Healthy", "status": st});
    if !message.is_empty() {
        cond["message"] = json!(message);
    }
    if !error.is_empty() {
        cond["error"] = json!(error);
    }
    vec![json!({
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": "etcd-0"},
        "conditions": [cond],
    })]
}

/// Answers `get` and `list` of componentstatuses.
pub(super) fn serve(store: &Store, r: &Routed, verb: &str) -> Response<Body> {
    let items = statuses(store);
    let resp = match verb {
        "get" => match items
            .into_iter()
            .find(|i| i.pointer("/metadata/name").and_then(Value::as_str) == Some(&r.facts.name))
        {
            Some(obj) => {
                let bytes = Bytes::from(serde_json::to_vec(&obj).unwrap_or_default());
                response::json(StatusCode::OK, render::one(r.output, &r.res, &bytes))
            }
            // upstream answers an unknown component with a plain error: a 500.
            None => response::status(&Status::internal(format!(
                "Component not found: {}",
                r.facts.name
            ))),
        },
        "list" if r.output == Output::Json => {
            let list = json!({
                "kind": "ComponentStatusList",
                "apiVersion": "v1",
                "metadata": {},
                "items": items,
            });
            response::json(
                StatusCode::OK,
                serde_json::to_vec(&list).unwrap_or_default(),
            )
        }
        "list" => {
            let items = items
                .iter()
                .map(|i| Bytes::from(serde_json::to_vec(i).unwrap_or_default()));
            let body = crate::printers::render_list(r.output, &r.res.printer, Map::new(), items);
            response::json(StatusCode::OK, body)
        }
        _ => response::status(&Status::method_not_supported("", "componentstatuses", verb)),
    };
    response::with_warnings(resp, &[DEPRECATED.to_string()])
}
