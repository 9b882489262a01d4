//! Wire formats other than JSON that clients send, and the JSON details of Go's encoding.

mod go_fields;
pub mod go_json;
pub mod protobuf;
