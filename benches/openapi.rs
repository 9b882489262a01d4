//! The OpenAPI documents and what is built from them: building every v3 document and the v2
//! document (JSON and gnostic protobuf) once, as the first `/openapi` request or the first
//! write's field validation does, and a strategic merge patch of a Deployment (merge keys
//! found by walking its schema) beside a JSON merge patch of the same change.
//!
//!   cargo bench --bench openapi
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use kubeshard::openapi::{kind_schema, OpenApi, Swagger};
use kubeshard::registry::patch::{apply, PatchType};
use kubeshard::registry::resources::all_resources;
use serde_json::{json, Value};

fn deployment() -> Value {
    let containers: Vec<Value> = (0..4)
        .map(|c| {
            json!({"name": format!("c{c}"), "image": "registry.example.com/app:1",
                   "env": (0..20).map(|i| json!({"name": format!("V{i}"), "value": "x"})).collect::<Vec<_>>(),
                   "ports": [{"containerPort": 8080 + c, "protocol": "TCP"}]})
        })
        .collect();
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": containers}}}})
}

fn documents(c: &mut Criterion) {
    let resources = all_resources();
    let api = OpenApi::build(resources);
    let mut g = c.benchmark_group("openapi_build");
    g.bench_function("v3_documents", |b| {
        b.iter(|| OpenApi::build(black_box(resources)))
    });
    g.bench_function("v2_json_and_protobuf", |b| {
        b.iter(|| Swagger::build(black_box(&api)))
    });
    g.finish();

    let original = deployment();
    let schema = kind_schema("apps", "v1", "Deployment").unwrap();
    let strategic = br#"{"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"c2","env":[{"name":"V3","value":"y"}]}]}}}}"#;
    // The same change as a merge patch: the whole containers list, one env value changed.
    let mut containers = original["spec"]["template"]["spec"]["containers"].clone();
    containers[2]["env"][3]["value"] = json!("y");
    let merge = serde_json::to_vec(
        &json!({"spec": {"replicas": 3, "template": {"spec": {"containers": containers}}}}),
    )
    .unwrap();
    let mut g = c.benchmark_group("patch_deployment");
    g.bench_function("strategic_merge", |b| {
        b.iter(|| {
            apply(
                PatchType::Strategic,
                Some(&schema),
                black_box(&original),
                strategic,
            )
            .unwrap()
        })
    });
    g.bench_function("json_merge", |b| {
        b.iter(|| {
            apply(
                PatchType::Merge,
                Some(&schema),
                black_box(&original),
                &merge,
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_millis(500));
    targets = documents
}
criterion_main!(benches);
