//! `autoscaling/v1` HorizontalPodAutoscaler <-> `autoscaling/v2`, the stored form.
//!
//! As upstream converts them: v1 has one CPU utilization target; every other metric, the
//! current metrics, the conditions and the scaling behavior travel in v1 as JSON annotations
//! (metrics in v1's own, flatter `MetricSpec`/`MetricStatus` shapes), and v2 takes them back
//! out of those annotations. A v1 object with no metric at all gets upstream's implicit 80%
//! CPU target.

use serde_json::{Map, Value};

/// v2's `spec.metrics` other than the CPU utilization target, in v1's shape.
const METRICS: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// v2's `status.currentMetrics`, in v1's shape.
const CURRENT_METRICS: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// v2's `status.conditions`.
const CONDITIONS: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// v2's `spec.behavior`.
const BEHAVIOR: &str = "autoscaling.alpha.kubernetes.io/behavior";

/// The CPU target autoscaling/v1 implies when none is given.
const DEFAULT_CPU_UTILIZATION: i64 = 80;

/// An object of the given fields, in order, leaving out the absent ones.
fn object(fields: &[(&str, Option<Value>)]) -> Value {
    Value::Object(
        fields
            .iter()
            .filter_map(|(k, v)| Some(((*k).to_string(), v.clone()?)))
            .collect(),
    )
}

fn get(v: &Value, path: &[&str]) -> Option<Value> {
    let mut at = v;
    for p in path {
        at = at.get(p)?;
    }
    (!at.is_null()).then(|| at.clone())
}

fn is_cpu_resource(m: &Value) -> bool {
    m.get("type").and_then(Value::as_str) == Some("Resource")
        && get(m, &["resource", "name"])
            .as_ref()
            .and_then(Value::as_str)
            == Some("cpu")
}

/// Which half of a metric is converted: a spec's `target` or a status's `current`. v1 spells
/// the goal's fields with that word in front (`targetAverageValue`, `currentAverageValue`);
/// v2 nests them under it (`target.averageValue`, `current.averageValue`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Half {
    Target,
    Current,
}

impl Half {
    fn word(self) -> &'static str {
        match self {
            Self::Target => "target",
            Self::Current => "current",
        }
    }
}

/// Where v2 keeps a v1 metric field.
#[derive(Clone, Copy)]
enum At {
    /// At this path of the source object.
    Path(&'static [&'static str]),
    /// Under the half's object (`target`/`current`), at this key.
    Goal(&'static str),
}

/// One v1 metric field: its name (with the half's word in front when `prefixed`, the rest
/// of the name capitalized) and where v2 keeps it.
struct Field(&'static str, bool, At);

use At::{Goal, Path};

const RESOURCE: &[Field] = &[
    Field("name", false, Path(&["name"])),
    Field("container", false, Path(&["container"])),
    Field("AverageUtilization", true, Goal("averageUtilization")),
    Field("AverageValue", true, Goal("averageValue")),
];
const PODS: &[Field] = &[
    Field("metricName", false, Path(&["metric", "name"])),
    Field("AverageValue", true, Goal("averageValue")),
    Field("selector", false, Path(&["metric", "selector"])),
];
const OBJECT: &[Field] = &[
    Field("target", false, Path(&["describedObject"])),
    Field("metricName", false, Path(&["metric", "name"])),
    Field("Value", true, Goal("value")),
    Field("selector", false, Path(&["metric", "selector"])),
    Field("averageValue", false, Goal("averageValue")),
];
const EXTERNAL: &[Field] = &[
    Field("metricName", false, Path(&["metric", "name"])),
    Field("metricSelector", false, Path(&["metric", "selector"])),
    Field("Value", true, Goal("value")),
    Field("AverageValue", true, Goal("averageValue")),
];

/// The metric sources (the key next to `type`) and their fields, in v1's order.
const SOURCES: &[(&str, &[Field])] = &[
    ("object", OBJECT),
    ("pods", PODS),
    ("resource", RESOURCE),
    ("containerResource", RESOURCE),
    ("external", EXTERNAL),
];

impl Field {
    fn v1_name(&self, half: Half) -> String {
        if self.1 {
            format!("{}{}", half.word(), self.0)
        } else {
            self.0.to_string()
        }
    }

    fn v2_path(&self, half: Half) -> Vec<&'static str> {
        match self.2 {
            Path(p) => p.to_vec(),
            Goal(leaf) => vec![half.word(), leaf],
        }
    }
}

/// A v2 `MetricSpec` (`Target`) or `MetricStatus` (`Current`) in v1's flatter shape.
fn metric_to_v1(m: &Value, half: Half) -> Value {
    let mut out = Map::new();
    if let Some(ty) = get(m, &["type"]) {
        out.insert("type".into(), ty);
    }
    for (source, fields) in SOURCES {
        let Some(src) = m.get(source) else {
            continue;
        };
        let flat = fields
            .iter()
            .filter_map(|f| Some((f.v1_name(half), get(src, &f.v2_path(half))?)))
            .collect();
        out.insert((*source).to_string(), Value::Object(flat));
    }
    Value::Object(out)
}

/// The v2 target type a v1 metric spec implies, per source (upstream's conversion).
fn target_type(source: &str, goal: &Map<String, Value>) -> &'static str {
    let has = |k: &str| goal.contains_key(k);
    match source {
        "resource" | "containerResource" if has("averageUtilization") => "Utilization",
        "object" if !has("averageValue") => "Value",
        "external" if has("value") => "Value",
        _ => "AverageValue",
    }
}

/// A v1-shaped `MetricSpec` (`Target`) or `MetricStatus` (`Current`), as the annotations
/// carry them, in v2's shape.
fn metric_from_v1(m: &Value, half: Half) -> Value {
    let mut out = Map::new();
    if let Some(ty) = get(m, &["type"]) {
        out.insert("type".into(), ty);
    }
    for (source, fields) in SOURCES {
        let Some(src) = m.get(source) else {
            continue;
        };
        let mut nested = Map::new();
        let mut goal = Map::new();
        if fields.iter().any(|f| matches!(f.2, Path(["metric", ..]))) {
            nested.insert("metric".into(), Value::Object(Map::new()));
        }
        for f in *fields {
            let Some(v) = get(src, &[&f.v1_name(half)]) else {
                continue;
            };
            match f.2 {
                Goal(leaf) => {
                    goal.insert(leaf.to_string(), v);
                }
                Path([key]) => {
                    nested.insert((*key).to_string(), v);
                }
                Path([outer, inner, ..]) => {
                    if let Some(o) = nested
                        .entry(*outer)
                        .or_insert_with(|| Value::Object(Map::new()))
                        .as_object_mut()
                    {
                        o.insert((*inner).to_string(), v);
                    }
                }
                Path([]) => {}
            }
        }
        if half == Half::Target {
            let ty = target_type(source, &goal);
            goal.shift_insert(0, "type".into(), Value::from(ty));
        }
        nested.insert(half.word().into(), Value::Object(goal));
        out.insert((*source).to_string(), Value::Object(nested));
    }
    Value::Object(out)
}

fn annotations_mut(obj: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    obj.get_mut("metadata")?
        .get_mut("annotations")?
        .as_object_mut()
}

/// Takes an annotation holding a JSON list out of the object. A value that is not a JSON
/// list is an error, as upstream's conversion fails on it.
fn take_list_annotation(
    obj: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<Vec<Value>>, String> {
    let Some(anns) = annotations_mut(obj) else {
        return Ok(None);
    };
    let Some(raw) = anns.remove(key) else {
        return Ok(None);
    };
    let text = raw.as_str().unwrap_or("");
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => Ok(Some(items)),
        Ok(Value::Null) => Ok(Some(Vec::new())),
        _ => Err(format!(
            "the annotation {key} must hold a JSON list: {text:?}"
        )),
    }
}

fn drop_empty_annotations(obj: &mut Map<String, Value>) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if meta
            .get("annotations")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            meta.remove("annotations");
        }
    }
}

/// An autoscaling/v1 HPA as the autoscaling/v2 object that stores it.
pub(super) fn to_v2(mut obj: Map<String, Value>) -> Result<Map<String, Value>, String> {
    let other_metrics = take_list_annotation(&mut obj, METRICS)?;
    let current_metrics = take_list_annotation(&mut obj, CURRENT_METRICS)?;
    let conditions = take_list_annotation(&mut obj, CONDITIONS)?;
    let behavior = match annotations_mut(&mut obj).and_then(|a| a.remove(BEHAVIOR)) {
        Some(raw) => Some(
            serde_json::from_str::<Value>(raw.as_str().unwrap_or(""))
                .map_err(|e| format!("the annotation {BEHAVIOR} is not JSON: {e}"))?,
        ),
        None => None,
    };
    drop_empty_annotations(&mut obj);

    let spec = obj.remove("spec").unwrap_or(Value::Null);
    let mut metrics: Vec<Value> = other_metrics
        .unwrap_or_default()
        .iter()
        .map(|m| metric_from_v1(m, Half::Target))
        .collect();
    if let Some(cpu) = get(&spec, &["targetCPUUtilizationPercentage"]) {
        metrics.push(cpu_target(cpu));
    }
    if metrics.is_empty() {
        metrics.push(cpu_target(Value::from(DEFAULT_CPU_UTILIZATION)));
    }
    let new_spec = object(&[
        ("scaleTargetRef", get(&spec, &["scaleTargetRef"])),
        ("minReplicas", get(&spec, &["minReplicas"])),
        ("maxReplicas", get(&spec, &["maxReplicas"])),
        ("metrics", Some(Value::Array(metrics))),
        ("behavior", behavior),
    ]);
    obj.insert("spec".into(), new_spec);

    if let Some(status) = obj.remove("status") {
        let current = match current_metrics {
            Some(list) => Some(
                list.iter()
                    .map(|m| metric_from_v1(m, Half::Current))
                    .collect::<Vec<_>>(),
            ),
            None => get(&status, &["currentCPUUtilizationPercentage"]).map(|u| {
                vec![object(&[
                    ("type", Some(Value::from("Resource"))),
                    (
                        "resource",
                        Some(object(&[
                            ("name", Some(Value::from("cpu"))),
                            ("current", Some(object(&[("averageUtilization", Some(u))]))),
                        ])),
                    ),
                ])]
            }),
        };
        let new_status = object(&[
            ("observedGeneration", get(&status, &["observedGeneration"])),
            ("lastScaleTime", get(&status, &["lastScaleTime"])),
            ("currentReplicas", get(&status, &["currentReplicas"])),
            ("desiredReplicas", get(&status, &["desiredReplicas"])),
            ("currentMetrics", current.map(Value::Array)),
            ("conditions", conditions.map(Value::Array)),
        ]);
        obj.insert("status".into(), new_status);
    }
    Ok(obj)
}

fn cpu_target(utilization: Value) -> Value {
    object(&[
        ("type", Some(Value::from("Resource"))),
        (
            "resource",
            Some(object(&[
                ("name", Some(Value::from("cpu"))),
                (
                    "target",
                    Some(object(&[
                        ("type", Some(Value::from("Utilization"))),
                        ("averageUtilization", Some(utilization)),
                    ])),
                ),
            ])),
        ),
    ])
}

fn set_annotation(obj: &mut Map<String, Value>, key: &str, value: &Value) {
    let text = serde_json::to_string(value).unwrap_or_default();
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        let anns = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(anns) = anns.as_object_mut() {
            anns.insert(key.to_string(), Value::String(text));
        }
    }
}

/// A stored autoscaling/v2 HPA as autoscaling/v1 shows it.
pub(super) fn to_v1(mut obj: Map<String, Value>) -> Map<String, Value> {
    let spec = obj.remove("spec").unwrap_or(Value::Null);
    let status = obj.remove("status").unwrap_or(Value::Null);
    let metrics = spec
        .get("metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let cpu_target = metrics
        .iter()
        .find(|m| is_cpu_resource(m))
        .and_then(|m| get(m, &["resource", "target", "averageUtilization"]));
    let others: Vec<Value> = metrics
        .iter()
        .filter(|m| {
            !(is_cpu_resource(m) && get(m, &["resource", "target", "averageUtilization"]).is_some())
        })
        .map(|m| metric_to_v1(m, Half::Target))
        .collect();
    let current = status
        .get("currentMetrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let conditions = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !others.is_empty() {
        set_annotation(&mut obj, METRICS, &Value::Array(others));
    }
    if !current.is_empty() {
        let v1: Vec<Value> = current
            .iter()
            .map(|m| metric_to_v1(m, Half::Current))
            .collect();
        set_annotation(&mut obj, CURRENT_METRICS, &Value::Array(v1));
    }
    if !conditions.is_empty() {
        set_annotation(&mut obj, CONDITIONS, &Value::Array(conditions));
    }
    if let Some(b) = get(&spec, &["behavior"]) {
        set_annotation(&mut obj, BEHAVIOR, &b);
    }
    obj.insert(
        "spec".into(),
        object(&[
            ("scaleTargetRef", get(&spec, &["scaleTargetRef"])),
            ("minReplicas", get(&spec, &["minReplicas"])),
            ("maxReplicas", get(&spec, &["maxReplicas"])),
            ("targetCPUUtilizationPercentage", cpu_target),
        ]),
    );
    let current_cpu = current
        .iter()
        .rev()
        .filter(|m| is_cpu_resource(m))
        .find_map(|m| get(m, &["resource", "current", "averageUtilization"]));
    obj.insert(
        "status".into(),
        object(&[
            ("observedGeneration", get(&status, &["observedGeneration"])),
            ("lastScaleTime", get(&status, &["lastScaleTime"])),
            (
                "currentReplicas",
                Some(get(&status, &["currentReplicas"]).unwrap_or(Value::from(0))),
            ),
            (
                "desiredReplicas",
                Some(get(&status, &["desiredReplicas"]).unwrap_or(Value::from(0))),
            ),
            ("currentCPUUtilizationPercentage", current_cpu),
        ]),
    );
    obj
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::super::tests::map;
    use super::*;
    use serde_json::json;

    #[test]
    fn cpu_target_becomes_a_resource_metric_and_back() {
        let v1 = map(json!({
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 2, "maxReplicas": 5, "targetCPUUtilizationPercentage": 60
            }
        }));
        let v2 = to_v2(v1.clone()).expect("converts");
        assert_eq!(
            v2["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 60}}}])
        );
        let back = to_v1(v2);
        assert_eq!(back["spec"], v1["spec"]);
        assert!(back["metadata"].get("annotations").is_none());
        assert_eq!(
            back["status"],
            json!({"currentReplicas": 0, "desiredReplicas": 0})
        );
    }

    #[test]
    fn no_target_means_upstreams_80_percent() {
        let v2 = to_v2(map(json!({"spec": {"maxReplicas": 3}}))).expect("converts");
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
    }

    #[test]
    fn other_metrics_status_and_behavior_travel_in_annotations() {
        let v2 = map(json!({
            "metadata": {"name": "h", "annotations": {"keep": "me"}},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "d"},
                "maxReplicas": 10,
                "metrics": [
                    {"type": "Pods", "pods": {"metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "1k"}}},
                    {"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70}}},
                    {"type": "External", "external": {"metric": {"name": "queue"},
                        "target": {"type": "Value", "value": "30"}}}
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}
            },
            "status": {
                "currentReplicas": 3, "desiredReplicas": 4,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 55, "averageValue": "110m"}}}],
                "conditions": [{"type": "AbleToScale", "status": "True"}]
            }
        }));
        let v1 = to_v1(v2.clone());
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 70);
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 55);
        let anns = &v1["metadata"]["annotations"];
        assert_eq!(anns["keep"], "me");
        let others: Value =
            serde_json::from_str(anns[METRICS].as_str().unwrap_or("")).unwrap_or_default();
        assert_eq!(
            others,
            json!([
                {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "1k"}},
                {"type": "External", "external": {"metricName": "queue", "targetValue": "30"}}
            ])
        );
        let current: Value =
            serde_json::from_str(anns[CURRENT_METRICS].as_str().unwrap_or("")).unwrap_or_default();
        assert_eq!(
            current,
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "currentAverageUtilization": 55, "currentAverageValue": "110m"}}])
        );
        // And back: the annotations are gone, v2's fields are whole again (the CPU target
        // last, as upstream appends it after the annotation's metrics).
        let again = to_v2(v1).expect("converts");
        assert_eq!(
            again["metadata"],
            json!({"name": "h", "annotations": {"keep": "me"}})
        );
        assert_eq!(again["spec"]["behavior"], v2["spec"]["behavior"]);
        assert_eq!(again["status"]["conditions"], v2["status"]["conditions"]);
        assert_eq!(
            again["status"]["currentMetrics"],
            v2["status"]["currentMetrics"]
        );
        let kinds: Vec<&str> = again["spec"]["metrics"]
            .as_array()
            .map(|a| a.iter().filter_map(|m| m["type"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(kinds, ["Pods", "External", "Resource"]);
        assert_eq!(again["spec"]["metrics"][1], v2["spec"]["metrics"][2]);
    }

    #[test]
    fn every_metric_source_round_trips_through_v1() {
        let specs = json!([
            {"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "i"},
                "metric": {"name": "rps", "selector": {"matchLabels": {"a": "b"}}},
                "target": {"type": "Value", "value": "10"}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps"},
                "target": {"type": "AverageValue", "averageValue": "1k"}}},
            {"type": "Resource", "resource": {"name": "memory",
                "target": {"type": "AverageValue", "averageValue": "1Gi"}}},
            {"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app",
                "target": {"type": "Utilization", "averageUtilization": 50}}},
            {"type": "External", "external": {"metric": {"name": "queue"},
                "target": {"type": "AverageValue", "averageValue": "30"}}}
        ]);
        let statuses = json!([
            {"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "i"},
                "metric": {"name": "rps"}, "current": {"value": "12"}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "current": {"averageValue": "900"}}},
            {"type": "External", "external": {"metric": {"name": "queue"},
                "current": {"value": "3", "averageValue": "1"}}}
        ]);
        for (list, half) in [(&specs, Half::Target), (&statuses, Half::Current)] {
            for m in list.as_array().unwrap() {
                let back = metric_from_v1(&metric_to_v1(m, half), half);
                assert_eq!(&back, m);
            }
        }
        assert_eq!(
            metric_to_v1(&specs[0], Half::Target)["object"],
            json!({"target": {"kind": "Ingress", "name": "i"}, "metricName": "rps",
                "targetValue": "10", "selector": {"matchLabels": {"a": "b"}}})
        );
    }

    #[test]
    fn a_broken_annotation_is_an_error() {
        let v1 = map(json!({"metadata": {"annotations": {METRICS: "{not json"}}, "spec": {}}));
        assert!(to_v2(v1).is_err());
    }
}
