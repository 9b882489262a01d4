//! PATCH bodies: `kubeshard::registry::patch::apply` with JSON patch, merge patch and
//! strategic merge patch (with the schemas of a few built-in kinds, or none).
//!
//! Input: byte 0 picks the patch type (low 2 bits) and the kind (the rest); then the original
//! object and the patch, separated by the first NUL byte (no NUL: the whole input is the patch
//! over a fixed Deployment). An original that is not JSON is replaced by the fixed one.
//! Properties: never panics; errors are 400/413/415/422, never 500; a merge patch applied
//! twice gives what applying it once gives (RFC 7386 is idempotent); a strategic merge patch
//! without a schema and without `$` directives is exactly a merge patch (every list atomic);
//! the empty strategic patch `{}` leaves an object without directives as it was.
#![no_main]

use kubeshard::openapi::{kind_schema, KindSchema};
use kubeshard::registry::patch::{apply, PatchType};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

const KINDS: [(&str, &str, &str); 6] = [
    ("apps", "v1", "Deployment"),
    ("", "v1", "Pod"),
    ("", "v1", "Service"),
    ("", "v1", "ConfigMap"),
    ("", "v1", "Node"),
    ("", "", ""),
];

fn fallback() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "d", "labels": {"app": "web"}, "finalizers": ["a", "b"]},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [
                                     {"name": "app", "image": "app:1",
                                      "env": [{"name": "A", "value": "1"}],
                                      "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                                     {"name": "side", "image": "side:1"}]}}}})
}

fn has_directive(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| k.starts_with('$') || has_directive(v)),
        Value::Array(a) => a.iter().any(has_directive),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let patch_type = match sel & 3 {
        0 => PatchType::Json,
        1 => PatchType::Merge,
        2 => PatchType::Strategic,
        _ => PatchType::Apply,
    };
    let (g, v, k) = KINDS[usize::from(sel >> 2) % KINDS.len()];
    let schema: Option<KindSchema<'static>> = kind_schema(g, v, k);
    let (original, patch) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (
            serde_json::from_slice(&rest[..i]).unwrap_or_else(|_| fallback()),
            &rest[i + 1..],
        ),
        None => (fallback(), rest),
    };

    let result = apply(patch_type, schema.as_ref(), &original, patch);
    if let Err(e) = &result {
        assert!(
            matches!(e.code, 400 | 413 | 415 | 422),
            "a patch error is a client error, got {}: {}",
            e.code,
            e.message
        );
    }
    let Ok(patched) = result else {
        return;
    };
    let _ = serde_json::to_vec(&patched);

    match patch_type {
        PatchType::Merge => {
            let twice = apply(PatchType::Merge, None, &patched, patch).unwrap_or_else(|e| {
                panic!("the merge patch applied once but not twice: {}", e.message)
            });
            assert_eq!(twice, patched, "merge patch not idempotent");
        }
        PatchType::Strategic => {
            let Ok(p) = serde_json::from_slice::<Value>(patch) else {
                return;
            };
            if schema.is_none() && original.is_object() && !has_directive(&p) {
                let merged = apply(PatchType::Merge, None, &original, patch)
                    .unwrap_or_else(|e| panic!("strategic applied, merge did not: {}", e.message));
                assert_eq!(
                    patched, merged,
                    "schema-less strategic patch differs from a merge patch"
                );
            }
        }
        _ => {}
    }
    if original.is_object() && !has_directive(&original) {
        let same = apply(PatchType::Strategic, schema.as_ref(), &original, b"{}")
            .unwrap_or_else(|e| panic!("the empty strategic patch failed: {}", e.message));
        assert_eq!(
            same, original,
            "the empty strategic patch changed the object"
        );
    }
});
