//! Writes the binary seeds into `<dir>/<target>/` (default `fuzz/seeds`): protobuf bodies
//! encoded by kubeshard's own encoder from the objects its unit tests use, WAL segments in
//! each of the `wal` target's input modes, and `continue` tokens in the server's format.
//! Not a fuzz target; run it after `cargo fuzz build` as
//! `fuzz/target/x86_64-unknown-linux-gnu/release/gen_seeds fuzz/seeds`.

use std::path::{Path, PathBuf};

use base64::Engine;
use kubeshard_fuzz::wal;
use serde_json::json;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("create the seed directory");
    std::fs::write(d.join(name), bytes).expect("write a seed");
}

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/seeds".into()),
    );

    let objects = [
        (
            "configmap",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "default", "labels": {"a": "1"}},
            "data": {"k": "v"}, "binaryData": {"b": "AAEC"}}),
        ),
        (
            "secret",
            json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s"}, "type": "Opaque", "data": {"p": "aHVudGVyMg=="}}),
        ),
        (
            "deployment",
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "default", "resourceVersion": "42",
                "creationTimestamp": "2026-11-22T10:00:00Z", "labels": {"b": "2", "a": "1"}},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"a": "1"}},
                "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                "template": {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [
                    {"name": "c", "image": "nginx", "args": ["-x", "-y"],
                     "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                     "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}}),
        ),
        (
            "service",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": "https"}],
                     "clusterIP": "10.0.0.1", "type": "ClusterIP"}}),
        ),
        (
            "pod",
            json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r",
                                     "uid": "u", "controller": true}]},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                "env": [{"name": "A", "value": "1"}],
                "livenessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 10}}],
                "terminationGracePeriodSeconds": 0, "restartPolicy": "Always"}}),
        ),
        (
            "job",
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox"}]}}}}),
        ),
        (
            "namespace",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}),
        ),
        (
            "event",
            json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "default"},
            "eventTime": "2026-01-02T03:04:05.123456Z", "reason": "R", "action": "A",
            "regarding": {"kind": "Pod", "name": "p"}, "type": "Normal"}),
        ),
        (
            "deleteoptions",
            json!({"apiVersion": "v1", "kind": "DeleteOptions",
            "gracePeriodSeconds": 0, "propagationPolicy": "Foreground"}),
        ),
        (
            "status",
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": "m", "reason": "NotFound",
            "details": {"name": "x", "kind": "configmaps"}, "code": 404}),
        ),
        (
            "hpa",
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                "minReplicas": 1, "maxReplicas": 3,
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}}}}),
        ),
    ];
    for (name, obj) in &objects {
        match kubeshard::codec::protobuf::from_json(obj) {
            Ok(bytes) => write(&dir, "protobuf", name, &bytes),
            Err(e) => eprintln!("protobuf seed {name}: {}", e.0),
        }
    }

    // wal: mode 0 (a whole segment as written), mode 1 (frames of payload), mode 2 (records).
    const NONCE: u64 = 0x1234_5678_9abc_def0;
    let mut seg = wal::header(NONCE);
    let mut p = Vec::new();
    wal::record(
        wal::KIND_PUT,
        1,
        b"/registry/configmaps/default/a",
        Some(br#"{"kind":"ConfigMap"}"#),
        &mut p,
    );
    wal::record(
        wal::KIND_PUT,
        2,
        b"/registry/configmaps/default/b",
        Some(b"{}"),
        &mut p,
    );
    wal::frame(NONCE, &p, &mut seg);
    let mut p = Vec::new();
    wal::record(
        wal::KIND_DELETE,
        3,
        b"/registry/configmaps/default/a",
        None,
        &mut p,
    );
    wal::frame(NONCE, &p, &mut seg);
    let mut raw = vec![0u8];
    raw.extend_from_slice(&seg);
    write(&dir, "wal", "raw-segment", &raw);
    let mut torn = raw.clone();
    let mut p = Vec::new();
    wal::record(
        wal::KIND_PUT,
        4,
        b"/registry/configmaps/default/c",
        Some(b"{}"),
        &mut p,
    );
    wal::frame(NONCE, &p, &mut torn);
    torn.truncate(torn.len() - 3);
    write(&dir, "wal", "raw-torn-tail", &torn);
    write(&dir, "wal", "raw-header-only", &raw[..17]);

    let mut framed = vec![1u8];
    let mut p = Vec::new();
    wal::record(wal::KIND_PUT, 1, b"/k/0", Some(b"v"), &mut p);
    framed.push(p.len() as u8);
    framed.extend_from_slice(&p);
    let mut p = Vec::new();
    wal::record(wal::KIND_DELETE, 2, b"/k/0", None, &mut p);
    framed.push(p.len() as u8);
    framed.extend_from_slice(&p);
    write(&dir, "wal", "framed", &framed);

    // mode 2: ctrl (records - 1, 0x40 new segment, 0xff torn tail), then per record: op
    // (kind in bits 0-1, key in 2-3, value length in 4-7), revision byte (<200: next), value.
    write(
        &dir,
        "wal",
        "records",
        &[2, 0x01, 0x10, 0, b'a', 0x02, 0, 0x00, 0x20, 0, b'x', b'y'],
    );
    write(
        &dir,
        "wal",
        "records-two-segments",
        &[2, 0x00, 0x10, 0, b'a', 0x40, 0x02, 0],
    );
    write(
        &dir,
        "wal",
        "records-torn",
        &[2, 0x00, 0x10, 0, b'a', 0xff, b'K', b'S', b'W', b'L', 1],
    );
    write(
        &dir,
        "wal",
        "records-small-history",
        &[
            6, 0x03, 0x10, 0, b'a', 0x14, 0, b'b', 0x18, 0, b'c', 0x06, 0,
        ],
    );

    // continue_token: byte 0 = limit | namespace, then the token.
    let token = |rv: i64, start: &str| {
        base64::engine::general_purpose::STANDARD.encode(
            serde_json::to_vec(&json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start}))
                .expect("json"),
        )
    };
    let seeds = [
        ("first-page", 1u8, String::new()),
        ("default-after-cm-0", 1, token(6, "cm-0\u{0}")),
        ("all-after-default-cm-1", 5, token(6, "default/cm-1\u{0}")),
        ("old-revision", 2, token(2, "cm-0\u{0}")),
        ("future-revision", 1, token(99, "cm-0\u{0}")),
        ("dot-dot", 1, token(6, "../secrets/\u{0}")),
        ("not-base64", 1, "%%%".to_string()),
        (
            "wrong-version",
            1,
            base64::engine::general_purpose::STANDARD
                .encode(br#"{"v":"v2","rv":6,"start":"cm-0"}"#),
        ),
    ];
    for (name, sel, t) in seeds {
        let mut b = vec![sel];
        b.extend_from_slice(t.as_bytes());
        write(&dir, "continue_token", name, &b);
    }
}
