//! `AlwaysPullImages` (off by default, as upstream): every container of a new or changed Pod
//! pulls its image each time it starts (`imagePullPolicy: Always`), so a Pod can use only the
//! private images its own pull secrets allow; a Pod that says otherwise is refused with
//! upstream's message.

use serde_json::Value;

use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// The plugin.
#[derive(Debug, Default)]
pub struct AlwaysPullImages;

const LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

impl AdmissionPlugin for AlwaysPullImages {
    fn name(&self) -> &'static str {
        "AlwaysPullImages"
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(pod) = obj else { return Ok(()) };
            if !super::pod_itself(&attrs, &[Operation::Create, Operation::Update]) {
                return Ok(());
            }
            if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
                for key in LISTS {
                    if let Some(Value::Array(cs)) = spec.get_mut(key) {
                        for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                            c.insert("imagePullPolicy".into(), Value::from("Always"));
                        }
                    }
                }
            }
            Ok(())
        })
    }

    fn validate<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(pod) = obj else { return Ok(()) };
            if !super::pod_itself(&attrs, &[Operation::Create, Operation::Update]) {
                return Ok(());
            }
            let spec = pod.get("spec").unwrap_or(&Value::Null);
            for key in LISTS {
                for (i, c) in spec
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let policy = c
                        .get("imagePullPolicy")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if policy != "Always" {
                        return Err(Status::forbidden(
                            "",
                            "pods",
                            attrs.name,
                            &format!("spec.{key}[{i}].imagePullPolicy: Unsupported value: {policy:?}: supported values: \"Always\""),
                        ));
                    }
                }
            }
            Ok(())
        })
    }
}
