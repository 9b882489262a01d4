//! `PersistentVolumeClaimResize`: a claim's storage request may only grow when the claim is
//! bound and its StorageClass sets `allowVolumeExpansion: true`, as upstream's plugin of that
//! name refuses it otherwise.

use serde_json::Value;

use crate::admission::replica::Replica;
use crate::api::resources::lookup;
use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::quantity::Quantity;
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// The plugin.
#[derive(Debug)]
pub struct PersistentVolumeClaimResize {
    replica: Replica,
}

impl PersistentVolumeClaimResize {
    /// The plugin reading StorageClasses from `replica`.
    pub fn new(replica: Replica) -> Self {
        Self { replica }
    }
}

fn storage(o: &Object) -> Option<Quantity> {
    o.get("spec")?
        .pointer("/resources/requests/storage")?
        .as_str()
        .and_then(Quantity::parse)
}

impl AdmissionPlugin for PersistentVolumeClaimResize {
    fn name(&self) -> &'static str {
        "PersistentVolumeClaimResize"
    }

    fn validate<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let (Some(claim), Some(old)) = (obj, attrs.old) else {
                return Ok(());
            };
            let r = attrs.resource;
            if !r.group.is_empty()
                || r.plural != "persistentvolumeclaims"
                || attrs.operation != Operation::Update
                || attrs.request.subresource.is_some()
            {
                return Ok(());
            }
            match (storage(claim), storage(old)) {
                (Some(new), Some(was)) if new > was => {}
                _ => return Ok(()),
            }
            let refuse = |why: &str| {
                Err(Status::forbidden(
                    "",
                    "persistentvolumeclaims",
                    attrs.name,
                    why,
                ))
            };
            if old
                .get("status")
                .and_then(|s| s.get("phase"))
                .and_then(Value::as_str)
                != Some("Bound")
            {
                return refuse("Only bound persistent volume claims can be expanded");
            }
            let class = claim
                .get("spec")
                .and_then(|s| s.get("storageClassName"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            let allowed = match lookup("storage.k8s.io", "v1", "storageclasses") {
                Some(res) if !class.is_empty() => self
                    .replica
                    .object(attrs.reads, res, None, class, attrs.request.deadline)
                    .await?
                    .and_then(|sc| sc.get("allowVolumeExpansion").and_then(Value::as_bool))
                    .unwrap_or(false),
                _ => false,
            };
            if !allowed {
                return refuse("only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize");
            }
            Ok(())
        })
    }
}
