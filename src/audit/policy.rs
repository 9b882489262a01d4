//! `--audit-policy-file`: an `audit.k8s.io/v1` Policy, validated as upstream validates it, and
//! its evaluation: the first rule matching the request's user, groups, verb, resource or
//! non-resource URL and namespace sets the level; no match is `None`. The policy's
//! `omitStages` join every rule's; a rule's `omitManagedFields` overrides the policy's.

use std::path::Path;

use serde::Deserialize;

use crate::request::{RequestInfo, UserInfo};

/// How much of a request an event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Not recorded.
    None,
    /// User, verb, resource, timestamps, response status.
    Metadata,
    /// Metadata and the request body.
    Request,
    /// Metadata, request and response bodies.
    RequestResponse,
}

impl Level {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "None" => Level::None,
            "Metadata" => Level::Metadata,
            "Request" => Level::Request,
            "RequestResponse" => Level::RequestResponse,
            _ => return None,
        })
    }

    /// Its name in events and policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }
}

/// When in a request's life an event is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// As soon as the request is received (after authentication).
    RequestReceived,
    /// A long-running request's response headers are sent.
    ResponseStarted,
    /// The response is complete.
    ResponseComplete,
    /// The handler panicked.
    Panic,
}

impl Stage {
    const ALL: [Stage; 4] = [
        Stage::RequestReceived,
        Stage::ResponseStarted,
        Stage::ResponseComplete,
        Stage::Panic,
    ];

    /// Its name in events and policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::RequestReceived => "RequestReceived",
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
            Stage::Panic => "Panic",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The stages a rule leaves out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StageSet(u8);

impl StageSet {
    /// Whether `stage` is left out.
    pub fn contains(self, stage: Stage) -> bool {
        self.0 & stage.bit() != 0
    }
}

/// What the policy decides for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// How much to record.
    pub level: Level,
    /// Stages not written.
    pub omit_stages: StageSet,
    /// Whether `metadata.managedFields` is dropped from recorded bodies.
    pub omit_managed_fields: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyFile {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    rules: Vec<RuleFile>,
    #[serde(default)]
    omit_stages: Vec<String>,
    #[serde(default)]
    omit_managed_fields: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleFile {
    #[serde(default)]
    level: String,
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    user_groups: Vec<String>,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    resources: Vec<GroupResources>,
    #[serde(default)]
    namespaces: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    non_resource_urls: Vec<String>,
    #[serde(default)]
    omit_stages: Vec<String>,
    #[serde(default)]
    omit_managed_fields: Option<bool>,
}

/// Resources of one group a rule names.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GroupResources {
    /// The group (`""` for core, `*` for any).
    #[serde(default)]
    pub group: String,
    /// Resources (`pods`, `pods/log`, `*`, `*/status`, `pods/*`); empty: all of the group.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Object names; empty: any.
    #[serde(default)]
    pub resource_names: Vec<String>,
}

/// One validated rule.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    level: Level,
    users: Vec<String>,
    user_groups: Vec<String>,
    verbs: Vec<String>,
    resources: Vec<GroupResources>,
    namespaces: Vec<String>,
    non_resource_urls: Vec<String>,
    omit_stages: StageSet,
    omit_managed_fields: bool,
}

/// A loaded policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    rules: Vec<Rule>,
    omit_stages: StageSet,
    omit_managed_fields: bool,
}

impl Policy {
    /// Reads and validates `path`.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("failed to read audit policy file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and validates a policy document (YAML or JSON).
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: PolicyFile =
            serde_saphyr::from_str(text).map_err(|e| format!("failed decoding: {e}"))?;
        if file.kind != "Policy" || file.api_version != "audit.k8s.io/v1" {
            return Err(format!(
                "the audit policy must be kind Policy of apiVersion audit.k8s.io/v1, not {:?} of {:?}",
                file.kind, file.api_version
            ));
        }
        let mut errs = Vec::new();
        let omit_stages = stages(&file.omit_stages, "omitStages", &mut errs);
        let mut rules = Vec::new();
        for (i, r) in file.rules.into_iter().enumerate() {
            let at = format!("rules[{i}]");
            let level = match Level::parse(&r.level) {
                Some(l) => l,
                None if r.level.is_empty() => {
                    errs.push(format!("{at}.level: Required value"));
                    Level::None
                }
                None => {
                    errs.push(format!(
                        "{at}.level: Unsupported value: {:?}: supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\"",
                        r.level
                    ));
                    Level::None
                }
            };
            if !r.non_resource_urls.is_empty()
                && (!r.resources.is_empty() || !r.namespaces.is_empty())
            {
                errs.push(format!(
                    "{at}.nonResourceURLs: Invalid value: {:?}: rules cannot apply to both regular resources and non-resource URLs",
                    r.non_resource_urls
                ));
            }
            for (j, u) in r.non_resource_urls.iter().enumerate() {
                if !u.starts_with('/') && u != "*" {
                    errs.push(format!(
                        "{at}.nonResourceURLs[{j}]: Invalid value: {u:?}: non-resource URL rules must begin with a '/' character"
                    ));
                }
            }
            for (j, gr) in r.resources.iter().enumerate() {
                if gr.group.contains('/') {
                    errs.push(format!(
                        "{at}.resources[{j}].group: Invalid value: {:?}: group may not contain '/'",
                        gr.group
                    ));
                }
                if !gr.resource_names.is_empty() && gr.resources.is_empty() {
                    errs.push(format!(
                        "{at}.resources[{j}].resourceNames: Invalid value: {:?}: using resourceNames requires at least one resource",
                        gr.resource_names
                    ));
                }
            }
            let own = stages(&r.omit_stages, &format!("{at}.omitStages"), &mut errs);
            rules.push(Rule {
                level,
                users: r.users,
                user_groups: r.user_groups,
                verbs: r.verbs,
                resources: r.resources,
                namespaces: r.namespaces,
                non_resource_urls: r.non_resource_urls,
                omit_stages: StageSet(own.0 | omit_stages.0),
                omit_managed_fields: r.omit_managed_fields.unwrap_or(file.omit_managed_fields),
            });
        }
        if !errs.is_empty() {
            return Err(errs.join(", "));
        }
        if rules.is_empty() {
            return Err("loaded illegal policy with 0 rules".into());
        }
        Ok(Self {
            rules,
            omit_stages,
            omit_managed_fields: file.omit_managed_fields,
        })
    }

    /// The first matching rule's level and stages; `None` when no rule matches.
    pub fn evaluate(&self, user: &UserInfo, info: &RequestInfo) -> Decision {
        for r in &self.rules {
            if r.matches(user, info) {
                return Decision {
                    level: r.level,
                    omit_stages: r.omit_stages,
                    omit_managed_fields: r.omit_managed_fields,
                };
            }
        }
        Decision {
            level: Level::None,
            omit_stages: self.omit_stages,
            omit_managed_fields: self.omit_managed_fields,
        }
    }
}

fn stages(names: &[String], at: &str, errs: &mut Vec<String>) -> StageSet {
    let mut set = StageSet::default();
    for (i, n) in names.iter().enumerate() {
        match Stage::ALL.iter().find(|s| s.as_str() == n) {
            Some(s) => set.0 |= s.bit(),
            None => errs.push(format!(
                "{at}[{i}]: Unsupported value: {n:?}: supported values: \"RequestReceived\", \"ResponseStarted\", \"ResponseComplete\", \"Panic\""
            )),
        }
    }
    set
}

impl Rule {
    fn matches(&self, user: &UserInfo, info: &RequestInfo) -> bool {
        if !self.users.is_empty() && !self.users.contains(&user.name) {
            return false;
        }
        if !self.user_groups.is_empty() && !user.groups.iter().any(|g| self.user_groups.contains(g))
        {
            return false;
        }
        if !self.verbs.is_empty() && !self.verbs.contains(&info.verb) {
            return false;
        }
        if !self.namespaces.is_empty() || !self.resources.is_empty() {
            return self.matches_resource(info);
        }
        if !self.non_resource_urls.is_empty() {
            return !info.is_resource_request
                && self
                    .non_resource_urls
                    .iter()
                    .any(|spec| path_matches(&info.path, spec));
        }
        true
    }

    fn matches_resource(&self, info: &RequestInfo) -> bool {
        if !info.is_resource_request {
            return false;
        }
        // Cluster-scoped resources have the empty namespace.
        if !self.namespaces.is_empty() && !self.namespaces.contains(&info.namespace) {
            return false;
        }
        if self.resources.is_empty() {
            return true;
        }
        let (resource, sub) = (info.resource.as_str(), info.subresource.as_str());
        let combined = if sub.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}/{sub}")
        };
        self.resources.iter().any(|gr| {
            (gr.group == info.api_group || gr.group == "*")
                && (gr.resources.is_empty()
                    || gr.resources.iter().any(|res| {
                        (gr.resource_names.is_empty() || gr.resource_names.contains(&info.name))
                            && (*res == combined
                                || res == "*"
                                || (!sub.is_empty() && res.strip_prefix("*/") == Some(sub))
                                || res.strip_suffix("/*") == Some(resource))
                    }))
        })
    }
}

fn path_matches(path: &str, spec: &str) -> bool {
    spec == "*"
        || spec == path
        || spec
            .strip_suffix('*')
            .is_some_and(|prefix| path.starts_with(prefix.trim_end_matches('*')))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use http::Method;

    use super::*;

    fn user(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..UserInfo::default()
        }
    }

    const POLICY: &str = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  users: ["system:kube-proxy"]
- level: None
  nonResourceURLs: ["/healthz*", "/version"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps"]
    resourceNames: ["audited"]
- level: Request
  verbs: ["create", "update"]
  resources:
  - group: ""
    resources: ["*/status", "secrets"]
  namespaces: ["kube-system"]
  omitStages: ["ResponseComplete"]
- level: Metadata
  userGroups: ["system:authenticated"]
"#;

    fn decide(p: &Policy, u: &UserInfo, method: Method, path: &str) -> Decision {
        p.evaluate(u, &RequestInfo::resolve(&method, path, None))
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let p = Policy::parse(POLICY).unwrap();
        let alice = user("alice", &["system:authenticated"]);
        let d = decide(
            &p,
            &user("system:kube-proxy", &["system:authenticated"]),
            Method::GET,
            "/api/v1/pods",
        );
        assert_eq!(d.level, Level::None);
        assert_eq!(
            decide(&p, &alice, Method::GET, "/healthz/etcd").level,
            Level::None
        );
        assert_eq!(
            decide(&p, &alice, Method::GET, "/version").level,
            Level::None
        );
        assert_eq!(
            decide(&p, &alice, Method::GET, "/versionz").level,
            Level::Metadata
        );
        assert_eq!(
            decide(
                &p,
                &alice,
                Method::GET,
                "/api/v1/namespaces/d/configmaps/audited"
            )
            .level,
            Level::RequestResponse
        );
        assert_eq!(
            decide(
                &p,
                &alice,
                Method::GET,
                "/api/v1/namespaces/d/configmaps/other"
            )
            .level,
            Level::Metadata
        );
        let d = decide(
            &p,
            &alice,
            Method::PUT,
            "/api/v1/namespaces/kube-system/pods/p/status",
        );
        assert_eq!(d.level, Level::Request);
        assert!(d.omit_stages.contains(Stage::ResponseComplete));
        assert!(
            d.omit_stages.contains(Stage::RequestReceived),
            "the policy's stages join"
        );
        assert_eq!(
            decide(
                &p,
                &alice,
                Method::PUT,
                "/api/v1/namespaces/default/pods/p/status"
            )
            .level,
            Level::Metadata
        );
        assert_eq!(
            decide(&p, &user("anon", &[]), Method::GET, "/api/v1/pods").level,
            Level::None
        );
    }

    #[test]
    fn invalid_policies_are_refused_with_upstreams_messages() {
        let e = Policy::parse("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n")
            .unwrap_err();
        assert!(
            e.contains("rules[0].level: Unsupported value: \"Loud\""),
            "{e}"
        );
        let e = Policy::parse("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: [\"/x\"]\n  namespaces: [\"a\"]\n").unwrap_err();
        assert!(
            e.contains("rules cannot apply to both regular resources and non-resource URLs"),
            "{e}"
        );
        let e = Policy::parse("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  omitStages: [\"Later\"]\n").unwrap_err();
        assert!(
            e.contains("rules[0].omitStages[0]: Unsupported value: \"Later\""),
            "{e}"
        );
        let e =
            Policy::parse("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []\n").unwrap_err();
        assert!(e.contains("0 rules"), "{e}");
        let e = Policy::parse("apiVersion: v1\nkind: ConfigMap\n").unwrap_err();
        assert!(e.contains("kind Policy"), "{e}");
    }
}
