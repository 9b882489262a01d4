//! Bootstrap PKI, like k3s: on the first start without `--tls-cert-file`, create a CA, a
//! serving certificate and an admin client certificate under `--cert-dir`, and an admin
//! kubeconfig under `--data-dir`. Later starts reuse what is there.

use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// The admin identity written into the bootstrap kubeconfig.
pub const ADMIN_COMMON_NAME: &str = "kubeshard-admin";
/// The admin's group: cluster-admin in every Kubernetes authorizer.
pub const ADMIN_ORGANIZATION: &str = "system:masters";

/// Errors while creating or loading the bootstrap PKI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A certificate or key could not be generated or parsed.
    #[error("{path}: {message}")]
    Crypto {
        /// The file it concerns.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Paths of the files the bootstrap PKI manages.
#[derive(Clone, Debug)]
pub struct PkiPaths {
    /// CA certificate (PEM); also the default client CA.
    pub ca_cert: PathBuf,
    /// CA private key.
    pub ca_key: PathBuf,
    /// Serving certificate.
    pub serving_cert: PathBuf,
    /// Serving key.
    pub serving_key: PathBuf,
    /// Admin client certificate.
    pub admin_cert: PathBuf,
    /// Admin client key.
    pub admin_key: PathBuf,
    /// ServiceAccount token signing key (ECDSA P-256, PKCS#8), as kubeadm's `sa.key`.
    pub service_account_key: PathBuf,
    /// Its public key, as kubeadm's `sa.pub`.
    pub service_account_pub: PathBuf,
}

impl PkiPaths {
    /// The standard file names under `cert_dir`.
    pub fn in_dir(cert_dir: &Path) -> Self {
        Self {
            ca_cert: cert_dir.join("ca.crt"),
            ca_key: cert_dir.join("ca.key"),
            serving_cert: cert_dir.join("apiserver.crt"),
            serving_key: cert_dir.join("apiserver.key"),
            admin_cert: cert_dir.join("admin.crt"),
            admin_key: cert_dir.join("admin.key"),
            service_account_key: cert_dir.join("sa.key"),
            service_account_pub: cert_dir.join("sa.pub"),
        }
    }
}

/// What the server needs from the PKI: PEM text of each piece.
#[derive(Clone, Debug)]
pub struct BootstrapPki {
    /// Where the files are.
    pub paths: PkiPaths,
    /// CA certificate PEM.
    pub ca_pem: String,
    /// Admin client certificate PEM.
    pub admin_cert_pem: String,
    /// Admin client key PEM.
    pub admin_key_pem: String,
    /// True when anything was created by this call (false: all reused).
    pub created: bool,
}

/// Creates (or reuses) the CA and the admin client certificate, and the serving certificate
/// when `serving` is true, in `cert_dir`. `sans` are extra serving names/addresses.
pub fn ensure(cert_dir: &Path, serving: bool, bind: IpAddr) -> Result<BootstrapPki, PkiError> {
    let paths = PkiPaths::in_dir(cert_dir);
    fs::create_dir_all(cert_dir).map_err(|source| PkiError::Io {
        path: cert_dir.into(),
        source,
    })?;
    let mut created = false;

    let (ca_pem, ca_key) = if paths.ca_cert.is_file() && paths.ca_key.is_file() {
        (read(&paths.ca_cert)?, key_from_file(&paths.ca_key)?)
    } else {
        let key = new_key(&paths.ca_key)?;
        let mut p = params(&paths.ca_cert, vec![])?;
        p.distinguished_name = dn(&format!("kubeshard-ca@{}", now().unix_timestamp()), None);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        p.not_after = now() + Duration::days(3650);
        let cert = p.self_signed(&key).map_err(|e| crypto(&paths.ca_cert, e))?;
        write_private(&paths.ca_key, &key.serialize_pem())?;
        write_public(&paths.ca_cert, &cert.pem())?;
        created = true;
        (cert.pem(), key)
    };
    let issuer =
        Issuer::from_ca_cert_pem(&ca_pem, &ca_key).map_err(|e| crypto(&paths.ca_cert, e))?;

    if serving && !(paths.serving_cert.is_file() && paths.serving_key.is_file()) {
        let key = new_key(&paths.serving_key)?;
        let mut p = params(&paths.serving_cert, serving_names(bind))?;
        p.distinguished_name = dn("kube-apiserver", None);
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.use_authority_key_identifier_extension = true;
        let cert = p
            .signed_by(&key, &issuer)
            .map_err(|e| crypto(&paths.serving_cert, e))?;
        write_private(&paths.serving_key, &key.serialize_pem())?;
        write_public(&paths.serving_cert, &cert.pem())?;
        created = true;
    }

    let (admin_cert_pem, admin_key_pem) = if paths.admin_cert.is_file() && paths.admin_key.is_file()
    {
        (read(&paths.admin_cert)?, read(&paths.admin_key)?)
    } else {
        let key = new_key(&paths.admin_key)?;
        let mut p = params(&paths.admin_cert, vec![])?;
        p.distinguished_name = dn(ADMIN_COMMON_NAME, Some(ADMIN_ORGANIZATION));
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.use_authority_key_identifier_extension = true;
        let cert = p
            .signed_by(&key, &issuer)
            .map_err(|e| crypto(&paths.admin_cert, e))?;
        write_private(&paths.admin_key, &key.serialize_pem())?;
        write_public(&paths.admin_cert, &cert.pem())?;
        created = true;
        (cert.pem(), key.serialize_pem())
    };

    if !paths.service_account_key.is_file() {
        let key = new_key(&paths.service_account_key)?;
        write_private(&paths.service_account_key, &key.serialize_pem())?;
        write_public(&paths.service_account_pub, &key.public_key_pem())?;
        created = true;
    }

    Ok(BootstrapPki {
        paths,
        ca_pem,
        admin_cert_pem,
        admin_key_pem,
        created,
    })
}

/// Writes the admin kubeconfig (certificate data inline) when its content changed.
/// `ca_pem` is None when the serving certificate is the user's (system roots then apply).
pub fn write_kubeconfig(
    path: &Path,
    server_url: &str,
    ca_pem: Option<&str>,
    cert_pem: &str,
    key_pem: &str,
) -> Result<(), PkiError> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let ca_line = ca_pem
        .map(|ca| format!("    certificate-authority-data: {}\n", b64(ca)))
        .unwrap_or_default();
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n{ca_line}    server: {server_url}\n  name: kubeshard\n\
contexts:\n- context:\n    cluster: kubeshard\n    user: {ADMIN_COMMON_NAME}\n  name: kubeshard\n\
current-context: kubeshard\npreferences: {{}}\nusers:\n- name: {ADMIN_COMMON_NAME}\n  user:\n    \
client-certificate-data: {}\n    client-key-data: {}\n",
        b64(cert_pem),
        b64(key_pem)
    );
    if fs::read_to_string(path).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    write_private(path, &text)
}

/// The serving certificate's names: k3s's set (loopback, hostname, in-cluster service names)
/// plus the bind address when it is a specific one.
fn serving_names(bind: IpAddr) -> Vec<String> {
    let mut names: Vec<String> = [
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "127.0.0.1",
        "::1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Ok(h) = hostname::get() {
        if let Some(h) = h.to_str() {
            if !h.is_empty() && !names.iter().any(|n| n == h) {
                names.push(h.to_string());
            }
        }
    }
    if !bind.is_unspecified() && !bind.is_loopback() {
        names.push(bind.to_string());
    }
    names
}

fn params(path: &Path, names: Vec<String>) -> Result<CertificateParams, PkiError> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| crypto(path, e))?;
    for n in names {
        let san = match n.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(n.clone().try_into().map_err(|e| crypto(path, e))?),
        };
        p.subject_alt_names.push(san);
    }
    p.not_before = now() - Duration::hours(1);
    p.not_after = now() + Duration::days(365);
    Ok(p)
}

fn dn(cn: &str, org: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn.push(DnType::CommonName, cn);
    dn
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn new_key(path: &Path) -> Result<KeyPair, PkiError> {
    KeyPair::generate().map_err(|e| crypto(path, e))
}

fn key_from_file(path: &Path) -> Result<KeyPair, PkiError> {
    KeyPair::from_pem(&read(path)?).map_err(|e| crypto(path, e))
}

fn crypto(path: &Path, e: impl std::fmt::Display) -> PkiError {
    PkiError::Crypto {
        path: path.into(),
        message: e.to_string(),
    }
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Io {
        path: path.into(),
        source,
    })
}

fn write_public(path: &Path, text: &str) -> Result<(), PkiError> {
    write_mode(path, text, 0o644)
}

fn write_private(path: &Path, text: &str) -> Result<(), PkiError> {
    write_mode(path, text, 0o600)
}

/// Writes via a temporary file and rename, so a crash never leaves half a key behind.
fn write_mode(path: &Path, text: &str, mode: u32) -> Result<(), PkiError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let io_err = |source| PkiError::Io {
        path: path.into(),
        source,
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err)?;
    f.write_all(text.as_bytes()).map_err(io_err)?;
    f.sync_all().map_err(io_err)?;
    fs::rename(&tmp, path).map_err(io_err)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn creates_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure(dir.path(), true, "0.0.0.0".parse().unwrap()).unwrap();
        assert!(first.created);
        let ca1 = fs::read(&first.paths.ca_cert).unwrap();
        let srv1 = fs::read(&first.paths.serving_cert).unwrap();
        let second = ensure(dir.path(), true, "0.0.0.0".parse().unwrap()).unwrap();
        assert!(!second.created);
        assert_eq!(ca1, fs::read(&second.paths.ca_cert).unwrap());
        assert_eq!(srv1, fs::read(&second.paths.serving_cert).unwrap());
        assert_eq!(first.admin_cert_pem, second.admin_cert_pem);
    }

    #[test]
    fn admin_cert_names_the_admin() {
        let dir = tempfile::tempdir().unwrap();
        let pki = ensure(dir.path(), false, "127.0.0.1".parse().unwrap()).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(pki.admin_cert_pem.as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        let subject = cert.subject().to_string();
        assert!(subject.contains("CN=kubeshard-admin"), "{subject}");
        assert!(subject.contains("O=system:masters"), "{subject}");
        assert!(!pki.paths.serving_cert.exists());
    }
}
