//! `StorageObjectInUseProtection`: a new PersistentVolumeClaim gets the
//! `kubernetes.io/pvc-protection` finalizer and a new PersistentVolume the
//! `kubernetes.io/pv-protection` one, so neither goes away while in use (the protection
//! controllers, `server/storage_protection.rs`, remove them), as upstream's plugin of that
//! name.

use serde_json::Value;

use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// The plugin.
#[derive(Debug, Default)]
pub struct StorageObjectInUseProtection;

/// Adds `finalizer` to `o` unless it is there.
pub fn add_finalizer(o: &mut Object, finalizer: &str) {
    let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let list = meta
        .entry("finalizers")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(l) = list.as_array_mut() {
        if !l.iter().any(|f| f.as_str() == Some(finalizer)) {
            l.push(Value::from(finalizer));
        }
    }
}

impl AdmissionPlugin for StorageObjectInUseProtection {
    fn name(&self) -> &'static str {
        "StorageObjectInUseProtection"
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(o) = obj else { return Ok(()) };
            let r = attrs.resource;
            if !r.group.is_empty()
                || attrs.operation != Operation::Create
                || attrs.request.subresource.is_some()
            {
                return Ok(());
            }
            match r.plural {
                "persistentvolumeclaims" => add_finalizer(o, "kubernetes.io/pvc-protection"),
                "persistentvolumes" => add_finalizer(o, "kubernetes.io/pv-protection"),
                _ => {}
            }
            Ok(())
        })
    }
}
