//! `ValidatingAdmissionPolicy`: the CEL policies of `admissionregistration.k8s.io/v1` and
//! their bindings, evaluated in-process as upstream's `policy/validating` dispatcher does:
//! a policy's `matchConstraints` and a binding's `matchResources` (rules, excluded rules,
//! resource names, namespace and object selectors), params (`paramKind`, `paramRef` by name
//! or selector, in the request's namespace or the one named, `parameterNotFoundAction`),
//! `matchConditions`, `variables`, `validations` (`message`, `messageExpression`, `reason`),
//! `auditAnnotations`, the binding's `validationActions` (Deny: upstream's refusal; Warn: a
//! `Warning` header; Audit: the `validation.policy.admission.k8s.io/validation_failure`
//! annotation) and `failurePolicy` for what cannot be evaluated. Policies and bindings are
//! compiled once per change of the shard's replica, never per request.
//!
//! Not as upstream yet: CEL type checking against the schema (`status.typeChecking`), the
//! cost budget, the `authorizer` variable and Kubernetes' CEL extension libraries (the `cel`
//! module's limits); `matchPolicy: Equivalent` matches the request's own resource only.

pub mod compiled;

use std::rc::Rc;

use serde_json::{json, Map, Value};

use self::compiled::{Binding, MatchResources, Policy};
use crate::admission::matching;
use crate::admission::replica::{CompiledView, Replica};
use crate::admission::webhook::review;
use crate::api::resources::lookup;
use crate::api::status::{Reason, Status, StatusCause};
use crate::cel::Activation;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes};

/// A refusal on its way to the client.
struct Denial {
    policy: String,
    binding: Option<String>,
    message: String,
    reason: Reason,
}

/// What one validation (or condition, or annotation) decided.
enum Decision {
    Admit,
    Deny { message: String, reason: Reason },
}

/// The plugin on one shard.
pub struct PolicyAdmission {
    replica: Replica,
    policies: Option<CompiledView<Rc<Policy>>>,
    bindings: Option<CompiledView<Rc<Binding>>>,
}

impl std::fmt::Debug for PolicyAdmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyAdmission").finish_non_exhaustive()
    }
}

/// The variables every policy sees for one request (`object`, `oldObject`, `request`,
/// `namespaceObject`), converted to CEL once.
struct Inputs(Activation);

impl PolicyAdmission {
    /// The plugin reading the policies and bindings of `replica`.
    pub fn new(replica: Replica) -> Self {
        Self {
            policies: view(&replica, "validatingadmissionpolicies"),
            bindings: view(&replica, "validatingadmissionpolicybindings"),
            replica,
        }
    }

    async fn check(&self, attrs: Attributes<'_>, obj: Option<&Object>) -> Result<(), Status> {
        let (Some(pv), Some(bv)) = (&self.policies, &self.bindings) else {
            return Ok(());
        };
        if attrs.resource.group == "admissionregistration.k8s.io" {
            return Ok(());
        }
        let (reads, deadline) = (attrs.reads, attrs.request.deadline);
        let policies = pv
            .get(&self.replica, reads, deadline, |objs| {
                objs.iter().map(|o| Rc::new(Policy::compile(o))).collect()
            })
            .await?;
        if policies.is_empty() {
            return Ok(());
        }
        let bindings = bv
            .get(&self.replica, reads, deadline, |objs| {
                objs.iter().map(|o| Rc::new(Binding::compile(o))).collect()
            })
            .await?;
        let name = obj
            .or(attrs.old)
            .and_then(|o| o.get("metadata")?.get("name")?.as_str())
            .unwrap_or(attrs.name)
            .to_string();
        let mut denied = Vec::new();
        let mut failures = Vec::new();
        let mut inputs: Option<Inputs> = None;
        for p in policies.iter() {
            if !self.matches(&p.constraints, &attrs, obj, &name).await? {
                continue;
            }
            if let Some(e) = &p.config_error {
                config_error(
                    p,
                    None,
                    &format!("failed to configure policy: {e}"),
                    &mut denied,
                );
                continue;
            }
            for b in bindings.iter().filter(|b| b.policy == p.name) {
                if let Some(e) = &b.config_error {
                    config_error(
                        p,
                        Some(b),
                        &format!("failed to configure binding: {e}"),
                        &mut denied,
                    );
                    continue;
                }
                if let Some(m) = &b.matching {
                    if !self.matches(m, &attrs, obj, &name).await? {
                        continue;
                    }
                }
                let params = match self.params(p, b, &attrs).await {
                    Ok(ps) => ps,
                    Err(e) => {
                        config_error(
                            p,
                            Some(b),
                            &format!("failed to configure binding: {e}"),
                            &mut denied,
                        );
                        continue;
                    }
                };
                if inputs.is_none() {
                    inputs = Some(self.inputs(&attrs, obj).await?);
                }
                let Some(base) = inputs.as_ref() else {
                    continue;
                };
                for param in params {
                    for (i, d) in evaluate(p, &base.0, &param, &attrs).into_iter().enumerate() {
                        let Decision::Deny { message, reason } = d else {
                            continue;
                        };
                        if b.deny {
                            denied.push(Denial {
                                policy: p.name.clone(),
                                binding: Some(b.name.clone()),
                                message: message.clone(),
                                reason,
                            });
                        }
                        if b.warn {
                            attrs.request.warnings.add(&format!(
                                "Validation failed for ValidatingAdmissionPolicy '{}' with binding '{}': {message}",
                                p.name, b.name
                            ));
                        }
                        if b.audit {
                            failures.push(json!({"message": message, "policy": p.name,
                                "binding": b.name, "expressionIndex": i,
                                "validationActions": b.actions}));
                        }
                    }
                }
            }
        }
        if !failures.is_empty() {
            failures.truncate(50);
            attrs.request.annotate(
                "validation.policy.admission.k8s.io/validation_failure",
                &Value::from(failures).to_string(),
            );
        }
        match denied.into_iter().next() {
            None => Ok(()),
            Some(d) => Err(refusal(&attrs, &name, d)),
        }
    }

    /// upstream's policy matcher: namespace selector, object selector, then the rules.
    async fn matches(
        &self,
        m: &MatchResources,
        attrs: &Attributes<'_>,
        obj: Option<&Object>,
        name: &str,
    ) -> Result<bool, Status> {
        if !m.rules_match(attrs, name)
            || !matching::object_matches(&m.object_selector, obj, attrs.old)
        {
            return Ok(false);
        }
        if m.namespace_selector.is_empty() {
            return Ok(true);
        }
        if matching::is_namespace(attrs) {
            return Ok(m
                .namespace_selector
                .matches(matching::labels(obj.or(attrs.old))));
        }
        let Some(ns) = attrs.request.namespace.as_deref() else {
            return Ok(true);
        };
        let labels = self
            .replica
            .labels(attrs.reads, ns, attrs.request.deadline)
            .await?
            .ok_or_else(|| Status::internal_cause(format!("namespaces {ns:?} not found")))?;
        Ok(m.namespace_selector.matches(Some(&labels)))
    }

    /// The params a binding evaluates its policy with (`[null]`: none are used).
    async fn params(
        &self,
        p: &Policy,
        b: &Binding,
        attrs: &Attributes<'_>,
    ) -> Result<Vec<Value>, String> {
        let (Some(kind), Some(r)) = (&p.param_kind, &b.param_ref) else {
            return Ok(vec![Value::Null]);
        };
        let Some(res) = kind.resource else {
            return Err(format!(
                "paramKind kind `&ParamKind{{APIVersion:{},Kind:{},}}` not known",
                kind.api_version, kind.kind
            ));
        };
        let namespace = if res.namespaced {
            match (r.namespace.as_str(), attrs.request.namespace.as_deref()) {
                ("", Some(ns)) => Some(ns.to_string()),
                ("", None) => {
                    return Err("cannot use namespaced paramRef in policy binding that matches cluster-scoped resources".into())
                }
                (ns, _) => Some(ns.to_string()),
            }
        } else if !r.namespace.is_empty() {
            return Err(
                "paramRef.namespace must not be provided for a cluster-scoped `paramKind`".into(),
            );
        } else {
            None
        };
        let (reads, deadline) = (attrs.reads, attrs.request.deadline);
        let found: Vec<Value> = if !r.name.is_empty() {
            self.replica
                .object(reads, res, namespace.as_deref(), &r.name, deadline)
                .await
                .map_err(|e| e.message)?
                .into_iter()
                .collect()
        } else {
            let sel = r.selector.clone().unwrap_or_default();
            self.replica
                .objects(reads, res, namespace.as_deref(), deadline)
                .await
                .map_err(|e| e.message)?
                .into_iter()
                .filter(|o| sel.matches(o.pointer("/metadata/labels").and_then(Value::as_object)))
                .collect()
        };
        if found.is_empty() && r.deny_when_missing {
            return Err(
                "no params found for policy binding with `Deny` parameterNotFoundAction".into(),
            );
        }
        Ok(found)
    }

    /// The variables every policy sees for this request.
    async fn inputs(&self, attrs: &Attributes<'_>, obj: Option<&Object>) -> Result<Inputs, Status> {
        let as_value = |o: Option<&Object>| o.map_or(Value::Null, |o| Value::Object(o.clone()));
        let namespace_object = match attrs.request.namespace.as_deref() {
            Some(ns) if !matching::is_namespace(attrs) => self
                .replica
                .namespace(attrs.reads, ns, attrs.request.deadline)
                .await?
                .map(namespace_object)
                .unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let mut vars = Activation::default();
        vars.bind("object", &as_value(obj));
        vars.bind("oldObject", &as_value(attrs.old));
        vars.bind("request", &review::cel_request(attrs, obj));
        vars.bind("namespaceObject", &namespace_object);
        Ok(Inputs(vars))
    }
}

fn view<T>(replica: &Replica, plural: &str) -> Option<CompiledView<T>> {
    lookup("admissionregistration.k8s.io", "v1", plural).map(|res| CompiledView::new(replica, res))
}

/// An expression's value over the policy's own variables and the request's (Err: it did
/// not compile, or failed).
fn run(
    e: &Result<crate::cel::Expression, String>,
    (top, base): (&Activation, &Activation),
) -> Result<Value, String> {
    e.as_ref()
        .map_err(String::clone)
        .and_then(|e| e.eval_layers(&[top, base]))
}

/// The namespace as CEL sees it (upstream's `CreateNamespaceObject`: metadata without
/// managed fields, spec and status).
fn namespace_object(mut ns: Value) -> Value {
    if let Some(m) = ns.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    ns
}

/// A policy or binding that cannot be used: refused when the policy fails closed.
fn config_error(p: &Policy, b: Option<&Binding>, message: &str, denied: &mut Vec<Denial>) {
    if p.fail_closed {
        denied.push(Denial {
            policy: p.name.clone(),
            binding: b.map(|b| b.name.clone()),
            message: message.to_string(),
            reason: Reason::Invalid,
        });
    }
}

/// One policy with one param: its conditions, variables, validations and audit annotations.
fn evaluate(p: &Policy, base: &Activation, param: &Value, attrs: &Attributes<'_>) -> Vec<Decision> {
    let mut top = Activation::default();
    top.bind("params", param);
    top.bind("variables", &Value::Object(Map::new()));
    let error = |message: String| {
        if p.fail_closed {
            Decision::Deny {
                message,
                reason: Reason::Invalid,
            }
        } else {
            Decision::Admit
        }
    };
    let mut errors = Vec::new();
    for (_, c) in &p.conditions {
        match run(c, (&top, base)) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => return Vec::new(),
            Ok(other) => errors.push(format!("expression must evaluate to bool, got {other}")),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return vec![error(errors.join(", "))];
    }
    if !p.variables.is_empty() {
        let mut variables = Map::new();
        for (name, v) in &p.variables {
            if let Ok(value) = run(v, (&top, base)) {
                variables.insert(name.clone(), value);
                top.bind("variables", &Value::Object(variables.clone()));
            }
        }
    }
    let mut out = Vec::new();
    for v in &p.validations {
        let decided = match run(&v.expression, (&top, base)) {
            Ok(Value::Bool(true)) => Decision::Admit,
            Ok(Value::Bool(false)) => {
                let from_expression = v
                    .message_expression
                    .as_ref()
                    .and_then(|m| m.eval_layers(&[&top, base]).ok())
                    .and_then(|m| m.as_str().map(|s| s.trim().to_string()))
                    .filter(|m| !m.is_empty() && !m.contains('\n') && m.len() <= 5 * 1024);
                let message = from_expression
                    .or_else(|| (!v.message.is_empty()).then(|| v.message.clone()))
                    .unwrap_or_else(|| format!("failed expression: {}", v.source));
                Decision::Deny {
                    message,
                    reason: v.reason,
                }
            }
            Ok(other) => error(format!("expression must evaluate to bool, got {other}")),
            Err(e) => error(e),
        };
        out.push(decided);
    }
    for (key, a) in &p.audit_annotations {
        match run(a, (&top, base)) {
            Ok(Value::Null) => {}
            Ok(Value::String(s)) => {
                let cut: String = s.chars().take(10 * 1024).collect();
                attrs.request.annotate(&format!("{}/{key}", p.name), &cut);
            }
            Ok(other) => out.push(error(format!(
                "valueExpression for key {key} resulted in unsupported return type: {other}"
            ))),
            Err(e) => out.push(error(e)),
        }
    }
    out
}

/// upstream's refusal: `NewForbidden` of the object with the policy's message, then the
/// decision's reason and its code.
fn refusal(attrs: &Attributes<'_>, name: &str, d: Denial) -> Status {
    let message = match &d.binding {
        Some(b) => format!(
            "ValidatingAdmissionPolicy '{}' with binding '{b}' denied request: {}",
            d.policy, d.message
        ),
        None => format!(
            "ValidatingAdmissionPolicy '{}' denied request: {}",
            d.policy, d.message
        ),
    };
    let shown = if name.is_empty() { "Unknown" } else { name };
    let mut st = Status::forbidden(attrs.resource.group, attrs.resource.plural, shown, &message);
    st.reason = d.reason;
    st.code = match d.reason {
        Reason::Unauthorized => 401,
        Reason::Forbidden => 403,
        Reason::RequestEntityTooLarge => 413,
        _ => 422,
    };
    st.details.causes.push(StatusCause {
        reason: None,
        message,
        field: None,
    });
    st
}

impl AdmissionPlugin for PolicyAdmission {
    fn name(&self) -> &'static str {
        "ValidatingAdmissionPolicy"
    }

    fn validate<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(self.check(attrs, obj))
    }
}
