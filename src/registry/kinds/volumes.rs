//! PersistentVolumes and PersistentVolumeClaims: upstream's defaults (filesystem volume mode,
//! `Pending` phase, a PV's `Retain` reclaim policy).

use serde_json::json;

use super::fields::{default, obj};
use super::{Defaulter, KindHooks, Object};

/// The hooks of `v1` PersistentVolumeClaims.
#[derive(Debug, Default)]
pub struct ClaimHooks;

impl KindHooks for ClaimHooks {
    fn defaulter(&self) -> Option<Defaulter> {
        Some(claim_defaults)
    }
}

/// upstream's defaults of Claims.
pub fn claim_defaults(o: &mut Object) {
    default(obj(o, "spec"), "volumeMode", json!("Filesystem"));
    default(obj(o, "status"), "phase", json!("Pending"));
}

/// The hooks of `v1` PersistentVolumes.
#[derive(Debug, Default)]
pub struct VolumeHooks;

impl KindHooks for VolumeHooks {
    fn defaulter(&self) -> Option<Defaulter> {
        Some(volume_defaults)
    }
}

/// upstream's defaults of Volumes.
pub fn volume_defaults(o: &mut Object) {
    let spec = obj(o, "spec");
    default(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
    default(spec, "volumeMode", json!("Filesystem"));
    default(obj(o, "status"), "phase", json!("Pending"));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_as_upstream() {
        let mut pvc = json!({"spec": {}}).as_object().cloned().unwrap();
        ClaimHooks.defaults(&mut pvc);
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pvc["status"]["phase"], "Pending");
        let mut pv = json!({"spec": {"volumeMode": "Block"}})
            .as_object()
            .cloned()
            .unwrap();
        VolumeHooks.defaults(&mut pv);
        assert_eq!(pv["spec"]["volumeMode"], "Block");
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    }
}
