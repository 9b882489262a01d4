//! `Priority`: a Pod's `spec.priority` comes from its PriorityClass (or the cluster's global
//! default class, else 0) and its `preemptionPolicy` with it; a class that does not exist, or
//! a priority or policy the Pod states that the class contradicts, is upstream's 403.
//! Creates of Pods themselves.

use serde_json::Value;

use crate::api::resources::lookup;
use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// What a Pod gets without a class and without a global default (upstream's
/// `DefaultPriorityWhenNoDefaultClassExists`).
const NO_CLASS_PRIORITY: i64 = 0;
/// The preemption policy of a class that names none (its API default).
const DEFAULT_PREEMPTION: &str = "PreemptLowerPriority";

/// The plugin.
#[derive(Debug, Default)]
pub struct Priority;

fn forbidden(attrs: &Attributes<'_>, why: &str) -> Status {
    Status::forbidden(attrs.resource.group, attrs.resource.plural, attrs.name, why)
}

/// A class's value and preemption policy.
fn of_class(pc: &Object) -> (i64, String) {
    (
        pc.get("value").and_then(Value::as_i64).unwrap_or(0),
        pc.get("preemptionPolicy")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_PREEMPTION)
            .to_string(),
    )
}

impl AdmissionPlugin for Priority {
    fn name(&self) -> &'static str {
        "Priority"
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let (true, Some(pod)) = (super::pod_itself(&attrs, &[Operation::Create]), obj) else {
                return Ok(());
            };
            let Some(classes) = lookup("scheduling.k8s.io", "v1", "priorityclasses") else {
                return Ok(());
            };
            let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
                return Ok(());
            };
            let named = spec
                .get("priorityClassName")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            let deadline = attrs.request.deadline;
            let (class, priority, policy) = match named {
                Some(name) => {
                    let Some(pc) = attrs.reads.get(classes, None, &name, deadline).await? else {
                        return Err(forbidden(
                            &attrs,
                            &format!("no PriorityClass with name {name} was found"),
                        ));
                    };
                    let (v, p) = of_class(&pc);
                    (Some(name), v, p)
                }
                None => {
                    // The global default with the lowest value, as upstream picks it.
                    let all = attrs.reads.list_all(classes, deadline).await?;
                    let default = all
                        .iter()
                        .filter(|pc| pc.get("globalDefault").and_then(Value::as_bool) == Some(true))
                        .filter_map(|pc| pc.as_object())
                        .min_by_key(|pc| pc.get("value").and_then(Value::as_i64).unwrap_or(0));
                    match default {
                        Some(pc) => {
                            let (v, p) = of_class(pc);
                            let name = crate::api::meta::Meta::of(pc).name().map(str::to_string);
                            (name, v, p)
                        }
                        None => (None, NO_CLASS_PRIORITY, DEFAULT_PREEMPTION.to_string()),
                    }
                }
            };
            if let Some(given) = spec.get("priority").and_then(Value::as_i64) {
                if given != priority {
                    return Err(forbidden(&attrs, &format!("the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name")));
                }
            }
            if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str) {
                if given != policy {
                    return Err(forbidden(&attrs, &format!("the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name")));
                }
            }
            if let Some(name) = class {
                spec.insert("priorityClassName".into(), Value::String(name));
            }
            spec.insert("priority".into(), Value::from(priority));
            spec.insert("preemptionPolicy".into(), Value::String(policy));
            Ok(())
        })
    }
}
