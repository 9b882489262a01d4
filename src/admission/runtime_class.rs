//! `RuntimeClass`: a Pod naming a `runtimeClassName` runs with what that RuntimeClass says,
//! as upstream's plugin of that name: the class must exist; its `overhead.podFixed` becomes
//! the Pod's `overhead` (a Pod that sets a different one, or one without the class defining
//! any, is refused); its `scheduling.nodeSelector` is merged into the Pod's (a conflicting key
//! is refused) and its tolerations added.

use serde_json::{json, Value};

use crate::admission::replica::Replica;
use crate::api::resources::lookup;
use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// The plugin.
#[derive(Debug)]
pub struct RuntimeClass {
    replica: Replica,
}

impl RuntimeClass {
    /// The plugin reading RuntimeClasses from `replica`.
    pub fn new(replica: Replica) -> Self {
        Self { replica }
    }

    /// The Pod's RuntimeClass (None: it names none); a missing one is upstream's 403.
    async fn class(&self, attrs: &Attributes<'_>, pod: &Object) -> Result<Option<Value>, Status> {
        let Some(name) = pod
            .get("spec")
            .and_then(|s| s.get("runtimeClassName"))
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        let Some(res) = lookup("node.k8s.io", "v1", "runtimeclasses") else {
            return Ok(None);
        };
        match self
            .replica
            .object(attrs.reads, res, None, name, attrs.request.deadline)
            .await?
        {
            Some(c) => Ok(Some(c)),
            None => Err(refuse(
                attrs,
                &format!("pod rejected: RuntimeClass {name:?} not found"),
            )),
        }
    }
}

fn refuse(attrs: &Attributes<'_>, why: &str) -> Status {
    Status::forbidden("", "pods", attrs.name, why)
}

fn applies(attrs: &Attributes<'_>) -> bool {
    super::pod_itself(attrs, &[Operation::Create])
}

/// The overhead rules shared by both phases.
fn check_overhead(
    attrs: &Attributes<'_>,
    pod: &Object,
    class: Option<&Value>,
) -> Result<(), Status> {
    let pod_overhead = pod
        .get("spec")
        .and_then(|s| s.get("overhead"))
        .filter(|o| !o.is_null());
    let fixed = class
        .and_then(|c| c.pointer("/overhead/podFixed"))
        .filter(|o| !o.is_null());
    match (pod_overhead, fixed) {
        (Some(p), Some(f)) if p != f => Err(refuse(
            attrs,
            "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead",
        )),
        (Some(_), None) => Err(refuse(
            attrs,
            "pod rejected: Overhead set without corresponding RuntimeClass defined Overhead",
        )),
        _ => Ok(()),
    }
}

impl AdmissionPlugin for RuntimeClass {
    fn name(&self) -> &'static str {
        "RuntimeClass"
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(pod) = obj else { return Ok(()) };
            if !applies(&attrs) {
                return Ok(());
            }
            let Some(class) = self.class(&attrs, pod).await? else {
                return Ok(());
            };
            let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
                return Ok(());
            };
            if let Some(fixed) = class.pointer("/overhead/podFixed").filter(|f| !f.is_null()) {
                match spec.get("overhead").filter(|o| !o.is_null()) {
                    Some(o) if o != fixed => {
                        return Err(refuse(&attrs, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"))
                    }
                    _ => {
                        spec.insert("overhead".into(), fixed.clone());
                    }
                }
            }
            let Some(scheduling) = class.get("scheduling").filter(|s| s.is_object()) else {
                return Ok(());
            };
            if let Some(sel) = scheduling
                .get("nodeSelector")
                .and_then(Value::as_object)
                .filter(|s| !s.is_empty())
            {
                let pod_sel = spec.entry("nodeSelector").or_insert_with(|| json!({}));
                if let Some(p) = pod_sel.as_object_mut() {
                    for (k, v) in sel {
                        match p.get(k) {
                            Some(pv) if pv != v => {
                                let show = |x: &Value| x.as_str().unwrap_or_default().to_string();
                                return Err(refuse(&attrs, &format!(
                                    "conflict: runtimeClass.scheduling.nodeSelector[{k}] = {}; pod.spec.nodeSelector[{k}] = {}",
                                    show(v),
                                    show(pv)
                                )));
                            }
                            _ => {
                                p.insert(k.clone(), v.clone());
                            }
                        }
                    }
                }
            }
            if let Some(extra) = scheduling.get("tolerations").and_then(Value::as_array) {
                let tolerations = spec.entry("tolerations").or_insert_with(|| json!([]));
                if let Some(t) = tolerations.as_array_mut() {
                    for e in extra {
                        if !t.contains(e) {
                            t.push(e.clone());
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
            if !applies(&attrs) {
                return Ok(());
            }
            let class = self.class(&attrs, pod).await?;
            check_overhead(&attrs, pod, class.as_ref())
        })
    }
}
