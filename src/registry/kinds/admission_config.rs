//! admissionregistration.k8s.io's configuration kinds: Mutating- and
//! ValidatingWebhookConfiguration, ValidatingAdmissionPolicy and its bindings. upstream's v1
//! defaults (`failurePolicy: Fail`, `matchPolicy: Equivalent`, empty selectors, rule scope
//! `*`, `timeoutSeconds: 10`, `reinvocationPolicy: Never`, service port 443), the generation
//! bump when the webhooks change, and the checks of upstream's
//! `pkg/apis/admissionregistration/validation` that keep the admission chain sound: webhook
//! names, rules, client configuration, side effects, review versions, timeouts, policies,
//! and CEL expressions that compile.

use serde_json::{json, Value};

use super::{KindHooks, Object};
use crate::api::resources::Subresource;
use crate::api::validation::{self, FieldError};

/// The hooks of the four configuration kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdmissionConfigHooks {
    /// `MutatingWebhookConfiguration`.
    MutatingWebhooks,
    /// `ValidatingWebhookConfiguration`.
    ValidatingWebhooks,
    /// `ValidatingAdmissionPolicy`.
    Policy,
    /// `ValidatingAdmissionPolicyBinding`.
    PolicyBinding,
}

impl AdmissionConfigHooks {
    /// The hooks of `kind`, if it is one of the four.
    pub fn for_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            "MutatingWebhookConfiguration" => Self::MutatingWebhooks,
            "ValidatingWebhookConfiguration" => Self::ValidatingWebhooks,
            "ValidatingAdmissionPolicy" => Self::Policy,
            "ValidatingAdmissionPolicyBinding" => Self::PolicyBinding,
            _ => return None,
        })
    }
}

fn default_to(obj: &mut Value, key: &str, v: Value) {
    if let Some(m) = obj.as_object_mut() {
        if m.get(key).is_none_or(Value::is_null) {
            m.insert(key.into(), v);
        }
    }
}

fn each_mut(v: Option<&mut Value>) -> impl Iterator<Item = &mut Value> {
    v.and_then(Value::as_array_mut).into_iter().flatten()
}

fn default_rules(rules: Option<&mut Value>) {
    for r in each_mut(rules) {
        default_to(r, "scope", json!("*"));
    }
}

/// A `MatchResources` (policies and bindings).
fn default_match_resources(m: &mut Value) {
    default_to(m, "matchPolicy", json!("Equivalent"));
    default_to(m, "namespaceSelector", json!({}));
    default_to(m, "objectSelector", json!({}));
    default_rules(m.get_mut("resourceRules"));
    default_rules(m.get_mut("excludeResourceRules"));
}

impl KindHooks for AdmissionConfigHooks {
    fn defaults(&self, obj: &mut Object) {
        match self {
            Self::MutatingWebhooks | Self::ValidatingWebhooks => {
                for w in each_mut(obj.get_mut("webhooks")) {
                    default_to(w, "failurePolicy", json!("Fail"));
                    default_to(w, "matchPolicy", json!("Equivalent"));
                    default_to(w, "namespaceSelector", json!({}));
                    default_to(w, "objectSelector", json!({}));
                    default_to(w, "timeoutSeconds", json!(10));
                    if *self == Self::MutatingWebhooks {
                        default_to(w, "reinvocationPolicy", json!("Never"));
                    }
                    default_rules(w.get_mut("rules"));
                    if let Some(s) = w
                        .get_mut("clientConfig")
                        .and_then(|c| c.get_mut("service"))
                        .filter(|s| s.is_object())
                    {
                        default_to(s, "port", json!(443));
                    }
                }
            }
            Self::Policy => {
                if let Some(spec) = obj.get_mut("spec").filter(|s| s.is_object()) {
                    default_to(spec, "failurePolicy", json!("Fail"));
                    if let Some(m) = spec.get_mut("matchConstraints").filter(|m| m.is_object()) {
                        default_match_resources(m);
                    }
                }
            }
            Self::PolicyBinding => {
                if let Some(m) = obj
                    .get_mut("spec")
                    .and_then(|s| s.get_mut("matchResources"))
                    .filter(|m| m.is_object())
                {
                    default_match_resources(m);
                }
            }
        }
    }

    fn prepare_update(&self, sub: Option<Subresource>, obj: &mut Object, old: &Object) {
        // The generic strategy bumps the generation when `spec` changes; webhook
        // configurations keep theirs in `webhooks`.
        if sub.is_some() || !matches!(self, Self::MutatingWebhooks | Self::ValidatingWebhooks) {
            return;
        }
        if obj.get("webhooks") != old.get("webhooks") {
            let g = old
                .get("metadata")
                .and_then(|m| m.get("generation"))
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("generation".into(), Value::from(g));
            }
        }
    }

    fn validate(&self, obj: &Object) -> Vec<FieldError> {
        match self {
            Self::MutatingWebhooks => validate_webhooks(obj, true),
            Self::ValidatingWebhooks => validate_webhooks(obj, false),
            Self::Policy => validate_policy(obj),
            Self::PolicyBinding => validate_binding(obj),
        }
    }
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn list_value(items: &[&str]) -> Value {
    Value::from(items.to_vec())
}

/// upstream's `IsFullyQualifiedName`: a DNS subdomain of at least three labels.
fn fully_qualified_name(field: &str, name: &str) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required(field, "")];
    }
    let mut errs: Vec<FieldError> = validation::dns1123_subdomain(name)
        .into_iter()
        .map(|m| {
            FieldError::invalid(
                field,
                name,
                format!("should be a domain with at least three segments separated by dots; {m}"),
            )
        })
        .collect();
    if errs.is_empty() && name.split('.').count() < 3 {
        errs.push(FieldError::invalid(
            field,
            name,
            "should be a domain with at least three segments separated by dots",
        ));
    }
    errs
}

const OPERATIONS: &[&str] = &["*", "CONNECT", "CREATE", "DELETE", "UPDATE"];

/// A `RuleWithOperations` (webhooks, and policies' `resourceRules`).
fn validate_rule(r: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let ops = strs(r.get("operations"));
    if ops.is_empty() {
        errs.push(FieldError::required(format!("{path}.operations"), ""));
    }
    if ops.len() > 1 && ops.contains(&"*") {
        errs.push(FieldError::invalid_value(
            format!("{path}.operations"),
            &list_value(&ops),
            "if '*' is present, must not specify other operations",
        ));
    }
    for (i, op) in ops.iter().enumerate() {
        if !OPERATIONS.contains(op) {
            errs.push(FieldError::not_supported(
                format!("{path}.operations[{i}]"),
                op,
                OPERATIONS,
            ));
        }
    }
    let groups = strs(r.get("apiGroups"));
    if r.get("apiGroups")
        .is_none_or(|g| g.as_array().is_none_or(Vec::is_empty))
    {
        errs.push(FieldError::required(format!("{path}.apiGroups"), ""));
    }
    if groups.len() > 1 && groups.contains(&"*") {
        errs.push(FieldError::invalid_value(
            format!("{path}.apiGroups"),
            &list_value(&groups),
            "if '*' is present, must not specify other API groups",
        ));
    }
    let versions = strs(r.get("apiVersions"));
    if versions.is_empty() {
        errs.push(FieldError::required(format!("{path}.apiVersions"), ""));
    }
    if versions.len() > 1 && versions.contains(&"*") {
        errs.push(FieldError::invalid_value(
            format!("{path}.apiVersions"),
            &list_value(&versions),
            "if '*' is present, must not specify other API versions",
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        if v.is_empty() {
            errs.push(FieldError::required(format!("{path}.apiVersions[{i}]"), ""));
        }
    }
    validate_resources(
        &strs(r.get("resources")),
        &format!("{path}.resources"),
        errs,
    );
    if let Some(scope) = r.get("scope").and_then(Value::as_str) {
        const SCOPES: &[&str] = &["*", "Cluster", "Namespaced"];
        if !SCOPES.contains(&scope) {
            errs.push(FieldError::not_supported(
                format!("{path}.scope"),
                scope,
                SCOPES,
            ));
        }
    }
}

fn validate_resources(resources: &[&str], path: &str, errs: &mut Vec<FieldError>) {
    if resources.is_empty() {
        errs.push(FieldError::required(path, ""));
    }
    let mut wild_sub = std::collections::HashSet::new();
    let mut wild_res = std::collections::HashSet::new();
    let (mut double, mut single, mut plain) = (false, false, false);
    for (i, rs) in resources.iter().enumerate() {
        if rs.is_empty() {
            errs.push(FieldError::required(format!("{path}[{i}]"), ""));
            continue;
        }
        double |= *rs == "*/*";
        single |= *rs == "*";
        let Some((res, sub)) = rs.split_once('/') else {
            plain = *rs != "*";
            continue;
        };
        if wild_sub.contains(res) {
            errs.push(FieldError::invalid(
                format!("{path}[{i}]"),
                rs,
                format!("if '{res}/*' is present, must not specify {rs}"),
            ));
        }
        if wild_res.contains(sub) {
            errs.push(FieldError::invalid(
                format!("{path}[{i}]"),
                rs,
                format!("if '*/{sub}' is present, must not specify {rs}"),
            ));
        }
        if sub == "*" {
            wild_sub.insert(res);
        }
        if res == "*" {
            wild_res.insert(sub);
        }
    }
    if resources.len() > 1 && double {
        errs.push(FieldError::invalid_value(
            path,
            &list_value(resources),
            "if '*/*' is present, must not specify other resources",
        ));
    }
    if single && plain {
        errs.push(FieldError::invalid_value(
            path,
            &list_value(resources),
            "if '*' is present, must not specify other resources without subresources",
        ));
    }
}

/// upstream's `ValidateWebhookURL` (https only).
fn validate_url(url: &str, path: &str, errs: &mut Vec<FieldError>) {
    const FORM: &str = "; desired format: https://host[/path]";
    let u = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => {
            errs.push(FieldError::required(
                path,
                &format!("url must be a valid URL: {e}{FORM}"),
            ));
            return;
        }
    };
    if u.scheme() != "https" {
        errs.push(FieldError::invalid(
            path,
            u.scheme(),
            format!("'https' is the only allowed URL scheme{FORM}"),
        ));
    }
    if u.host_str().is_none_or(str::is_empty) {
        errs.push(FieldError::invalid(
            path,
            "",
            format!("host must be specified{FORM}"),
        ));
    }
    if !u.username().is_empty() || u.password().is_some() {
        errs.push(FieldError::invalid(
            path,
            u.username(),
            "user information is not permitted in the URL",
        ));
    }
    if let Some(f) = u.fragment() {
        errs.push(FieldError::invalid(
            path,
            f,
            "fragments are not permitted in the URL",
        ));
    }
    if let Some(q) = u.query() {
        errs.push(FieldError::invalid(
            path,
            q,
            "query parameters are not permitted in the URL",
        ));
    }
}

/// upstream's `ValidateWebhookService`.
fn validate_service(s: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for f in ["name", "namespace"] {
        if s.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
            errs.push(FieldError::required(format!("{path}.{f}"), ""));
        }
    }
    let port = s.get("port").and_then(Value::as_i64).unwrap_or(443);
    if !(1..=65535).contains(&port) {
        errs.push(FieldError::invalid_value(
            format!("{path}.port"),
            &Value::from(port),
            "port is not valid: must be between 1 and 65535, inclusive",
        ));
    }
    let Some(p) = s.get("path").and_then(Value::as_str) else {
        return;
    };
    if p.is_empty() || p == "/" {
        return;
    }
    let field = format!("{path}.path");
    if !p.starts_with('/') {
        errs.push(FieldError::invalid(&field, p, "must start with a '/'"));
    }
    let inner = p.strip_prefix('/').unwrap_or(p);
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    for (i, step) in inner.split('/').enumerate() {
        if step.is_empty() {
            errs.push(FieldError::invalid(
                &field,
                p,
                format!("segment[{i}] may not be empty"),
            ));
            continue;
        }
        for m in validation::dns1123_subdomain(step) {
            errs.push(FieldError::invalid(&field, p, format!("segment[{i}]: {m}")));
        }
    }
}

fn not_supported_opt(
    w: &Value,
    key: &str,
    path: &str,
    allowed: &[&str],
    errs: &mut Vec<FieldError>,
) {
    if let Some(v) = w.get(key).and_then(Value::as_str) {
        if !allowed.contains(&v) {
            errs.push(FieldError::not_supported(
                format!("{path}.{key}"),
                v,
                allowed,
            ));
        }
    }
}

/// `matchConditions`: at most 64, named (qualified names, unique), each compiling.
fn validate_match_conditions(v: Option<&Value>, path: &str, errs: &mut Vec<FieldError>) {
    let conds = v.and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
    if conds.len() > 64 {
        errs.push(FieldError {
            reason: "FieldValueTooMany",
            field: path.into(),
            message: format!("Too many: {}: must have at most 64 items", conds.len()),
        });
    }
    let mut names = std::collections::HashSet::new();
    for (i, c) in conds.iter().enumerate() {
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
        let field = format!("{path}[{i}].name");
        if name.is_empty() {
            errs.push(FieldError::required(&field, ""));
        } else {
            for m in validation::qualified_name(name) {
                errs.push(FieldError::invalid(&field, name, m));
            }
            if !names.insert(name) {
                errs.push(FieldError::duplicate(&field, name));
            }
        }
        validate_expression(
            c.get("expression"),
            &format!("{path}[{i}].expression"),
            errs,
        );
    }
}

fn validate_expression(e: Option<&Value>, field: &str, errs: &mut Vec<FieldError>) {
    match e.and_then(Value::as_str).unwrap_or_default() {
        "" => errs.push(FieldError::required(field, "")),
        src => {
            if let Err(m) = crate::cel::Expression::compile(src) {
                errs.push(FieldError::invalid(field, src, m));
            }
        }
    }
}

fn validate_webhooks(obj: &Object, mutating: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut names = std::collections::HashSet::new();
    let hooks = obj
        .get("webhooks")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (i, w) in hooks.iter().enumerate() {
        let path = format!("webhooks[{i}]");
        let name = w.get("name").and_then(Value::as_str).unwrap_or_default();
        errs.extend(fully_qualified_name(&format!("{path}.name"), name));
        for (j, r) in w
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            validate_rule(r, &format!("{path}.rules[{j}]"), &mut errs);
        }
        not_supported_opt(w, "failurePolicy", &path, &["Fail", "Ignore"], &mut errs);
        not_supported_opt(w, "matchPolicy", &path, &["Equivalent", "Exact"], &mut errs);
        match w.get("sideEffects").and_then(Value::as_str) {
            None => errs.push(FieldError::required(
                format!("{path}.sideEffects"),
                "must specify one of None, NoneOnDryRun",
            )),
            Some(s) if !matches!(s, "None" | "NoneOnDryRun") => {
                errs.push(FieldError::not_supported(
                    format!("{path}.sideEffects"),
                    s,
                    &["None", "NoneOnDryRun"],
                ))
            }
            Some(_) => {}
        }
        if let Some(t) = w.get("timeoutSeconds").and_then(Value::as_i64) {
            if !(1..=30).contains(&t) {
                errs.push(FieldError::invalid_value(
                    format!("{path}.timeoutSeconds"),
                    &Value::from(t),
                    "the timeout value must be between 1 and 30 seconds",
                ));
            }
        }
        if mutating {
            not_supported_opt(
                w,
                "reinvocationPolicy",
                &path,
                &["IfNeeded", "Never"],
                &mut errs,
            );
        }
        let cc = w.get("clientConfig").unwrap_or(&Value::Null);
        match (
            cc.get("url").and_then(Value::as_str),
            cc.get("service").filter(|s| s.is_object()),
        ) {
            (Some(u), None) => validate_url(u, &format!("{path}.clientConfig.url"), &mut errs),
            (None, Some(s)) => {
                validate_service(s, &format!("{path}.clientConfig.service"), &mut errs)
            }
            _ => errs.push(FieldError::required(
                format!("{path}.clientConfig"),
                "exactly one of url or service is required",
            )),
        }
        validate_match_conditions(
            w.get("matchConditions"),
            &format!("{path}.matchConditions"),
            &mut errs,
        );
        let versions = strs(w.get("admissionReviewVersions"));
        let field = format!("{path}.admissionReviewVersions");
        if versions.is_empty() {
            errs.push(FieldError::required(
                &field,
                "must specify one of v1, v1beta1",
            ));
        } else if !versions.iter().any(|v| matches!(*v, "v1" | "v1beta1")) {
            errs.push(FieldError::invalid_value(
                &field,
                &list_value(&versions),
                "must include at least one of v1, v1beta1",
            ));
        }
        if !name.is_empty() && !names.insert(name) {
            errs.push(FieldError::duplicate(format!("{path}.name"), name));
        }
    }
    errs
}

fn validate_match_resources(m: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for key in ["resourceRules", "excludeResourceRules"] {
        for (j, r) in m
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            validate_rule(r, &format!("{path}.{key}[{j}]"), errs);
        }
    }
    not_supported_opt(m, "matchPolicy", path, &["Equivalent", "Exact"], errs);
}

fn validate_policy(obj: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    match spec.get("matchConstraints").filter(|m| m.is_object()) {
        None => errs.push(FieldError::required("spec.matchConstraints", "")),
        Some(m) => {
            if m.get("resourceRules")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            {
                errs.push(FieldError::required(
                    "spec.matchConstraints.resourceRules",
                    "",
                ));
            }
            validate_match_resources(m, "spec.matchConstraints", &mut errs);
        }
    }
    if let Some(pk) = spec.get("paramKind").filter(|p| p.is_object()) {
        for f in ["apiVersion", "kind"] {
            if pk.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                errs.push(FieldError::required(format!("spec.paramKind.{f}"), ""));
            }
        }
    }
    not_supported_opt(
        spec,
        "failurePolicy",
        "spec",
        &["Fail", "Ignore"],
        &mut errs,
    );
    let validations = spec.get("validations").and_then(Value::as_array);
    let audits = spec.get("auditAnnotations").and_then(Value::as_array);
    if validations.is_none_or(Vec::is_empty) && audits.is_none_or(Vec::is_empty) {
        errs.push(FieldError::required(
            "spec.validations",
            "validations or auditAnnotations must contain at least one item",
        ));
    }
    for (i, v) in validations.into_iter().flatten().enumerate() {
        let path = format!("spec.validations[{i}]");
        validate_expression(
            v.get("expression"),
            &format!("{path}.expression"),
            &mut errs,
        );
        if let Some(me) = v.get("messageExpression").and_then(Value::as_str) {
            if let Err(m) = crate::cel::Expression::compile(me) {
                errs.push(FieldError::invalid(
                    format!("{path}.messageExpression"),
                    me,
                    m,
                ));
            }
        }
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            if m.trim().is_empty() && !m.is_empty() {
                errs.push(FieldError::invalid(
                    format!("{path}.message"),
                    m,
                    "message must be non-empty if specified",
                ));
            }
            if m.contains('\n') {
                errs.push(FieldError::invalid(
                    format!("{path}.message"),
                    m,
                    "message must not contain line breaks",
                ));
            }
        }
        if let Some(r) = v.get("reason").and_then(Value::as_str) {
            const REASONS: &[&str] = &[
                "Forbidden",
                "Invalid",
                "RequestEntityTooLarge",
                "Unauthorized",
            ];
            if !REASONS.contains(&r) {
                errs.push(FieldError::not_supported(
                    format!("{path}.reason"),
                    r,
                    REASONS,
                ));
            }
        }
    }
    for (i, a) in audits.into_iter().flatten().enumerate() {
        let path = format!("spec.auditAnnotations[{i}]");
        if a.get("key")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            errs.push(FieldError::required(format!("{path}.key"), ""));
        }
        validate_expression(
            a.get("valueExpression"),
            &format!("{path}.valueExpression"),
            &mut errs,
        );
    }
    let mut names = std::collections::HashSet::new();
    for (i, v) in spec
        .get("variables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("spec.variables[{i}]");
        let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() {
            errs.push(FieldError::required(format!("{path}.name"), ""));
        } else if !names.insert(name) {
            errs.push(FieldError::duplicate(format!("{path}.name"), name));
        }
        validate_expression(
            v.get("expression"),
            &format!("{path}.expression"),
            &mut errs,
        );
    }
    validate_match_conditions(
        spec.get("matchConditions"),
        "spec.matchConditions",
        &mut errs,
    );
    errs
}

fn validate_binding(obj: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    if spec
        .get("policyName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        errs.push(FieldError::required("spec.policyName", ""));
    }
    let actions = strs(spec.get("validationActions"));
    if actions.is_empty() {
        errs.push(FieldError::required("spec.validationActions", ""));
    }
    const ACTIONS: &[&str] = &["Audit", "Deny", "Warn"];
    let mut seen = std::collections::HashSet::new();
    for (i, a) in actions.iter().enumerate() {
        let field = format!("spec.validationActions[{i}]");
        if !ACTIONS.contains(a) {
            errs.push(FieldError::not_supported(&field, a, ACTIONS));
        }
        if !seen.insert(*a) {
            errs.push(FieldError::duplicate(&field, a));
        }
    }
    if seen.contains("Deny") && seen.contains("Warn") {
        errs.push(FieldError::invalid_value(
            "spec.validationActions",
            &list_value(&actions),
            "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
        ));
    }
    if let Some(r) = spec.get("paramRef").filter(|r| r.is_object()) {
        let named = r
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        let selected = r.get("selector").is_some_and(Value::is_object);
        if named == selected {
            errs.push(FieldError::forbidden(
                "spec.paramRef.name",
                "name and selector are mutually exclusive",
            ));
        }
        match r.get("parameterNotFoundAction").and_then(Value::as_str) {
            None => errs.push(FieldError::required(
                "spec.paramRef.parameterNotFoundAction",
                "",
            )),
            Some(a) if !matches!(a, "Allow" | "Deny") => errs.push(FieldError::not_supported(
                "spec.paramRef.parameterNotFoundAction",
                a,
                &["Allow", "Deny"],
            )),
            Some(_) => {}
        }
    }
    if let Some(m) = spec.get("matchResources").filter(|m| m.is_object()) {
        validate_match_resources(m, "spec.matchResources", &mut errs);
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::super::testing::{messages, o};
    use super::*;

    fn hook(extra: Value) -> Value {
        let mut w = json!({
            "name": "deny.example.com",
            "clientConfig": {"url": "https://127.0.0.1:9443/deny"},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}],
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            w[k] = v.clone();
        }
        w
    }

    #[test]
    fn webhook_defaults_as_upstream() {
        let mut obj = o(
            json!({"webhooks": [hook(json!({"clientConfig": {"service": {"namespace": "a", "name": "b"}}}))]}),
        );
        AdmissionConfigHooks::MutatingWebhooks.defaults(&mut obj);
        let w = &obj["webhooks"][0];
        assert_eq!(w["failurePolicy"], "Fail");
        assert_eq!(w["matchPolicy"], "Equivalent");
        assert_eq!(w["timeoutSeconds"], 10);
        assert_eq!(w["reinvocationPolicy"], "Never");
        assert_eq!(w["namespaceSelector"], json!({}));
        assert_eq!(w["rules"][0]["scope"], "*");
        assert_eq!(w["clientConfig"]["service"]["port"], 443);
        assert!(AdmissionConfigHooks::MutatingWebhooks
            .validate(&obj)
            .is_empty());
    }

    #[test]
    fn webhook_errors_as_upstream() {
        let obj = o(json!({"webhooks": [
            hook(json!({"name": "short", "sideEffects": "Some", "timeoutSeconds": 31})),
            hook(json!({"clientConfig": {"url": "http://x/y?z=1"}, "admissionReviewVersions": ["v2"]})),
            hook(json!({"clientConfig": {}, "rules": [{"operations": ["*", "CREATE"], "apiGroups": [], "apiVersions": ["v1"], "resources": ["*", "pods"]}]})),
        ]}));
        let got = messages(&AdmissionConfigHooks::ValidatingWebhooks.validate(&obj));
        for want in [
            "webhooks[0].name: Invalid value: \"short\": should be a domain with at least three segments separated by dots",
            "webhooks[0].sideEffects: Unsupported value: \"Some\": supported values: \"None\", \"NoneOnDryRun\"",
            "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds",
            "webhooks[1].clientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
            "webhooks[1].clientConfig.url: Invalid value: \"z=1\": query parameters are not permitted in the URL",
            "webhooks[1].admissionReviewVersions: Invalid value: [\"v2\"]: must include at least one of v1, v1beta1",
            "webhooks[2].name: Duplicate value: \"deny.example.com\"",
            "webhooks[2].clientConfig: Required value: exactly one of url or service is required",
            "webhooks[2].rules[0].operations: Invalid value: [\"*\",\"CREATE\"]: if '*' is present, must not specify other operations",
            "webhooks[2].rules[0].apiGroups: Required value",
            "webhooks[2].rules[0].resources: Invalid value: [\"*\",\"pods\"]: if '*' is present, must not specify other resources without subresources",
        ] {
            assert!(got.iter().any(|g| g == want), "missing {want:?} in {got:#?}");
        }
    }

    #[test]
    fn a_changed_webhook_list_bumps_the_generation() {
        let old = o(json!({"metadata": {"generation": 1}, "webhooks": [hook(json!({}))]}));
        let mut same = old.clone();
        AdmissionConfigHooks::ValidatingWebhooks.prepare_update(None, &mut same, &old);
        assert_eq!(same["metadata"]["generation"], 1);
        let mut changed = o(json!({"metadata": {"generation": 1}, "webhooks": []}));
        AdmissionConfigHooks::ValidatingWebhooks.prepare_update(None, &mut changed, &old);
        assert_eq!(changed["metadata"]["generation"], 2);
    }

    #[test]
    fn policies_and_bindings_are_checked() {
        let p = o(json!({"spec": {"validations": [{"expression": "object.x >"}]}}));
        let got = messages(&AdmissionConfigHooks::Policy.validate(&p));
        assert!(
            got.contains(&"spec.matchConstraints: Required value".to_string()),
            "{got:?}"
        );
        assert!(
            got.iter().any(|g| g.starts_with(
                "spec.validations[0].expression: Invalid value: \"object.x >\": compilation failed"
            )),
            "{got:?}"
        );
        let b = o(
            json!({"spec": {"policyName": "p", "validationActions": ["Deny", "Warn"], "paramRef": {"name": "x"}}}),
        );
        let got = messages(&AdmissionConfigHooks::PolicyBinding.validate(&b));
        assert!(got.iter().any(|g| g.starts_with("spec.validationActions: Invalid value: [\"Deny\",\"Warn\"]: must not contain both Deny and Warn")), "{got:?}");
        assert!(
            got.contains(&"spec.paramRef.parameterNotFoundAction: Required value".to_string()),
            "{got:?}"
        );
    }
}
