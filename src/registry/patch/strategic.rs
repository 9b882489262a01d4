//! Strategic merge patch for built-in kinds: a JSON merge patch, except that lists the types
//! declare as "merge" lists are merged element by element (by their merge key, or as sets for
//! lists of scalars), and the patch may carry directives: `$patch: replace|delete|merge`,
//! `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.
//!
//! Which lists merge, and by which key, comes from the kind's schema ([`super::merge_keys`]).

use serde_json::{Map, Value};

use super::merge_keys::{list_strategy, ListStrategy};
use crate::openapi::KindSchema;

/// Why a strategic merge patch could not be applied.
#[derive(Debug, PartialEq, Eq)]
pub struct StrategicError(pub String);

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";

/// Applies `patch` to `original` (a whole object described by `schema`; None: a kind without
/// a known schema, whose lists are all atomic).
pub fn apply(
    schema: Option<&KindSchema<'_>>,
    original: &Value,
    patch: &Value,
) -> Result<Value, StrategicError> {
    let Value::Object(p) = patch else {
        return Err(StrategicError(
            "the patch must be a JSON object".to_string(),
        ));
    };
    let mut path = Vec::new();
    match merge_map(schema, &mut path, original.as_object(), p)? {
        Some(m) => Ok(Value::Object(m)),
        None => Ok(Value::Object(Map::new())),
    }
}

/// Merges a patch map into an original map; None when the patch deletes the map.
fn merge_map(
    schema: Option<&KindSchema<'_>>,
    path: &mut Vec<String>,
    original: Option<&Map<String, Value>>,
    patch: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, StrategicError> {
    match patch.get(PATCH).and_then(Value::as_str) {
        Some("delete") => return Ok(None),
        Some("replace") => {
            let mut out = patch.clone();
            out.remove(PATCH);
            return Ok(Some(strip_directives(out)));
        }
        Some("merge") | None => {}
        Some(other) => {
            return Err(StrategicError(format!(
                "Unknown patch type: {other} in map: {}",
                Value::Object(patch.clone())
            )))
        }
    }
    let mut out = original.cloned().unwrap_or_default();
    for (k, v) in patch {
        if k == PATCH || k == RETAIN_KEYS || k.starts_with(SET_ORDER) {
            continue;
        }
        if let Some(list) = k.strip_prefix(DELETE_PRIMITIVE) {
            if let (Some(Value::Array(items)), Value::Array(remove)) = (out.get_mut(list), v) {
                items.retain(|x| !remove.contains(x));
            }
            continue;
        }
        path.push(k.clone());
        let merged = match v {
            Value::Null => None,
            Value::Object(pm) => {
                let orig = out.get(k).and_then(Value::as_object);
                merge_map(schema, path, orig, pm)?.map(Value::Object)
            }
            Value::Array(pa) => Some(merge_list(schema, path, out.get(k), pa, patch)?),
            scalar => Some(scalar.clone()),
        };
        path.pop();
        match merged {
            Some(m) => {
                out.insert(k.clone(), m);
            }
            None => {
                out.remove(k);
            }
        }
    }
    // $setElementOrder: the final order of a merged list.
    for (k, v) in patch {
        if let (Some(list), Value::Array(order)) = (k.strip_prefix(SET_ORDER), v) {
            path.push(list.to_string());
            let strategy = list_strategy(schema, path);
            path.pop();
            if let Some(Value::Array(items)) = out.get_mut(list) {
                reorder(items, order, strategy.as_ref());
            }
        }
    }
    if let Some(Value::Array(keep)) = patch.get(RETAIN_KEYS) {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        out.retain(|k, _| keep.contains(&k.as_str()));
    }
    Ok(Some(out))
}

/// Merges a patch list into the original value of a list field.
fn merge_list(
    schema: Option<&KindSchema<'_>>,
    path: &mut Vec<String>,
    original: Option<&Value>,
    patch: &[Value],
    _parent: &Map<String, Value>,
) -> Result<Value, StrategicError> {
    let strategy = list_strategy(schema, path);
    let orig: Vec<Value> = original
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // A `{"$patch": "replace"}` element replaces the whole list with the other elements.
    let replace = patch.iter().any(|e| {
        e.as_object()
            .and_then(|m| m.get(PATCH))
            .and_then(Value::as_str)
            == Some("replace")
    });
    if replace {
        let rest: Vec<Value> = patch
            .iter()
            .filter(|e| {
                e.as_object()
                    .and_then(|m| m.get(PATCH))
                    .and_then(Value::as_str)
                    != Some("replace")
            })
            .map(|e| match e {
                Value::Object(m) => Value::Object(strip_directives(m.clone())),
                other => other.clone(),
            })
            .collect();
        return Ok(Value::Array(rest));
    }
    match strategy {
        None => Ok(Value::Array(
            patch
                .iter()
                .map(|e| match e {
                    Value::Object(m) => Value::Object(strip_directives(m.clone())),
                    other => other.clone(),
                })
                .collect(),
        )),
        Some(ListStrategy::MergePrimitives) => {
            let mut out = orig;
            for e in patch {
                if !out.contains(e) {
                    out.push(e.clone());
                }
            }
            Ok(Value::Array(out))
        }
        Some(ListStrategy::MergeByKey(key)) => {
            let mut out = orig;
            for e in patch {
                let Value::Object(pm) = e else {
                    return Err(StrategicError(format!(
                        "the list element {e} must be an object to merge by {key:?}"
                    )));
                };
                let Some(kv) = pm.get(key) else {
                    return Err(StrategicError(format!(
                        "map: {e} does not contain declared merge key: {key}"
                    )));
                };
                let pos = out.iter().position(|o| o.get(key) == Some(kv));
                if pm.get(PATCH).and_then(Value::as_str) == Some("delete") {
                    if let Some(i) = pos {
                        out.remove(i);
                    }
                    continue;
                }
                match pos {
                    Some(i) => {
                        let merged = merge_map(schema, path, out[i].as_object(), pm)?;
                        match merged {
                            Some(m) => out[i] = Value::Object(m),
                            None => {
                                out.remove(i);
                            }
                        }
                    }
                    None => {
                        if let Some(m) = merge_map(schema, path, None, pm)? {
                            out.push(Value::Object(m));
                        }
                    }
                }
            }
            Ok(Value::Array(out))
        }
    }
}

/// Orders `items` as `order` lists them (by merge key, or by value for scalars); items the
/// order does not name keep their relative order after the named ones.
fn reorder(items: &mut Vec<Value>, order: &[Value], strategy: Option<&ListStrategy>) {
    let key_of = |v: &Value| -> Value {
        match strategy {
            Some(ListStrategy::MergeByKey(k)) => v.get(*k).cloned().unwrap_or(Value::Null),
            _ => v.clone(),
        }
    };
    let order_keys: Vec<Value> = order.iter().map(key_of).collect();
    let mut named: Vec<(usize, Value)> = Vec::new();
    let mut rest = Vec::new();
    for it in items.drain(..) {
        match order_keys.iter().position(|k| *k == key_of(&it)) {
            Some(i) => named.push((i, it)),
            None => rest.push(it),
        }
    }
    named.sort_by_key(|(i, _)| *i);
    items.extend(named.into_iter().map(|(_, v)| v));
    items.extend(rest);
}

/// Removes directive keys from a map that is used as-is (replace, new list elements).
fn strip_directives(mut m: Map<String, Value>) -> Map<String, Value> {
    m.retain(|k, _| {
        !(k == PATCH
            || k == RETAIN_KEYS
            || k.starts_with(SET_ORDER)
            || k.starts_with(DELETE_PRIMITIVE))
    });
    for v in m.values_mut() {
        if let Value::Object(inner) = v {
            *inner = strip_directives(std::mem::take(inner));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::openapi::kind_schema;
    use serde_json::json;

    fn apply(kind: &str, original: &Value, patch: &Value) -> Result<Value, StrategicError> {
        let (group, version) = if kind == "Deployment" {
            ("apps", "v1")
        } else {
            ("", "v1")
        };
        let schema = kind_schema(group, version, kind).unwrap();
        super::apply(Some(&schema), original, patch)
    }

    fn deployment(containers: Value) -> Value {
        json!({"kind": "Deployment", "metadata": {"name": "d", "finalizers": ["a"]},
               "spec": {"replicas": 1, "template": {"spec": {"containers": containers}}}})
    }

    #[test]
    fn containers_merge_by_name_and_env_by_name() {
        let orig = deployment(json!([
            {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
            {"name": "sidecar", "image": "side:1"}
        ]));
        let patch = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}
        ]}}}});
        let got = apply("Deployment", &orig, &patch).unwrap();
        assert_eq!(got["spec"]["replicas"], 3);
        let cs = &got["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            cs.as_array().unwrap().len(),
            2,
            "the other container is kept"
        );
        assert_eq!(cs[0]["image"], "app:1");
        assert_eq!(
            cs[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}])
        );
        assert_eq!(cs[1]["name"], "sidecar");
    }

    #[test]
    fn delete_and_replace_directives() {
        let orig = deployment(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]));
        let del = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}});
        let got = apply("Deployment", &orig, &del).unwrap();
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b", "image": "y"}])
        );
        let rep = json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "z"}]}}}});
        let got = apply("Deployment", &orig, &rep).unwrap();
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"],
            json!([{"name": "c", "image": "z"}])
        );
        let map_replace = json!({"spec": {"$patch": "replace", "replicas": 7}});
        let got = apply("Deployment", &orig, &map_replace).unwrap();
        assert_eq!(got["spec"], json!({"replicas": 7}));
        let map_delete = json!({"spec": {"$patch": "delete"}});
        assert!(apply("Deployment", &orig, &map_delete)
            .unwrap()
            .get("spec")
            .is_none());
    }

    #[test]
    fn primitive_lists_merge_or_replace_as_declared() {
        let orig = json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["1", "2"]}]}}}});
        let patch = json!({"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]},
                           "spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["3"]}]}}}});
        let got = apply("Deployment", &orig, &patch).unwrap();
        assert_eq!(got["metadata"]["finalizers"], json!(["b", "c"]));
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"][0]["args"],
            json!(["3"]),
            "args are atomic: replaced"
        );
    }

    #[test]
    fn set_element_order_and_retain_keys() {
        let orig = json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}],
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "new"}],
            "strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}}});
        let got = apply("Deployment", &orig, &patch).unwrap();
        let cs = &got["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs, &json!([{"name": "b"}, {"name": "a", "image": "new"}]));
        assert_eq!(
            got["spec"]["template"]["spec"]["strategy"],
            json!({"type": "Recreate"})
        );
    }

    #[test]
    fn null_deletes_and_service_ports_merge_by_port() {
        let orig = json!({"kind": "Service", "metadata": {"labels": {"a": "1", "b": "2"}},
                          "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
        let patch = json!({"metadata": {"labels": {"a": null}}, "spec": {"ports": [{"port": 80, "targetPort": 9090}]}});
        let got = apply("Service", &orig, &patch).unwrap();
        assert_eq!(got["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(
            got["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
        );
    }

    #[test]
    fn a_merge_element_without_its_key_is_an_error() {
        let orig = deployment(json!([{"name": "a"}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        let err = apply("Deployment", &orig, &patch).unwrap_err();
        assert!(
            err.0.contains("does not contain declared merge key: name"),
            "{}",
            err.0
        );
    }
}
