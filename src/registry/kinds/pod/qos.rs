//! A Pod's QoS class (`status.qosClass`), computed from its containers' CPU and memory
//! requests and limits as upstream's `GetPodQOS` does when a Pod is created.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::registry::quantity::Quantity;

/// The resources the QoS class looks at.
const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// `BestEffort`, `Burstable` or `Guaranteed` for the (defaulted) pod spec `spec`.
pub fn qos_class(spec: &Map<String, Value>) -> &'static str {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = ["containers", "initContainers"]
        .into_iter()
        .filter_map(|l| spec.get(l).and_then(Value::as_array))
        .flatten();
    for c in containers {
        let resources = c.get("resources");
        let sum = |which: &str, into: &mut BTreeMap<&str, Quantity>| {
            let mut found = Vec::new();
            for name in QOS_RESOURCES {
                let q = resources
                    .and_then(|r| r.get(which))
                    .and_then(|m| m.get(name))
                    .and_then(quantity)
                    .filter(|q| q.is_positive());
                if let Some(q) = q {
                    let total = into.entry(name).or_insert(Quantity(0));
                    *total = total.checked_add(q).unwrap_or(*total);
                    found.push(name);
                }
            }
            found
        };
        sum("requests", &mut requests);
        if sum("limits", &mut limits).len() < QOS_RESOURCES.len() {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.len() == limits.len()
        && requests.iter().all(|(k, r)| limits.get(k) == Some(r))
    {
        return "Guaranteed";
    }
    "Burstable"
}

fn quantity(v: &Value) -> Option<Quantity> {
    match v {
        Value::String(s) => Quantity::parse(s),
        Value::Number(n) => Quantity::parse(&n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn class(spec: Value) -> &'static str {
        qos_class(spec.as_object().unwrap())
    }

    #[test]
    fn classes() {
        assert_eq!(class(json!({"containers": [{"name": "a"}]})), "BestEffort");
        let both = json!({"cpu": "500m", "memory": "128Mi"});
        assert_eq!(
            class(
                json!({"containers": [{"resources": {"limits": both, "requests": {"cpu": "0.5", "memory": "128Mi"}}}]})
            ),
            "Guaranteed"
        );
        assert_eq!(
            class(
                json!({"containers": [{"resources": {"limits": both, "requests": {"cpu": "100m", "memory": "128Mi"}}}]})
            ),
            "Burstable"
        );
        assert_eq!(
            class(json!({"containers": [{"resources": {"requests": {"cpu": "100m"}}}]})),
            "Burstable"
        );
        // One container without limits makes the pod Burstable.
        assert_eq!(
            class(json!({"containers": [
                {"resources": {"limits": both, "requests": both}},
                {"resources": {"requests": {"memory": "1Mi"}}}]})),
            "Burstable"
        );
        // Other resources do not count.
        assert_eq!(
            class(json!({"containers": [{"resources": {"limits": {"nvidia.com/gpu": 1}}}]})),
            "BestEffort"
        );
    }
}
