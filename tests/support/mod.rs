//! Shared test harness: the real kubeshard binary, a real etcd.
#![allow(dead_code, unreachable_pub)]

pub mod etcd;
pub mod server;

/// A current-thread tokio runtime for a test's async client code.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
