//! Small helpers for defaulting JSON fields the way upstream's `SetDefaults_*` functions do:
//! a field is defaulted when it is absent, null or an empty string.

use serde_json::{Map, Value};

use crate::api::validation::FieldError;

/// The object at `k`, created (or replaced, when it is not an object) as `{}`.
pub(super) fn obj<'a>(m: &'a mut Map<String, Value>, k: &str) -> &'a mut Map<String, Value> {
    let v = m.entry(k).or_insert_with(|| Value::Object(Map::new()));
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    match v {
        Value::Object(o) => o,
        _ => unreachable!("just made an object"),
    }
}

/// Whether `k` is unset (absent, null or "").
pub(super) fn missing(m: &Map<String, Value>, k: &str) -> bool {
    match m.get(k) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

/// Sets `k` to `v` when it is unset.
pub(super) fn default(m: &mut Map<String, Value>, k: &str, v: Value) {
    if missing(m, k) {
        m.insert(k.into(), v);
    }
}

/// The object elements of the list `v` (absent or not a list: none).
pub(super) fn objects(v: Option<&mut Value>) -> impl Iterator<Item = &mut Map<String, Value>> {
    v.and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// The value at `path` in `o`, when it is set (absent and null are unset alike).
pub(super) fn at<'a>(o: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(o.get(*first)?, |v, k| v.get(*k))
        .filter(|v| !v.is_null())
}

/// upstream's `ValidateImmutableField` for each of `paths`: `field is immutable` (with the new
/// value) for every one an update changed, the field named as `name` spells it.
pub(super) fn immutable_fields(
    o: &Map<String, Value>,
    old: &Map<String, Value>,
    paths: &[&[&str]],
    name: impl Fn(&[&str]) -> String,
) -> Vec<FieldError> {
    paths
        .iter()
        .filter(|path| at(o, path) != at(old, path))
        .map(|path| FieldError::immutable(name(path), at(o, path)))
        .collect()
}

/// The object at `k` in `m`, if there is one (defaults apply only to what the user set).
pub(super) fn present<'a>(
    m: &'a mut Map<String, Value>,
    k: &str,
) -> Option<&'a mut Map<String, Value>> {
    m.get_mut(k).and_then(Value::as_object_mut)
}
