//! Objects walked with their kind's schema, as structured-merge-diff walks typed values: the
//! field set of an object, what changed between two objects, the merge of an applied
//! configuration into a live object, and the removal of a set of fields. The schema says how
//! each node merges: a struct (declared properties) or a map (additionalProperties) is
//! granular unless `x-kubernetes-map-type: atomic`; a list is atomic, a set, or a map keyed
//! by `x-kubernetes-list-map-keys`, and a list without a list type that merges by a
//! `x-kubernetes-patch-merge-key` is a map keyed by it (as kube-openapi converts the
//! built-in types). A place the schema does not describe is deduced from the value: objects
//! are granular maps, lists atomic.

use serde_json::{Map, Value};

use super::set::{path_string, PathElement, Set};
use crate::openapi::{resolve, KindSchema};

/// A place in a kind's schema (None: not described).
#[derive(Clone, Copy)]
pub struct Ty {
    defs: Option<&'static Map<String, Value>>,
    node: Option<&'static Value>,
}

/// How the items of a list are told apart.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ListKind {
    Atomic,
    Set,
    Map(std::rc::Rc<[String]>),
}

/// What the schema says a node is.
#[derive(Clone)]
enum Shape {
    Scalar,
    /// Declared properties (and maybe additionalProperties for the rest).
    Struct {
        props: &'static Map<String, Value>,
        rest: Option<Ty>,
        atomic: bool,
        /// The properties the schema requires (in the Go zero value, see [`compare`]).
        required: &'static [Value],
        /// The definition's name, for the Go facts kept by name.
        definition: Option<&'static str>,
    },
    Map {
        values: Ty,
        atomic: bool,
    },
    List {
        items: Ty,
        kind: ListKind,
    },
}

fn ext(nodes: &[&'static Value], key: &str) -> Option<&'static Value> {
    nodes.iter().find_map(|n| n.get(key))
}

impl Ty {
    /// The root of a kind described by `schema` (None: deduced from values).
    pub fn root(schema: Option<&KindSchema<'static>>) -> Self {
        Self {
            defs: schema.map(|s| s.schemas),
            node: schema.and_then(KindSchema::definition),
        }
    }

    const UNTYPED: Self = Self {
        defs: None,
        node: None,
    };

    fn at(&self, node: Option<&'static Value>) -> Self {
        match node {
            Some(n) => Self {
                defs: self.defs,
                node: Some(n),
            },
            None => Self::UNTYPED,
        }
    }

    /// The schema's shape here; None: undescribed (deduce from the value). Worked out once
    /// per schema node and thread: writes walk the same nodes over and over.
    fn shape(&self) -> Option<Shape> {
        type Cache = std::collections::HashMap<usize, Option<Shape>, foldhash::fast::FixedState>;
        thread_local! {
            static SHAPES: std::cell::RefCell<Cache> = std::cell::RefCell::new(Cache::default());
        }
        let node = self.node?;
        let key = std::ptr::from_ref(node) as usize;
        if let Some(hit) = SHAPES.with(|c| c.borrow().get(&key).cloned()) {
            return hit;
        }
        let shape = self.shape_uncached();
        SHAPES.with(|c| c.borrow_mut().insert(key, shape.clone()));
        shape
    }

    fn shape_uncached(&self) -> Option<Shape> {
        let (defs, node) = (self.defs?, self.node?);
        let (definition, s) = resolve(defs, node);
        let nodes = [node, s];
        let map_atomic =
            ext(&nodes, "x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
        let ty = s.get("type").and_then(Value::as_str);
        if ty == Some("array") {
            let items = self.at(s.get("items"));
            let list_type = ext(&nodes, "x-kubernetes-list-type").and_then(Value::as_str);
            let keys = || -> std::rc::Rc<[String]> {
                ext(&nodes, "x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let kind = match list_type {
                Some("set") => ListKind::Set,
                Some("map") => ListKind::Map(keys()),
                Some(_) => ListKind::Atomic,
                None => {
                    let merge = ext(&nodes, "x-kubernetes-patch-strategy")
                        .and_then(Value::as_str)
                        .is_some_and(|s| s.split(',').any(|p| p == "merge"));
                    match ext(&nodes, "x-kubernetes-patch-merge-key").and_then(Value::as_str) {
                        Some(k) if merge => ListKind::Map(vec![k.to_string()].into()),
                        None if merge => ListKind::Set,
                        _ => ListKind::Atomic,
                    }
                }
            };
            return Some(Shape::List { items, kind });
        }
        let rest = s.get("additionalProperties").filter(|a| a.is_object());
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            let required = s
                .get("required")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            return Some(Shape::Struct {
                props,
                rest: rest.map(|r| self.at(Some(r))),
                atomic: map_atomic,
                required,
                definition,
            });
        }
        if let Some(values) = rest {
            return Some(Shape::Map {
                values: self.at(Some(values)),
                atomic: map_atomic,
            });
        }
        match ty {
            Some("string" | "integer" | "number" | "boolean") => Some(Shape::Scalar),
            _ => None,
        }
    }

    /// The shape here, deduced from `v` where the schema is silent.
    fn shape_of(&self, v: Option<&Value>) -> Shape {
        if let Some(s) = self.shape() {
            return s;
        }
        match v {
            Some(Value::Object(_)) => Shape::Map {
                values: Self::UNTYPED,
                atomic: false,
            },
            Some(Value::Array(_)) => Shape::List {
                items: Self::UNTYPED,
                kind: ListKind::Atomic,
            },
            _ => Shape::Scalar,
        }
    }

    /// The place one path element down (for walks over sets, which have no values).
    fn step(&self, pe: &PathElement) -> Self {
        match (self.shape(), pe) {
            (Some(Shape::Struct { props, rest, .. }), PathElement::Field(f)) => {
                match props.get(f) {
                    Some(p) => self.at(Some(p)),
                    None => rest.unwrap_or(Self::UNTYPED),
                }
            }
            (Some(Shape::Map { values, .. }), PathElement::Field(_)) => values,
            (Some(Shape::List { items, .. }), _) => items,
            _ => Self::UNTYPED,
        }
    }
}

impl Shape {
    /// Leaves: scalars and atomic lists, maps and structs, owned whole.
    fn is_leaf(&self) -> bool {
        match self {
            Shape::Scalar => true,
            Shape::Struct { atomic, .. } | Shape::Map { atomic, .. } => *atomic,
            Shape::List { kind, .. } => *kind == ListKind::Atomic,
        }
    }
}

/// The place of field `k` under a struct or map shape, carrying `parent`'s definitions.
fn child(parent: &Ty, shape: &Shape, k: &str) -> Option<(Ty, bool)> {
    match shape {
        Shape::Struct { props, rest, .. } => match props.get(k) {
            Some(p) => Some((parent.at(Some(p)), true)),
            None => rest.map(|r| (r, false)),
        },
        Shape::Map { values, .. } => Some((*values, false)),
        _ => None,
    }
}

/// Where a walk is: the bookkeeping (`metadata.managedFields`) is never a field anyone owns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    Root,
    Metadata,
    Below,
}

impl Depth {
    fn child(self, k: &str) -> Self {
        match self {
            Self::Root if k == "metadata" => Self::Metadata,
            _ => Self::Below,
        }
    }

    fn skips(self, k: &str) -> bool {
        self == Self::Metadata && k == "managedFields"
    }
}

/// The path element of item `i` of a list of `kind`, or why it has none.
fn element(kind: &ListKind, i: usize, item: &Value) -> Result<PathElement, String> {
    match kind {
        ListKind::Atomic => Ok(PathElement::Index(i)),
        ListKind::Set => Ok(PathElement::value(item)),
        ListKind::Map(keys) => {
            let Value::Object(m) = item else {
                return Err("expected an object in an associative list".into());
            };
            let mut fields = Vec::with_capacity(keys.len());
            for k in keys.iter() {
                match m.get(k) {
                    Some(v) => fields.push((k.as_str(), v)),
                    // upstream's types default a port's protocol to TCP (`+default`).
                    None if k == "protocol" => fields.push((k.as_str(), tcp())),
                    None => {
                        return Err(format!(
                            "associative list with keys has an element that omits key field {k:?} (and doesn't have default value)"
                        ))
                    }
                }
            }
            Ok(PathElement::key(fields))
        }
    }
}

fn tcp() -> &'static Value {
    static V: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    V.get_or_init(|| Value::String("TCP".into()))
}

/// The items of a list with their path elements (an item without one is keyed by index).
fn indexed<'v>(kind: &ListKind, items: &'v [Value]) -> Vec<(PathElement, &'v Value)> {
    items
        .iter()
        .enumerate()
        .map(|(i, it)| (element(kind, i, it).unwrap_or(PathElement::Index(i)), it))
        .collect()
}

/// Finds items by path element: a scan for short lists, a hash index for long ones.
struct ItemIndex<'i, 'v> {
    items: &'i [(PathElement, &'v Value)],
    by_element: Option<std::collections::HashMap<&'i PathElement, &'v Value>>,
}

impl<'i, 'v> ItemIndex<'i, 'v> {
    fn new(items: &'i [(PathElement, &'v Value)]) -> Self {
        let by_element = (items.len() > 8).then(|| items.iter().map(|(p, v)| (p, *v)).collect());
        Self { items, by_element }
    }

    fn get(&self, pe: &PathElement) -> Option<&'v Value> {
        match &self.by_element {
            Some(m) => m.get(pe).copied(),
            None => self.items.iter().find(|(p, _)| p == pe).map(|(_, v)| *v),
        }
    }
}

/// A walk's error: the message and the path to it, innermost element first.
type WalkError = (String, Vec<PathElement>);

/// The fields of `v` (upstream's `ToFieldSet`). `strict`: an undeclared field or an item
/// without its keys is an error naming its path (an applied configuration), else it is
/// owned as found.
pub fn field_set(ty: Ty, v: &Value, strict: bool) -> Result<Set, String> {
    to_set(ty, v, strict, Depth::Root).map_err(|(msg, mut path)| {
        path.reverse();
        format!("{}{msg}", path_string(&path))
    })
}

/// The fields under one node (relative to it).
fn to_set(ty: Ty, v: &Value, strict: bool, depth: Depth) -> Result<Set, WalkError> {
    let shape = ty.shape_of(Some(v));
    let mut out = Set::default();
    if shape.is_leaf() {
        return Ok(out);
    }
    match (&shape, v) {
        (Shape::List { items, kind }, Value::Array(list)) => {
            for (i, item) in list.iter().enumerate() {
                let pe = match element(kind, i, item) {
                    Ok(pe) => pe,
                    Err(e) if strict => return Err((format!(": {e}"), Vec::new())),
                    Err(_) => PathElement::Index(i),
                };
                if strict && (out.is_member(&pe) || out.child(&pe).is_some()) {
                    return Err((format!(": duplicate entries for key {pe}"), Vec::new()));
                }
                let sub = to_set(*items, item, strict, Depth::Below).map_err(|(m, mut p)| {
                    p.push(pe.clone());
                    (m, p)
                })?;
                out.absorb_child(pe.clone(), sub);
                out.mark(pe);
            }
        }
        (Shape::Struct { .. } | Shape::Map { .. }, Value::Object(m)) => {
            for (k, val) in m {
                if depth.skips(k) {
                    continue;
                }
                let pe = PathElement::Field(k.clone());
                let (child_ty, declared) = match child(&ty, &shape, k) {
                    Some(c) => c,
                    None if strict => {
                        return Err((": field not declared in schema".into(), vec![pe]));
                    }
                    None => (Ty::UNTYPED, false),
                };
                let child_leaf = child_ty.shape_of(Some(val)).is_leaf();
                let sub = to_set(child_ty, val, strict, depth.child(k)).map_err(|(m, mut p)| {
                    p.push(pe.clone());
                    (m, p)
                })?;
                let empty = val.is_null() || val.as_object().is_some_and(Map::is_empty);
                let member = child_leaf || empty || !declared;
                out.absorb_child(pe.clone(), sub);
                if member {
                    out.mark(pe);
                }
            }
        }
        _ => {}
    }
    Ok(out)
}

/// What changed from one object to another (upstream's `Comparison`).
#[derive(Debug, Default)]
pub struct Comparison {
    /// Fields the new object has and the old had not.
    pub added: Set,
    /// Fields whose value changed.
    pub modified: Set,
    /// Fields the old object had and the new has not.
    pub removed: Set,
}

impl Comparison {
    /// Whether nothing changed.
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }

    /// Added and modified, and removed, taking them apart.
    pub fn into_changed_and_removed(self) -> (Set, Set) {
        let mut changed = self.added;
        changed.union_in(&self.modified);
        (changed, self.removed)
    }

    /// Puts a child node's comparison under `pe`, and the child itself where `mark` says.
    fn absorb(&mut self, pe: PathElement, child: Comparison, mark: Mark) {
        for (into, sub) in [
            (&mut self.added, child.added),
            (&mut self.modified, child.modified),
            (&mut self.removed, child.removed),
        ] {
            if !sub.is_empty() {
                into.absorb_child(pe.clone(), sub);
            }
        }
        match mark {
            Mark::Added => self.added.mark(pe),
            Mark::Modified => self.modified.mark(pe),
            Mark::Removed => self.removed.mark(pe),
            Mark::None => {}
        }
    }
}

/// How a node itself compared.
#[derive(Clone, Copy)]
enum Mark {
    None,
    Added,
    Modified,
    Removed,
}

/// Compares `old` with `new`. `create`: `old` stands for an empty object of the kind as
/// upstream compares a create with one (a Go zero value): its struct fields and its
/// required lists and maps exist, so the new object's are not themselves added; optional
/// lists and maps, and everything inside list items, are.
pub fn compare(ty: Ty, old: &Value, new: &Value, create: bool) -> Comparison {
    cmp(ty, Some(old), Some(new), create, Depth::Root).0
}

fn is_empty_value(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// Whether field `k` of a struct exists in the struct's Go zero value, and as what (None
/// for a map's keys): what
/// Go's encoding writes for it (`codec::go_json`: struct values, fields without
/// `omitempty`); for a type that is not the API's, a nested struct or a required field
/// exists (as `{}`).
fn zero_field(parent: &Shape, child_ty: &Ty, k: &str) -> Option<Value> {
    let Shape::Struct {
        required,
        definition,
        ..
    } = parent
    else {
        return None;
    };
    if let Some(z) = definition.and_then(|d| crate::codec::go_json::zero_field(d, k)) {
        return z;
    }
    (matches!(child_ty.shape(), Some(Shape::Struct { .. })) || required.iter().any(|x| x == k))
        .then(|| Value::Object(Map::new()))
}

/// One node of the comparison: its children's changes (relative to it) and how the node
/// itself compared. `zero`: an absent `lhs` here is a Go zero value's field (it exists,
/// empty), not a missing one.
fn cmp(
    ty: Ty,
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    zero: bool,
    depth: Depth,
) -> (Comparison, Mark) {
    let shape = ty.shape_of(rhs.or(lhs));
    let mut c = Comparison::default();
    if shape.is_leaf() {
        let empties = !matches!(shape, Shape::Scalar) && is_empty_value(lhs) && is_empty_value(rhs);
        let mark = match (lhs, rhs) {
            _ if empties => Mark::None,
            (None, Some(_)) => Mark::Added,
            (Some(_), None) => Mark::Removed,
            (Some(l), Some(r)) if l != r => Mark::Modified,
            _ => Mark::None,
        };
        return (c, mark);
    }
    let (l, r) = (lhs.unwrap_or(&Value::Null), rhs.unwrap_or(&Value::Null));
    let both_empty = is_empty_value(lhs) && is_empty_value(rhs);
    match &shape {
        Shape::List { items, kind } if !both_empty => {
            let (la, ra) = (
                l.as_array().map_or(&[][..], Vec::as_slice),
                r.as_array().map_or(&[][..], Vec::as_slice),
            );
            let (li, ri) = (indexed(kind, la), indexed(kind, ra));
            let (lx, rx) = (ItemIndex::new(&li), ItemIndex::new(&ri));
            for (pe, lv) in &li {
                let rv = rx.get(pe);
                if rv == Some(*lv) {
                    continue;
                }
                let (sub, mark) = cmp(*items, Some(lv), rv, false, Depth::Below);
                c.absorb(pe.clone(), sub, mark);
            }
            for (pe, rv) in &ri {
                if lx.get(pe).is_some() {
                    continue;
                }
                let (sub, mark) = cmp(*items, None, Some(rv), false, Depth::Below);
                c.absorb(pe.clone(), sub, mark);
            }
        }
        Shape::Struct { .. } | Shape::Map { .. } if !both_empty => {
            let empty = Map::new();
            let (lm, rm) = (
                l.as_object().unwrap_or(&empty),
                r.as_object().unwrap_or(&empty),
            );
            cmp_fields(ty, &shape, lm, rm, &mut c, zero, depth);
        }
        _ => {}
    }
    let mark = match (lhs, rhs) {
        (None, Some(_)) if !zero => Mark::Added,
        (Some(_), None) => Mark::Removed,
        _ => Mark::None,
    };
    (c, mark)
}

/// The fields of a struct or map compared one by one.
fn cmp_fields(
    ty: Ty,
    shape: &Shape,
    lm: &Map<String, Value>,
    rm: &Map<String, Value>,
    c: &mut Comparison,
    zero: bool,
    depth: Depth,
) {
    for (k, lv) in lm {
        if depth.skips(k) {
            continue;
        }
        let rv = rm.get(k);
        // An equal subtree has no changes: skip its schema walk.
        if rv == Some(lv) {
            continue;
        }
        let child_ty = child(&ty, shape, k).map_or(Ty::UNTYPED, |c| c.0);
        let (sub, mark) = cmp(child_ty, Some(lv), rv, false, depth.child(k));
        c.absorb(PathElement::Field(k.clone()), sub, mark);
    }
    for (k, rv) in rm {
        if lm.contains_key(k) || depth.skips(k) {
            continue;
        }
        let child_ty = child(&ty, shape, k).map_or(Ty::UNTYPED, |c| c.0);
        let zero_value = zero.then(|| zero_field(shape, &child_ty, k)).flatten();
        if zero_value.as_ref() == Some(rv) {
            continue;
        }
        let (sub, mark) = cmp(
            child_ty,
            None,
            Some(rv),
            zero_value.is_some(),
            depth.child(k),
        );
        c.absorb(PathElement::Field(k.clone()), sub, mark);
    }
}

/// [`compare`] of two objects given as maps (no copy into a `Value`).
pub fn compare_objects(
    ty: Ty,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    create: bool,
) -> Comparison {
    let mut c = Comparison::default();
    let shape = ty.shape().unwrap_or(Shape::Map {
        values: Ty::UNTYPED,
        atomic: false,
    });
    cmp_fields(ty, &shape, old, new, &mut c, create, Depth::Root);
    c
}

/// What a create records as its writer's (everything [`compare`] with `create` finds
/// added), written straight as `FieldsV1` without building a set: the fast path of the
/// most common write.
pub fn created_fields_v1(ty: Ty, new: &Map<String, Value>) -> Map<String, Value> {
    let shape = ty.shape().unwrap_or(Shape::Map {
        values: Ty::UNTYPED,
        atomic: false,
    });
    fields_added(ty, &shape, new, true, Depth::Root)
}

fn v1_node(children: Map<String, Value>, member: bool) -> Value {
    if member && !children.is_empty() {
        let mut m = Map::with_capacity(children.len() + 1);
        m.insert(".".into(), Value::Object(Map::new()));
        m.extend(children);
        Value::Object(m)
    } else {
        Value::Object(children)
    }
}

/// Sorted as upstream writes `FieldsV1` (fields, keys, values, indices; each by text).
fn sorted_v1(mut entries: Vec<(PathElement, Value)>) -> Map<String, Value> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
        .into_iter()
        .map(|(pe, v)| (pe.to_fields_v1_key(), v))
        .collect()
}

fn fields_added(
    ty: Ty,
    shape: &Shape,
    m: &Map<String, Value>,
    zero: bool,
    depth: Depth,
) -> Map<String, Value> {
    let mut out = Vec::with_capacity(m.len());
    for (k, val) in m {
        if depth.skips(k) {
            continue;
        }
        let child_ty = child(&ty, shape, k).map_or(Ty::UNTYPED, |c| c.0);
        let zero_value = zero.then(|| zero_field(shape, &child_ty, k)).flatten();
        if zero_value.as_ref() == Some(val) {
            continue;
        }
        let (sub, member) = added(child_ty, val, zero_value.is_some(), depth.child(k));
        if member || !sub.is_empty() {
            out.push((PathElement::Field(k.clone()), v1_node(sub, member)));
        }
    }
    sorted_v1(out)
}

/// One node of a create: its children's `FieldsV1` and whether it is itself recorded.
fn added(ty: Ty, v: &Value, zero: bool, depth: Depth) -> (Map<String, Value>, bool) {
    let shape = ty.shape_of(Some(v));
    if shape.is_leaf() {
        let empty = !matches!(shape, Shape::Scalar) && is_empty_value(Some(v));
        return (Map::new(), !empty);
    }
    let children = match (&shape, v) {
        (Shape::List { items, kind }, Value::Array(list)) => sorted_v1(
            list.iter()
                .enumerate()
                .map(|(i, item)| {
                    let pe = element(kind, i, item).unwrap_or(PathElement::Index(i));
                    let (sub, _) = added(*items, item, false, Depth::Below);
                    (pe, v1_node(sub, true))
                })
                .collect(),
        ),
        (Shape::Struct { .. } | Shape::Map { .. }, Value::Object(m)) => {
            fields_added(ty, &shape, m, zero, depth)
        }
        _ => Map::new(),
    };
    (children, !zero)
}

/// The applied configuration `config` merged into `live` (upstream's `Merge`): the
/// configuration's values win; granular structs and maps merge field by field; keyed and
/// set lists merge by item, the configuration's items in its order and the live object's
/// other items where they were; atomic values are replaced.
pub fn merge(ty: Ty, live: &Value, config: &Value) -> Value {
    let shape = ty.shape_of(Some(config));
    if shape.is_leaf() {
        return config.clone();
    }
    match (&shape, live, config) {
        (Shape::List { items, kind }, Value::Array(l), Value::Array(r)) => {
            let (li, ri) = (indexed(kind, l), indexed(kind, r));
            // Hash-indexed past a few items: a long applied list stays linear.
            let (lx, rx) = (ItemIndex::new(&li), ItemIndex::new(&ri));
            let mut out = Vec::with_capacity(l.len().max(r.len()));
            let mut next = 0;
            let emit_to_shared = |out: &mut Vec<Value>, next: &mut usize| {
                while *next < ri.len() {
                    let (pe, rv) = &ri[*next];
                    *next += 1;
                    match lx.get(pe) {
                        Some(lv) => {
                            out.push(merge(*items, lv, rv));
                            return;
                        }
                        None => out.push((*rv).clone()),
                    }
                }
            };
            for (pe, lv) in &li {
                if rx.get(pe).is_some() {
                    emit_to_shared(&mut out, &mut next);
                } else {
                    out.push((*lv).clone());
                }
            }
            for (pe, rv) in &ri[next.min(ri.len())..] {
                if lx.get(pe).is_none() {
                    out.push((*rv).clone());
                }
            }
            Value::Array(out)
        }
        (Shape::Struct { .. } | Shape::Map { .. }, Value::Object(l), Value::Object(r)) => {
            let mut out = l.clone();
            for (k, rv) in r {
                let child_ty = child(&ty, &shape, k).map_or(Ty::UNTYPED, |c| c.0);
                let merged = match l.get(k) {
                    Some(lv) => merge(child_ty, lv, rv),
                    None => rv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        _ => config.clone(),
    }
}

/// `v` without the fields of `set` (a member goes with everything under it).
pub fn remove(ty: Ty, v: &mut Value, set: &Set) {
    let shape = ty.shape_of(Some(v));
    if shape.is_leaf() {
        return;
    }
    match (&shape, v) {
        (Shape::List { items, kind }, Value::Array(list)) => {
            let kept: Vec<Value> = std::mem::take(list)
                .into_iter()
                .enumerate()
                .filter_map(|(i, mut item)| {
                    let pe = element(kind, i, &item).unwrap_or(PathElement::Index(i));
                    if set.is_member(&pe) {
                        return None;
                    }
                    if let Some(c) = set.child(&pe) {
                        remove(*items, &mut item, c);
                    }
                    Some(item)
                })
                .collect();
            *list = kept;
        }
        (Shape::Struct { .. } | Shape::Map { .. }, Value::Object(m)) => {
            m.retain(|k, _| !set.is_member(&PathElement::Field(k.clone())));
            for (k, val) in m.iter_mut() {
                if let Some(c) = set.child(&PathElement::Field(k.clone())) {
                    let child_ty = child(&ty, &shape, k).map_or(Ty::UNTYPED, |c| c.0);
                    remove(child_ty, val, c);
                }
            }
        }
        _ => {}
    }
}

/// `set` with every declared struct field that leads to one of its paths a member too
/// (upstream's `EnsureNamedFieldsAreMembers`: owning `spec.strategy.type` owns `spec` and
/// `spec.strategy`, not a map's keys or a list's items on the way).
pub fn with_named_fields(ty: Ty, set: &Set) -> Set {
    let shape = ty.shape();
    let mut out = Set::default();
    for pe in set.members() {
        out.mark(pe.clone());
    }
    for (pe, c) in set.children() {
        if let (Some(Shape::Struct { props, .. }), PathElement::Field(f)) = (&shape, pe) {
            if props.contains_key(f) {
                out.mark(pe.clone());
            }
        }
        out.put_child(pe.clone(), with_named_fields(ty.step(pe), c));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::openapi::kind_schema;
    use serde_json::json;

    fn deployment() -> Ty {
        Ty::root(kind_schema("apps", "v1", "Deployment").as_ref())
    }

    fn fields(set: &Set) -> Value {
        set.to_fields_v1()
    }

    #[test]
    fn field_sets_follow_the_schema() {
        let d = json!({"spec": {"replicas": 2, "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}}}});
        let set = field_set(deployment(), &d, true).unwrap();
        assert_eq!(
            fields(&set),
            json!({"f:spec": {"f:replicas": {}, "f:selector": {},
                "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}})
        );
        let err = field_set(deployment(), &json!({"spec": {"nope": 1}}), true).unwrap_err();
        assert_eq!(err, ".spec.nope: field not declared in schema");
        assert!(field_set(deployment(), &json!({"spec": {"nope": 1}}), false).is_ok());
    }

    #[test]
    fn compare_marks_added_nodes_but_not_a_zero_values_fields() {
        let old = json!({"metadata": {"name": "x"}});
        let new = json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "spec": {"replicas": 1}});
        let c = compare(deployment(), &old, &new, true);
        assert_eq!(
            fields(&c.added),
            json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:spec": {"f:replicas": {}}})
        );
        let c = compare(deployment(), &new, &old, false);
        assert_eq!(
            fields(&c.removed),
            json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:spec": {".": {}, "f:replicas": {}}})
        );
        assert!(compare(deployment(), &new, &new, false).is_same());
    }

    #[test]
    fn merge_by_keys_and_remove() {
        let live = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "a", "image": "a1", "args": ["x"]}, {"name": "b", "image": "b1"}]}}}});
        let config = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "b", "image": "b2"}, {"name": "c", "image": "c1"}]}}}});
        let merged = merge(deployment(), &live, &config);
        assert_eq!(
            merged["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "a1", "args": ["x"]}, {"name": "b", "image": "b2"}, {"name": "c", "image": "c1"}])
        );
        assert_eq!(merged["spec"]["replicas"], 1);
        let mut gone = Set::default();
        gone.insert(&[
            PathElement::Field("spec".into()),
            PathElement::Field("replicas".into()),
        ]);
        let mut v = merged.clone();
        remove(deployment(), &mut v, &gone);
        assert!(v["spec"].get("replicas").is_none());
    }

    #[test]
    fn named_fields_become_members() {
        let mut s = Set::default();
        let f = |x: &str| PathElement::Field(x.into());
        s.insert(&[f("spec"), f("strategy"), f("type")]);
        s.insert(&[f("metadata"), f("labels"), f("a")]);
        let e = with_named_fields(deployment(), &s);
        assert!(e.has(&[f("spec")]) && e.has(&[f("spec"), f("strategy")]));
        assert!(e.has(&[f("metadata"), f("labels")]));
        assert!(!e.has(&[f("metadata"), f("labels"), f("b")]));
    }
}
