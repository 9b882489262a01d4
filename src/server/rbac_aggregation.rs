//! ClusterRole aggregation, as kube-controller-manager's clusterrole-aggregation controller
//! does it, in-process on one shard and through the Store: a ClusterRole with an
//! `aggregationRule` gets as its rules the union, in name order, of the rules of every
//! ClusterRole its selectors match (so `admin`, `edit` and `view` carry the
//! `aggregate-to-*` roles' rules, and a CRD's role labelled for them joins them).

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::api::meta::Meta;
use crate::api::object::decode_stored;
use crate::api::status::Status;
use crate::registry::store::{ListOptions, RequestFacts, Store};
use crate::request::selector::{label_selector_string, LabelSelector};

/// How often the controller looks.
const SCAN_INTERVAL: Duration = Duration::from_millis(500);

/// Runs the controller until `stop` completes.
pub async fn run(
    store: Rc<Store>,
    leadership: Rc<crate::server::leader::Leadership>,
    stop: impl std::future::Future<Output = ()>,
) {
    let work = async {
        // A pass runs when the replica's ClusterRoles changed (always without a replica).
        let mut seen = None;
        loop {
            if !leadership.leading() {
                seen = None; // another server runs it; look afresh when leading
                shards::sleep(SCAN_INTERVAL).await;
                continue;
            }
            let now = store.replica_changes("clusterroles");
            if now.is_none() || now != seen {
                match once(&store).await {
                    Ok(()) => seen = now,
                    Err(e) => log::debug!("clusterrole aggregation: {}", e.message),
                }
            }
            shards::sleep(SCAN_INTERVAL).await;
        }
    };
    futures_lite::future::or(work, stop).await;
}

/// The rules an aggregated role should have, from `roles` (every ClusterRole, by name).
pub fn aggregated_rules(
    role: &Map<String, Value>,
    roles: &[Map<String, Value>],
) -> Option<Vec<Value>> {
    let selectors = role
        .get("aggregationRule")?
        .get("clusterRoleSelectors")?
        .as_array()?;
    let own = Meta::of(role).name().unwrap_or_default();
    let parsed: Vec<LabelSelector> = selectors
        .iter()
        .filter_map(|s| LabelSelector::parse(&label_selector_string(s)).ok())
        .collect();
    let mut matching: Vec<&Map<String, Value>> = roles
        .iter()
        .filter(|r| Meta::of(r).name() != Some(own))
        .filter(|r| {
            let labels = Meta::of(r).labels();
            parsed.iter().any(|s| !s.is_empty() && s.matches(labels))
        })
        .collect();
    matching.sort_by_key(|r| Meta::of(r).name().unwrap_or_default().to_string());
    let mut rules: Vec<Value> = Vec::new();
    for r in matching {
        for rule in r
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !rules.contains(rule) {
                rules.push(rule.clone());
            }
        }
    }
    Some(rules)
}

async fn once(store: &Store) -> Result<(), Status> {
    let Some(res) = store
        .table()
        .get("rbac.authorization.k8s.io", "v1", "clusterroles")
    else {
        return Ok(());
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed = store
        .list(
            &res,
            &RequestFacts::controller(None, "", deadline),
            &ListOptions::default(),
        )
        .await?;
    let roles: Vec<Map<String, Value>> = listed
        .items
        .iter()
        .filter_map(|i| decode_stored(&i.key, &i.json).ok())
        .collect();
    for role in &roles {
        let Some(want) = aggregated_rules(role, &roles) else {
            continue;
        };
        let have = role
            .get("rules")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if have == want {
            continue;
        }
        let name = Meta::of(role).name().unwrap_or_default();
        let facts = RequestFacts::controller(None, name, deadline);
        let result = store
            .guaranteed_update(&res, &facts, &mut |current| {
                let mut next = current.clone();
                next.insert("rules".into(), Value::Array(want.clone()));
                Ok(next)
            })
            .await;
        match result {
            Ok(_) => log::debug!("clusterrole {name}: aggregated {} rules", want.len()),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn o(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn aggregates_matching_roles_in_name_order() {
        let view = o(
            json!({"metadata": {"name": "view"}, "aggregationRule": {"clusterRoleSelectors": [
            {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]}}),
        );
        let roles = vec![
            view.clone(),
            o(
                json!({"metadata": {"name": "b", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                "rules": [{"verbs": ["get"], "resources": ["b"]}]}),
            ),
            o(
                json!({"metadata": {"name": "a", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                "rules": [{"verbs": ["get"], "resources": ["a"]}, {"verbs": ["get"], "resources": ["b"]}]}),
            ),
            o(json!({"metadata": {"name": "other"}, "rules": [{"verbs": ["*"]}]})),
        ];
        let rules = aggregated_rules(&view, &roles).unwrap();
        assert_eq!(
            rules,
            vec![
                json!({"verbs": ["get"], "resources": ["a"]}),
                json!({"verbs": ["get"], "resources": ["b"]})
            ]
        );
        assert!(aggregated_rules(&roles[3], &roles).is_none());
    }
}
