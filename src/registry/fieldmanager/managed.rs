//! `metadata.managedFields`: who owns which fields, one entry per manager, operation
//! (`Apply` / `Update`), apiVersion and subresource, read from and written back to an
//! object as upstream encodes it (entries sorted by operation, time, manager, apiVersion,
//! subresource; `fieldsType: FieldsV1`).

use serde_json::{Map, Value};

use super::raw;
use super::set::Set;

/// Who made a change: upstream's manager identifier, without the time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Manager {
    /// The manager's name (`fieldManager`, or the user agent's first word).
    pub name: String,
    /// `Apply` or `Update`.
    pub operation: Operation,
    /// The apiVersion the fields are in.
    pub api_version: String,
    /// The subresource written through ("" for the object itself).
    pub subresource: String,
}

/// The two operations managed fields record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Server-side apply: the fields are the manager's intent.
    Apply,
    /// Any other write: the fields the manager last changed.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

impl Manager {
    /// The manager as upstream names it in a conflict: `"name"`, with `with subresource
    /// "s"` and, for an Update, `using apiVersion`.
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.name);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// One entry: a manager, when it last changed what it owns, and what it owns.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Who.
    pub manager: Manager,
    /// RFC 3339 time of its last change (None: not recorded).
    pub time: Option<String>,
    /// What it owns.
    pub fields: Fields,
}

/// What an entry owns: a decoded set, or the `FieldsV1` it was read as, changed in place
/// (an update touches only the nodes along the paths it wrote; see [`super::raw`]).
#[derive(Clone, Debug)]
pub enum Fields {
    /// Decoded.
    Set(Set),
    /// As read (checked to be upstream's form).
    Raw(Map<String, Value>),
}

impl Fields {
    /// The fields as a set (decoded from the JSON when read as such).
    pub fn set(&self) -> Set {
        match self {
            Self::Set(s) => s.clone(),
            Self::Raw(m) => Set::from_fields_v1(&Value::Object(m.clone())).unwrap_or_default(),
        }
    }

    /// Decodes fields read as JSON once, for a caller that reads them as sets repeatedly.
    fn decode_in_place(&mut self) {
        if let Self::Raw(_) = self {
            *self = Self::Set(self.set());
        }
    }

    /// Whether nothing is owned.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Set(s) => s.is_empty(),
            Self::Raw(m) => m.is_empty(),
        }
    }

    /// Without `other`'s paths.
    pub fn subtract(&mut self, other: &Set) {
        match self {
            Self::Set(s) => s.subtract(other),
            Self::Raw(m) => raw::subtract(m, other),
        }
    }

    /// Without `other`'s paths and what lies under its members.
    pub fn strip(&mut self, other: &Set) {
        match self {
            Self::Set(s) => s.strip(other),
            Self::Raw(m) => raw::strip(m, other),
        }
    }

    /// With `other`'s paths too.
    pub fn union_in(&mut self, other: &Set) {
        match self {
            Self::Set(s) => s.union_in(other),
            Self::Raw(m) => raw::union(m, other),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Self::Set(s) => s.to_fields_v1(),
            Self::Raw(m) => Value::Object(m),
        }
    }
}

/// Every manager of one object.
#[derive(Clone, Debug, Default)]
pub struct Managed {
    /// The entries, in no particular order until encoded.
    pub entries: Vec<Entry>,
}

/// upstream's cap on `Update` entries; older ones are merged into `ancient-changes`.
const MAX_UPDATE_MANAGERS: usize = 10;

impl Managed {
    /// The entries of `managedFields` (absent: none); None when they are not upstream's
    /// form, which the write then replaces as upstream does.
    pub fn decode(v: Option<&Value>) -> Option<Managed> {
        Self::decode_owned(v.cloned())
    }

    /// [`Managed::decode`] of a value the caller gives up (its sets are kept, not copied).
    pub fn decode_owned(v: Option<Value>) -> Option<Managed> {
        let list = match v {
            None | Some(Value::Null) => return Some(Managed::default()),
            Some(Value::Array(list)) => list,
            Some(_) => return None,
        };
        let mut entries: Vec<Entry> = Vec::with_capacity(list.len());
        for e in list {
            let Value::Object(mut e) = e else {
                return None;
            };
            let mut s = |k: &str| match e.shift_remove(k) {
                Some(Value::String(s)) => Some(s),
                Some(_) => None,
                None => Some(String::new()),
            };
            let operation = match s("operation")?.as_str() {
                "Apply" => Operation::Apply,
                "Update" => Operation::Update,
                _ => return None,
            };
            if s("fieldsType")? != "FieldsV1" {
                return None;
            }
            let (name, api_version, subresource) =
                (s("manager")?, s("apiVersion")?, s("subresource")?);
            let time = s("time").filter(|t| !t.is_empty());
            let fields = match e.shift_remove("fieldsV1") {
                None => Map::new(),
                Some(v) if raw::valid(&v) => match v {
                    Value::Object(m) => m,
                    _ => return None,
                },
                Some(_) => return None,
            };
            let manager = Manager {
                name,
                operation,
                api_version,
                subresource,
            };
            if entries.iter().any(|x| x.manager == manager) {
                return None;
            }
            entries.push(Entry {
                manager,
                time,
                fields: Fields::Raw(fields),
            });
        }
        Some(Managed { entries })
    }

    /// Every entry's fields decoded (an apply reads them all as sets more than once).
    pub fn decoded(mut self) -> Self {
        for e in &mut self.entries {
            e.fields.decode_in_place();
        }
        self
    }

    /// Whether `v` asks to reset managed fields: `[]` or `[{}]`.
    pub fn is_reset(v: Option<&Value>) -> bool {
        match v.and_then(Value::as_array).map(Vec::as_slice) {
            Some([]) => true,
            Some([one]) => one.as_object().is_some_and(Map::is_empty),
            _ => false,
        }
    }

    /// Adds `fields` to what `m` owns (a new entry if it has none) and records `time`.
    pub fn add(&mut self, m: &Manager, fields: Set, time: String) {
        match self.entries.iter_mut().find(|e| &e.manager == m) {
            Some(e) => {
                e.fields.union_in(&fields);
                e.time = Some(time);
            }
            None => self.entries.push(Entry {
                manager: m.clone(),
                time: Some(time),
                fields: Fields::Set(fields),
            }),
        }
    }

    /// The entry of `m`, if any.
    pub fn get(&self, m: &Manager) -> Option<&Entry> {
        self.entries.iter().find(|e| &e.manager == m)
    }

    /// Sets what `m` owns (and when, if `time` is given).
    pub fn set(&mut self, m: &Manager, fields: Set, time: Option<String>) {
        match self.entries.iter_mut().find(|e| &e.manager == m) {
            Some(e) => {
                e.fields = Fields::Set(fields);
                if time.is_some() {
                    e.time = time;
                }
            }
            None => self.entries.push(Entry {
                manager: m.clone(),
                time,
                fields: Fields::Set(fields),
            }),
        }
    }

    /// Takes `taken` (fields just written) and `removed` (fields no longer in the object)
    /// from every manager but `except`; managers left owning nothing go.
    pub fn take_from_others(&mut self, except: Option<&Manager>, taken: &Set, removed: &Set) {
        for e in &mut self.entries {
            if Some(&e.manager) != except {
                e.fields.subtract(taken);
                e.fields.subtract(removed);
            }
        }
        self.entries.retain(|e| !e.fields.is_empty());
    }

    /// Every entry's fields without `strip` (and what lies under its members).
    pub fn strip(&mut self, strip: &Set) {
        for e in &mut self.entries {
            e.fields.strip(strip);
        }
        self.entries.retain(|e| !e.fields.is_empty());
    }

    /// Keeps at most ten `Update` entries: the oldest are merged into one
    /// `ancient-changes` entry, as upstream caps them.
    pub fn cap_updates(&mut self, api_version: &str) {
        fn updates(entries: &[Entry]) -> usize {
            entries
                .iter()
                .filter(|e| e.manager.operation == Operation::Update)
                .count()
        }
        if updates(&self.entries) <= MAX_UPDATE_MANAGERS {
            return;
        }
        self.sort();
        let ancient = Manager {
            name: "ancient-changes".into(),
            operation: Operation::Update,
            api_version: api_version.to_string(),
            subresource: String::new(),
        };
        while updates(&self.entries) > MAX_UPDATE_MANAGERS {
            let Some(i) = self
                .entries
                .iter()
                .position(|e| e.manager.operation == Operation::Update && e.manager != ancient)
            else {
                break;
            };
            let oldest = self.entries.remove(i);
            let fields = self
                .get(&ancient)
                .map_or_else(Set::default, |e| e.fields.set())
                .union(&oldest.fields.set());
            self.set(&ancient, fields, oldest.time);
        }
    }

    fn sort(&mut self) {
        self.entries.sort_by(|a, b| {
            (
                a.manager.operation,
                &a.time,
                &a.manager.name,
                &a.manager.api_version,
                &a.manager.subresource,
            )
                .cmp(&(
                    b.manager.operation,
                    &b.time,
                    &b.manager.name,
                    &b.manager.api_version,
                    &b.manager.subresource,
                ))
        });
    }

    /// The entries as upstream encodes them.
    pub fn encode(mut self) -> Value {
        self.sort();
        Value::Array(
            self.entries
                .into_iter()
                .map(|e| {
                    let mut m = Map::new();
                    m.insert("manager".into(), e.manager.name.into());
                    m.insert("operation".into(), e.manager.operation.as_str().into());
                    m.insert("apiVersion".into(), e.manager.api_version.into());
                    if let Some(t) = e.time {
                        m.insert("time".into(), t.into());
                    }
                    m.insert("fieldsType".into(), "FieldsV1".into());
                    m.insert("fieldsV1".into(), e.fields.into_value());
                    if !e.manager.subresource.is_empty() {
                        m.insert("subresource".into(), e.manager.subresource.into());
                    }
                    Value::Object(m)
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_round_trip_sorted_and_bad_ones_are_refused() {
        let v = json!([
            {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": "2024-01-02T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:b": {}}}},
            {"manager": "a", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-03T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}}}, "subresource": "status"}
        ]);
        let m = Managed::decode(Some(&v)).unwrap();
        let out = m.encode();
        assert_eq!(out[0]["manager"], "a");
        assert_eq!(out[1], v[0]);
        assert!(Managed::decode(Some(
            &json!([{"manager": "x", "operation": "Nope", "fieldsType": "FieldsV1"}])
        ))
        .is_none());
        assert!(Managed::decode(Some(&json!("x"))).is_none());
        assert!(Managed::is_reset(Some(&json!([]))) && Managed::is_reset(Some(&json!([{}]))));
        assert!(!Managed::is_reset(None) && !Managed::is_reset(Some(&v)));
    }

    #[test]
    fn update_managers_are_capped() {
        let mut m = Managed::default();
        for i in 0..12 {
            let mut s = Set::default();
            s.insert(&[super::super::set::PathElement::Field(format!("f{i}"))]);
            let who = Manager {
                name: format!("m{i:02}"),
                operation: Operation::Update,
                api_version: "v1".into(),
                subresource: String::new(),
            };
            m.set(&who, s, Some(format!("2024-01-01T00:00:{i:02}Z")));
        }
        m.cap_updates("v1");
        assert_eq!(m.entries.len(), 10);
        let ancient = m
            .entries
            .iter()
            .find(|e| e.manager.name == "ancient-changes")
            .unwrap();
        assert_eq!(ancient.fields.set().paths().len(), 3);
    }
}
