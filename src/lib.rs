//! kubeshard: a Kubernetes API server, thread-per-core on io_uring.
//!
//! The binary (`main.rs`) parses options and calls [`server::run`]; everything else lives here so
//! that tests and benches can reach it. See ARCHITECTURE.md for the map.
#![forbid(unsafe_code)]

pub mod admission;
pub mod api;
pub mod audit;
pub mod authn;
pub mod authz;
pub mod cel;
pub mod codec;
pub mod endpoints;
pub mod filters;
pub mod flowcontrol;
pub mod logs;
pub mod metrics;
pub mod openapi;
pub mod options;
pub mod pki;
pub mod printers;
pub mod registry;
pub mod request;
pub mod server;
pub mod storage;
pub mod webhook;
