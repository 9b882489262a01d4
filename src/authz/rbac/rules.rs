//! RBAC policy rules and how a request matches them, as upstream's `rbac` authorizer reads
//! them: verbs, API groups, resources (`*`, `resource/subresource`, `*/subresource`),
//! resource names, and non-resource URLs (`*`, exact, or a prefix ending in `*`).

use serde::Deserialize;

use crate::authz::Attributes;

/// One rule of a Role or ClusterRole.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    /// Verbs (`*` for all).
    #[serde(default)]
    pub verbs: Vec<String>,
    /// API groups (`""` core, `*` all).
    #[serde(default)]
    pub api_groups: Vec<String>,
    /// Resources (`*`, `pods`, `pods/log`, `*/scale`).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Object names; empty: any.
    #[serde(default)]
    pub resource_names: Vec<String>,
    /// Non-resource URLs (`/healthz`, `/api/*`, `*`).
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

const ALL: &str = "*";

impl PolicyRule {
    /// Whether this rule allows the request.
    pub fn allows(&self, a: &Attributes<'_>) -> bool {
        if !self.verb_matches(a.verb) {
            return false;
        }
        if a.resource_request {
            self.api_group_matches(a.api_group)
                && self.resource_matches(a.resource, a.subresource)
                && self.resource_name_matches(a.name)
        } else {
            self.non_resource_url_matches(a.path)
        }
    }

    fn verb_matches(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == ALL || v == verb)
    }

    fn api_group_matches(&self, group: &str) -> bool {
        self.api_groups.iter().any(|g| g == ALL || g == group)
    }

    fn resource_matches(&self, resource: &str, subresource: &str) -> bool {
        self.resources.iter().any(|r| {
            if r == ALL {
                return true;
            }
            if subresource.is_empty() {
                return r == resource;
            }
            // `resource/subresource`, or `*/subresource`.
            match r.split_once('/') {
                Some((res, sub)) => sub == subresource && (res == resource || res == ALL),
                None => false,
            }
        })
    }

    fn resource_name_matches(&self, name: &str) -> bool {
        self.resource_names.is_empty() || self.resource_names.iter().any(|n| n == name)
    }

    fn non_resource_url_matches(&self, path: &str) -> bool {
        self.non_resource_urls.iter().any(|u| {
            u == ALL
                || u == path
                || u.strip_suffix('*')
                    .is_some_and(|prefix| path.starts_with(prefix))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::request::UserInfo;

    fn rule(v: serde_json::Value) -> PolicyRule {
        serde_json::from_value(v).unwrap()
    }

    fn res<'a>(
        user: &'a UserInfo,
        verb: &'a str,
        group: &'a str,
        resource: &'a str,
        sub: &'a str,
        name: &'a str,
    ) -> Attributes<'a> {
        Attributes {
            user,
            verb,
            resource_request: true,
            namespace: "ns",
            api_group: group,
            api_version: "v1",
            resource,
            subresource: sub,
            name,
            path: "",
        }
    }

    #[test]
    fn matching_as_upstream() {
        let u = UserInfo::default();
        let pods = rule(
            serde_json::json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]}),
        );
        assert!(pods.allows(&res(&u, "get", "", "pods", "", "p")));
        assert!(pods.allows(&res(&u, "get", "", "pods", "log", "p")));
        assert!(!pods.allows(&res(&u, "get", "", "pods", "exec", "p")));
        assert!(!pods.allows(&res(&u, "delete", "", "pods", "", "p")));
        assert!(!pods.allows(&res(&u, "get", "apps", "pods", "", "p")));
        let scale =
            rule(serde_json::json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*/scale"]}));
        assert!(scale.allows(&res(&u, "update", "apps", "deployments", "scale", "d")));
        assert!(!scale.allows(&res(&u, "update", "apps", "deployments", "", "d")));
        let named = rule(
            serde_json::json!({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]}),
        );
        assert!(named.allows(&res(&u, "get", "", "configmaps", "", "a")));
        assert!(!named.allows(&res(&u, "get", "", "configmaps", "", "b")));
        assert!(
            !named.allows(&res(&u, "get", "", "configmaps", "", "")),
            "a list names nothing"
        );
        let urls =
            rule(serde_json::json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/api/*"]}));
        let path = |p| Attributes {
            resource_request: false,
            path: p,
            ..res(&u, "get", "", "", "", "")
        };
        assert!(urls.allows(&path("/healthz")));
        assert!(urls.allows(&path("/api/v1")));
        assert!(!urls.allows(&path("/healthz/etcd")));
        assert!(!urls.allows(&path("/metrics")));
    }
}
