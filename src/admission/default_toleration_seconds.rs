//! `DefaultTolerationSeconds`: a Pod that does not tolerate the `not-ready` and
//! `unreachable` NoExecute taints gets tolerations for them that last
//! `--default-not-ready-toleration-seconds` / `--default-unreachable-toleration-seconds`
//! (300 s each), so its node's failure evicts it after five minutes, as upstream's plugin
//! of that name does. Creates and updates of Pods themselves, not their subresources.

use serde_json::{json, Value};

use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// The taint a node gets while it is not ready.
const NOT_READY: &str = "node.kubernetes.io/not-ready";
/// The taint a node gets while the node controller cannot reach it.
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// The plugin, with its two durations.
#[derive(Debug)]
pub struct DefaultTolerationSeconds {
    /// Seconds of the `not-ready` toleration.
    pub not_ready_seconds: i64,
    /// Seconds of the `unreachable` toleration.
    pub unreachable_seconds: i64,
}

/// Whether `t` tolerates the NoExecute taint `key` (an empty key or effect matches all).
fn tolerates(t: &Value, key: &str) -> bool {
    let s = |f: &str| t.get(f).and_then(Value::as_str).unwrap_or_default();
    (s("key") == key || s("key").is_empty())
        && (s("effect") == "NoExecute" || s("effect").is_empty())
}

impl DefaultTolerationSeconds {
    fn add(&self, pod: &mut Object) {
        let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        let list = spec
            .entry("tolerations")
            .or_insert_with(|| Value::Array(Vec::new()));
        if list.is_null() {
            *list = Value::Array(Vec::new());
        }
        let Some(list) = list.as_array_mut() else {
            return;
        };
        for (key, seconds) in [
            (NOT_READY, self.not_ready_seconds),
            (UNREACHABLE, self.unreachable_seconds),
        ] {
            if !list.iter().any(|t| tolerates(t, key)) {
                list.push(
                    json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                    "tolerationSeconds": seconds}),
                );
            }
        }
    }
}

impl AdmissionPlugin for DefaultTolerationSeconds {
    fn name(&self) -> &'static str {
        "DefaultTolerationSeconds"
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            if let (true, Some(pod)) = (
                super::pod_itself(&attrs, &[Operation::Create, Operation::Update]),
                obj,
            ) {
                self.add(pod);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn adds_what_the_pod_does_not_tolerate() {
        let p = DefaultTolerationSeconds {
            not_ready_seconds: 300,
            unreachable_seconds: 60,
        };
        let mut pod = json!({"spec": {"containers": []}})
            .as_object()
            .unwrap()
            .clone();
        p.add(&mut pod);
        assert_eq!(
            pod["spec"]["tolerations"],
            json!([{"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                   {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}])
        );
        // Its own not-ready toleration stays; an operator-Exists toleration of every taint
        // tolerates both.
        let mut own = json!({"spec": {"tolerations": [{"key": NOT_READY, "operator": "Exists"}]}})
            .as_object()
            .unwrap()
            .clone();
        p.add(&mut own);
        assert_eq!(own["spec"]["tolerations"].as_array().unwrap().len(), 2);
        assert_eq!(own["spec"]["tolerations"][1]["key"], UNREACHABLE);
        let mut all = json!({"spec": {"tolerations": [{"operator": "Exists"}]}})
            .as_object()
            .unwrap()
            .clone();
        p.add(&mut all);
        assert_eq!(all["spec"]["tolerations"].as_array().unwrap().len(), 1);
    }
}
