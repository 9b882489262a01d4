//! `events.k8s.io/v1` Event <-> core `v1` Event, the form both are stored in (upstream keeps
//! one internal Event behind both APIs; the differences are field names).

use serde_json::{Map, Value};

/// `(events.k8s.io/v1 name, core/v1 name)` of every field the two spell differently.
const RENAMES: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// An `events.k8s.io/v1` Event as the core Event that stores it.
pub(super) fn to_core(mut obj: Map<String, Value>) -> Map<String, Value> {
    for (events, core) in RENAMES {
        if let Some(v) = obj.remove(*events) {
            obj.insert((*core).to_string(), v);
        }
    }
    obj
}

/// A stored core Event as `events.k8s.io/v1` shows it.
pub(super) fn from_core(mut obj: Map<String, Value>) -> Map<String, Value> {
    for (events, core) in RENAMES {
        if let Some(v) = obj.remove(*core) {
            // An empty core EventSource is how upstream writes "no source"; events.k8s.io
            // omits it.
            if *core == "source" && v.as_object().is_some_and(Map::is_empty) {
                continue;
            }
            obj.insert((*events).to_string(), v);
        }
    }
    obj
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::super::tests::map;
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_every_renamed_field() {
        let events = map(json!({
            "metadata": {"name": "e"},
            "eventTime": "2026-11-22T10:00:00.000000Z",
            "regarding": {"kind": "Pod", "name": "p"},
            "note": "pulled",
            "reason": "Pulled",
            "type": "Normal",
            "action": "Pull",
            "reportingController": "kubelet",
            "reportingInstance": "node-1",
            "deprecatedSource": {"component": "kubelet"},
            "deprecatedCount": 3,
            "deprecatedFirstTimestamp": "2026-11-22T09:00:00Z",
            "deprecatedLastTimestamp": "2026-11-22T10:00:00Z",
            "series": {"count": 2, "lastObservedTime": "2026-11-22T10:00:00.000000Z"},
        }));
        let core = to_core(events.clone());
        assert_eq!(core["involvedObject"], json!({"kind": "Pod", "name": "p"}));
        assert_eq!(core["message"], "pulled");
        assert_eq!(core["reportingComponent"], "kubelet");
        assert_eq!(core["source"], json!({"component": "kubelet"}));
        assert_eq!(core["count"], 3);
        assert_eq!(core["firstTimestamp"], "2026-11-22T09:00:00Z");
        assert_eq!(core["series"]["count"], 2);
        assert!(core.get("note").is_none() && core.get("regarding").is_none());
        assert_eq!(from_core(core), events);
    }

    #[test]
    fn empty_core_source_is_omitted() {
        let ev = from_core(map(json!({"message": "m", "source": {}})));
        assert_eq!(Value::Object(ev), json!({"note": "m"}));
    }
}
