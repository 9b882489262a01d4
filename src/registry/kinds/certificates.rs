//! CertificateSigningRequests, as upstream's certificates strategy and validation: the
//! requester (username, uid, groups, extra) is the user who created it, the spec never
//! changes after, `approval` writes only the Approved/Denied conditions and `status` the
//! issued certificate.

use base64::Engine;
use serde_json::{Map, Value};
use x509_parser::prelude::FromDer;

use super::{KindHooks, Object};
use crate::api::resources::Subresource;
use crate::api::validation::FieldError;
use crate::request::UserInfo;

/// The key usages upstream accepts in `spec.usages`.
const USAGES: &[&str] = &[
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
];

/// The hooks of `certificates.k8s.io/v1` CertificateSigningRequests.
#[derive(Debug, Default)]
pub struct CsrHooks;

/// The PEM blocks of `data` with their labels and contents.
pub fn pem_blocks(data: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.iter().any(|b| !b.is_ascii_whitespace()) {
        match x509_parser::pem::parse_x509_pem(rest) {
            Ok((r, pem)) => {
                out.push((pem.label, pem.contents));
                rest = r;
            }
            Err(_) if !out.is_empty() => break,
            Err(e) => return Err(format!("{e}")),
        }
    }
    Ok(out)
}

/// A base64 field (`[]byte` in Go) as bytes.
fn bytes_of(v: Option<&Value>) -> Option<Vec<u8>> {
    let s = v?.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn condition_types(obj: &Object) -> Vec<(String, String)> {
    obj.get("status")
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let s = |k: &str| {
                c.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            (s("type"), s("status"))
        })
        .collect()
}

/// Whether the CSR carries a True condition of `kind`.
pub fn has_condition(obj: &Object, kind: &str) -> bool {
    condition_types(obj)
        .iter()
        .any(|(t, s)| t == kind && s == "True")
}

impl KindHooks for CsrHooks {
    /// Stamps the requester into the spec (upstream's `PrepareForCreate`).
    fn stamp_requester(&self, obj: &mut Object, user: &UserInfo) {
        let spec = obj
            .entry("spec")
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(spec) = spec.as_object_mut() else {
            return;
        };
        spec.insert("username".into(), Value::from(user.name.clone()));
        if user.uid.is_empty() {
            spec.remove("uid");
        } else {
            spec.insert("uid".into(), Value::from(user.uid.clone()));
        }
        if user.groups.is_empty() {
            spec.remove("groups");
        } else {
            spec.insert("groups".into(), Value::from(user.groups.clone()));
        }
        if user.extra.is_empty() {
            spec.remove("extra");
        } else {
            let extra: Map<String, Value> = user
                .extra
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect();
            spec.insert("extra".into(), Value::Object(extra));
        }
    }

    fn initial_status(&self) -> Value {
        Value::Object(Map::new())
    }

    fn prepare_update(&self, sub: Option<Subresource>, obj: &mut Object, old: &Object) {
        // The spec is the request as made: no write changes it.
        match old.get("spec") {
            Some(spec) => obj.insert("spec".into(), spec.clone()),
            None => obj.remove("spec"),
        };
        // `status` writes the certificate and conditions; the approval stays the approver's.
        if sub == Some(Subresource::Status) {
            let approval = |o: &Object| -> Vec<Value> {
                o.get("status")
                    .and_then(|s| s.get("conditions"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|c| {
                        matches!(
                            c.get("type").and_then(Value::as_str),
                            Some("Approved" | "Denied")
                        )
                    })
                    .cloned()
                    .collect()
            };
            let keep = approval(old);
            if let Some(conds) = obj
                .get_mut("status")
                .and_then(|s| s.get_mut("conditions"))
                .and_then(Value::as_array_mut)
            {
                conds.retain(|c| {
                    !matches!(
                        c.get("type").and_then(Value::as_str),
                        Some("Approved" | "Denied")
                    )
                });
                conds.extend(keep);
            } else if !keep.is_empty() {
                if let Some(st) = obj.get_mut("status").and_then(Value::as_object_mut) {
                    st.insert("conditions".into(), Value::Array(keep));
                }
            }
        }
    }

    fn validate(&self, obj: &Object) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let spec = obj.get("spec");
        match bytes_of(spec.and_then(|s| s.get("request"))) {
            None => errs.push(FieldError::required("spec.request", "")),
            Some(raw) => match pem_blocks(&raw) {
                Ok(blocks)
                    if blocks
                        .first()
                        .is_some_and(|(l, _)| l == "CERTIFICATE REQUEST") =>
                {
                    let der = &blocks[0].1;
                    if x509_parser::certification_request::X509CertificationRequest::from_der(der)
                        .is_err()
                    {
                        errs.push(FieldError::invalid(
                            "spec.request",
                            "<request data>",
                            "asn1: structure error",
                        ));
                    }
                }
                Ok(blocks) if !blocks.is_empty() => errs.push(FieldError::invalid(
                    "spec.request",
                    "<request data>",
                    "PEM block type must be CERTIFICATE REQUEST",
                )),
                _ => errs.push(FieldError::invalid(
                    "spec.request",
                    "<request data>",
                    "PEM block type must be CERTIFICATE REQUEST",
                )),
            },
        }
        match spec
            .and_then(|s| s.get("signerName"))
            .and_then(Value::as_str)
        {
            None | Some("") => errs.push(FieldError::required("spec.signerName", "")),
            Some(name) => {
                let (domain, path) = name.split_once('/').unwrap_or((name, ""));
                if path.is_empty() || !crate::api::validation::dns1123_subdomain(domain).is_empty()
                {
                    errs.push(FieldError::invalid(
                        "spec.signerName",
                        name,
                        "must be a fully qualified domain and path of the form 'example.com/signer-name'",
                    ));
                }
            }
        }
        match spec.and_then(|s| s.get("usages")).and_then(Value::as_array) {
            None => errs.push(FieldError::required("spec.usages", "")),
            Some(u) if u.is_empty() => errs.push(FieldError::required("spec.usages", "")),
            Some(usages) => {
                for (i, u) in usages.iter().enumerate() {
                    let u = u.as_str().unwrap_or_default();
                    if !USAGES.contains(&u) {
                        errs.push(FieldError::invalid(
                            format!("spec.usages[{i}]"),
                            u,
                            "Unsupported value",
                        ));
                    }
                }
            }
        }
        if let Some(secs) = spec
            .and_then(|s| s.get("expirationSeconds"))
            .and_then(Value::as_i64)
        {
            if secs < 600 {
                errs.push(FieldError::invalid(
                    "spec.expirationSeconds",
                    &secs.to_string(),
                    "may not specify a duration less than 600 seconds (10 minutes)",
                ));
            }
        }
        errs
    }

    fn validate_update(
        &self,
        sub: Option<Subresource>,
        obj: &Object,
        old: &Object,
    ) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let conds = condition_types(obj);
        for (i, (t, s)) in conds.iter().enumerate() {
            if matches!(t.as_str(), "Approved" | "Denied") && s != "True" {
                errs.push(FieldError::invalid(
                    format!("status.conditions[{i}].status"),
                    s,
                    "Unsupported value: supported values: \"True\"",
                ));
            }
            if t.is_empty() {
                errs.push(FieldError::required(
                    format!("status.conditions[{i}].type"),
                    "",
                ));
            }
        }
        if has_condition(obj, "Approved") && has_condition(obj, "Denied") {
            errs.push(FieldError::invalid(
                "status.conditions",
                "",
                "Approved and Denied conditions are mutually exclusive",
            ));
        }
        for kind in ["Approved", "Denied", "Failed"] {
            if has_condition(old, kind) && !conds.iter().any(|(t, _)| t == kind) {
                errs.push(FieldError::forbidden(
                    "status.conditions",
                    &format!("updates may not remove a condition of type {kind:?}"),
                ));
            }
        }
        let cert = obj.get("status").and_then(|s| s.get("certificate"));
        let old_cert = old.get("status").and_then(|s| s.get("certificate"));
        // Only `status` writes the certificate (the object and `approval` keep the stored one).
        if sub == Some(Subresource::Status) && cert != old_cert {
            if old_cert.is_some_and(|c| c.as_str().is_some_and(|c| !c.is_empty())) {
                errs.push(FieldError::forbidden(
                    "status.certificate",
                    "updates may not modify existing certificate content",
                ));
            } else if let Some(raw) = bytes_of(cert) {
                let ok = pem_blocks(&raw)
                    .is_ok_and(|b| !b.is_empty() && b.iter().all(|(l, _)| l == "CERTIFICATE"));
                if !ok {
                    errs.push(FieldError::invalid(
                        "status.certificate",
                        "<certificate data>",
                        "must contain at least one CERTIFICATE PEM block",
                    ));
                }
            }
        }
        errs
    }
}
