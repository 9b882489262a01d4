//! PATCH bodies applied to an object: RFC 6902 JSON patch and RFC 7386 merge patch (the
//! `json-patch` crate), and strategic merge patch for built-in kinds ([`strategic`]), with
//! upstream's status codes for patches that are malformed (400) or do not apply (422).

pub mod merge_keys;
pub mod strategic;

use serde_json::Value;

use crate::api::status::{Reason, Status};
use crate::openapi::KindSchema;

/// upstream's cap on the operations of one JSON patch.
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// The patch formats kube-apiserver accepts for built-in kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply,
}

impl PatchType {
    /// The patch type of a Content-Type header; Err is upstream's 415.
    pub fn from_content_type(ct: &str) -> Result<Self, Status> {
        let media = crate::api::media::media_type(ct);
        match media.as_str() {
            "application/json-patch+json" => Ok(Self::Json),
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" => Ok(Self::Apply),
            _ => Err(Status::new(
                Reason::UnsupportedMediaType,
                format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct:?})"),
            )),
        }
    }
}

/// Applies `patch` to `original` (an object described by `schema`, as the client would GET it).
pub fn apply(
    patch_type: PatchType,
    schema: Option<&KindSchema<'_>>,
    original: &Value,
    patch: &[u8],
) -> Result<Value, Status> {
    match patch_type {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_slice(patch)
                .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
            if ops.0.len() > MAX_JSON_PATCH_OPERATIONS {
                return Err(Status::new(
                Reason::RequestEntityTooLarge,
                    format!(
                        "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
                        ops.0.len()
                    ),
                ));
            }
            let mut doc = original.clone();
            json_patch::patch(&mut doc, &ops).map_err(|e| unprocessable(e.to_string()))?;
            Ok(doc)
        }
        PatchType::Merge => {
            let p: Value = serde_json::from_slice(patch)
                .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
            if !p.is_object() {
                return Err(Status::bad_request("invalid JSON patch"));
            }
            let mut doc = original.clone();
            json_patch::merge(&mut doc, &p);
            Ok(doc)
        }
        PatchType::Strategic => {
            let p: Value = serde_json::from_slice(patch)
                .map_err(|e| Status::bad_request(format!("error decoding patch: {e}")))?;
            strategic::apply(schema, original, &p).map_err(|e| {
                if e.malformed {
                    Status::bad_request(e.message)
                } else {
                    unprocessable(e.message)
                }
            })
        }
        // The Store applies these with the field manager; they never reach a plain merge.
        PatchType::Apply => Err(Status::internal(
            "an apply patch is merged by the field manager",
        )),
    }
}

/// 422 with the patch library's message, as upstream answers a patch that does not apply.
fn unprocessable(message: String) -> Status {
    Status::new(Reason::Invalid, message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_with_a_failing_test_is_422() {
        let orig = json!({"data": {"k": "v"}});
        let ok = br#"[{"op":"test","path":"/data/k","value":"v"},{"op":"replace","path":"/data/k","value":"w"}]"#;
        assert_eq!(
            apply(PatchType::Json, None, &orig, ok).unwrap(),
            json!({"data": {"k": "w"}})
        );
        let bad = br#"[{"op":"test","path":"/data/k","value":"nope"}]"#;
        assert_eq!(
            apply(PatchType::Json, None, &orig, bad).unwrap_err().code,
            422
        );
        assert_eq!(
            apply(PatchType::Json, None, &orig, b"{").unwrap_err().code,
            400
        );
    }

    #[test]
    fn merge_patch_and_content_types() {
        let orig = json!({"metadata": {"labels": {"a": "1"}}, "data": {"k": "v"}});
        let got = apply(
            PatchType::Merge,
            None,
            &orig,
            br#"{"metadata":{"labels":{"a":null,"b":"2"}}}"#,
        )
        .unwrap();
        assert_eq!(
            got,
            json!({"metadata": {"labels": {"b": "2"}}, "data": {"k": "v"}})
        );
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8").unwrap(),
            PatchType::Merge
        );
        assert_eq!(
            PatchType::from_content_type("application/json")
                .unwrap_err()
                .code,
            415
        );
    }
}
