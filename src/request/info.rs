//! Path -> `RequestInfo`, as kube-apiserver's RequestInfoFactory resolves it.
//!
//! Resource paths:
//! `/api/v1[/watch]/namespaces/{ns}/{resource}[/{name}[/{subresource}]]`,
//! `/apis/{group}/{version}/...` likewise, and cluster-scoped forms without the namespace.
//! Anything else is a non-resource request whose verb is the lower-cased method.

use http::Method;

/// What a request addresses, parsed once from its method, path and query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// True for `/api/...` and `/apis/...` paths that name a resource.
    pub is_resource_request: bool,
    /// The URL path.
    pub path: String,
    /// Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection
    /// (non-resource requests: the lower-cased HTTP method).
    pub verb: String,
    /// `api` or `apis` for API paths.
    pub api_prefix: String,
    /// API group ("" for core).
    pub api_group: String,
    /// API version.
    pub api_version: String,
    /// Namespace, when the path has one.
    pub namespace: String,
    /// Resource plural.
    pub resource: String,
    /// Subresource, e.g. `status`.
    pub subresource: String,
    /// Object name, when the path (or a `metadata.name` field selector) names one.
    pub name: String,
    /// Remaining path segments after the resource (for the API parts).
    pub parts: Vec<String>,
}

impl RequestInfo {
    /// upstream's long-running test: watch and proxy verbs, and the attach/exec/log/
    /// portforward style subresources (not counted by the drain, nor by the in-flight limits,
    /// nor bound by the request timeout).
    pub fn is_long_running(&self) -> bool {
        matches!(self.verb.as_str(), "watch" | "proxy")
            || matches!(
                self.subresource.as_str(),
                "attach" | "exec" | "proxy" | "log" | "portforward"
            )
    }

    /// Resolves a request.
    pub fn resolve(method: &Method, path: &str, query: Option<&str>) -> Self {
        let mut info = RequestInfo {
            path: path.to_string(),
            verb: method.as_str().to_ascii_lowercase(),
            ..Default::default()
        };
        let mut parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        if parts.len() < 2 || !(parts[0] == "api" || parts[0] == "apis") {
            return info;
        }
        info.api_prefix = parts[0].to_string();
        parts.remove(0);
        if info.api_prefix == "apis" {
            if parts.len() < 2 {
                // /apis/{group}: discovery, not a resource.
                return info;
            }
            info.api_group = parts.remove(0).to_string();
        }
        info.api_version = parts.remove(0).to_string();
        if parts.is_empty() {
            return info;
        }
        info.is_resource_request = true;

        let mut watch_prefix = false;
        if parts[0] == "watch" {
            watch_prefix = true;
            parts.remove(0);
            info.verb = "watch".into();
        } else {
            info.verb = match *method {
                Method::POST => "create",
                Method::GET | Method::HEAD => "get",
                Method::PUT => "update",
                Method::PATCH => "patch",
                Method::DELETE => "delete",
                _ => "",
            }
            .to_string();
        }

        if parts.first() == Some(&"namespaces") && parts.len() > 1 {
            info.namespace = parts[1].to_string();
            // /namespaces/{name} and /namespaces/{name}/{subresource} address the namespace.
            if parts.len() > 2 && !matches!(parts[2], "finalize" | "status") {
                parts.drain(..2);
            }
        }
        info.parts = parts.iter().map(|s| s.to_string()).collect();
        match parts.len() {
            0 => {}
            1 => info.resource = parts[0].to_string(),
            2 => {
                info.resource = parts[0].to_string();
                info.name = parts[1].to_string();
            }
            _ => {
                info.resource = parts[0].to_string();
                info.name = parts[1].to_string();
                info.subresource = parts[2].to_string();
            }
        }
        if info.resource == "namespaces" && info.namespace == info.name && !info.name.is_empty() {
            // The namespace object itself is cluster-scoped.
            info.namespace.clear();
        }

        let q = Query(query.unwrap_or(""));
        if info.name.is_empty() && info.verb == "get" {
            info.verb = if !watch_prefix && q.is_watch() {
                "watch"
            } else {
                "list"
            }
            .into();
        }
        if info.name.is_empty() && info.verb == "delete" {
            info.verb = "deletecollection".into();
        }
        if matches!(info.verb.as_str(), "list" | "watch" | "deletecollection") {
            if let Some(name) = q.field_selector_name() {
                info.name = name;
            }
        }
        info
    }
}

/// Minimal query reading for what RequestInfo needs (the endpoints parse the rest).
struct Query<'a>(&'a str);

impl Query<'_> {
    fn first(&self, key: &str) -> Option<String> {
        url_pairs(self.0).find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn is_watch(&self) -> bool {
        self.first("watch")
            .is_some_and(|v| super::query::parse_bool(&v))
    }

    fn field_selector_name(&self) -> Option<String> {
        let sel = self.first("fieldSelector")?;
        for term in sel.split(',') {
            let (k, v) = term.split_once("==").or_else(|| term.split_once('='))?;
            if k.trim() == "metadata.name" && !k.ends_with('!') {
                return Some(v.trim().to_string());
            }
        }
        None
    }
}

/// Decoded `key=value` pairs of a query string.
pub fn url_pairs(q: &str) -> impl Iterator<Item = (String, String)> + '_ {
    q.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (percent_decode(k), percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ri(m: Method, p: &str, q: Option<&str>) -> RequestInfo {
        RequestInfo::resolve(&m, p, q)
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn resolves_like_upstream() {
        let cases: &[(
            Method,
            &str,
            Option<&str>,
            &str,
            &str,
            &str,
            &str,
            &str,
            &str,
        )] = &[
            // method, path, query, verb, group, version, namespace, resource, name
            (
                Method::GET,
                "/api/v1/namespaces",
                None,
                "list",
                "",
                "v1",
                "",
                "namespaces",
                "",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/other",
                None,
                "get",
                "",
                "v1",
                "",
                "namespaces",
                "other",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/other/pods",
                None,
                "list",
                "",
                "v1",
                "other",
                "pods",
                "",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/other/pods/foo",
                None,
                "get",
                "",
                "v1",
                "other",
                "pods",
                "foo",
            ),
            (
                Method::GET,
                "/api/v1/pods",
                None,
                "list",
                "",
                "v1",
                "",
                "pods",
                "",
            ),
            (
                Method::GET,
                "/api/v1/pods",
                Some("watch=true"),
                "watch",
                "",
                "v1",
                "",
                "pods",
                "",
            ),
            (
                Method::GET,
                "/api/v1/watch/pods",
                None,
                "watch",
                "",
                "v1",
                "",
                "pods",
                "",
            ),
            (
                Method::GET,
                "/api/v1/watch/namespaces/other/pods",
                None,
                "watch",
                "",
                "v1",
                "other",
                "pods",
                "",
            ),
            (
                Method::POST,
                "/api/v1/namespaces/other/pods",
                None,
                "create",
                "",
                "v1",
                "other",
                "pods",
                "",
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/other/pods/foo",
                None,
                "update",
                "",
                "v1",
                "other",
                "pods",
                "foo",
            ),
            (
                Method::PATCH,
                "/apis/apps/v1/namespaces/ns/deployments/d",
                None,
                "patch",
                "apps",
                "v1",
                "ns",
                "deployments",
                "d",
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/other/pods/foo",
                None,
                "delete",
                "",
                "v1",
                "other",
                "pods",
                "foo",
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/other/pods",
                None,
                "deletecollection",
                "",
                "v1",
                "other",
                "pods",
                "",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/other/pods",
                Some("fieldSelector=metadata.name%3Dfoo"),
                "list",
                "",
                "v1",
                "other",
                "pods",
                "foo",
            ),
        ];
        for (m, p, q, verb, g, v, ns, res, name) in cases {
            let i = ri(m.clone(), p, *q);
            assert!(i.is_resource_request, "{p}");
            assert_eq!(
                (
                    i.verb.as_str(),
                    i.api_group.as_str(),
                    i.api_version.as_str(),
                    i.namespace.as_str(),
                    i.resource.as_str(),
                    i.name.as_str()
                ),
                (*verb, *g, *v, *ns, *res, *name),
                "{m} {p} {q:?}"
            );
        }
        let s = ri(Method::GET, "/api/v1/namespaces/ns/pods/p/status", None);
        assert_eq!(
            (s.resource.as_str(), s.name.as_str(), s.subresource.as_str()),
            ("pods", "p", "status")
        );
        let f = ri(Method::PUT, "/api/v1/namespaces/ns/finalize", None);
        assert_eq!(
            (
                f.resource.as_str(),
                f.name.as_str(),
                f.subresource.as_str(),
                f.namespace.as_str()
            ),
            ("namespaces", "ns", "finalize", "")
        );
    }

    #[test]
    fn non_resource_paths() {
        for p in [
            "/healthz",
            "/version",
            "/api",
            "/apis",
            "/apis/apps",
            "/api/v1",
            "/apis/apps/v1",
            "/openapi/v2",
        ] {
            let i = ri(Method::GET, p, None);
            assert!(!i.is_resource_request, "{p}");
            assert_eq!(i.verb, "get");
        }
    }

    #[test]
    fn decodes_query() {
        let v: Vec<_> = url_pairs("a=b%3Dc&x=1+2&bad=%zz&t=%4").collect();
        assert_eq!(v[0], ("a".into(), "b=c".into()));
        assert_eq!(v[1], ("x".into(), "1 2".into()));
        assert_eq!(v[2], ("bad".into(), "%zz".into()));
        assert_eq!(v[3], ("t".into(), "%4".into()));
    }
}
