//! `AlwaysAdmit` and `AlwaysDeny`: upstream's (deprecated) plugins that admit everything, or
//! refuse every write with 403.

use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes};

/// Admits every request.
#[derive(Debug, Default)]
pub struct AlwaysAdmit;

impl AdmissionPlugin for AlwaysAdmit {
    fn name(&self) -> &'static str {
        "AlwaysAdmit"
    }
}

/// Refuses every write: `<resource> "<name>" is forbidden: admission control is denying all
/// modifications`.
#[derive(Debug, Default)]
pub struct AlwaysDeny;

impl AdmissionPlugin for AlwaysDeny {
    fn name(&self) -> &'static str {
        "AlwaysDeny"
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        _obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(std::future::ready(Err(denied(&attrs))))
    }

    fn validate<'a>(
        &'a self,
        attrs: Attributes<'a>,
        _obj: Option<&'a Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(std::future::ready(Err(denied(&attrs))))
    }
}

fn denied(attrs: &Attributes<'_>) -> Status {
    Status::forbidden(
        attrs.resource.group,
        attrs.resource.plural,
        attrs.name,
        "admission control is denying all modifications",
    )
}
