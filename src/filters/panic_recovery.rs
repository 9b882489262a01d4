//! Panic recovery: a panic while serving one request becomes a 500 Status for that request;
//! the connection, the shard and every other request carry on.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use hyper::Response;
use shards::server::Body;

use crate::api::status::Status;
use crate::endpoints::response;

/// Runs `fut`; a panic inside it is logged and answered with upstream's 500.
pub async fn recover(path: &str, fut: impl Future<Output = Response<Body>>) -> Response<Body> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => {
            let what = message(&*panic);
            log::error!("panic while serving {path}: {what}");
            response::status(&Status::panicked())
        }
    }
}

/// What a panic said (its `&str` or `String` payload).
pub fn message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use http_body_util::BodyExt;

    #[test]
    fn a_panic_becomes_a_500_status_and_the_next_request_is_served() {
        futures_lite::future::block_on(async {
            let r = recover("/boom", async { panic!("handler bug") }).await;
            assert_eq!(r.status(), 500);
            let body = r.into_body().collect().await.unwrap().to_bytes();
            let s: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(s["kind"], "Status");
            assert_eq!(s["reason"], "InternalError");
            assert_eq!(s["code"], 500);
            let ok = recover("/fine", async {
                response::text(http::StatusCode::OK, "ok")
            })
            .await;
            assert_eq!(ok.status(), 200);
        });
    }
}
