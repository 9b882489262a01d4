//! create, update (main resource and status), delete: optimistic writes with upstream's
//! preconditions, conflicts and finalizer semantics.

use bytes::Bytes;
use http::StatusCode;
use hyper::Response;
use serde::Deserialize;
use serde_json::{Map, Value};
use shards::server::Body;

use super::cluster_ip::Services;
use super::{object, storage_call, RestApi, Target};
use crate::endpoints::response;
use crate::endpoints::status::{qualified, StatusError};
use crate::openapi::validate::{check_body, Directive};
use crate::registry::strategy::{self, finalizers, now_rfc3339};
use crate::storage::kv::{KeyValue, Precondition, Revision, WriteOutcome};

/// The largest object stored (etcd's default request limit, which upstream inherits).
pub(crate) const MAX_OBJECT_BYTES: usize = 3 * 1024 * 1024 / 2;

/// How many times an unconditional update retries a lost race before giving up.
pub(crate) const UPDATE_RETRIES: usize = 8;

/// `DeleteOptions`, the fields kubeshard acts on.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteOptions {
    #[serde(default)]
    preconditions: Option<Preconditions>,
    #[serde(default)]
    propagation_policy: Option<String>,
    #[serde(default)]
    grace_period_seconds: Option<i64>,
    #[serde(default)]
    pub(crate) dry_run: Vec<String>,
    #[serde(default)]
    orphan_dependents: Option<bool>,
}

/// `Preconditions` of a delete.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Preconditions {
    uid: Option<String>,
    resource_version: Option<String>,
}

fn meta_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
}

fn encode(obj: &Map<String, Value>) -> Result<Bytes, StatusError> {
    let bytes = serde_json::to_vec(obj).map_err(StatusError::internal)?;
    if bytes.len() > MAX_OBJECT_BYTES {
        return Err(StatusError::new(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: etcdserver: request is too large",
        ));
    }
    Ok(Bytes::from(bytes))
}

/// Decodes a create/update body and applies `fieldValidation` to it: unknown fields are
/// dropped (and warned about), or rejected with Strict. A version stored as another is
/// converted to the stored form here.
fn decode_checked(
    t: &Target<'_>,
    mut body: Vec<u8>,
) -> Result<(Map<String, Value>, Vec<String>), StatusError> {
    let directive = Directive::parse(t.query.get("fieldValidation"))?;
    let duplicates = if directive == Directive::Ignore {
        Vec::new()
    } else {
        crate::openapi::duplicates::duplicate_fields(&body)
    };
    let mut obj = strategy::decode_object(t.res, &mut body)?;
    let warnings = check_body(t.res, &t.res.kind, &mut obj, directive, &duplicates)?;
    if let Some(conversion) = t.res.conversion {
        strategy::check_type(t.res.api_version(), &mut obj, &t.res.kind)?;
        obj = conversion.to_stored(obj)?;
    }
    Ok((obj, warnings))
}

impl RestApi {
    pub(crate) async fn create(
        &self,
        t: &Target<'_>,
        body: Vec<u8>,
    ) -> Result<Response<Body>, StatusError> {
        let (obj, warnings) = decode_checked(t, body)?;
        self.create_object(t, obj)
            .await
            .map(|r| response::with_warnings(r, &warnings))
    }

    async fn create_object(
        &self,
        t: &Target<'_>,
        obj: Map<String, Value>,
    ) -> Result<Response<Body>, StatusError> {
        let mut obj = strategy::prepare_create(t.res, obj, t.namespace.as_deref())?;
        let name = meta_str(&obj, "name").unwrap_or("").to_string();
        if let Some(ns) = &t.namespace {
            self.require_active_namespace(t, ns, &name).await?;
        }
        if t.res.kind == "Namespace" && t.res.group.is_empty() {
            // upstream: every namespace carries the `kubernetes` finalizer of its controller.
            let spec = obj
                .entry("spec")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(s) = spec.as_object_mut() {
                s.insert("finalizers".into(), serde_json::json!(["kubernetes"]));
            }
        }
        let mut services = Services::default();
        let _ports = self
            .assign_node_ports(t, &mut obj, None, &mut services)
            .await?;
        let held = self.assign_cluster_ip(t, &mut obj, &mut services).await?;
        let result = self.store_new(t, &name, &obj).await;
        if let (Some(ip), Some(ips)) = (held, &self.service_ips) {
            ips.done(ip);
        }
        result
    }

    /// Stores a prepared new object (or only answers, with dryRun).
    async fn store_new(
        &self,
        t: &Target<'_>,
        name: &str,
        obj: &Map<String, Value>,
    ) -> Result<Response<Body>, StatusError> {
        let bytes = encode(obj)?;
        if t.query.dry_run() {
            return Ok(response::json(StatusCode::CREATED, bytes));
        }
        match storage_call(
            t.deadline,
            self.storage
                .put(self.key(t, name), bytes.clone(), Precondition::Absent),
        )
        .await?
        {
            WriteOutcome::Applied { revision, .. } => {
                self.settle(t, revision).await;
                Ok(response::json(
                    StatusCode::CREATED,
                    object::with_resource_version(&bytes, revision),
                ))
            }
            WriteOutcome::PreconditionFailed { .. } => Err(StatusError::already_exists(
                &t.res.group,
                &t.res.plural,
                name,
            )),
        }
    }

    /// 404 for a missing namespace, 403 for one being deleted (upstream's NamespaceLifecycle).
    async fn require_active_namespace(
        &self,
        t: &Target<'_>,
        ns: &str,
        name: &str,
    ) -> Result<(), StatusError> {
        let key = Bytes::from(crate::registry::keys::object_key(
            &self.prefix,
            "namespaces",
            None,
            ns,
        ));
        let (kv, _) = storage_call(t.deadline, self.storage.get(key, 0)).await?;
        let kv = kv.ok_or_else(|| StatusError::not_found("", "namespaces", ns))?;
        let terminating = object::parse_stored(&kv.value)
            .is_some_and(|o| meta_str(&o, "deletionTimestamp").is_some());
        if terminating {
            let mut e = StatusError::new(
                403,
                "Forbidden",
                format!(
                    "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    qualified(&t.res.group, &t.res.plural)
                ),
            );
            e.details.name = Some(name.to_string());
            e.details.kind = Some(t.res.plural.clone());
            return Err(e);
        }
        Ok(())
    }

    pub(crate) async fn update(
        &self,
        t: &Target<'_>,
        body: Vec<u8>,
    ) -> Result<Response<Body>, StatusError> {
        let (obj, warnings) = decode_checked(t, body)?;
        self.update_object(t, obj)
            .await
            .map(|r| response::with_warnings(r, &warnings))
    }

    async fn update_object(
        &self,
        t: &Target<'_>,
        obj: Map<String, Value>,
    ) -> Result<Response<Body>, StatusError> {
        let body_rv: Option<Revision> = match meta_str(&obj, "resourceVersion") {
            None | Some("") => None,
            Some(rv) => Some(rv.parse().map_err(|_| {
                StatusError::bad_request(format!("invalid resource version: {rv:?}"))
            })?),
        };
        for _ in 0..UPDATE_RETRIES {
            let current = self.current(t, &t.name).await?;
            if let Some(rv) = body_rv {
                if rv != current.mod_revision {
                    return Err(StatusError::conflict_modified(
                        &t.res.group,
                        &t.res.plural,
                        &t.name,
                    ));
                }
            }
            let old = object::parse_stored(&current.value).unwrap_or_default();
            let mut new = strategy::prepare_update(
                t.res,
                obj.clone(),
                &old,
                t.namespace.as_deref(),
                &t.name,
                &t.subresource,
            )?;
            let _ports = self
                .assign_node_ports(t, &mut new, Some(&old), &mut Services::default())
                .await?;
            let bytes = encode(&new)?;
            if bytes == current.value {
                return Ok(response::json(
                    StatusCode::OK,
                    object::with_resource_version(&current.value, current.mod_revision),
                ));
            }
            if t.query.dry_run() {
                // Nothing is written: the answer keeps the current resourceVersion, as upstream's.
                return Ok(response::json(
                    StatusCode::OK,
                    object::with_resource_version(&bytes, current.mod_revision),
                ));
            }
            if let Some(resp) = self
                .write_back(t, current.mod_revision, &new, bytes, body_rv.is_some())
                .await?
            {
                return Ok(resp);
            }
        }
        Err(StatusError::conflict_modified(
            &t.res.group,
            &t.res.plural,
            &t.name,
        ))
    }

    async fn current(&self, t: &Target<'_>, name: &str) -> Result<KeyValue, StatusError> {
        let (kv, _) = storage_call(t.deadline, self.storage.get(self.key(t, name), 0)).await?;
        kv.ok_or_else(|| StatusError::not_found(&t.res.group, &t.res.plural, name))
    }

    pub(crate) async fn delete(
        &self,
        t: &Target<'_>,
        body: Vec<u8>,
    ) -> Result<Response<Body>, StatusError> {
        let (opts, policy) = delete_options(t, &body)?;
        if opts.dry_run.iter().any(|d| d == "All") {
            let current = self.current(t, &t.name).await?;
            return Ok(response::json(
                StatusCode::OK,
                object::with_resource_version(&current.value, current.mod_revision),
            ));
        }
        self.delete_one(t, &t.name, opts.preconditions, policy)
            .await
    }

    /// Deletes one object: at once without finalizers, else marks it deleting.
    pub(crate) async fn delete_one(
        &self,
        t: &Target<'_>,
        name: &str,
        pre: Option<Preconditions>,
        policy: Option<String>,
    ) -> Result<Response<Body>, StatusError> {
        for _ in 0..UPDATE_RETRIES {
            let current = self.current(t, name).await?;
            let mut obj = object::parse_stored(&current.value).unwrap_or_default();
            let uid = meta_str(&obj, "uid").unwrap_or("").to_string();
            if let Some(p) = &pre {
                if let Some(want) = p.uid.as_deref().filter(|u| !u.is_empty() && *u != uid) {
                    return Err(StatusError::conflict(&t.res.group, &t.res.plural, name, &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}")));
                }
                if let Some(want) = p
                    .resource_version
                    .as_deref()
                    .filter(|r| !r.is_empty() && *r != current.mod_revision.to_string())
                {
                    return Err(StatusError::conflict(&t.res.group, &t.res.plural, name, &format!("Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}", current.mod_revision)));
                }
            }
            let mut fins = finalizers(obj.get("metadata").unwrap_or(&Value::Null));
            match policy.as_deref() {
                Some("Foreground") if !fins.iter().any(|f| f == "foregroundDeletion") => {
                    fins.push("foregroundDeletion".into())
                }
                Some("Orphan") if !fins.iter().any(|f| f == "orphan") => fins.push("orphan".into()),
                _ => {}
            }
            let is_namespace = t.res.kind == "Namespace" && t.res.group.is_empty();
            if fins.is_empty() && !is_namespace {
                match self
                    .write_at(t, name, current.mod_revision, None, false)
                    .await?
                {
                    Attempt::Done(_) => return Ok(success(t, name, &uid)),
                    Attempt::Retry => continue,
                }
            }
            if meta_str(&obj, "deletionTimestamp").is_some() {
                return Ok(response::json(
                    StatusCode::OK,
                    object::with_resource_version(&current.value, current.mod_revision),
                ));
            }
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("deletionTimestamp".into(), Value::String(now_rfc3339()));
                m.insert("deletionGracePeriodSeconds".into(), Value::from(0));
                if !fins.is_empty() {
                    m.insert("finalizers".into(), serde_json::json!(fins));
                }
            }
            if is_namespace {
                let status = obj
                    .entry("status")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(s) = status.as_object_mut() {
                    s.insert("phase".into(), Value::String("Terminating".into()));
                }
            }
            let bytes = encode(&obj)?;
            match self
                .write_at(t, name, current.mod_revision, Some(bytes.clone()), false)
                .await?
            {
                Attempt::Done(revision) => {
                    return Ok(response::json(
                        StatusCode::OK,
                        object::with_resource_version(&bytes, revision),
                    ))
                }
                Attempt::Retry => continue,
            }
        }
        Err(StatusError::conflict_modified(
            &t.res.group,
            &t.res.plural,
            name,
        ))
    }
}

/// How one optimistic write of a GuaranteedUpdate-style loop ended.
pub(crate) enum Attempt {
    /// Applied at this revision.
    Done(Revision),
    /// Lost a race with another writer: read again and retry.
    Retry,
}

impl RestApi {
    /// Writes `bytes` (or deletes, with None) at the revision the loop read. A lost race is a
    /// retry, unless the client pinned a resourceVersion (then 409); a vanished object is 404.
    pub(crate) async fn write_at(
        &self,
        t: &Target<'_>,
        name: &str,
        read_revision: Revision,
        bytes: Option<Bytes>,
        pinned: bool,
    ) -> Result<Attempt, StatusError> {
        let pre = Precondition::ModRevision(read_revision);
        let outcome = match bytes {
            Some(b) => {
                storage_call(t.deadline, self.storage.put(self.key(t, name), b, pre)).await?
            }
            None => self.delete_raw(t, name, pre).await?,
        };
        match outcome {
            WriteOutcome::Applied { revision, .. } => {
                self.settle(t, revision).await;
                Ok(Attempt::Done(revision))
            }
            WriteOutcome::PreconditionFailed { current: None, .. } => {
                Err(StatusError::not_found(&t.res.group, &t.res.plural, name))
            }
            WriteOutcome::PreconditionFailed { .. } if pinned => Err(
                StatusError::conflict_modified(&t.res.group, &t.res.plural, name),
            ),
            WriteOutcome::PreconditionFailed { .. } => Ok(Attempt::Retry),
        }
    }
}

impl RestApi {
    /// `PUT namespaces/<name>/finalize`: replaces the namespace's `spec.finalizers` (only
    /// those); a namespace being deleted with no finalizers left goes, as upstream's does.
    pub(crate) async fn finalize(
        &self,
        t: &Target<'_>,
        mut body: Vec<u8>,
    ) -> Result<Response<Body>, StatusError> {
        let given = strategy::decode_object(t.res, &mut body)?;
        let wanted = given
            .get("spec")
            .and_then(|s| s.get("finalizers"))
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        if !wanted.is_array() {
            return Err(StatusError::bad_request("spec.finalizers must be a list"));
        }
        for _ in 0..UPDATE_RETRIES {
            let current = self.current(t, &t.name).await?;
            let mut obj = object::parse_stored(&current.value).unwrap_or_default();
            let spec = obj
                .entry("spec")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(s) = spec.as_object_mut() {
                s.insert("finalizers".into(), wanted.clone());
            }
            let bytes = encode(&obj)?;
            if t.query.dry_run() {
                return Ok(response::json(
                    StatusCode::OK,
                    object::with_resource_version(&bytes, current.mod_revision),
                ));
            }
            if let Some(resp) = self
                .write_back(t, current.mod_revision, &obj, bytes, false)
                .await?
            {
                return Ok(resp);
            }
        }
        Err(StatusError::conflict_modified(
            &t.res.group,
            &t.res.plural,
            &t.name,
        ))
    }
}

/// A delete's options: the body's DeleteOptions with the query's overrides, and the
/// propagation policy they ask for. Shared by delete and deletecollection.
pub(crate) fn delete_options(
    t: &Target<'_>,
    body: &[u8],
) -> Result<(DeleteOptions, Option<String>), StatusError> {
    let mut opts: DeleteOptions = if body.iter().all(u8::is_ascii_whitespace) {
        DeleteOptions::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            StatusError::bad_request(format!(
                "the body of the request could not be decoded as DeleteOptions: {e}"
            ))
        })?
    };
    if let Some(p) = t.query.get("propagationPolicy") {
        opts.propagation_policy = Some(p.to_string());
    }
    if let Some(g) = t.query.get("gracePeriodSeconds") {
        opts.grace_period_seconds = g.parse().ok();
    }
    if t.query.dry_run() {
        opts.dry_run = vec!["All".into()];
    }
    let policy = match (opts.propagation_policy.as_deref(), opts.orphan_dependents) {
        (Some(p @ ("Foreground" | "Background" | "Orphan")), _) => Some(p.to_string()),
        (Some(other), _) => {
            return Err(StatusError::invalid("", "DeleteOptions", "", vec![crate::endpoints::status::StatusCause {
                reason: Some("FieldValueNotSupported".into()),
                message: format!("Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""),
                field: Some("propagationPolicy".into()),
            }]))
        }
        (None, Some(true)) => Some("Orphan".into()),
        _ => None,
    };
    Ok((opts, policy))
}

fn has_spec_finalizers(obj: &Map<String, Value>) -> bool {
    !finalizers(obj.get("spec").unwrap_or(&Value::Null)).is_empty()
}

/// An object being deleted whose last finalizer (metadata or spec) is gone: it goes now.
fn deletion_finished(obj: &Map<String, Value>) -> bool {
    meta_str(obj, "deletionTimestamp").is_some()
        && finalizers(obj.get("metadata").unwrap_or(&Value::Null)).is_empty()
        && !has_spec_finalizers(obj)
}

impl RestApi {
    /// One attempt of an update-style loop: writes `bytes` (the encoding of `obj`) at the
    /// revision read, or deletes the object when its deletion has finished. None: lost a race,
    /// read again.
    async fn write_back(
        &self,
        t: &Target<'_>,
        read_revision: Revision,
        obj: &Map<String, Value>,
        bytes: Bytes,
        pinned: bool,
    ) -> Result<Option<Response<Body>>, StatusError> {
        let write = (!deletion_finished(obj)).then(|| bytes.clone());
        match self
            .write_at(t, &t.name, read_revision, write, pinned)
            .await?
        {
            Attempt::Done(revision) => Ok(Some(response::json(
                StatusCode::OK,
                object::with_resource_version(&bytes, revision),
            ))),
            Attempt::Retry => Ok(None),
        }
    }
}

/// upstream's answer to a delete that removed the object: a Success Status.
fn success(t: &Target<'_>, name: &str, uid: &str) -> Response<Body> {
    let mut details = serde_json::json!({"name": name, "kind": t.res.plural, "uid": uid});
    if !t.res.group.is_empty() {
        details["group"] = Value::String(t.res.group.clone());
    }
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    });
    response::json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}
