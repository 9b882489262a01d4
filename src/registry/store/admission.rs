//! The Store's one pre-write admission point, as a seam: the Store calls an
//! [`AdmissionChain`] of [`AdmissionPlugin`]s on every create, update and delete, in
//! upstream's order: mutating plugins on the object as the request gives it, then the kind's
//! strategy (defaults, server fields, validation), then validating plugins, then storage. The plugins themselves live above the
//! registry (`src/admission/`); this file only says what they see and how they answer.

use std::rc::Rc;

use super::facts::RequestFacts;
use crate::api::resources::ApiResource;
use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object, ObjectReads};

/// What a write does, as admission names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A new object.
    Create,
    /// A changed object (update, patch, status, scale, a kind's own subresource).
    Update,
    /// An object going away.
    Delete,
}

/// Everything a plugin may know about the write it judges.
#[derive(Clone, Copy)]
pub struct Attributes<'a> {
    /// What the write does.
    pub operation: Operation,
    /// The resource written.
    pub resource: &'a ApiResource,
    /// The request's facts (user, namespace, name, subresource, dry run).
    pub request: &'a RequestFacts,
    /// The object's name (for a create: as given, before a generated name is chosen).
    pub name: &'a str,
    /// The stored object an update or delete starts from.
    pub old: Option<&'a Object>,
    /// Reads of other objects (the namespace a create goes into, ...).
    pub reads: &'a dyn ObjectReads,
}

/// One admission plugin. Both phases default to admitting; a plugin implements the ones it
/// takes part in. Plugins see dry-run requests too (`request.dry_run`) and must then make no
/// side effects.
pub trait AdmissionPlugin {
    /// The plugin's name, as `--enable-admission-plugins` spells it.
    fn name(&self) -> &'static str;

    /// Mutating phase: may change the object (`None` on delete).
    fn admit<'a>(
        &'a self,
        _attrs: Attributes<'a>,
        _obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Validating phase: may refuse the write, never changes it (`None` on delete).
    fn validate<'a>(
        &'a self,
        _attrs: Attributes<'a>,
        _obj: Option<&'a Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A phase of admission (upstream's `type` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Mutating.
    Admit,
    /// Validating.
    Validate,
}

impl Phase {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Admit => "admit",
            Self::Validate => "validate",
        }
    }
}

impl Operation {
    /// The label value (`CREATE`, `UPDATE`, `DELETE`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }
}

/// Told how long each plugin and each whole phase took (metrics live above the registry).
pub trait AdmissionObserver {
    /// `plugin` (None: the whole phase) ran `phase` of `operation` in `took`; `rejected` if
    /// it refused.
    fn observed(
        &self,
        plugin: Option<&'static str>,
        phase: Phase,
        operation: Operation,
        rejected: bool,
        took: std::time::Duration,
    );
}

/// The plugins, in the order they run (each phase in list order).
#[derive(Clone, Default)]
pub struct AdmissionChain {
    plugins: Vec<Rc<dyn AdmissionPlugin>>,
    observer: Option<Rc<dyn AdmissionObserver>>,
}

impl std::fmt::Debug for AdmissionChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.plugins.iter().map(|p| p.name()).collect();
        f.debug_tuple("AdmissionChain").field(&names).finish()
    }
}

impl AdmissionChain {
    /// A chain of `plugins`, in order.
    pub fn new(plugins: Vec<Rc<dyn AdmissionPlugin>>) -> Self {
        Self {
            plugins,
            observer: None,
        }
    }

    /// The chain telling `observer` what each plugin and phase took.
    pub fn observed_by(mut self, observer: Rc<dyn AdmissionObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The chain with `plugin` run after the others.
    pub fn with(mut self, plugin: Rc<dyn AdmissionPlugin>) -> Self {
        self.plugins.push(plugin);
        self
    }

    /// The plugins' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.plugins.iter().map(|p| p.name()).collect()
    }

    /// Runs the mutating phase of every plugin; the first refusal wins.
    pub async fn admit(
        &self,
        attrs: Attributes<'_>,
        mut obj: Option<&mut Object>,
    ) -> Result<(), Status> {
        let step = std::time::Instant::now();
        let mut result = Ok(());
        for p in &self.plugins {
            let started = std::time::Instant::now();
            result = p.admit(attrs, obj.as_deref_mut()).await;
            self.observe(Some(p.name()), Phase::Admit, attrs, &result, started);
            if result.is_err() {
                break;
            }
        }
        self.observe(None, Phase::Admit, attrs, &result, step);
        result
    }

    /// Runs the validating phase of every plugin; the first refusal wins.
    pub async fn validate(
        &self,
        attrs: Attributes<'_>,
        obj: Option<&Object>,
    ) -> Result<(), Status> {
        let step = std::time::Instant::now();
        let mut result = Ok(());
        for p in &self.plugins {
            let started = std::time::Instant::now();
            result = p.validate(attrs, obj).await;
            self.observe(Some(p.name()), Phase::Validate, attrs, &result, started);
            if result.is_err() {
                break;
            }
        }
        self.observe(None, Phase::Validate, attrs, &result, step);
        result
    }

    fn observe(
        &self,
        plugin: Option<&'static str>,
        phase: Phase,
        attrs: Attributes<'_>,
        result: &Result<(), Status>,
        started: std::time::Instant,
    ) {
        if let Some(o) = &self.observer {
            o.observed(
                plugin,
                phase,
                attrs.operation,
                result.is_err(),
                started.elapsed(),
            );
        }
    }
}
