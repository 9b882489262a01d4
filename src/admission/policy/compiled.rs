//! ValidatingAdmissionPolicies and their bindings, compiled once per revision of either kind:
//! match constraints, CEL match conditions, variables, validations (with their messages and
//! reasons) and audit annotations; a binding's policy, param reference, match resources and
//! validation actions. An expression that does not compile makes its policy a configuration
//! error, which `failurePolicy` decides about when the policy matches.

use serde_json::Value;

use crate::admission::matching::{self, Rule};
use crate::api::resources::{ApiResource, RESOURCES};
use crate::api::status::Reason;
use crate::cel::Expression;
use crate::registry::store::Attributes;
use crate::request::selector::LabelSelector;

/// A `MatchResources`: what a policy (or a binding, further) applies to.
#[derive(Debug, Default)]
pub struct MatchResources {
    /// `namespaceSelector`.
    pub namespace_selector: LabelSelector,
    /// `objectSelector`.
    pub object_selector: LabelSelector,
    rules: Vec<Rule>,
    exclude: Vec<Rule>,
}

impl MatchResources {
    fn parse(m: Option<&Value>) -> Result<Self, String> {
        let Some(m) = m.filter(|m| m.is_object()) else {
            return Ok(Self::default());
        };
        Ok(Self {
            namespace_selector: matching::selector(m.get("namespaceSelector"))?,
            object_selector: matching::selector(m.get("objectSelector"))?,
            rules: Rule::parse_all(m.get("resourceRules")),
            exclude: Rule::parse_all(m.get("excludeResourceRules")),
        })
    }

    /// The rule part of upstream's matcher: not excluded, and covered by a rule (no rules:
    /// everything, for a binding's).
    pub fn rules_match(&self, attrs: &Attributes<'_>, name: &str) -> bool {
        !self.exclude.iter().any(|r| r.matches(attrs, name))
            && (self.rules.is_empty() || self.rules.iter().any(|r| r.matches(attrs, name)))
    }
}

/// One `validations[]` entry.
#[derive(Debug)]
pub struct Validation {
    /// `expression` (Err: why it does not compile).
    pub expression: Result<Expression, String>,
    /// The expression's text (for `failed expression: ...`).
    pub source: String,
    /// `message`.
    pub message: String,
    /// `messageExpression`.
    pub message_expression: Option<Expression>,
    /// `reason` (default `Invalid`).
    pub reason: Reason,
}

/// The kind a policy's params are, resolved to the resource that serves it.
#[derive(Debug)]
pub struct ParamKind {
    /// `apiVersion/kind` as written.
    pub api_version: String,
    /// The kind.
    pub kind: String,
    /// The resource (None: kubeshard serves no such kind).
    pub resource: Option<&'static ApiResource>,
}

/// A compiled policy.
#[derive(Debug)]
pub struct Policy {
    /// Its name.
    pub name: String,
    /// `paramKind`.
    pub param_kind: Option<ParamKind>,
    /// `matchConstraints`.
    pub constraints: MatchResources,
    /// `matchConditions`.
    pub conditions: Vec<(String, Result<Expression, String>)>,
    /// `variables`, in order.
    pub variables: Vec<(String, Result<Expression, String>)>,
    /// `validations`.
    pub validations: Vec<Validation>,
    /// `auditAnnotations`: key and value expression.
    pub audit_annotations: Vec<(String, Result<Expression, String>)>,
    /// `failurePolicy: Fail` (else Ignore).
    pub fail_closed: bool,
    /// Why the policy cannot be used as written (a selector that does not parse).
    pub config_error: Option<String>,
}

fn named_expressions(
    v: Option<&Value>,
    key: &str,
    expr: &str,
) -> Vec<(String, Result<Expression, String>)> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            let name = e.get(key).and_then(Value::as_str).unwrap_or_default();
            let src = e.get(expr).and_then(Value::as_str).unwrap_or_default();
            (name.to_string(), Expression::compile(src))
        })
        .collect()
}

fn kind_resource(api_version: &str, kind: &str) -> Option<&'static ApiResource> {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.kind == kind && r.stored)
}

impl Policy {
    /// The policy `o` (its JSON).
    pub fn compile(o: &Value) -> Self {
        let name = o
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let spec = o.get("spec").unwrap_or(&Value::Null);
        let (constraints, config_error) = match MatchResources::parse(spec.get("matchConstraints"))
        {
            Ok(m) => (m, None),
            Err(e) => (MatchResources::default(), Some(e)),
        };
        let param_kind = spec.get("paramKind").filter(|p| p.is_object()).map(|p| {
            let s = |k: &str| {
                p.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let (api_version, kind) = (s("apiVersion"), s("kind"));
            ParamKind {
                resource: kind_resource(&api_version, &kind),
                api_version,
                kind,
            }
        });
        let validations = spec
            .get("validations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| {
                let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
                Validation {
                    expression: Expression::compile(s("expression")),
                    source: s("expression").trim().to_string(),
                    message: s("message").trim().to_string(),
                    message_expression: v
                        .get("messageExpression")
                        .and_then(Value::as_str)
                        .and_then(|m| Expression::compile(m).ok()),
                    reason: Reason::from_wire(s("reason")).unwrap_or(Reason::Invalid),
                }
            })
            .collect();
        Self {
            name,
            param_kind,
            constraints,
            conditions: named_expressions(spec.get("matchConditions"), "name", "expression"),
            variables: named_expressions(spec.get("variables"), "name", "expression"),
            validations,
            audit_annotations: named_expressions(
                spec.get("auditAnnotations"),
                "key",
                "valueExpression",
            ),
            fail_closed: spec.get("failurePolicy").and_then(Value::as_str) != Some("Ignore"),
            config_error,
        }
    }
}

/// A binding's `paramRef`.
#[derive(Debug)]
pub struct ParamRef {
    /// `name` ("" with a selector).
    pub name: String,
    /// `namespace` ("" : the request's, for a namespaced param kind).
    pub namespace: String,
    /// `selector`.
    pub selector: Option<LabelSelector>,
    /// `parameterNotFoundAction: Deny`.
    pub deny_when_missing: bool,
}

/// A compiled binding.
#[derive(Debug)]
pub struct Binding {
    /// Its name.
    pub name: String,
    /// `policyName`.
    pub policy: String,
    /// `paramRef`.
    pub param_ref: Option<ParamRef>,
    /// `matchResources` (None: what the policy matches).
    pub matching: Option<MatchResources>,
    /// `validationActions` has Deny.
    pub deny: bool,
    /// ... Warn.
    pub warn: bool,
    /// ... Audit.
    pub audit: bool,
    /// The actions as written (for the audit annotation).
    pub actions: Vec<String>,
    /// Why the binding cannot be used as written.
    pub config_error: Option<String>,
}

impl Binding {
    /// The binding `o` (its JSON).
    pub fn compile(o: &Value) -> Self {
        let name = o
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let spec = o.get("spec").unwrap_or(&Value::Null);
        let mut config_error = None;
        let param_ref = spec.get("paramRef").filter(|p| p.is_object()).map(|p| {
            let s = |k: &str| {
                p.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let selector = match p.get("selector").filter(|s| s.is_object()) {
                Some(sel) => match matching::selector(Some(sel)) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        config_error = Some(e);
                        None
                    }
                },
                None => None,
            };
            ParamRef {
                name: s("name"),
                namespace: s("namespace"),
                selector,
                deny_when_missing: s("parameterNotFoundAction") == "Deny",
            }
        });
        let matching = match spec.get("matchResources").filter(|m| m.is_object()) {
            Some(m) => match MatchResources::parse(Some(m)) {
                Ok(m) => Some(m),
                Err(e) => {
                    config_error = Some(e);
                    None
                }
            },
            None => None,
        };
        let actions: Vec<String> = spec
            .get("validationActions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let has = |a: &str| actions.iter().any(|x| x == a);
        Self {
            name,
            policy: spec
                .get("policyName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            param_ref,
            matching,
            deny: has("Deny"),
            warn: has("Warn"),
            audit: has("Audit"),
            actions,
            config_error,
        }
    }
}
