//! PATCH: read the object (or its Scale), apply the patch, and write the result through the
//! same path as an update (strategy, validation, optimistic concurrency, dryRun). A conflict
//! with a concurrent writer is retried unless the patch itself pinned a resourceVersion, as
//! upstream does.

use hyper::Response;
use serde_json::Value;
use shards::server::Body;

use super::write::UPDATE_RETRIES;
use super::{object, scale::scale_of, storage_call, RestApi, Target};
use crate::endpoints::status::StatusError;
use crate::registry::patch::{self, PatchType};
use crate::registry::validation::FieldError;

impl RestApi {
    pub(crate) async fn patch(
        &self,
        t: &Target<'_>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Response<Body>, StatusError> {
        let patch_type = PatchType::from_content_type(content_type)?;
        let scale = t.subresource == "scale";
        let mut last = None;
        for _ in 0..UPDATE_RETRIES {
            let (kv, _) =
                storage_call(t.deadline, self.storage.get(self.key(t, &t.name), 0)).await?;
            let kv =
                kv.ok_or_else(|| StatusError::not_found(&t.res.group, &t.res.plural, &t.name))?;
            let current = if scale {
                let obj = object::parse_stored(&kv.value).unwrap_or_default();
                scale_of(&obj, kv.mod_revision)
            } else {
                object::with_resource_version(&kv.value, kv.mod_revision)
            };
            let mut original: Value = serde_json::from_slice(&current)
                .map_err(|e| StatusError::internal(format!("stored object: {e}")))?;
            if let (Some(conversion), false) = (t.res.conversion, scale) {
                conversion.present(&mut original);
            }
            let kind = if scale { "Scale" } else { t.res.kind.as_str() };
            let schema = crate::openapi::kind_schema(&t.res.group, &t.res.version, kind);
            let patched = patch::apply(patch_type, schema.as_ref(), &original, &body)?;
            check_identity(t, &original, &patched)?;
            let pinned = rv(&patched) != rv(&original);
            let bytes = serde_json::to_vec(&patched)
                .map_err(|e| StatusError::internal(format!("encoding: {e}")))?;
            let result = if scale {
                self.update_scale(t, bytes).await
            } else {
                self.update(t, bytes).await
            };
            match result {
                Err(e) if e.code == 409 && !pinned => last = Some(e),
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| {
            StatusError::conflict_modified(&t.res.group, &t.res.plural, &t.name)
        }))
    }
}

fn rv(obj: &Value) -> Option<&str> {
    obj.get("metadata")?.get("resourceVersion")?.as_str()
}

/// A patch may not move the object: its name and namespace must stay the URL's, and its uid
/// the stored one (upstream's update validation: 422 `field is immutable`, where a PUT body's
/// uid is a precondition and gets 409).
fn check_identity(t: &Target<'_>, original: &Value, patched: &Value) -> Result<(), StatusError> {
    let uid = |o: &Value| {
        o.get("metadata")
            .and_then(|m| m.get("uid"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if let (Some(new), Some(old)) = (uid(patched), uid(original)) {
        if !new.is_empty() && new != old {
            let err = FieldError::invalid("metadata.uid", &new, "field is immutable");
            return Err(StatusError::invalid(
                &t.res.group,
                &t.res.kind,
                &t.name,
                vec![err.cause()],
            ));
        }
    }
    let meta = patched.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
    if let Some(n) = name.filter(|n| *n != t.name) {
        return Err(StatusError::bad_request(format!(
            "the name of the object ({n}) does not match the name on the URL ({})",
            t.name
        )));
    }
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str);
    if let (Some(n), Some(want)) = (ns, t.namespace.as_deref()) {
        if !n.is_empty() && n != want {
            return Err(StatusError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}
