//! The facts of one request the lifecycle acts on, typed and checked once by the layer that
//! reads them from HTTP.

use std::rc::Rc;
use std::time::Instant;

use crate::api::resources::Subresource;
use crate::openapi::validate::Directive;
use crate::request::UserInfo;

/// What one request asks the Store for, beside the verb and its body.
#[derive(Clone, Debug)]
pub struct RequestFacts {
    /// Who asks.
    pub user: Rc<UserInfo>,
    /// The namespace of the URL (None: cluster-scoped, or every namespace).
    pub namespace: Option<String>,
    /// The object's name ("" for collections).
    pub name: String,
    /// The subresource addressed (None: the object itself).
    pub subresource: Option<Subresource>,
    /// `dryRun=All`: everything but the write.
    pub dry_run: bool,
    /// The manager of the write: `fieldManager`, else the user agent's product (None: the
    /// server's own writes, recorded as `kube-apiserver`).
    pub field_manager: Option<String>,
    /// `force` (apply only): take fields other managers own instead of a conflict.
    pub force: bool,
    /// `fieldValidation`.
    pub field_validation: Directive,
    /// When the request must be finished.
    pub deadline: Instant,
    /// Where admission plugins leave annotations for the request's audit event (None: the
    /// request is not audited).
    pub audit_annotations: Option<AuditAnnotations>,
    /// Where admission plugins leave warnings for the response's `Warning` headers.
    pub warnings: Warnings,
}

/// Warnings admission adds to a request's response (a webhook's `response.warnings`, a
/// policy's Warn action), sent as `Warning` headers whether the request succeeds or not, as
/// upstream's warning recorder sends them. Shard-local, shared by the request's layers.
#[derive(Clone, Debug, Default)]
pub struct Warnings(Rc<std::cell::RefCell<Vec<String>>>);

impl Warnings {
    /// upstream's cap on one warning's length (longer ones are cut, with `...`).
    const MAX_LEN: usize = 4096;

    /// Adds `text` unless it is empty or already there.
    pub fn add(&self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let text = if text.len() > Self::MAX_LEN {
            let mut cut = Self::MAX_LEN - 3;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            format!("{}...", &text[..cut])
        } else {
            text.to_string()
        };
        let mut v = self.0.borrow_mut();
        if !v.contains(&text) {
            v.push(text);
        }
    }

    /// What was added, in order.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}

/// Annotations admission adds to a request's audit event (upstream's
/// `AddAnnotation`, e.g. `pod-security.kubernetes.io/enforce-policy`): the audit filter puts
/// one in the request, the REST layer hands it to the Store, plugins add to it, and the
/// event carries what they added. Shared across the request's layers (and `Send`, as request
/// extensions must be).
#[derive(Clone, Debug, Default)]
pub struct AuditAnnotations(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

impl AuditAnnotations {
    /// Adds `key: value` (a key already added keeps its first value, as upstream).
    pub fn add(&self, key: &str, value: &str) {
        let mut v = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !v.iter().any(|(k, _)| k == key) {
            v.push((key.to_string(), value.to_string()));
        }
    }

    /// What was added, in order.
    pub fn take(&self) -> Vec<(String, String)> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl RequestFacts {
    /// Adds an annotation to the request's audit event, if it is audited.
    pub fn annotate(&self, key: &str, value: &str) {
        if let Some(a) = &self.audit_annotations {
            a.add(key, value);
        }
    }
}

impl RequestFacts {
    /// Facts for the writes of a controller kube-controller-manager runs upstream (their
    /// managed fields name it, as upstream's do).
    pub fn controller(namespace: Option<&str>, name: &str, deadline: Instant) -> Self {
        Self {
            field_manager: Some("kube-controller-manager".into()),
            ..Self::internal(namespace, name, deadline)
        }
    }

    /// Facts for work the server does itself (controllers): no user, no dry run, validation
    /// warnings dropped.
    pub fn internal(namespace: Option<&str>, name: &str, deadline: Instant) -> Self {
        Self {
            user: Rc::default(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            subresource: None,
            dry_run: false,
            field_manager: None,
            force: false,
            field_validation: Directive::Ignore,
            deadline,
            audit_annotations: None,
            warnings: Warnings::default(),
        }
    }
}
