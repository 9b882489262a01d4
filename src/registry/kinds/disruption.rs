//! PodDisruptionBudget facts the eviction subresource and the in-process disruption
//! controller share: which budget covers a Pod, whether a Pod counts as healthy, and the
//! `DisruptionAllowed` condition, as upstream's `pdb` helpers define them.

use serde_json::{json, Map, Value};

use crate::request::selector::{label_selector_string, LabelSelector};

/// The condition type upstream's disruption controller keeps on every budget.
pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";

/// Whether budget `pdb` covers `pod`: same namespace and a selector that matches its labels.
/// A budget with no selector, or an empty one, covers nothing (upstream: "it should match
/// nothing, not everything").
pub fn covers(pdb: &Value, pod: &Value) -> bool {
    let ns = |o: &Value| {
        o.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if ns(pdb) != ns(pod) {
        return false;
    }
    let Some(sel) = pdb.pointer("/spec/selector") else {
        return false;
    };
    let query = label_selector_string(sel);
    if query.is_empty() {
        return false;
    }
    LabelSelector::parse(&query)
        .is_ok_and(|s| s.matches(pod.pointer("/metadata/labels").and_then(Value::as_object)))
}

/// Whether the Pod is Ready (upstream's `IsPodReady`, what a budget counts as healthy).
pub fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
}

/// Whether a Pod's phase or deletion means an eviction need not ask its budget (upstream's
/// `canIgnorePDB`: Succeeded, Failed and Pending Pods, and Pods already being deleted).
pub fn budget_ignorable(pod: &Value) -> bool {
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    matches!(phase, Some("Succeeded" | "Failed" | "Pending"))
        || pod
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
}

/// Sets the budget status's `DisruptionAllowed` condition from `disruptionsAllowed`
/// (`SufficientPods` / `InsufficientPods`), keeping its transition time when the status
/// did not change.
pub fn set_disruption_allowed(status: &mut Map<String, Value>, now: &str) {
    let allowed = status
        .get("disruptionsAllowed")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        > 0;
    let (st, reason) = if allowed {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let observed = status
        .get("observedGeneration")
        .cloned()
        .unwrap_or(Value::from(0));
    set_condition(status, DISRUPTION_ALLOWED, st, reason, "", observed, now);
}

/// Puts a condition into `status.conditions`, replacing one of the same type; the transition
/// time moves only when the status does.
pub fn set_condition(
    status: &mut Map<String, Value>,
    kind: &str,
    st: &str,
    reason: &str,
    message: &str,
    observed_generation: Value,
    now: &str,
) {
    let conditions = status
        .entry("conditions")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !conditions.is_array() {
        *conditions = Value::Array(Vec::new());
    }
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let old = list
        .iter()
        .position(|c| c.get("type").and_then(Value::as_str) == Some(kind));
    let since = old
        .and_then(|i| list.get(i))
        .filter(|c| c.get("status").and_then(Value::as_str) == Some(st))
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| Value::from(now));
    let mut c = json!({
        "type": kind,
        "status": st,
        "observedGeneration": observed_generation,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    });
    if observed_generation_is_zero(&c) {
        if let Some(m) = c.as_object_mut() {
            m.remove("observedGeneration");
        }
    }
    match old {
        Some(i) => list[i] = c,
        None => list.push(c),
    }
}

fn observed_generation_is_zero(c: &Value) -> bool {
    c.get("observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_budget_covers_pods_its_selector_matches_in_its_namespace_only() {
        let pdb = json!({"metadata": {"namespace": "a"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}});
        let pod =
            |ns: &str, app: &str| json!({"metadata": {"namespace": ns, "labels": {"app": app}}});
        assert!(covers(&pdb, &pod("a", "web")));
        assert!(!covers(&pdb, &pod("a", "db")));
        assert!(!covers(&pdb, &pod("b", "web")));
        let empty = json!({"metadata": {"namespace": "a"}, "spec": {"selector": {}}});
        assert!(!covers(&empty, &pod("a", "web")));
        let none = json!({"metadata": {"namespace": "a"}, "spec": {}});
        assert!(!covers(&none, &pod("a", "web")));
    }

    #[test]
    fn the_condition_follows_disruptions_allowed_and_keeps_its_transition_time() {
        let mut st = json!({"disruptionsAllowed": 1, "observedGeneration": 2})
            .as_object()
            .cloned()
            .unwrap();
        set_disruption_allowed(&mut st, "t1");
        set_disruption_allowed(&mut st, "t2");
        let c = &st["conditions"][0];
        assert_eq!(c["status"], "True");
        assert_eq!(c["reason"], "SufficientPods");
        assert_eq!(c["lastTransitionTime"], "t1");
        st.insert("disruptionsAllowed".into(), json!(0));
        set_disruption_allowed(&mut st, "t3");
        let c = &st["conditions"][0];
        assert_eq!(
            (c["status"].as_str(), c["reason"].as_str()),
            (Some("False"), Some("InsufficientPods"))
        );
        assert_eq!(c["lastTransitionTime"], "t3");
        assert_eq!(st["conditions"].as_array().unwrap().len(), 1);
    }
}
