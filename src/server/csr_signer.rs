//! kube-controller-manager's CSR signing controller, in-process on one shard (the leader
//! only): an approved CertificateSigningRequest for `kubernetes.io/kube-apiserver-client`,
//! `kubernetes.io/kube-apiserver-client-kubelet` or `kubernetes.io/kubelet-serving` gets a
//! certificate from the cluster CA (`--cert-dir`'s `ca.crt` / `ca.key`, the CA kubeshard's
//! clients already trust); one its signer's rules refuse gets a `Failed` condition.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use base64::Engine;
use rcgen::{
    CertificateSigningRequestParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::CertificateSigningRequestDer;
use serde_json::{json, Map, Value};

use crate::api::resources::Subresource;
use crate::api::status::Status;
use crate::registry::kinds::certificates::{has_condition, pem_blocks};
use crate::registry::kinds::ObjectReads;
use crate::registry::store::{RequestFacts, Store};
use crate::registry::strategy::now_rfc3339;

/// How often the controller looks.
const SCAN_INTERVAL: Duration = Duration::from_secs(1);
/// upstream's `--cluster-signing-duration` default: one year.
const SIGNING_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// Certificates start this long before now, for clock skew (upstream's backdating).
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// The cluster CA's files.
#[derive(Clone, Debug)]
pub struct SigningCa {
    /// CA certificate (PEM).
    pub cert: PathBuf,
    /// CA private key (PEM).
    pub key: PathBuf,
}

/// Runs the controller until `stop` completes.
pub async fn run(
    store: Rc<Store>,
    leadership: Rc<crate::server::leader::Leadership>,
    ca: SigningCa,
    stop: impl std::future::Future<Output = ()>,
) {
    let work = async {
        let mut seen = None;
        loop {
            shards::sleep(SCAN_INTERVAL).await;
            if !leadership.leading() {
                seen = None;
                continue;
            }
            let now = store.replica_changes("certificatesigningrequests");
            if now.is_some() && now == seen {
                continue;
            }
            match once(&store, &ca).await {
                Ok(()) => seen = now,
                Err(e) => log::debug!("csr signer: {}", e.message),
            }
        }
    };
    futures_lite::future::or(work, stop).await;
}

async fn once(store: &Store, ca: &SigningCa) -> Result<(), Status> {
    let Some(res) = store
        .table()
        .get("certificates.k8s.io", "v1", "certificatesigningrequests")
    else {
        return Ok(());
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let all = store.list_all(&res.api, deadline).await?;
    for csr in all {
        let Value::Object(csr) = csr else { continue };
        if !has_condition(&csr, "Approved")
            || has_condition(&csr, "Denied")
            || has_condition(&csr, "Failed")
            || csr
                .get("status")
                .and_then(|s| s.get("certificate"))
                .is_some_and(|c| c.as_str().is_some_and(|c| !c.is_empty()))
        {
            continue;
        }
        let signer = csr
            .get("spec")
            .and_then(|s| s.get("signerName"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !matches!(
            signer.as_str(),
            "kubernetes.io/kube-apiserver-client"
                | "kubernetes.io/kube-apiserver-client-kubelet"
                | "kubernetes.io/kubelet-serving"
        ) {
            continue;
        }
        let outcome = sign(ca, &csr, &signer);
        let name = csr
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut facts = RequestFacts::controller(None, &name, deadline);
        facts.subresource = Some(Subresource::Status);
        let now = now_rfc3339();
        let written = store
            .guaranteed_update(&res, &facts, &mut |stored| {
                let mut stored = stored.clone();
                let status = stored
                    .entry("status")
                    .or_insert_with(|| Value::Object(Map::new()));
                let Some(status) = status.as_object_mut() else {
                    return Err(Status::internal("status is not an object"));
                };
                match &outcome {
                    Ok(pem) => {
                        let b64 = base64::engine::general_purpose::STANDARD.encode(pem);
                        status.insert("certificate".into(), Value::from(b64));
                    }
                    Err(why) => {
                        let conds = status
                            .entry("conditions")
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if let Some(list) = conds.as_array_mut() {
                            list.push(json!({
                                "type": "Failed",
                                "status": "True",
                                "reason": "SignerValidationFailure",
                                "message": why,
                                "lastUpdateTime": now,
                                "lastTransitionTime": now,
                            }));
                        }
                    }
                }
                Ok(stored)
            })
            .await;
        if let Err(e) = written {
            log::debug!("csr signer: {name}: {}", e.message);
        }
    }
    Ok(())
}

/// The usages a signer allows, and the one it requires.
fn allowed_usages(signer: &str) -> (&'static [&'static str], &'static str) {
    match signer {
        "kubernetes.io/kubelet-serving" => (
            &["key encipherment", "digital signature", "server auth"],
            "server auth",
        ),
        _ => (
            &["key encipherment", "digital signature", "client auth"],
            "client auth",
        ),
    }
}

/// Signs `csr` (its PEM certificate), or says why its signer refuses it.
fn sign(ca: &SigningCa, csr: &Map<String, Value>, signer: &str) -> Result<String, String> {
    let spec = csr.get("spec").cloned().unwrap_or(Value::Null);
    let usages: Vec<String> = spec
        .get("usages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|u| u.as_str().map(str::to_string))
        .collect();
    let (allowed, required) = allowed_usages(signer);
    if let Some(bad) = usages.iter().find(|u| !allowed.contains(&u.as_str())) {
        return Err(format!("invalid usage for {signer} certificate: {bad:?}"));
    }
    if !usages.iter().any(|u| u == required) {
        return Err(format!(
            "missing required usage for {signer} certificate: {required:?}"
        ));
    }
    let raw = spec
        .get("request")
        .and_then(Value::as_str)
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .ok_or("the request is not base64")?;
    let der = pem_blocks(&raw)?
        .into_iter()
        .next()
        .map(|(_, d)| d)
        .ok_or("no PEM block in the request")?;
    let mut params =
        CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(der))
            .map_err(|e| format!("the request does not parse: {e}"))?;
    if signer != "kubernetes.io/kube-apiserver-client" {
        // Node certificates: system:node:<name> in system:nodes.
        let dn = &params.params.distinguished_name;
        let cn = dn
            .get(&rcgen::DnType::CommonName)
            .map(dn_text)
            .unwrap_or_default();
        let org = dn
            .get(&rcgen::DnType::OrganizationName)
            .map(dn_text)
            .unwrap_or_default();
        if !cn.starts_with("system:node:") || org != "system:nodes" {
            return Err(format!(
                "{signer} requires a subject of CN=system:node:<name>, O=system:nodes, got CN={cn}, O={org}"
            ));
        }
    }
    let lifetime = spec
        .get("expirationSeconds")
        .and_then(Value::as_u64)
        .map(Duration::from_secs)
        .map_or(SIGNING_DURATION, |d| d.min(SIGNING_DURATION));
    let now = time::OffsetDateTime::now_utc();
    let p = &mut params.params;
    p.is_ca = IsCa::ExplicitNoCa;
    p.not_before = now - BACKDATE;
    p.not_after = now + lifetime;
    p.use_authority_key_identifier_extension = true;
    p.key_usages = usages
        .iter()
        .filter_map(|u| match u.as_str() {
            "digital signature" => Some(KeyUsagePurpose::DigitalSignature),
            "key encipherment" => Some(KeyUsagePurpose::KeyEncipherment),
            _ => None,
        })
        .collect();
    p.extended_key_usages = usages
        .iter()
        .filter_map(|u| match u.as_str() {
            "client auth" => Some(ExtendedKeyUsagePurpose::ClientAuth),
            "server auth" => Some(ExtendedKeyUsagePurpose::ServerAuth),
            _ => None,
        })
        .collect();
    let ca_pem =
        std::fs::read_to_string(&ca.cert).map_err(|e| format!("{}: {e}", ca.cert.display()))?;
    let key_pem =
        std::fs::read_to_string(&ca.key).map_err(|e| format!("{}: {e}", ca.key.display()))?;
    let key = KeyPair::from_pem(&key_pem).map_err(|e| format!("{}: {e}", ca.key.display()))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, key)
        .map_err(|e| format!("{}: {e}", ca.cert.display()))?;
    let cert = params
        .signed_by(&issuer)
        .map_err(|e| format!("signing: {e}"))?;
    Ok(cert.pem())
}

fn dn_text(v: &rcgen::DnValue) -> String {
    match v {
        rcgen::DnValue::Utf8String(s) => s.clone(),
        rcgen::DnValue::PrintableString(s) => s.as_str().to_string(),
        rcgen::DnValue::Ia5String(s) => s.as_str().to_string(),
        other => format!("{other:?}"),
    }
}
