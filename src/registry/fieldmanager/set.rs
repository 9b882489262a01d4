//! Sets of field paths, as structured-merge-diff's `fieldpath.Set`: which fields of an object
//! a manager owns, what a write added, changed or removed. A set is a tree: at each node the
//! path elements that end there (members) and those that lead further (children); a node
//! can be both (a list item owned itself and through its fields). Serialized as upstream's
//! `FieldsV1` (`f:name`, `k:{...}`, `v:...`, `i:N`, and `.` for a node that is a member too).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// One step of a field path. The variant order is upstream's path element order: field
/// names, then list keys, then set values, then indices.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of a struct or a key of a map.
    Field(String),
    /// An item of an associative list, by its key fields: the canonical JSON object of
    /// them (fields sorted by name, compact), as `FieldsV1` writes it after `k:`.
    Key(String),
    /// An item of a set-list, by its compact JSON value.
    Value(String),
    /// An item of an atomic list by position (only where no key identifies items).
    Index(usize),
}

impl PathElement {
    /// The key of a list item from its key fields' values.
    pub fn key(mut fields: Vec<(&str, &Value)>) -> Self {
        fields.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = String::from("{");
        for (i, (k, v)) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&compact(&Value::String(k.to_string())));
            out.push(':');
            out.push_str(&compact(v));
        }
        out.push('}');
        Self::Key(out)
    }

    /// A set-list item by value.
    pub fn value(v: &Value) -> Self {
        Self::Value(compact(v))
    }

    /// The element as a `FieldsV1` key.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            Self::Field(f) => format!("f:{f}"),
            Self::Key(k) => format!("k:{k}"),
            Self::Value(v) => format!("v:{v}"),
            Self::Index(i) => format!("i:{i}"),
        }
    }

    /// The element of a `FieldsV1` key; None for one that is not upstream's. Keys and
    /// values are kept as written (upstream writes them canonically) unless they hold an
    /// escape, which is normalized.
    fn parse_fields_v1(s: &str) -> Option<Self> {
        let (tag, rest) = s.split_once(':')?;
        match tag {
            "f" => Some(Self::Field(rest.to_string())),
            "k" if !rest.contains('\\') && rest.starts_with('{') && rest.ends_with('}') => {
                Some(Self::Key(rest.to_string()))
            }
            "k" => {
                let Ok(Value::Object(m)) = serde_json::from_str::<Value>(rest) else {
                    return None;
                };
                Some(Self::key(m.iter().map(|(k, v)| (k.as_str(), v)).collect()))
            }
            "v" if !rest.contains('\\') && !rest.is_empty() => Some(Self::Value(rest.to_string())),
            "v" => serde_json::from_str::<Value>(rest)
                .ok()
                .map(|v| Self::value(&v)),
            "i" => rest.parse().ok().map(Self::Index),
            _ => None,
        }
    }
}

/// A path element as upstream prints it in conflict messages: `.name`,
/// `[name="nginx"]`, `[=value]`, `[3]`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(name) => write!(f, ".{name}"),
            Self::Key(k) => {
                let body: Vec<String> = match serde_json::from_str::<Value>(k) {
                    Ok(Value::Object(m)) => m
                        .iter()
                        .map(|(k, v)| format!("{k}={}", compact(v)))
                        .collect(),
                    _ => vec![k.clone()],
                };
                write!(f, "[{}]", body.join(","))
            }
            Self::Value(v) => write!(f, "[={v}]"),
            Self::Index(i) => write!(f, "[{i}]"),
        }
    }
}

fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// A path printed as upstream prints it (`.spec.containers[name="app"].image`).
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of field paths (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, Set>,
}

impl Set {
    /// Whether the set holds no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(Set::is_empty)
    }

    /// Adds `path` (a non-empty path; an empty one is ignored).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// Whether `pe` ends a path here.
    pub fn is_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    /// The subset under `pe`, if any.
    pub fn child(&self, pe: &PathElement) -> Option<&Set> {
        self.children.get(pe)
    }

    /// The members here, for walks that add to them.
    pub(super) fn mark(&mut self, pe: PathElement) {
        self.members.insert(pe);
    }

    /// Every path of `self` or `other`.
    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.union_in(other);
        out
    }

    /// Adds every path of `other`.
    pub fn union_in(&mut self, other: &Set) {
        self.members.extend(other.members.iter().cloned());
        for (pe, c) in &other.children {
            self.children.entry(pe.clone()).or_default().union_in(c);
        }
    }

    /// The paths of `self` not in `other` (members and children each, as upstream's).
    pub fn difference(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.subtract(other);
        out
    }

    /// Removes the paths of `other` (members and children each, as [`Set::difference`]),
    /// in place.
    pub fn subtract(&mut self, other: &Set) {
        if other.members.len() < self.members.len() {
            for pe in &other.members {
                self.members.remove(pe);
            }
        } else {
            self.members.retain(|pe| !other.members.contains(pe));
        }
        for (pe, o) in &other.children {
            if let Some(c) = self.children.get_mut(pe) {
                c.subtract(o);
                if c.is_empty() {
                    self.children.remove(pe);
                }
            }
        }
    }

    /// Adds `child`'s paths under `pe`, taking them (no copy when `pe` has none yet).
    pub(super) fn absorb_child(&mut self, pe: PathElement, child: Set) {
        if child.is_empty() {
            return;
        }
        match self.children.entry(pe) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(child);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => o.get_mut().union_in(&child),
        }
    }

    /// The paths in both.
    pub fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, c)| {
                let i = c.intersection(other.children.get(pe)?);
                (!i.is_empty()).then(|| (pe.clone(), i))
            })
            .collect();
        Set { members, children }
    }

    /// Every member path, in order.
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    /// Members first, then each child's paths (upstream's iteration order).
    fn collect(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for pe in &self.members {
            prefix.push(pe.clone());
            out.push(prefix.clone());
            prefix.pop();
        }
        for (pe, c) in &self.children {
            prefix.push(pe.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The paths of `self` that are neither in `other` nor under one of its members
    /// (upstream's `RecursiveDifference`: ignoring `status` ignores all of it).
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.strip(other);
        out
    }

    /// The members here, for schema walks over a set.
    pub(super) fn members(&self) -> impl Iterator<Item = &PathElement> {
        self.members.iter()
    }

    /// Sets the subset under `pe`.
    pub(super) fn put_child(&mut self, pe: PathElement, child: Set) {
        if child.is_empty() {
            self.children.remove(&pe);
        } else {
            self.children.insert(pe, child);
        }
    }

    /// Removes, in place, the paths of `other` and everything under its members (as
    /// [`Set::recursive_difference`]).
    pub fn strip(&mut self, other: &Set) {
        for pe in &other.members {
            self.members.remove(pe);
            self.children.remove(pe);
        }
        for (pe, o) in &other.children {
            if let Some(c) = self.children.get_mut(pe) {
                c.strip(o);
                if c.is_empty() {
                    self.children.remove(pe);
                }
            }
        }
    }

    /// Keeps only the paths that start with `pe`, in place.
    pub fn keep_only_under(&mut self, pe: &PathElement) {
        let member = self.members.contains(pe);
        let child = self.children.remove(pe);
        self.members.clear();
        self.children.clear();
        if member {
            self.members.insert(pe.clone());
        }
        if let Some(c) = child {
            self.children.insert(pe.clone(), c);
        }
    }

    /// The children, for schema walks over a set.
    pub(super) fn children(&self) -> impl Iterator<Item = (&PathElement, &Set)> {
        self.children.iter()
    }

    /// The set as upstream's `FieldsV1` JSON.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.contents(false))
    }

    fn contents(&self, is_member: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if is_member {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        let mut keys: BTreeSet<&PathElement> = self.members.iter().collect();
        keys.extend(self.children.keys());
        for pe in keys {
            let member = self.members.contains(pe);
            let node = match self.children.get(pe).filter(|c| !c.is_empty()) {
                Some(c) => c.contents(member),
                None => Map::new(),
            };
            out.insert(pe.to_fields_v1_key(), Value::Object(node));
        }
        out
    }

    /// A set from upstream's `FieldsV1` JSON; None for a malformed one.
    pub fn from_fields_v1(v: &Value) -> Option<Set> {
        let mut set = Set::default();
        for (k, child) in v.as_object()? {
            if k == "." {
                continue;
            }
            let pe = PathElement::parse_fields_v1(k)?;
            let c = child.as_object()?;
            if c.is_empty() || c.contains_key(".") {
                set.members.insert(pe.clone());
            }
            if c.keys().any(|k| k != ".") {
                set.children.insert(pe, Set::from_fields_v1(child)?);
            }
        }
        Some(set)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn f(s: &str) -> PathElement {
        PathElement::Field(s.into())
    }

    #[test]
    fn fields_v1_round_trips_in_upstreams_form() {
        let v = json!({
            "f:data": {".": {}, "f:a": {}},
            "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}},
                       "f:finalizers": {"v:\"x\"": {}}}
        });
        let set = Set::from_fields_v1(&v).unwrap();
        assert!(set.has(&[f("data")]));
        assert!(set.has(&[f("data"), f("a")]));
        assert!(!set.has(&[f("spec")]));
        let item = PathElement::key(vec![("name", &json!("app"))]);
        assert!(set.has(&[f("spec"), f("containers"), item.clone(), f("image")]));
        assert_eq!(set.to_fields_v1(), v);
        assert_eq!(
            path_string(&[f("spec"), f("containers"), item, f("image")]),
            ".spec.containers[name=\"app\"].image"
        );
        assert_eq!(Set::from_fields_v1(&json!({"x:y": {}})), None);
        assert_eq!(Set::from_fields_v1(&json!({"f:y": 1})), None);
    }

    #[test]
    fn set_algebra_is_member_and_child_wise() {
        let mut a = Set::default();
        a.insert(&[f("a"), f("b")]);
        a.insert(&[f("a"), f("c")]);
        a.insert(&[f("d")]);
        let mut b = Set::default();
        b.insert(&[f("a"), f("b")]);
        b.insert(&[f("a")]);
        let d = a.difference(&b);
        assert_eq!(d.paths().len(), 2);
        assert!(d.has(&[f("a"), f("c")]) && d.has(&[f("d")]));
        let i = a.intersection(&b);
        assert_eq!(i.paths(), vec![vec![f("a"), f("b")]]);
        assert_eq!(a.union(&b).paths().len(), 4);
        assert!(a.difference(&a).is_empty());
    }
}
