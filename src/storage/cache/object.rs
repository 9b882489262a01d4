//! Objects and events as the watch cache holds them: the response bytes made once, on the
//! storage thread, and shared (reference-counted) by every shard, every watcher and every GET.
//!
//! Beside the bytes sits the little a selector needs (name, namespace, labels and the kind's
//! selectable fields) as a small JSON value, so selectors never re-parse an object.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value};

use crate::api::object::with_resource_version;
use crate::storage::kv::{EventKind, KeyValue, Revision, WatchEvent};

/// One object at one revision, ready to send.
#[derive(Debug)]
pub struct CachedObject {
    /// The storage key, e.g. `/registry/configmaps/default/x`.
    pub key: Bytes,
    /// The object's JSON with `metadata.resourceVersion` set.
    pub json: Bytes,
    /// The object's resourceVersion (for a deleted object: the deletion's revision).
    pub revision: Revision,
    /// What selectors look at: `metadata.{name,namespace,labels}` and selectable fields.
    pub selectable: Value,
}

/// The watch event types a client sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The object appeared (or, for a filtered watch, started to match).
    Added,
    /// The object changed.
    Modified,
    /// The object went away (or, for a filtered watch, stopped matching).
    Deleted,
}

impl EventType {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// The state an object had before an event, for selector transitions.
#[derive(Debug)]
pub struct PriorState {
    /// The stored bytes (no resourceVersion), only serialised when a filtered watcher needs a
    /// DELETED event for an object that stopped matching.
    pub stored: Bytes,
    /// What selectors look at, as it was.
    pub selectable: Value,
}

/// One change, decorated once for every shard.
#[derive(Debug)]
pub struct CachedEvent {
    /// What an unfiltered watcher sees.
    pub kind: EventType,
    /// The object after the change (for a delete: the last state, at the deletion revision).
    pub object: Arc<CachedObject>,
    /// The state before the change, if there was one.
    pub prior: Option<PriorState>,
    /// `{"type":"<kind>","object":<json>}\n`, the line an unfiltered watcher sends.
    pub line: Bytes,
}

impl CachedEvent {
    /// The event's revision.
    pub fn revision(&self) -> Revision {
        self.object.revision
    }

    /// The key it changed.
    pub fn key(&self) -> &Bytes {
        &self.object.key
    }
}

/// One watch line: `{"type":"<kind>","object":<object>}` and a newline.
pub fn watch_line(kind: &str, object: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(object.len() + 32);
    b.put_slice(b"{\"type\":\"");
    b.put_slice(kind.as_bytes());
    b.put_slice(b"\",\"object\":");
    b.put_slice(object);
    b.put_slice(b"}\n");
    b.freeze()
}

/// What decoding a stored object does before it is served (upstream decodes into its Go
/// type, defaulting it and adding the fields Go always writes); given by the layers above,
/// which know the kinds.
pub type Normalize = Arc<dyn Fn(&mut Map<String, Value>) + Send + Sync>;

/// Knows, per resource, which fields selectors may use and how its objects are normalized;
/// turns backend events and list items into cache entries, once per revision for every
/// shard. Runs on the storage thread (events) and on shards (resync lists).
#[derive(Default)]
pub struct Decorator {
    /// Collection roots (`/registry/pods/`) and the fields selectable for that resource.
    roots: Vec<(Bytes, &'static [&'static str])>,
    /// Collection roots and how their objects are normalized.
    normalizers: Vec<(Bytes, Normalize)>,
}

impl std::fmt::Debug for Decorator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decorator")
            .field("roots", &self.roots.len())
            .field("normalizers", &self.normalizers.len())
            .finish()
    }
}

impl Decorator {
    /// A decorator for these collection roots and their selectable fields.
    pub fn new(roots: Vec<(Bytes, &'static [&'static str])>) -> Self {
        Self {
            roots,
            normalizers: Vec::new(),
        }
    }

    /// Normalizes the objects under `root` with `normalize` as they enter the cache.
    pub fn with_normalizer(mut self, root: Bytes, normalize: Normalize) -> Self {
        self.normalizers.push((root, normalize));
        self
    }

    /// Stored bytes as served: normalized when the resource has a normalizer (re-encoded only
    /// when that changed them), with the parse selectors read.
    fn decode(&self, key: &[u8], stored: &Bytes) -> (Bytes, Option<Value>) {
        let mut parsed = serde_json::from_slice::<Value>(stored).ok();
        let normalize = self
            .normalizers
            .iter()
            .find(|(root, _)| key.starts_with(root))
            .map(|(_, n)| n);
        if let (Some(normalize), Some(Value::Object(map))) = (normalize, parsed.as_mut()) {
            let before = map.clone();
            normalize(map);
            if *map != before {
                if let Ok(bytes) = serde_json::to_vec(map) {
                    return (Bytes::from(bytes), parsed);
                }
            }
        }
        (stored.clone(), parsed)
    }

    fn fields_for(&self, key: &[u8]) -> &'static [&'static str] {
        self.roots
            .iter()
            .find(|(root, _)| key.starts_with(root))
            .map(|(_, f)| *f)
            .unwrap_or(&[])
    }

    /// The cache entry for a stored key-value.
    pub fn object(&self, kv: &KeyValue) -> Arc<CachedObject> {
        let (stored, parsed) = self.decode(&kv.key, &kv.value);
        Arc::new(CachedObject {
            key: kv.key.clone(),
            json: with_resource_version(&stored, kv.mod_revision),
            revision: kv.mod_revision,
            selectable: selectable(parsed.as_ref(), self.fields_for(&kv.key)),
        })
    }

    /// The cache event for a backend event.
    pub fn event(&self, ev: &WatchEvent) -> CachedEvent {
        let fields = self.fields_for(&ev.kv.key);
        let prior = ev.prev_kv.as_ref().map(|p| {
            let (stored, parsed) = self.decode(&p.key, &p.value);
            PriorState {
                stored,
                selectable: selectable(parsed.as_ref(), fields),
            }
        });
        let (kind, object) = match ev.kind {
            EventKind::Put => {
                let kind = if ev.prev_kv.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                (kind, self.object(&ev.kv))
            }
            EventKind::Delete => {
                // The last state, stamped with the deletion's revision (as upstream sends it).
                let (stored, selectable) = match &prior {
                    Some(p) => (p.stored.clone(), p.selectable.clone()),
                    None => (Bytes::from_static(b"{}"), Value::Null),
                };
                let object = Arc::new(CachedObject {
                    key: ev.kv.key.clone(),
                    json: with_resource_version(&stored, ev.kv.mod_revision),
                    revision: ev.kv.mod_revision,
                    selectable,
                });
                (EventType::Deleted, object)
            }
        };
        let line = watch_line(kind.as_str(), &object.json);
        CachedEvent {
            kind,
            object,
            prior,
            line,
        }
    }
}

/// The part of an object selectors read: metadata name/namespace/labels plus `fields`.
fn selectable(obj: Option<&Value>, fields: &[&str]) -> Value {
    let Some(obj) = obj else {
        return Value::Null;
    };
    let mut out = Map::new();
    if let Some(meta) = obj.get("metadata").and_then(Value::as_object) {
        let mut m = Map::new();
        for k in ["name", "namespace", "labels"] {
            if let Some(v) = meta.get(k) {
                m.insert(k.into(), v.clone());
            }
        }
        out.insert("metadata".into(), Value::Object(m));
    }
    for path in fields {
        let mut cur = Some(obj);
        for part in path.split('.') {
            cur = cur.and_then(|v| v.get(part));
        }
        if let Some(v) = cur {
            insert_path(&mut out, path, v.clone());
        }
    }
    Value::Object(out)
}

fn insert_path(out: &mut Map<String, Value>, path: &str, v: Value) {
    let mut parts = path.split('.').peekable();
    let mut cur = out;
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(p.into(), v);
            return;
        }
        let next = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        match next.as_object_mut() {
            Some(m) => cur = m,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn kv(key: &str, value: &str, create: Revision, rev: Revision) -> KeyValue {
        KeyValue {
            key: Bytes::from(key.to_string()),
            value: Bytes::from(value.to_string()),
            create_revision: create,
            mod_revision: rev,
        }
    }

    #[test]
    fn events_carry_their_line_and_selectable_fields() {
        let d = Decorator::new(vec![(
            Bytes::from_static(b"/registry/pods/"),
            &["spec.nodeName", "status.phase"],
        )]);
        let pod = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"ns","labels":{"a":"b"}},"spec":{"nodeName":"n1","containers":[]},"status":{"phase":"Running"}}"#;
        let ev = d.event(&WatchEvent {
            kind: EventKind::Put,
            kv: kv("/registry/pods/ns/p", pod, 5, 5),
            prev_kv: None,
        });
        assert_eq!(ev.kind, EventType::Added);
        assert_eq!(ev.revision(), 5);
        let line = std::str::from_utf8(&ev.line).unwrap();
        assert!(line.starts_with("{\"type\":\"ADDED\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"5\""));
        assert!(line.ends_with("}\n"));
        assert_eq!(
            ev.object.selectable,
            serde_json::json!({"metadata":{"name":"p","namespace":"ns","labels":{"a":"b"}},"spec":{"nodeName":"n1"},"status":{"phase":"Running"}})
        );
    }

    #[test]
    fn objects_are_normalized_once_as_they_enter() {
        let d = Decorator::default().with_normalizer(
            Bytes::from_static(b"/registry/controllers/"),
            Arc::new(|m: &mut Map<String, Value>| {
                m.entry("status")
                    .or_insert_with(|| serde_json::json!({"replicas": 0}));
            }),
        );
        let rc = d.object(&kv(
            "/registry/controllers/ns/rc",
            r#"{"metadata":{"name":"rc"}}"#,
            2,
            2,
        ));
        assert_eq!(
            serde_json::from_slice::<Value>(&rc.json).unwrap()["status"]["replicas"],
            0
        );
        let raw = r#"{"metadata":{"name":"c"}}"#;
        let cm = d.object(&kv("/registry/configmaps/ns/c", raw, 2, 2));
        assert_eq!(
            &cm.json[..],
            br#"{"metadata":{"resourceVersion":"2","name":"c"}}"#,
            "other resources untouched"
        );
    }

    #[test]
    fn a_delete_sends_the_last_state_at_the_deletion_revision() {
        let d = Decorator::default();
        let ev = d.event(&WatchEvent {
            kind: EventKind::Delete,
            kv: kv("/registry/configmaps/ns/c", "", 0, 9),
            prev_kv: Some(kv(
                "/registry/configmaps/ns/c",
                r#"{"metadata":{"name":"c"},"data":{"k":"v"}}"#,
                3,
                7,
            )),
        });
        assert_eq!(ev.kind, EventType::Deleted);
        assert_eq!(
            serde_json::from_slice::<Value>(&ev.object.json).unwrap(),
            serde_json::json!({"metadata":{"resourceVersion":"9","name":"c"},"data":{"k":"v"}})
        );
    }
}
