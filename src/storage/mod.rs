//! Storage: the byte+revision boundary (`kv`), its two engines (`embedded`, `etcd`) and the
//! conformance suite both must pass.

pub mod cache;
pub mod conformance;
pub mod embedded;
pub mod etcd;
pub mod kv;
pub mod lanes;
pub mod latency;
pub mod thread;
