//! `LimitRanger`: the LimitRange objects of a namespace at work, as upstream's plugin of that
//! name. A new Pod's containers and init containers get the `Container` limits' `default`
//! limits and `defaultRequest` requests for what they do not set (noted in the
//! `kubernetes.io/limit-ranger` annotation); then each container (`Container` type), the Pod
//! as a whole (`Pod` type: its containers summed, init containers as the most any one
//! needs) and a PersistentVolumeClaim's storage request (`PersistentVolumeClaim` type) must
//! keep the `min`, `max` and `maxLimitRequestRatio`, refused with upstream's messages.
//! Pod updates are not checked (their containers' resources are immutable); claim updates
//! are, except for a request that did not change.

use serde_json::{json, Map, Value};

use crate::admission::replica::Replica;
use crate::api::resources::lookup;
use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::quantity::Quantity;
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// The annotation naming what the plugin defaulted.
const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// The plugin.
#[derive(Debug)]
pub struct LimitRanger {
    replica: Replica,
}

/// What a request is to the plugin.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Subject {
    Pod,
    Claim,
}

fn subject(attrs: &Attributes<'_>) -> Option<Subject> {
    let r = attrs.resource;
    if !r.group.is_empty() || attrs.request.subresource.is_some() {
        return None;
    }
    match (r.plural, attrs.operation) {
        ("pods", Operation::Create) => Some(Subject::Pod),
        ("persistentvolumeclaims", Operation::Create | Operation::Update) => Some(Subject::Claim),
        _ => None,
    }
}

/// A resource list (`requests`, `limits`, `min`, ...) as name → quantity text.
type List = Map<String, Value>;

fn list<'a>(v: &'a Value, key: &str) -> &'a List {
    static EMPTY: std::sync::OnceLock<List> = std::sync::OnceLock::new();
    v.get(key)
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

fn quantity(l: &List, name: &str) -> Option<(Quantity, String)> {
    let text = l.get(name)?.as_str()?.to_string();
    Quantity::parse(&text).map(|q| (q, text))
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

fn min_constraint(
    kind: &str,
    name: &str,
    enforced: &Value,
    req: &List,
    lim: &List,
) -> Option<String> {
    let e = Quantity::parse(&text(enforced))?;
    let shown = text(enforced);
    let Some((r, rs)) = quantity(req, name) else {
        return Some(format!(
            "minimum {name} usage per {kind} is {shown}.  No request is specified"
        ));
    };
    if e > r {
        return Some(format!(
            "minimum {name} usage per {kind} is {shown}, but request is {rs}"
        ));
    }
    match quantity(lim, name) {
        Some((l, ls)) if e > l => Some(format!(
            "minimum {name} usage per {kind} is {shown}, but limit is {ls}"
        )),
        _ => None,
    }
}

fn max_constraint(
    kind: &str,
    name: &str,
    enforced: &Value,
    req: &List,
    lim: &List,
) -> Option<String> {
    let e = Quantity::parse(&text(enforced))?;
    let shown = text(enforced);
    let Some((l, ls)) = quantity(lim, name) else {
        return Some(format!(
            "maximum {name} usage per {kind} is {shown}.  No limit is specified"
        ));
    };
    if l > e {
        return Some(format!(
            "maximum {name} usage per {kind} is {shown}, but limit is {ls}"
        ));
    }
    match quantity(req, name) {
        Some((r, rs)) if r > e => Some(format!(
            "maximum {name} usage per {kind} is {shown}, but request is {rs}"
        )),
        _ => None,
    }
}

fn max_request_constraint(kind: &str, name: &str, enforced: &Value, req: &List) -> Option<String> {
    let e = Quantity::parse(&text(enforced))?;
    let shown = text(enforced);
    match quantity(req, name) {
        None => Some(format!(
            "maximum {name} usage per {kind} is {shown}.  No request is specified"
        )),
        Some((r, rs)) if r > e => Some(format!(
            "maximum {name} usage per {kind} is {shown}, but request is {rs}"
        )),
        Some(_) => None,
    }
}

fn ratio_constraint(
    kind: &str,
    name: &str,
    enforced: &Value,
    req: &List,
    lim: &List,
) -> Option<String> {
    let e = Quantity::parse(&text(enforced))?;
    let shown = text(enforced);
    let r = quantity(req, name).map(|q| q.0).filter(|q| q.0 != 0);
    let Some(r) = r else {
        return Some(format!("{name} max limit to request ratio per {kind} is {shown}, but no request is specified or request is 0"));
    };
    let l = quantity(lim, name).map(|q| q.0).filter(|q| q.0 != 0);
    let Some(l) = l else {
        return Some(format!("{name} max limit to request ratio per {kind} is {shown}, but no limit is specified or limit is 0"));
    };
    // limit > request × ratio, exactly where it fits (quantities are in billionths).
    const NANO: i128 = 1_000_000_000;
    let (l, r, e) = (l.0.abs(), r.0.abs(), e.0);
    let exceeds = match (l.checked_mul(NANO), r.checked_mul(e)) {
        (Some(a), Some(b)) => a > b,
        _ => (l as f64) > (r as f64) * (e as f64) / NANO as f64,
    };
    exceeds.then(|| {
        format!(
            "{name} max limit to request ratio per {kind} is {shown}, but provided ratio is {:.6}",
            l as f64 / r as f64
        )
    })
}

/// Checks one resource list pair against one LimitRange item's `min`, `max` and ratio.
fn check_item(item: &Value, kind: &str, req: &List, lim: &List, errs: &mut Vec<String>) {
    for (name, v) in list(item, "min") {
        errs.extend(min_constraint(kind, name, v, req, lim));
    }
    for (name, v) in list(item, "max") {
        errs.extend(max_constraint(kind, name, v, req, lim));
    }
    for (name, v) in list(item, "maxLimitRequestRatio") {
        errs.extend(ratio_constraint(kind, name, v, req, lim));
    }
}

fn containers<'a>(spec: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    spec.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn add_to(
    sum: &mut std::collections::BTreeMap<String, Quantity>,
    l: &List,
    binary: &mut std::collections::BTreeSet<String>,
) {
    for (k, v) in l {
        let t = text(v);
        if let Some(q) = Quantity::parse(&t) {
            if t.ends_with('i') {
                binary.insert(k.clone());
            }
            let e = sum.entry(k.clone()).or_insert(Quantity(0));
            *e = e.checked_add(q).unwrap_or(*e);
        }
    }
}

/// A Pod's requests or limits (`key`): its containers summed (with sidecars), then at
/// least what any one init container needs (upstream's `podRequests` / `podLimits`).
fn pod_total(spec: &Value, key: &str) -> List {
    use std::collections::{BTreeMap, BTreeSet};
    let mut binary = BTreeSet::new();
    let mut total: BTreeMap<String, Quantity> = BTreeMap::new();
    for c in containers(spec, "containers") {
        add_to(&mut total, list(list_value(c), key), &mut binary);
    }
    let mut sidecars: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut init_max: BTreeMap<String, Quantity> = BTreeMap::new();
    for c in containers(spec, "initContainers") {
        let own = list(list_value(c), key);
        let needs = if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
            add_to(&mut total, own, &mut binary);
            add_to(&mut sidecars, own, &mut binary);
            sidecars.clone()
        } else {
            let mut t = sidecars.clone();
            add_to(&mut t, own, &mut binary);
            t
        };
        for (k, q) in needs {
            let e = init_max.entry(k).or_insert(q);
            *e = (*e).max(q);
        }
    }
    for (k, q) in init_max {
        let e = total.entry(k).or_insert(q);
        *e = (*e).max(q);
    }
    total
        .into_iter()
        .map(|(k, q)| {
            let b = binary.contains(&k);
            (k, Value::String(canonical(q, b)))
        })
        .collect()
}

/// A container's `resources`.
fn list_value(c: &Value) -> &Value {
    c.get("resources").unwrap_or(&Value::Null)
}

/// A summed quantity as upstream writes it: with the largest binary suffix that divides
/// it when its parts were binary (`1200Mi`), else the largest decimal one (`2k`, `500m`).
fn canonical(q: Quantity, binary: bool) -> String {
    const NANO: i128 = 1_000_000_000;
    let n = q.0;
    if binary && n % NANO == 0 {
        let units = n / NANO;
        for (shift, suffix) in [
            (60, "Ei"),
            (50, "Pi"),
            (40, "Ti"),
            (30, "Gi"),
            (20, "Mi"),
            (10, "Ki"),
        ] {
            if units != 0 && units % (1i128 << shift) == 0 {
                return format!("{}{suffix}", units / (1i128 << shift));
            }
        }
        return units.to_string();
    }
    for (exp, suffix) in [
        (27, "E"),
        (24, "P"),
        (21, "T"),
        (18, "G"),
        (15, "M"),
        (12, "k"),
        (9, ""),
        (6, "m"),
        (3, "u"),
        (0, "n"),
    ] {
        let unit = 10i128.pow(exp);
        if n != 0 && n % unit == 0 {
            return format!("{}{suffix}", n / unit);
        }
    }
    "0".into()
}

/// Defaults every container from the range's `Container` items; the annotation's text.
fn default_containers(range: &Value, pod: &mut Object) {
    let (mut requests, mut limits) = (Map::new(), Map::new());
    for item in range
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("type").and_then(Value::as_str) == Some("Container"))
    {
        requests.extend(list(item, "defaultRequest").clone());
        limits.extend(list(item, "default").clone());
    }
    if requests.is_empty() && limits.is_empty() {
        return;
    }
    let mut notes = Vec::new();
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        for (key, what) in [
            ("containers", "container"),
            ("initContainers", "init container"),
        ] {
            let Some(Value::Array(cs)) = spec.get_mut(key) else {
                continue;
            };
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                let name = c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let res = c.entry("resources").or_insert_with(|| json!({}));
                let Some(res) = res.as_object_mut() else {
                    continue;
                };
                let mut set = |field: &str, defaults: &Map<String, Value>| {
                    let l = res.entry(field).or_insert_with(|| json!({}));
                    let mut added: Vec<String> = Vec::new();
                    if let Some(l) = l.as_object_mut() {
                        for (k, v) in defaults {
                            if !l.contains_key(k) {
                                l.insert(k.clone(), v.clone());
                                added.push(k.clone());
                            }
                        }
                    }
                    added.sort();
                    added
                };
                let set_limits = set("limits", &limits);
                let set_requests = set("requests", &requests);
                if !set_requests.is_empty() {
                    notes.push(format!(
                        "{} request for {what} {name}",
                        set_requests.join(", ")
                    ));
                }
                if !set_limits.is_empty() {
                    notes.push(format!("{} limit for {what} {name}", set_limits.join(", ")));
                }
            }
        }
    }
    if notes.is_empty() {
        return;
    }
    if let Some(meta) = pod.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(
                ANNOTATION.into(),
                Value::String(format!("LimitRanger plugin set: {}", notes.join("; "))),
            );
        }
    }
}

/// What one range refuses about a Pod.
fn pod_errors(range: &Value, pod: &Object) -> Vec<String> {
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let mut errs = Vec::new();
    for item in range
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match item.get("type").and_then(Value::as_str) {
            Some("Container") => {
                for key in ["containers", "initContainers"] {
                    for c in containers(spec, key) {
                        let r = list_value(c);
                        check_item(
                            item,
                            "Container",
                            list(r, "requests"),
                            list(r, "limits"),
                            &mut errs,
                        );
                    }
                }
            }
            Some("Pod") => {
                let (req, lim) = (pod_total(spec, "requests"), pod_total(spec, "limits"));
                check_item(item, "Pod", &req, &lim, &mut errs);
            }
            _ => {}
        }
    }
    errs
}

/// What one range refuses about a claim (a request the update did not change is not
/// checked again).
fn claim_errors(range: &Value, claim: &Object, old: Option<&Object>) -> Vec<String> {
    let requests = |o: &Object| {
        o.get("spec")
            .and_then(|s| s.pointer("/resources/requests"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (req, old_req) = (requests(claim), old.map(requests).unwrap_or_default());
    let unchanged = |k: &str| {
        let q = |l: &List| l.get(k).and_then(Value::as_str).and_then(Quantity::parse);
        q(&req).is_some() && q(&req) == q(&old_req)
    };
    let mut errs = Vec::new();
    for item in range
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if item.get("type").and_then(Value::as_str) != Some("PersistentVolumeClaim") {
            continue;
        }
        for (k, v) in list(item, "min") {
            if !unchanged(k) {
                errs.extend(min_constraint(
                    "PersistentVolumeClaim",
                    k,
                    v,
                    &req,
                    &Map::new(),
                ));
            }
        }
        for (k, v) in list(item, "max") {
            if !unchanged(k) {
                errs.extend(max_request_constraint("PersistentVolumeClaim", k, v, &req));
            }
        }
    }
    errs
}

impl LimitRanger {
    /// The plugin reading LimitRanges from `replica`.
    pub fn new(replica: Replica) -> Self {
        Self { replica }
    }

    async fn ranges(&self, attrs: &Attributes<'_>) -> Result<Vec<Value>, Status> {
        let (Some(ns), Some(res)) = (
            attrs.request.namespace.as_deref(),
            lookup("", "v1", "limitranges"),
        ) else {
            return Ok(Vec::new());
        };
        self.replica
            .objects(attrs.reads, res, Some(ns), attrs.request.deadline)
            .await
    }
}

/// upstream's `NewForbidden` with the aggregated errors of one range.
fn refused(attrs: &Attributes<'_>, name: &str, errs: &[String]) -> Status {
    let why = if errs.len() == 1 {
        errs[0].clone()
    } else {
        format!("[{}]", errs.join(", "))
    };
    Status::forbidden(attrs.resource.group, attrs.resource.plural, name, &why)
}

impl AdmissionPlugin for LimitRanger {
    fn name(&self) -> &'static str {
        "LimitRanger"
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(pod) = obj else { return Ok(()) };
            if subject(&attrs) != Some(Subject::Pod) {
                return Ok(());
            }
            for range in self.ranges(&attrs).await? {
                default_containers(&range, pod);
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
            let (Some(o), Some(kind)) = (obj, subject(&attrs)) else {
                return Ok(());
            };
            if attrs.old.is_some_and(|old| {
                old.get("metadata")
                    .and_then(|m| m.get("deletionTimestamp"))
                    .is_some()
            }) {
                return Ok(());
            }
            let name = o
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or(attrs.name);
            for range in self.ranges(&attrs).await? {
                let errs = match kind {
                    Subject::Pod => pod_errors(&range, o),
                    Subject::Claim => claim_errors(&range, o, attrs.old),
                };
                if !errs.is_empty() {
                    return Err(refused(&attrs, name, &errs));
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::registry::kinds::object;

    fn range(limits: Value) -> Value {
        json!({"spec": {"limits": limits}})
    }

    #[test]
    fn defaults_and_the_annotation() {
        let r = range(
            json!([{"type": "Container", "default": {"cpu": "500m", "memory": "128Mi"}, "defaultRequest": {"cpu": "100m"}}]),
        );
        let mut pod = object(json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "image": "i"},
            {"name": "b", "image": "i", "resources": {"limits": {"cpu": "1"}}}]}}));
        default_containers(&r, &mut pod);
        assert_eq!(
            pod["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m"}})
        );
        assert_eq!(
            pod["spec"]["containers"][1]["resources"]["limits"],
            json!({"cpu": "1", "memory": "128Mi"})
        );
        assert_eq!(
            pod["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: cpu request for container a; cpu, memory limit for container a; cpu request for container b; memory limit for container b"
        );
    }

    #[test]
    fn limits_refused_with_upstreams_messages() {
        let r = range(json!([
            {"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "100Mi"}, "maxLimitRequestRatio": {"cpu": "2"}},
            {"type": "Pod", "max": {"memory": "1Gi"}},
        ]));
        let pod = object(json!({"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "2", "memory": "800Mi"}, "requests": {"cpu": "500m", "memory": "50Mi"}}},
            {"name": "b", "resources": {"limits": {"cpu": "1", "memory": "400Mi"}, "requests": {"cpu": "500m", "memory": "200Mi"}}}]}}));
        assert_eq!(
            pod_errors(&r, &pod),
            [
                "minimum memory usage per Container is 100Mi, but request is 50Mi",
                "maximum cpu usage per Container is 1, but limit is 2",
                "cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000",
                "maximum memory usage per Pod is 1Gi, but limit is 1200Mi",
            ]
        );
        let bare = object(json!({"spec": {"containers": [{"name": "a"}]}}));
        assert!(pod_errors(&r, &bare)
            .contains(&"maximum cpu usage per Container is 1.  No limit is specified".to_string()));
        let claims = range(
            json!([{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}]),
        );
        let small = object(json!({"spec": {"resources": {"requests": {"storage": "500Mi"}}}}));
        assert_eq!(
            claim_errors(&claims, &small, None),
            ["minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]
        );
        assert!(
            claim_errors(&claims, &small, Some(&small)).is_empty(),
            "unchanged"
        );
        assert_eq!(
            canonical(
                Quantity::parse("500m")
                    .unwrap()
                    .checked_add(Quantity::parse("1500m").unwrap())
                    .unwrap(),
                false
            ),
            "2"
        );
        assert_eq!(canonical(Quantity::parse("250m").unwrap(), false), "250m");
    }
}
