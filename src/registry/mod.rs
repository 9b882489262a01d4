//! What each resource is and how it behaves: the resource table (data), storage keys, and the
//! create/update strategies with upstream's validation.

pub mod conversion;
pub mod defaults;
pub mod keys;
pub mod patch;
pub mod pod_qos;
pub mod quantity;
pub mod resources;
pub mod service_ips;
pub mod spec_validation;
pub mod strategy;
pub mod validation;
