//! Client certificates (verified by rustls against `--client-ca-file` during the handshake):
//! the user is the subject's CommonName, the groups its Organizations, as upstream's x509
//! authenticator maps them.

use rustls_pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::request::UserInfo;

/// The user of a verified leaf certificate; None when it names no user (no CommonName).
pub fn user(leaf: &CertificateDer<'_>) -> Option<UserInfo> {
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    let subject = cert.subject();
    let name = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())?
        .to_string();
    if name.is_empty() {
        return None;
    }
    let groups = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .map(str::to_string)
        .collect();
    Some(UserInfo {
        name,
        groups,
        ..UserInfo::default()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cn_is_the_user_and_o_the_groups() {
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "alice");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "dev");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let u = user(cert.der()).unwrap();
        assert_eq!(u.name, "alice");
        assert_eq!(u.groups, ["dev"]);
    }
}
