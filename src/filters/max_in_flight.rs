//! upstream's max-in-flight limit (`WithMaxInFlightLimit`): at most `--max-requests-inflight`
//! read-only (get, list) and `--max-mutating-requests-inflight` mutating requests are served
//! at once across the whole process; one more is answered 429 with `Retry-After: 1`, unless its
//! user is in `system:masters`. Long-running requests (watches, exec, proxy) are not counted.
//! The counts are shared by every shard: the limit protects the process, not a shard.
//!
//! With API Priority and Fairness on (the default) these limits are APF's total seats and
//! this filter only counts; `--enable-priority-and-fairness=false` makes it the limit.

use std::sync::atomic::{AtomicUsize, Ordering};

use http::{header, HeaderValue, StatusCode};
use hyper::Response;
use shards::server::Body;

use crate::authz::SYSTEM_MASTERS;
use crate::endpoints::response;
use crate::request::{RequestInfo, UserInfo};

/// upstream's answer to a request over the limit (`tooManyRequests`, plain text).
pub const TOO_MANY_REQUESTS: &str = "Too many requests, please try again later.";

/// One limit and how much of it is in use, shared by every shard.
#[derive(Debug)]
struct Limit {
    max: usize,
    used: AtomicUsize,
}

/// The process-wide limits (0: unlimited), built once and shared by the shards (leaked: they
/// live as long as the process, and a seat then costs no reference count).
#[derive(Debug)]
pub struct InFlightLimits {
    read_only: Limit,
    mutating: Limit,
}

/// A request's place under a limit, given back when dropped.
#[derive(Debug)]
pub struct Seat {
    limit: &'static Limit,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.limit.used.fetch_sub(1, Ordering::AcqRel);
    }
}

impl InFlightLimits {
    /// Limits of `read_only` and `mutating` requests at once (0: no limit).
    pub fn new(read_only: usize, mutating: usize) -> &'static Self {
        Box::leak(Box::new(Self {
            read_only: Limit {
                max: read_only,
                used: AtomicUsize::new(0),
            },
            mutating: Limit {
                max: mutating,
                used: AtomicUsize::new(0),
            },
        }))
    }

    /// Read-only and mutating requests holding a seat now (upstream's
    /// `apiserver_current_inflight_requests`).
    pub fn in_use(&self) -> (usize, usize) {
        (
            self.read_only.used.load(Ordering::Relaxed),
            self.mutating.used.load(Ordering::Relaxed),
        )
    }

    fn limit(&'static self, mutating: bool) -> &'static Limit {
        if mutating {
            &self.mutating
        } else {
            &self.read_only
        }
    }

    /// Counts the request in `apiserver_current_inflight_requests` without limiting it (API
    /// Priority and Fairness limits instead); None for a long-running one.
    pub fn count(&'static self, info: &RequestInfo) -> Option<Seat> {
        if info.is_long_running() {
            return None;
        }
        let limit = self.limit(!matches!(info.verb.as_str(), "get" | "list" | "watch"));
        limit.used.fetch_add(1, Ordering::AcqRel);
        Some(Seat { limit })
    }

    /// A seat for the request (None: it needs none), or [`Refused`]: answer 429 instead.
    pub fn enter(
        &'static self,
        info: &RequestInfo,
        user: &UserInfo,
    ) -> Result<Option<Seat>, Refused> {
        if info.is_long_running() {
            return Ok(None);
        }
        let mutating = !matches!(info.verb.as_str(), "get" | "list" | "watch");
        let limit = self.limit(mutating);
        if limit.max == 0 {
            return Ok(None);
        }
        if limit.used.fetch_add(1, Ordering::AcqRel) < limit.max {
            return Ok(Some(Seat { limit }));
        }
        limit.used.fetch_sub(1, Ordering::AcqRel);
        // A system:masters user is always answered (upstream: a super-admin or loopback).
        if user.in_group(SYSTEM_MASTERS) {
            return Ok(None);
        }
        Err(Refused)
    }
}

/// A request over its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

impl Refused {
    /// upstream's answer: plain text, `Retry-After: 1`.
    pub fn response(self) -> Response<Body> {
        let mut r = response::text(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{TOO_MANY_REQUESTS}\n"),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn info(method: &str, uri: &str) -> RequestInfo {
        let (path, query) = uri
            .split_once('?')
            .map_or((uri, None), |(p, q)| (p, Some(q)));
        RequestInfo::resolve(&method.parse().unwrap(), path, query)
    }

    fn user(groups: &[&str]) -> UserInfo {
        UserInfo {
            name: "u".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..UserInfo::default()
        }
    }

    #[test]
    fn one_limit_per_class_masters_and_long_running_exempt() {
        let limits = InFlightLimits::new(1, 1);
        let (create, get) = (
            info("POST", "/api/v1/namespaces/default/configmaps"),
            info("GET", "/api/v1/namespaces/default/configmaps/x"),
        );
        let bob = user(&["system:authenticated"]);
        let Ok(Some(held)) = limits.enter(&create, &bob) else {
            panic!("the first write gets the seat");
        };
        let Err(refused) = limits.enter(&create, &bob) else {
            panic!("the second write is refused");
        };
        let refused = refused.response();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["retry-after"], "1");
        // The other class has its own limit; masters and watches pass a full one.
        assert!(matches!(limits.enter(&get, &bob), Ok(Some(_))));
        assert!(matches!(
            limits.enter(&create, &user(&[SYSTEM_MASTERS])),
            Ok(None)
        ));
        let watch = info("GET", "/api/v1/namespaces/default/configmaps?watch=1");
        assert!(matches!(limits.enter(&watch, &bob), Ok(None)));
        drop(held);
        assert!(matches!(limits.enter(&create, &bob), Ok(Some(_))));
        assert!(matches!(
            InFlightLimits::new(0, 0).enter(&create, &bob),
            Ok(None)
        ));
    }
}
