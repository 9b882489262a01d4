//! The labels of `apiserver_request_*` as upstream derives them: the reported verb (GET vs
//! LIST by route, WATCH, APPLY, CONNECT), the route's scope, the dry-run value and the
//! component. Every label is `'static` (the resource table's strings are), so a series key is
//! a few words and recording allocates nothing.

use http::Method;

use crate::api::resources::ApiResource;
use crate::request::RequestInfo;

/// The component label of the resource handlers and discovery.
pub const APISERVER: &str = "apiserver";

/// The labels shared by `apiserver_request_total` (with `code`), `_duration_seconds`,
/// `apiserver_response_sizes` and `apiserver_longrunning_requests`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestLabels {
    /// The reported verb (`GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `APPLY`, `DELETE`,
    /// `CONNECT`, or `other`).
    pub verb: &'static str,
    /// `""`, `All`, or `invalid`.
    pub dry_run: &'static str,
    /// API group.
    pub group: &'static str,
    /// API version.
    pub version: &'static str,
    /// Resource plural.
    pub resource: &'static str,
    /// Subresource; a non-resource handler's path.
    pub subresource: &'static str,
    /// `resource`, `namespace`, `cluster`, or `""` for non-resource handlers.
    pub scope: &'static str,
    /// `apiserver`, or `""` for the health checks, as upstream.
    pub component: &'static str,
}

impl RequestLabels {
    /// The labels of a request served by a resource route.
    pub fn of_resource(
        method: &Method,
        info: &RequestInfo,
        query: Option<&str>,
        apply_patch: bool,
        api: &ApiResource,
        subresource: &'static str,
    ) -> Self {
        let scope = route_scope(method, info);
        Self {
            verb: reported_verb(method, info, scope, apply_patch),
            dry_run: dry_run(query),
            group: api.group,
            version: api.version,
            resource: api.plural,
            subresource,
            scope,
            component: APISERVER,
        }
    }

    /// The labels of a non-resource handler upstream instruments (health checks with an
    /// empty component, aggregated discovery with `apiserver`): verb GET, the path as the
    /// subresource.
    pub fn of_handler(path: &'static str, component: &'static str) -> Self {
        Self {
            verb: "GET",
            dry_run: "",
            group: "",
            version: "",
            resource: "",
            subresource: path,
            scope: "",
            component,
        }
    }

    /// The same series without a dry-run value (`apiserver_longrunning_requests` has none).
    pub fn without_dry_run(self) -> Self {
        Self {
            dry_run: "",
            ..self
        }
    }
}

/// Whether a request's body is a server-side apply patch (its verb is reported as APPLY).
pub fn is_apply_patch(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/apply-patch+yaml"))
}

/// upstream's route scope: a route naming an object (or any create) is `resource`, a
/// namespaced collection `namespace`, a cluster-wide collection `cluster`.
fn route_scope(method: &Method, info: &RequestInfo) -> &'static str {
    // The path names an object when it has a name segment after the resource (a
    // `metadata.name` field selector does not make a route name one).
    if info.parts.len() >= 2 || *method == Method::POST {
        "resource"
    } else if !info.namespace.is_empty() {
        "namespace"
    } else {
        "cluster"
    }
}

/// upstream's reported verb: the method, GET turned LIST on collections, then WATCH for
/// watches, APPLY for apply patches, CONNECT for the connect subresources; anything else
/// `other`.
fn reported_verb(
    method: &Method,
    info: &RequestInfo,
    scope: &'static str,
    apply_patch: bool,
) -> &'static str {
    if info.verb == "watch" {
        return "WATCH";
    }
    if matches!(
        info.subresource.as_str(),
        "log" | "exec" | "portforward" | "attach" | "proxy"
    ) {
        return "CONNECT";
    }
    match *method {
        Method::GET | Method::HEAD if scope == "resource" => "GET",
        Method::GET | Method::HEAD => "LIST",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH if apply_patch => "APPLY",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// upstream's dry-run label: the distinct `dryRun` values joined; the only valid value is
/// `All`, anything else is `invalid`.
fn dry_run(query: Option<&str>) -> &'static str {
    let Some(q) = query.filter(|q| q.contains("dryRun")) else {
        return "";
    };
    let mut seen = false;
    for (k, v) in crate::request::info::url_pairs(q) {
        if k != "dryRun" {
            continue;
        }
        if v != "All" {
            return "invalid";
        }
        seen = true;
    }
    if seen {
        "All"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn labels(method: Method, path: &str, query: Option<&str>) -> RequestLabels {
        let info = RequestInfo::resolve(&method, path, query);
        let api = crate::api::resources::all_resources()
            .iter()
            .find(|r| r.plural == info.resource && r.group == info.api_group)
            .unwrap();
        let sub: &'static str = match info.subresource.as_str() {
            "" => "",
            s => api.subresource(s).unwrap().name(),
        };
        RequestLabels::of_resource(&method, &info, query, false, api, sub)
    }

    #[test]
    fn verbs_and_scopes_as_upstream_reports_them() {
        let l = labels(Method::GET, "/api/v1/namespaces/default/pods/p", None);
        assert_eq!((l.verb, l.scope), ("GET", "resource"));
        let l = labels(Method::GET, "/api/v1/namespaces/default/pods", None);
        assert_eq!((l.verb, l.scope), ("LIST", "namespace"));
        let l = labels(Method::GET, "/api/v1/pods", None);
        assert_eq!((l.verb, l.scope), ("LIST", "cluster"));
        // A name from a field selector does not make the route name an object.
        let l = labels(
            Method::GET,
            "/api/v1/namespaces/default/pods",
            Some("fieldSelector=metadata.name%3Dp"),
        );
        assert_eq!((l.verb, l.scope), ("LIST", "namespace"));
        let l = labels(
            Method::GET,
            "/api/v1/namespaces/default/pods",
            Some("watch=true"),
        );
        assert_eq!((l.verb, l.scope), ("WATCH", "namespace"));
        let l = labels(Method::GET, "/api/v1/watch/namespaces/default/pods/p", None);
        assert_eq!((l.verb, l.scope), ("WATCH", "resource"));
        let l = labels(Method::POST, "/api/v1/namespaces/default/pods", None);
        assert_eq!((l.verb, l.scope), ("POST", "resource"));
        let l = labels(Method::DELETE, "/api/v1/namespaces/default/pods", None);
        assert_eq!((l.verb, l.scope), ("DELETE", "namespace"));
        let l = labels(Method::GET, "/api/v1/namespaces/default/pods/p/log", None);
        assert_eq!((l.verb, l.subresource), ("CONNECT", "log"));
        let l = labels(
            Method::PUT,
            "/apis/apps/v1/namespaces/d/deployments/x/status",
            None,
        );
        assert_eq!(
            (l.verb, l.group, l.version, l.resource, l.subresource),
            ("PUT", "apps", "v1", "deployments", "status")
        );
        let l = labels(Method::GET, "/api/v1/namespaces/default", None);
        assert_eq!(
            (l.verb, l.scope, l.resource),
            ("GET", "resource", "namespaces")
        );
    }

    #[test]
    fn dry_run_values() {
        assert_eq!(dry_run(None), "");
        assert_eq!(dry_run(Some("fieldManager=x")), "");
        assert_eq!(dry_run(Some("dryRun=All")), "All");
        assert_eq!(dry_run(Some("dryRun=All&dryRun=All")), "All");
        assert_eq!(dry_run(Some("dryRun=Bogus")), "invalid");
    }
}
