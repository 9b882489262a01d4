//! Strategic merge patch for built-in kinds: a JSON merge patch, except that lists the types
//! declare as "merge" lists are merged element by element (by their merge key, or as sets for
//! lists of scalars), and the patch may carry directives: `$patch: replace|delete`,
//! `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.
//!
//! The order of a merged list is upstream's: the patch's elements in the patch's order (or the
//! `$setElementOrder` list's), the server's other elements in their order, interleaved where
//! both orders know the elements; an element new to the list comes before the server's.
//! Which lists merge, and by which key, comes from the kind's schema: a
//! [`SchemaCursor`] steps down it with the patch.

use serde_json::{Map, Value};

use super::merge_keys::{ListStrategy, SchemaCursor};
use crate::openapi::KindSchema;

/// Why a strategic merge patch could not be applied.
#[derive(Debug, PartialEq, Eq)]
pub struct StrategicError {
    /// upstream's message.
    pub message: String,
    /// A directive in a form upstream refuses as a bad request (400), rather than a patch that
    /// does not apply to the object.
    pub malformed: bool,
}

impl StrategicError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            malformed: false,
        }
    }

    fn malformed(message: &str) -> Self {
        Self {
            message: message.to_string(),
            malformed: true,
        }
    }
}

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
        return Err(StrategicError::new("the patch must be a JSON object"));
    };
    match merge_map(SchemaCursor::root(schema), original.as_object(), p)? {
        Some(m) => Ok(Value::Object(m)),
        None => Ok(Value::Object(Map::new())),
    }
}

/// Merges a patch map into an original map; None when the patch deletes a map the original
/// did not have.
fn merge_map(
    at: SchemaCursor<'_>,
    original: Option<&Map<String, Value>>,
    patch: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, StrategicError> {
    match patch.get(PATCH) {
        None => {}
        Some(Value::String(d)) if d == "replace" => {
            let mut out = patch.clone();
            out.remove(PATCH);
            return Ok(Some(strip_directives(out)));
        }
        // upstream leaves an empty map where the original had one.
        Some(Value::String(d)) if d == "delete" => return Ok(original.map(|_| Map::new())),
        Some(other) => return Err(unknown_patch_type(other, patch)),
    }
    let mut out = original.cloned().unwrap_or_default();
    retain_keys(&mut out, patch)?;
    let ordered = set_element_orders(at, &mut out, patch)?;
    for (k, v) in patch {
        if k == RETAIN_KEYS || k.starts_with(SET_ORDER) || ordered.contains(k) {
            continue;
        }
        if let Some(list) = k.strip_prefix(DELETE_PRIMITIVE) {
            if let (Some(Value::Array(items)), Value::Array(remove)) = (out.get_mut(list), v) {
                items.retain(|x| !remove.contains(x));
            }
            continue;
        }
        let merged = merge_value(at.field(k), out.get(k), v)?;
        match merged {
            Some(m) => {
                out.insert(k.clone(), m);
            }
            None => {
                out.remove(k);
            }
        }
    }
    Ok(Some(out))
}

/// The merge of one field's patch value into its original value; None: the field goes.
fn merge_value(
    at: SchemaCursor<'_>,
    original: Option<&Value>,
    patch: &Value,
) -> Result<Option<Value>, StrategicError> {
    Ok(match patch {
        Value::Null => None,
        Value::Object(pm) => {
            if at.replaced() {
                Some(Value::Object(strip_directives(pm.clone())))
            } else {
                let orig = original.and_then(Value::as_object);
                merge_map(at, orig, pm)?.map(Value::Object)
            }
        }
        Value::Array(pa) => Some(merge_list(at, original, pa)?),
        scalar => Some(scalar.clone()),
    })
}

/// `$retainKeys`: every field the patch sets must be listed, and the original's fields that
/// are not are cleared.
fn retain_keys(
    out: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<(), StrategicError> {
    let Some(keep) = patch.get(RETAIN_KEYS) else {
        return Ok(());
    };
    let bad = || StrategicError::malformed("invalid patch format of retainKeys");
    let keep = keep.as_array().ok_or_else(bad)?;
    let listed = |k: &str| keep.iter().any(|x| x.as_str() == Some(k));
    for (k, v) in patch {
        let directive =
            k == RETAIN_KEYS || k.starts_with(SET_ORDER) || k.starts_with(DELETE_PRIMITIVE);
        if !directive && !v.is_null() && !listed(k) {
            return Err(bad());
        }
    }
    out.retain(|k, _| listed(k));
    Ok(())
}

/// The `$setElementOrder/<list>` directives of `patch`: each list merged with its patch list
/// and put in the directive's order. Returns the lists done, which the caller then skips.
fn set_element_orders(
    at: SchemaCursor<'_>,
    out: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<Vec<String>, StrategicError> {
    let mut done = Vec::new();
    for (k, order) in patch {
        let Some(list) = k.strip_prefix(SET_ORDER) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(StrategicError::malformed(
                "invalid patch format of setElementOrder list",
            ));
        };
        let list_at = at.field(list);
        let strategy = list_at.list_strategy();
        let key = match &strategy {
            Some(ListStrategy::MergeByKey(key)) => Some(*key),
            _ => None,
        };
        let original: Vec<Value> = out
            .get(list)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let merged = match patch.get(list) {
            Some(Value::Array(pl)) => {
                check_order(pl, order, key)?;
                match merge_list(list_at, out.get(list), pl)? {
                    Value::Array(m) => m,
                    _ => Vec::new(),
                }
            }
            _ if out.contains_key(list) => original.clone(),
            _ => continue,
        };
        out.insert(
            list.to_string(),
            Value::Array(in_order(merged, order, &original, key)),
        );
        done.push(list.to_string());
    }
    Ok(done)
}

/// upstream's check that a patch list names its elements in the `$setElementOrder` order.
fn check_order(patch: &[Value], order: &[Value], key: Option<&str>) -> Result<(), StrategicError> {
    let listed: Vec<&Value> = patch.iter().filter(|e| e.get(PATCH).is_none()).collect();
    let mut at = 0;
    for o in order {
        if at < listed.len() && identity(listed[at], key) == identity(o, key) {
            at += 1;
        }
    }
    if at < listed.len() {
        return Err(StrategicError::new(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// What identifies a list element: its merge key's value, or the element itself.
fn identity<'a>(v: &'a Value, key: Option<&str>) -> Option<&'a Value> {
    match key {
        Some(k) => v.get(k),
        None => Some(v),
    }
}

/// Merges a patch list into the original value of a list field.
fn merge_list(
    at: SchemaCursor<'_>,
    original: Option<&Value>,
    patch: &[Value],
) -> Result<Value, StrategicError> {
    let orig: Vec<Value> = original
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match at.list_strategy() {
        // Atomic: the patch's list, as given.
        None => Ok(Value::Array(
            patch
                .iter()
                .filter(|e| e.get(PATCH).is_none())
                .map(|e| match e {
                    Value::Object(m) => Value::Object(strip_directives(m.clone())),
                    other => other.clone(),
                })
                .collect(),
        )),
        Some(ListStrategy::MergePrimitives) => {
            let mut merged: Vec<Value> = Vec::with_capacity(orig.len() + patch.len());
            for e in orig.iter().chain(patch) {
                if !merged.contains(e) {
                    merged.push(e.clone());
                }
            }
            Ok(Value::Array(in_order(merged, patch, &orig, None)))
        }
        Some(ListStrategy::MergeByKey(key)) => {
            let mut base = orig;
            let mut plain: Vec<&Map<String, Value>> = Vec::new();
            let mut replace = false;
            for e in patch {
                let Value::Object(pm) = e else {
                    return Err(StrategicError::new(format!(
                        "the list element {e} must be an object to merge by {key:?}"
                    )));
                };
                match pm.get(PATCH) {
                    None => plain.push(pm),
                    Some(Value::String(d)) if d == "delete" => {
                        let kv = pm.get(key).ok_or_else(|| no_merge_key(e, key))?;
                        base.retain(|o| o.get(key) != Some(kv));
                    }
                    Some(Value::String(d)) if d == "replace" => replace = true,
                    Some(Value::String(d)) if d == "merge" => {
                        return Err(StrategicError::new(
                            "merging lists cannot yet be specified in the patch",
                        ))
                    }
                    Some(other) => return Err(unknown_patch_type(other, pm)),
                }
            }
            if replace {
                return Ok(Value::Array(
                    plain
                        .into_iter()
                        .map(|m| Value::Object(strip_directives(m.clone())))
                        .collect(),
                ));
            }
            let server = base.clone();
            let mut merged = base;
            for pm in &plain {
                let kv = pm
                    .get(key)
                    .ok_or_else(|| no_merge_key(&Value::Object((*pm).clone()), key))?;
                let pos = merged.iter().position(|o| o.get(key) == Some(kv));
                let into = pos.and_then(|i| merged[i].as_object());
                let m = merge_map(at, into, pm)?.unwrap_or_default();
                match pos {
                    Some(i) => merged[i] = Value::Object(m),
                    None => merged.push(Value::Object(m)),
                }
            }
            let patch_list: Vec<Value> = plain
                .into_iter()
                .map(|m| Value::Object(m.clone()))
                .collect();
            Ok(Value::Array(in_order(
                merged,
                &patch_list,
                &server,
                Some(key),
            )))
        }
    }
}

/// upstream's order for a merged list: the elements `order` names, in its order, and the
/// server's others in `server`'s order, interleaved by `server`'s order where it knows both.
fn in_order(
    merged: Vec<Value>,
    order: &[Value],
    server: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let index = |list: &[Value], v: &Value| {
        let id = identity(v, key);
        list.iter().position(|x| identity(x, key) == id)
    };
    let (mut named, mut others): (Vec<Value>, Vec<Value>) =
        merged.into_iter().partition(|v| index(order, v).is_some());
    named.sort_by_key(|v| index(order, v));
    others.sort_by_key(|v| index(server, v).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(named.len() + others.len());
    let (mut left, mut right) = (others.into_iter().peekable(), named.into_iter().peekable());
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => {
                matches!((index(server, l), index(server, r)), (Some(a), Some(b)) if a < b)
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

fn no_merge_key(element: &Value, key: &str) -> StrategicError {
    StrategicError::new(format!(
        "map: {element} does not contain declared merge key: {key}"
    ))
}

fn unknown_patch_type(directive: &Value, map: &Map<String, Value>) -> StrategicError {
    let d = directive
        .as_str()
        .map_or_else(|| directive.to_string(), str::to_string);
    StrategicError::new(format!(
        "unknown patch type: {d} in map: {}",
        Value::Object(map.clone())
    ))
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
        // `$patch: delete` on a map the original has leaves it empty, as upstream does; on one
        // it lacks, nothing.
        let map_delete = json!({"spec": {"$patch": "delete"}});
        assert_eq!(
            apply("Deployment", &orig, &map_delete).unwrap()["spec"],
            json!({})
        );
        let absent = json!({"status": {"$patch": "delete"}});
        assert!(apply("Deployment", &orig, &absent)
            .unwrap()
            .get("status")
            .is_none());
    }

    #[test]
    fn primitive_lists_merge_or_replace_as_declared() {
        let orig = json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["1", "2"]}]}}}});
        let patch = json!({"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]},
                           "spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["3"]}]}}}});
        let got = apply("Deployment", &orig, &patch).unwrap();
        // A set merge puts the patch's new members before the server's (upstream's order).
        assert_eq!(got["metadata"]["finalizers"], json!(["c", "b"]));
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

    fn names(v: &Value) -> Vec<&str> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn merged_lists_take_upstreams_order() {
        let orig = deployment(json!([{"name": "a"}, {"name": "b"}]));
        // A new element comes before the server's.
        let add = json!({"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}});
        let got = apply("Deployment", &orig, &add).unwrap();
        assert_eq!(
            names(&got["spec"]["template"]["spec"]["containers"]),
            ["c", "a", "b"]
        );
        // The patch's elements keep the patch's order; the server's others stay where the
        // server had them relative to those.
        let orig = deployment(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]));
        let swap = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "x"}, {"name": "a", "image": "y"}]}}}});
        let got = apply("Deployment", &orig, &swap).unwrap();
        let cs = &got["spec"]["template"]["spec"]["containers"];
        assert_eq!(names(cs), ["b", "c", "a"]);
        assert_eq!(
            (cs[1]["image"].as_str(), cs[2]["image"].as_str()),
            (Some("x"), Some("y"))
        );
        // $setElementOrder orders the named ones; a server-only element keeps its place.
        let orig = deployment(json!([{"name": "extra"}, {"name": "app"}, {"name": "side"}]));
        let ordered = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
            "containers": [{"name": "app", "image": "new"}]}}}});
        let got = apply("Deployment", &orig, &ordered).unwrap();
        assert_eq!(
            names(&got["spec"]["template"]["spec"]["containers"]),
            ["extra", "app", "side"]
        );
        // Sets are deduplicated.
        let orig = json!({"metadata": {"finalizers": ["a", "a", "b"]}});
        let got = apply(
            "Deployment",
            &orig,
            &json!({"metadata": {"finalizers": ["b"]}}),
        )
        .unwrap();
        assert_eq!(got["metadata"]["finalizers"], json!(["a", "b"]));
    }

    #[test]
    fn delete_takes_every_match_and_bad_directives_are_errors() {
        let orig = deployment(
            json!([{"name": "a", "image": "1"}, {"name": "b"}, {"name": "a", "image": "2"}]),
        );
        let del = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}});
        let got = apply("Deployment", &orig, &del).unwrap();
        assert_eq!(names(&got["spec"]["template"]["spec"]["containers"]), ["b"]);

        let list_merge = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}}});
        assert_eq!(
            apply("Deployment", &orig, &list_merge).unwrap_err().message,
            "merging lists cannot yet be specified in the patch"
        );
        let map_merge = json!({"spec": {"$patch": "merge"}});
        assert!(apply("Deployment", &orig, &map_merge)
            .unwrap_err()
            .message
            .starts_with("unknown patch type: merge in map:"));
        let unlisted = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": {}}}});
        let err = apply("Deployment", &orig, &unlisted).unwrap_err();
        assert_eq!(err.message, "invalid patch format of retainKeys");
        assert!(err.malformed, "a 400, as upstream answers it");
        let disordered = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b"}, {"name": "a"}]}}}});
        assert!(apply("Deployment", &orig, &disordered)
            .unwrap_err()
            .message
            .contains("doesn't match $setElementOrder list"));
    }

    #[test]
    fn a_replace_strategy_map_is_replaced() {
        let pdb = kind_schema("policy", "v1", "PodDisruptionBudget").unwrap();
        let orig = json!({"spec": {"minAvailable": 1, "selector": {"matchLabels": {"a": "1"},
            "matchExpressions": [{"key": "k", "operator": "Exists"}]}}});
        let patch = json!({"spec": {"selector": {"matchLabels": {"b": "2"}}}});
        let got = super::apply(Some(&pdb), &orig, &patch).unwrap();
        assert_eq!(got["spec"]["selector"], json!({"matchLabels": {"b": "2"}}));
        assert_eq!(got["spec"]["minAvailable"], 1);
    }

    #[test]
    fn a_merge_element_without_its_key_is_an_error() {
        let orig = deployment(json!([{"name": "a"}]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        let err = apply("Deployment", &orig, &patch).unwrap_err();
        assert!(
            err.message
                .contains("does not contain declared merge key: name"),
            "{}",
            err.message
        );
        assert!(!err.malformed, "a patch that does not apply: 422");
    }
}
