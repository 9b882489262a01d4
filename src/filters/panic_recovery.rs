//! Panic recovery: a panic while serving one request becomes a 500 Status for that request;
//! the connection, the shard and every other request carry on.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use hyper::Response;
use shards::server::Body;

use crate::endpoints::{response, status::StatusError};

/// Runs `fut`; a panic inside it is logged and answered with upstream's 500.
pub async fn recover(path: &str, fut: impl Future<Output = Response<Body>>) -> Response<Body> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            log::error!("panic while serving {path}: {what}");
            response::status(&StatusError::panicked())
        }
    }
}
