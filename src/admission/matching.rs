//! What decides whether a webhook or a policy applies to a request, shared by both: rules
//! (upstream's `webhook/predicates/rules`: operations, groups, versions,
//! `resource/subresource` with wildcards, scope, and for policies `resourceNames`) and the
//! namespace and object label selectors.

use serde_json::{Map, Value};

use crate::registry::kinds::Object;
use crate::registry::store::Attributes;
use crate::request::selector::{label_selector_string, LabelSelector};

/// One `rules[]` (or `resourceRules[]`) entry.
#[derive(Debug, Clone, Default)]
pub struct Rule {
    operations: Vec<String>,
    groups: Vec<String>,
    versions: Vec<String>,
    resources: Vec<String>,
    scope: String,
    names: Vec<String>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

impl Rule {
    /// The rule `r` (its JSON).
    pub fn parse(r: &Value) -> Self {
        Self {
            operations: strings(r.get("operations")),
            groups: strings(r.get("apiGroups")),
            versions: strings(r.get("apiVersions")),
            resources: strings(r.get("resources")),
            scope: r
                .get("scope")
                .and_then(Value::as_str)
                .unwrap_or("*")
                .to_string(),
            names: strings(r.get("resourceNames")),
        }
    }

    /// The rules of a list (`rules`, `resourceRules`, ...).
    pub fn parse_all(v: Option<&Value>) -> Vec<Self> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(Self::parse)
            .collect()
    }

    /// Whether the rule covers the request (upstream's `Matcher.Matches`); `name` is the
    /// object's (for `resourceNames`).
    pub fn matches(&self, attrs: &Attributes<'_>, name: &str) -> bool {
        let r = attrs.resource;
        let sub = attrs.request.subresource.map_or("", |s| s.name());
        has(&self.operations, attrs.operation.label())
            && has(&self.groups, r.group)
            && has(&self.versions, r.version)
            && self.resource(r.plural, sub)
            && self.scope(attrs)
            && (self.names.is_empty() || self.names.iter().any(|n| n == name))
    }

    fn resource(&self, resource: &str, sub: &str) -> bool {
        self.resources.iter().any(|rs| {
            if rs == "*/*" {
                return true;
            }
            match rs.split_once('/') {
                None => sub.is_empty() && (rs == "*" || rs == resource),
                Some((res, s)) => (res == "*" || res == resource) && (s == "*" || s == sub),
            }
        })
    }

    fn scope(&self, attrs: &Attributes<'_>) -> bool {
        let namespace_object = is_namespace(attrs);
        match self.scope.as_str() {
            "Namespaced" => !namespace_object && attrs.request.namespace.is_some(),
            "Cluster" => namespace_object || attrs.request.namespace.is_none(),
            _ => true,
        }
    }
}

/// Whether the request writes a Namespace object itself.
pub fn is_namespace(attrs: &Attributes<'_>) -> bool {
    attrs.resource.group.is_empty() && attrs.resource.plural == "namespaces"
}

/// A `metav1.LabelSelector` field, parsed (absent: everything).
pub fn selector(v: Option<&Value>) -> Result<LabelSelector, String> {
    match v {
        Some(s) if s.is_object() => LabelSelector::parse(&label_selector_string(s)),
        _ => Ok(LabelSelector::default()),
    }
}

/// An object's labels.
pub fn labels(o: Option<&Object>) -> Option<&Map<String, Value>> {
    o.and_then(|o| o.get("metadata"))
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
}

/// upstream's object matcher: the selector matches the new or the old object's labels.
pub fn object_matches(sel: &LabelSelector, new: Option<&Object>, old: Option<&Object>) -> bool {
    sel.is_empty()
        || [new, old]
            .into_iter()
            .flatten()
            .any(|o| sel.matches(labels(Some(o))))
}
