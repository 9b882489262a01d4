//! Stored bytes <-> response bytes: the stored JSON has no resourceVersion (as upstream
//! writes etcd); responses carry the key's mod revision as `metadata.resourceVersion`. And
//! stored bytes -> an object, strictly: bytes that are not a JSON object are an error naming
//! the key, never an empty object that a write could then store over the real one.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value};

use super::status::Status;

/// A store revision, which is also Kubernetes' resourceVersion (etcd's `mod_revision`).
pub type Revision = i64;

/// The object's JSON with `metadata.resourceVersion` set to `rev`.
///
/// Fast path: objects are stored with `metadata` as an early top-level key (kubeshard and
/// kube-apiserver both write `kind`, `apiVersion`, `metadata` first), so the version is spliced
/// in after `"metadata":{` without parsing. Anything else is parsed and re-encoded.
pub fn with_resource_version(stored: &[u8], rev: Revision) -> Bytes {
    const NEEDLE: &[u8] = b"\"metadata\":{";
    let head = &stored[..stored.len().min(512)];
    if let Some(pos) = head.windows(NEEDLE.len()).position(|w| w == NEEDLE) {
        // Depth 1 only: no object opened between the outer brace and the key.
        if stored.first() == Some(&b'{') && !head[1..pos].contains(&b'{') {
            let at = pos + NEEDLE.len();
            let mut out = BytesMut::with_capacity(stored.len() + 32);
            out.put_slice(&stored[..at]);
            out.put_slice(format!("\"resourceVersion\":\"{rev}\"").as_bytes());
            if stored.get(at) != Some(&b'}') {
                out.put_u8(b',');
            }
            out.put_slice(&stored[at..]);
            return out.freeze();
        }
    }
    match serde_json::from_slice::<Value>(stored) {
        Ok(mut v) => {
            if let Some(obj) = v.as_object_mut() {
                let meta = obj
                    .entry("metadata")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(m) = meta.as_object_mut() {
                    m.insert("resourceVersion".into(), Value::String(rev.to_string()));
                }
            }
            // A Value always serializes.
            Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        Err(_) => Bytes::copy_from_slice(stored),
    }
}

/// Parses stored bytes into a JSON object (None if they are not one).
pub fn parse_stored(stored: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(stored).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The object stored under `key`, or a 500 naming the key (and a log line): data that does
/// not decode is a fault to report, not an empty object to build on.
pub fn decode_stored(key: &[u8], stored: &[u8]) -> Result<Map<String, Value>, Status> {
    parse_stored(stored).ok_or_else(|| {
        let key = String::from_utf8_lossy(key);
        log::error!(
            "stored object at {key} is not a JSON object ({} bytes)",
            stored.len()
        );
        Status::internal(format!("the object stored at {key} could not be decoded"))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn splices_or_parses() {
        let a = with_resource_version(
            br#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"},"data":{}}"#,
            7,
        );
        assert_eq!(&a[..], br#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"7","name":"x"},"data":{}}"#);
        let b = with_resource_version(br#"{"kind":"X","metadata":{}}"#, 8);
        assert_eq!(
            &b[..],
            br#"{"kind":"X","metadata":{"resourceVersion":"8"}}"#
        );
        let c = with_resource_version(br#"{"spec":{"metadata":{}},"metadata":{"name":"y"}}"#, 9);
        let v: Value = serde_json::from_slice(&c).unwrap_or_default();
        assert_eq!(v["metadata"]["resourceVersion"], "9");
        assert!(v["spec"]["metadata"].get("resourceVersion").is_none());
    }

    #[test]
    fn undecodable_stored_data_is_an_error_naming_the_key() {
        let e = decode_stored(b"/registry/configmaps/ns/x", b"\x00garbage").unwrap_err();
        assert_eq!(e.code, 500);
        assert!(
            e.message.contains("/registry/configmaps/ns/x"),
            "{}",
            e.message
        );
        assert!(decode_stored(b"k", b"[1]").is_err());
        assert_eq!(decode_stored(b"k", b"{\"a\":1}").unwrap()["a"], 1);
    }
}
