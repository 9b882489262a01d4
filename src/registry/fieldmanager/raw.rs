//! Set operations straight on `FieldsV1` JSON, so an update touches only the entries' nodes
//! along the paths it changed instead of decoding and re-encoding every manager's set. A
//! node is an object; it is a member when it is empty or holds `"."`, and its other keys are
//! its children (`f:`, `k:`, `v:`, `i:`), as [`super::set::Set`] writes them.

use serde_json::{Map, Value};

use super::set::Set;

/// Whether `v` is `FieldsV1` as upstream writes it (objects all the way down, keys `.`
/// or tagged); checked without allocating.
pub(super) fn valid(v: &Value) -> bool {
    fn node(m: &Map<String, Value>) -> bool {
        m.iter().all(|(k, v)| {
            let tagged = k == "."
                || k.starts_with("f:")
                || (k.starts_with("k:{") && k.ends_with('}'))
                || (k.starts_with("v:") && k.len() > 2)
                || (k.starts_with("i:")
                    && k.len() > 2
                    && k[2..].bytes().all(|b| b.is_ascii_digit()));
            tagged
                && v.as_object().is_some_and(|c| k != "." || c.is_empty())
                && v.as_object().is_some_and(node)
        })
    }
    v.as_object().is_some_and(node)
}

fn is_member(m: &Map<String, Value>) -> bool {
    m.is_empty() || m.contains_key(".")
}

fn has_children(m: &Map<String, Value>) -> bool {
    m.keys().any(|k| k != ".")
}

/// After a child changed: keep it as what it now is, or drop it when it is nothing.
fn settle(node: &mut Map<String, Value>, key: &str, member: bool) {
    let Some(Value::Object(child)) = node.get_mut(key) else {
        return;
    };
    if has_children(child) {
        if member {
            if !child.contains_key(".") {
                let mut with_dot = Map::with_capacity(child.len() + 1);
                with_dot.insert(".".into(), Value::Object(Map::new()));
                with_dot.extend(std::mem::take(child));
                *child = with_dot;
            }
        } else {
            child.shift_remove(".");
        }
    } else if member {
        child.clear();
    } else {
        node.shift_remove(key);
    }
}

/// Removes `set`'s paths from `node` (members and children each, as `Set::subtract`).
pub(super) fn subtract(node: &mut Map<String, Value>, set: &Set) {
    for (key, unmark, sub) in touched(set) {
        let Some(Value::Object(child)) = node.get_mut(&key) else {
            continue;
        };
        let member = is_member(child) && !unmark;
        if let Some(sub) = sub {
            subtract(child, sub);
        }
        settle(node, &key, member);
    }
}

/// Removes `set`'s paths and everything under its members (as `Set::strip`).
pub(super) fn strip(node: &mut Map<String, Value>, set: &Set) {
    for (key, unmark, sub) in touched(set) {
        if unmark {
            node.shift_remove(&key);
            continue;
        }
        let Some(Value::Object(child)) = node.get_mut(&key) else {
            continue;
        };
        let member = is_member(child);
        if let Some(sub) = sub {
            strip(child, sub);
        }
        settle(node, &key, member);
    }
}

/// Adds `set`'s paths to `node`; new keys go in sorted order among their siblings.
pub(super) fn union(node: &mut Map<String, Value>, set: &Set) {
    for (key, mark, sub) in touched(set) {
        let existed = node.contains_key(&key);
        if !existed {
            insert_sorted(node, &key);
        }
        let Some(Value::Object(child)) = node.get_mut(&key) else {
            continue;
        };
        let member = mark || (existed && is_member(child));
        if let Some(sub) = sub {
            if member && child.is_empty() {
                child.insert(".".into(), Value::Object(Map::new()));
            }
            union(child, sub);
        }
        settle(node, &key, member);
    }
}

/// Inserts an empty node for `key` where upstream's sorted order puts it (`.` first).
fn insert_sorted(node: &mut Map<String, Value>, key: &str) {
    fn rank(k: &str) -> (u8, &str) {
        let tag = match k.as_bytes().first() {
            Some(b'.') => 0,
            Some(b'f') => 1,
            Some(b'k') => 2,
            Some(b'v') => 3,
            _ => 4,
        };
        (tag, k)
    }
    let at_end = node
        .keys()
        .next_back()
        .is_none_or(|last| rank(last) < rank(key));
    if at_end {
        node.insert(key.to_string(), Value::Object(Map::new()));
        return;
    }
    let mut rebuilt = Map::with_capacity(node.len() + 1);
    let mut placed = false;
    for (k, v) in std::mem::take(node) {
        if !placed && rank(&k) > rank(key) {
            rebuilt.insert(key.to_string(), Value::Object(Map::new()));
            placed = true;
        }
        rebuilt.insert(k, v);
    }
    if !placed {
        rebuilt.insert(key.to_string(), Value::Object(Map::new()));
    }
    *node = rebuilt;
}

/// The keys one level of `set` touches: (FieldsV1 key, is a member of `set`, its subset).
fn touched(set: &Set) -> Vec<(String, bool, Option<&Set>)> {
    let mut out: Vec<(String, bool, Option<&Set>)> = set
        .members()
        .map(|pe| (pe.to_fields_v1_key(), true, set.child(pe)))
        .collect();
    for (pe, c) in set.children() {
        if !set.is_member(pe) {
            out.push((pe.to_fields_v1_key(), false, Some(c)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn sets() -> Vec<Set> {
        [
            json!({}),
            json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}}),
            json!({"f:data": {"f:a": {}}}),
            json!({"f:data": {}}),
            json!({"f:spec": {"f:c": {"k:{\"name\":\"x\"}": {".": {}, "f:image": {}, "f:name": {}}}}}),
            json!({"f:spec": {"f:c": {"k:{\"name\":\"x\"}": {"f:image": {}}, "k:{\"name\":\"y\"}": {}}}}),
            json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:data": {"f:b": {}}}),
        ]
        .iter()
        .map(|v| Set::from_fields_v1(v).unwrap())
        .collect()
    }

    fn raw(s: &Set) -> Map<String, Value> {
        s.to_fields_v1().as_object().unwrap().clone()
    }

    fn back(m: Map<String, Value>) -> Set {
        let v = Value::Object(m);
        assert!(valid(&v), "{v}");
        Set::from_fields_v1(&v).unwrap()
    }

    #[test]
    fn raw_operations_agree_with_sets() {
        for a in sets() {
            for b in sets() {
                let mut m = raw(&a);
                subtract(&mut m, &b);
                assert_eq!(back(m), a.difference(&b), "{a:?} - {b:?}");
                let mut m = raw(&a);
                strip(&mut m, &b);
                assert_eq!(back(m), a.recursive_difference(&b), "{a:?} strip {b:?}");
                let mut m = raw(&a);
                union(&mut m, &b);
                let got = back(m.clone());
                assert_eq!(got, a.union(&b), "{a:?} + {b:?}");
                // Sorted as the set writes it.
                assert_eq!(
                    Value::Object(m).to_string(),
                    a.union(&b).to_fields_v1().to_string()
                );
            }
        }
        assert!(!valid(&json!({"x": {}})) && !valid(&json!({"f:a": 1})) && !valid(&json!([])));
    }
}
