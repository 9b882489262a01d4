//! `TaintNodesByCondition`: a new Node is tainted `node.kubernetes.io/not-ready:NoSchedule`
//! until the node lifecycle controller sees it ready, so nothing is scheduled onto a node
//! that has not reported yet, as upstream's plugin of that name.

use serde_json::{json, Value};

use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// The plugin.
#[derive(Debug, Default)]
pub struct TaintNodesByCondition;

impl AdmissionPlugin for TaintNodesByCondition {
    fn name(&self) -> &'static str {
        "TaintNodesByCondition"
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(node) = obj else { return Ok(()) };
            let r = attrs.resource;
            if !r.group.is_empty()
                || r.plural != "nodes"
                || attrs.operation != Operation::Create
                || attrs.request.subresource.is_some()
            {
                return Ok(());
            }
            let spec = node.entry("spec").or_insert_with(|| json!({}));
            let Some(spec) = spec.as_object_mut() else {
                return Ok(());
            };
            let taints = spec.entry("taints").or_insert_with(|| json!([]));
            if let Some(t) = taints.as_array_mut() {
                let present = t.iter().any(|t| {
                    t.get("key").and_then(Value::as_str) == Some("node.kubernetes.io/not-ready")
                        && t.get("effect").and_then(Value::as_str) == Some("NoSchedule")
                });
                if !present {
                    t.push(json!({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}));
                }
            }
            Ok(())
        })
    }
}
