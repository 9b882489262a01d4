//! The disruption controller, as kube-controller-manager's: every PodDisruptionBudget's
//! `status` (expected, desired and current healthy Pods, `disruptionsAllowed`, the
//! `DisruptionAllowed` condition, `observedGeneration`) kept from the Pods it covers, and
//! `disruptedPods` entries the eviction subresource records dropped once their Pod is gone
//! or two minutes have passed. In-process on one shard, on the leader only, through the Store.

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::api::status::Status;
use crate::registry::kinds::disruption::{
    covers, pod_ready, set_condition, set_disruption_allowed,
};
use crate::registry::kinds::ObjectReads;
use crate::registry::store::{RequestFacts, Store};
use crate::registry::strategy::{age_of, now_rfc3339};

/// How often the controller looks for changed Pods and budgets.
const SCAN_INTERVAL: Duration = Duration::from_millis(500);
/// A pass runs at least this often, so recorded evictions expire.
const RESYNC: Duration = Duration::from_secs(15);
/// How long an eviction the controller has not seen happen counts as a disruption
/// (upstream's `DeletionTimeout`).
const DISRUPTED_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the controller until `stop` completes.
pub async fn run(
    store: Rc<Store>,
    leadership: Rc<crate::server::leader::Leadership>,
    stop: impl std::future::Future<Output = ()>,
) {
    let work = async {
        let mut seen = None;
        let mut last = Instant::now();
        loop {
            if !leadership.leading() {
                seen = None;
                shards::sleep(SCAN_INTERVAL).await;
                continue;
            }
            let now = (
                store.replica_changes("pods"),
                store.replica_changes("poddisruptionbudgets"),
            );
            let stale = last.elapsed() >= RESYNC;
            if now.0.is_none() || now.1.is_none() || Some(now) != seen || stale {
                match once(&store).await {
                    Ok(()) => {
                        seen = Some(now);
                        last = Instant::now();
                    }
                    Err(e) => log::debug!("disruption controller: {}", e.message),
                }
            }
            shards::sleep(SCAN_INTERVAL).await;
        }
    };
    futures_lite::future::or(work, stop).await;
}

async fn once(store: &Store) -> Result<(), Status> {
    let table = store.table();
    let (Some(budgets), Some(pods)) = (
        table.get("policy", "v1", "poddisruptionbudgets"),
        table.get("", "v1", "pods"),
    ) else {
        return Ok(());
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let all_budgets = store.list_all(&budgets.api, deadline).await?;
    if all_budgets.is_empty() {
        return Ok(());
    }
    let all_pods = store.list_all(&pods.api, deadline).await?;
    let mut scales = Scales::default();
    for pdb in &all_budgets {
        let covered: Vec<&Value> = all_pods.iter().filter(|p| covers(pdb, p)).collect();
        let expected = expected_pods(store, &mut scales, pdb, &covered, deadline).await;
        let current = pdb.get("status").cloned().unwrap_or(Value::Null);
        let want = status_for(pdb, &covered, expected.clone(), &now_rfc3339());
        if same_status(&current, &want) {
            continue;
        }
        let ns = pdb.pointer("/metadata/namespace").and_then(Value::as_str);
        let name = pdb
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut facts = RequestFacts::controller(ns, name, deadline);
        facts.subresource = Some(crate::api::resources::Subresource::Status);
        let result = store
            .guaranteed_update(&budgets, &facts, &mut |stored| {
                let mut stored = stored.clone();
                let fresh = status_for(
                    &Value::Object(stored.clone()),
                    &covered,
                    expected.clone(),
                    &now_rfc3339(),
                );
                stored.insert("status".into(), fresh);
                Ok(stored)
            })
            .await;
        if let Err(e) = result {
            log::debug!("disruption controller: {ns:?}/{name}: {}", e.message);
        }
    }
    Ok(())
}

/// Whether two statuses differ only in condition transition times.
fn same_status(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(cs) = v.get_mut("conditions").and_then(Value::as_array_mut) {
            for c in cs {
                if let Some(c) = c.as_object_mut() {
                    c.remove("lastTransitionTime");
                }
            }
        }
        v
    };
    strip(a) == strip(b)
}

/// The Pods a budget expects: its covered Pods for an integer `minAvailable`, else the sum
/// of the scales of their controllers (an Err names a Pod without one, as upstream fails).
async fn expected_pods(
    store: &Store,
    scales: &mut Scales,
    pdb: &Value,
    covered: &[&Value],
    deadline: Instant,
) -> Result<i64, String> {
    if pdb.pointer("/spec/minAvailable").is_some_and(Value::is_i64) {
        return Ok(covered.len() as i64);
    }
    let mut counted: Vec<(String, String)> = Vec::new();
    let mut total = 0;
    for pod in covered {
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let ns = pod
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(owner) = controller_of(pod) else {
            return Err(format!("found no controllers for pod {name:?}"));
        };
        let Some((key, replicas)) = scales.of(store, ns, &owner, deadline).await else {
            return Err(format!("found no controllers for pod {name:?}"));
        };
        if !counted.contains(&key) {
            counted.push(key);
            total += replicas;
        }
    }
    Ok(total)
}

/// A Pod's controller owner reference: (kind, name).
fn controller_of(obj: &Value) -> Option<(String, String)> {
    obj.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|r| {
            let s = |k: &str| {
                r.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            (s("kind"), s("name"))
        })
}

/// A controller (kind, name) and its `spec.replicas`.
type Scale = ((String, String), i64);

/// Controllers' replica counts read once per pass, by (namespace, kind, name).
#[derive(Default)]
struct Scales {
    known: Vec<((String, String, String), Option<Scale>)>,
}

impl Scales {
    /// The controller that finally owns the Pods (a Deployment above its ReplicaSet) and its
    /// `spec.replicas`.
    async fn of(
        &mut self,
        store: &Store,
        ns: &str,
        owner: &(String, String),
        deadline: Instant,
    ) -> Option<Scale> {
        let key = (ns.to_string(), owner.0.clone(), owner.1.clone());
        if let Some((_, v)) = self.known.iter().find(|(k, _)| *k == key) {
            return v.clone();
        }
        let found = Self::read(store, ns, owner, deadline).await;
        self.known.push((key, found.clone()));
        found
    }

    async fn read(
        store: &Store,
        ns: &str,
        owner: &(String, String),
        deadline: Instant,
    ) -> Option<Scale> {
        let row = |group: &str, plural: &str| store.table().get(group, "v1", plural);
        let (kind, name) = (owner.0.as_str(), owner.1.as_str());
        let res = match kind {
            "ReplicaSet" => row("apps", "replicasets")?,
            "StatefulSet" => row("apps", "statefulsets")?,
            "ReplicationController" => row("", "replicationcontrollers")?,
            _ => return None,
        };
        let obj = ObjectReads::get(store, &res.api, Some(ns), name, deadline)
            .await
            .ok()??;
        let obj = Value::Object(obj);
        if kind == "ReplicaSet" {
            if let Some((k, n)) = controller_of(&obj).filter(|(k, _)| k == "Deployment") {
                let dep = row("apps", "deployments")?;
                let d = ObjectReads::get(store, &dep.api, Some(ns), &n, deadline)
                    .await
                    .ok()??;
                let replicas = d
                    .get("spec")?
                    .get("replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                return Some(((k, n), replicas));
            }
        }
        let replicas = obj
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        Some(((kind.to_string(), name.to_string()), replicas))
    }
}

/// `value` of an int-or-percent field scaled to `total`, rounded up.
fn scaled(value: &Value, total: i64) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let pct: i64 = s.strip_suffix('%')?.parse().ok()?;
            Some((pct * total + 99) / 100)
        }
        _ => None,
    }
}

/// The status the controller computes for `pdb` over the Pods it covers.
fn status_for(pdb: &Value, covered: &[&Value], expected: Result<i64, String>, now: &str) -> Value {
    let generation = pdb
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let old = pdb
        .get("status")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut status = Map::new();
    status.insert("observedGeneration".into(), Value::from(generation));
    // Recorded evictions stay while their Pod is still there, undeleted, and within the timeout.
    let mut disrupted = Map::new();
    for (pod_name, at) in old
        .get("disruptedPods")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let live = covered.iter().any(|p| {
            p.pointer("/metadata/name").and_then(Value::as_str) == Some(pod_name)
                && p.pointer("/metadata/deletionTimestamp")
                    .is_none_or(Value::is_null)
        });
        let fresh = at
            .as_str()
            .and_then(age_of)
            .is_some_and(|age| age < DISRUPTED_TIMEOUT);
        if live && fresh {
            disrupted.insert(pod_name.clone(), at.clone());
        }
    }
    let healthy = covered
        .iter()
        .filter(|p| {
            p.pointer("/metadata/deletionTimestamp")
                .is_none_or(Value::is_null)
        })
        .filter(|p| {
            let n = p
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            !disrupted.contains_key(n)
        })
        .filter(|p| pod_ready(p))
        .count() as i64;
    if let Some(old_conditions) = old.get("conditions") {
        status.insert("conditions".into(), old_conditions.clone());
    }
    match expected {
        Ok(expected) => {
            let desired = if let Some(min) = pdb.pointer("/spec/minAvailable") {
                scaled(min, expected).unwrap_or(0)
            } else if let Some(max) = pdb.pointer("/spec/maxUnavailable") {
                (expected - scaled(max, expected).unwrap_or(0)).max(0)
            } else {
                0
            };
            status.insert(
                "disruptionsAllowed".into(),
                Value::from((healthy - desired).max(0)),
            );
            status.insert("currentHealthy".into(), Value::from(healthy));
            status.insert("desiredHealthy".into(), Value::from(desired));
            status.insert("expectedPods".into(), Value::from(expected));
            if !disrupted.is_empty() {
                status.insert("disruptedPods".into(), Value::Object(disrupted));
            }
            set_disruption_allowed(&mut status, now);
        }
        Err(why) => {
            // upstream's failSafe: nothing may be disrupted while the budget cannot be computed.
            for (k, v) in [
                ("disruptionsAllowed", 0),
                ("currentHealthy", healthy),
                ("desiredHealthy", 0),
                ("expectedPods", 0),
            ] {
                status.insert(k.into(), Value::from(v));
            }
            set_condition(
                &mut status,
                crate::registry::kinds::disruption::DISRUPTION_ALLOWED,
                "False",
                "SyncFailed",
                &why,
                Value::from(generation),
                now,
            );
        }
    }
    Value::Object(status)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ready: bool) -> Value {
        json!({"metadata": {"name": name, "namespace": "a", "labels": {"app": "web"}},
            "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
    }

    #[test]
    fn min_available_counts_ready_pods_and_recorded_evictions_are_not_healthy() {
        let pdb = json!({"metadata": {"name": "b", "namespace": "a", "generation": 3},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"disruptedPods": {"p1": now_rfc3339(), "gone": now_rfc3339()}}});
        let pods = [
            pod("p1", true),
            pod("p2", true),
            pod("p3", true),
            pod("p4", false),
        ];
        let covered: Vec<&Value> = pods.iter().collect();
        let st = status_for(&pdb, &covered, Ok(4), "t");
        assert_eq!(st["currentHealthy"], 2);
        assert_eq!(st["desiredHealthy"], 2);
        assert_eq!(st["disruptionsAllowed"], 0);
        assert_eq!(st["expectedPods"], 4);
        assert_eq!(st["observedGeneration"], 3);
        assert_eq!(
            st["disruptedPods"],
            json!({"p1": pdb["status"]["disruptedPods"]["p1"]})
        );
        assert_eq!(st["conditions"][0]["reason"], "InsufficientPods");
    }

    #[test]
    fn percentages_round_up_and_a_failed_count_allows_nothing() {
        assert_eq!(scaled(&json!("50%"), 3), Some(2));
        assert_eq!(scaled(&json!("10%"), 10), Some(1));
        let pdb = json!({"metadata": {"name": "b", "namespace": "a", "generation": 1},
            "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "web"}}}});
        let pods = [
            pod("p1", true),
            pod("p2", true),
            pod("p3", true),
            pod("p4", true),
        ];
        let covered: Vec<&Value> = pods.iter().collect();
        let st = status_for(&pdb, &covered, Ok(4), "t");
        assert_eq!(
            (
                st["desiredHealthy"].as_i64(),
                st["disruptionsAllowed"].as_i64()
            ),
            (Some(2), Some(2))
        );
        let st = status_for(
            &pdb,
            &covered,
            Err("found no controllers for pod \"p1\"".into()),
            "t",
        );
        assert_eq!(st["disruptionsAllowed"], 0);
        assert_eq!(st["conditions"][0]["reason"], "SyncFailed");
        assert_eq!(st["conditions"][0]["status"], "False");
    }
}
