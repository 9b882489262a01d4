//! Field management on a ~8 KB Deployment: what tracking managed fields adds to a plain
//! update (the strategy alone vs the strategy and the field manager), a server-side apply
//! of an image change against a strategic merge patch of the same change, and the bytes
//! managedFields add to the stored object (printed once).
//!
//!   cargo bench --bench field_manager
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use kubeshard::openapi::kind_schema;
use kubeshard::registry::fieldmanager::{FieldManager, Reach};
use kubeshard::registry::patch::{self, PatchType};
use kubeshard::registry::resources::{KindsConfig, ResourceTable};
use kubeshard::registry::strategy::{prepare_create, prepare_update};
use serde_json::{json, Map, Value};

fn deployment(image: &str) -> Value {
    let env: Vec<Value> = (0..25)
        .map(|i| json!({"name": format!("VAR_{i}"), "value": format!("value-{i}-{}", "x".repeat(40))}))
        .collect();
    let containers: Vec<Value> = (0..3)
        .map(|c| {
            json!({"name": format!("c{c}"), "image": image,
                "ports": [{"containerPort": 8080 + c, "protocol": "TCP"}], "env": env,
                "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}]})
        })
        .collect();
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers, "volumes": [{"name": "data", "emptyDir": {}}]}}}})
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn bench(c: &mut Criterion) {
    let table = ResourceTable::builtin(KindsConfig::default());
    let res = table.get("apps", "v1", "deployments").unwrap();
    let schema = kind_schema("apps", "v1", "Deployment");
    let fm = |op_manager: &str| {
        FieldManager::new(
            schema.as_ref(),
            "apps/v1",
            op_manager,
            "",
            Reach::AllButStatus,
            "2024-05-01T10:00:00Z".into(),
        )
    };
    let mut stored = prepare_create(&res, map(deployment("app:1")), Some("default")).unwrap();
    let plain = serde_json::to_vec(&stored).unwrap().len();
    fm("kubectl-create").update(None, &mut stored, None);
    let tracked = serde_json::to_vec(&stored).unwrap().len();
    eprintln!("stored Deployment: {plain} bytes without managedFields, {tracked} with one create entry (+{})", tracked - plain);
    let changed = map(deployment("app:2"));

    let mut g = c.benchmark_group("deployment_8k");
    let fresh = map(deployment("app:1"));
    g.bench_function("create_strategy_only", |b| {
        b.iter(|| prepare_create(&res, black_box(fresh.clone()), Some("default")).unwrap())
    });
    g.bench_function("create_strategy_and_field_manager", |b| {
        b.iter(|| {
            let mut new = prepare_create(&res, black_box(fresh.clone()), Some("default")).unwrap();
            fm("kubectl-create").update(None, &mut new, None);
            new
        })
    });
    g.bench_function("update_strategy_only", |b| {
        b.iter(|| {
            prepare_update(
                &res,
                black_box(changed.clone()),
                &stored,
                Some("default"),
                "web",
                None,
            )
            .unwrap()
        })
    });
    g.bench_function("update_strategy_and_field_manager", |b| {
        b.iter(|| {
            let mut new = prepare_update(
                &res,
                black_box(changed.clone()),
                &stored,
                Some("default"),
                "web",
                None,
            )
            .unwrap();
            fm("kubectl-edit").update(Some(&stored), &mut new, None);
            new
        })
    });
    let live = Value::Object(stored.clone());
    let smp = br#"{"spec":{"template":{"spec":{"containers":[{"name":"c0","image":"app:2"},{"name":"c1","image":"app:2"},{"name":"c2","image":"app:2"}]}}}}"#;
    g.bench_function("strategic_merge_patch", |b| {
        b.iter(|| {
            patch::apply(PatchType::Strategic, schema.as_ref(), black_box(&live), smp).unwrap()
        })
    });
    let config = deployment("app:2");
    g.bench_function("server_side_apply", |b| {
        b.iter(|| {
            let f = fm("kubectl");
            let (merged, managed) = f.apply(Some(black_box(&stored)), &config, true).unwrap();
            let mut o = map(merged);
            f.store(&mut o, managed);
            o
        })
    });
    g.finish();

    // The bench kit's object: a ConfigMap with one 500-byte value.
    let cms = table.get("", "v1", "configmaps").unwrap();
    let cm_schema = kind_schema("", "v1", "ConfigMap");
    let cm = map(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "bench-1", "namespace": "default"}, "data": {"k": "v".repeat(500)}}));
    let mut g = c.benchmark_group("configmap_500b");
    g.bench_function("create_strategy_only", |b| {
        b.iter(|| prepare_create(&cms, black_box(cm.clone()), Some("default")).unwrap())
    });
    g.bench_function("create_strategy_and_field_manager", |b| {
        b.iter(|| {
            let mut new = prepare_create(&cms, black_box(cm.clone()), Some("default")).unwrap();
            FieldManager::new(
                cm_schema.as_ref(),
                "v1",
                "get_load",
                "",
                Reach::Whole,
                "2024-05-01T10:00:00Z".into(),
            )
            .update(None, &mut new, None);
            new
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
