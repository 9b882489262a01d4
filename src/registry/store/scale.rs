//! The `scale` subresource: an `autoscaling/v1` Scale view of a workload's replicas; writing
//! it sets `spec.replicas` through the update loop.

use bytes::Bytes;
use serde_json::{Map, Value};

use super::facts::RequestFacts;
use super::update::Proposed;
use super::{Store, Stored};
use crate::api::object::decode_stored;
use crate::api::status::{Status, StatusCause};
use crate::api::Revision;
use crate::registry::kinds::Object;
use crate::registry::resources::Resource;

/// `spec.selector` as a label selector string (empty when there is none).
fn selector_string(spec: Option<&Value>) -> String {
    spec.and_then(|s| s.get("selector"))
        .map(crate::request::selector::label_selector_string)
        .unwrap_or_default()
}

/// The Scale of `obj` at `rev`.
pub(super) fn scale_of(obj: &Map<String, Value>, rev: Revision) -> Bytes {
    let meta = obj.get("metadata").cloned().unwrap_or(Value::Null);
    let pick = |f: &str| meta.get(f).cloned().unwrap_or(Value::Null);
    let spec = obj.get("spec");
    let scale = serde_json::json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": pick("name"),
            "namespace": pick("namespace"),
            "uid": pick("uid"),
            "resourceVersion": rev.to_string(),
            "creationTimestamp": pick("creationTimestamp"),
        },
        "spec": {"replicas": spec.and_then(|s| s.get("replicas")).and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": obj.get("status").and_then(|s| s.get("replicas")).and_then(Value::as_i64).unwrap_or(0),
            "selector": selector_string(spec),
        },
    });
    // A JSON value always serializes.
    Bytes::from(serde_json::to_vec(&scale).unwrap_or_default())
}

/// The replicas a Scale asks for; a negative count is upstream's 422.
pub(super) fn replicas_of(name: &str, scale: &Value) -> Result<i64, Status> {
    let replicas = scale
        .get("spec")
        .and_then(|s| s.get("replicas"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        return Err(Status::invalid(
            "autoscaling",
            "Scale",
            name,
            vec![StatusCause {
                reason: Some("FieldValueInvalid".into()),
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                field: Some("spec.replicas".into()),
            }],
        ));
    }
    Ok(replicas)
}

/// `obj` with `spec.replicas` set.
pub(super) fn with_replicas(obj: &Object, replicas: i64) -> Object {
    let mut new = obj.clone();
    if let Some(spec) = new
        .entry("spec")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
    {
        spec.insert("replicas".into(), Value::from(replicas));
    }
    new
}

impl Store {
    /// `get` of the Scale.
    pub async fn get_scale(&self, res: &Resource, req: &RequestFacts) -> Result<Stored, Status> {
        let kv = self.current(res, req, &req.name).await?;
        let obj = decode_stored(&kv.key, &kv.value)?;
        Ok(Stored::ok(scale_of(&obj, kv.mod_revision), kv.mod_revision))
    }

    /// `update` of the Scale: sets the replicas.
    pub async fn update_scale(
        &self,
        res: &Resource,
        req: &RequestFacts,
        body: &[u8],
    ) -> Result<Stored, Status> {
        let scale: Value = serde_json::from_slice(body).map_err(|e| {
            Status::bad_request(format!(
                "the object provided is unrecognized (must be of type Scale): {e}"
            ))
        })?;
        let replicas = replicas_of(&req.name, &scale)?;
        let want_rv: Option<Revision> = scale
            .get("metadata")
            .and_then(|m| m.get("resourceVersion"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .and_then(|s| s.parse().ok());
        let written = self
            .update_loop(res, req, &mut |current, revision| {
                if want_rv.is_some_and(|r| r != revision) {
                    return Err(Status::conflict_modified(
                        res.api.group,
                        res.api.plural,
                        &req.name,
                    ));
                }
                Ok(Proposed {
                    obj: with_replicas(current, replicas),
                    pinned: want_rv.is_some(),
                    applied: None,
                })
            })
            .await?;
        Ok(Stored::ok(
            scale_of(&written.obj, written.revision),
            written.revision,
        ))
    }
}
