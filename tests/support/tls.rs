//! Raw TLS clients for tests that speak bytes, not HTTP libraries' requests.

use std::sync::Arc;
use std::time::Duration;

use super::server::Kubeshard;

/// A TLS client trusting `ks`'s bootstrap CA (no client certificate).
pub fn tls_connector(ks: &Kubeshard) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    let mut pem = std::io::Cursor::new(ks.ca_pem());
    for c in rustls_pemfile_certs(&mut pem) {
        roots.add(c).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// A TLS client trusting `ks`'s bootstrap CA and presenting the admin client certificate.
pub fn tls_connector_admin(ks: &Kubeshard) -> tokio_rustls::TlsConnector {
    tokio_rustls::TlsConnector::from(Arc::new(admin_client_config(ks)))
}

/// The client configuration of [`tls_connector_admin`] (to add ALPN protocols to).
pub fn admin_client_config(ks: &Kubeshard) -> rustls::ClientConfig {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile_certs(&mut std::io::Cursor::new(ks.ca_pem())) {
        roots.add(c).unwrap();
    }
    let pki = ks.data_dir.join("pki");
    let cert = std::fs::read(pki.join("admin.crt")).unwrap();
    let certs = rustls_pemfile_certs(&mut std::io::Cursor::new(cert));
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(
        &std::fs::read(pki.join("admin.key")).unwrap(),
    )
    .unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .unwrap()
}

/// Every certificate of a PEM stream.
pub fn rustls_pemfile_certs(
    r: &mut dyn std::io::BufRead,
) -> Vec<rustls_pki_types::CertificateDer<'static>> {
    use rustls_pki_types::pem::PemObject;
    let mut buf = Vec::new();
    r.read_to_end(&mut buf).unwrap();
    rustls_pki_types::CertificateDer::pem_slice_iter(&buf)
        .map(|c| c.unwrap())
        .collect()
}

/// Reads until EOF or error; returns what arrived and whether the peer closed within `limit`.
pub async fn read_until_closed(
    s: &mut (impl tokio::io::AsyncRead + Unpin),
    limit: Duration,
) -> (Vec<u8>, bool) {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(end, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (got, false),
        }
    }
}
