//! The object hot path on a ~10 KB pod: decode (simd-json vs serde_json), validate + prepare
//! (the create strategy), encode, adding resourceVersion to stored bytes (splice vs
//! parse + re-encode), and encoding an answer as protobuf for a protobuf-only client.
//!
//!   cargo bench --bench codec
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use kubeshard::api::object::with_resource_version;
use kubeshard::registry::resources::{KindsConfig, Resource, ResourceTable};
use kubeshard::registry::strategy::{decode_object, prepare_create};
use serde_json::Value;

fn pod_json() -> Vec<u8> {
    let env: Vec<Value> = (0..60).map(|i| serde_json::json!({"name": format!("VAR_{i}"), "value": format!("value-{i}-{}", "x".repeat(40))})).collect();
    let containers: Vec<Value> = (0..3)
        .map(|c| {
            serde_json::json!({
                "name": format!("c{c}"), "image": "registry.example.com/team/app:1.2.3",
                "ports": [{"containerPort": 8080 + c, "protocol": "TCP"}],
                "env": env, "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}]
            })
        })
        .collect();
    let pod = serde_json::json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "web-0", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                     "annotations": {"example.com/note": "a".repeat(200)}},
        "spec": {"containers": containers, "volumes": [{"name": "data", "emptyDir": {}}], "nodeName": "node-1"}
    });
    serde_json::to_vec(&pod).unwrap()
}

fn pods() -> std::rc::Rc<Resource> {
    ResourceTable::builtin(KindsConfig::default())
        .get("", "v1", "pods")
        .unwrap()
}

fn codec(c: &mut Criterion) {
    let body = pod_json();
    let res = pods();
    let mut g = c.benchmark_group("pod_10kb");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("decode/serde_json", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&body)).unwrap())
    });
    g.bench_function("decode/simd_json", |b| {
        b.iter(|| {
            let mut copy = body.clone();
            simd_json::serde::from_slice::<Value>(black_box(&mut copy)).unwrap()
        })
    });
    g.bench_function("decode+prepare+validate+encode", |b| {
        b.iter(|| {
            let mut copy = body.clone();
            let obj = decode_object(&res, &mut copy).unwrap();
            let obj = prepare_create(&res, obj, Some("default")).unwrap();
            serde_json::to_vec(&obj).unwrap()
        })
    });
    let stored = {
        let mut copy = body.clone();
        let obj = prepare_create(
            &res,
            decode_object(&res, &mut copy).unwrap(),
            Some("default"),
        )
        .unwrap();
        serde_json::to_vec(&obj).unwrap()
    };
    g.bench_function("resource_version/splice", |b| {
        b.iter(|| with_resource_version(black_box(&stored), 12345))
    });
    // What a protobuf-only client costs on top of the JSON answer: the stored bytes parsed
    // and encoded as protobuf (JSON answers are the stored bytes as they are).
    let answer = with_resource_version(&stored, 12345);
    g.bench_function("answer/protobuf", |b| {
        b.iter(|| {
            let v: Value = serde_json::from_slice(black_box(&answer)).unwrap();
            kubeshard::codec::protobuf::from_json(&v).unwrap()
        })
    });
    g.bench_function("resource_version/parse_and_encode", |b| {
        b.iter(|| {
            let mut v: Value = serde_json::from_slice(black_box(&stored)).unwrap();
            v["metadata"]["resourceVersion"] = Value::String("12345".into());
            serde_json::to_vec(&v).unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = codec
}
criterion_main!(benches);
