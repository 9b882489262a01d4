//! `/healthz`, `/livez`, `/readyz`: kube-apiserver's shape. `ok` when every check passes;
//! `?verbose` lists each check (`[+]ping ok`); `?exclude=name` skips one; a failure answers
//! 500 with the listing (reasons withheld) and `<endpoint> check failed`; `/readyz/<check>`
//! runs one check.

use std::rc::Rc;
use std::sync::Arc;

use http::StatusCode;
use hyper::Response;
use shards::server::Body;

use super::lifecycle::Lifecycle;
use crate::endpoints::response;
use crate::request::info::url_pairs;

/// One named check: Ok, or the reason it fails (logged, withheld from the response).
pub struct HealthCheck {
    name: &'static str,
    check: Box<dyn Fn() -> Result<(), String>>,
}

impl HealthCheck {
    /// A check with a name and a test.
    pub fn new(name: &'static str, check: impl Fn() -> Result<(), String> + 'static) -> Self {
        Self {
            name,
            check: Box::new(check),
        }
    }
}

/// The three health endpoints and their checks, on one shard.
pub struct Health {
    endpoints: Vec<(&'static str, Vec<Rc<HealthCheck>>)>,
}

impl Health {
    /// Upstream's checks: `ping` everywhere, and `shutdown` in /readyz only.
    pub fn new(lifecycle: Arc<Lifecycle>, extra: Vec<HealthCheck>) -> Self {
        let ping = Rc::new(HealthCheck::new("ping", || Ok(())));
        let extra: Vec<Rc<HealthCheck>> = extra.into_iter().map(Rc::new).collect();
        let shutdown = Rc::new(HealthCheck::new("shutdown", move || {
            if lifecycle.shutdown_initiated.is_fired() {
                Err("process is shutting down".into())
            } else {
                Ok(())
            }
        }));
        let mut base = vec![Rc::clone(&ping)];
        base.extend(extra.iter().cloned());
        let mut ready = base.clone();
        ready.push(shutdown);
        Self {
            endpoints: vec![
                ("healthz", base.clone()),
                ("livez", base),
                ("readyz", ready),
            ],
        }
    }

    /// Answers `path` if it is a health path.
    pub fn serve(&self, path: &str, query: Option<&str>) -> Option<Response<Body>> {
        let trimmed = path.trim_start_matches('/');
        let (endpoint, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        let (name, checks) = self.endpoints.iter().find(|(n, _)| *n == endpoint)?;
        if !rest.is_empty() {
            let check = checks.iter().find(|c| c.name == rest)?;
            return Some(match (check.check)() {
                Ok(()) => response::text(StatusCode::OK, "ok"),
                Err(e) => response::text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("internal server error: {e}\n"),
                ),
            });
        }
        Some(root(name, checks, query.unwrap_or("")))
    }
}

fn root(name: &str, checks: &[Rc<HealthCheck>], query: &str) -> Response<Body> {
    let mut excluded: Vec<String> = Vec::new();
    let mut verbose = false;
    for (k, v) in url_pairs(query) {
        match k.as_str() {
            "verbose" => verbose = true,
            "exclude" => excluded.extend(
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty()),
            ),
            _ => {}
        }
    }
    let mut out = String::new();
    let mut failed = Vec::new();
    for c in checks {
        if let Some(pos) = excluded.iter().position(|e| e == c.name) {
            excluded.remove(pos);
            out.push_str(&format!("[+]{} excluded: ok\n", c.name));
            continue;
        }
        match (c.check)() {
            Ok(()) => out.push_str(&format!("[+]{} ok\n", c.name)),
            Err(e) => {
                out.push_str(&format!("[-]{} failed: reason withheld\n", c.name));
                failed.push(format!("{}: {e}", c.name));
            }
        }
    }
    if !excluded.is_empty() {
        let quoted: Vec<String> = excluded.iter().map(|e| format!("{e:?}")).collect();
        out.push_str(&format!(
            "warn: some health checks cannot be excluded: no matches for {}\n",
            quoted.join(",")
        ));
    }
    if !failed.is_empty() {
        log::info!("{name} check failed: {}", failed.join("; "));
        return response::text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{out}{name} check failed\n"),
        );
    }
    if !verbose {
        return response::text(StatusCode::OK, "ok");
    }
    response::text(StatusCode::OK, format!("{out}{name} check passed\n"))
}
