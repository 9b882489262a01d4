//! `MutatingAdmissionWebhook` and `ValidatingAdmissionWebhook`: the webhooks of the
//! Mutating- and ValidatingWebhookConfigurations, called with an `admission.k8s.io/v1`
//! AdmissionReview over HTTPS, as upstream's `webhook/mutating` and `webhook/validating`
//! dispatchers call them. Mutating webhooks run one after another (JSON patches applied in
//! turn, `reinvocationPolicy: IfNeeded` re-run once when a later webhook changed the object);
//! validating webhooks run all at once. Matching (rules, namespace and object selectors, CEL
//! `matchConditions`), `failurePolicy`, `timeoutSeconds`, `sideEffects` with dry run,
//! warnings, audit annotations and the refusal messages are upstream's. The calls leave the
//! shard (`webhook::caller`), so a slow webhook delays only the requests it matches.
//! Writes of the admission configuration kinds themselves are never sent to webhooks (so a
//! broken webhook cannot lock its own configuration).

pub mod hook;
pub mod resolve;
pub mod review;
pub mod source;

use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use self::hook::{Endpoint, Webhook};
use self::source::{HookKind, HookSource};
use crate::admission::matching;
use crate::api::status::{Reason, Status, StatusCause};
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes};
use crate::webhook::caller::{https_client, Caller, Outbound};

/// Why a webhook did not admit: it could not be called (subject to `failurePolicy`), or it
/// (or a rule about calling it) refused.
enum Failure {
    Calling(String),
    Refused(Status),
}

/// How one webhook call ended, as the webhook metrics count it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It admitted (200).
    Admitted,
    /// It refused, with this code.
    Refused(u16),
    /// It could not be called and `failurePolicy: Fail` refused the request.
    FailedClosed,
    /// It could not be called and `failurePolicy: Ignore` let the request go on.
    FailedOpen,
}

/// Told about each webhook call (the server records upstream's
/// `apiserver_admission_webhook_*`; metrics live beside admission, hence this seam).
pub trait WebhookObserver {
    /// Webhook `name` (mutating or not) took `took` over an `operation` and ended so.
    fn called(
        &self,
        name: &str,
        mutating: bool,
        operation: &'static str,
        outcome: Outcome,
        took: Duration,
    );
}

/// One of the two webhook plugins on one shard.
pub struct WebhookAdmission {
    source: HookSource,
    caller: Caller,
    endpoint_routing: bool,
    observer: Option<Rc<dyn WebhookObserver>>,
}

impl std::fmt::Debug for WebhookAdmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookAdmission")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl WebhookAdmission {
    /// The plugin reading `source`, calling through `caller`; `endpoint_routing`:
    /// `--enable-aggregator-routing` (Services reached at their endpoints).
    pub fn new(source: HookSource, caller: Caller, endpoint_routing: bool) -> Self {
        Self {
            source,
            caller,
            endpoint_routing,
            observer: None,
        }
    }

    /// The plugin telling `observer` about each call.
    pub fn observed_by(mut self, observer: Option<Rc<dyn WebhookObserver>>) -> Self {
        self.observer = observer;
        self
    }

    fn observe(&self, h: &Webhook, attrs: &Attributes<'_>, outcome: Outcome, started: Instant) {
        if let Some(o) = &self.observer {
            o.called(
                &h.name,
                self.kind() == HookKind::Mutating,
                attrs.operation.label(),
                outcome,
                started.elapsed(),
            );
        }
    }

    /// Calls `h` and tells the observer how it ended (a failure's fate is `failed`'s).
    async fn observed_call(
        &self,
        h: &Webhook,
        attrs: &Attributes<'_>,
        obj: Option<&Object>,
    ) -> (Result<review::Verdict, Failure>, Instant) {
        let started = Instant::now();
        let r = self.call(h, attrs, obj).await;
        match &r {
            Ok(_) => self.observe(h, attrs, Outcome::Admitted, started),
            Err(Failure::Refused(s)) => self.observe(h, attrs, Outcome::Refused(s.code), started),
            Err(Failure::Calling(_)) => {}
        }
        (r, started)
    }

    fn kind(&self) -> HookKind {
        self.source.kind()
    }

    /// The webhooks that apply to this request, with their index in the full list.
    async fn matching(
        &self,
        attrs: &Attributes<'_>,
        obj: Option<&Object>,
    ) -> Result<Vec<(usize, Rc<Webhook>)>, Status> {
        if attrs.resource.group == "admissionregistration.k8s.io" {
            return Ok(Vec::new());
        }
        let hooks = self
            .source
            .hooks(attrs.reads, attrs.request.deadline)
            .await?;
        let mut out = Vec::new();
        for (i, h) in hooks.iter().enumerate() {
            if self.should_call(h, attrs, obj).await? {
                out.push((i, Rc::clone(h)));
            }
        }
        Ok(out)
    }

    /// upstream's `ShouldCallHook`: rules, object selector, namespace selector, then the
    /// match conditions.
    async fn should_call(
        &self,
        h: &Webhook,
        attrs: &Attributes<'_>,
        obj: Option<&Object>,
    ) -> Result<bool, Status> {
        if !h.rules_match(attrs) || !h.object_matches(obj, attrs.old) {
            return Ok(false);
        }
        if let Some(sel) = h.namespace_selector() {
            let selected = if matching::is_namespace(attrs) {
                sel.matches(matching::labels(obj.or(attrs.old)))
            } else if let Some(ns) = attrs.request.namespace.as_deref() {
                let labels = self
                    .source
                    .replica
                    .labels(attrs.reads, ns, attrs.request.deadline)
                    .await?
                    .ok_or_else(|| {
                        Status::internal_cause(format!("namespaces {ns:?} not found"))
                    })?;
                sel.matches(Some(&labels))
            } else {
                // Cluster-scoped objects are in no namespace: the selector does not apply.
                true
            };
            if !selected {
                return Ok(false);
            }
        }
        self.conditions_hold(h, attrs, obj)
    }

    /// The CEL `matchConditions`: any false skips the webhook; errors follow `failurePolicy`
    /// (Fail refuses the request with a 403, Ignore skips the webhook).
    fn conditions_hold(
        &self,
        h: &Webhook,
        attrs: &Attributes<'_>,
        obj: Option<&Object>,
    ) -> Result<bool, Status> {
        if h.conditions.is_empty() {
            return Ok(true);
        }
        let request = review::cel_request(attrs, obj);
        let as_value = |o: Option<&Object>| o.map_or(Value::Null, |o| Value::Object(o.clone()));
        let (object, old) = (as_value(obj), as_value(attrs.old));
        let vars = [
            ("object", &object),
            ("oldObject", &old),
            ("request", &request),
        ];
        let mut errors = Vec::new();
        for (name, expr) in &h.conditions {
            match expr.eval_bool(&vars) {
                Ok(false) => return Ok(false),
                Ok(true) => {}
                Err(e) => errors.push(format!("matchCondition {name:?}: {e}")),
            }
        }
        if errors.is_empty() {
            return Ok(true);
        }
        if !h.fail_closed {
            return Ok(false);
        }
        log::warn!(
            "failed evaluating match conditions, failing closed {}: {}",
            h.name,
            errors.join(", ")
        );
        let why = if errors.len() == 1 {
            errors.remove(0)
        } else {
            format!("[{}]", errors.join(", "))
        };
        Err(Status::forbidden(
            attrs.resource.group,
            attrs.resource.plural,
            attrs.name,
            &why,
        ))
    }

    /// Calls `h` about the object as it stands; the checked verdict, or why not.
    async fn call(
        &self,
        h: &Webhook,
        attrs: &Attributes<'_>,
        obj: Option<&Object>,
    ) -> Result<review::Verdict, Failure> {
        if attrs.request.dry_run && !h.dry_run_safe {
            return Err(Failure::Refused(Status::bad_request(format!(
                "admission webhook {:?} does not support dry run",
                h.name
            ))));
        }
        let left = attrs
            .request
            .deadline
            .saturating_duration_since(Instant::now());
        let timeout = h.timeout.min(left);
        let (url, client) = self
            .endpoint(h, attrs, timeout)
            .await
            .map_err(Failure::Calling)?;
        let uid = uuid::Uuid::new_v4().to_string();
        let body = review::document(&uid, attrs, obj);
        let answer = self
            .caller
            .call(Outbound {
                client,
                url,
                body,
                timeout,
            })
            .await
            .map_err(|e| Failure::Calling(format!("failed to call webhook: {e}")))?;
        let mut verdict = review::verify(&uid, self.kind() == HookKind::Mutating, &answer)
            .map_err(|e| Failure::Calling(format!("received invalid webhook response: {e}")))?;
        if let Some(p) = &verdict.patch {
            verdict.ops = Some(serde_json::from_slice(p).map_err(|e| {
                Failure::Calling(format!(
                    "received undecodable patch in webhook response: {e}"
                ))
            })?);
        }
        for (k, v) in &verdict.audit_annotations {
            attrs.request.annotate(&format!("{}/{k}", h.name), v);
        }
        for w in &verdict.warnings {
            attrs.request.warnings.add(w);
        }
        if !verdict.allowed {
            return Err(Failure::Refused(refusal(&h.name, &verdict.status)));
        }
        Ok(verdict)
    }

    /// The URL to post to (with upstream's `?timeout=`) and the client for it.
    async fn endpoint(
        &self,
        h: &Webhook,
        attrs: &Attributes<'_>,
        timeout: Duration,
    ) -> Result<(reqwest::Url, reqwest::Client), String> {
        let (mut url, pinned) = match &h.endpoint {
            Endpoint::Url(u) => (u.clone(), None),
            Endpoint::Service {
                namespace,
                name,
                path,
                port,
            } => {
                let host = format!("{name}.{namespace}.svc");
                let url = reqwest::Url::parse(&format!("https://{host}:{port}{path}"))
                    .map_err(|e| e.to_string())?;
                let addr = resolve::service_address(
                    &self.source,
                    attrs.reads,
                    (namespace, name, *port),
                    self.endpoint_routing,
                    attrs.request.deadline,
                )
                .await
                .map_err(|e| format!("failed to call webhook: Post {:?}: {e}", url.as_str()))?;
                (url, Some((host, addr)))
            }
        };
        let secs = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
        url.query_pairs_mut()
            .append_pair("timeout", &format!("{secs}s"));
        let addr = pinned.as_ref().map(|(_, a)| *a);
        let mut cached = h.client.borrow_mut();
        if let Some((a, c)) = cached.as_ref().filter(|(a, _)| *a == addr) {
            let _ = a;
            return Ok((url, c.clone()));
        }
        let client = https_client(
            h.ca_bundle.as_deref(),
            pinned.as_ref().map(|(host, a)| (host.as_str(), *a)),
        )
        .map_err(|e| format!("could not get REST client: {e}"))?;
        *cached = Some((addr, client.clone()));
        Ok((url, client))
    }

    /// What a failure to call `h` means: nothing (`failurePolicy: Ignore`, noted in the
    /// audit event) or upstream's 500.
    fn failed(
        &self,
        h: &Webhook,
        attrs: &Attributes<'_>,
        (index, round, started): (usize, u8, Instant),
        why: String,
    ) -> Result<(), Status> {
        let err = format!("failed calling webhook {:?}: {why}", h.name);
        let outcome = if h.fail_closed {
            Outcome::FailedClosed
        } else {
            Outcome::FailedOpen
        };
        self.observe(h, attrs, outcome, started);
        if h.fail_closed {
            log::warn!("failing closed: {err}");
            return Err(Status::internal_cause(err));
        }
        log::warn!("failing open: {err}");
        let prefix = match self.kind() {
            HookKind::Mutating => "failed-open.mutation.webhook.admission.k8s.io",
            HookKind::Validating => "failed-open.validating.webhook.admission.k8s.io",
        };
        attrs
            .request
            .annotate(&format!("{prefix}/round_{round}_index_{index}"), &h.name);
        Ok(())
    }

    /// The mutating phase: each matching webhook in turn, then the reinvocations.
    async fn mutate(&self, attrs: Attributes<'_>, obj: &mut Object) -> Result<(), Status> {
        let mut previously: Vec<String> = Vec::new();
        let mut reinvoke: Vec<String> = Vec::new();
        for round in 0..2u8 {
            let hooks = self.matching(&attrs, Some(obj)).await?;
            let mut any = false;
            for (i, h) in hooks {
                if round == 1 && !reinvoke.contains(&h.key) {
                    continue;
                }
                let changed = self.mutate_one(&h, &attrs, obj, i, round).await?;
                if changed {
                    any = true;
                    // Those invoked before (and eligible) see the change on a second round.
                    reinvoke.append(&mut previously);
                }
                if h.reinvoke && !previously.contains(&h.key) {
                    previously.push(h.key.clone());
                }
            }
            if round == 0 && (!any || reinvoke.is_empty()) {
                break;
            }
            previously.clear();
        }
        Ok(())
    }

    /// Calls one mutating webhook and applies its patch; true when the object changed.
    async fn mutate_one(
        &self,
        h: &Webhook,
        attrs: &Attributes<'_>,
        obj: &mut Object,
        index: usize,
        round: u8,
    ) -> Result<bool, Status> {
        let (verdict, started) = self.observed_call(h, attrs, Some(obj)).await;
        let verdict = match verdict {
            Ok(v) => v,
            Err(Failure::Refused(s)) => return Err(s),
            Err(Failure::Calling(why)) => {
                self.failed(h, attrs, (index, round, started), why)?;
                return Ok(false);
            }
        };
        let mut changed = false;
        if let Some(ops) = verdict.ops {
            if !ops.0.is_empty() {
                let mut doc = Value::Object(obj.clone());
                json_patch::patch(&mut doc, &ops).map_err(Status::internal_cause)?;
                let Value::Object(patched) = doc else {
                    return Err(Status::internal_cause(format!(
                        "admission webhook {:?} patched the object into a non-object",
                        h.name
                    )));
                };
                changed = patched != *obj;
                *obj = patched;
            }
        }
        attrs.request.annotate(
            &format!("mutation.webhook.admission.k8s.io/round_{round}_index_{index}"),
            &json!({"configuration": h.configuration, "webhook": h.name, "mutated": changed})
                .to_string(),
        );
        Ok(changed)
    }

    /// The validating phase: every matching webhook at once; the first refusal wins.
    async fn check(&self, attrs: Attributes<'_>, obj: Option<&Object>) -> Result<(), Status> {
        let hooks = self.matching(&attrs, obj).await?;
        if hooks.is_empty() {
            return Ok(());
        }
        let calls = hooks.iter().map(|(i, h)| async move {
            match self.observed_call(h, &attrs, obj).await {
                (Ok(_), _) => Ok(()),
                (Err(Failure::Refused(s)), _) => Err(s),
                (Err(Failure::Calling(why)), started) => {
                    self.failed(h, &attrs, (*i, 0, started), why)
                }
            }
        });
        for r in futures_util::future::join_all(calls).await {
            r?;
        }
        Ok(())
    }
}

impl AdmissionPlugin for WebhookAdmission {
    fn name(&self) -> &'static str {
        match self.kind() {
            HookKind::Mutating => "MutatingAdmissionWebhook",
            HookKind::Validating => "ValidatingAdmissionWebhook",
        }
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            if self.kind() != HookKind::Mutating {
                return Ok(());
            }
            match obj {
                Some(o) => self.mutate(attrs, o).await,
                // A delete has no object to patch; its webhooks still judge it.
                None => self.mutate_delete(attrs).await,
            }
        })
    }

    fn validate<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            if self.kind() != HookKind::Validating {
                return Ok(());
            }
            self.check(attrs, obj).await
        })
    }
}

impl WebhookAdmission {
    /// Mutating webhooks on a delete: called (they may refuse), a patch is an error.
    async fn mutate_delete(&self, attrs: Attributes<'_>) -> Result<(), Status> {
        for (i, h) in self.matching(&attrs, None).await? {
            match self.observed_call(&h, &attrs, None).await {
                (Ok(v), _) if v.ops.as_ref().is_some_and(|p| !p.0.is_empty()) => {
                    return Err(Status::internal_cause(format!(
                        "admission webhook {:?} attempted to modify the object, which is not supported for this operation",
                        h.name
                    )))
                }
                (Ok(_), _) => {}
                (Err(Failure::Refused(s)), _) => return Err(s),
                (Err(Failure::Calling(why)), started) => self.failed(&h, &attrs, (i, 0, started), why)?,
            }
        }
        Ok(())
    }
}

/// upstream's `ToStatusErr`: the webhook's Status, at least a 400, its message prefixed.
fn refusal(webhook: &str, result: &Value) -> Status {
    let denied = format!("admission webhook {webhook:?} denied the request");
    let s = |k: &str| result.get(k).and_then(Value::as_str).unwrap_or_default();
    let code = result
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c >= 400 && *c < 600)
        .unwrap_or(400);
    let message = match (s("message"), s("reason")) {
        (m, _) if !m.is_empty() => format!("{denied}: {m}"),
        (_, r) if !r.is_empty() => format!("{denied}: {r}"),
        _ => format!("{denied} without explanation"),
    };
    let mut st = Status::new(
        Reason::from_wire(s("reason")).unwrap_or(Reason::Unknown),
        message,
    );
    st.code = code;
    if let Some(d) = result.get("details").filter(|d| d.is_object()) {
        let ds = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
        st.details.name = ds("name");
        st.details.group = ds("group");
        st.details.kind = ds("kind");
        st.details.causes = d
            .get("causes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| StatusCause {
                reason: c.get("reason").and_then(Value::as_str).map(str::to_string),
                message: c
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                field: c.get("field").and_then(Value::as_str).map(str::to_string),
            })
            .collect();
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_upstream() {
        let r = refusal(
            "deny.example.com",
            &json!({"code": 403, "message": "no", "reason": "Forbidden"}),
        );
        assert_eq!(r.code, 403);
        assert_eq!(r.reason, Reason::Forbidden);
        assert_eq!(
            r.message,
            "admission webhook \"deny.example.com\" denied the request: no"
        );
        let r = refusal("d.example.com", &json!({"code": 200}));
        assert_eq!(r.code, 400);
        assert_eq!(
            r.message,
            "admission webhook \"d.example.com\" denied the request without explanation"
        );
        let r = refusal("d.example.com", &Value::Null);
        assert_eq!((r.code, r.reason.as_str()), (400, ""));
    }
}
