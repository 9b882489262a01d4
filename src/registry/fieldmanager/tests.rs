#![allow(clippy::unwrap_used, clippy::expect_used)]
use serde_json::{json, Map, Value};

use super::*;
use crate::openapi::kind_schema;

const NOW: &str = "2024-05-01T10:00:00Z";

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn fm(schema: Option<&KindSchema<'static>>, name: &str, reach: Reach) -> FieldManager {
    FieldManager::new(schema, "apps/v1", name, "", reach, NOW.into())
}

/// `new` as the strategy hands it over: with `old`'s managedFields carried over.
fn carried(old: &Map<String, Value>, mut new: Map<String, Value>) -> Map<String, Value> {
    if let Some(mf) = old["metadata"].get("managedFields") {
        new["metadata"]["managedFields"] = mf.clone();
    }
    new
}

fn entries(o: &Map<String, Value>) -> Value {
    o["metadata"]["managedFields"].clone()
}

#[test]
fn a_create_is_owned_by_its_manager_as_upstream_records_it() {
    let schema = kind_schema("apps", "v1", "Deployment");
    let mut d = obj(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "uid": "u", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}},
        "status": {"replicas": 0}}));
    fm(schema.as_ref(), "kubectl-create", Reach::AllButStatus).update(None, &mut d, None);
    assert_eq!(
        entries(&d),
        json!([{"manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1", "time": NOW,
            "fieldsType": "FieldsV1", "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:selector": {},
                    "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}}])
    );
}

#[test]
fn an_update_moves_ownership_and_removed_fields_are_no_ones() {
    let schema = kind_schema("", "v1", "ConfigMap");
    let cm = |data: Value| {
        obj(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}),
        )
    };
    let f = FieldManager::new(schema.as_ref(), "v1", "a", "", Reach::Whole, NOW.into());
    let mut first = cm(json!({"x": "1", "y": "1"}));
    f.update(None, &mut first, None);
    let g = FieldManager::new(
        schema.as_ref(),
        "v1",
        "b",
        "",
        Reach::Whole,
        "2024-05-01T11:00:00Z".into(),
    );
    let mut second = carried(&first, cm(json!({"x": "2"})));
    g.update(Some(&first), &mut second, None);
    let m = entries(&second);
    assert_eq!(m.as_array().unwrap().len(), 2, "{m}");
    assert_eq!(m[0]["manager"], "a");
    assert_eq!(m[0]["fieldsV1"], json!({"f:data": {}}));
    assert_eq!(m[1]["manager"], "b");
    assert_eq!(m[1]["fieldsV1"], json!({"f:data": {"f:x": {}}}));
    // A write that changes nothing keeps the entries as they were.
    let mut same = second.clone();
    g.update(Some(&second), &mut same, None);
    assert_eq!(entries(&same), m);
    // `[]` resets them: the write's own changes are all that is recorded.
    let mut reset = second.clone();
    reset.insert("data".into(), json!({"x": "3"}));
    f.update(Some(&second), &mut reset, Some(&json!([])));
    assert_eq!(
        entries(&reset),
        json!([{"manager": "a", "operation": "Update", "apiVersion": "v1", "time": NOW,
        "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}}])
    );
}

#[test]
fn apply_owns_its_configuration_conflicts_and_prunes() {
    let schema = kind_schema("", "v1", "ConfigMap");
    let apply = |name: &str, live: Option<&Map<String, Value>>, config: Value, force: bool| {
        let f = FieldManager::new(schema.as_ref(), "v1", name, "", Reach::Whole, NOW.into());
        f.apply(live, &config, force).map(|(merged, managed)| {
            let mut o = obj(merged);
            f.store(&mut o, managed);
            o
        })
    };
    let cfg = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});
    let one = apply("alice", None, cfg(json!({"a": "1", "b": "1"})), false).unwrap();
    assert_eq!(entries(&one)[0]["operation"], "Apply");
    assert_eq!(
        entries(&one)[0]["fieldsV1"],
        json!({"f:data": {"f:a": {}, "f:b": {}}})
    );
    // Bob applies a different value of a: a conflict naming the field and its manager.
    let Err(ApplyError::Conflicts(c)) = apply("bob", Some(&one), cfg(json!({"a": "2"})), false)
    else {
        panic!("a conflict");
    };
    let status = conflict_status(&c);
    assert_eq!(status.code, 409);
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"alice\": .data.a"
    );
    assert_eq!(status.details.causes[0].field.as_deref(), Some(".data.a"));
    // The same value is shared, not a conflict; forced, bob takes a.
    let shared = apply("bob", Some(&one), cfg(json!({"a": "1"})), false).unwrap();
    assert_eq!(entries(&shared).as_array().unwrap().len(), 2);
    let forced = apply("bob", Some(&one), cfg(json!({"a": "2"})), true).unwrap();
    assert_eq!(forced["data"], json!({"a": "2", "b": "1"}));
    let m = entries(&forced);
    assert_eq!(m[0]["manager"], "alice");
    assert_eq!(m[0]["fieldsV1"], json!({"f:data": {"f:b": {}}}));
    // Alice no longer applies b (nobody else owns it): it goes. Bob's a stays.
    let pruned = apply("alice", Some(&forced), cfg(json!({})), false).unwrap();
    assert_eq!(pruned["data"], json!({"a": "2"}));
    // Fields not in the schema are refused with upstream's words.
    let Err(ApplyError::Invalid(e)) = apply(
        "x",
        None,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "spec": {}}),
        false,
    ) else {
        panic!("invalid");
    };
    assert_eq!(e, ".spec: field not declared in schema");
}

#[test]
fn managers_from_flags_and_user_agents() {
    assert_eq!(manager_name(Some("helm"), Some("kubectl/v1.30")), "helm");
    assert_eq!(
        manager_name(None, Some("kubectl/v1.30.0 (linux/amd64) kubernetes/abc")),
        "kubectl"
    );
    assert_eq!(manager_name(Some(""), None), "");
    assert_eq!(manager_name(None, Some(&"x".repeat(300))).len(), 128);
}

#[test]
fn a_repeated_apply_keeps_its_time() {
    let schema = kind_schema("", "v1", "ConfigMap");
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"}, "data": {"a": "1"}});
    let first = FieldManager::new(schema.as_ref(), "v1", "m", "", Reach::Whole, NOW.into());
    let (merged, managed) = first.apply(None, &config, false).unwrap();
    let mut live = obj(merged);
    first.store(&mut live, managed);
    let later = FieldManager::new(
        schema.as_ref(),
        "v1",
        "m",
        "",
        Reach::Whole,
        "2024-05-01T12:00:00Z".into(),
    );
    let (merged, managed) = later.apply(Some(&live), &config, false).unwrap();
    let mut again = obj(merged);
    later.store(&mut again, managed);
    assert_eq!(again, live);
}

#[test]
fn the_create_fast_path_records_what_the_comparison_would() {
    let schema = kind_schema("apps", "v1", "Deployment");
    let ty = typed::Ty::root(schema.as_ref());
    let d = obj(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {}, "finalizers": ["a", "b"]},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "paused": false,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "template": {"metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
                "spec": {"containers": [{"name": "b", "image": "i", "env": [{"name": "Z"}, {"name": "A", "value": "1"}],
                    "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}], "resources": {}},
                    {"name": "a", "image": "j", "args": ["x"]}], "tolerations": []}}}}));
    let slow = typed::compare_objects(ty, &Map::new(), &d, true).added;
    assert_eq!(
        Value::Object(typed::created_fields_v1(ty, &d)),
        slow.to_fields_v1()
    );
}

#[test]
fn an_object_without_managers_is_owned_before_the_first_apply() {
    let schema = kind_schema("", "v1", "ConfigMap");
    let live = obj(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "1"}}),
    );
    let f = FieldManager::new(schema.as_ref(), "v1", "m", "", Reach::Whole, NOW.into());
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "2"}});
    let Err(ApplyError::Conflicts(c)) = f.apply(Some(&live), &config, false) else {
        panic!("a conflict with the stand-in manager");
    };
    assert_eq!(
        conflict_status(&c).message,
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using v1: .data.a"
    );
    let (merged, managed) = f.apply(Some(&live), &config, true).unwrap();
    let mut o = obj(merged);
    f.store(&mut o, managed);
    let m = entries(&o);
    assert_eq!(m[1]["manager"], "before-first-apply");
    assert_eq!(m[1]["fieldsV1"], json!({"f:data": {"f:b": {}}}));
    assert!(m[1].get("time").is_none());
}

#[test]
fn an_applied_list_with_a_key_twice_is_refused() {
    let schema = kind_schema("apps", "v1", "Deployment");
    let f = fm(schema.as_ref(), "helm", Reach::AllButStatus);
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i",
            "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}]}}}});
    let Err(ApplyError::Invalid(e)) = f.apply(None, &config, false) else {
        panic!("refused");
    };
    assert_eq!(
        e,
        ".spec.template.spec.containers[name=\"c\"].env: duplicate entries for key [name=\"A\"]"
    );
}

/// A defaulted `kubectl create deployment` object and the managedFields kube-apiserver
/// records for it (as `kubectl get -o yaml --show-managed-fields` shows them upstream).
#[test]
fn a_defaulted_create_matches_upstreams_record() {
    let schema = kind_schema("apps", "v1", "Deployment");
    let mut d = obj(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}, "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "nginx"}}, "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {"metadata": {"labels": {"app": "nginx"}, "creationTimestamp": null},
                "spec": {"containers": [{"name": "nginx", "image": "nginx", "imagePullPolicy": "Always",
                        "resources": {}, "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"}],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30}}},
        "status": {}}));
    fm(schema.as_ref(), "kubectl-create", Reach::AllButStatus).update(None, &mut d, None);
    assert_eq!(
        d["metadata"]["managedFields"][0]["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
                "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
                "f:template": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {},
                            "f:name": {}, "f:resources": {}, "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
                        "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
                        "f:terminationGracePeriodSeconds": {}}}}})
    );
}
