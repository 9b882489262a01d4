//! Wire formats other than JSON that clients send.

pub mod protobuf;
