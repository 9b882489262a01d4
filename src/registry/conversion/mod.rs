//! Versions served in one shape and stored in another: a resource whose row names another
//! storage kind converts request bodies to that kind before the strategy sees them, and
//! converts what storage holds back to the served version in every answer (objects, lists,
//! Table rows with objects, watch events). Upstream does this through its internal types;
//! here the two JSON shapes are mapped directly.

mod events;
mod hpa;

use serde_json::{Map, Value};

use crate::api::status::Status;

/// The conversions kubeshard knows, one per pair of (served, stored) kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// `events.k8s.io/v1` Event, stored as a core `v1` Event.
    EventsV1,
    /// `autoscaling/v1` HorizontalPodAutoscaler, stored as `autoscaling/v2`.
    AutoscalingV1,
}

impl Conversion {
    /// The conversion from `served` to `stored` (`group`, `version`, `kind` each), if known.
    pub fn between(served: (&str, &str, &str), stored: (&str, &str, &str)) -> Option<Self> {
        match (served, stored) {
            (("events.k8s.io", "v1", "Event"), ("", "v1", "Event")) => Some(Self::EventsV1),
            (
                ("autoscaling", "v1", "HorizontalPodAutoscaler"),
                ("autoscaling", "v2", "HorizontalPodAutoscaler"),
            ) => Some(Self::AutoscalingV1),
            _ => None,
        }
    }

    /// `apiVersion` and `kind` of the stored form.
    pub fn stored(self) -> (&'static str, &'static str) {
        match self {
            Self::EventsV1 => ("v1", "Event"),
            Self::AutoscalingV1 => ("autoscaling/v2", "HorizontalPodAutoscaler"),
        }
    }

    /// `apiVersion` and `kind` of the served form.
    pub fn served(self) -> (&'static str, &'static str) {
        match self {
            Self::EventsV1 => ("events.k8s.io/v1", "Event"),
            Self::AutoscalingV1 => ("autoscaling/v1", "HorizontalPodAutoscaler"),
        }
    }

    /// A request body (already checked to be the served kind) as the stored kind.
    pub fn to_stored(self, obj: Map<String, Value>) -> Result<Map<String, Value>, Status> {
        let mut out = match self {
            Self::EventsV1 => events::to_core(obj),
            Self::AutoscalingV1 => hpa::to_v2(obj).map_err(Status::bad_request)?,
        };
        set_type(&mut out, self.stored());
        Ok(out)
    }

    /// A stored object as the served version shows it. Objects already in the served form
    /// (or of any other kind) are left alone.
    pub fn to_served(self, obj: Map<String, Value>) -> Map<String, Value> {
        if !has_type(&obj, self.stored()) {
            return obj;
        }
        let mut out = match self {
            Self::EventsV1 => events::from_core(obj),
            Self::AutoscalingV1 => hpa::to_v1(obj),
        };
        set_type(&mut out, self.served());
        out
    }

    /// Converts every stored-form object in an answer: the object itself, a list's items, a
    /// Table's row objects, a watch event's object.
    pub fn present(self, value: &mut Value) {
        let Some(map) = value.as_object_mut() else {
            return;
        };
        if has_type(map, self.stored()) {
            let obj = std::mem::take(map);
            *map = self.to_served(obj);
            return;
        }
        for key in ["items", "rows"] {
            if let Some(list) = map.get_mut(key).and_then(Value::as_array_mut) {
                for item in list {
                    if key == "rows" {
                        if let Some(o) = item.get_mut("object") {
                            self.present(o);
                        }
                    } else {
                        self.present(item);
                    }
                }
            }
        }
        if map.contains_key("type") {
            if let Some(o) = map.get_mut("object") {
                self.present(o);
            }
        }
    }
}

fn has_type(obj: &Map<String, Value>, (api_version, kind): (&str, &str)) -> bool {
    obj.get("apiVersion").and_then(Value::as_str) == Some(api_version)
        && obj.get("kind").and_then(Value::as_str) == Some(kind)
}

/// Sets `kind` and `apiVersion`, keeping them first as upstream writes them.
fn set_type(obj: &mut Map<String, Value>, (api_version, kind): (&str, &str)) {
    obj.shift_remove("kind");
    obj.shift_remove("apiVersion");
    obj.shift_insert(0, "kind".into(), Value::from(kind));
    obj.shift_insert(1, "apiVersion".into(), Value::from(api_version));
}

#[cfg(test)]
pub(super) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    /// A JSON object literal as a map (test bodies).
    pub(in crate::registry::conversion) fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn present_reaches_items_rows_and_watch_objects() {
        let core = json!({"kind": "Event", "apiVersion": "v1", "metadata": {"name": "e"},
            "message": "hi", "involvedObject": {"kind": "Pod"}});
        let mut list = json!({"kind": "EventList", "apiVersion": "events.k8s.io/v1",
            "items": [core.clone()]});
        Conversion::EventsV1.present(&mut list);
        assert_eq!(
            list["items"][0],
            json!({"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": {"name": "e"},
                "note": "hi", "regarding": {"kind": "Pod"}})
        );
        let mut event = json!({"type": "ADDED", "object": core.clone()});
        Conversion::EventsV1.present(&mut event);
        assert_eq!(event["object"]["note"], "hi");
        let mut table = json!({"kind": "Table", "rows": [{"cells": [], "object": core}]});
        Conversion::EventsV1.present(&mut table);
        assert_eq!(table["rows"][0]["object"]["apiVersion"], "events.k8s.io/v1");
        let mut status = json!({"kind": "Status", "apiVersion": "v1", "code": 404});
        let before = status.clone();
        Conversion::EventsV1.present(&mut status);
        assert_eq!(status, before);
    }

    #[test]
    fn to_stored_sets_the_stored_type_first() {
        let body = map(
            json!({"metadata": {"name": "h"}, "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler", "spec": {"maxReplicas": 2}}),
        );
        let stored = Conversion::AutoscalingV1.to_stored(body).expect("converts");
        let keys: Vec<&str> = stored.keys().map(String::as_str).take(2).collect();
        assert_eq!(keys, ["kind", "apiVersion"]);
        assert_eq!(stored["apiVersion"], "autoscaling/v2");
    }
}
