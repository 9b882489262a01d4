//! LimitRange: upstream's `SetDefaults_LimitRangeItem` for `Container` items — a missing
//! `default` limit is the `max`, a missing `defaultRequest` the `default` limit, else the
//! `min` — so what the LimitRanger admission plugin applies is what the stored object says.

use serde_json::{Map, Value};

use super::{KindHooks, Object};

/// The hooks of LimitRange.
#[derive(Debug, Default)]
pub struct LimitRangeHooks;

/// Copies each of `from`'s entries into `item[to]` where `to` lacks it.
fn fill(item: &mut Map<String, Value>, to: &str, from: &str) {
    let Some(source) = item.get(from).and_then(Value::as_object).cloned() else {
        return;
    };
    let target = item.entry(to).or_insert_with(|| Value::Object(Map::new()));
    if let Some(t) = target.as_object_mut() {
        for (k, v) in source {
            t.entry(k).or_insert(v);
        }
    }
}

impl KindHooks for LimitRangeHooks {
    fn defaults(&self, obj: &mut Object) {
        let Some(limits) = obj
            .get_mut("spec")
            .and_then(|s| s.get_mut("limits"))
            .and_then(Value::as_array_mut)
        else {
            return;
        };
        for item in limits.iter_mut().filter_map(Value::as_object_mut) {
            if item.get("type").and_then(Value::as_str) != Some("Container") {
                continue;
            }
            fill(item, "default", "max");
            fill(item, "defaultRequest", "default");
            fill(item, "defaultRequest", "min");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::o;
    use super::*;

    #[test]
    fn container_items_defaulted_as_upstream() {
        let mut lr = o(json!({"spec": {"limits": [
            {"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}, "default": {"memory": "128Mi"}, "min": {"cpu": "50m"}},
            {"type": "Pod", "max": {"cpu": "4"}}]}}));
        LimitRangeHooks.defaults(&mut lr);
        assert_eq!(
            lr["spec"]["limits"][0]["default"],
            json!({"memory": "128Mi", "cpu": "1"})
        );
        assert_eq!(
            lr["spec"]["limits"][0]["defaultRequest"],
            json!({"memory": "128Mi", "cpu": "1"})
        );
        assert!(lr["spec"]["limits"][1].get("default").is_none());
    }
}
