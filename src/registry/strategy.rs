//! The create and update strategies every kind shares, each in upstream's order: prepare (may
//! change the object: server-owned metadata, the kind's defaults and its create-time fields) ->
//! validate (never changes it: metadata, then the kind's own rules) -> canonicalize (key
//! order as upstream writes it). What a kind adds comes from its hooks (`registry::kinds`).

use serde_json::{Map, Value};

use super::resources::{Resource, Subresource};
use crate::api::meta::{Meta, MetaMut};
use crate::api::status::{Status, StatusCause};
use crate::api::validation::{self, FieldError};

fn invalid(res: &Resource, name: &str, errs: Vec<FieldError>) -> Status {
    let causes: Vec<StatusCause> = errs.iter().map(FieldError::cause).collect();
    Status::invalid(res.api.group, res.api.kind, name, causes)
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

/// The current time as a `metav1.MicroTime` (RFC 3339 with microseconds, UTC): what Leases
/// hold.
pub fn now_micro_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond()
    )
}

/// How long ago an RFC 3339 timestamp (`metav1.Time` or `MicroTime`) was; zero for one in the
/// future, None for one that does not parse.
pub fn age_of(timestamp: &str) -> Option<std::time::Duration> {
    let t = time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some(std::time::Duration::try_from(time::OffsetDateTime::now_utc() - t).unwrap_or_default())
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
) -> Result<(), Status> {
    match obj.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {}
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(Status::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )))
        }
    }
    match obj.get("kind").and_then(Value::as_str) {
        None | Some("") => {}
        Some(k) if k == body_kind => {}
        Some(k) => {
            return Err(Status::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({body_kind})"
            )))
        }
    }
    obj.insert("kind".into(), Value::String(body_kind.to_string()));
    obj.insert("apiVersion".into(), Value::String(api_version));
    Ok(())
}

/// The body as a JSON object, or upstream's 400.
pub fn decode_object(res: &Resource, body: &mut [u8]) -> Result<Map<String, Value>, Status> {
    let kind = res.api.kind;
    let value: Value = simd_json::serde::from_slice(body).map_err(|e| {
        Status::bad_request(format!(
            "the object provided is unrecognized (must be of type {kind}): couldn't get version/kind; json parse error: {e}"
        ))
    })?;
    match value {
        Value::Object(m) => Ok(m),
        other => Err(Status::bad_request(format!(
            "the object provided is unrecognized (must be of type {kind}): expected an object, got {}",
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

fn metadata_mut(obj: &mut Map<String, Value>) -> Result<MetaMut<'_>, Status> {
    MetaMut::of(obj).ok_or_else(|| Status::bad_request("metadata must be an object"))
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

/// Create: fills in server-owned metadata, the kind's defaults and create-time fields, and
/// validates. `namespace` is the URL's.
pub fn prepare_create(
    res: &Resource,
    mut obj: Map<String, Value>,
    namespace: Option<&str>,
) -> Result<Map<String, Value>, Status> {
    let (api_version, kind) = res.api.stored_type();
    check_type(api_version, &mut obj, kind)?;
    let mut meta = metadata_mut(&mut obj)?;
    reconcile_namespace(res, &mut meta, namespace)?;
    let name = match meta.view().name().filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => match meta.view().generate_name().filter(|g| !g.is_empty()) {
            Some(g) => format!("{g}{}", generated_suffix()),
            None => {
                return Err(invalid(
                    res,
                    "",
                    vec![FieldError::required(
                        "metadata.name",
                        "name or generateName is required",
                    )],
                ))
            }
        },
    };
    meta.set("name", name);
    for f in SERVER_OWNED {
        meta.remove(f);
    }
    meta.set("uid", uuid::Uuid::new_v4().to_string());
    meta.set("creationTimestamp", now_rfc3339());
    if res.api.generation {
        meta.set("generation", 1);
    }
    if res.api.has_status_subresource() {
        obj.insert("status".into(), res.hooks.initial_status());
    }
    res.hooks.defaults(&mut obj);
    res.hooks.prepare_create(&mut obj);
    res.fill_go_fields(&mut obj);
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
    subresource: Option<Subresource>,
) -> Result<Map<String, Value>, Status> {
    let (api_version, kind) = res.api.stored_type();
    check_type(api_version, &mut obj, kind)?;
    // Before comparing with the stored object, which has its defaults and Go's fields.
    res.hooks.defaults(&mut obj);
    res.fill_go_fields(&mut obj);
    let mut meta = metadata_mut(&mut obj)?;
    reconcile_namespace(res, &mut meta, namespace)?;
    match meta.view().name() {
        Some(n) if n == url_name => {}
        Some(n) => {
            return Err(Status::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({url_name})"
            )))
        }
        None => meta.set("name", url_name),
    }
    let old_meta = Meta::of(old).map().cloned().unwrap_or_default();
    if let (Some(new_uid), Some(old_uid)) = (
        meta.view().uid(),
        old_meta.get("uid").and_then(Value::as_str),
    ) {
        if !new_uid.is_empty() && new_uid != old_uid {
            return Err(Status::conflict(
                res.api.group,
                res.api.plural,
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
            Some(v) => meta.set(f, v.clone()),
            None => {
                meta.remove(f);
            }
        }
    }
    meta.remove("resourceVersion");
    let mut obj = if let Some(
        sub @ (Subresource::Approval | Subresource::EphemeralContainers | Subresource::Resize),
    ) = subresource
    {
        written_slice(sub, &obj, old)
    } else if subresource == Some(Subresource::Status) {
        // The status subresource changes status (and metadata labels/annotations) only.
        let mut merged = old.clone();
        if let Some(s) = obj.get("status") {
            merged.insert("status".into(), s.clone());
        }
        merged
    } else {
        // A binding writes the Pod's spec and its PodScheduled condition at once.
        if res.api.has_status_subresource() && subresource != Some(Subresource::Binding) {
            match old.get("status") {
                Some(s) => obj.insert("status".into(), s.clone()),
                None => obj.shift_remove("status"),
            };
        }
        obj
    };
    // The object itself and its Scale change the spec; status never does.
    let spec_writer = subresource != Some(Subresource::Status);
    if res.api.generation && spec_writer && obj.get("spec") != old.get("spec") {
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
        let old_f = Meta::of(old).finalizers();
        let new_f = Meta::of(&obj).finalizers();
        if let Some(added) = new_f.iter().find(|f| !old_f.contains(f)) {
            return Err(invalid(
                res,
                url_name,
                vec![FieldError::forbidden("metadata.finalizers", &format!("no new finalizers can be added if the object is being deleted, found new finalizers []string{{{added:?}}}"))],
            ));
        }
    }
    res.hooks.prepare_update(subresource, &mut obj, old);
    validate(res, &obj)?;
    let errs = res.hooks.validate_update(subresource, &obj, old);
    if !errs.is_empty() {
        return Err(invalid(res, url_name, errs));
    }
    Ok(canonical(obj))
}

/// What a subresource that writes one slice of the object keeps from the body: the stored
/// object with only that slice taken from `given` (`approval`: the conditions;
/// `ephemeralcontainers`: `spec.ephemeralContainers`; `resize`: each container's resources
/// and resize policy).
fn written_slice(
    sub: Subresource,
    given: &Map<String, Value>,
    old: &Map<String, Value>,
) -> Map<String, Value> {
    let mut merged = old.clone();
    let put = |merged: &mut Map<String, Value>, parent: &str, field: &str, v: Option<&Value>| {
        let slot = merged
            .entry(parent)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(m) = slot.as_object_mut() {
            match v {
                Some(v) => m.insert(field.into(), v.clone()),
                None => m.remove(field),
            };
        }
    };
    match sub {
        Subresource::Approval => {
            let v = given.get("status").and_then(|s| s.get("conditions"));
            put(&mut merged, "status", "conditions", v);
        }
        Subresource::EphemeralContainers => {
            let v = given.get("spec").and_then(|s| s.get("ephemeralContainers"));
            put(&mut merged, "spec", "ephemeralContainers", v);
        }
        _ => {
            let given_containers = given
                .get("spec")
                .and_then(|s| s.get("containers"))
                .and_then(Value::as_array);
            let containers = merged
                .get_mut("spec")
                .and_then(|s| s.get_mut("containers"))
                .and_then(Value::as_array_mut);
            if let (Some(given_containers), Some(containers)) = (given_containers, containers) {
                for c in containers.iter_mut() {
                    let name = c.get("name").cloned();
                    let Some(g) = given_containers
                        .iter()
                        .find(|g| g.get("name") == name.as_ref())
                    else {
                        continue;
                    };
                    if let Some(c) = c.as_object_mut() {
                        for f in ["resources", "resizePolicy"] {
                            match g.get(f) {
                                Some(v) => c.insert(f.into(), v.clone()),
                                None => c.shift_remove(f),
                            };
                        }
                    }
                }
            }
        }
    }
    merged
}

fn reconcile_namespace(
    res: &Resource,
    meta: &mut MetaMut<'_>,
    namespace: Option<&str>,
) -> Result<(), Status> {
    if !res.api.namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    let url_ns = namespace.unwrap_or_default();
    match meta.view().namespace() {
        Some(ns) if !ns.is_empty() && ns != url_ns => Err(Status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        _ => {
            meta.set("namespace", url_ns);
            Ok(())
        }
    }
}

/// Validation of metadata every kind shares (name, labels, annotations).
fn validate(res: &Resource, obj: &Map<String, Value>) -> Result<(), Status> {
    let meta = Meta::of(obj);
    let name = meta.name().unwrap_or_default();
    let mut errs: Vec<FieldError> = validation::name(res.api.name_rule, name)
        .into_iter()
        .map(|m| FieldError::invalid("metadata.name", name, m))
        .collect();
    if let Some(ns) = meta.namespace() {
        if res.api.namespaced {
            errs.extend(
                validation::dns1123_label(ns)
                    .into_iter()
                    .map(|m| FieldError::invalid("metadata.namespace", ns, m)),
            );
        }
    }
    errs.extend(validation::labels(meta.get("labels"), "metadata.labels"));
    errs.extend(validation::annotations(
        meta.get("annotations"),
        "metadata.annotations",
    ));
    errs.extend(res.hooks.validate(obj));
    if errs.is_empty() {
        Ok(())
    } else {
        Err(invalid(res, name, errs))
    }
}

/// upstream's field order: kind, apiVersion, metadata (name, generateName, namespace, uid,
/// generation, creationTimestamp, ...), then the rest as the client sent it.
pub fn canonical(mut obj: Map<String, Value>) -> Map<String, Value> {
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
        if let Some(v) = obj.shift_remove(k) {
            out.insert(k.into(), v);
        }
    }
    if let Some(Value::Object(mut meta)) = obj.shift_remove("metadata") {
        let mut m = Map::new();
        for k in META_ORDER {
            if let Some(v) = meta.shift_remove(k) {
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

    use crate::registry::kinds::Plain;
    use crate::registry::resources::lookup;

    fn cm() -> Resource {
        let api = lookup("", "v1", "configmaps").unwrap();
        Resource::new(*api, std::rc::Rc::new(Plain))
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
            None,
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
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "the name of the object (c2) does not match the name on the URL (c1)"
        );
    }
}
