//! A typed view of an object's `metadata` over its JSON map, so code reads `meta.name()` or
//! `meta.finalizers()` instead of chains of `get("metadata")` with silent defaults. The view
//! borrows the object; [`MetaMut`] changes it in place.

use serde_json::{Map, Value};

/// Read access to `metadata` of a JSON object (absent or not an object: every field absent).
#[derive(Clone, Copy, Debug)]
pub struct Meta<'a>(Option<&'a Map<String, Value>>);

impl<'a> Meta<'a> {
    /// The metadata of `obj`.
    pub fn of(obj: &'a Map<String, Value>) -> Self {
        Self(obj.get("metadata").and_then(Value::as_object))
    }

    /// The metadata of a JSON value that should be an object.
    pub fn of_value(obj: &'a Value) -> Self {
        Self(obj.get("metadata").and_then(Value::as_object))
    }

    fn str(&self, field: &str) -> Option<&'a str> {
        self.0?.get(field)?.as_str()
    }

    /// The raw field, for what has no accessor of its own.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.0?.get(field)
    }

    /// `metadata.name`.
    pub fn name(&self) -> Option<&'a str> {
        self.str("name")
    }

    /// `metadata.generateName`.
    pub fn generate_name(&self) -> Option<&'a str> {
        self.str("generateName")
    }

    /// `metadata.namespace`.
    pub fn namespace(&self) -> Option<&'a str> {
        self.str("namespace")
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> Option<&'a str> {
        self.str("uid")
    }

    /// `metadata.resourceVersion`.
    pub fn resource_version(&self) -> Option<&'a str> {
        self.str("resourceVersion")
    }

    /// `metadata.generation`.
    pub fn generation(&self) -> Option<i64> {
        self.0?.get("generation")?.as_i64()
    }

    /// `metadata.creationTimestamp`.
    pub fn creation_timestamp(&self) -> Option<&'a str> {
        self.str("creationTimestamp")
    }

    /// `metadata.deletionTimestamp`: set once the object is being deleted.
    pub fn deletion_timestamp(&self) -> Option<&'a str> {
        self.str("deletionTimestamp")
    }

    /// Whether the object is being deleted.
    pub fn is_deleting(&self) -> bool {
        self.0.is_some_and(|m| m.contains_key("deletionTimestamp"))
    }

    /// `metadata.labels` (a map of strings).
    pub fn labels(&self) -> Option<&'a Map<String, Value>> {
        self.0?.get("labels")?.as_object()
    }

    /// `metadata.annotations` (a map of strings).
    pub fn annotations(&self) -> Option<&'a Map<String, Value>> {
        self.0?.get("annotations")?.as_object()
    }

    /// `metadata.finalizers`, in order.
    pub fn finalizers(&self) -> Vec<String> {
        string_list(self.0.and_then(|m| m.get("finalizers")))
    }

    /// `metadata.ownerReferences`.
    pub fn owner_references(&self) -> &'a [Value] {
        self.0
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// The whole map, when there is one.
    pub fn map(&self) -> Option<&'a Map<String, Value>> {
        self.0
    }
}

/// The strings of a JSON list (absent or not a list: none; non-strings skipped).
pub fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Write access to `metadata` of a JSON object; created (as `{}`) when absent or null.
#[derive(Debug)]
pub struct MetaMut<'a>(&'a mut Map<String, Value>);

impl<'a> MetaMut<'a> {
    /// The metadata of `obj`; None when `metadata` is something other than an object or null.
    pub fn of(obj: &'a mut Map<String, Value>) -> Option<Self> {
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if meta.is_null() {
            *meta = Value::Object(Map::new());
        }
        meta.as_object_mut().map(Self)
    }

    /// Reads through the same view.
    pub fn view(&self) -> Meta<'_> {
        Meta(Some(self.0))
    }

    /// Sets a field.
    pub fn set(&mut self, field: &str, value: impl Into<Value>) {
        self.0.insert(field.into(), value.into());
    }

    /// Removes a field.
    pub fn remove(&mut self, field: &str) -> Option<Value> {
        self.0.shift_remove(field)
    }

    /// Sets `metadata.finalizers`.
    pub fn set_finalizers(&mut self, finalizers: &[String]) {
        self.set("finalizers", Value::from(finalizers.to_vec()));
    }

    /// The underlying map.
    pub fn map(&mut self) -> &mut Map<String, Value> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_typed_fields_and_absent_ones() {
        let obj = json!({"metadata": {"name": "a", "namespace": "ns", "uid": "u", "generation": 3,
            "labels": {"k": "v"}, "finalizers": ["x", 7, "y"], "deletionTimestamp": "t",
            "ownerReferences": [{"uid": "o"}]}});
        let m = Meta::of_value(&obj);
        assert_eq!(m.name(), Some("a"));
        assert_eq!(m.namespace(), Some("ns"));
        assert_eq!(m.uid(), Some("u"));
        assert_eq!(m.generation(), Some(3));
        assert_eq!(m.labels().unwrap()["k"], "v");
        assert_eq!(m.finalizers(), ["x", "y"]);
        assert!(m.is_deleting());
        assert_eq!(m.owner_references().len(), 1);
        let weird = json!({"metadata": "weird"});
        let none = Meta::of_value(&weird);
        assert_eq!(none.name(), None);
        assert!(none.finalizers().is_empty() && !none.is_deleting());
    }

    #[test]
    fn writes_create_metadata_when_missing() {
        let mut obj = json!({"metadata": null}).as_object().cloned().unwrap();
        let mut m = MetaMut::of(&mut obj).unwrap();
        m.set("name", "b");
        m.set_finalizers(&["f".to_string()]);
        assert_eq!(m.view().name(), Some("b"));
        assert_eq!(obj["metadata"]["finalizers"][0], "f");
        let mut bad = json!({"metadata": 5}).as_object().cloned().unwrap();
        assert!(MetaMut::of(&mut bad).is_none());
    }
}
