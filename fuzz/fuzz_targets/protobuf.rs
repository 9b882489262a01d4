//! Kubernetes protobuf request bodies: `kubeshard::codec::protobuf::to_json` (magic, the
//! `runtime.Unknown` envelope, the object's message by the generated field table), and the
//! encoder `from_json` on what it decoded.
//!
//! Input: the body as sent (seeds start with `k8s\0`).
//! Properties: never panics; a decoded object names its kind; once a decoded object has been
//! encoded and decoded again, further round trips are stable (decode(encode(x)) == x for x
//! in the decoder's normal form: the first round may drop what the encoding cannot keep, e.g.
//! a time's sub-second part); null members and absent ones count as the same (Go writes a
//! zero time as `null` either way).
#![no_main]

use kubeshard::codec::protobuf::{from_json, to_json};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = to_json(data) else {
        return;
    };
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    assert!(!kind.is_empty(), "decoded an object without a kind: {v}");
    let _ = serde_json::to_vec(&v);

    let Ok(b1) = from_json(&v) else {
        return;
    };
    let v1 = to_json(&b1).unwrap_or_else(|e| panic!("re-encoded {v} does not decode: {}", e.0));
    let b2 = from_json(&v1).unwrap_or_else(|e| panic!("{v1} decoded but does not encode: {}", e.0));
    let v2 = to_json(&b2).unwrap_or_else(|e| panic!("re-encoded {v1} does not decode: {}", e.0));
    assert_eq!(
        without_nulls(v1),
        without_nulls(v2),
        "a second protobuf round trip changed the object"
    );
});

/// The value with every null-valued object member dropped: a zero `metav1.Time` decodes as
/// `null` when its field is present and is absent when not, and Go's JSON writes `null` for
/// both, so the two are the same object.
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
        other => other,
    }
}
