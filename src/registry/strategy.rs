//! Per-resource behaviour, data-driven: what a resource is ([`Resource`]) and the create and
//! update strategies, each in upstream's order: prepare (may change the object) -> validate
//! (never changes it) -> canonicalize (key order as upstream writes it).

use serde_json::{Map, Value};

use super::validation::{self, FieldError, NameRule};
use crate::endpoints::status::{StatusCause, StatusError};

/// What the REST layer needs to know about one resource (built from the resource table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// API group ("" for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind of one object.
    pub kind: String,
    /// Plural resource name (the URL segment).
    pub plural: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// The etcd key segment (`minions` for nodes, `services/specs`, ...).
    pub key_segment: String,
    /// How `metadata.name` is validated.
    pub name_rule: NameRule,
    /// Whether `metadata.generation` counts spec changes.
    pub has_generation: bool,
    /// Subresources served (`status`, `scale`).
    pub subresources: Vec<String>,
    /// Verbs served on the main resource.
    pub verbs: Vec<String>,
    /// How this version converts to the kind it is stored as (None: stored as served).
    pub conversion: Option<super::conversion::Conversion>,
}

impl Resource {
    /// `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `apiVersion` and `kind` of the objects the strategy sees: the stored form.
    pub fn stored_type(&self) -> (String, String) {
        match self.conversion {
            Some(c) => {
                let (v, k) = c.stored();
                (v.to_string(), k.to_string())
            }
            None => (self.api_version(), self.kind.clone()),
        }
    }

    /// The group and kind whose printer columns a Table of this resource uses: the stored
    /// form's, which is what the printers read (upstream prints from internal objects, so
    /// every version of a kind has the same columns).
    pub fn printed_as(&self) -> (&str, &str) {
        match self.conversion {
            Some(c) => {
                let (api_version, kind) = c.stored();
                let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
                (group, kind)
            }
            None => (&self.group, &self.kind),
        }
    }

    /// Whether the main resource leaves `status` to the status subresource.
    pub fn has_status(&self) -> bool {
        self.subresources.iter().any(|s| s == "status")
    }

    /// Whether `verb` is served on the main resource.
    pub fn allows(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    fn invalid(&self, name: &str, errs: Vec<FieldError>) -> StatusError {
        let causes: Vec<StatusCause> = errs.iter().map(FieldError::cause).collect();
        StatusError::invalid(&self.group, &self.kind, name, causes)
    }
}

/// The current time as upstream writes timestamps (RFC 3339, seconds, UTC).
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// Characters upstream's name generator uses (no vowels, no confusables).
const GENERATE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generated_suffix() -> String {
    let id = uuid::Uuid::new_v4();
    id.as_bytes()
        .iter()
        .take(5)
        .map(|b| GENERATE_ALPHABET[*b as usize % GENERATE_ALPHABET.len()] as char)
        .collect()
}

/// Checks `kind`/`apiVersion` in a body against the expected ones (empty ones are filled in).
pub fn check_type(
    api_version: String,
    obj: &mut Map<String, Value>,
    body_kind: &str,
) -> Result<(), StatusError> {
    match obj.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {}
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(StatusError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )))
        }
    }
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => {}
        Some(k) if k == body_kind => {}
        Some(k) => {
            return Err(StatusError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({body_kind})"
            )))
        }
    }
    obj.insert("kind".into(), Value::String(body_kind.to_string()));
    obj.insert("apiVersion".into(), Value::String(api_version));
    Ok(())
}

/// The body as a JSON object, or upstream's 400.
pub fn decode_object(res: &Resource, body: &mut [u8]) -> Result<Map<String, Value>, StatusError> {
    let value: Value = simd_json::serde::from_slice(body).map_err(|e| {
        StatusError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): couldn't get version/kind; json parse error: {e}",
            res.kind
        ))
    })?;
    match value {
        Value::Object(m) => Ok(m),
        other => Err(StatusError::bad_request(format!(
            "the object provided is unrecognized (must be of type {}): expected an object, got {}",
            res.kind,
            json_type(&other)
        ))),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn metadata_mut(obj: &mut Map<String, Value>) -> Result<&mut Map<String, Value>, StatusError> {
    let meta = obj
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if meta.is_null() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
        .ok_or_else(|| StatusError::bad_request("metadata must be an object"))
}

/// Fields of `metadata` a client may not set: the server owns them.
const SERVER_OWNED: [&str; 6] = [
    "resourceVersion",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "generation",
];

/// Create: fills in server-owned metadata and validates. `namespace` is the URL's.
pub fn prepare_create(
    res: &Resource,
    mut obj: Map<String, Value>,
    namespace: Option<&str>,
) -> Result<Map<String, Value>, StatusError> {
    let (api_version, kind) = res.stored_type();
    check_type(api_version, &mut obj, &kind)?;
    let meta = metadata_mut(&mut obj)?;
    reconcile_namespace(res, meta, namespace)?;
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = if name.is_empty() {
        match meta.get("generateName").and_then(Value::as_str) {
            Some(g) if !g.is_empty() => format!("{g}{}", generated_suffix()),
            _ => {
                return Err(res.invalid(
                    "",
                    vec![FieldError::required(
                        "metadata.name",
                        "name or generateName is required",
                    )],
                ))
            }
        }
    } else {
        name
    };
    meta.insert("name".into(), Value::String(name));
    for f in SERVER_OWNED {
        meta.remove(f);
    }
    meta.insert(
        "uid".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    meta.insert("creationTimestamp".into(), Value::String(now_rfc3339()));
    if res.has_generation {
        meta.insert("generation".into(), Value::from(1));
    }
    if res.has_status() {
        reset_status_on_create(res, &mut obj);
    }
    super::defaults::apply(res, &mut obj);
    if (res.group.as_str(), res.kind.as_str()) == ("", "Pod") {
        // After defaulting (requests from limits), as upstream's pod strategy computes it.
        let class = obj
            .get("spec")
            .and_then(Value::as_object)
            .map_or("BestEffort", super::pod_qos::qos_class);
        if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
            status.insert("qosClass".into(), Value::from(class));
        }
    }
    validate(res, &obj)?;
    Ok(canonical(obj))
}

/// What an update writes, given the stored object.
pub fn prepare_update(
    res: &Resource,
    mut obj: Map<String, Value>,
    old: &Map<String, Value>,
    namespace: Option<&str>,
    url_name: &str,
    subresource: &str,
) -> Result<Map<String, Value>, StatusError> {
    let (api_version, kind) = res.stored_type();
    check_type(api_version, &mut obj, &kind)?;
    // Before comparing with the stored object, which has its defaults.
    super::defaults::apply(res, &mut obj);
    let meta = metadata_mut(&mut obj)?;
    reconcile_namespace(res, meta, namespace)?;
    match meta.get("name").and_then(Value::as_str) {
        Some(n) if n == url_name => {}
        Some(n) => {
            return Err(StatusError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({url_name})"
            )))
        }
        None => {
            meta.insert("name".into(), Value::String(url_name.to_string()));
        }
    }
    let old_meta = old
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let (Some(new_uid), Some(old_uid)) = (
        meta.get("uid").and_then(Value::as_str),
        old_meta.get("uid").and_then(Value::as_str),
    ) {
        if !new_uid.is_empty() && new_uid != old_uid {
            return Err(StatusError::conflict(
                &res.group,
                &res.plural,
                url_name,
                &format!("Precondition failed: UID in precondition: {new_uid}, UID in object meta: {old_uid}"),
            ));
        }
    }
    // Server-owned and immutable metadata comes from the stored object.
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "selfLink",
        "managedFields",
    ] {
        match old_meta.get(f) {
            Some(v) => {
                meta.insert(f.into(), v.clone());
            }
            None => {
                meta.remove(f);
            }
        }
    }
    meta.remove("resourceVersion");
    let mut obj = if subresource == "status" {
        // The status subresource changes status (and metadata labels/annotations) only.
        let mut merged = old.clone();
        if let Some(s) = obj.get("status") {
            merged.insert("status".into(), s.clone());
        }
        merged
    } else {
        if res.has_status() {
            match old.get("status") {
                Some(s) => obj.insert("status".into(), s.clone()),
                None => obj.remove("status"),
            };
        }
        obj
    };
    if res.has_generation && subresource.is_empty() && obj.get("spec") != old.get("spec") {
        let g = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("generation".into(), Value::from(g));
        }
    }
    // A deleting object may lose finalizers but gain none.
    if old_meta.contains_key("deletionTimestamp") {
        let old_f = finalizers(&Value::Object(old_meta.clone()));
        let new_f = obj.get("metadata").map(finalizers).unwrap_or_default();
        if let Some(added) = new_f.iter().find(|f| !old_f.contains(f)) {
            return Err(res.invalid(
                url_name,
                vec![FieldError::forbidden("metadata.finalizers", &format!("no new finalizers can be added if the object is being deleted, found new finalizers []string{{{added:?}}}"))],
            ));
        }
    }
    validate(res, &obj)?;
    Ok(canonical(obj))
}

/// The `finalizers` listed in an object's `metadata` (or a namespace's `spec`).
pub fn finalizers(meta: &Value) -> Vec<String> {
    meta.get("finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn reconcile_namespace(
    res: &Resource,
    meta: &mut Map<String, Value>,
    namespace: Option<&str>,
) -> Result<(), StatusError> {
    if !res.namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    let url_ns = namespace.unwrap_or("");
    match meta.get("namespace").and_then(Value::as_str) {
        Some(ns) if !ns.is_empty() && ns != url_ns => Err(StatusError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            meta.insert("namespace".into(), Value::String(url_ns.to_string()));
            Ok(())
        }
    }
}

fn reset_status_on_create(res: &Resource, obj: &mut Map<String, Value>) {
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Pod") => {
            obj.insert(
                "status".into(),
                serde_json::json!({"phase": "Pending", "qosClass": "BestEffort"}),
            );
        }
        ("", "Namespace") => {
            obj.insert("status".into(), serde_json::json!({"phase": "Active"}));
        }
        _ => {
            obj.insert("status".into(), Value::Object(Map::new()));
        }
    }
}

/// Validation of metadata every kind shares (name, labels, annotations).
fn validate(res: &Resource, obj: &Map<String, Value>) -> Result<(), StatusError> {
    let meta = obj.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut errs: Vec<FieldError> = validation::name(res.name_rule, name)
        .into_iter()
        .map(|m| FieldError::invalid("metadata.name", name, m))
        .collect();
    if let Some(ns) = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
    {
        if res.namespaced {
            errs.extend(
                validation::dns1123_label(ns)
                    .into_iter()
                    .map(|m| FieldError::invalid("metadata.namespace", ns, m)),
            );
        }
    }
    errs.extend(validation::labels(
        meta.and_then(|m| m.get("labels")),
        "metadata.labels",
    ));
    errs.extend(validation::annotations(
        meta.and_then(|m| m.get("annotations")),
        "metadata.annotations",
    ));
    errs.extend(super::spec_validation::spec_errors(res, obj));
    if errs.is_empty() {
        Ok(())
    } else {
        Err(res.invalid(name, errs))
    }
}

/// upstream's field order: kind, apiVersion, metadata (name, generateName, namespace, uid,
/// generation, creationTimestamp, ...), then the rest as the client sent it.
fn canonical(mut obj: Map<String, Value>) -> Map<String, Value> {
    const META_ORDER: [&str; 13] = [
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
    ];
    let mut out = Map::new();
    for k in ["kind", "apiVersion"] {
        if let Some(v) = obj.remove(k) {
            out.insert(k.into(), v);
        }
    }
    if let Some(Value::Object(mut meta)) = obj.remove("metadata") {
        let mut m = Map::new();
        for k in META_ORDER {
            if let Some(v) = meta.remove(k) {
                m.insert(k.into(), v);
            }
        }
        m.extend(meta);
        out.insert("metadata".into(), Value::Object(m));
    }
    out.extend(obj);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn cm() -> Resource {
        Resource {
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            plural: "configmaps".into(),
            namespaced: true,
            key_segment: "configmaps".into(),
            name_rule: NameRule::Subdomain,
            has_generation: false,
            subresources: vec![],
            verbs: vec![],
            conversion: None,
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn create_fills_server_fields_in_upstream_order() {
        let o = prepare_create(&cm(), obj(serde_json::json!({"data": {"a": "b"}, "metadata": {"name": "c1", "resourceVersion": "5"}})), Some("default")).unwrap();
        let keys: Vec<&String> = o.keys().collect();
        assert_eq!(keys, ["kind", "apiVersion", "metadata", "data"]);
        let m = o["metadata"].as_object().unwrap();
        assert_eq!(m["namespace"], "default");
        assert!(m.contains_key("uid") && m.contains_key("creationTimestamp"));
        assert!(!m.contains_key("resourceVersion"));
    }

    #[test]
    fn create_errors_match_upstream() {
        let e = prepare_create(
            &cm(),
            obj(serde_json::json!({"metadata": {}})),
            Some("default"),
        )
        .unwrap_err();
        assert_eq!(e.code, 422);
        assert_eq!(e.message, "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required");
        let e = prepare_create(
            &cm(),
            obj(serde_json::json!({"metadata": {"name": "Bad_Name"}})),
            Some("default"),
        )
        .unwrap_err();
        assert!(e.message.starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"), "{}", e.message);
        assert_eq!(e.details.causes[0].field.as_deref(), Some("metadata.name"));
        let e = prepare_create(
            &cm(),
            obj(serde_json::json!({"metadata": {"name": "a", "namespace": "other"}})),
            Some("default"),
        )
        .unwrap_err();
        assert_eq!(e.code, 400);
        let g = prepare_create(
            &cm(),
            obj(serde_json::json!({"metadata": {"generateName": "web-"}})),
            Some("default"),
        )
        .unwrap();
        let name = g["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    }

    #[test]
    fn update_keeps_server_fields_and_checks_names() {
        let old = prepare_create(
            &cm(),
            obj(serde_json::json!({"metadata": {"name": "c1"}})),
            Some("default"),
        )
        .unwrap();
        let new = prepare_update(
            &cm(),
            obj(serde_json::json!({"metadata": {"name": "c1", "uid": ""}, "data": {"x": "y"}})),
            &old,
            Some("default"),
            "c1",
            "",
        )
        .unwrap();
        assert_eq!(new["metadata"]["uid"], old["metadata"]["uid"]);
        assert_eq!(
            new["metadata"]["creationTimestamp"],
            old["metadata"]["creationTimestamp"]
        );
        let e = prepare_update(
            &cm(),
            obj(serde_json::json!({"metadata": {"name": "c2"}})),
            &old,
            Some("default"),
            "c1",
            "",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "the name of the object (c2) does not match the name on the URL (c1)"
        );
    }
}
