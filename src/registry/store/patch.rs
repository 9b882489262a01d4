//! PATCH of an object, its status or its Scale: inside the update retry loop, each attempt
//! applies the patch to the object just read (as the client would GET it), checks the result
//! as a body would be checked, and writes it as an update does. A conflict with a concurrent
//! writer is retried unless the patch itself pinned a resourceVersion, as upstream does.

use serde_json::Value;

use super::facts::RequestFacts;
use super::scale::{replicas_of, scale_of, with_replicas};
use super::update::Proposed;
use super::{answer, decode, Store, Stored};
use crate::api::object::with_resource_version;
use crate::api::resources::Subresource;
use crate::api::status::Status;
use crate::api::validation::FieldError;
use crate::registry::patch::{self, PatchType};
use crate::registry::resources::Resource;

impl Store {
    /// `patch` with a body of `patch_type`.
    pub async fn patch(
        &self,
        res: &Resource,
        req: &RequestFacts,
        patch_type: PatchType,
        body: &[u8],
    ) -> Result<Stored, Status> {
        if patch_type == PatchType::Apply {
            return self.apply(res, req, body).await;
        }
        let scale = req.subresource == Some(Subresource::Scale);
        let kind = if scale { "Scale" } else { res.api.kind };
        let schema = crate::openapi::kind_schema(res.api.group, res.api.version, kind);
        let mut warnings = Vec::new();
        let written = self
            .update_loop(res, req, &mut |current, revision| {
                let original = if scale {
                    serde_json::from_slice(&scale_of(current, revision))
                        .map_err(|e| Status::internal(format!("stored object: {e}")))?
                } else {
                    as_served(res, current, revision)?
                };
                let patched = patch::apply(patch_type, schema.as_ref(), &original, body)?;
                let pinned = checked_change(res, req, &original, &patched, revision)?;
                let obj = if scale {
                    with_replicas(current, replicas_of(&req.name, &patched)?)
                } else {
                    let Value::Object(map) = patched else {
                        return Err(Status::bad_request("the patched object is not an object"));
                    };
                    let decoded = decode::object(res, req, map)?;
                    warnings = decoded.warnings;
                    decoded.obj
                };
                Ok(Proposed {
                    obj,
                    pinned,
                    applied: None,
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

fn rv(obj: &Value) -> Option<&str> {
    obj.get("metadata")?.get("resourceVersion")?.as_str()
}

/// The stored object as the client would GET it: with its resourceVersion, in the served
/// version. What a patch or an apply is computed on.
pub(super) fn as_served(
    res: &Resource,
    current: &crate::registry::kinds::Object,
    revision: crate::api::Revision,
) -> Result<Value, Status> {
    let mut original: Value = serde_json::to_vec(current)
        .and_then(|b| serde_json::from_slice(&with_resource_version(&b, revision)))
        .map_err(|e| Status::internal(format!("stored object: {e}")))?;
    if let Some(conversion) = res.conversion {
        conversion.present(&mut original);
    }
    Ok(original)
}

/// The checks of a patched (or applied) object against the one it was computed on: it stays
/// the URL's object, and a resourceVersion it changed pins the write to that revision (a
/// stale one is upstream's 409). Whether the write is pinned.
pub(super) fn checked_change(
    res: &Resource,
    req: &RequestFacts,
    original: &Value,
    changed: &Value,
    revision: crate::api::Revision,
) -> Result<bool, Status> {
    check_identity(res, req, original, changed)?;
    let pinned = rv(changed) != rv(original);
    if pinned && rv(changed) != Some(revision.to_string().as_str()) {
        return Err(Status::conflict_modified(
            res.api.group,
            res.api.plural,
            &req.name,
        ));
    }
    Ok(pinned)
}

/// A patch may not move the object: its name and namespace must stay the URL's, and its uid
/// the stored one (upstream's update validation: 422 `field is immutable`, where a PUT body's
/// uid is a precondition and gets 409).
pub(super) fn check_identity(
    res: &Resource,
    req: &RequestFacts,
    original: &Value,
    patched: &Value,
) -> Result<(), Status> {
    let uid = |o: &Value| {
        o.get("metadata")
            .and_then(|m| m.get("uid"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if let (Some(new), Some(old)) = (uid(patched), uid(original)) {
        if !new.is_empty() && new != old {
            let err = FieldError::invalid("metadata.uid", &new, "field is immutable");
            return Err(Status::invalid(
                res.api.group,
                res.api.kind,
                &req.name,
                vec![err.cause()],
            ));
        }
    }
    let meta = patched.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
    if let Some(n) = name.filter(|n| *n != req.name) {
        return Err(Status::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({})",
            req.name
        )));
    }
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str);
    if let (Some(n), Some(want)) = (ns, req.namespace.as_deref()) {
        if !n.is_empty() && n != want {
            return Err(Status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}
