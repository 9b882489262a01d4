//! `CertificateSubjectRestriction`: nobody may ask the `kubernetes.io/kube-apiserver-client`
//! signer for a certificate in the `system:masters` group (a way around every authorizer),
//! as upstream's plugin of that name refuses it.

use base64::Engine;
use serde_json::Value;
use x509_parser::prelude::FromDer;

use crate::api::status::Status;
use crate::registry::kinds::certificates::pem_blocks;
use crate::registry::kinds::{HookFuture, Object};
use crate::registry::store::{AdmissionPlugin, Attributes, Operation};

/// The plugin.
#[derive(Debug, Default)]
pub struct CertificateSubjectRestriction;

/// The organizations (groups) a CSR's PEM request asks for (empty when it does not parse;
/// validation refuses such a request anyway).
pub fn requested_groups(request_b64: &str) -> Vec<String> {
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(request_b64) else {
        return Vec::new();
    };
    let Ok(blocks) = pem_blocks(&raw) else {
        return Vec::new();
    };
    let Some((_, der)) = blocks.first() else {
        return Vec::new();
    };
    let Ok((_, csr)) = x509_parser::certification_request::X509CertificationRequest::from_der(der)
    else {
        return Vec::new();
    };
    csr.certification_request_info
        .subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok().map(str::to_string))
        .collect()
}

impl AdmissionPlugin for CertificateSubjectRestriction {
    fn name(&self) -> &'static str {
        "CertificateSubjectRestriction"
    }

    fn validate<'a>(
        &'a self,
        attrs: Attributes<'a>,
        obj: Option<&'a Object>,
    ) -> HookFuture<'a, Result<(), Status>> {
        Box::pin(async move {
            let Some(csr) = obj else { return Ok(()) };
            let r = attrs.resource;
            if (r.group, r.plural) != ("certificates.k8s.io", "certificatesigningrequests")
                || attrs.operation != Operation::Create
                || attrs.request.subresource.is_some()
            {
                return Ok(());
            }
            let spec = csr.get("spec").unwrap_or(&Value::Null);
            if spec.get("signerName").and_then(Value::as_str)
                != Some("kubernetes.io/kube-apiserver-client")
            {
                return Ok(());
            }
            let request = spec
                .get("request")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if requested_groups(request)
                .iter()
                .any(|g| g == "system:masters")
            {
                let name = csr
                    .get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or(attrs.name);
                return Err(Status::forbidden(
                    r.group,
                    r.plural,
                    name,
                    "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed",
                ));
            }
            Ok(())
        })
    }
}
