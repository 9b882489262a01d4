//! The `scale` subresource: an `autoscaling/v1` Scale view of a workload's replicas.

use bytes::Bytes;
use http::StatusCode;
use hyper::Response;
use serde_json::{Map, Value};
use shards::server::Body;

use super::write::Attempt;
use super::{object, storage_call, RestApi, Target};
use crate::endpoints::response;
use crate::endpoints::status::StatusError;
use crate::registry::strategy;
use crate::storage::kv::Revision;

/// `spec.selector` as a label selector string (`matchLabels` and `matchExpressions`, or the
/// plain map replication controllers use).
fn selector_string(spec: Option<&Value>) -> String {
    let Some(sel) = spec.and_then(|s| s.get("selector")) else {
        return String::new();
    };
    let mut terms = Vec::new();
    let labels = sel
        .get("matchLabels")
        .or(if sel.get("matchExpressions").is_none() {
            Some(sel)
        } else {
            None
        });
    if let Some(m) = labels.and_then(Value::as_object) {
        for (k, v) in m {
            terms.push(format!("{k}={}", v.as_str().unwrap_or("")));
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => terms.push(format!("{key} in ({})", values.join(","))),
            "NotIn" => terms.push(format!("{key} notin ({})", values.join(","))),
            "Exists" => terms.push(key.to_string()),
            "DoesNotExist" => terms.push(format!("!{key}")),
            _ => {}
        }
    }
    terms.join(",")
}

pub(crate) fn scale_of(obj: &Map<String, Value>, rev: Revision) -> Bytes {
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
    Bytes::from(serde_json::to_vec(&scale).unwrap_or_default())
}

impl RestApi {
    pub(crate) async fn get_scale(&self, t: &Target<'_>) -> Result<Response<Body>, StatusError> {
        let (kv, _) = storage_call(t.deadline, self.storage.get(self.key(t, &t.name), 0)).await?;
        let kv = kv.ok_or_else(|| StatusError::not_found(&t.res.group, &t.res.plural, &t.name))?;
        let obj = object::parse_stored(&kv.value).unwrap_or_default();
        Ok(response::json(
            StatusCode::OK,
            scale_of(&obj, kv.mod_revision),
        ))
    }

    pub(crate) async fn update_scale(
        &self,
        t: &Target<'_>,
        body: Vec<u8>,
    ) -> Result<Response<Body>, StatusError> {
        let scale: Value = serde_json::from_slice(&body).map_err(|e| {
            StatusError::bad_request(format!(
                "the object provided is unrecognized (must be of type Scale): {e}"
            ))
        })?;
        let replicas = scale
            .get("spec")
            .and_then(|s| s.get("replicas"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if replicas < 0 {
            return Err(StatusError::invalid(
                "autoscaling",
                "Scale",
                &t.name,
                vec![crate::endpoints::status::StatusCause {
                    reason: Some("FieldValueInvalid".into()),
                    message: format!(
                        "Invalid value: {replicas}: must be greater than or equal to 0"
                    ),
                    field: Some("spec.replicas".into()),
                }],
            ));
        }
        let want_rv: Option<Revision> = scale
            .get("metadata")
            .and_then(|m| m.get("resourceVersion"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .and_then(|s| s.parse().ok());
        for _ in 0..super::write::UPDATE_RETRIES {
            let (kv, _) =
                storage_call(t.deadline, self.storage.get(self.key(t, &t.name), 0)).await?;
            let kv =
                kv.ok_or_else(|| StatusError::not_found(&t.res.group, &t.res.plural, &t.name))?;
            if want_rv.is_some_and(|r| r != kv.mod_revision) {
                return Err(StatusError::conflict_modified(
                    &t.res.group,
                    &t.res.plural,
                    &t.name,
                ));
            }
            let old = object::parse_stored(&kv.value).unwrap_or_default();
            let mut new = old.clone();
            if let Some(spec) = new
                .entry("spec")
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
            {
                spec.insert("replicas".into(), Value::from(replicas));
            }
            let new =
                strategy::prepare_update(t.res, new, &old, t.namespace.as_deref(), &t.name, "")?;
            let bytes = Bytes::from(serde_json::to_vec(&new).map_err(StatusError::internal)?);
            if t.query.dry_run() || bytes == kv.value {
                return Ok(response::json(
                    StatusCode::OK,
                    scale_of(&new, kv.mod_revision),
                ));
            }
            match self
                .write_at(t, &t.name, kv.mod_revision, Some(bytes), want_rv.is_some())
                .await?
            {
                Attempt::Done(revision) => {
                    return Ok(response::json(StatusCode::OK, scale_of(&new, revision)))
                }
                Attempt::Retry => continue,
            }
        }
        Err(StatusError::conflict_modified(
            &t.res.group,
            &t.res.plural,
            &t.name,
        ))
    }
}
