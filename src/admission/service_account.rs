//! `ServiceAccount`: a Pod runs as a ServiceAccount that exists. On create a Pod without
//! `serviceAccountName` gets `default`; the account must exist (the `default` one is
//! looked for a while, as it is made just after its namespace); unless the Pod or the account
//! turns `automountServiceAccountToken` off, every container and init container mounts a
//! `kube-api-access-xxxxx` projected volume (a bound token, the cluster CA, the namespace) at
//! `/var/run/secrets/kubernetes.io/serviceaccount`; the account's `imagePullSecrets` are
//! copied to a Pod without any. Mirror Pods are left alone but may reference no accounts,
//! Secrets or ConfigMaps; an account annotated `kubernetes.io/enforce-mountable-secrets`
//! limits the Secrets its Pods use to those it lists. Upstream's plugin of that name, with
//! its messages.

use std::time::Duration;

use serde_json::{json, Value};

use crate::admission::replica::Replica;
use crate::api::resources::lookup;
use crate::api::status::Status;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// Where the token volume is mounted.
const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The token volume's name prefix.
const VOLUME_PREFIX: &str = "kube-api-access-";
/// A mirror Pod's annotation.
const MIRROR: &str = "kubernetes.io/config.mirror";
/// The annotation that limits an account's Pods to the Secrets it lists.
const ENFORCE_MOUNTABLE: &str = "kubernetes.io/enforce-mountable-secrets";
/// The bound token's lifetime (upstream's `WarnOnlyBoundTokenExpirationSeconds`).
const TOKEN_SECONDS: i64 = 3607;

/// The plugin.
#[derive(Debug)]
pub struct ServiceAccount {
    replica: Replica,
}

impl ServiceAccount {
    /// The plugin reading accounts from `replica`.
    pub fn new(replica: Replica) -> Self {
        Self { replica }
    }

    /// The account, looked for in the replica and then in storage (ten times for `default`,
    /// which the namespace's controller makes a moment after the namespace).
    async fn account(
        &self,
        attrs: &Attributes<'_>,
        ns: &str,
        name: &str,
    ) -> Result<Option<Value>, Status> {
        let Some(res) = lookup("", "v1", "serviceaccounts") else {
            return Ok(None);
        };
        let deadline = attrs.request.deadline;
        if let Some(sa) = self
            .replica
            .object(attrs.reads, res, Some(ns), name, deadline)
            .await?
        {
            return Ok(Some(sa));
        }
        let attempts = if name == "default" { 10 } else { 1 };
        for i in 0..attempts {
            if i > 0 {
                shards::sleep(Duration::from_millis(100 + fastrand::u64(..100))).await;
            }
            if let Some(sa) = attrs.reads.get(res, Some(ns), name, deadline).await? {
                return Ok(Some(Value::Object(sa)));
            }
        }
        Ok(None)
    }
}

fn annotation<'a>(o: &'a Value, key: &str) -> Option<&'a str> {
    o.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

fn is_mirror(pod: &Object) -> bool {
    pod.get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(MIRROR))
        .is_some()
}

/// Mounts the token volume into every container that has nothing at the mount path, and
/// adds the volume when one needed it (upstream's `mountServiceAccountToken`).
fn mount_token(pod: &mut Object) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .find(|n| n.starts_with(VOLUME_PREFIX))
        .map(str::to_string);
    let name = existing.clone().unwrap_or_else(|| {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let suffix: String = (0..5)
            .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
            .collect();
        format!("{VOLUME_PREFIX}{suffix}")
    });
    let mut needed = false;
    for key in ["initContainers", "containers"] {
        let Some(Value::Array(cs)) = spec.get_mut(key) else {
            continue;
        };
        for c in cs.iter_mut().filter_map(Value::as_object_mut) {
            let mounts = c.entry("volumeMounts").or_insert_with(|| json!([]));
            let Some(mounts) = mounts.as_array_mut() else {
                continue;
            };
            if mounts
                .iter()
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(MOUNT_PATH))
            {
                continue;
            }
            mounts.push(json!({"name": name, "readOnly": true, "mountPath": MOUNT_PATH}));
            needed = true;
        }
    }
    if existing.is_none() && needed {
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        if let Some(v) = volumes.as_array_mut() {
            v.push(json!({"name": name, "projected": {"defaultMode": 420, "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ]}}));
        }
    }
}

/// The Secrets and ConfigMaps a Pod names (volumes, projections, env, envFrom, pull secrets).
fn references(pod: &Object) -> (Vec<String>, Vec<String>) {
    let (mut secrets, mut maps) = (Vec::new(), Vec::new());
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let s = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    let each = |v: &Value, k: &str| -> Vec<Value> {
        v.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for vol in each(spec, "volumes") {
        secrets.extend(s(&vol, "/secret/secretName"));
        maps.extend(s(&vol, "/configMap/name"));
        for src in each(vol.get("projected").unwrap_or(&Value::Null), "sources") {
            secrets.extend(s(&src, "/secret/name"));
            maps.extend(s(&src, "/configMap/name"));
        }
    }
    for key in ["initContainers", "containers", "ephemeralContainers"] {
        for c in each(spec, key) {
            for e in each(&c, "env") {
                secrets.extend(s(&e, "/valueFrom/secretKeyRef/name"));
                maps.extend(s(&e, "/valueFrom/configMapKeyRef/name"));
            }
            for e in each(&c, "envFrom") {
                secrets.extend(s(&e, "/secretRef/name"));
                maps.extend(s(&e, "/configMapRef/name"));
            }
        }
    }
    for p in each(spec, "imagePullSecrets") {
        secrets.extend(s(&p, "/name"));
    }
    (secrets, maps)
}

/// upstream's `limitSecretReferences`: the first Secret the Pod uses that account `sa_name`
/// does not list, worded as upstream words it.
fn unlisted_secret(pod: &Object, sa_name: &str, listed: &[&str], sa: &Value) -> Option<String> {
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let list = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for vol in list(spec, "volumes") {
        if let Some(n) = vol.pointer("/secret/secretName").and_then(Value::as_str) {
            if !listed.contains(&n) {
                return Some(format!("volume with secret.secretName=\"{n}\" is not allowed because service account {sa_name} does not reference that secret"));
            }
        }
    }
    for (key, what) in [
        ("initContainers", "init container"),
        ("containers", "container"),
    ] {
        for c in list(spec, key) {
            for e in list(&c, "env") {
                if let Some(n) = e
                    .pointer("/valueFrom/secretKeyRef/name")
                    .and_then(Value::as_str)
                {
                    if !listed.contains(&n) {
                        let (cn, en) = (
                            c.get("name").and_then(Value::as_str).unwrap_or(""),
                            e.get("name").and_then(Value::as_str).unwrap_or(""),
                        );
                        return Some(format!("{what} {cn} with envVar {en} referencing secret.secretName=\"{n}\" is not allowed because service account {sa_name} does not reference that secret"));
                    }
                }
            }
        }
    }
    let pull: Vec<&str> = sa
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("name").and_then(Value::as_str))
        .collect();
    for (i, p) in list(spec, "imagePullSecrets").iter().enumerate() {
        let n = p.get("name").and_then(Value::as_str).unwrap_or("");
        if !pull.contains(&n) {
            return Some(format!("imagePullSecrets[{i}].name=\"{n}\" is not allowed because service account {sa_name} does not reference that imagePullSecret"));
        }
    }
    None
}

fn mirror_checks(attrs: &Attributes<'_>, pod: &Object) -> Result<(), Status> {
    let forbid = |why: &str| Err(Status::forbidden("", "pods", attrs.name, why));
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    if spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        return forbid("a mirror pod may not reference service accounts");
    }
    let (secrets, maps) = references(pod);
    if !secrets.is_empty() {
        return forbid("a mirror pod may not reference secrets");
    }
    if !maps.is_empty() {
        return forbid("a mirror pod may not reference configmaps");
    }
    let projects_token = spec
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|v| {
            v.pointer("/projected/sources")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .any(|s| s.get("serviceAccountToken").is_some());
    if projects_token {
        return forbid("a mirror pod may not use ServiceAccountToken volume projections");
    }
    Ok(())
}

impl AdmissionPlugin for ServiceAccount {
    fn name(&self) -> &'static str {
        "ServiceAccount"
    }

    fn admit<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a mut Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(pod) = obj else { return Ok(()) };
            if !super::pod_itself(&attrs, &[Operation::Create]) || is_mirror(pod) {
                return Ok(());
            }
            let ns = attrs.request.namespace.clone().unwrap_or_default();
            let spec = pod.entry("spec").or_insert_with(|| json!({}));
            let Some(spec) = spec.as_object_mut() else {
                return Ok(());
            };
            let name = match spec.get("serviceAccountName").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => n.to_string(),
                _ => {
                    spec.insert("serviceAccountName".into(), json!("default"));
                    "default".to_string()
                }
            };
            let pod_says = spec
                .get("automountServiceAccountToken")
                .and_then(Value::as_bool);
            let Some(sa) = self.account(&attrs, &ns, &name).await? else {
                return Err(Status::forbidden(
                    "",
                    "pods",
                    attrs.name,
                    &format!("error looking up service account {ns}/{name}: serviceaccount {name:?} not found"),
                ));
            };
            let automount = pod_says
                .or_else(|| {
                    sa.get("automountServiceAccountToken")
                        .and_then(Value::as_bool)
                })
                .unwrap_or(true);
            if automount {
                mount_token(pod);
            }
            if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
                let has_pull = spec
                    .get("imagePullSecrets")
                    .and_then(Value::as_array)
                    .is_some_and(|p| !p.is_empty());
                let from_sa = sa
                    .get("imagePullSecrets")
                    .and_then(Value::as_array)
                    .filter(|p| !p.is_empty());
                if let (false, Some(p)) = (has_pull, from_sa) {
                    spec.insert("imagePullSecrets".into(), Value::Array(p.clone()));
                }
            }
            Ok(())
        })
    }

    fn validate<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(pod) = obj else { return Ok(()) };
            if !super::pod_itself(&attrs, &[Operation::Create]) {
                return Ok(());
            }
            if is_mirror(pod) {
                return mirror_checks(&attrs, pod);
            }
            let ns = attrs.request.namespace.clone().unwrap_or_default();
            let name = pod
                .get("spec")
                .and_then(|s| s.get("serviceAccountName"))
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string();
            let Some(sa) = self.account(&attrs, &ns, &name).await? else {
                return Err(Status::forbidden(
                    "",
                    "pods",
                    attrs.name,
                    &format!("error looking up service account {ns}/{name}: serviceaccount {name:?} not found"),
                ));
            };
            if annotation(&sa, ENFORCE_MOUNTABLE) != Some("true") {
                return Ok(());
            }
            let listed: Vec<&str> = sa
                .get("secrets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.get("name").and_then(Value::as_str))
                .collect();
            if let Some(why) = unlisted_secret(pod, &name, &listed, &sa) {
                return Err(Status::forbidden("", "pods", attrs.name, &why));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::rc::Rc;

    use serde_json::{json, Value};

    use super::*;
    use crate::registry::store::testing::{body, facts, row, with_store};
    use crate::registry::store::AdmissionChain;

    fn pod(spec: Value) -> Vec<u8> {
        body(json!({"metadata": {"name": "p"}, "spec": spec}))
    }

    #[test]
    fn pods_run_as_an_account_that_exists() {
        let chain = AdmissionChain::new(vec![Rc::new(ServiceAccount::new(Replica::default()))]);
        with_store(chain, |store, _| async move {
            let (pods, sas) = (row(&store, "", "pods"), row(&store, "", "serviceaccounts"));
            let c = json!([{"name": "c", "image": "i"}]);
            let e = store
                .create(
                    &pods,
                    &facts(Some("ns"), ""),
                    pod(json!({"serviceAccountName": "missing", "containers": c})),
                )
                .await
                .unwrap_err();
            assert_eq!(e.code, 403);
            assert_eq!(e.message, "pods \"p\" is forbidden: error looking up service account ns/missing: serviceaccount \"missing\" not found");
            store
                .create(&sas, &facts(Some("ns"), ""), body(json!({"metadata": {"name": "default"}, "imagePullSecrets": [{"name": "pull"}]})))
                .await
                .unwrap();
            let made = store
                .create(
                    &pods,
                    &facts(Some("ns"), ""),
                    pod(json!({"containers": c, "initContainers": c})),
                )
                .await
                .unwrap();
            let v: Value = serde_json::from_slice(&made.body).unwrap();
            let spec = &v["spec"];
            assert_eq!(spec["serviceAccountName"], "default");
            assert_eq!(spec["imagePullSecrets"], json!([{"name": "pull"}]));
            let volume = &spec["volumes"][0];
            let name = volume["name"].as_str().unwrap();
            assert!(
                name.starts_with("kube-api-access-") && name.len() == 21,
                "{name}"
            );
            assert_eq!(
                volume["projected"]["sources"][0]["serviceAccountToken"],
                json!({"expirationSeconds": 3607, "path": "token"})
            );
            for key in ["containers", "initContainers"] {
                assert_eq!(
                    spec[key][0]["volumeMounts"],
                    json!([{"name": name, "readOnly": true, "mountPath": MOUNT_PATH}])
                );
            }
            // The Pod's own choice wins over mounting.
            let made = store
                .create(&pods, &facts(Some("ns"), ""), body(json!({"metadata": {"name": "q"}, "spec": {"automountServiceAccountToken": false, "containers": c}})))
                .await
                .unwrap();
            let v: Value = serde_json::from_slice(&made.body).unwrap();
            assert!(
                v["spec"]["volumes"].as_array().is_none_or(Vec::is_empty),
                "{v}"
            );
            // Mirror pods may not name accounts.
            let e = store
                .create(&pods, &facts(Some("ns"), ""), body(json!({"metadata": {"name": "m", "annotations": {MIRROR: "x"}}, "spec": {"serviceAccountName": "default", "containers": c}})))
                .await
                .unwrap_err();
            assert_eq!(
                e.message,
                "pods \"m\" is forbidden: a mirror pod may not reference service accounts"
            );
        });
    }
}
