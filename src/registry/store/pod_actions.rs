//! The Pod writes that are not updates of a Pod body: `pods/binding` (and the core
//! `bindings` resource), what a scheduler calls to put a Pod on a Node; and `pods/eviction`,
//! a delete that asks the Pod's PodDisruptionBudget first, as upstream's `BindingREST` and
//! `EvictionREST`.

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::facts::RequestFacts;
use super::options::{DeleteOptions, Preconditions};
use super::{Store, Stored};
use crate::api::resources::Subresource;
use crate::api::status::{Reason, Status, StatusCause};
use crate::registry::kinds::disruption::{self, budget_ignorable, covers, pod_ready};
use crate::registry::kinds::{Object, ObjectReads};
use crate::registry::resources::Resource;
use crate::registry::strategy::now_rfc3339;
use crate::request::Query;

/// How many Pods a budget may have evicted that its controller has not yet seen go
/// (upstream's `MaxDisruptedPodSize`).
const MAX_DISRUPTED_PODS: usize = 2000;

/// The body of a successful binding or eviction: upstream answers with a bare Success.
fn success() -> Stored {
    Stored {
        code: 201,
        body: Bytes::from_static(
            br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"}"#,
        ),
        revision: 0,
        warnings: Vec::new(),
    }
}

fn parse_body(body: &[u8], kind: &str, versions: &[&str]) -> Result<Object, Status> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Status::bad_request(format!("error decoding {kind}: {e}")))?;
    let Value::Object(obj) = v else {
        return Err(Status::bad_request(format!(
            "a {kind} must be a JSON object"
        )));
    };
    let got_kind = obj.get("kind").and_then(Value::as_str).unwrap_or(kind);
    let got_version = obj.get("apiVersion").and_then(Value::as_str);
    if got_kind != kind || got_version.is_some_and(|v| !versions.contains(&v)) {
        return Err(Status::bad_request(format!(
            "the body is a {} {got_kind}, not a {kind}",
            got_version.unwrap_or_default()
        )));
    }
    Ok(obj)
}

fn str_at<'a>(obj: &'a Object, pointer: &str) -> Option<&'a str> {
    let mut parts = pointer.trim_start_matches('/').split('/');
    let first = parts.next()?;
    parts.try_fold(obj.get(first)?, |v, p| v.get(p))?.as_str()
}

impl Store {
    /// `pods/binding` (`req.name` is the Pod) and `bindings` (the body names the Pod):
    /// sets `spec.nodeName` to the target Node, copies the binding's annotations and marks
    /// the Pod `PodScheduled`.
    pub async fn bind(
        &self,
        pods: &Resource,
        req: &RequestFacts,
        body: &[u8],
    ) -> Result<Stored, Status> {
        let binding = parse_body(body, "Binding", &["v1"])?;
        let body_name = str_at(&binding, "/metadata/name").unwrap_or_default();
        let name = if req.name.is_empty() {
            body_name.to_string()
        } else {
            req.name.clone()
        };
        if name != body_name {
            return Err(Status::bad_request(
                "name in URL does not match name in Binding object",
            ));
        }
        let target_kind = str_at(&binding, "/target/kind").unwrap_or_default();
        let node = str_at(&binding, "/target/name").unwrap_or_default();
        let mut errs = Vec::new();
        if !matches!(target_kind, "" | "Node") {
            errs.push(format!(
                "target.kind: Unsupported value: {target_kind:?}: supported values: \"Node\", \"<empty>\""
            ));
        }
        if node.is_empty() {
            errs.push("target.name: Required value".to_string());
        }
        if !errs.is_empty() {
            let joined = match errs.as_slice() {
                [one] => one.clone(),
                many => format!("[{}]", many.join(", ")),
            };
            return Err(Status::internal(joined));
        }
        let uid = str_at(&binding, "/metadata/uid").filter(|u| !u.is_empty());
        let rv = str_at(&binding, "/metadata/resourceVersion").filter(|r| !r.is_empty());
        let annotations = binding
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let facts = RequestFacts {
            name: name.clone(),
            subresource: Some(Subresource::Binding),
            ..req.clone()
        };
        let conflict = |why: String| Status::conflict("", "pods/binding", &name, &why);
        let now = now_rfc3339();
        self.guaranteed_update(pods, &facts, &mut |pod| {
            let mut pod = pod.clone();
            let meta = pod
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if meta.get("deletionTimestamp").is_some_and(|t| !t.is_null()) {
                return Err(conflict(format!(
                    "pod {name} is being deleted, cannot be assigned to a host"
                )));
            }
            let got_uid = meta.get("uid").and_then(Value::as_str).unwrap_or_default();
            if let Some(want) = uid.filter(|u| *u != got_uid) {
                return Err(conflict(format!(
                    "Precondition failed: UID in precondition: {want}, UID in object meta: {got_uid}"
                )));
            }
            let got_rv = meta
                .get("resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if let Some(want) = rv.filter(|r| *r != got_rv) {
                return Err(conflict(format!(
                    "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {got_rv}"
                )));
            }
            if let Some(on) = str_at(&pod, "/spec/nodeName").filter(|n| !n.is_empty()) {
                return Err(conflict(format!(
                    "pod {name} is already assigned to node {on:?}"
                )));
            }
            if pod
                .get("spec")
                .and_then(|s| s.get("schedulingGates"))
                .and_then(Value::as_array)
                .is_some_and(|g| !g.is_empty())
            {
                return Err(conflict(format!(
                    "pod {name} has non-empty .spec.schedulingGates"
                )));
            }
            set_in(&mut pod, "spec", "nodeName", Value::from(node));
            if !annotations.is_empty() {
                if let Some(m) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
                    let a = m
                        .entry("annotations")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Some(a) = a.as_object_mut() {
                        for (k, v) in &annotations {
                            a.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            let status = pod
                .entry("status")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(status) = status.as_object_mut() {
                set_pod_condition(status, "PodScheduled", None, None, &now);
            }
            Ok(pod)
        })
        .await?;
        Ok(success())
    }

    /// `pods/eviction`: deletes the Pod unless its PodDisruptionBudget allows no disruption
    /// now (429), recording the eviction in the budget's `status.disruptedPods` first.
    pub async fn evict(
        &self,
        pods: &Resource,
        budgets: &Resource,
        req: &RequestFacts,
        body: &[u8],
    ) -> Result<Stored, Status> {
        let eviction = parse_body(body, "Eviction", &["policy/v1", "policy/v1beta1"])?;
        if str_at(&eviction, "/metadata/name").unwrap_or_default() != req.name {
            return Err(Status::bad_request(
                "name in URL does not match name in Eviction object",
            ));
        }
        let delete_body = eviction
            .get("deleteOptions")
            .filter(|d| !d.is_null())
            .map(|d| serde_json::to_vec(d).unwrap_or_default())
            .unwrap_or_default();
        let mut opts = DeleteOptions::parse(&delete_body, &Query::parse(None))?;
        if req.dry_run {
            opts.dry_run = true;
        }
        let dry_run = opts.dry_run;
        let pinned = opts
            .preconditions
            .as_ref()
            .is_some_and(|p| p.resource_version.is_some());
        let pod = self.pod_now(pods, req).await?;
        if budget_ignorable(&pod) {
            let opts = with_rv(opts, &pod, pinned);
            self.delete_evicted(pods, req, &opts).await?;
            return Ok(success());
        }
        let all = self.list_all(&budgets.api, req.deadline).await?;
        let covering: Vec<&Value> = all.iter().filter(|b| covers(b, &pod)).collect();
        let budget = match covering.as_slice() {
            [] => {
                self.delete_evicted(pods, req, &opts).await?;
                return Ok(success());
            }
            [one] => *one,
            _ => {
                return Err(Status::internal(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ))
            }
        };
        let budget_name = str_at(budget.as_object().unwrap_or(&Map::new()), "/metadata/name")
            .unwrap_or_default()
            .to_string();
        let always_allow_unready = budget
            .pointer("/spec/unhealthyPodEvictionPolicy")
            .and_then(Value::as_str)
            == Some("AlwaysAllow");
        // An unready pod under AlwaysAllow is evicted without asking the budget.
        if !always_allow_unready || pod_ready(&pod) {
            self.check_and_decrement(budgets, req, &budget_name, &pod, dry_run)
                .await?;
        }
        let opts = with_rv(opts, &pod, pinned);
        self.delete_evicted(pods, req, &opts).await?;
        Ok(success())
    }

    async fn pod_now(&self, pods: &Resource, req: &RequestFacts) -> Result<Value, Status> {
        let found = ObjectReads::get(
            self,
            &pods.api,
            req.namespace.as_deref(),
            &req.name,
            req.deadline,
        )
        .await?;
        found
            .map(Value::Object)
            .ok_or_else(|| Status::not_found("", "pods", &req.name))
    }

    /// upstream's `checkAndDecrement`, in the budget's update loop: 429 when the budget
    /// allows nothing (or its controller has not seen its latest spec), else one fewer
    /// disruption allowed and the Pod recorded as disrupted.
    async fn check_and_decrement(
        &self,
        budgets: &Resource,
        req: &RequestFacts,
        name: &str,
        pod: &Value,
        dry_run: bool,
    ) -> Result<(), Status> {
        let pod_name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let facts = RequestFacts {
            name: name.to_string(),
            subresource: Some(Subresource::Status),
            dry_run,
            ..req.clone()
        };
        let now = now_rfc3339();
        self.guaranteed_update(budgets, &facts, &mut |pdb| {
            let generation = pdb
                .get("metadata")
                .and_then(|m| m.get("generation"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            let mut pdb = pdb.clone();
            let status = pdb
                .entry("status")
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(status) = status.as_object_mut() else {
                return Err(Status::internal("the budget's status is not an object"));
            };
            let int = |k: &str| status.get(k).and_then(Value::as_i64).unwrap_or(0);
            if int("observedGeneration") < generation {
                return Err(too_many(
                    10,
                    format!("The disruption budget {name} is still being processed by the server."),
                ));
            }
            let allowed = int("disruptionsAllowed");
            if allowed < 0 {
                return Err(forbidden_budget(name, "pdb disruptions allowed is negative"));
            }
            let disrupted = status
                .get("disruptedPods")
                .and_then(Value::as_object)
                .map_or(0, Map::len);
            if disrupted > MAX_DISRUPTED_PODS {
                return Err(forbidden_budget(
                    name,
                    "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
                ));
            }
            if allowed == 0 {
                return Err(too_many(
                    0,
                    format!(
                        "The disruption budget {name} needs {} healthy pods and has {} currently",
                        int("desiredHealthy"),
                        int("currentHealthy")
                    ),
                ));
            }
            status.insert("disruptionsAllowed".into(), Value::from(allowed - 1));
            if allowed - 1 == 0 {
                disruption::set_disruption_allowed(status, &now);
            }
            let map = status
                .entry("disruptedPods")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(map) = map.as_object_mut() {
                map.insert(pod_name.clone(), Value::from(now.as_str()));
            }
            Ok(pdb)
        })
        .await?;
        Ok(())
    }

    /// Marks the Pod with the `DisruptionTarget` condition (upstream's eviction does so
    /// before it deletes), then deletes it.
    async fn delete_evicted(
        &self,
        pods: &Resource,
        req: &RequestFacts,
        opts: &DeleteOptions,
    ) -> Result<(), Status> {
        if opts.dry_run || req.dry_run {
            return Ok(());
        }
        let facts = RequestFacts {
            subresource: Some(Subresource::Status),
            ..req.clone()
        };
        let now = now_rfc3339();
        let want = opts.preconditions.clone().unwrap_or_default();
        let name = req.name.clone();
        let marked = self
            .guaranteed_update(pods, &facts, &mut |pod| {
                let meta = pod.get("metadata");
                let got = |f: &str| {
                    meta.and_then(|m| m.get(f))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                for (field, wanted) in [("UID", &want.uid), ("ResourceVersion", &want.resource_version)] {
                    let key = if field == "UID" { "uid" } else { "resourceVersion" };
                    if let Some(w) = wanted.as_deref().filter(|w| !w.is_empty() && *w != got(key)) {
                        return Err(Status::conflict(
                            "",
                            "pods",
                            &name,
                            &format!(
                                "Precondition failed: {field} in precondition: {w}, {field} in object meta: {}",
                                got(key)
                            ),
                        ));
                    }
                }
                let mut pod = pod.clone();
                let status = pod
                    .entry("status")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(status) = status.as_object_mut() {
                    set_pod_condition(
                        status,
                        "DisruptionTarget",
                        Some("EvictionByEvictionAPI"),
                        Some("Eviction API: evicting"),
                        &now,
                    );
                }
                Ok(pod)
            })
            .await?;
        let facts = RequestFacts {
            subresource: None,
            ..req.clone()
        };
        let mut opts = opts.clone();
        // The condition moved the Pod's resourceVersion: the delete expects the new one.
        if let Some(p) = opts
            .preconditions
            .as_mut()
            .filter(|p| p.resource_version.is_some())
        {
            p.resource_version = Some(marked.revision.to_string());
        }
        self.delete(pods, &facts, &opts).await?;
        Ok(())
    }
}

/// The eviction's delete options with a resourceVersion precondition at the Pod as read,
/// unless the client gave its own: the Pod must not have changed (become Ready, say) since
/// the budget was asked.
fn with_rv(mut opts: DeleteOptions, pod: &Value, pinned: bool) -> DeleteOptions {
    if pinned {
        return opts;
    }
    let rv = pod
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    let uid = opts.preconditions.take().and_then(|p| p.uid);
    opts.preconditions = Some(Preconditions {
        uid,
        resource_version: rv,
    });
    opts
}

/// upstream's `NewTooManyRequests` with the budget as its cause.
fn too_many(retry_after: u32, cause: String) -> Status {
    let mut s = Status::new(
        Reason::TooManyRequests,
        "Cannot evict pod as it would violate the pod's disruption budget.",
    );
    s.details.retry_after_seconds = (retry_after > 0).then_some(retry_after);
    s.details.causes.push(StatusCause {
        reason: Some("DisruptionBudget".into()),
        message: cause,
        field: None,
    });
    s
}

fn forbidden_budget(name: &str, why: &str) -> Status {
    Status::forbidden("policy", "poddisruptionbudgets", name, why)
}

fn set_in(obj: &mut Object, parent: &str, field: &str, v: Value) {
    let slot = obj
        .entry(parent)
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(m) = slot.as_object_mut() {
        m.insert(field.into(), v);
    }
}

/// upstream's `UpdatePodCondition` for a True condition: replaces the condition of the same
/// type (its transition time kept when it was True already).
fn set_pod_condition(
    status: &mut Map<String, Value>,
    kind: &str,
    reason: Option<&str>,
    message: Option<&str>,
    now: &str,
) {
    let list = status
        .entry("conditions")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    let Some(list) = list.as_array_mut() else {
        return;
    };
    let old = list
        .iter()
        .position(|c| c.get("type").and_then(Value::as_str) == Some(kind));
    let since = old
        .and_then(|i| list.get(i))
        .filter(|c| c.get("status").and_then(Value::as_str) == Some("True"))
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| Value::from(now));
    let mut c =
        json!({"type": kind, "status": "True", "lastProbeTime": null, "lastTransitionTime": since});
    if let Some(m) = c.as_object_mut() {
        if let Some(r) = reason {
            m.insert("reason".into(), Value::from(r));
        }
        if let Some(msg) = message {
            m.insert("message".into(), Value::from(msg));
        }
    }
    match old {
        Some(i) => list[i] = c,
        None => list.push(c),
    }
}
