//! Large answers: gzip of a 10,000-ConfigMap list at upstream's level 1 against level 6 (CPU
//! per MiB, with Throughput in bytes), and a protobuf list encoded whole (parse the whole
//! list, encode) against item by item (what streamed lists do), and Go's always-encoded
//! fields filled into a pod template on write.
//!
//!   cargo bench --bench responses
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};

/// 10,000 ConfigMaps of ~1 KB: names, labels, a data value of pseudo-random hex.
fn items() -> Vec<Value> {
    (0..10_000u64)
        .map(|i| {
            let mut x = (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let payload: String = (0..100)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    format!("{:08x}", x as u32)
                })
                .collect();
            json!({"kind": "ConfigMap", "apiVersion": "v1",
                "metadata": {"name": format!("cm-{i:05}"), "namespace": "default",
                    "uid": format!("{i:08x}-1111-2222-3333-444455556666"),
                    "resourceVersion": format!("{}", 1000 + i),
                    "creationTimestamp": "2026-12-02T07:00:00Z",
                    "labels": {"app": "bench", "tier": format!("t{}", i % 7)}},
                "data": {"payload": payload}})
        })
        .collect()
}

fn gzip(c: &mut Criterion) {
    let list = json!({"kind": "ConfigMapList", "apiVersion": "v1",
        "metadata": {"resourceVersion": "20000"}, "items": items()});
    let body = serde_json::to_vec(&list).unwrap();
    let mut g = c.benchmark_group("gzip_list_10k");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(body.len() as u64));
    for level in [1u32, 6] {
        g.bench_function(format!("level_{level}"), |b| {
            b.iter(|| {
                let mut e = flate2::write::GzEncoder::new(
                    Vec::with_capacity(body.len() / 2),
                    flate2::Compression::new(level),
                );
                e.write_all(black_box(&body)).unwrap();
                e.finish().unwrap().len()
            })
        });
    }
    g.finish();
}

fn protobuf_list(c: &mut Criterion) {
    let items = items();
    let bodies: Vec<Vec<u8>> = items
        .iter()
        .map(|i| serde_json::to_vec(i).unwrap())
        .collect();
    let mut g = c.benchmark_group("protobuf_list_10k");
    g.sample_size(10);
    g.bench_function("whole", |b| {
        b.iter(|| {
            // What a whole-body answer does: the list's JSON parsed whole, then encoded.
            let mut json = b"{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[".to_vec();
            for (i, item) in bodies.iter().enumerate() {
                if i > 0 {
                    json.push(b',');
                }
                json.extend_from_slice(item);
            }
            json.extend_from_slice(b"]}");
            let v: Value = serde_json::from_slice(&json).unwrap();
            kubeshard::codec::protobuf::from_json(&v).unwrap().len()
        })
    });
    g.bench_function("item_by_item", |b| {
        b.iter(|| {
            let items = bodies
                .iter()
                .map(|i| serde_json::from_slice::<Value>(i).unwrap());
            kubeshard::codec::protobuf::list_pieces(
                "v1",
                "ConfigMap",
                &json!({"resourceVersion": "1"}),
                items,
            )
            .unwrap()
            .len()
        })
    });
    g.finish();
}

fn go_fields(c: &mut Criterion) {
    let deployment = json!({"kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx",
                    "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "b"}]}]}}}});
    let obj = deployment.as_object().cloned().unwrap();
    c.bench_function("go_fields/deployment", |b| {
        b.iter(|| {
            let mut o = obj.clone();
            kubeshard::codec::go_json::fill_go_zero_values("apps", "v1", "Deployment", &mut o)
        })
    });
}

criterion_group!(benches, gzip, protobuf_list, go_fields);
criterion_main!(benches);
