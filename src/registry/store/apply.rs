//! Server-side apply: `PATCH` with `application/apply-patch+yaml` (YAML or JSON). The
//! configuration is merged into the object by its schema and the manager comes to own
//! exactly what it applied ([`crate::registry::fieldmanager`]); an object that does not
//! exist is created; fields other managers own refuse the apply with upstream's 409 unless
//! `force=true`. The merged object then goes through the same checks and retry loop as any
//! update. An apply to `scale` applies the parent's `spec.replicas`.

use serde_json::{json, Value};

use super::facts::RequestFacts;
use super::ownership;
use super::patch::{as_served, check_identity, checked_change};
use super::scale::scale_of;
use super::update::Proposed;
use super::{answer, decode, Store, Stored};
use crate::api::resources::Subresource;
use crate::api::status::{Reason, Status};
use crate::registry::fieldmanager::{conflict_status, ApplyError};
use crate::registry::resources::Resource;

/// The applied configuration: a YAML (or JSON) mapping.
fn parse(body: &[u8]) -> Result<Value, Status> {
    let text = std::str::from_utf8(body)
        .map_err(|e| Status::bad_request(format!("error decoding YAML: {e}")))?;
    let v: Value = if text.trim().is_empty() {
        json!({})
    } else {
        serde_saphyr::from_str(text)
            .map_err(|e| Status::bad_request(format!("error decoding YAML: {e}")))?
    };
    match v {
        Value::Object(_) => Ok(v),
        Value::Null => Ok(json!({})),
        other => Err(Status::bad_request(format!(
            "error decoding YAML: cannot unmarshal {} into an object",
            match other {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                _ => "bool",
            }
        ))),
    }
}

/// upstream's checks of a configuration before it is applied.
fn check(config: &Value, expected_version: &str) -> Result<(), Status> {
    let given = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if given != expected_version {
        return Err(Status::bad_request(format!(
            "Incorrect version specified in apply patch. Specified patch version: {given}, expected: {expected_version}"
        )));
    }
    if config
        .get("metadata")
        .and_then(|m| m.get("managedFields"))
        .is_some_and(|m| !m.is_null())
    {
        return Err(Status::bad_request("metadata.managedFields must be nil"));
    }
    Ok(())
}

/// An apply to `scale` as an apply of the parent's replicas (and the Scale's
/// resourceVersion precondition, if it has one).
fn parent_config(res: &Resource, req: &RequestFacts, scale: &Value) -> Value {
    let mut meta = json!({"name": req.name});
    if let Some(rv) = scale.get("metadata").and_then(|m| m.get("resourceVersion")) {
        meta["resourceVersion"] = rv.clone();
    }
    let mut config = json!({
        "apiVersion": res.api.api_version(),
        "kind": res.api.kind,
        "metadata": meta,
    });
    if let Some(r) = scale.get("spec").and_then(|s| s.get("replicas")) {
        config["spec"] = json!({ "replicas": r });
    }
    config
}

/// An apply refused, as upstream answers it.
fn refused(res: &Resource, config: &Value, e: ApplyError) -> Status {
    match e {
        ApplyError::Conflicts(c) => conflict_status(&c),
        ApplyError::Invalid(why) => {
            let meta = config.get("metadata");
            let pick = |f: &str| {
                meta.and_then(|m| m.get(f))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            };
            Status::new(
                Reason::Unknown,
                format!(
                    "failed to create typed patch object ({}/{}; {}/{}, Kind={}): {why}",
                    pick("namespace"),
                    pick("name"),
                    res.api.group,
                    res.api.version,
                    res.api.kind
                ),
            )
        }
    }
}

impl Store {
    /// Server-side apply of `body` to the object (or its `status` or `scale`).
    pub(super) async fn apply(
        &self,
        res: &Resource,
        req: &RequestFacts,
        body: &[u8],
    ) -> Result<Stored, Status> {
        let scale = req.subresource == Some(Subresource::Scale);
        let config = parse(body)?;
        let expected = if scale {
            "autoscaling/v1".to_string()
        } else {
            res.api.api_version()
        };
        check(&config, &expected)?;
        let config = if scale {
            parent_config(res, req, &config)
        } else {
            config
        };
        let fields = ownership::served(res, req);
        let exists = match self.current(res, req, &req.name).await {
            Ok(_) => true,
            Err(e) if e.reason == Reason::NotFound && req.subresource.is_none() => false,
            Err(e) => return Err(e),
        };
        if !exists {
            let (merged, managed) = fields
                .apply(None, &config, req.force)
                .map_err(|e| refused(res, &config, e))?;
            let Value::Object(mut obj) = merged else {
                return Err(Status::bad_request("the applied object is not an object"));
            };
            check_identity(
                res,
                req,
                &json!({"metadata": {}}),
                &Value::Object(obj.clone()),
            )?;
            if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.entry("name")
                    .or_insert_with(|| req.name.clone().into());
            }
            let decoded = decode::object(res, req, obj)?;
            let stored = self
                .create_owned(res, req, decoded.obj, Some(managed))
                .await?;
            return Ok(stored.with_warnings(decoded.warnings));
        }
        let mut warnings = Vec::new();
        let written = self
            .update_loop(res, req, &mut |current, revision| {
                let original = as_served(res, current, revision)?;
                let (merged, managed) = fields
                    .apply(original.as_object(), &config, req.force)
                    .map_err(|e| refused(res, &config, e))?;
                let pinned = checked_change(res, req, &original, &merged, revision)?;
                let Value::Object(obj) = merged else {
                    return Err(Status::bad_request("the applied object is not an object"));
                };
                let decoded = decode::object(res, req, obj)?;
                warnings = decoded.warnings;
                Ok(Proposed {
                    obj: decoded.obj,
                    pinned,
                    applied: Some(managed),
                })
            })
            .await?;
        let body = if scale {
            scale_of(&written.obj, written.revision)
        } else {
            answer(&written.bytes, written.revision)
        };
        Ok(Stored::ok(body, written.revision).with_warnings(warnings))
    }
}
