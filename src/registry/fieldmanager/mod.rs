//! Field management and server-side apply, as upstream's field manager over
//! structured-merge-diff: every write records in `metadata.managedFields` which manager
//! changed which fields (`Update`), and an apply (`Apply`) merges a manager's configuration
//! into the object, removes what it applied before and applies no more unless someone else
//! owns it, and refuses to take fields other managers own unless forced (409 listing each
//! conflicting field and its manager).
//!
//! The walks are schema-driven ([`typed`]) over the JSON objects the Store keeps; the sets
//! ([`set`]) and entries ([`managed`]) are upstream's `FieldsV1` and `ManagedFieldsEntry`.

pub mod managed;
mod raw;
pub mod set;
pub mod typed;

use serde_json::{Map, Value};

use self::managed::{Managed, Manager, Operation};
use self::set::{path_string, PathElement, Set};
use self::typed::Ty;
use crate::api::status::{Reason, Status, StatusCause};
use crate::openapi::KindSchema;

/// The annotation client-side `kubectl apply` keeps its last configuration in.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// upstream's limit on a `fieldManager` (and on a manager taken from a user agent).
pub const MAX_MANAGER_LENGTH: usize = 128;

/// The manager of a request: its `fieldManager`, else its user agent's product (the part
/// before the first `/`, at most 128 bytes), as upstream derives it.
pub fn manager_name(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    if let Some(m) = field_manager.filter(|m| !m.is_empty()) {
        return m.to_string();
    }
    let ua = user_agent.unwrap_or_default();
    let product = ua.split('/').next().unwrap_or_default();
    let mut end = product.len().min(MAX_MANAGER_LENGTH);
    while !product.is_char_boundary(end) {
        end -= 1;
    }
    product[..end].to_string()
}

/// The fields the server keeps out of every manager's set (upstream's stripped fields).
fn stripped() -> &'static Set {
    static S: std::sync::OnceLock<Set> = std::sync::OnceLock::new();
    S.get_or_init(|| {
        let f = |s: &str| PathElement::Field(s.into());
        let mut s = Set::default();
        s.insert(&[f("apiVersion")]);
        s.insert(&[f("kind")]);
        for m in [
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        ] {
            s.insert(&[f("metadata"), f(m)]);
        }
        s
    })
}

/// Which part of the object a write may own: through the object itself a kind with a
/// status subresource does not own `status`; through `status`, only the status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Everything.
    Whole,
    /// Everything but `status` (the object of a kind with a status subresource).
    AllButStatus,
    /// `status` only (the status subresource).
    StatusOnly,
}

/// One write's field manager: the kind's schema, the manager and what it may own.
pub struct FieldManager {
    ty: Ty,
    manager: Manager,
    reach: Reach,
    now: String,
}

/// An apply refused.
#[derive(Debug)]
pub enum ApplyError {
    /// The configuration is not of the kind's schema (upstream's 400).
    Invalid(String),
    /// Other managers own fields the apply would change.
    Conflicts(Vec<(Manager, Vec<PathElement>)>),
}

impl FieldManager {
    /// The field manager of a write to an object of `schema` served as `api_version`.
    pub fn new(
        schema: Option<&KindSchema<'static>>,
        api_version: &str,
        name: &str,
        subresource: &str,
        reach: Reach,
        now: String,
    ) -> Self {
        Self {
            ty: Ty::root(schema),
            manager: Manager {
                name: name.to_string(),
                operation: Operation::Update,
                api_version: api_version.to_string(),
                subresource: subresource.to_string(),
            },
            reach,
            now,
        }
    }

    /// `set` without what this write may not own.
    fn ignored(&self, mut set: Set) -> Set {
        let status = PathElement::Field("status".into());
        match self.reach {
            Reach::Whole => {}
            Reach::AllButStatus => {
                let mut s = Set::default();
                s.insert(std::slice::from_ref(&status));
                set.strip(&s);
            }
            Reach::StatusOnly => set.keep_only_under(&status),
        }
        set
    }

    /// An update-like write (create: `old` None): the fields `new` changed become the
    /// manager's, taken from whoever owned them; fields it removed are no one's. `new`
    /// comes as the strategy prepares it, carrying `old`'s managedFields (the stored
    /// entries). The entries continued are `requested` (what the client sent; None for a
    /// subresource) when they are upstream's form and not empty, none when they are `[]`
    /// or `[{}]`, else the stored ones. Writes `new`'s `managedFields`.
    pub fn update(
        &self,
        old: Option<&Map<String, Value>>,
        new: &mut Map<String, Value>,
        requested: Option<&Value>,
    ) {
        // The stored entries, as the strategy carried them over from `old` (taken, not
        // copied; `store` writes the result back).
        let stored = new
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .and_then(|m| m.shift_remove("managedFields"))
            .filter(|_| old.is_some());
        let mut managed = if Managed::is_reset(requested) {
            Managed::default()
        } else if requested.is_some() && requested != stored.as_ref() {
            match Managed::decode(requested) {
                Some(m) if !m.entries.is_empty() => m,
                _ => Managed::decode_owned(stored).unwrap_or_default(),
            }
        } else {
            Managed::decode_owned(stored).unwrap_or_default()
        };
        if old.is_none() && managed.entries.is_empty() {
            let mut fields = typed::created_fields_v1(self.ty, new);
            match self.reach {
                Reach::Whole => {}
                Reach::AllButStatus => {
                    fields.shift_remove("f:status");
                }
                Reach::StatusOnly => fields.retain(|k, _| k == "f:status"),
            }
            managed.entries.push(managed::Entry {
                manager: self.manager.clone(),
                time: Some(self.now.clone()),
                fields: managed::Fields::Raw(fields),
            });
            self.store(new, managed);
            return;
        }
        let empty = Map::new();
        let cmp = typed::compare_objects(self.ty, old.unwrap_or(&empty), new, old.is_none());
        let (changed, removed) = cmp.into_changed_and_removed();
        let (changed, removed) = (self.ignored(changed), self.ignored(removed));
        managed.take_from_others(None, &changed, &removed);
        if !changed.is_empty() {
            managed.add(&self.manager, changed, self.now.clone());
        }
        self.store(new, managed);
    }

    /// Applies `config` (the object as the manager wants it) to `live` (None: the apply
    /// creates the object): the merged object, and the managers after it, for [`store`].
    pub fn apply(
        &self,
        live: Option<&Map<String, Value>>,
        config: &Value,
        force: bool,
    ) -> Result<(Value, Managed), ApplyError> {
        let me = Manager {
            operation: Operation::Apply,
            ..self.manager.clone()
        };
        let live_v = Value::Object(live.cloned().unwrap_or_default());
        let mut managed = Managed::decode(
            live.and_then(|o| o.get("metadata"))
                .and_then(|m| m.get("managedFields")),
        )
        .unwrap_or_default()
        .decoded();
        // An object nobody manages yet (written before managed fields were kept): all of
        // it is owned by upstream's stand-in manager, so the first apply conflicts with what
        // it would change.
        if live.is_some() && managed.entries.is_empty() {
            let mut all =
                self.ignored(typed::field_set(self.ty, &live_v, false).unwrap_or_default());
            all.strip(stripped());
            let stand_in = Manager {
                name: "before-first-apply".into(),
                operation: Operation::Update,
                api_version: self.manager.api_version.clone(),
                subresource: String::new(),
            };
            managed.set(&stand_in, all, None);
        }
        let applied = typed::field_set(self.ty, config, true).map_err(ApplyError::Invalid)?;
        // Without the server's own fields, as stored: a re-apply then compares equal.
        let mut applied = self.ignored(applied);
        applied.strip(stripped());
        let mut merged = typed::merge(self.ty, &live_v, config);
        let last = managed.get(&me).map(|e| e.fields.set());
        managed.set(&me, applied.clone(), None);
        if let Some(last) = last.as_ref().filter(|l| !l.is_empty()) {
            let owned = managed
                .entries
                .iter()
                .fold(Set::default(), |acc, e| acc.union(&e.fields.set()));
            let gone = typed::with_named_fields(self.ty, last)
                .difference(&typed::with_named_fields(self.ty, &owned));
            typed::remove(self.ty, &mut merged, &gone);
        }
        let cmp = typed::compare(self.ty, &live_v, &merged, live.is_none());
        let same = cmp.is_same();
        let (changed, removed) = cmp.into_changed_and_removed();
        let (changed, removed) = (self.ignored(changed), self.ignored(removed));
        let conflicts: Vec<(Manager, Vec<PathElement>)> = managed
            .entries
            .iter()
            .filter(|e| e.manager != me)
            .flat_map(|e| {
                e.fields
                    .set()
                    .intersection(&changed)
                    .paths()
                    .into_iter()
                    .map(|p| (e.manager.clone(), p))
            })
            .collect();
        if !force && !conflicts.is_empty() {
            let allowed = self.allowed_by_last_applied(live, &me);
            let left: Vec<_> = conflicts
                .into_iter()
                .filter(|(_, p)| !allowed.as_ref().is_some_and(|a| a.has(p)))
                .collect();
            if !left.is_empty() {
                return Err(ApplyError::Conflicts(left));
            }
        }
        managed.take_from_others(Some(&me), &changed, &removed);
        let unchanged = same && last.as_ref() == Some(&applied);
        let time = match (unchanged, managed.get(&me).and_then(|e| e.time.clone())) {
            (true, Some(t)) => t,
            _ => self.now.clone(),
        };
        managed.set(&me, applied, Some(time));
        if me.name == "kubectl" {
            keep_last_applied(live, config, &mut merged);
        }
        Ok((merged, managed))
    }

    /// The conflicts `kubectl apply --server-side` may take over from client-side apply:
    /// the fields of the last-applied configuration whose values the live object still
    /// has (upstream's upgrade path from client-side apply).
    fn allowed_by_last_applied(
        &self,
        live: Option<&Map<String, Value>>,
        me: &Manager,
    ) -> Option<Set> {
        if me.name != "kubectl" {
            return None;
        }
        let last: Value = serde_json::from_str(last_applied(live?)?).ok()?;
        let set = typed::field_set(self.ty, &last, false).ok()?;
        let cmp = typed::compare(self.ty, &last, &Value::Object(live?.clone()), false);
        Some(set.difference(&cmp.modified))
    }

    /// Writes `managed` (without the server's own fields, Update entries capped) into
    /// `obj`'s `managedFields`.
    pub fn store(&self, obj: &mut Map<String, Value>, mut managed: Managed) {
        managed.strip(stripped());
        managed.cap_updates(&self.manager.api_version);
        let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        if managed.entries.is_empty() {
            meta.shift_remove("managedFields");
        } else {
            meta.insert("managedFields".into(), managed.encode());
        }
    }
}

fn last_applied(obj: &Map<String, Value>) -> Option<&str> {
    obj.get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// An apply by `kubectl` to an object client-side apply manages keeps the last-applied
/// annotation in step, so a later client-side apply does not undo it (upstream's
/// `lastAppliedUpdater`).
fn keep_last_applied(live: Option<&Map<String, Value>>, config: &Value, merged: &mut Value) {
    if live.and_then(last_applied).is_none() {
        return;
    }
    let mut cfg = config.clone();
    if let Some(a) = cfg
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        a.shift_remove(LAST_APPLIED);
        if a.is_empty() {
            if let Some(m) = cfg.get_mut("metadata").and_then(Value::as_object_mut) {
                m.shift_remove("annotations");
            }
        }
    }
    let Ok(text) = serde_json::to_string(&cfg) else {
        return;
    };
    if let Some(a) = merged
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        a.insert(LAST_APPLIED.into(), Value::String(text));
    }
}

/// upstream's 409 for an apply that conflicts: one line per conflict (grouped by manager
/// when there are several), and one cause per field.
pub fn conflict_status(conflicts: &[(Manager, Vec<PathElement>)]) -> Status {
    let message = match conflicts {
        [(m, p)] => format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            m.describe(),
            path_string(p)
        ),
        _ => {
            let mut managers: Vec<&Manager> = conflicts.iter().map(|(m, _)| m).collect();
            managers.sort_by_key(|m| m.describe());
            managers.dedup();
            let mut lines = Vec::new();
            for m in managers {
                lines.push(format!("conflicts with {}:", m.describe()));
                for (_, p) in conflicts.iter().filter(|(x, _)| x == m) {
                    lines.push(format!("- {}", path_string(p)));
                }
            }
            format!(
                "Apply failed with {} conflicts: {}",
                conflicts.len(),
                lines.join("\n")
            )
        }
    };
    let mut s = Status::new(Reason::Conflict, message);
    s.details.causes = conflicts
        .iter()
        .map(|(m, p)| StatusCause {
            reason: Some("FieldManagerConflict".into()),
            message: format!("conflict with {}", m.describe()),
            field: Some(path_string(p)),
        })
        .collect();
    s
}

#[cfg(test)]
mod tests;
